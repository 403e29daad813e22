"""Box geometry for augmentation: the shapes that follow the pixels, and the boxes they leave after clipping.

Every box is moved as a shape: its polygon parts where it has a polygon segmentation, the rings outlining its RLE
mask where it has one, else its oriented box's corners where it has one, else its four corners (or an inscribed
ellipse). An oriented box moves its own four corners too (`obb_shapes`), and `follow_obb` re-fits it when the
border cuts it. The backend moves all vertices at once (`pack` / `unpack`); `follow` then clips each moved shape to
the image BEFORE taking its envelope, so a rotated object cut by the border gets the box of what is visible, and
measures the visible share of its area;
`keep_rows` applies the policy's box rules.

Pure numpy, no backend knowledge. Coordinates are the model's: continuous
pixels, origin at the top-left corner of the top-left pixel, the image being [0, W] x [0, H].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from bboxaug.core.model import Boxes
from bboxaug.core.oriented import Quad, as_quad, corners_of
from bboxaug.core.polygons import clip_polygon as clip_polygon
from bboxaug.core.polygons import polygon_area as polygon_area
from bboxaug.core.polygons import polygon_parts as polygon_parts
from bboxaug.core.polygons import polygon_segmentation as polygon_segmentation
from bboxaug.geometry.regions import mask_shapes
from bboxaug.io.masks import is_rle


@dataclass(frozen=True)
class BoxRules:
    """Which transformed boxes to keep (judged once, on the final clipped shape)."""

    min_visibility: float = 0.0  # visible share (0..1] of the transformed shape's area; below it dropped
    min_area: float = 0.0  # px^2 of the clipped box; below it dropped
    min_size: float = 1.0  # px, the clipped box's shorter side; below it dropped
    box_shape: Literal["corners", "ellipse"] = "corners"  # shape moved for boxes without a polygon


ELLIPSE_VERTICES = 32


#: Slack when comparing with the box rules, so a box cut to exactly the threshold is not lost to rounding.
RULE_TOLERANCE = 1e-9


DROP_REASONS = ("invisible", "min_visibility", "min_area", "min_size")


Shapes = list[list[np.ndarray]]  # per box, its polygon parts, each (M, 2)


def box_shapes(boxes: Boxes, box_shape: str) -> Shapes:
    """Per box, the polygon parts to move: the polygons of a polygon `segmentation` (parts of fewer than three
    points are ignored), the rings outlining an RLE mask (outer rings and holes, `geometry.regions.mask_shapes`),
    else the oriented box's corners, else the 4 corners, or a 32-vertex inscribed ellipse when `box_shape` is
    "ellipse". The visible share of a mask with holes counts the holes' area with the mask's (an approximation for
    crowd regions)."""
    x1, y1, x2, y2 = boxes.xyxy.T
    if box_shape == "ellipse":
        angles = np.linspace(0.0, 2.0 * np.pi, ELLIPSE_VERTICES, endpoint=False)
        cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
        outlines = np.stack(
            [cx[:, None] + rx[:, None] * np.cos(angles), cy[:, None] + ry[:, None] * np.sin(angles)], axis=2
        )
    elif box_shape == "corners":
        outlines = np.stack(
            [np.stack([x1, y1], 1), np.stack([x2, y1], 1), np.stack([x2, y2], 1), np.stack([x1, y2], 1)], axis=1
        )
    else:
        raise ValueError(f"box_shape must be 'corners' or 'ellipse', not {box_shape!r}")
    shapes = [[outline] for outline in outlines]
    for row, quad in enumerate(boxes.columns.get("obb", ())):
        if quad is not None:
            shapes[row] = [corners_of(quad)]
    for row, segmentation in enumerate(boxes.columns.get("segmentation", ())):
        parts = mask_shapes(segmentation) if is_rle(segmentation) else polygon_parts(segmentation)
        if parts:
            shapes[row] = parts
    return shapes


def move_segmentation(segmentation: Any, move: Callable[[np.ndarray], np.ndarray]) -> list[list[float]] | None:
    """A polygon segmentation with every part moved by `move` ((M, 2) points to (K, 2) points, e.g. clipped);
    None for RLE or nothing, which cannot follow a geometric operation."""
    return polygon_segmentation([move(part) for part in polygon_parts(segmentation)])


def obb_shapes(boxes: Boxes) -> tuple[Shapes, np.ndarray]:
    """The oriented boxes' corners as one-part shapes to move with the others, and the rows they belong to."""
    quads = boxes.columns.get("obb")
    if quads is None:
        return [], np.zeros(0, dtype=np.int64)
    rows = np.flatnonzero(quads != None)  # noqa: E711
    return [[corners_of(quads[row])] for row in rows.tolist()], rows


def object_frame(corners: np.ndarray) -> np.ndarray | None:
    """The linear map (2 x 2, acting on offsets from the first corner) that turns a moved quad's first edge into
    the x axis and its last edge into the y axis, each keeping its length: a rotation for a rectangle, a rotation
    after undoing the shear for a sheared one; None for a degenerate quad."""
    first, last = corners[1] - corners[0], corners[3] - corners[0]
    sides = np.stack([first, last], axis=1)
    lengths = np.hypot(*first), np.hypot(*last)
    if min(lengths) <= 0 or abs(np.linalg.det(sides)) <= 1e-12 * lengths[0] * lengths[1]:
        return None
    return np.diag(lengths) @ np.linalg.inv(sides)


def refit(visible: np.ndarray, corners: np.ndarray) -> Quad:
    """The oriented box left of a quad (moved `corners`) of which only the convex polygon `visible` shows: the
    minimum-area rectangle enclosing the visible part among those of the object's own orientation, that is the
    visible part's bounding box in the object's frame (`object_frame`), mapped back; starting at the corner
    nearest the quad's first. For a rectangle or a parallelogram cut by straight borders this rectangle, cut by
    the same borders, is exactly the visible part."""
    frame = object_frame(corners)
    if frame is None:  # a degenerate quad has no orientation: its visible part's upright box
        return in_order(_bounds(visible), corners[0])
    box = _bounds((visible - corners[0]) @ frame.T)
    return in_order(box @ np.linalg.inv(frame).T + corners[0], corners[0])


def _bounds(points: np.ndarray) -> np.ndarray:
    """The 4 corners of the axis-aligned box bounding `points`, clockwise from its top-left."""
    low, high = points.min(axis=0), points.max(axis=0)
    return np.array([low, [high[0], low[1]], high, [low[0], high[1]]])


def in_order(quad: np.ndarray, first: np.ndarray) -> Quad:
    """`quad` as an oriented box (clockwise) starting at its corner nearest `first`."""
    ordered = corners_of(as_quad(quad))
    return as_quad(np.roll(ordered, -int(np.argmin(np.hypot(*(ordered - first).T))), axis=0))


def follow_obb(corners: np.ndarray, width: float, height: float) -> Quad | None:
    """A moved oriented box's corners as the oriented box it leaves on an image of `width` x `height`: the corners
    as they are (made clockwise again after a mirror) when all lie on the image, None when nothing of the quad
    is visible, else re-fitted to its visible part (`refit`): the least rectangle of the object's own orientation
    enclosing it, which may reach outside the image where the border cut the object."""
    corners = np.asarray(corners, dtype=np.float64).reshape(4, 2)
    if not np.isfinite(corners).all():
        return None
    corners = corners_of(as_quad(corners))  # clockwise again after a mirror, the first edge kept
    x, y = corners[:, 0], corners[:, 1]
    if ((x >= 0) & (x <= width) & (y >= 0) & (y <= height)).all():
        return as_quad(corners)
    visible = clip_polygon(corners, width, height)
    if len(visible) < 3 or polygon_area(visible) <= 0:
        return None
    return refit(visible, corners)


def move_obb(quad: Quad, move: Callable[[np.ndarray], np.ndarray], width: float, height: float) -> Quad | None:
    """An oriented box moved by `move` ((4, 2) corners to (4, 2) corners) onto an image of `width` x `height`."""
    return follow_obb(move(corners_of(quad)), width, height)


def pack(shapes: Shapes) -> tuple[np.ndarray, list[list[int]]]:
    """All vertices in one (K, 2) float64 array plus the part lengths to `unpack` them, so one pipeline call
    moves every shape of an image."""
    layout = [[len(part) for part in parts] for parts in shapes]
    flat = [np.asarray(part, dtype=np.float64).reshape(-1, 2) for parts in shapes for part in parts]
    points = np.concatenate(flat) if flat else np.zeros((0, 2))
    return points, layout


def unpack(points: np.ndarray, layout: Sequence[Sequence[int]]) -> Shapes:
    """The inverse of `pack`: per box, its parts, cut from `points` by the lengths in `layout`."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    ends = np.cumsum([length for lengths in layout for length in lengths], dtype=np.int64)
    if len(points) != (ends[-1] if len(ends) else 0):
        raise ValueError(f"{len(points)} points do not match a layout of {int(ends[-1]) if len(ends) else 0}")
    pieces = iter(np.split(points, ends[:-1]) if len(ends) else [])
    return [[next(pieces) for _ in lengths] for lengths in layout]


@dataclass(frozen=True)
class FollowedBoxes:
    """Where the moved shapes leave their boxes.

    xyxy: (N, 4) envelope of each clipped shape (NaN rows where nothing is visible). visibility: (N,) visible area
    / full area of the moved shape, 0 when nothing is visible; for a degenerate (zero-area) shape, 1 if its
    envelope lies inside the image, else 0. polygons: per box, its clipped non-empty parts.
    """

    xyxy: np.ndarray
    visibility: np.ndarray
    polygons: Shapes


def follow(shapes_after: Shapes, width: float, height: float) -> FollowedBoxes:
    """Clip every moved shape to the image and take its envelope. Shapes wholly inside (the usual case) or wholly
    beyond one side are handled with array operations; only shapes crossing the border are clipped one by one."""
    count = len(shapes_after)
    xyxy = np.full((count, 4), np.nan)
    visibility = np.zeros(count)
    polygons: Shapes = [[] for _ in range(count)]
    parts = [np.asarray(part, dtype=np.float64).reshape(-1, 2) for shape in shapes_after for part in shape]
    if not parts:
        return FollowedBoxes(xyxy, visibility, polygons)
    part_box = np.repeat(np.arange(count), [len(shape) for shape in shapes_after])
    vertex_box = np.repeat(part_box, [len(part) for part in parts])
    points = np.concatenate(parts)
    x, y = points[:, 0], points[:, 1]
    outside = ~((x >= 0) & (x <= width) & (y >= 0) & (y <= height))  # NaN counts as outside
    vertices = np.bincount(vertex_box, minlength=count)
    inside = (vertices > 0) & (np.bincount(vertex_box, weights=outside, minlength=count) == 0)
    beyond = np.zeros(count, dtype=bool)  # every vertex strictly beyond the same side: nothing visible
    for side in (x < 0, x > width, y < 0, y > height):
        beyond |= np.bincount(vertex_box, weights=side, minlength=count) == vertices
    if inside.any():
        starts = np.concatenate([[0], np.cumsum(vertices)[:-1]])[vertices > 0]
        boxes_with_points = np.flatnonzero(vertices > 0)
        envelope = np.stack(
            [
                np.minimum.reduceat(x, starts),
                np.minimum.reduceat(y, starts),
                np.maximum.reduceat(x, starts),
                np.maximum.reduceat(y, starts),
            ],
            axis=1,
        )
        xyxy[boxes_with_points] = envelope
        xyxy[~inside] = np.nan
        visibility[inside] = 1.0
    for row in np.flatnonzero(inside):
        polygons[row] = [part for part in shapes_after[row] if len(part)]
    for row in np.flatnonzero(~inside & ~beyond & (vertices > 0)):
        xyxy[row], visibility[row], polygons[row] = _follow_crossing(shapes_after[row], width, height)
    return FollowedBoxes(xyxy, visibility, polygons)


def _follow_crossing(
    parts: list[np.ndarray], width: float, height: float
) -> tuple[np.ndarray, float, list[np.ndarray]]:
    """Envelope, visibility and clipped parts of one shape that is not wholly inside the image."""
    full = visible = 0.0
    clipped = []
    for part in parts:
        part = np.asarray(part, dtype=np.float64).reshape(-1, 2)
        if not len(part) or not np.isfinite(part).all():
            continue
        full += polygon_area(part)
        inner = clip_polygon(part, width, height)
        if len(inner):
            clipped.append(inner)
            visible += polygon_area(inner)
    if not clipped or (full > 0 and visible <= 0):
        return np.full(4, np.nan), 0.0, []
    inner_points = np.concatenate(clipped)
    envelope = np.concatenate([inner_points.min(axis=0), inner_points.max(axis=0)])
    share = min(visible / full, 1.0) if full > 0 else 0.0  # a degenerate shape wholly inside took the fast path
    return envelope, share, clipped


def keep_rows(followed: FollowedBoxes, rules: BoxRules) -> tuple[np.ndarray, dict[str, int]]:
    """Indices (ascending) of the boxes that pass the rules, and how many were dropped for each reason; a box is
    counted once, under the first reason of: invisible, min_visibility, min_area, min_size."""
    xyxy = np.asarray(followed.xyxy, dtype=np.float64).reshape(-1, 4)
    invisible = ~np.all(np.isfinite(xyxy), axis=1)
    sides = np.where(invisible[:, None], 0.0, xyxy[:, 2:] - xyxy[:, :2])
    failures = {
        "invisible": invisible,
        "min_visibility": np.asarray(followed.visibility) < rules.min_visibility - RULE_TOLERANCE,
        "min_area": sides[:, 0] * sides[:, 1] < rules.min_area - RULE_TOLERANCE,
        "min_size": sides.min(axis=1, initial=np.inf) < rules.min_size - RULE_TOLERANCE,
    }
    dropped = np.zeros(len(xyxy), dtype=bool)
    counts = {}
    for reason in DROP_REASONS:
        fails = failures[reason] & ~dropped
        counts[reason] = int(fails.sum())
        dropped |= fails
    return np.flatnonzero(~dropped), counts
