"""Writing files safely: atomic writes (temporary file, then `os.replace`), pieces written to a file that
appears only once complete, bare system-call writes for staging folders, clearing what a killed writer left, and
removing large folders in bounded memory.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Literal, TextIO

#: How an image reaches an output: copied, hard-linked, symbolic-linked, or not at all (annotations only).
ImageMode = Literal["copy", "hardlink", "symlink", "none"]
IMAGE_MODES: tuple[ImageMode, ...] = ("copy", "hardlink", "symlink", "none")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and `os.replace`, so `path` is never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def remove_partial_writes(root: Path) -> None:
    """Delete, anywhere under `root`, the hidden temporary files (`.NAME.*.tmp`) that `atomic_write_bytes` and
    `atomic_text_file` leave behind when their process is killed in the middle of a write."""
    for leftover in root.rglob(".*.tmp"):
        if leftover.is_file():
            leftover.unlink(missing_ok=True)


#: Folder entries listed at a time by `remove_tree`.
REMOVE_BATCH = 4096


def remove_tree(root: Path | str) -> bool:
    """Remove the folder `root` and everything in it, ignoring what cannot be removed (as `shutil.rmtree` with
    `ignore_errors`), listing at most `REMOVE_BATCH` entries of a folder at a time: `shutil.rmtree` lists a whole
    folder before it removes anything, 36 MB for the 200,000 progress records of an augment run. A folder is
    listed again after each batch, so entries a listing skips while its folder shrinks are found next time.
    Returns whether `root` is gone."""
    while True:
        try:
            with os.scandir(root) as listing:
                batch = list(itertools.islice(listing, REMOVE_BATCH))
        except FileNotFoundError:
            return True
        except OSError:
            return False
        removed = 0
        for entry in batch:
            if entry.is_dir(follow_symlinks=False):
                removed += remove_tree(entry.path)
            else:
                with suppress(OSError):
                    os.unlink(entry.path)
                    removed += 1
        if not batch or not removed:
            break
    with suppress(OSError):
        os.rmdir(root)
    return not os.path.lexists(root)


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def write_file(path: str, data: bytes) -> None:
    """Write `data` to `path` (created, or emptied first) with bare system calls. For writers putting thousands of
    small files into a staging folder (never the destination itself, so not atomic), where a Python file object
    per file costs more than the writing."""
    handle = os.open(path, _NEW_FILE, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(handle, view) :]
    finally:
        os.close(handle)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextmanager
def atomic_text_file(path: Path) -> Iterator[TextIO]:
    """A text file to write in pieces that appears at `path` only once complete (temporary file, `os.replace`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            yield out
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
