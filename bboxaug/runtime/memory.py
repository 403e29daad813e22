"""Handing the memory of freed arrays back to the system at once, so a large run's peak is what it holds."""

from __future__ import annotations

import ctypes
import functools

#: glibc's `mallopt` parameter for the size above which a block gets its own mapping.
_M_MMAP_THRESHOLD = -3

#: Blocks from this size up (numpy arrays of a few thousand numbers and more) get their own mapping.
MAPPED_FROM = 128 * 1024


@functools.cache
def release_freed_arrays() -> bool:
    """Keep glibc's threshold for giving a block its own mapping at `MAPPED_FROM`. By default glibc raises it to
    the size of each mapped block freed (up to 32 MB), after which arrays of that size come from the heap and
    stay there, as fragments, once freed: reading 200,000 COCO images in batches then left 300 MB that the run
    no longer used counted in its memory. A mapped block goes back to the system when freed. Returns whether
    the C library took the setting (False on systems without glibc, where nothing changes)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already runs on: no search on start-up
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MAPPED_FROM))
