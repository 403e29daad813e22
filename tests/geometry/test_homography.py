"""Matrices for plane maps: pixel conventions, moving points, and which maps only reorder or crop-and-scale."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bboxaug.geometry.homography import (
    AxisMap,
    axis_map,
    from_pixel_centres,
    move_points,
    scaled_window,
    scaling,
    to_pixel_centres,
    translation,
)


def test_pixel_centre_form_shifts_by_half_a_pixel() -> None:
    flip_on_centres = np.array([[-1.0, 0.0, 9.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # x -> W - 1 - x, W = 10
    model = from_pixel_centres(flip_on_centres)
    assert move_points(model, [[0.0, 3.0], [10.0, 4.0], [2.5, 0.0]]).tolist() == [[10.0, 3.0], [0.0, 4.0], [7.5, 0.0]]
    np.testing.assert_allclose(to_pixel_centres(model), flip_on_centres, atol=1e-12)


def test_move_points_divides_by_the_projective_row_as_opencv_does() -> None:
    matrix = np.array([[1.1, 0.2, 3.0], [-0.1, 0.9, 5.0], [1e-3, -2e-3, 1.0]])
    points = np.array([[0.0, 0.0], [100.0, 20.0], [37.5, 80.25]])
    expected = cv2.perspectiveTransform(points.reshape(-1, 1, 2), matrix).reshape(-1, 2)
    np.testing.assert_allclose(move_points(matrix, points), expected, atol=1e-9)


def test_flips_turns_crops_and_pads_are_whole_pixel_reorderings() -> None:
    width = 7
    turn = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, width], [0.0, 0.0, 1.0]])  # np.rot90: (x, y) -> (y, W - x)
    # Output column u, row v of the turned image (size 5 x 7) reads source pixel x = W - 1 - v, y = u.
    assert axis_map(turn) == AxisMap(transposed=True, x_sign=-1, x_offset=width - 1, y_sign=1, y_offset=0)
    crop_of_flip = translation(-2, -1) @ np.array([[-1.0, 0.0, width], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert axis_map(crop_of_flip) == AxisMap(False, -1, width - 1 - 2, 1, 1)
    assert axis_map(translation(3, 4)) == AxisMap(False, 1, -3, 1, -4)


@pytest.mark.parametrize(
    "matrix",
    [
        translation(0.5, 0.0),
        scaling(2.0, 2.0),
        [*cv2.getRotationMatrix2D((3.0, 3.0), 30.0, 1.0).tolist(), [0.0, 0.0, 1.0]],
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1e-3, 0.0, 1.0]],
    ],
)
def test_resampling_maps_are_not_reorderings(matrix: list[list[float]]) -> None:
    assert axis_map(np.asarray(matrix, dtype=np.float64)) is None


def test_scaled_window_finds_the_source_window_of_a_crop_then_resize() -> None:
    crop_then_resize = scaling(80 / 40, 64 / 32) @ translation(-10, -6)
    assert scaled_window(crop_then_resize, 100, 50, 80, 64) == (10, 6, 50, 38)
    assert scaled_window(scaling(0.5, 0.5), 100, 50, 50, 25) == (0, 0, 100, 50)


@pytest.mark.parametrize(
    ("matrix", "why"),
    [
        (translation(0.5, 0.0), "a shift by half a pixel has no whole-pixel window"),
        (scaling(-1.0, 1.0), "a flip is no window"),
        (translation(5.0, 0.0), "the window would start left of the source"),
        (np.array([[1.0, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), "a shear is no window"),
    ],
)
def test_scaled_window_refuses_other_maps(matrix: np.ndarray, why: str) -> None:
    assert scaled_window(matrix, 100, 50, 100, 50) is None, why
