"""glibc's malloc settings for bboxaug's two kinds of work: whole-dataset arrays, whose memory should go back to
the system as soon as they are freed, and image work, whose buffers of the same few sizes are better reused.

Both are process-wide (`mallopt`), and image work runs on threads of the coordinator, so image work sets its
settings for its own duration only (`image_work_memory`) and gives the arrays' settings back after. Every function
is a no-op, returning False, where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import functools
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

Item = TypeVar("Item")

#: glibc's `mallopt` parameters: the free space at the heap's top kept before trimming, and the size above
#: which a block gets its own mapping.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3

#: Blocks from this size up (numpy arrays of a few thousand numbers and more) get their own mapping.
MAPPED_FROM = 128 * 1024

#: glibc's default trim threshold.
TRIMMED_FROM = 128 * 1024

#: Image work: buffers up to this size come from the heap, and this much free heap is kept before trimming.
IMAGE_BUFFERS_UP_TO, IMAGE_HEAP_KEPT = 64 << 20, 256 << 20


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)  # the C library this process already runs on: no search on start-up
    except (OSError, TypeError):
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def _mallopt(setting: int, value: int) -> bool:
    libc = _libc()
    return libc is not None and bool(libc.mallopt(setting, value))


def release_freed_arrays() -> bool:
    """Keep glibc's threshold for giving a block its own mapping at `MAPPED_FROM`. By default glibc raises it to
    the size of each mapped block freed (up to 32 MB), after which arrays of that size come from the heap and
    stay there, as fragments, once freed: reading 200,000 COCO images in batches then left 300 MB that the run
    no longer used counted in its memory. A mapped block goes back to the system when freed. Returns whether
    the C library took the setting."""
    return _mallopt(_M_MMAP_THRESHOLD, MAPPED_FROM) and _mallopt(_M_TRIM_THRESHOLD, TRIMMED_FROM)


def keep_freed_image_memory() -> bool:
    """Let glibc reuse freed image buffers instead of unmapping and re-mapping them for every copy: each copy
    allocates several multi-megabyte arrays, and with a fresh mapping for each their pages fault in again
    (measured: a third of a worker's CPU on 1280x720 images). Returns whether the C library took the setting."""
    return _mallopt(_M_MMAP_THRESHOLD, IMAGE_BUFFERS_UP_TO) and _mallopt(_M_TRIM_THRESHOLD, IMAGE_HEAP_KEPT)


@contextmanager
def image_work_memory() -> Iterator[None]:
    """Image buffers kept for reuse inside; on leaving, freed arrays released again (`release_freed_arrays`) and
    the free heap given back to the system (`malloc_trim`), so the image buffers do not stay counted."""
    keep_freed_image_memory()
    try:
        yield
    finally:
        release_freed_arrays()
        return_free_memory()


def return_free_memory() -> bool:
    """Give the free pages inside the heap back to the system (`malloc_trim`), not only its free top as glibc does
    by itself. A stage over a whole dataset (reading, preparing, planning, collecting, writing) frees millions of
    small blocks between ones it keeps; without this their pages stayed counted in the process, and each stage
    started above the last one's peak (reading 200,000 YOLO images left 149 MB counted with 117 MB in use).
    Returns whether the C library could be asked."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


#: How often a long walk gives the free heap back (`trimmed`): trimming a heap of a few hundred MB takes a few ms.
TRIM_EVERY_SECONDS = 1.0


def trimmed(items: Iterable[Item], seconds: float = TRIM_EVERY_SECONDS) -> Iterator[Item]:
    """`items`, with the free heap given back to the system (`return_free_memory`) every `seconds` of the walk. A
    walk over every image of a large dataset (its copies made, collected, written, counted) frees small objects
    between ones that stay, and the pages they leave stayed counted until the walk's end: at 200,000 copies the
    coordinator's heap grew 12 MB while making them, with 4 MB of Python objects alive."""
    last = time.monotonic()
    for item in items:
        yield item
        now = time.monotonic()
        if now - last >= seconds:
            return_free_memory()
            last = now
