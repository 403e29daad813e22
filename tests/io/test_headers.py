"""Image sizes from headers: large images read without decoding, impossible ones refused with the file named."""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bboxaug.core.errors import ImageError
from bboxaug.io.headers import MAX_PIXELS, read_header


def png_header(path: Path, width: int, height: int) -> Path:
    """A PNG of `width` x `height` as far as its header goes: signature, IHDR and IEND (no pixel data, which a
    header read never touches)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def test_an_aerial_sized_image_is_read_without_a_warning(tmp_path: Path) -> None:
    """20,000 x 10,000 (200 megapixels) is over PIL's default limit (179 megapixels refused) but a normal input
    for tiling; pytest here turns any warning into an error, so a decompression-bomb warning would fail it."""
    header = read_header(png_header(tmp_path / "aerial.png", 20_000, 10_000))
    assert (header.width, header.height, header.orientation) == (20_000, 10_000, 1)


def test_an_image_over_the_limit_is_refused_naming_its_file(tmp_path: Path) -> None:
    """Just over bboxaug's limit, PIL warns (its limit is now bboxaug's) and bboxaug refuses the size; at twice
    the limit PIL refuses to open it, and the message still names the file."""
    side = int(MAX_PIXELS**0.5) + 1
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(ImageError, match="impossible image size") as over:
        read_header(png_header(tmp_path / "huge.png", side, side))
    assert "huge.png" in str(over.value)
    with pytest.raises(ImageError, match="unreadable image header") as far_over:
        read_header(png_header(tmp_path / "huger.png", 2 * side, side))
    assert "huger.png" in str(far_over.value)


def test_reading_a_header_leaves_the_warning_filters_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Readers call `read_header` on worker threads while the main thread may hold its own warnings filters, so
    it must not swap the process-wide filter list (as `warnings.catch_warnings` does) while it opens a file."""
    path = png_header(tmp_path / "aerial.png", 20_000, 10_000)
    opened_under: list[object] = []
    pil_open = Image.open

    def watched_open(*args: Any, **kwargs: Any) -> Image.Image:
        opened_under.append(warnings.filters)
        return pil_open(*args, **kwargs)

    monkeypatch.setattr(Image, "open", watched_open)
    before = warnings.filters
    read_header(path)
    assert len(opened_under) == 1
    assert opened_under[0] is before
