"""Small pictures of images for a page, as `data:` URIs: decoded at a reduced size where the format allows it (a
JPEG's DCT scaling, through `preview.read_upright`), upright, scaled to fit a square and encoded as WebP, on
every core."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

from bboxaug.core.model import ImageRecord
from bboxaug.inspection.preview import fit, read_upright, upright_size
from bboxaug.runtime.parallel import run_parallel

#: Longest side of a thumbnail in pixels: sharp at twice the size a gallery cell shows it.
SIDE = 384


#: WebP quality: boxes are drawn over the picture, not into it, so the picture only has to be recognisable.
QUALITY = 70


#: libwebp's effort (0-6): 2 encodes a 384x288 photograph in under half the time of its default 4, 9 % larger.
METHOD = 2


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """An encoded picture and its size in pixels."""

    uri: str
    width: int
    height: int


def thumbnail(job: tuple[ImageRecord, int]) -> Thumbnail | None:
    """The thumbnail of one image (longest side `side`), None when its file is missing or unreadable."""
    image, side = job
    size = upright_size(image)
    if size is None:
        return None
    fitted = fit(*size, min(side, max(size)))
    picture = read_upright(image.source, fitted)
    if picture is None:
        return None
    buffer = io.BytesIO()
    picture.save(buffer, format="WEBP", quality=QUALITY, method=METHOD)
    return Thumbnail("data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"), *fitted)


def thumbnails(
    images: Sequence[ImageRecord], *, side: int = SIDE, jobs: int = 1, progress: bool = False
) -> list[Thumbnail | None]:
    """The thumbnail of each image, in order, made on `jobs` threads (decoding and resizing release the GIL)."""
    return run_parallel(
        thumbnail, [(image, side) for image in images], jobs=jobs, description="thumbnails", progress=progress
    )
