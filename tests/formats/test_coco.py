"""The COCO adapter: box and id rules, every layout it reads, every error it reports, its writer, pycocotools,
and the real COCO data in the corpus.

Coordinates are compared with values computed here from the JSON with the stdlib (`[x, y, x + w, y + h]`), never
only counted.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bboxaug.core.errors import AnnotationError, FormatError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord
from bboxaug.core.report import Report
from bboxaug.formats import FORMATS, coco
from tests.conftest import GOLDEN, make_image

CASES = GOLDEN / "coco" / "cases"


def category(category_id: int, name: str, **extra: Any) -> dict[str, Any]:
    return {"id": category_id, "name": name, **extra}


def annotation(ann_id: int, image_id: Any, category_id: Any, bbox: Any, **extra: Any) -> dict[str, Any]:
    return {"id": ann_id, "image_id": image_id, "category_id": category_id, "bbox": bbox, **extra}


def document(images: list[Any], annotations: list[Any], categories: list[Any] | None = None, **top: Any) -> dict:
    return {
        **top,
        "images": images,
        "annotations": annotations,
        "categories": [category(1, "cat"), category(2, "dog")] if categories is None else categories,
    }


def image(image_id: Any, name: str = "", width: Any = 8, height: Any = 6, **extra: Any) -> dict[str, Any]:
    return {"id": image_id, "file_name": name or f"{image_id}.png", "width": width, "height": height, **extra}


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def read(src: Path, **options: Any) -> Dataset:
    return coco.read(src, report=options.pop("report", None) or Report(), **options)


def written(dataset: Dataset, dst: Path, report: Report | None = None) -> dict[str, dict]:
    """Write `dataset` under `dst` and return every written file, parsed, by relative path."""
    coco.write(dataset, dst, report=report or Report())
    return {
        p.relative_to(dst).as_posix(): json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(dst.rglob("*"))
        if p.is_file()
    }


def independent(path: Path) -> tuple[list[tuple[int, str]], dict[str, dict[str, Any]]]:
    """A COCO file parsed here with the stdlib: its (id, name) categories, and per file_name the size and the boxes
    as (xyxy, category name, annotation id) in file order."""
    data = json.loads(path.read_text(encoding="utf-8"))
    names = {c["id"]: c["name"] for c in data["categories"]}
    images = {i["id"]: {"name": i["file_name"], "size": (i["width"], i["height"]), "boxes": []} for i in data["images"]}
    for a in data["annotations"]:
        x, y, w, h = a["bbox"]
        images[a["image_id"]]["boxes"].append(([x, y, x + w, y + h], names[a["category_id"]], a["id"]))
    return [(c["id"], c["name"]) for c in data["categories"]], {i["name"]: i for i in images.values()}


def assert_same_as_json(dataset: Dataset, path: Path, split: str) -> None:
    categories, want = independent(path)
    assert [(c.id, c.name) for c in dataset.classes] == categories
    got = {i.name: i for i in dataset.in_split(split)}
    assert sorted(got) == sorted(want)
    for name, expected in want.items():
        record = got[name]
        assert (record.width, record.height) == expected["size"]
        assert len(record.boxes) == len(expected["boxes"])
        if expected["boxes"]:
            np.testing.assert_array_equal(record.boxes.xyxy, [box for box, _, _ in expected["boxes"]])
            assert [dataset.class_names[k] for k in record.boxes.labels] == [n for _, n, _ in expected["boxes"]]
            assert record.boxes.column("source_id").tolist() == [i for _, _, i in expected["boxes"]]


# --- pure rules -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "split"),
    [
        ("annotations/instances_train.json", "train"),
        ("annotations/instances_val2017.json", "val2017"),
        ("annotations/person_keypoints_val.json", "val"),
        ("valid/_annotations.coco.json", "valid"),
        ("annotations/test.json", "test"),
        ("instances_.json", "instances_"),
        ("labels.json", "labels"),
    ],
)
def test_split_name(path: str, split: str) -> None:
    assert coco.split_name(Path("/data") / path) == split


def test_box_sizes_give_back_short_decimal_sizes_exactly() -> None:
    rng = np.random.default_rng(7)
    xywh = np.round(rng.uniform(0, 5000, (20000, 4)), 3)
    xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    assert (xyxy[:, 2:] - xyxy[:, :2] != xywh[:, 2:]).any()  # the float noise the snap removes
    np.testing.assert_array_equal(coco.box_sizes(xyxy), xywh[:, 2:])


def test_box_sizes_do_not_round_other_values() -> None:
    rng = np.random.default_rng(8)
    corner = rng.uniform(0, 5000, (20000, 2))
    xyxy = np.concatenate([corner, corner + rng.uniform(0, 500, (20000, 2))], axis=1)
    plain = xyxy[:, 2:] - xyxy[:, :2]
    sizes = coco.box_sizes(xyxy)
    assert (np.abs(sizes - plain) <= np.spacing(xyxy[:, 2:])).all()
    assert (sizes == plain).mean() > 0.98


def test_compact_array_writes_integral_values_as_int() -> None:
    values = coco.compact_array(np.array([[12.0, 2.5], [-0.0, 1e-7]]))
    assert values == [[12, 2.5], [0, 1e-7]]
    assert [type(v) for row in values for v in row] == [int, float, int, float]


@pytest.mark.parametrize(
    ("ids", "expected", "assigned"),
    [
        ([5, 0, 9], [5, 0, 9], False),
        ([np.int64(3), 4], [3, 4], False),
        ([1, 1, 2], [1, 2, 3], True),
        ([None, None], [1, 2], True),
        ([1, "x"], [1, 2], True),
        ([True, 2], [1, 2], True),
        ([], [], False),
    ],
)
def test_assign_ids_keeps_distinct_integers_else_numbers_from_one(ids, expected, assigned) -> None:
    result, was_assigned = coco.assign_ids(ids)
    assert (result, was_assigned) == (expected, assigned)
    assert all(type(v) is int for v in result)


def test_parse_annotations_table() -> None:
    rows = [
        annotation(7, 1, 2, [1, 2, 3, 4], area=12, segmentation=[[1, 2, 4, 2, 4, 6]], iscrowd=0),
        annotation(0, 1, 1, [0.5, 0.25, 2.0, 1.0], iscrowd=1, segmentation={"size": [6, 8], "counts": "ab"}, note="x"),
    ]
    xyxy, labels, columns, problems = coco.parse_annotations(rows, {1: 0, 2: 1})
    assert problems == {}
    np.testing.assert_array_equal(xyxy, [[1, 2, 4, 6], [0.5, 0.25, 2.5, 1.25]])
    assert labels.tolist() == [1, 0]
    assert columns["iscrowd"].tolist() == [False, True]
    assert columns["area"][0] == 12 and math.isnan(columns["area"][1])
    assert columns["segmentation"].tolist() == [[[1, 2, 4, 2, 4, 6]], {"size": [6, 8], "counts": "ab"}]
    assert columns["source_id"].tolist() == [7, 0]
    assert columns["attributes"].tolist() == [None, {"note": "x"}]


def test_parse_annotations_leaves_out_columns_that_hold_only_defaults() -> None:
    rows = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "segmentation": [], "iscrowd": 0}]
    _, _, columns, problems = coco.parse_annotations(rows, {1: 0})
    assert problems == {} and columns == {}


@pytest.mark.parametrize(
    ("row", "key"),
    [
        ({"category_id": 1}, "bbox"),
        ({"category_id": 1, "bbox": [1, 2, 3]}, "bbox"),
        ({"category_id": 1, "bbox": None}, "bbox"),
        ({"category_id": 1, "bbox": [0, 0, -1, 2]}, "bbox"),
        ({"category_id": 1, "bbox": [0, 0, float("nan"), 2]}, "bbox"),
        ({"category_id": 9, "bbox": [0, 0, 1, 1]}, "category_id"),
        ({"category_id": "1", "bbox": [0, 0, 1, 1]}, "category_id"),
        ({"category_id": [1], "bbox": [0, 0, 1, 1]}, "category_id"),
        ({"category_id": 1, "bbox": [0, 0, 1, 1], "iscrowd": 2}, "iscrowd"),
        ({"category_id": 1, "bbox": [0, 0, 1, 1], "area": "big"}, "area"),
        ({"category_id": 1, "bbox": [0, 0, 1, 1], "segmentation": "poly"}, "segmentation"),
    ],
)
def test_parse_annotations_reports_each_bad_value_by_row(row: dict, key: str) -> None:
    good = {"category_id": 1, "bbox": [1, 1, 2, 2]}
    xyxy, _, _, problems = coco.parse_annotations([good, {"image_id": 1, **row}, good], {1: 0})
    assert list(problems) == [1] and problems[1][0] == key
    np.testing.assert_array_equal(xyxy[[0, 2]], [[1, 1, 3, 3], [1, 1, 3, 3]])


def test_parse_categories_keeps_order_ids_and_extra_keys() -> None:
    classes = coco.parse_categories([category(4, "b", supercategory="x", keypoints=[]), category(0, "a")], file="f")
    assert [(c.id, c.name, dict(c.attributes)) for c in classes] == [
        (4, "b", {"supercategory": "x", "keypoints": []}),
        (0, "a", {}),
    ]


@pytest.mark.parametrize(
    ("entries", "field"),
    [
        ([category(1, "a"), category(1, "b")], "categories[1].id"),
        ([{"id": "1", "name": "a"}], "categories[0].id"),
        ([{"id": [1], "name": "a"}], "categories[0].id"),
        ([{"id": 1}], "categories[0].name"),
        (["a"], "categories[0]"),
    ],
)
def test_parse_categories_errors(entries: list, field: str) -> None:
    with pytest.raises(FormatError) as error:
        coco.parse_categories(entries, file="x.json")
    assert error.value.field == field and error.value.file == "x.json"


def test_merge_classes_by_id_in_first_seen_order() -> None:
    first = [ClassInfo(1, "a"), ClassInfo(3, "c")]
    assert coco.merge_classes(first, [ClassInfo(1, "a"), ClassInfo(3, "c")]) == (first, None)
    merged, message = coco.merge_classes(first, [ClassInfo(2, "b"), ClassInfo(3, "see"), ClassInfo(1, "a")])
    assert [(c.id, c.name) for c in merged] == [(1, "a"), (3, "c"), (2, "b")]
    assert "added ids [2]" in message and "3 ('see' here, 'c' kept)" in message


# --- detection and layouts ------------------------------------------------------------------------------------


def test_detect_files(tmp_path: Path) -> None:
    assert coco.detect(write_json(tmp_path / "a.json", document([image(1)], [])))
    assert not coco.detect(write_json(tmp_path / "labelme.json", {"shapes": [], "imagePath": "images/a.png"}))
    assert not coco.detect(write_json(tmp_path / "list.json", [{"images": []}]))
    (tmp_path / "broken.json").write_text("not json {", encoding="utf-8")
    assert not coco.detect(tmp_path / "broken.json")
    assert not coco.detect(tmp_path / "missing.json")


def test_detect_large_file_by_its_head_or_tail(tmp_path: Path) -> None:
    big = {"info": {"notes": "x" * 200_000}, "images": [], "annotations": []}
    assert coco.detect(write_json(tmp_path / "keys_at_end.json", big))
    assert not coco.detect(write_json(tmp_path / "other.json", {"notes": "x" * 200_000, "rows": []}))


@pytest.mark.parametrize("layout", ["annotations", "roboflow", "split_folder", "loose"])
def test_folder_layouts_are_detected_and_read(tmp_path: Path, layout: str) -> None:
    data = document([image(0, "a.png")], [annotation(0, 0, 1, [1, 1, 2, 2])])
    file = {
        "annotations": "annotations/instances_train.json",
        "roboflow": "train/_annotations.coco.json",
        "split_folder": "train/_annotations.coco.json",
        "loose": "train.json",
    }[layout]
    write_json(tmp_path / file, data)
    make_image(
        tmp_path
        / ("images/train/a.png" if layout == "annotations" else "train/a.png" if layout != "loose" else "a.png"),
        8,
        6,
    )
    src = tmp_path / "train" if layout == "split_folder" else tmp_path
    assert coco.detect(src)
    dataset = read(src)
    assert [(i.split, i.name) for i in dataset.images] == [("train", "a.png")]
    assert dataset.images[0].source is not None and dataset.images[0].source.is_file()
    np.testing.assert_array_equal(dataset.images[0].boxes.xyxy, [[1, 1, 3, 3]])


def test_folders_without_coco_files(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"shapes": [], "imagePath": "a.png"})
    assert not coco.detect(tmp_path)
    with pytest.raises(FormatError, match="no COCO file found"):
        read(tmp_path)
    with pytest.raises(FormatError, match="no such file"):
        read(tmp_path / "absent")


def test_instances_files_win_over_other_tasks_in_annotations(tmp_path: Path) -> None:
    write_json(tmp_path / "annotations/instances_val.json", document([image(1)], []))
    write_json(tmp_path / "annotations/captions_val.json", {"images": [image(1)], "annotations": [{"caption": "x"}]})
    assert [i.split for i in read(tmp_path).images] == ["val"]


@pytest.mark.parametrize("folder", ["images/val", "val", "val2017", "images", "annotations"])
def test_image_folders_of_the_coco_layout(tmp_path: Path, folder: str) -> None:
    write_json(tmp_path / "annotations/instances_val.json", document([image(1, "a.png", None, None)], []))
    make_image(tmp_path / folder / "a.png", 5, 4)
    record = read(tmp_path).images[0]
    assert record.source == tmp_path / folder / "a.png" and (record.width, record.height) == (5, 4)


def test_image_dir_overrides_the_layout(tmp_path: Path) -> None:
    write_json(tmp_path / "annotations/instances_val.json", document([image(1, "a.png")], []))
    make_image(tmp_path / "images/val/a.png", 8, 6)
    make_image(tmp_path / "elsewhere/val/a.png", 8, 6)
    assert read(tmp_path, image_dir=tmp_path / "elsewhere").images[0].source == tmp_path / "elsewhere/val/a.png"


def test_missing_image_files_are_fine_when_sizes_are_declared(tmp_path: Path) -> None:
    record = read(write_json(tmp_path / "x.json", document([image(1, "gone.png", 640, 480)], []))).images[0]
    assert record.source is None and (record.width, record.height) == (640, 480)


def test_two_files_of_one_split_are_refused(tmp_path: Path) -> None:
    write_json(tmp_path / "annotations/train.json", document([image(1)], []))
    write_json(tmp_path / "annotations/person_keypoints_train.json", document([image(1)], []))
    with pytest.raises(FormatError, match="both hold split 'train'"):
        read(tmp_path)


# --- reading rules and errors ---------------------------------------------------------------------------------


def test_images_keep_ids_extra_keys_and_negatives(tmp_path: Path) -> None:
    data = document(
        [image(0, "a.png", license=2, extra={"name": "orig.jpg"}), image(1, "b.png")],
        [annotation(0, 0, 2, [1, 2, 3, 4])],
        info={"year": 2024},
        licenses=[],
        custom=[1],
    )
    dataset = read(write_json(tmp_path / "annotations/instances_train.json", data))
    a, b = dataset.images
    assert (a.source_id, dict(a.attributes)) == (0, {"license": 2, "extra": {"name": "orig.jpg"}})
    assert (b.source_id, len(b.boxes)) == (1, 0)
    assert dataset.meta["coco"] == {"train": {"info": {"year": 2024}, "licenses": [], "custom": [1]}}


def test_boxes_are_grouped_by_image_in_file_order(tmp_path: Path) -> None:
    data = document(
        [image(5), image(3)],
        [annotation(1, 3, 1, [0, 0, 1, 1]), annotation(2, 5, 2, [1, 1, 1, 1]), annotation(3, 3, 2, [2, 2, 1, 1])],
    )
    first, second = read(write_json(tmp_path / "d.json", data)).images
    assert first.boxes.column("source_id").tolist() == [2]
    assert second.boxes.column("source_id").tolist() == [1, 3]
    np.testing.assert_array_equal(second.boxes.xyxy, [[0, 0, 1, 1], [2, 2, 3, 3]])


def test_categories_of_split_files_merge_by_id_with_a_warning(tmp_path: Path) -> None:
    write_json(
        tmp_path / "annotations/instances_a.json",
        document([image(1)], [annotation(1, 1, 2, [0, 0, 1, 1])], [category(1, "cat"), category(2, "dog")]),
    )
    write_json(
        tmp_path / "annotations/instances_b.json",
        document(
            [image(1)],
            [annotation(1, 1, 7, [0, 0, 1, 1]), annotation(2, 1, 1, [0, 0, 1, 1])],
            [category(7, "cow"), category(1, "cat")],
        ),
    )
    report = Report()
    dataset = read(tmp_path, report=report)
    assert [(c.id, c.name) for c in dataset.classes] == [(1, "cat"), (2, "dog"), (7, "cow")]
    assert [[dataset.class_names[k] for k in i.boxes.labels] for i in dataset.images] == [["dog"], ["cow", "cat"]]
    assert len(report.warnings) == 1 and report.warnings[0].field == "categories"
    assert report.warnings[0].file.endswith("instances_b.json")


@pytest.mark.parametrize(
    ("images", "annotations", "field"),
    [
        ([image(1), image(1)], [], "images[1].id"),
        ([image(1), image(None)], [], "images[1].id"),
        ([image(1), "a.png"], [], "images[1]"),
        ([image(1, width=None)], [], "images[0].width"),
        ([image(1, height=0)], [], "images[0].height"),
        ([image(1, width=7.5)], [], "images[0].width"),
        ([image(1, "../up.png")], [], "images[0].file_name"),
        ([image(1, "/abs.png")], [], "images[0].file_name"),
        ([{"id": 1, "width": 8, "height": 6}], [], "images[0].file_name"),
        ([image(1, ".")], [], "images[0].file_name"),
        (
            [image(1)],
            [annotation(1, 1, 1, [0, 0, 1, 1]), annotation(2, 99, 1, [0, 0, 1, 1])],
            "annotations[1].image_id",
        ),
        ([image(1)], [annotation(1, 1, 1, [0, 0, 1, 1]), {"bbox": [0, 0, 1, 1]}], "annotations[1].image_id"),
        ([image(1)], [annotation(1, 1, 1, [0, 0, 1, 1]), [1, 2]], "annotations[1].image_id"),
        (
            [image(1)],
            [annotation(1, 1, 1, [0, 0, 1, 1]), annotation(2, 1, 5, [0, 0, 1, 1])],
            "annotations[1].category_id",
        ),
        ([image(1)], [annotation(1, 1, 1, [0, 0, 1, 1]), annotation(2, 1, 1, [0, 0, 1])], "annotations[1].bbox"),
    ],
)
def test_errors_name_the_file_and_field(tmp_path: Path, images: list, annotations: list, field: str) -> None:
    path = write_json(tmp_path / "bad.json", document(images, annotations))
    with pytest.raises(AnnotationError) as error:
        read(path)
    assert (error.value.file, error.value.field) == (str(path), field)


def test_skip_policy_leaves_out_the_bad_image_only(tmp_path: Path) -> None:
    data = document(
        [image(1, "a.png"), image(2, "b.png"), image(3, "c.png"), image(3, "d.png")],
        [
            annotation(1, 1, 1, [0, 0, 1, 1]),
            annotation(2, 2, 1, [0, 0, 1, 1]),
            annotation(3, 2, 9, [0, 0, 1, 1]),
            annotation(4, 77, 1, [0, 0, 1, 1]),
        ],
    )
    report = Report(on_error="skip")
    dataset = read(write_json(tmp_path / "d.json", data), report=report)
    assert [(i.name, len(i.boxes)) for i in dataset.images] == [("a.png", 1), ("c.png", 0)]
    assert [p.field for p in report.skipped] == [
        "images[3].id",
        "annotations[3].image_id",
        "annotations[2].category_id",
    ]
    assert report.counts["skipped_items"] == 3 and report.counts["coco_annotations_skipped"] == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[]", "not a COCO file"),
        ('{"annotations": []}', "not a COCO file"),
        ('{"images": [], "annotations": {}}', "expected a list"),
        ('{"images": [], "annotations": [{"caption": "hi", "image_id": 1}]}', "not COCO detection"),
    ],
)
def test_file_errors_are_format_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FormatError, match=message) as error:
        read(path)
    assert error.value.file == str(path)


def test_a_bad_file_is_skipped_under_skip(tmp_path: Path) -> None:
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations/instances_a.json").write_text("{", encoding="utf-8")
    write_json(tmp_path / "annotations/instances_b.json", document([image(1)], []))
    report = Report(on_error="skip")
    dataset = read(tmp_path, report=report)
    assert [i.split for i in dataset.images] == ["b"] and report.counts["skipped_items"] == 1


# --- writing --------------------------------------------------------------------------------------------------


def foreign_dataset() -> Dataset:
    """A dataset as another format reads it: no ids, no COCO columns, attributes of its own."""
    boxes = Boxes(
        np.array([[1.0, 2.0, 4.0, 6.0], [0.5, 0.5, 2.25, 1.5]]),
        np.array([1, 0]),
        {"difficult": [False, True], "attributes": [{"pose": "Left"}, None]},
    )
    return Dataset(
        (ClassInfo(None, "cat"), ClassInfo(None, "dog")),
        (
            ImageRecord("a.jpg", "train", 10, 8, boxes, attributes={"folder": "VOC"}),
            ImageRecord("sub/b.jpg", "train", 10, 8),
            ImageRecord("c.jpg", "val", 4, 4),
        ),
    )


def test_write_numbers_what_has_no_ids_and_writes_a_minimal_info(tmp_path: Path) -> None:
    report = Report()
    files = written(foreign_dataset(), tmp_path, report)
    assert sorted(files) == ["annotations/instances_train.json", "annotations/instances_val.json"]
    train = files["annotations/instances_train.json"]
    assert train == {
        "info": {"description": "written by bboxaug"},
        "images": [
            {"id": 1, "file_name": "a.jpg", "width": 10, "height": 8},
            {"id": 2, "file_name": "sub/b.jpg", "width": 10, "height": 8},
        ],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 2,
                "bbox": [1, 2, 3, 4],
                "area": 12,
                "segmentation": [],
                "iscrowd": 0,
            },
            {
                "id": 2,
                "image_id": 1,
                "category_id": 1,
                "bbox": [0.5, 0.5, 1.75, 1],
                "area": 1.75,
                "segmentation": [],
                "iscrowd": 0,
            },
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }
    assert files["annotations/instances_val.json"]["annotations"] == []
    assert report.counts == {
        "coco_category_ids_assigned": 2,
        "coco_image_ids_assigned": 3,
        "coco_annotation_ids_assigned": 2,
    }
    assert coco.FORMAT.class_ids(foreign_dataset().classes) == [1, 2]


def test_write_keeps_integer_class_ids_and_renumbers_duplicate_image_ids(tmp_path: Path) -> None:
    boxes = Boxes(np.array([[0.0, 0.0, 2.0, 2.0]]), np.array([1]), {"source_id": [5]})
    dataset = Dataset(
        (ClassInfo(0, "a"), ClassInfo(1, "b")),
        (ImageRecord("x.png", "s", 4, 4, boxes, source_id=3), ImageRecord("y.png", "s", 4, 4, boxes, source_id=3)),
    )
    out = written(dataset, tmp_path)["annotations/instances_s.json"]
    assert [c["id"] for c in out["categories"]] == [0, 1]
    assert [i["id"] for i in out["images"]] == [1, 2]
    assert [(a["id"], a["image_id"], a["category_id"]) for a in out["annotations"]] == [(1, 1, 1), (2, 2, 1)]


def test_write_area_policy_and_numpy_values(tmp_path: Path) -> None:
    boxes = Boxes(
        np.array([[0.0, 0.0, 3.0, 2.0], [1.0, 1.0, 2.0, 2.0]]),
        np.array([0, 0]),
        {
            "area": [99.5, float("nan")],
            "segmentation": [np.array([[0.0, 0.0, 3.0, 0.0, 3.0, 2.0]]), None],
            "attributes": [{"score": np.float32(0.5)}, None],
        },
    )
    dataset = Dataset((ClassInfo(1, "a"),), (ImageRecord("x.png", "s", 4, 4, boxes),), {"coco": {}})
    out = written(dataset, tmp_path)["annotations/instances_s.json"]
    assert [a["area"] for a in out["annotations"]] == [99.5, 1]
    assert out["annotations"][0]["segmentation"] == [[0, 0, 3, 0, 3, 2]]
    assert out["annotations"][0]["score"] == 0.5 and "score" not in out["annotations"][1]


def test_write_never_lets_extra_keys_override_coco_keys(tmp_path: Path) -> None:
    boxes = Boxes(np.array([[0.0, 0.0, 3.0, 2.0]]), np.array([0]), {"attributes": [{"bbox": "x", "ok": 1}]})
    dataset = Dataset(
        (ClassInfo(1, "a", {"id": 9, "supercategory": "s"}),),
        (ImageRecord("x.png", "s", 4, 4, boxes, attributes={"width": 1, "license": 3}),),
        {"coco": {"s": {"images": "stale", "info": {}}}},
    )
    out = written(dataset, tmp_path)["annotations/instances_s.json"]
    assert out["categories"] == [{"id": 1, "name": "a", "supercategory": "s"}]
    assert out["images"] == [{"id": 1, "file_name": "x.png", "width": 4, "height": 4, "license": 3}]
    assert out["annotations"][0]["bbox"] == [0, 0, 3, 2] and out["annotations"][0]["ok"] == 1
    assert list(out) == ["info", "images", "annotations", "categories"]


def test_write_is_deterministic_and_leaves_its_input_alone(tmp_path: Path) -> None:
    dataset = read(CASES / "basic" / "input")
    before = copy.deepcopy(
        [(dict(i.attributes), {k: list(v) for k, v in i.boxes.columns.items()}) for i in dataset.images]
    )
    meta = copy.deepcopy(dict(dataset.meta))
    coco.write(dataset, tmp_path / "one", report=Report())
    coco.write(dataset, tmp_path / "two", report=Report())
    for name in ("instances_train.json", "instances_val.json"):
        assert (tmp_path / "one/annotations" / name).read_bytes() == (tmp_path / "two/annotations" / name).read_bytes()
    assert [(dict(i.attributes), {k: list(v) for k, v in i.boxes.columns.items()}) for i in dataset.images] == before
    assert dict(dataset.meta) == meta


def test_format_record() -> None:
    fmt = FORMATS["coco"]
    assert fmt is coco.FORMAT and fmt.keeps_crowd
    assert fmt.image_path("val", "sub/a.png") == "images/val/sub/a.png"
    assert fmt.annotation_key("val", "sub/a.png") == "val/sub/a.png"
    assert fmt.tolerance(ImageRecord("a", "s", 1, 1)) == 1e-6


# --- golden cases and pycocotools -----------------------------------------------------------------------------


def test_basic_case_reads_like_the_json_and_writes_it_back(tmp_path: Path) -> None:
    source = CASES / "basic" / "input" / "annotations"
    dataset = read(CASES / "basic" / "input")
    for split in ("train", "val"):
        assert_same_as_json(dataset, source / f"instances_{split}.json", split)
    files = written(dataset, tmp_path)
    for split in ("train", "val"):
        assert files[f"annotations/instances_{split}.json"] == json.loads(
            (source / f"instances_{split}.json").read_text(encoding="utf-8")
        )


def test_pycocotools_reads_what_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pycocotools.coco import COCO

    coco.write(read(CASES / "basic" / "input"), tmp_path / "basic", report=Report())
    coco.write(foreign_dataset(), tmp_path / "foreign", report=Report())
    api = COCO(str(tmp_path / "basic/annotations/instances_train.json"))
    assert sorted(api.getImgIds()) == [10, 11, 12] and api.getCatIds() == [1, 3, 7]
    assert api.getAnnIds(imgIds=[12]) == [] and api.getAnnIds(imgIds=[11], iscrowd=True) == [102]
    crowd = api.loadAnns([102])[0]
    mask = api.annToMask(crowd)
    assert mask.shape == (6, 8) and mask.sum() == crowd["area"] == 24 and mask[:3].all()
    assert int(api.annToMask(api.loadAnns([101])[0]).sum()) > 0
    foreign = COCO(str(tmp_path / "foreign/annotations/instances_train.json"))
    assert foreign.getAnnIds(imgIds=[1]) == [1, 2] and foreign.loadCats([2])[0]["name"] == "dog"
    assert "index created" in capsys.readouterr().out


# --- the real corpus ------------------------------------------------------------------------------------------

CORPUS_FILES = {
    "chess": ("chess_coco_test/test", {"test": "chess_coco_test/test/_annotations.coco.json"}),
    "wagon": ("wagon_defect_coco_test", {"test": "wagon_defect_coco_test/annotations/test.json"}),
    "datumaro": (
        "datumaro_assets/tests/assets/coco_dataset/coco",
        {s: f"datumaro_assets/tests/assets/coco_dataset/coco/annotations/instances_{s}.json" for s in ("train", "val")},
    ),
    "datumaro_roboflow": (
        "datumaro_assets/tests/assets/coco_dataset/coco_roboflow",
        {
            s: f"datumaro_assets/tests/assets/coco_dataset/coco_roboflow/{s}/_annotations.coco.json"
            for s in ("train", "val")
        },
    ),
    "datumaro_mmdet": (
        "datumaro_assets/tests/assets/coco_dataset/mmdet_coco",
        {
            s: f"datumaro_assets/tests/assets/coco_dataset/mmdet_coco/annotations/instances_{s}.json"
            for s in ("train", "val")
        },
    ),
    "datumaro_keypoints": (
        "datumaro_assets/tests/assets/coco_dataset/coco_person_keypoints",
        {
            s: f"datumaro_assets/tests/assets/coco_dataset/coco_person_keypoints/annotations/person_keypoints_{s}.json"
            for s in ("train", "val")
        },
    ),
    "datumaro_stuff": (
        "datumaro_assets/tests/assets/coco_dataset/coco_stuff",
        {
            s: f"datumaro_assets/tests/assets/coco_dataset/coco_stuff/annotations/stuff_{s}.json"
            for s in ("train", "val")
        },
    ),
}


@pytest.mark.parametrize("name", sorted(CORPUS_FILES))
def test_corpus_reads_like_an_independent_parse(corpus: Path, name: str) -> None:
    folder, files = CORPUS_FILES[name]
    assert coco.detect(corpus / folder)
    report = Report()
    dataset = read(corpus / folder, report=report)
    assert dataset.splits == list(files)
    for split, file in files.items():
        assert_same_as_json(dataset, corpus / file, split)
    assert report.skipped == [] and report.warnings == []
    assert all(i.source is not None for i in dataset.images)


def test_corpus_traps(corpus: Path) -> None:
    chess = read(corpus / "chess_coco_test/test")
    assert (chess.classes[0].id, chess.classes[0].name) == (0, "pieces")
    used = {chess.class_names[k] for i in chess.images for k in i.boxes.labels}
    assert {"pieces", "bishop"}.isdisjoint(used) and len(chess.classes) == 14
    assert chess.negative_count == 1 and chess.images[0].source_id == 0 and chess.box_count == 376
    assert dict(chess.classes[1].attributes) == {"supercategory": "pieces"}
    wagon = read(corpus / "wagon_defect_coco_test")
    first = json.loads((corpus / CORPUS_FILES["wagon"][1]["test"]).read_text(encoding="utf-8"))
    assert dict(wagon.images[0].attributes)["extra"] == first["images"][0]["extra"]
    assert wagon.images[0].boxes.column("segmentation")[0] == first["annotations"][0]["segmentation"]
    assert wagon.images[0].boxes.xyxy[0].tolist() == [557, 352, 557 + 27.534, 352 + 107.725]
    rle = read(corpus / CORPUS_FILES["datumaro"][0]).in_split("val")[0].boxes
    assert rle.column("segmentation")[1] == {"counts": [0, 20, 30], "size": [10, 5]}
    assert rle.column("iscrowd").tolist() == [False, True]
    assert rle.column("attributes")[0] == {"attributes": {"x": 1, "y": "hello"}}


@pytest.mark.parametrize("name", ["chess", "wagon", "datumaro", "datumaro_keypoints", "datumaro_stuff"])
def test_corpus_round_trip_gives_the_files_back(
    corpus: Path, name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pycocotools.coco import COCO

    folder, files = CORPUS_FILES[name]
    out = written(read(corpus / folder), tmp_path)
    for split, file in files.items():
        original = json.loads((corpus / file).read_text(encoding="utf-8"))
        copy_ = out[f"annotations/instances_{split}.json"]
        assert {k: v for k, v in copy_.items() if k != "annotations"} == {
            k: v for k, v in original.items() if k != "annotations"
        }
        assert sorted(copy_["annotations"], key=lambda a: a["id"]) == sorted(
            original["annotations"], key=lambda a: a["id"]
        )
        api = COCO(str(tmp_path / f"annotations/instances_{split}.json"))
        assert len(api.getAnnIds()) == len(original["annotations"])
    capsys.readouterr()


@pytest.mark.parametrize("task", ["coco_captions", "coco_labels", "coco_panoptic"])
def test_corpus_files_without_boxes_fail_clearly(corpus: Path, task: str) -> None:
    with pytest.raises(FormatError, match="not COCO detection") as error:
        read(corpus / "datumaro_assets/tests/assets/coco_dataset" / task)
    assert error.value.file.endswith(".json") and task in error.value.file


def test_corpus_image_info_files_read_as_negatives(corpus: Path) -> None:
    dataset = read(corpus / "datumaro_assets/tests/assets/coco_dataset/coco_image_info")
    assert [(i.split, i.name, len(i.boxes)) for i in dataset.images] == [("train", "a.jpg", 0), ("val", "b.jpg", 0)]


def test_annotations_written_in_chunks_are_one_valid_document(tmp_path: Path, monkeypatch) -> None:
    """Splits larger than one chunk, with chunks of negatives only, come out as a single well-formed file
    whose annotations are every box, in order, numbered once, each on its own image."""
    monkeypatch.setattr(coco, "ANNOTATION_CHUNK", 3)
    rng = np.random.default_rng(0)
    images = []
    for index in range(11):
        count = 0 if index in (3, 4, 5, 9) else int(rng.integers(1, 4))
        corner = rng.uniform(0, 50, (count, 2))
        xyxy = np.concatenate([corner, corner + rng.uniform(1, 20, (count, 2))], axis=1)
        images.append(ImageRecord(f"i{index}.png", "train", 80, 80, Boxes(xyxy, [0] * count)))
    coco.write(Dataset((ClassInfo(7, "dent"),), tuple(images)), tmp_path, report=Report())
    document = json.loads((tmp_path / "annotations" / "instances_train.json").read_text())
    assert [a["id"] for a in document["annotations"]] == list(range(1, sum(len(i.boxes) for i in images) + 1))
    by_image = {entry["id"]: entry["file_name"] for entry in document["images"]}
    expected = [(image.name, [x1, y1, x2 - x1, y2 - y1]) for image in images for x1, y1, x2, y2 in image.boxes.xyxy]
    got = [(by_image[a["image_id"]], a["bbox"]) for a in document["annotations"]]
    assert [name for name, _ in got] == [name for name, _ in expected]
    np.testing.assert_allclose([box for _, box in got], [box for _, box in expected], atol=1e-9)
    assert document["categories"] == [{"id": 7, "name": "dent"}]
