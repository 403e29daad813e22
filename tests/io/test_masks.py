"""RLE masks and their rings: encoding and decoding agree with pycocotools, and a mask's rings filled back give
exactly its pixels (holes, thin lines and single pixels included)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from bboxaug.io.masks import decode_rle, encode_rle, fill_rings, is_rle, mask_bounds, mask_rings, rle_size


def blobs(seed: int, width: int = 50, height: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = np.zeros((height, width), np.uint8)
    for _ in range(int(rng.integers(1, 5))):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(mask, centre, int(rng.integers(0, 9)), 1, -1)
    if seed % 2:
        mask[int(rng.integers(0, height)), :] = 0  # cut a blob in two
        mask[:, int(rng.integers(0, width))] = 1  # a line one pixel wide
    return mask.astype(bool)


@pytest.mark.parametrize("seed", range(40))
def test_rings_filled_back_are_the_mask(seed: int) -> None:
    mask = blobs(seed)
    rings = mask_rings(mask)
    np.testing.assert_array_equal(fill_rings(rings.outer + rings.holes, 50, 40), mask)


def test_a_hole_has_its_own_ring_through_the_centres_around_it() -> None:
    mask = np.zeros((8, 10), bool)
    mask[2:6, 3:8] = True
    mask[3:5, 5] = False
    rings = mask_rings(mask)
    assert len(rings.outer) == 1 and len(rings.holes) == 1
    assert sorted(map(tuple, rings.outer[0].tolist())) == [(3.5, 2.5), (3.5, 5.5), (7.5, 2.5), (7.5, 5.5)]
    without_hole = mask.copy()
    without_hole[3:5, 5] = True
    np.testing.assert_array_equal(fill_rings(rings.outer, 10, 8), without_hole)
    np.testing.assert_array_equal(fill_rings(rings.outer + rings.holes, 10, 8), mask)


def test_single_pixels_and_straight_lines_get_an_outline_with_area() -> None:
    mask = np.zeros((6, 9), bool)
    mask[1, 1] = True
    mask[4, 3:8] = True
    rings = mask_rings(mask)
    assert all(len(ring) == 4 for ring in rings.outer)
    np.testing.assert_array_equal(fill_rings(rings.outer, 9, 6), mask)


def test_encode_and_decode_agree_with_pycocotools() -> None:
    mask = blobs(3)
    rle = encode_rle(mask)
    assert isinstance(rle["counts"], str) and rle["size"] == [40, 50] and is_rle(rle) and rle_size(rle) == (50, 40)
    theirs = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")})
    np.testing.assert_array_equal(theirs.astype(bool), mask)
    np.testing.assert_array_equal(decode_rle(rle), mask)
    uncompressed = {"size": [2, 3], "counts": [1, 2, 3]}  # column-major: 1 off, 2 on, 3 off
    np.testing.assert_array_equal(decode_rle(uncompressed), [[False, True, False], [True, False, False]])
    assert not is_rle([[0, 0, 1, 0, 1, 1]]) and rle_size({"size": [2], "counts": ""}) is None


def test_bounds_are_pixel_edges() -> None:
    mask = np.zeros((5, 6), bool)
    mask[1:3, 4] = True
    assert mask_bounds(mask).tolist() == [4, 1, 5, 3]
    assert mask_bounds(np.zeros((5, 6), bool)) is None
