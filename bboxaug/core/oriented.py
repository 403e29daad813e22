"""The oriented box of the model: 4 corners, angle-free, in one fixed order.

An oriented box is stored in the box column `obb` as a tuple of 8 floats `(x1, y1, x2, y2, x3, y3, x4, y4)` in the
model's pixel coordinates (continuous, origin at the top-left corner of the top-left pixel). The corners go
clockwise as seen on the image (x to the right, y down), which is a positive shoelace sum in these coordinates.
The first corner is the source's first (DOTA's convention puts the object's "top-left" there, so the first edge is
the object's head); a quad given counter-clockwise is made clockwise by swapping corners 1 <-> 2 and 3 <-> 4, which
keeps that first edge. No angle is stored: any quadrilateral is kept as given (a perspective warp leaves one that
is no longer a rectangle), and formats that want an angle derive it from the corners.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Quad = tuple[float, float, float, float, float, float, float, float]

#: The order a counter-clockwise quad is read in to make it clockwise with the same first edge.
_MIRRORED = [1, 0, 3, 2]


def signed_area(corners: np.ndarray) -> float:
    """Half the shoelace sum of (4, 2) `corners`: positive when they go clockwise on the image (y down)."""
    x, y = corners[:, 0], corners[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) / 2.0


def as_quad(values: Sequence[float] | np.ndarray) -> Quad:
    """8 coordinates (or (4, 2) corners) as the model's oriented box: floats, corners made clockwise."""
    corners = np.asarray(values, dtype=np.float64).reshape(4, 2)
    if signed_area(corners) < 0:
        corners = corners[_MIRRORED]
    x1, y1, x2, y2, x3, y3, x4, y4 = corners.ravel().tolist()
    return (x1, y1, x2, y2, x3, y3, x4, y4)


def corners_of(quad: Sequence[float]) -> np.ndarray:
    """An oriented box's (4, 2) float64 corners."""
    return np.asarray(quad, dtype=np.float64).reshape(4, 2)


def upright_quad(xyxy: Sequence[float]) -> Quad:
    """The oriented box of an upright box `[x1, y1, x2, y2]`: its corners clockwise from the top-left."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    return (x1, y1, x2, y1, x2, y2, x1, y2)


def envelope(quad: Sequence[float]) -> list[float]:
    """The upright box `[x1, y1, x2, y2]` enclosing an oriented box."""
    corners = corners_of(quad)
    return [*corners.min(axis=0).tolist(), *corners.max(axis=0).tolist()]


def angle_and_aspect(quad: Sequence[float]) -> tuple[float, float]:
    """The direction of the first edge in degrees, in [0, 180) (0: along +x; angles grow clockwise on the image,
    y being down), and the aspect ratio: the longer mean side over the shorter (1 for a square; inf when one side
    has no length)."""
    corners = corners_of(quad)
    edges = np.roll(corners, -1, axis=0) - corners
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    angle = float(np.degrees(np.arctan2(edges[0, 1], edges[0, 0]))) % 180.0
    first, second = (lengths[0] + lengths[2]) / 2, (lengths[1] + lengths[3]) / 2
    short, long = sorted((first, second))
    return angle, float(long / short) if short > 0 else float("inf")
