"""Placing an image file in an output: copied, hard-linked or symbolic-linked as it is, or re-encoded upright
when its EXIF orientation is not "as stored" (the boxes describe the upright picture), with PIL only, so that a
conversion never loads an image codec library it does not need.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

from PIL import Image, ImageOps

from bboxaug.core.model import EmbeddedImage
from bboxaug.io.files import ImageMode
from bboxaug.io.headers import EXIF_ORIENTATION, ImageHeader, embedded_bytes, header_of


def export_image(source: Path | EmbeddedImage, target: Path, mode: ImageMode, *, quality: int = 95) -> ImageHeader:
    """Put the image at `target` (copy, hardlink or symlink) and return its upright header.

    An image whose EXIF orientation is not "as stored" is re-encoded upright without the tag, whatever the mode,
    because the boxes describe the upright picture. Embedded pixels are always written out as a file.
    """
    header = header_of(source)
    if mode == "none":
        return header
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode in ("hardlink", "symlink"):
        target.unlink(missing_ok=True)  # left by an earlier attempt at the same task (a worker that died after it)
    if header.orientation != 1:
        _write_upright(source, target, quality)
    elif isinstance(source, EmbeddedImage):
        target.write_bytes(embedded_bytes(source))
    elif mode == "copy":
        shutil.copyfile(source, target)
    elif mode == "hardlink":
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
    else:
        os.symlink(os.path.abspath(source), target)
    return header


def _write_upright(source: Path | EmbeddedImage, target: Path, quality: int) -> None:
    data = source.read_bytes() if isinstance(source, Path) else embedded_bytes(source)
    with Image.open(io.BytesIO(data)) as image:
        image_format = image.format or "PNG"
        upright = ImageOps.exif_transpose(image)
        exif = upright.getexif()
        exif.pop(EXIF_ORIENTATION, None)
        options: dict[str, object] = {"exif": exif.tobytes()}
        if image_format == "JPEG":
            options["quality"] = quality
        upright.save(target, format=image_format, **options)
