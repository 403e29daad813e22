"""How a mask or polygon follows a crop, a scale or a warp, and how much of it a window shows."""

from __future__ import annotations

import numpy as np

from bboxaug.core.model import Boxes, object_column
from bboxaug.geometry.regions import Regions, mapped_mask, mapped_polygons, mask_shapes, refilled_mask, source_mask
from bboxaug.io.masks import decode_rle, encode_rle


def block(width: int, height: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_a_whole_pixel_shift_is_the_crop_itself() -> None:
    rng = np.random.default_rng(0)
    mask = rng.random((30, 40)) < 0.4
    moved = mapped_mask(mask, (1.0, 1.0), (-12.0, -5.0), (20, 20))
    assert moved is not None
    np.testing.assert_array_equal(decode_rle(moved), mask[5:25, 12:32])


def test_a_scale_by_two_doubles_every_pixel_and_the_window_clears_the_rest() -> None:
    moved = mapped_mask(block(10, 8, 2, 1, 5, 4), (2.0, 2.0), (0.0, 0.0), (20, 16))
    assert moved is not None
    np.testing.assert_array_equal(decode_rle(moved), block(20, 16, 4, 2, 10, 8))
    cut = mapped_mask(block(10, 8, 2, 1, 5, 4), (2.0, 2.0), (0.0, 0.0), (20, 16), (0.0, 0.0, 7.0, 16.0))
    assert cut is not None
    np.testing.assert_array_equal(decode_rle(cut), block(20, 16, 4, 2, 7, 8))
    assert mapped_mask(block(10, 8, 2, 1, 5, 4), (1.0, 1.0), (0.0, 0.0), (10, 8), (6.0, 0.0, 10.0, 8.0)) is None


def test_a_mask_of_another_size_or_a_polygon_is_no_source_mask() -> None:
    rle = encode_rle(block(10, 8, 2, 1, 5, 4))
    assert source_mask(rle, 10, 8) is not None
    assert source_mask(rle, 8, 10) is None and source_mask([[0, 0, 1, 0, 1, 1]], 10, 8) is None


def test_polygons_are_moved_and_cut_to_the_window() -> None:
    moved = mapped_polygons([[0, 0, 10, 0, 10, 10, 0, 10]], (2.0, 1.0), (1.0, 0.0), (0.0, 0.0, 15.0, 5.0))
    assert moved is not None
    corners = np.array(moved[0]).reshape(-1, 2)
    assert sorted(set(map(tuple, corners.tolist()))) == [(1, 0), (1, 5), (15, 0), (15, 5)]


def test_rings_moved_by_nothing_fill_the_same_mask_with_its_bounds() -> None:
    mask = block(12, 10, 3, 2, 9, 6)
    mask[3:5, 5:7] = False
    found = refilled_mask(mask_shapes(encode_rle(mask)), 12, 10)
    assert found is not None
    np.testing.assert_array_equal(decode_rle(found[0]), mask)
    assert found[1].tolist() == [3, 2, 9, 6]


def test_a_window_sees_the_share_of_the_shape_not_of_the_box() -> None:
    # An L of 300 px^2 (a 10 x 20 column and a 10 x 10 foot to its right) in the box [0, 0, 20, 20]: the window
    # x >= 12 holds 40 % of the box but 80 / 300 of the L, whose part there is [12, 10, 20, 20].
    l_shape = [[0, 0, 10, 0, 10, 10, 20, 10, 20, 20, 0, 20]]
    mask = block(20, 20, 0, 0, 10, 20) | block(20, 20, 10, 10, 20, 20)
    for segmentation in (l_shape, encode_rle(mask)):
        boxes = Boxes([[0, 0, 20, 20]], [0], {"segmentation": object_column([segmentation])})
        regions = Regions.of(boxes, 20, 20)
        assert regions is not None
        clipped, fraction = regions.in_window(np.array([[12.0, 0.0, 20.0, 20.0]]), np.array([0.4]), (12, 0, 20, 20))
        np.testing.assert_allclose(fraction, [80 / 300])
        np.testing.assert_allclose(clipped, [[12, 10, 20, 20]])
    assert Regions.of(Boxes([[0, 0, 1, 1]], [0]), 20, 20) is None
