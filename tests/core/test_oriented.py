from __future__ import annotations

import numpy as np
import pytest

from bboxaug.core.oriented import angles_and_aspects, as_quad, corners_of, envelope, signed_area, upright_quad


def test_clockwise_corners_are_kept_and_counter_clockwise_ones_swapped_in_pairs() -> None:
    clockwise = [10, 5, 30, 5, 30, 15, 10, 15]  # top-left, top-right, bottom-right, bottom-left (y down)
    assert as_quad(clockwise) == (10, 5, 30, 5, 30, 15, 10, 15)
    assert signed_area(corners_of(clockwise)) == 200
    counter = [10, 5, 10, 15, 30, 15, 30, 5]
    assert as_quad(counter) == (10, 15, 10, 5, 30, 5, 30, 15)  # 1 <-> 2, 3 <-> 4: the first edge is kept
    assert all(isinstance(value, float) for value in as_quad(np.array(counter).reshape(4, 2)))


def test_upright_quad_and_envelope() -> None:
    assert upright_quad([1, 2, 5, 4]) == (1, 2, 5, 2, 5, 4, 1, 4)
    assert envelope((20, 10, 25, 20, 15, 25, 10, 15)) == [10, 10, 25, 25]


def test_angles_are_of_the_longer_side_and_aspects_long_over_short() -> None:
    quads = np.array(
        [
            [0, 0, 10, 0, 10, 2, 0, 2],  # long side along x
            [0, 0, 2, 0, 2, 10, 0, 10],  # long side along y
            [0, 2, 0, 0, 10, 0, 10, 2],  # the first, starting at another corner
            [10, 0, 20, 10, 10, 20, 0, 10],  # a square turned 45 degrees
            [0, 0, 4, 0, 4, 0, 0, 0],  # no height
        ],
        dtype=float,
    )
    angles, aspects = angles_and_aspects(quads)
    np.testing.assert_allclose(angles, [0, 90, 0, 45, 0], atol=1e-9)
    np.testing.assert_allclose(aspects[:4], [5, 5, 5, 1])
    assert aspects[4] == np.inf


@pytest.mark.parametrize("degrees", [10.0, 80.0, 100.0, 170.0])
def test_angle_grows_clockwise_on_the_image(degrees: float) -> None:
    turn = np.radians(degrees)
    long = np.array([np.cos(turn), np.sin(turn)]) * 20
    short = np.array([-np.sin(turn), np.cos(turn)]) * 5
    quad = np.array([[0, 0], long, long + short, short]).ravel()
    angles, aspects = angles_and_aspects(quad[None])
    assert angles[0] == pytest.approx(degrees) and aspects[0] == pytest.approx(4)
