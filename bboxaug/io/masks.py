"""COCO RLE masks and the rings that outline their pixels: decoding and encoding with pycocotools, the rings traced
with OpenCV's contours, and the pixels a set of rings encloses.

Rings are (M, 2) float64 arrays in the model's continuous pixel coordinates. A traced ring runs through the centres
of the mask's boundary pixels (pixel (col, row) has its centre at (col + 0.5, row + 0.5)), outer rings around the
pixels and hole rings around the holes; filling the rings back (even-odd: a hole ring inside its outer ring leaves
the hole empty, and pixels whose centre lies on a ring count as inside) gives exactly the pixels they were traced
from. A shape one pixel thick in a straight line, whose contour has fewer than three points, gets the outline of
its pixels' bounds instead (a quarter pixel inside their edges), which fills the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

import cv2
import numpy as np
from pycocotools import mask as mask_utils

if TYPE_CHECKING:
    from pycocotools import _EncodedRLE  # a compressed RLE dict, as pycocotools' stubs call it

#: Fractional bits of the vertex coordinates handed to OpenCV's polygon filling (1/16 pixel).
FILL_SHIFT = 4


def is_rle(segmentation: object) -> TypeGuard[dict[str, Any]]:
    """Whether a segmentation is a COCO RLE object `{"size": [h, w], "counts": ...}` (not polygons)."""
    return isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation


def rle_size(rle: dict[str, Any]) -> tuple[int, int] | None:
    """The (width, height) an RLE mask declares, or None when its `size` is not two non-negative integers."""
    size = rle.get("size")
    if not isinstance(size, (list, tuple)) or len(size) != 2 or not all(isinstance(v, int) and v >= 0 for v in size):
        return None
    return int(size[1]), int(size[0])


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    """A COCO RLE mask (compressed, or uncompressed with a list of counts) as a (height, width) bool array of the
    size it declares."""
    counts = rle["counts"]
    height, width = (int(v) for v in rle["size"])
    encoded: _EncodedRLE
    if isinstance(counts, list):
        encoded = mask_utils.frPyObjects(rle, height, width)  # type: ignore[call-overload]  # stubs lack list counts
    else:
        encoded = {"size": [height, width], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    return mask_utils.decode(encoded).astype(bool)


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """A (height, width) mask as compressed COCO RLE with text counts, as COCO JSON holds it."""
    height, width = mask.shape
    counts = mask_utils.encode(np.asfortranarray(mask, dtype=np.uint8))["counts"]
    text = counts.decode("ascii") if isinstance(counts, bytes) else counts
    return {"size": [int(height), int(width)], "counts": text}


@dataclass(frozen=True)
class MaskRings:
    """The rings of a mask: around its pixels (`outer`) and around the holes in them (`holes`)."""

    outer: list[np.ndarray]
    holes: list[np.ndarray]


#: How far inside the pixel edges the outline of a shape too small for a contour runs.
SMALL_INSET = 0.25


def _bounds_outline(contour: np.ndarray) -> np.ndarray:
    """The outline of the bounds of the pixels whose centres are `contour`'s points, a quarter pixel inside
    their edges: it has an area and encloses those pixels' centres only."""
    low = contour.min(axis=0).astype(np.float64) + SMALL_INSET
    high = contour.max(axis=0).astype(np.float64) + 1.0 - SMALL_INSET
    return np.array([[low[0], low[1]], [high[0], low[1]], [high[0], high[1]], [low[0], high[1]]])


def mask_rings(mask: np.ndarray) -> MaskRings:
    """The rings that outline the mask's pixels (OpenCV contours, straight runs kept as their two ends only, so no
    pixel is lost): see the module docstring."""
    contours, hierarchy = cv2.findContours(
        np.ascontiguousarray(mask, dtype=np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE
    )
    outer: list[np.ndarray] = []
    holes: list[np.ndarray] = []
    for contour, links in zip(contours, hierarchy[0] if hierarchy is not None else [], strict=True):
        points = contour.reshape(-1, 2)
        ring = points + 0.5 if len(points) >= 3 else _bounds_outline(points)
        (holes if links[3] >= 0 else outer).append(ring)
    return MaskRings(outer, holes)


def fill_rings(rings: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """The (height, width) bool mask of the pixels whose centres the rings enclose (even-odd, edges included)."""
    canvas = np.zeros((height, width), np.uint8)
    scaled = [
        np.round((np.asarray(ring, np.float64).reshape(-1, 2) - 0.5) * (1 << FILL_SHIFT)).astype(np.int32)
        for ring in rings
        if len(ring) >= 3 and np.isfinite(ring).all()
    ]
    if scaled:
        cv2.fillPoly(canvas, scaled, 1, cv2.LINE_8, shift=FILL_SHIFT)
    return canvas.astype(bool)


def mask_bounds(mask: np.ndarray) -> np.ndarray | None:
    """`[x1, y1, x2, y2]` of the mask's pixels (pixel edges: a mask of pixel column 3 only is [3, y1, 4, y2]),
    or None for an empty mask."""
    columns, rows = np.flatnonzero(mask.any(axis=0)), np.flatnonzero(mask.any(axis=1))
    if not len(columns):
        return None
    return np.array([columns[0], rows[0], columns[-1] + 1, rows[-1] + 1], dtype=np.float64)
