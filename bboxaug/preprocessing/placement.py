"""Where boxes land after pre-processing: the geometric steps (crop, resize) of one input size compose into one
axis-aligned map and a window, and every box of a dataset moves by its image's map in one array operation.

A point `(x, y)` of a `width x height` input lands at `(x * scale[0] + offset[0], y * scale[1] + offset[1])` on the
output; the output's `window` is the part that shows the kept region of the input (the crop, scaled, placed on the
letterbox canvas). A box is moved, then cut to the window: a box left with no area there is dropped; a box cut is
kept clipped (to the envelope of its polygon's visible part, where it has a polygon) and marked `truncated`, as a
tile marks one. Polygon segmentations move the same way and are cut to the window, RLE masks are warped with the
pixels and cut to it (given the images' sizes); per-box columns follow the
`scale` rule of `bboxaug.core.columns` (the object is the same one, seen at another place and size).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bboxaug.core.columns import carried_columns
from bboxaug.core.model import Boxes
from bboxaug.core.oriented import Quad, as_quad, corners_of
from bboxaug.geometry.regions import mapped_mask, source_mask
from bboxaug.geometry.shapes import clip_polygon, move_obb, move_segmentation, polygon_parts
from bboxaug.preprocessing.steps import Crop, Preprocessing, PreprocessSpec, Resize

#: Slack, in output pixels, below which a moved box is not counted as cut by the window (float rounding).
CUT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Placement:
    """Where an input lands: on an output of `size`, by `scale` and `offset`, its kept region being `window`
    (x0, y0, x1, y1) of the output."""

    size: tuple[int, int]
    scale: tuple[float, float]
    offset: tuple[float, float]
    window: tuple[float, float, float, float]

    def to_source(self, xyxy: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
        """Boxes on the pre-processed image (xyxy pixels, e.g. a detector's) back in the input's pixels, cut to
        the region of the input the output shows."""
        scale, offset = np.tile(self.scale, 2), np.tile(self.offset, 2)
        back = (np.asarray(xyxy, dtype=np.float64).reshape(-1, 4) - offset) / scale
        shown = (np.asarray(self.window) - offset) / scale
        return np.clip(back, np.tile(shown[:2], 2), np.tile(shown[2:], 2))


def place(width: int, height: int, steps: PreprocessSpec) -> Placement:
    """The placement of a `width x height` input through the geometric steps, in order (the pixel steps leave it
    where it is); `steps` in any form `Preprocessing.of` takes. ImageError when a crop lies outside the image it
    gets."""
    scale, offset = np.ones(2), np.zeros(2)
    window = np.array([0.0, 0.0, width, height])
    size = (width, height)
    for step in Preprocessing.of(steps).steps:
        if isinstance(step, Crop):
            x0, y0, x1, y1 = step.window(*size)
            corner = np.array([x0, y0], dtype=np.float64)
            offset = offset - corner
            window = np.concatenate([np.maximum(window[:2], corner), np.minimum(window[2:], (x1, y1))]) - np.tile(
                corner, 2
            )
            size = (x1 - x0, y1 - y0)
        elif isinstance(step, Resize):
            where = step.scaling(*size)
            factors, shift = np.asarray(where.scale), np.asarray(where.padding[:2], dtype=np.float64)
            scale, offset = scale * factors, offset * factors + shift
            window = window * np.tile(factors, 2) + np.tile(shift, 2)
            size = (where.width, where.height)
    return Placement(
        size,
        (float(scale[0]), float(scale[1])),
        (float(offset[0]), float(offset[1])),
        (float(window[0]), float(window[1]), float(window[2]), float(window[3])),
    )


@dataclass(frozen=True)
class MovedBoxes:
    """Boxes after their images' placements: the kept ones (in order), which input rows they are, and how many
    the window cut."""

    boxes: Boxes
    rows: np.ndarray
    cut: int


def move_boxes(
    boxes: Boxes, scale: np.ndarray, offset: np.ndarray, window: np.ndarray, sizes: np.ndarray | None = None
) -> MovedBoxes:
    """Every box moved by its own image's placement, given per box (`scale` and `offset` (M, 2), `window`
    (M, 4)), cut to the window. A cut box with a polygon segmentation gets the envelope of the polygon's visible
    part (within the cut box), as an augmented copy does; boxes with nothing left visible are dropped. With
    `sizes` ((M, 4): each box's image width and height before, then after), RLE masks are warped with the pixels
    and cut to the window (a box whose mask keeps no pixel is dropped); without it they are left behind."""
    moved = boxes.xyxy * np.tile(scale, 2) + np.tile(offset, 2)
    clipped = np.concatenate([np.maximum(moved[:, :2], window[:, :2]), np.minimum(moved[:, 2:], window[:, 2:])], 1)
    visible = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
    cut = visible & (np.abs(clipped - moved).max(axis=1, initial=0.0) > CUT_TOLERANCE)

    def inside(row: int) -> Callable[[np.ndarray], np.ndarray]:
        """Polygon points of box `row` moved and clipped to its window."""
        corner, far = window[row, :2], window[row, 2:]
        return lambda part: clip_polygon(part * scale[row] + offset[row] - corner, *(far - corner)) + corner

    def inside_obb(row: int, quad: Quad) -> Quad | None:
        """Oriented box of box `row` moved, and re-fitted to its visible part when its window cuts it."""
        corner, far = window[row, :2], window[row, 2:]
        local = move_obb(quad, lambda corners: corners * scale[row] + offset[row] - corner, *(far - corner))
        return None if local is None else as_quad(corners_of(local) + corner)

    polygons, quads = boxes.columns.get("segmentation"), boxes.columns.get("obb")
    for row in np.flatnonzero(cut).tolist():
        parts = [] if polygons is None else polygon_parts(polygons[row])
        if not parts and quads is not None and quads[row] is not None:
            parts = [corners_of(quads[row])]
        if parts:
            shown = [points for points in map(inside(row), parts) if len(points) >= 3]
            if not shown:
                visible[row] = False
                continue
            points = np.concatenate(shown)
            clipped[row, :2] = np.maximum(clipped[row, :2], points.min(axis=0))
            clipped[row, 2:] = np.minimum(clipped[row, 2:], points.max(axis=0))
            visible[row] = bool((clipped[row, 2:] > clipped[row, :2]).all())
    rows = np.flatnonzero(visible)
    kept = boxes.take(rows)
    vanished: list[int] = []

    def follow(position: int, segmentation: Any) -> Any:
        row = int(rows[position])
        mask = None if sizes is None else source_mask(segmentation, int(sizes[row, 0]), int(sizes[row, 1]))
        if mask is None:
            return move_segmentation(segmentation, inside(row))
        size = (int(sizes[row, 2]), int(sizes[row, 3])) if sizes is not None else (0, 0)
        found = mapped_mask(mask, scale[row], offset[row], size, tuple(window[row].tolist()))
        if found is None:
            vanished.append(position)
        return found

    columns = carried_columns(kept, "scale", follow, lambda position, quad: inside_obb(int(rows[position]), quad))
    if cut[rows].any() or "truncated" in columns:
        columns["truncated"] = kept.column("truncated") | cut[rows]
    placed = Boxes(clipped[rows], kept.labels, columns)
    if vanished:
        shown_rows = np.setdiff1d(np.arange(len(rows)), vanished)
        placed, rows = placed.take(shown_rows), rows[shown_rows]
    return MovedBoxes(placed, rows, int(cut[rows].sum()))
