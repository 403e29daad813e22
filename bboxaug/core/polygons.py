"""The polygons of the model's `segmentation` column as numpy: a COCO polygon segmentation's parts and back, the
part of a polygon inside an image, and its area.

Kept in `core` because every layer needs them, from the formats that write polygons cut to their image (YOLO
segment lines) to the geometry that moves them. Coordinates are the model's: continuous pixels, origin at the
top-left corner of the top-left pixel, the image being [0, W] x [0, H].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def polygon_parts(segmentation: object) -> list[np.ndarray]:
    """The (M, 2) parts of a COCO polygon segmentation `[[x0, y0, x1, y1, ...], ...]`; [] for RLE or nothing."""
    if not isinstance(segmentation, list):
        return []
    parts = []
    for flat in segmentation:
        if isinstance(flat, (list, tuple)) and len(flat) >= 6 and len(flat) % 2 == 0:
            parts.append(np.asarray(flat, dtype=np.float64).reshape(-1, 2))
    return parts


def polygon_segmentation(parts: Sequence[np.ndarray]) -> list[list[float]] | None:
    """`parts` as a COCO polygon segmentation, leaving out parts of fewer than three points; None if none is
    left."""
    return [np.asarray(part).ravel().tolist() for part in parts if len(part) >= 3] or None


def clip_polygon(polygon: np.ndarray, width: float, height: float) -> np.ndarray:
    """The part of `polygon` inside [0, width] x [0, height] (Sutherland-Hodgman, one pass per image side, each
    pass vectorised over the vertices); an empty (0, 2) array when nothing is inside. Points on the border count
    as inside, and edge crossings land exactly on it."""
    points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    for axis, bound, keep_below in (
        (0, 0.0, False),
        (0, float(width), True),
        (1, 0.0, False),
        (1, float(height), True),
    ):
        if not len(points):
            break
        distance = (bound - points[:, axis]) if keep_below else (points[:, axis] - bound)
        inside = distance >= 0
        if inside.all():
            continue
        before = np.arange(-1, len(points) - 1)  # index of each vertex's predecessor (-1 wraps around)
        previous, previous_distance = points[before], distance[before]
        crossing = inside != inside[before]
        with np.errstate(divide="ignore", invalid="ignore"):  # only crossing edges' values are used
            t = previous_distance / (previous_distance - distance)
            cut = previous + t[:, None] * (points - previous)
        cut[:, axis] = bound
        # Vertex i contributes [crossing point of edge (i-1, i)] then [vertex i if inside], in that order.
        candidates = np.stack([cut, points], axis=1).reshape(-1, 2)
        points = candidates[np.stack([crossing, inside], axis=1).ravel()]
    return points


def polygon_area(polygon: np.ndarray) -> float:
    """The shoelace area, absolute (0 for fewer than three vertices)."""
    points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if len(points) < 3:
        return 0.0
    x, y = points[:, 0], points[:, 1]
    twice = np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]) + x[-1] * y[0] - x[0] * y[-1]
    return float(abs(twice) / 2.0)
