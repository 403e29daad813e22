"""The digest of a file's bytes, read a block at a time."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bboxaug.io.digest import CHUNK, content_digest


def test_the_digest_is_the_sha256_of_the_whole_file_across_blocks(tmp_path: Path) -> None:
    data = bytes(range(256)) * (CHUNK // 256 * 2 + 3)  # two whole blocks and a part
    path = tmp_path / "image.bin"
    path.write_bytes(data)
    assert content_digest(path) == hashlib.sha256(data).hexdigest()
    path.write_bytes(data[:-1] + b"\x00")
    assert content_digest(path) != hashlib.sha256(data).hexdigest()
