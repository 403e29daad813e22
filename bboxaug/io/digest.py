"""The digest of a file's bytes: what tells two image files with the same content apart from two that only share a
name or a size."""

from __future__ import annotations

import hashlib
from pathlib import Path

#: Bytes read at a time: a large image is hashed without being held in memory whole.
CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """The SHA-256 of the file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()
