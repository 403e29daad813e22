"""Joining several sources into one dataset: classes aligned by name whatever the case and spaces, names that
clash renamed, exact duplicate images kept once, and the same bytes with other boxes refused, naming both files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from bboxaug.core.errors import AnnotationError, UsageError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord
from bboxaug.pipeline.join import JoinedSource, align_classes, class_key
from bboxaug.pipeline.source import Source
from tests.conftest import make_image

Box = tuple[int, float, float, float, float]  # class position, x1, y1, x2, y2


def record(name: str, split: str, boxes: list[Box], source: Path | None = None, size: tuple[int, int] = (40, 30)):
    rows = np.array([box[1:] for box in boxes], dtype=np.float64).reshape(-1, 4)
    labels = np.array([box[0] for box in boxes], dtype=np.int64)
    return ImageRecord(name, split, size[0], size[1], Boxes(rows, labels), source)


def source(classes: list[str], images: list[ImageRecord], ids: list[int] | None = None) -> Source:
    infos = tuple(ClassInfo(None if ids is None else ids[k], name) for k, name in enumerate(classes))
    return Source(Dataset(infos, tuple(images)))


def boxes_by_key(dataset: Dataset) -> dict[str, list[tuple[str, list[float]]]]:
    """Each image's boxes as (class name, corners), sorted: what the joined dataset holds, read by name."""
    names = dataset.class_names
    return {
        image.key: sorted(
            (names[label], corners)
            for label, corners in zip(image.boxes.labels, image.boxes.xyxy.tolist(), strict=True)
        )
        for image in dataset.images
    }


def test_class_key_ignores_case_and_spaces_at_the_ends_and_repeated_inside() -> None:
    assert {class_key(name) for name in (" Car", "car", "CAR ", "\tcAr\n")} == {"car"}
    assert class_key("Traffic   Light") == class_key("traffic light") == "traffic light"
    assert class_key("trafficlight") != class_key("traffic light")


def test_classes_align_under_the_first_spelling_in_the_first_sources_order_then_as_new_ones_appear() -> None:
    aligned = align_classes(
        [
            (ClassInfo(None, " Car"), ClassInfo(None, "truck")),
            (ClassInfo(None, "bus"), ClassInfo(None, "CAR"), ClassInfo(None, "Truck ")),
            (ClassInfo(None, "van"), ClassInfo(None, "BUS"), ClassInfo(None, "car")),
        ]
    )
    assert [c.name for c in aligned.classes] == [" Car", "truck", "bus", "van"]
    assert [c.id for c in aligned.classes] == [None] * 4
    assert [p.tolist() for p in aligned.positions] == [[0, 1], [2, 0, 1], [3, 2, 0]]


def test_first_sources_ids_are_kept_and_new_classes_take_the_next_ids_after_the_largest() -> None:
    aligned = align_classes(
        [
            (ClassInfo(5, "car"), ClassInfo(9, "truck")),
            (ClassInfo(1, "Car"), ClassInfo(2, "bus"), ClassInfo(9, "van")),
        ]
    )
    assert [(c.id, c.name) for c in aligned.classes] == [(5, "car"), (9, "truck"), (10, "bus"), (11, "van")]


def test_a_first_source_without_ids_gives_no_class_an_id() -> None:
    aligned = align_classes([(ClassInfo(None, "car"),), (ClassInfo(3, "bus"), ClassInfo(4, "CAR"))])
    assert [(c.id, c.name) for c in aligned.classes] == [(None, "car"), (None, "bus")]


def test_boxes_take_the_aligned_class_and_splits_keep_their_names() -> None:
    first = source([" Car", "truck"], [record("a.png", "train", [(0, 1, 2, 10, 12), (1, 5, 5, 20, 20)])])
    second = source(
        ["bus", "CAR"], [record("b.png", "val", [(1, 0, 0, 4, 4)]), record("c.png", "test", [(0, 3, 3, 9, 9)])]
    )
    opened = JoinedSource((first, second)).open()
    assert opened.dataset.class_names == [" Car", "truck", "bus"]
    assert boxes_by_key(opened.dataset) == {
        "train/a.png": [(" Car", [1, 2, 10, 12]), ("truck", [5, 5, 20, 20])],
        "val/b.png": [(" Car", [0, 0, 4, 4])],
        "test/c.png": [("bus", [3, 3, 9, 9])],
    }
    mapping = [[(c["name"], c["as"]) for c in s["classes"]] for s in opened.notes["merge"]["sources"]]
    assert mapping == [[(" Car", " Car"), ("truck", "truck")], [("bus", "bus"), ("CAR", " Car")]]
    assert opened.report.counts["merge_classes_aligned"] == 1


def test_a_clashing_name_is_renamed_with_its_sources_number_and_keeps_its_own_file_and_boxes(tmp_path: Path) -> None:
    red = make_image(tmp_path / "one" / "a.png", 40, 30, color=(255, 0, 0))
    blue = make_image(tmp_path / "two" / "a.png", 40, 30, color=(0, 0, 255))
    third = make_image(tmp_path / "three" / "a.png", 40, 30, color=(0, 255, 0))
    joined = JoinedSource(
        (
            source(["car"], [record("a.png", "train", [(0, 1, 1, 5, 5)], red)]),
            source(["car"], [record("a.png", "train", [(0, 2, 2, 8, 8)], blue), record("a.png", "val", [], blue)]),
            source(["car"], [record("a.png", "train", [(0, 3, 3, 9, 9)], third)]),
        )
    )
    opened = joined.open()
    images = {image.key: image for image in opened.dataset.images}
    assert sorted(images) == ["train/a.png", "train/a_src2.png", "train/a_src3.png", "val/a.png"]
    assert images["train/a.png"].source == red and images["train/a_src2.png"].source == blue
    assert images["train/a_src3.png"].source == third
    assert images["train/a_src2.png"].boxes.xyxy.tolist() == [[2, 2, 8, 8]]
    assert opened.notes["merge"]["renamed"] == [
        {"source": 2, "image": "train/a.png", "as": "train/a_src2.png"},
        {"source": 3, "image": "train/a.png", "as": "train/a_src3.png"},
    ]
    assert opened.report.counts["merge_renamed"] == 2


def test_an_image_with_the_same_bytes_and_boxes_is_kept_once_and_reported(tmp_path: Path) -> None:
    original = make_image(tmp_path / "one" / "x.png", 40, 30, color=(10, 200, 30))
    copy = tmp_path / "two" / "y.png"
    copy.parent.mkdir()
    shutil.copyfile(original, copy)
    # Same size on disk, other bytes: uncompressed BMPs of one size differ only in their pixels.
    same_size_a = make_image(tmp_path / "one" / "s.bmp", 20, 20, color=(1, 2, 3))
    same_size_b = make_image(tmp_path / "two" / "s2.bmp", 20, 20, color=(3, 2, 1))
    assert same_size_a.stat().st_size == same_size_b.stat().st_size
    joined = JoinedSource(
        (
            source(["car", "bus"], [record("x.png", "train", [(0, 1, 2, 3, 4), (1, 5, 6, 7, 8)], original)]),
            source(
                ["BUS", "Car"],
                [record("y.png", "val", [(0, 5, 6, 7, 8), (1, 1, 2, 3, 4)], copy)],  # the same boxes, in other order
            ),
            source(
                ["car", "bus"],
                [
                    record("s.bmp", "train", [], same_size_a),
                    record("x.png", "test", [(0, 1, 2, 3, 4), (1, 5, 6, 7, 8)], original),
                ],
            ),
            source(["car"], [record("s2.bmp", "train", [], same_size_b)]),
        )
    )
    opened = joined.open()
    assert sorted(image.key for image in opened.dataset.images) == ["train/s.bmp", "train/s2.bmp", "train/x.png"]
    assert opened.notes["merge"]["duplicates"] == [
        {"image": "train/x.png", "source": 1, "duplicate": "val/y.png", "duplicate_source": 2},
        {"image": "train/x.png", "source": 1, "duplicate": "test/x.png", "duplicate_source": 3},
    ]
    assert opened.report.counts["merge_duplicates"] == 2


def test_the_same_bytes_with_other_boxes_is_an_error_naming_both_files(tmp_path: Path) -> None:
    original = make_image(tmp_path / "one" / "x.png", 40, 30)
    copy = tmp_path / "two" / "y.png"
    copy.parent.mkdir()
    shutil.copyfile(original, copy)
    parts = (
        source(["car"], [record("x.png", "train", [(0, 1, 2, 3, 4)], original)]),
        source(["car"], [record("y.png", "train", [(0, 1, 2, 3, 5)], copy), record("z.png", "train", [])]),
    )
    with pytest.raises(AnnotationError) as caught:
        JoinedSource(parts).open()
    assert str(original) in str(caught.value) and str(copy) in str(caught.value)
    assert caught.value.code == "conflicting_duplicate" and caught.value.exit_code == 1
    skipped = JoinedSource(parts, on_error="skip").open()
    assert sorted(image.key for image in skipped.dataset.images) == ["train/x.png", "train/z.png"]
    assert [problem.code for problem in skipped.report.skipped] == ["conflicting_duplicate"]


def test_images_of_one_source_are_never_compared_with_each_other(tmp_path: Path) -> None:
    original = make_image(tmp_path / "x.png", 40, 30)
    twin = tmp_path / "y.png"
    shutil.copyfile(original, twin)
    first = source(["car"], [record("x.png", "train", [(0, 1, 2, 3, 4)], original), record("y.png", "train", [], twin)])
    opened = JoinedSource((first, source(["car"], []))).open()
    assert len(opened.dataset.images) == 2 and opened.notes["merge"]["duplicates"] == []


def test_a_merge_needs_two_sources() -> None:
    with pytest.raises(UsageError, match="at least two sources"):
        JoinedSource((source(["car"], []),))
