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


def angles_and_aspects(quads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For (N, 8) oriented boxes: the direction of each one's longer side in degrees, in [0, 180) (0: along +x;
    angles grow clockwise on the image, y being down), and its aspect ratio, the longer mean side over the shorter
    (1 for a square, inf when a side has no length). Sides are the means of opposite edges, so any corner order
    of a rectangle gives the same figures."""
    corners = np.asarray(quads, dtype=np.float64).reshape(-1, 4, 2)
    edges = np.roll(corners, -1, axis=1) - corners
    first = (edges[:, 0] - edges[:, 2]) / 2  # opposite edges point opposite ways round the quad
    second = (edges[:, 1] - edges[:, 3]) / 2
    first_length, second_length = np.hypot(*first.T), np.hypot(*second.T)
    longer = np.where((first_length >= second_length)[:, None], first, second)
    angles = np.degrees(np.arctan2(longer[:, 1], longer[:, 0])) % 180.0
    long, short = np.maximum(first_length, second_length), np.minimum(first_length, second_length)
    with np.errstate(divide="ignore", invalid="ignore"):
        aspects = np.where(short > 0, long / np.where(short > 0, short, 1.0), np.inf)
    return np.where(angles >= 180.0, 0.0, angles), aspects
