"""Where boxes land: crops and resizes composed into one map, boxes moved and cut exactly, polygons followed, and
the way back for a detector's boxes."""

from __future__ import annotations

import numpy as np

from bboxaug.core.model import Boxes, object_column
from bboxaug.preprocessing.placement import move_boxes, place
from bboxaug.preprocessing.steps import Preprocessing


def test_pixel_steps_leave_the_image_where_it_is() -> None:
    where = place(640, 480, Preprocessing.parse("clahe;grayscale;autocontrast"))
    assert (where.size, where.scale, where.offset, where.window) == ((640, 480), (1, 1), (0, 0), (0, 0, 640, 480))


def test_a_crop_then_a_letterbox_compose_into_one_map() -> None:
    where = place(1280, 720, Preprocessing.parse("crop:100,60,740,420;letterbox:320"))
    # the crop is 640x360; the letterbox halves it to 320x180, 70 px below the canvas top
    assert where.size == (320, 320)
    assert where.scale == (0.5, 0.5)
    assert where.offset == (-50.0, 40.0)
    assert where.window == (0.0, 70.0, 320.0, 250.0)
    back = where.to_source([[0, 70, 320, 250], [-10, 80, 100, 200]])
    assert back.tolist() == [[100, 60, 740, 420], [100, 80, 300, 320]]  # cut to the cropped region


def test_a_crop_after_a_letterbox_cuts_the_canvas_and_keeps_the_content_window() -> None:
    where = place(1280, 720, Preprocessing.parse("letterbox:640;crop:0,100,640,600"))
    assert where.size == (640, 500)
    assert where.scale == (0.5, 0.5)
    assert where.offset == (0.0, 40.0)
    assert where.window == (0.0, 40.0, 640.0, 400.0)


def test_a_crop_reaching_past_a_small_image_is_cut_to_it() -> None:
    where = place(120, 80, Preprocessing.parse("crop:50,0,150,100"))
    assert (where.size, where.offset, where.window) == ((70, 80), (-50.0, 0.0), (0.0, 0.0, 70.0, 80.0))


def per_box(where_rows: int, steps: str, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    where = place(width, height, Preprocessing.parse(steps))
    return (
        np.tile(where.scale, (where_rows, 1)),
        np.tile(where.offset, (where_rows, 1)),
        np.tile(where.window, (where_rows, 1)),
    )


def test_boxes_are_moved_cut_or_dropped_and_their_columns_follow() -> None:
    triangle = [[100.0, 0.0, 200.0, 0.0, 200.0, 80.0]]  # below the line y = 0.8 (x - 100)
    boxes = Boxes(
        [
            [60, 10, 90, 40],  # inside
            [40, 10, 70, 30],  # cut by the left edge
            [0, 0, 40, 40],  # outside
            [150, 0, 160, 10],  # touches the right edge: nothing left
            [100, 0, 200, 80],  # a polygon cut at x = 150: visible up to y = 40 there
        ],
        [0, 1, 2, 3, 4],
        {
            "source_id": [11, 12, 13, 14, 15],
            "area": [900.0, 600.0, 1600.0, 100.0, 4000.0],
            "iscrowd": [False, True, False, False, False],
            "segmentation": object_column([None, None, None, None, triangle]),
        },
    )
    moved = move_boxes(boxes, *per_box(5, "crop:50,0,150,100", 200, 100))
    assert moved.rows.tolist() == [0, 1, 4]
    assert moved.boxes.xyxy.tolist() == [[10, 10, 40, 40], [0, 10, 20, 30], [50, 0, 100, 40]]
    assert moved.cut == 2
    assert moved.boxes.labels.tolist() == [0, 1, 4]
    assert moved.boxes.column("truncated").tolist() == [False, True, True]
    assert moved.boxes.column("iscrowd").tolist() == [False, True, False]
    assert moved.boxes.columns["source_id"].tolist() == [11, 12, 15]
    assert "area" not in moved.boxes.columns  # it measured the object before the cut
    [polygon] = moved.boxes.columns["segmentation"][2]
    points = np.asarray(polygon).reshape(-1, 2)
    assert points.min(axis=0).tolist() == [50, 0] and points.max(axis=0).tolist() == [100, 40]


def test_a_cut_polygon_with_nothing_left_inside_drops_its_box() -> None:
    corner = [[100.0, 0.0, 110.0, 0.0, 100.0, 10.0]]  # the top-left corner of its box only
    boxes = Boxes([[100, 0, 200, 100]], [0], {"segmentation": object_column([corner])})
    moved = move_boxes(boxes, *per_box(1, "crop:150,0,300,100", 300, 100))
    assert len(moved.boxes) == 0 and moved.rows.tolist() == []


def test_a_letterbox_scales_and_shifts_every_box_and_polygon() -> None:
    square = [[10.0, 10.0, 50.0, 10.0, 50.0, 50.0, 10.0, 50.0]]
    boxes = Boxes([[10, 10, 50, 50], [0, 0, 200, 100]], [0, 1], {"segmentation": object_column([square, None])})
    moved = move_boxes(boxes, *per_box(2, "letterbox:100", 200, 100))
    assert moved.boxes.xyxy.tolist() == [[5, 30, 25, 50], [0, 25, 100, 75]]
    assert moved.cut == 0 and "truncated" not in moved.boxes.columns
    assert moved.boxes.columns["segmentation"][0] == [[5.0, 30.0, 25.0, 30.0, 25.0, 50.0, 5.0, 50.0]]
