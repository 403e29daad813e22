"""Plane maps as 3x3 matrices: build them, change their pixel convention, move points, and tell which kind of
resampling a product of them needs.

Coordinates are the model's (continuous, origin at the top-left corner of the top-left pixel) unless a name says
"pixel centres": OpenCV's warps and most albumentations matrices put pixel (0, 0)'s centre at (0, 0), which is
the model's (0.5, 0.5). Pure numpy, no pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: How far from an integer (or from 0 and 1) a matrix entry may be and still count as exact: products of flips,
#: turns, crops and pads are exact in float64, so this only absorbs the rounding of such products.
EXACT_TOLERANCE = 1e-9


def translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def scaling(sx: float, sy: float) -> np.ndarray:
    return np.array([[sx, 0.0, 0.0], [0.0, sy, 0.0], [0.0, 0.0, 1.0]])


def from_pixel_centres(matrix: np.ndarray) -> np.ndarray:
    """The model-coordinate form of a map written on pixel centres."""
    return translation(0.5, 0.5) @ np.asarray(matrix, dtype=np.float64) @ translation(-0.5, -0.5)


def to_pixel_centres(matrix: np.ndarray) -> np.ndarray:
    """The pixel-centre form (what OpenCV's warps take) of a map in model coordinates."""
    return translation(-0.5, -0.5) @ np.asarray(matrix, dtype=np.float64) @ translation(0.5, 0.5)


def move_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(K, 2) points through a 3x3 map, with the projective division (float64 throughout)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    moved = points @ matrix[:2, :2].T + matrix[:2, 2]
    denominator = points @ matrix[2, :2] + matrix[2, 2]
    if np.any(matrix[2, :2] != 0) or matrix[2, 2] != 1:
        moved = moved / denominator[:, None]
    return moved


def is_affine(matrix: np.ndarray) -> bool:
    last = matrix[2]
    return bool(
        abs(last[0]) <= EXACT_TOLERANCE and abs(last[1]) <= EXACT_TOLERANCE and abs(last[2] - 1) <= EXACT_TOLERANCE
    )


@dataclass(frozen=True)
class AxisMap:
    """A map that only reorders whole pixels: output pixel (column u, row v) is source pixel
    (x_sign * (v if transposed else u) + x_offset, y_sign * (u if transposed else v) + y_offset), on pixel
    centres. Flips, 90-degree turns, transposes, crops and pads, and their products, are such maps."""

    transposed: bool
    x_sign: int
    x_offset: int
    y_sign: int
    y_offset: int


def axis_map(matrix: np.ndarray) -> AxisMap | None:
    """The whole-pixel reordering a model-coordinate map is, or None when it resamples."""
    if not is_affine(matrix):
        return None
    inverse = np.linalg.inv(to_pixel_centres(matrix))  # output pixel -> source pixel
    linear, offset = inverse[:2, :2], inverse[:2, 2]
    rounded, whole = np.round(linear), np.round(offset)
    if np.abs(linear - rounded).max() > EXACT_TOLERANCE or np.abs(offset - whole).max() > EXACT_TOLERANCE:
        return None
    transposed = bool(rounded[0, 0] == 0)
    x_sign = int(rounded[0, 1] if transposed else rounded[0, 0])
    y_sign = int(rounded[1, 0] if transposed else rounded[1, 1])
    off_diagonal = (rounded[0, 0], rounded[1, 1]) if transposed else (rounded[0, 1], rounded[1, 0])
    if abs(x_sign) != 1 or abs(y_sign) != 1 or any(value != 0 for value in off_diagonal):
        return None
    return AxisMap(transposed, x_sign, int(whole[0]), y_sign, int(whole[1]))


#: How far from a whole pixel a window edge computed back through a scale may be.
WINDOW_TOLERANCE = 1e-6


def scaled_window(
    matrix: np.ndarray, source_width: int, source_height: int, width: int, height: int
) -> tuple[int, int, int, int] | None:
    """The whole-pixel window (x0, y0, x1, y1) of the source that a map stretches exactly onto its width x height
    output, when the map is only a crop and a positive scale per axis (model coordinates), as a crop, a resize
    or a crop-then-resize are. None for any other map, or a window reaching beyond the source."""
    if not is_affine(matrix) or abs(matrix[0, 1]) > EXACT_TOLERANCE or abs(matrix[1, 0]) > EXACT_TOLERANCE:
        return None
    if matrix[0, 0] <= 0 or matrix[1, 1] <= 0:
        return None
    edges = [
        -matrix[0, 2] / matrix[0, 0],
        -matrix[1, 2] / matrix[1, 1],
        (width - matrix[0, 2]) / matrix[0, 0],
        (height - matrix[1, 2]) / matrix[1, 1],
    ]
    x0, y0, x1, y1 = (round(edge) for edge in edges)
    if any(abs(whole - edge) > WINDOW_TOLERANCE for whole, edge in zip((x0, y0, x1, y1), edges, strict=True)):
        return None
    if x0 < 0 or y0 < 0 or x1 > source_width or y1 > source_height or x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1
