"""bboxaug.geometry.shapes: shapes, clipping, areas, followed boxes and the box rules.

Expected values are computed by hand, or independently by counting grid points inside the polygon on a fine
raster (an even-odd point-in-polygon test written here), never with the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bboxaug.core.columns import carried_columns
from bboxaug.core.model import Boxes, object_column
from bboxaug.core.oriented import as_quad, corners_of
from bboxaug.geometry.shapes import (
    ELLIPSE_VERTICES,
    BoxRules,
    FollowedBoxes,
    box_shapes,
    clip_polygon,
    follow,
    follow_obb,
    keep_rows,
    obb_shapes,
    pack,
    polygon_area,
    unpack,
)
from bboxaug.io.masks import encode_rle

STEP = 0.05  # raster step in pixels


def inside_polygon(xs: np.ndarray, ys: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd rule: a horizontal ray from each point crosses the polygon's edges an odd number of times."""
    inside = np.zeros(xs.shape, dtype=bool)
    for (x0, y0), (x1, y1) in zip(polygon, np.roll(polygon, -1, axis=0), strict=True):
        if y0 == y1:
            continue
        spans = (ys >= min(y0, y1)) & (ys < max(y0, y1))
        crossing_x = x0 + (ys - y0) * (x1 - x0) / (y1 - y0)
        inside ^= spans & (xs < crossing_x)
    return inside


def raster(polygon: np.ndarray, width: float, height: float) -> tuple[float, float, np.ndarray | None]:
    """Visible area, full area and envelope of `polygon` measured on a STEP grid of cell centres."""
    low = np.floor(polygon.min(axis=0)) - 1
    high = np.ceil(polygon.max(axis=0)) + 1
    xs, ys = np.meshgrid(np.arange(low[0], high[0], STEP) + STEP / 2, np.arange(low[1], high[1], STEP) + STEP / 2)
    inside = inside_polygon(xs, ys, polygon)
    visible = inside & (xs >= 0) & (xs <= width) & (ys >= 0) & (ys <= height)
    envelope = None
    if visible.any():
        envelope = np.array([xs[visible].min(), ys[visible].min(), xs[visible].max(), ys[visible].max()])
    return visible.sum() * STEP**2, inside.sum() * STEP**2, envelope


def rotated_rectangle(cx: float, cy: float, w: float, h: float, degrees: float) -> np.ndarray:
    angle = math.radians(degrees)
    corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return corners @ turn.T + [cx, cy]


def same_cycle(a: np.ndarray, b: np.ndarray) -> bool:
    """The two polygons have the same vertices in the same cyclic order (any starting vertex)."""
    if a.shape != b.shape:
        return False
    return any(np.allclose(np.roll(a, shift, axis=0), b, atol=1e-12) for shift in range(len(a)))


# --- shapes -------------------------------------------------------------------------------------------------


def test_corners_go_around_the_box():
    shapes = box_shapes(Boxes([[1, 2, 5, 7]], [0]), "corners")
    assert len(shapes) == 1 and len(shapes[0]) == 1
    assert shapes[0][0].tolist() == [[1, 2], [5, 2], [5, 7], [1, 7]]


def test_ellipse_is_inscribed_and_touches_every_side():
    [[ellipse]] = box_shapes(Boxes([[10, 20, 30, 60]], [0]), "ellipse")
    assert ellipse.shape == (ELLIPSE_VERTICES, 2)
    np.testing.assert_allclose(ellipse.min(axis=0), [10, 20], atol=1e-9)
    np.testing.assert_allclose(ellipse.max(axis=0), [30, 60], atol=1e-9)
    normalised = (ellipse - [20, 40]) / [10, 20]
    np.testing.assert_allclose((normalised**2).sum(axis=1), 1.0)
    # A 32-gon inscribed in an ellipse covers 32/(2 pi) sin(2 pi/32) of its area.
    expected = math.pi * 10 * 20 * (32 / (2 * math.pi)) * math.sin(2 * math.pi / 32)
    assert polygon_area(ellipse) == pytest.approx(expected)


def test_polygon_segmentations_replace_corners_and_undecodable_rle_keeps_them():
    segmentation = object_column(
        [
            [[0, 0, 4, 0, 4, 3], [10, 10, 12, 10, 12, 12, 10, 12]],  # two parts
            {"size": [10, 10], "counts": "abc"},  # RLE that cannot be decoded: its corners
            [[1, 1, 2, 2]],  # only a degenerate part (two points): ignored
            None,
        ]
    )
    boxes = Boxes(
        [[0, 0, 12, 12], [1, 1, 3, 3], [1, 1, 2, 2], [5, 5, 6, 6]], [0, 0, 0, 0], {"segmentation": segmentation}
    )
    shapes = box_shapes(boxes, "corners")
    assert [len(parts) for parts in shapes] == [2, 1, 1, 1]
    assert shapes[0][0].tolist() == [[0, 0], [4, 0], [4, 3]]
    assert shapes[0][1].tolist() == [[10, 10], [12, 10], [12, 12], [10, 12]]
    assert shapes[1][0].tolist() == [[1, 1], [3, 1], [3, 3], [1, 3]]
    assert shapes[2][0].tolist() == [[1, 1], [2, 1], [2, 2], [1, 2]]
    assert shapes[3][0].tolist() == [[5, 5], [6, 5], [6, 6], [5, 6]]


def test_rle_masks_move_as_the_rings_around_their_pixels():
    mask = np.zeros((10, 12), bool)
    mask[2:6, 3:9] = True
    mask[3:5, 5:7] = False  # a hole
    boxes = Boxes([[3, 2, 9, 6]], [0], {"segmentation": object_column([encode_rle(mask)])})
    outer, hole = box_shapes(boxes, "corners")[0]
    assert sorted(map(tuple, outer.tolist())) == [(3.5, 2.5), (3.5, 5.5), (8.5, 2.5), (8.5, 5.5)]
    assert hole.min(axis=0).tolist() == [4.5, 2.5] and hole.max(axis=0).tolist() == [7.5, 5.5]


def test_unknown_box_shape_is_refused():
    with pytest.raises(ValueError, match="box_shape"):
        box_shapes(Boxes([[0, 0, 1, 1]], [0]), "circle")


def test_pack_and_unpack_round_trip():
    shapes = [
        [np.array([[0.0, 0], [1, 0], [1, 1]]), np.array([[5.0, 5], [6, 5], [6, 6], [5, 6]])],
        [np.array([[9.0, 9], [8, 9], [8, 8]])],
    ]
    points, layout = pack(shapes)
    assert points.shape == (10, 2) and layout == [[3, 4], [3]]
    assert points[3].tolist() == [5, 5]
    back = unpack(points + 1, layout)
    assert [[part.tolist() for part in parts] for parts in back] == [
        [(part + 1).tolist() for part in parts] for parts in shapes
    ]


def test_pack_nothing():
    points, layout = pack([])
    assert points.shape == (0, 2) and layout == []
    assert unpack(points, layout) == []


def test_unpack_refuses_a_wrong_point_count():
    with pytest.raises(ValueError, match="do not match"):
        unpack(np.zeros((5, 2)), [[4]])


# --- clipping and areas ---------------------------------------------------------------------------------------


def test_triangle_cut_by_a_corner():
    triangle = np.array([[-2.0, -2], [6, -2], [-2, 6]])  # the hypotenuse x + y = 4 crosses the image corner
    clipped = clip_polygon(triangle, 10, 10)
    assert same_cycle(clipped, np.array([[0.0, 0], [4, 0], [0, 4]]))
    assert polygon_area(clipped) == 8.0 and polygon_area(triangle) == 32.0


def test_polygon_fully_outside_is_empty():
    for polygon in ([[20, 20], [30, 20], [30, 30]], [[-5, 2], [-1, 2], [-1, 8]], [[2, -9], [8, -9], [5, -1]]):
        clipped = clip_polygon(np.array(polygon, dtype=float), 10, 10)
        assert clipped.shape == (0, 2)


def test_polygon_fully_inside_is_unchanged():
    polygon = np.array([[1.0, 1], [9, 2], [5, 9.5]])
    assert np.array_equal(clip_polygon(polygon, 10, 10), polygon)


def test_polygon_touching_an_edge():
    inside = np.array([[0.0, 0], [5, 0], [0, 5]])  # two sides on the image border
    assert np.array_equal(clip_polygon(inside, 10, 10), inside)
    outside = np.array([[-5.0, 2], [0, 2], [0, 6], [-5, 6]])  # shares only the segment x = 0
    clipped = clip_polygon(outside, 10, 10)
    assert np.all(clipped[:, 0] == 0) and polygon_area(clipped) == 0.0


def test_concave_l_shape():
    shape = np.array([[-5.0, 0], [5, 0], [5, 2], [2, 2], [2, 8], [-5, 8]])
    clipped = clip_polygon(shape, 10, 10)
    assert same_cycle(clipped, np.array([[0.0, 0], [5, 0], [5, 2], [2, 2], [2, 8], [0, 8]]))
    assert polygon_area(clipped) == 22.0  # 5 x 2 + 2 x 6


def test_concave_u_shape_split_by_the_border_keeps_the_right_area():
    # Two prongs stick out above the image; what is inside is two 2x4 columns on a 8x2 bar.
    shape = np.array([[1.0, -4], [3, -4], [3, 4], [7, 4], [7, -4], [9, -4], [9, 6], [1, 6]])
    clipped = clip_polygon(shape, 10, 10)
    assert polygon_area(clipped) == pytest.approx(32.0)
    assert clipped[:, 1].min() == 0.0


def test_polygon_covering_the_image_becomes_the_image():
    clipped = clip_polygon(np.array([[-5.0, -5], [20, -5], [20, 20], [-5, 20]]), 8, 6)
    assert same_cycle(clipped, np.array([[0.0, 0], [8, 0], [8, 6], [0, 6]]))


def test_crossings_land_exactly_on_the_border():
    clipped = clip_polygon(rotated_rectangle(9.7, 3.3, 4, 3, 17), 10.0, 6.0)
    on_right = np.isclose(clipped[:, 0], 10.0, atol=1e-6)
    assert on_right.sum() == 2 and np.all(clipped[on_right, 0] == 10.0)


def test_polygon_area():
    assert polygon_area(np.array([[0.0, 0], [4, 0], [4, 3], [0, 3]])) == 12.0
    assert polygon_area(np.array([[0.0, 0], [0, 3], [4, 3], [4, 0]])) == 12.0  # clockwise too
    assert polygon_area(np.array([[0.0, 0], [4, 0], [0, 3]])) == 6.0
    assert polygon_area(np.array([[0.0, 0], [4, 0]])) == 0.0
    assert polygon_area(np.zeros((0, 2))) == 0.0


@pytest.mark.parametrize("seed", range(6))
def test_clipped_area_matches_a_fine_raster(seed):
    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, 2 * np.pi, 9))
    radii = rng.uniform(2, 9, 9)  # a random star polygon, concave, around a point near the border
    centre = rng.uniform([-3, -3], [23, 15])
    polygon = centre + np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    visible, full, _ = raster(polygon, 20, 12)
    assert polygon_area(polygon) == pytest.approx(full, abs=0.05 * full**0.5 + 0.05)
    assert polygon_area(clip_polygon(polygon, 20, 12)) == pytest.approx(visible, abs=0.05 * full**0.5 + 0.05)


# --- follow ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "centre, degrees", [((3.0, 20.0), 30), ((47.0, 5.0), 60), ((46.0, 36.0), 15), ((25.0, -2.0), 45), ((0.5, 0.5), 80)]
)
def test_rotated_rectangle_cut_by_the_border(centre, degrees):
    width, height = 50, 40
    rectangle = rotated_rectangle(*centre, 16, 8, degrees)
    followed = follow([[rectangle]], width, height)
    visible, full, envelope = raster(rectangle, width, height)
    assert followed.visibility[0] == pytest.approx(visible / full, abs=0.01)
    np.testing.assert_allclose(followed.xyxy[0], envelope + np.array([-STEP, -STEP, STEP, STEP]) / 2, atol=1.5 * STEP)
    assert followed.xyxy[0, 0] >= 0 and followed.xyxy[0, 2] <= width
    assert followed.xyxy[0, 1] >= 0 and followed.xyxy[0, 3] <= height
    # Never larger than the clipped envelope of the whole moved shape (what albumentations keeps).
    envelope_clipped = np.clip(
        np.concatenate([rectangle.min(axis=0), rectangle.max(axis=0)]), 0, [width, height, width, height]
    )
    assert np.all(followed.xyxy[0, :2] >= envelope_clipped[:2]) and np.all(followed.xyxy[0, 2:] <= envelope_clipped[2:])


def test_clipping_before_the_envelope_makes_a_tighter_box():
    # A 24x4 bar at 45 degrees with its centre off the left edge. Corners (c +- 12u +- 2v, u = (1, 1)/sqrt2,
    # v = (-1, 1)/sqrt2): (-3 - 5r, 20 - 7r), (-3 + 7r, 20 + 5r), (-3 + 5r, 20 + 7r), (-3 - 7r, 20 - 5r), r = sqrt2.
    # Inside x >= 0: the long side y - x = 23 - 2r meets x = 0 at y = 23 - 2r; the far end reaches x = -3 + 7r and
    # y = 20 + 7r.
    rectangle = rotated_rectangle(-3.0, 20.0, 24, 4, 45)
    followed = follow([[rectangle]], 50, 40)
    root2 = math.sqrt(2)
    expected = [0.0, 23 - 2 * root2, -3 + 7 * root2, 20 + 7 * root2]
    np.testing.assert_allclose(followed.xyxy[0], expected, atol=1e-9)
    envelope_clipped = np.clip(np.concatenate([rectangle.min(axis=0), rectangle.max(axis=0)]), 0, [50, 40, 50, 40])
    assert envelope_clipped[1] == pytest.approx(20 - 7 * root2)  # about twice as tall as what is visible


def test_follow_inside_outside_and_multi_part():
    inside = [np.array([[1.0, 1], [3, 1], [3, 4], [1, 4]])]
    outside = [np.array([[20.0, 20], [30, 20], [30, 30]])]
    two_parts = [
        np.array([[1.0, 5], [3, 5], [3, 7], [1, 7]]),  # area 4, inside
        np.array([[8.0, 1], [12, 1], [12, 3], [8, 3]]),
    ]  # area 8, half outside (x > 10)
    followed = follow([inside, outside, two_parts], 10, 10)
    np.testing.assert_array_equal(followed.xyxy[0], [1, 1, 3, 4])
    assert np.isnan(followed.xyxy[1]).all()
    np.testing.assert_array_equal(followed.xyxy[2], [1, 1, 10, 7])
    np.testing.assert_allclose(followed.visibility, [1.0, 0.0, (4 + 4) / 12])
    assert followed.polygons[1] == []
    assert len(followed.polygons[2]) == 2 and polygon_area(followed.polygons[2][1]) == 4.0


def test_follow_drops_only_the_parts_outside():
    parts = [np.array([[1.0, 1], [3, 1], [3, 3], [1, 3]]), np.array([[20.0, 20], [30, 20], [30, 30]])]
    followed = follow([parts], 10, 10)
    np.testing.assert_array_equal(followed.xyxy[0], [1, 1, 3, 3])
    assert followed.visibility[0] == pytest.approx(4 / (4 + 50))
    assert len(followed.polygons[0]) == 1


def test_degenerate_shapes():
    line_inside = [np.array([[2.0, 2], [6, 2], [6, 2], [2, 2]])]  # a zero-height box
    line_crossing = [np.array([[-2.0, 2], [6, 2], [6, 2], [-2, 2]])]
    touching_outside = [np.array([[-5.0, 2], [0, 2], [0, 6], [-5, 6]])]  # only its edge x = 0 touches
    followed = follow([line_inside, line_crossing, touching_outside], 10, 10)
    np.testing.assert_array_equal(followed.xyxy[0], [2, 2, 6, 2])
    assert followed.visibility[0] == 1.0
    np.testing.assert_array_equal(followed.xyxy[1], [0, 2, 6, 2])
    assert followed.visibility[1] == 0.0
    assert np.isnan(followed.xyxy[2]).all() and followed.visibility[2] == 0.0


def test_follow_in_bulk_equals_one_by_one():
    rng = np.random.default_rng(7)
    shapes = []
    for _ in range(300):
        shape = [rotated_rectangle(*rng.uniform(-10, 110, 2), *rng.uniform(1, 30, 2), rng.uniform(0, 90))]
        if rng.random() < 0.2:
            shape.append(rotated_rectangle(*rng.uniform(0, 100, 2), 5, 5, 10))
        shapes.append(shape)
    bulk = follow(shapes, 100, 80)
    assert 0 < (bulk.visibility == 1).sum() < 300  # both paths are exercised
    for row, shape in enumerate(shapes):
        alone = follow([shape], 100, 80)
        np.testing.assert_array_equal(bulk.xyxy[row], alone.xyxy[0])
        assert bulk.visibility[row] == alone.visibility[0]
        assert len(bulk.polygons[row]) == len(alone.polygons[0])


def test_follow_nothing():
    followed = follow([], 10, 10)
    assert followed.xyxy.shape == (0, 4) and followed.visibility.shape == (0,) and followed.polygons == []


# --- keep_rows -------------------------------------------------------------------------------------------------


def followed_boxes(xyxy: list[list[float]], visibility: list[float]) -> FollowedBoxes:
    return FollowedBoxes(np.array(xyxy, dtype=float), np.array(visibility, dtype=float), [[] for _ in xyxy])


def test_keep_rows_thresholds_and_counts():
    followed = followed_boxes(
        [
            [0, 0, 10, 10],  # kept
            [np.nan] * 4,  # invisible
            [0, 0, 10, 10],  # visibility 0.29 < 0.3
            [0, 0, 10, 10],  # visibility exactly 0.3: kept
            [0, 0, 3, 5],  # area 15 < 16 (also thin, but counted once, under min_area)
            [0, 0, 4, 4],  # area exactly 16: kept
            [0, 0, 1.5, 40],  # shorter side 1.5 < 2
            [0, 0, 2, 40],
        ],  # shorter side exactly 2: kept
        [1, 0, 0.29, 0.3, 1, 1, 1, 1],
    )
    rows, counts = keep_rows(followed, BoxRules(min_visibility=0.3, min_area=16, min_size=2))
    assert rows.tolist() == [0, 3, 5, 7]
    assert counts == {"invisible": 1, "min_visibility": 1, "min_area": 1, "min_size": 1}


def test_keep_rows_visibility_from_follow():
    # A 10x10 square with 3 of its 10 columns inside the image: visibility 0.3, kept at exactly 0.3.
    followed = follow([[np.array([[-7.0, 0], [3, 0], [3, 10], [-7, 10]])]], 20, 20)
    assert keep_rows(followed, BoxRules(min_visibility=0.3))[0].tolist() == [0]
    rows, counts = keep_rows(followed, BoxRules(min_visibility=0.31))
    assert rows.tolist() == [] and counts["min_visibility"] == 1


def test_keep_rows_defaults_drop_only_invisible_and_thin_boxes():
    followed = followed_boxes([[0, 0, 5, 0.5], [np.nan] * 4, [1, 1, 2, 2]], [1, 0, 0.01])
    rows, counts = keep_rows(followed, BoxRules())
    assert rows.tolist() == [2]
    assert counts == {"invisible": 1, "min_visibility": 0, "min_area": 0, "min_size": 1}


def test_keep_rows_of_nothing():
    rows, counts = keep_rows(followed_boxes([], []), BoxRules(min_size=3))
    assert rows.tolist() == [] and sum(counts.values()) == 0


# --- oriented boxes ----------------------------------------------------------------------------------------


def test_a_quad_inside_the_image_keeps_its_corners_and_a_mirrored_one_is_made_clockwise_again() -> None:
    quad = np.array([[10, 5], [30, 5], [30, 15], [10, 15]], dtype=float)
    assert follow_obb(quad, 40, 20) == (10, 5, 30, 5, 30, 15, 10, 15)
    mirrored = quad * [-1, 1] + [40, 0]  # a horizontal flip of a 40 px wide image
    # corner 2 of the source, (30, 5), lands on (10, 5) and leads: the first edge is the same edge of the object
    assert follow_obb(mirrored, 40, 20) == (10, 5, 30, 5, 30, 15, 10, 15)
    cut = follow_obb(mirrored - [15, 0], 40, 20)  # mirrored and cut: the same corner leads
    assert cut is not None and cut[:2] == (0, 5) and cut[2:4] == (15, 5)


def test_a_quad_wholly_outside_leaves_no_oriented_box() -> None:
    assert follow_obb(np.array([[-10, 0], [-5, 0], [-5, 5], [-10, 5]], dtype=float), 40, 20) is None
    assert follow_obb(np.full((4, 2), np.nan), 40, 20) is None


@pytest.mark.parametrize("degrees", [0.0, 20.0, 45.0, 70.0, 135.0])
def test_a_cut_rectangle_is_refitted_in_its_own_orientation_and_is_the_visible_part_inside_the_image(
    degrees: float,
) -> None:
    turn = np.radians(degrees)
    along, across = np.array([np.cos(turn), np.sin(turn)]), np.array([-np.sin(turn), np.cos(turn)])
    signs = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]])
    corners = signs[:, :1] * 30 * along + signs[:, 1:] * 8 * across + np.array([5, 30])  # near the left border
    fitted = corners_of(follow_obb(corners, 100, 60))
    visible = clip_polygon(corners, 100, 60)
    np.testing.assert_allclose(polygon_area(clip_polygon(fitted, 100, 60)), polygon_area(visible), rtol=1e-9)
    first_edge = fitted[1] - fitted[0]
    assert abs(abs(np.dot(first_edge / np.hypot(*first_edge), along)) - 1) < 1e-9  # same orientation
    assert polygon_area(fitted) <= polygon_area(corners) + 1e-9  # never reaches beyond the moved quad
    assert np.hypot(*(fitted[0] - corners[0])) <= np.hypot(*(fitted[2] - corners[0]))  # starts nearest the first


def test_a_cut_sheared_quad_is_refitted_as_a_parallelogram_of_its_own_shear() -> None:
    corners = np.array([[-20, 10], [20, 10], [30, 30], [-10, 30]], dtype=float)  # a parallelogram cut at x = 0
    fitted = corners_of(follow_obb(corners, 100, 60))
    np.testing.assert_allclose(fitted, [[-10, 10], [20, 10], [30, 30], [0, 30]], atol=1e-9)


def test_the_quad_is_the_shape_moved_for_a_box_without_a_polygon() -> None:
    quad = (20, 10, 25, 20, 15, 25, 10, 15)
    boxes = Boxes([[10, 10, 25, 25], [0, 0, 4, 4]], [0, 1], {"obb": object_column([quad, None])})
    shapes = box_shapes(boxes, "corners")
    np.testing.assert_array_equal(shapes[0][0], np.reshape(quad, (4, 2)))
    np.testing.assert_array_equal(shapes[1][0], [[0, 0], [4, 0], [4, 4], [0, 4]])
    moved, rows = obb_shapes(boxes)
    assert rows.tolist() == [0] and np.array_equal(moved[0][0], np.reshape(quad, (4, 2)))


def test_moving_oriented_boxes_without_saying_how_is_an_error() -> None:
    boxes = Boxes([[10, 10, 25, 25]], [0], {"obb": object_column([(20, 10, 25, 20, 15, 25, 10, 15)])})
    with pytest.raises(ValueError, match="oriented boxes"):
        carried_columns(boxes, "warp", lambda row, segmentation: segmentation)
    moved = carried_columns(boxes, "cut", lambda row, s: s, lambda row, quad: as_quad(np.add(quad, 1)))
    assert moved["obb"][0] == (21, 11, 26, 21, 16, 26, 11, 16)
