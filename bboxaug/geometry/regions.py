"""The region a box's segmentation covers, and how it follows the pixels: polygon parts moved and clipped, RLE masks
decoded, moved and encoded again, so a crowd region is never written without its mask.

- An axis-aligned map (`x' = x * scale + offset`: a tile's crop, a resized image) moves a mask exactly as the image
  is moved: the mask is warped with the same map (bilinear, kept where at least half on) and cut to the window.
- Any other warp (an augmented copy) moves the rings that outline the mask (`bboxaug.io.masks.mask_rings`: outer
  rings and holes) with the box shapes, and the moved rings are filled again at the copy's size; a straight map
  moves them exactly, a curved one (elastic, grid distortion) bends their edges between vertices.
- Inside a window (a tile), a shape's visible share and its clipped box come from the shape: polygon area inside
  over polygon area, mask pixels inside over mask pixels, and the envelope of what is inside.

Coordinates are the model's continuous pixels; pixel (col, row) has its centre at (col + 0.5, row + 0.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from bboxaug.core.model import Boxes
from bboxaug.core.polygons import clip_polygon, polygon_area, polygon_parts
from bboxaug.io.masks import decode_rle, encode_rle, fill_rings, is_rle, mask_bounds, mask_rings, rle_size

Window = tuple[float, float, float, float]


def _pixels_outside(shape: tuple[int, int], window: Window) -> tuple[np.ndarray, np.ndarray]:
    """Columns and rows (as masks) whose pixel centres lie outside `window`."""
    height, width = shape
    x0, y0, x1, y1 = window
    centres_x, centres_y = np.arange(width) + 0.5, np.arange(height) + 0.5
    return (centres_x < x0) | (centres_x > x1), (centres_y < y0) | (centres_y > y1)


def mapped_mask(
    mask: np.ndarray,
    scale: Sequence[float],
    offset: Sequence[float],
    size: tuple[int, int],
    window: Window | None = None,
) -> dict[str, Any] | None:
    """A mask moved by `x' = x * scale + offset` onto an image of `size` (width, height) as RLE, pixels whose
    centre lies outside `window` cleared; None when no pixel is left. A whole-pixel shift (a tile) is exact."""
    (sx, sy), (ox, oy) = scale, offset
    # OpenCV maps pixel indices, whose centres are the continuous coordinates less one half.
    matrix = np.array([[sx, 0.0, ox + 0.5 * sx - 0.5], [0.0, sy, oy + 0.5 * sy - 0.5]], dtype=np.float64)
    moved = cv2.warpAffine(mask.astype(np.float32), matrix, size, flags=cv2.INTER_LINEAR, borderValue=0.0) >= 0.5
    if window is not None:
        columns, rows = _pixels_outside(moved.shape, window)
        moved[:, columns] = False
        moved[rows, :] = False
    return encode_rle(moved) if moved.any() else None


def source_mask(segmentation: Any, width: int, height: int) -> np.ndarray | None:
    """The decoded mask of an RLE segmentation of a `width x height` image; None for anything else (polygons,
    nothing, or a mask of another size, which cannot be placed)."""
    if is_rle(segmentation) and rle_size(segmentation) == (width, height):
        return decode_rle(segmentation)
    return None


def mapped_polygons(
    segmentation: Any, scale: Sequence[float], offset: Sequence[float], window: Window
) -> list[list[float]] | None:
    """The polygon parts of a segmentation moved by an axis-aligned map and cut to `window`; None when none is
    left (or it has none)."""
    corner, far = np.array(window[:2], dtype=np.float64), np.array(window[2:], dtype=np.float64)
    parts = [
        clip_polygon(part * scale + offset - corner, *(far - corner)) + corner for part in polygon_parts(segmentation)
    ]
    return [part.ravel().tolist() for part in parts if len(part) >= 3] or None


@dataclass(frozen=True)
class Regions:
    """Each box's region as its source image holds it: polygon parts, a decoded mask (same size as the image), or
    None (the box is its own region)."""

    shapes: list[list[np.ndarray] | np.ndarray | None]

    @classmethod
    def of(cls, boxes: Boxes, width: int, height: int) -> Regions | None:
        """The regions of `boxes` in a `width x height` image; None when no box has a polygon or a mask of that
        size."""
        if "segmentation" not in boxes.columns:
            return None
        shapes: list[list[np.ndarray] | np.ndarray | None] = []
        for segmentation in boxes.columns["segmentation"].tolist():
            mask = source_mask(segmentation, width, height)
            shapes.append(mask if mask is not None else polygon_parts(segmentation) or None)
        return cls(shapes) if any(shape is not None for shape in shapes) else None

    def cut(self, row: int, segmentation: Any, window: Window, size: tuple[int, int]) -> Any:
        """Box `row`'s segmentation cut to `window` and shifted to its corner, on an image of `size`: polygons
        clipped, a mask cut (None when nothing is left, or the mask did not fit its image)."""
        x0, y0, x1, y1 = window
        shown = (0.0, 0.0, x1 - x0, y1 - y0)
        shape = self.shapes[row]
        if isinstance(shape, np.ndarray):
            return mapped_mask(shape, (1.0, 1.0), (-x0, -y0), size, shown)
        return mapped_polygons(segmentation, (1.0, 1.0), (-x0, -y0), shown)

    def in_window(self, clipped: np.ndarray, fraction: np.ndarray, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """The boxes cut to `window` (`clipped`, `fraction` as the boxes alone give them) corrected by the regions:
        for each box the window cuts, its visible share of the region and the envelope of the visible part
        within the cut box (no area: share 0)."""
        clipped, fraction = clipped.copy(), fraction.copy()
        for row in np.flatnonzero((fraction > 0) & (fraction < 1)).tolist():
            shape = self.shapes[row]
            found = None if shape is None else _visible(shape, window)
            if found is None:
                continue
            share, envelope = found
            fraction[row] = share
            if envelope is not None:
                clipped[row] = np.concatenate(
                    [np.maximum(clipped[row, :2], envelope[:2]), np.minimum(clipped[row, 2:], envelope[2:])]
                )
        return clipped, fraction


def _visible(shape: list[np.ndarray] | np.ndarray, window: Window) -> tuple[float, np.ndarray | None] | None:
    """The share of a region inside `window` and the envelope of that part (None when no part is inside); None
    when the region has no area (the box alone decides)."""
    x0, y0, x1, y1 = window
    if isinstance(shape, np.ndarray):
        total = int(shape.sum())
        if not total:
            return None
        inside = shape[int(y0) : int(np.ceil(y1)), int(x0) : int(np.ceil(x1))]
        bounds = mask_bounds(inside)
        return float(inside.sum()) / total, None if bounds is None else bounds + (int(x0), int(y0)) * 2
    full = sum(polygon_area(part) for part in shape)
    if full <= 0:
        return None
    corner = np.array([x0, y0], dtype=np.float64)
    pieces = [clip_polygon(part - corner, x1 - x0, y1 - y0) for part in shape]
    pieces = [piece for piece in pieces if polygon_area(piece) > 0]
    if not pieces:
        return 0.0, None
    points = np.concatenate(pieces) + corner
    visible = sum(polygon_area(piece) for piece in pieces)
    return min(visible / full, 1.0), np.concatenate([points.min(axis=0), points.max(axis=0)])


def mask_shapes(segmentation: Any) -> list[np.ndarray]:
    """The rings (outer rings and holes) that outline an RLE mask, to be moved with a copy's shapes; [] for
    counts pycocotools cannot decode (the box's corners move instead, and the mask is refilled from them)."""
    try:
        rings = mask_rings(decode_rle(segmentation))
    except ValueError:
        return []
    return rings.outer + rings.holes


def refilled_mask(rings: Sequence[np.ndarray], width: int, height: int) -> tuple[dict[str, Any], np.ndarray] | None:
    """Moved (and clipped) rings filled again as an RLE mask of `width x height`, with its pixel bounds; None when
    they enclose no pixel centre."""
    mask = fill_rings(list(rings), width, height)
    bounds = mask_bounds(mask)
    return None if bounds is None else (encode_rle(mask), bounds)
