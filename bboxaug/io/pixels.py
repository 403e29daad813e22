"""Decoding and encoding pixels: upright, greyscale kept, the same format out as in.

OpenCV decodes and encodes (it is what the transforms use, and the fastest here); the EXIF orientation comes from
the header (`bboxaug.io.headers`) and is applied with exact array flips and rotations, so pixels and boxes agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from bboxaug.core.errors import ImageError
from bboxaug.core.model import EmbeddedImage
from bboxaug.io.headers import embedded_bytes, header_of
from bboxaug.io.names import ENCODERS, extension_for


@dataclass(frozen=True)
class Picture:
    """Upright pixels (HxW greyscale or HxWx3 RGB, uint8) and the format to write them back in."""

    pixels: np.ndarray
    format: str

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def upright(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an array, as a viewer shows the picture."""
    if orientation == 2:
        return pixels[:, ::-1]
    if orientation == 3:
        return pixels[::-1, ::-1]
    if orientation == 4:
        return pixels[::-1]
    if orientation == 5:
        return pixels.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(pixels, -1)
    if orientation == 7:
        return np.rot90(pixels, 2).swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(pixels, 1)
    return pixels


def read_picture(source: Path | EmbeddedImage, *, bgr: bool = False) -> Picture:
    """Decode an image upright; greyscale stays 2-D, colour becomes RGB, or stays in OpenCV's BGR order when
    `bgr` (for callers that only crop and scale, sparing two full-image conversions); alpha is dropped."""
    header = header_of(source)
    where = source if isinstance(source, Path) else source.annotation
    try:
        data = source.read_bytes() if isinstance(source, Path) else embedded_bytes(source)
    except OSError as error:
        raise ImageError(f"cannot read image ({error.strerror or error})", file=where) from None
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise ImageError("cannot decode image", file=where)
    if pixels.dtype != np.uint8:
        raise ImageError(f"{pixels.dtype} pixels are not supported; expected 8-bit images", file=where)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    elif pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGRA2BGR if bgr else cv2.COLOR_BGRA2RGB)
    elif pixels.ndim == 3 and not bgr:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    pixels = np.ascontiguousarray(upright(pixels, header.orientation))
    image_format = header.format if header.format in ENCODERS else "PNG"
    return Picture(pixels, image_format)


def encode_picture(pixels: np.ndarray, image_format: str, quality: int, *, bgr: bool = False) -> bytes:
    """Encode RGB (or, when `bgr`, BGR) or greyscale pixels in `image_format` (JPEG and WebP at `quality`);
    deterministic for the same input."""
    extension = extension_for(image_format)
    if pixels.ndim == 3 and not bgr:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    parameters: list[int] = []
    if extension == ".jpg":
        parameters = [cv2.IMWRITE_JPEG_QUALITY, quality]
    elif extension == ".webp":
        parameters = [cv2.IMWRITE_WEBP_QUALITY, quality]
    elif extension == ".png":
        parameters = [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, encoded = cv2.imencode(extension, pixels, parameters)
    if not ok:
        raise ImageError(f"cannot encode a {image_format} image")
    return encoded.tobytes()
