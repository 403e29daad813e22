"""Image sizes and EXIF orientation from file headers, without decoding pixels.

PIL opens lazily and decodes no pixels. EXIF orientation is applied once: the size reported is the upright one.
Pixels embedded in an annotation (Labelme's `imageData`) are read the same way.
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from bboxaug.core import codes
from bboxaug.core.errors import ImageError
from bboxaug.core.model import EmbeddedImage, ImageRecord

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"})


#: Larger images are refused: decoding one would take more memory than a dataset tool should ask for.
MAX_PIXELS = 50_000 * 50_000

# bboxaug judges image sizes itself (above, with a message naming the file), so PIL's own decompression-bomb limit
# is raised to the same size once, here. Its default (about 89 megapixels warned, 179 refused) would refuse the
# aerial and wafer images that tiling is for, and silencing its warning at each open would need a warnings
# filter: that is process-wide state, which worker threads then swap under each other.
if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < MAX_PIXELS:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS


EXIF_ORIENTATION = 0x0112


_SWAPS_AXES = frozenset({5, 6, 7, 8})


@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header says: its upright size and its EXIF orientation (1 = as stored)."""

    width: int
    height: int
    orientation: int
    format: str | None


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def is_image_name(name: str) -> bool:
    """`is_image_file` for a bare file name, without making a Path."""
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation from the already-parsed header. `getexif()` would decode a whole PNG to look for a
    late eXIf chunk, so for formats other than TIFF only the EXIF block met before the pixels is read."""
    if image.format == "TIFF":
        exif = image.getexif()
    else:
        exif = Image.Exif()
        raw = image.info.get("exif")
        if raw:
            exif.load(raw)
    value = exif.get(EXIF_ORIENTATION, 1)
    return value if isinstance(value, int) and value in range(1, 9) else 1


def _header(opener: Callable[[], Image.Image], where: object, field: str | None) -> ImageHeader:
    try:
        with opener() as image:
            width, height = image.size
            orientation = _orientation(image)
            image_format = image.format
    except FileNotFoundError:
        raise ImageError("image file not found", file=where, field=field, code=codes.MISSING_IMAGE) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise ImageError(f"unreadable image header ({error})", file=where, field=field) from None
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise ImageError(f"impossible image size {width}x{height}", file=where, field=field)
    if orientation in _SWAPS_AXES:
        width, height = height, width
    return ImageHeader(width, height, orientation, image_format)


def read_header(path: Path) -> ImageHeader:
    """Size and orientation of an image, from its header only."""
    return _header(lambda: Image.open(path), path, None)


def embedded_bytes(source: EmbeddedImage) -> bytes:
    """The image bytes stored base64-encoded inside an annotation file."""
    try:
        with open(source.annotation, "rb") as handle:
            data = json.load(handle).get(source.key)
        if not isinstance(data, str) or not data:
            raise ValueError("empty")
        return base64.b64decode(data, validate=False)
    except (OSError, ValueError, AttributeError) as error:
        raise ImageError(
            f"no usable embedded image ({error})",
            file=source.annotation,
            field=source.key,
            code=codes.UNUSABLE_EMBEDDED_IMAGE,
        ) from None


def header_of(source: Path | EmbeddedImage) -> ImageHeader:
    """`read_header` for a file or for pixels embedded in an annotation."""
    if isinstance(source, Path):
        return read_header(source)
    data = embedded_bytes(source)
    return _header(lambda: Image.open(io.BytesIO(data)), source.annotation, source.key)


def image_size(image: ImageRecord) -> tuple[int, int]:
    """An image's upright size: declared in its annotation, else read from its file's header (no decoding).
    ImageError when neither is known. The one way every command learns a size the annotation lacks."""
    if image.width is not None and image.height is not None:
        return image.width, image.height
    if image.source is None:
        raise ImageError(
            "image size unknown: not in the annotation and no image file found",
            file=image.name,
            field="size",
            code=codes.UNKNOWN_SIZE,
        )
    header = header_of(image.source)
    return header.width, header.height
