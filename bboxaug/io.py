"""Image files and safe writing: header-only sizes, EXIF orientation, atomic writes, safe relative names.

Sizes come from the file header (PIL opens lazily and decodes no pixels). EXIF orientation is applied once: the
size reported is the oriented one, and an exported image whose file carries an orientation other than "normal"
is re-encoded upright with no orientation tag, so boxes drawn on the upright picture stay right.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal, TextIO

from PIL import Image, ImageOps, UnidentifiedImageError

from .dataset import EmbeddedImage
from .errors import AnnotationError, ImageError

ImageMode = Literal["copy", "hardlink", "symlink", "none"]
IMAGE_MODES: tuple[ImageMode, ...] = ("copy", "hardlink", "symlink", "none")

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"})

#: Larger images are refused: decoding one would take more memory than a dataset tool should ask for.
MAX_PIXELS = 50_000 * 50_000

_EXIF_ORIENTATION = 0x0112
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
    value = exif.get(_EXIF_ORIENTATION, 1)
    return value if isinstance(value, int) and value in range(1, 9) else 1


def _header(opener: Callable[[], Image.Image], where: object, field: str | None) -> ImageHeader:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with opener() as image:
                width, height = image.size
                orientation = _orientation(image)
                image_format = image.format
    except FileNotFoundError:
        raise ImageError("image file not found", file=where, field=field) from None
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
        raise ImageError(f"no usable embedded image ({error})", file=source.annotation, field=source.key) from None


def header_of(source: Path | EmbeddedImage) -> ImageHeader:
    """`read_header` for a file or for pixels embedded in an annotation."""
    if isinstance(source, Path):
        return read_header(source)
    data = embedded_bytes(source)
    return _header(lambda: Image.open(io.BytesIO(data)), source.annotation, source.key)


#: A bare file name that `safe_relative_name` returns unchanged: tested first, as it is much cheaper.
_PLAIN_NAME = re.compile(r"[^\s./\\:][^/\\:]*(?<=\S)")


def safe_relative_name(name: str, *, file: object, field: str) -> str:
    """`name` as a clean relative POSIX path (backslashes become `/`), or an error if it would leave its folder."""
    if _PLAIN_NAME.fullmatch(name):
        return name
    cleaned = name.replace("\\", "/").strip()
    while cleaned.startswith("./"):
        cleaned = cleaned[2:]
    path = PurePosixPath(cleaned)
    if not path.parts or path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
        raise AnnotationError(f"unsafe or empty image path {name!r}: expected a relative path inside the dataset",
                              file=file, field=field)
    return str(path)


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


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def write_file(path: str, data: bytes) -> None:
    """Write `data` to `path` (created, or emptied first) with bare system calls. For writers putting thousands of
    small files into a staging folder (never the destination itself, so not atomic), where a Python file object
    per file costs more than the writing."""
    handle = os.open(path, _NEW_FILE, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(handle, view):]
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
        exif.pop(_EXIF_ORIENTATION, None)
        options: dict[str, object] = {"exif": exif.tobytes()}
        if image_format == "JPEG":
            options["quality"] = quality
        upright.save(target, format=image_format, **options)
