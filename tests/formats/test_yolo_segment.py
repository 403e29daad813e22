"""YOLO segment lines: polygons and masks written as one normalised ring per object, clipped to the image, joined as
Ultralytics joins several parts, every change counted; the task chosen or asked for; and the round trip COCO
polygons -> YOLO segment -> COCO within the 6 decimals."""

from __future__ import annotations

import json
from collections import Counter
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from bboxaug.cli.main import main
from bboxaug.commands.convert import convert, save
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord, object_column
from bboxaug.core.report import Report
from bboxaug.formats import FORMATS, yolo
from bboxaug.formats.yolo_segment import instance_ring, join_rings, polygon_lines
from bboxaug.io.masks import encode_rle
from bboxaug.pipeline.source import load
from tests.conftest import make_image


def filled(rings: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """Pixels whose centre a set of rings covers, each ring filled on its own and the results joined."""
    canvas = np.zeros((height, width), np.uint8)
    for ring in rings:
        canvas |= cv2.fillPoly(np.zeros_like(canvas), [np.round(ring * 16).astype(np.int32)], 1, shift=4)
    return canvas.astype(bool)


def square(x: float, y: float, side: float) -> np.ndarray:
    return np.array([[x, y], [x + side, y], [x + side, y + side], [x, y + side]], dtype=np.float64)


@pytest.mark.parametrize("count", [2, 3, 5])
def test_joined_rings_fill_the_rings_and_only_their_linking_edges_besides(count: int) -> None:
    rng = np.random.default_rng(count)
    starts = zip(rng.permutation(8)[:count] * 10, rng.integers(0, 40, count), strict=True)
    rings = [square(float(x), float(y), 6.0) for x, y in starts]
    joined, apart = filled([join_rings(rings)], 100, 60), filled(rings, 100, 60)
    assert (joined | apart).sum() == joined.sum()  # every pixel of the rings is covered
    # The links are edges walked both ways: they add at most the pixels their centres touch (a 1-pixel line).
    links = [min(np.hypot(*(p - q)) for p in a for q in b) for a, b in pairwise(rings)]
    assert (joined & ~apart).sum() <= sum(np.ceil(length) + 1 for length in links)
    visited = {tuple(point) for point in join_rings(rings).tolist()}
    assert all(tuple(point) in visited for ring in rings for point in ring.tolist())


def test_two_rings_are_linked_by_their_nearest_vertices_walked_both_ways() -> None:
    left, right = square(0, 0, 2), square(5, 0, 2)  # nearest vertices: (2, 0) and (5, 0)
    joined = join_rings([left, right]).tolist()
    assert joined == [[2, 0], [2, 2], [0, 2], [0, 0], [2, 0], [5, 0], [7, 0], [7, 2], [5, 2], [5, 0]]


def lines_of(boxes: Boxes, width: int, height: int) -> tuple[list[str], Counter[str]]:
    texts, counts = polygon_lines(boxes, np.array([[width, height]]), [len(boxes)])
    return texts[0].splitlines(), counts


def test_polygon_box_without_polygon_and_mask_each_give_one_ring() -> None:
    mask = np.zeros((10, 20), bool)
    mask[2:5, 3:9] = True  # pixels 3..8 x 2..4: the ring through their centres runs 3.5..8.5 x 2.5..4.5
    boxes = Boxes(
        [[2, 1, 6, 4], [10, 0, 20, 10], [3, 2, 9, 5]],
        [0, 1, 2],
        {"segmentation": object_column([[[2, 1, 6, 1, 6, 4]], None, encode_rle(mask)])},
    )
    lines, counts = lines_of(boxes, 20, 10)
    assert lines[0] == "0 0.100000 0.100000 0.300000 0.100000 0.300000 0.400000"
    assert lines[1] == "1 0.500000 0.000000 1.000000 0.000000 1.000000 1.000000 0.500000 1.000000"
    xs, ys = np.array(lines[2].split()[1:], float).reshape(-1, 2).T
    assert sorted(set(np.round(xs * 20, 6))) == [3.5, 8.5] and sorted(set(np.round(ys * 10, 6))) == [2.5, 4.5]
    assert (
        counts == Counter({"yolo_lines:segment": 3, "boxes_without_polygon": 1, "polygons_from_masks": 1}) + Counter()
    )  # zero counts are not kept by Counter addition


def test_polygons_are_cut_to_the_image_and_parts_outside_left_out() -> None:
    segmentation = [[-4, 2, 6, 2, 6, 8, -4, 8], [30, 30, 40, 30, 40, 40]]  # the second lies wholly outside
    boxes = Boxes([[0, 2, 6, 8]], [0], {"segmentation": object_column([segmentation])})
    lines, counts = lines_of(boxes, 10, 10)
    assert lines == ["0 0.000000 0.200000 0.600000 0.200000 0.600000 0.800000 0.000000 0.800000"]
    assert counts["polygons_clipped"] == 1 and counts["polygon_rings_joined"] == 0


def test_a_polygon_with_no_area_inside_is_written_as_its_box_and_counted() -> None:
    boxes = Boxes([[0, 0, 4, 4]], [0], {"segmentation": object_column([[[20, 20, 30, 20, 30, 30]]])})
    lines, counts = lines_of(boxes, 10, 10)
    assert lines == ["0 0.000000 0.000000 0.400000 0.000000 0.400000 0.400000 0.000000 0.400000"]
    assert counts["boxes_without_polygon"] == 1


def test_a_closing_vertex_repeating_the_first_is_left_out_and_counted() -> None:
    boxes = Boxes([[0, 0, 4, 4]], [0], {"segmentation": object_column([[[0, 0, 4, 0, 4, 4, 0, 0]]])})
    lines, counts = lines_of(boxes, 4, 4)
    assert lines == ["0 0.000000 0.000000 1.000000 0.000000 1.000000 1.000000"]
    assert counts["polygon_points_merged"] == 1


def test_a_mask_with_a_hole_is_written_as_its_outline_and_the_hole_counted() -> None:
    mask = np.zeros((8, 8), bool)
    mask[1:7, 1:7] = True
    mask[3:5, 3:5] = False
    boxes = Boxes([[1, 1, 7, 7]], [0], {"segmentation": object_column([encode_rle(mask)])})
    lines, counts = lines_of(boxes, 8, 8)
    ring = np.array(lines[0].split()[1:], float).reshape(-1, 2) * 8
    assert sorted(map(tuple, ring.tolist())) == [(1.5, 1.5), (1.5, 6.5), (6.5, 1.5), (6.5, 6.5)]
    assert counts["mask_holes_filled"] == 1


def image(name: str, boxes: Boxes, root: Path, size: tuple[int, int] = (64, 48)) -> ImageRecord:
    return ImageRecord(name, "train", *size, boxes, make_image(root / name, *size))


def polygon_boxes(polygons: list[list[float]]) -> Boxes:
    xyxy = [[min(p[0::2]), min(p[1::2]), max(p[0::2]), max(p[1::2])] for p in polygons]
    return Boxes(xyxy, [0] * len(polygons), {"segmentation": object_column([[p] for p in polygons])})


def test_the_task_is_segment_only_when_every_box_has_a_polygon_or_mask(tmp_path: Path) -> None:
    classes = (ClassInfo(0, "part"),)
    shaped = image("a.png", polygon_boxes([[1, 1, 9, 1, 9, 9]]), tmp_path)
    masked = image(
        "m.png",
        Boxes([[0, 0, 2, 2]], [0], {"segmentation": object_column([encode_rle(np.ones((48, 64), bool))])}),
        tmp_path,
    )
    plain = image("b.png", Boxes([[1, 1, 5, 5]], [0]), tmp_path)
    negative = image("n.png", Boxes.empty(), tmp_path)
    assert yolo.chosen_task(Dataset(classes, (shaped, masked, negative))) == "segment"
    assert yolo.chosen_task(Dataset(classes, (shaped, plain))) == "detect"
    assert yolo.chosen_task(Dataset(classes, (negative,))) == "detect"


def test_a_mixed_dataset_asked_for_segment_says_how_many_boxes_had_no_polygon(tmp_path: Path) -> None:
    dataset = Dataset(
        (ClassInfo(0, "part"),),
        (
            image("a.png", polygon_boxes([[1, 1, 9, 1, 9, 9]]), tmp_path),
            image("b.png", Boxes([[1, 1, 5, 5]], [0]), tmp_path),
        ),
    )
    report = Report()
    FORMATS["yolo"].for_task("segment").write(dataset, tmp_path / "out", report=report)
    assert (tmp_path / "out/labels/train/b.txt").read_text() == (
        "0 0.015625 0.020833 0.078125 0.020833 0.078125 0.104167 0.015625 0.104167\n"
    )
    assert report.counts["boxes_without_polygon"] == 1 and report.counts["yolo_lines:segment"] == 2
    assert [(w.code, w.file, w.field) for w in report.warnings] == [("boxes_without_polygon", "labels", "task segment")]
    assert "1 of 2 boxes" in report.warnings[0].message


def test_asking_a_format_without_tasks_for_one_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["convert", str(tmp_path), str(tmp_path / "out"), "--to", "coco", "--task", "segment"]
    )
    assert result.exit_code == 2
    assert "the coco format has no task 'segment'" in result.output


def random_polygon(rng: np.random.Generator, width: int, height: int) -> list[float]:
    """A star-shaped polygon of 3..12 vertices with arbitrary float coordinates inside the image (some on its
    border)."""
    count = int(rng.integers(3, 13))
    angles = np.sort(rng.uniform(0, 2 * np.pi, count))
    centre = rng.uniform([8, 8], [width - 8, height - 8])
    radii = rng.uniform(2, 30, count)
    points = np.clip(centre + radii[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1), 0, (width, height))
    return points.ravel().tolist()


def test_coco_polygons_to_yolo_segment_and_back_keep_every_vertex_within_the_six_decimals(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    sizes = [(640, 480), (333, 517), (1280, 720)]
    images = []
    for k, size in enumerate(sizes * 4):
        polygons = [random_polygon(rng, *size) for _ in range(int(rng.integers(1, 6)))]
        images.append(image(f"{k}.png", polygon_boxes(polygons), tmp_path / "pixels", size))
    original = Dataset((ClassInfo(1, "part"),), tuple(images))
    save(original, tmp_path / "coco", to="coco")
    result = convert(tmp_path / "coco", tmp_path / "yolo", to="yolo")
    assert result.report.counts["yolo_lines:segment"] == original.box_count
    assert not result.report.counts["boxes_without_polygon"] and not result.report.counts["polygons_clipped"]
    convert(tmp_path / "yolo", tmp_path / "back", to="coco")
    back = {image.name: image for image in load(tmp_path / "back").images}
    written = [path for path in (tmp_path / "back").rglob("*.json") if path.name != "convert.json"]
    document = json.loads(written[0].read_text())
    assert all(a["segmentation"] for a in document["annotations"])  # a real COCO file, polygons written
    worst = 0.0
    for source in original.images:
        again = back[source.name]
        bound = 0.5e-6 * max(source.width, source.height) + 1e-9  # 6 decimals of a coordinate over W or H
        for polygon, shape in zip(source.boxes.column("segmentation"), again.boxes.column("segmentation"), strict=True):
            want = np.array(polygon[0]).reshape(-1, 2)
            got = np.array(shape[0]).reshape(-1, 2)
            assert got.shape == want.shape
            worst = max(worst, float(np.abs(got - want).max()) / max(source.width, source.height))
            np.testing.assert_allclose(got, want, rtol=0, atol=bound)
        envelopes = [
            [min(p[0][0::2]), min(p[0][1::2]), max(p[0][0::2]), max(p[0][1::2])]
            for p in again.boxes.column("segmentation")
        ]
        np.testing.assert_allclose(again.boxes.xyxy, envelopes, rtol=0, atol=1e-9)
    assert worst <= 0.5e-6 + 1e-12  # reported in the README: the worst vertex error as a share of the image size


def test_the_batch_path_writes_what_one_box_at_a_time_writes() -> None:
    """`single_rings` handles one-part polygons inside their image for a whole batch; every other box, and the
    counts, must come out as `instance_ring` makes them one box at a time."""
    rng = np.random.default_rng(5)
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    shapes = []
    for k in range(400):
        centre, radius = rng.uniform(-20, 120, 2), rng.choice([1e-7, 0.5, 10.0, 40.0])
        ring = (centre + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)).ravel().tolist()
        shapes.append([ring + ring[:2]] if k % 7 == 0 else [ring, [0, 0, 5, 0, 5, 5]] if k % 11 == 0 else [ring])
    xyxy = [[min(s[0][0::2]), min(s[0][1::2]), max(s[0][0::2]), max(s[0][1::2])] for s in shapes]
    boxes = Boxes(np.clip(xyxy, 0, 100), [1] * 400, {"segmentation": object_column(shapes)})
    texts, counts = polygon_lines(boxes, np.array([[100, 100]] * 40), [10] * 40)
    reference: Counter[str] = Counter()
    lines = []
    for row in range(400):
        ring = instance_ring(shapes[row], boxes.xyxy[row], 100, 100, reference).ravel().tolist()
        lines.append("1" + "".join(f" {value:.6f}" for value in ring) + "\n")
    assert "".join(texts) == "".join(lines)
    reference["yolo_lines:segment"] = 400
    assert +counts == +reference and counts["polygon_points_merged"] > 0 and counts["polygons_clipped"] > 0
