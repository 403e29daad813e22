"""Class operations: renames, merges, drops and ids, on hand-made tables and on every format's golden cases
(written through the pipeline, read back, compared box by box with what expected.json says)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bboxaug.commands.convert import convert
from bboxaug.core.errors import UsageError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord
from bboxaug.core.report import Report
from bboxaug.formats import FORMATS
from bboxaug.pipeline.classes import ClassOps, read_class_map
from bboxaug.pipeline.source import load
from tests.formats.test_conformance import CASES, case_id, inside_with_area

CLASSES = (ClassInfo(1, "person"), ClassInfo(3, "car"), ClassInfo(8, "truck"), ClassInfo(9, "bike"))
#: Image a: a person, a car, a truck; image b: a truck, a bike; image c: only a person; image d: a negative.
BOXES = {
    "a.png": ([[1, 1, 5, 5], [10, 10, 20, 14], [30, 2, 38, 9]], [0, 1, 2]),
    "b.png": ([[2, 3, 9, 12], [40, 40, 44, 50]], [2, 3]),
    "c.png": ([[0, 0, 3, 7]], [0]),
    "d.png": ([], []),
}


def dataset() -> Dataset:
    images = [
        ImageRecord(name, "train", 64, 64, Boxes(np.array(xyxy, dtype=float).reshape(-1, 4), labels))
        for name, (xyxy, labels) in BOXES.items()
    ]
    return Dataset(CLASSES, images)


def boxes_by_image(data: Dataset) -> dict[str, list[tuple[list[float], str]]]:
    names = data.class_names
    return {
        image.name: [
            (xyxy, names[label]) for xyxy, label in zip(image.boxes.xyxy.tolist(), image.boxes.labels, strict=True)
        ]
        for image in data.images
    }


def test_a_merge_relabels_boxes_in_place_and_keeps_every_coordinate() -> None:
    report = Report()
    merged = ClassOps({"car": "vehicle", "truck": "vehicle"}).apply(dataset(), report)
    assert [(c.id, c.name) for c in merged.classes] == [(1, "person"), (3, "vehicle"), (9, "bike")]
    assert boxes_by_image(merged) == {
        "a.png": [([1, 1, 5, 5], "person"), ([10, 10, 20, 14], "vehicle"), ([30, 2, 38, 9], "vehicle")],
        "b.png": [([2, 3, 9, 12], "vehicle"), ([40, 40, 44, 50], "bike")],
        "c.png": [([0, 0, 3, 7], "person")],
        "d.png": [],
    }
    assert {name: (move.source_id, move.to) for name, move in report.class_map.items()} == {
        "person": (1, "person"),
        "car": (3, "vehicle"),
        "truck": (8, "vehicle"),
        "bike": (9, "bike"),
    }
    assert not report.counts


def test_a_class_merged_into_an_existing_one_keeps_that_ones_id_and_place() -> None:
    merged = ClassOps({"car": "truck"}).apply(dataset(), Report())
    assert [(c.id, c.name) for c in merged.classes] == [(1, "person"), (8, "truck"), (9, "bike")]


def test_a_drop_removes_its_boxes_counts_them_and_leaves_the_images_as_negatives() -> None:
    report = Report()
    dropped = ClassOps({"person": None}).apply(dataset(), report)
    assert dropped.class_names == ["car", "truck", "bike"]
    assert boxes_by_image(dropped) == {
        "a.png": [([10, 10, 20, 14], "car"), ([30, 2, 38, 9], "truck")],
        "b.png": [([2, 3, 9, 12], "truck"), ([40, 40, 44, 50], "bike")],
        "c.png": [],
        "d.png": [],
    }
    assert report.counts["boxes_dropped:class"] == 2
    assert dropped.negative_count == 2
    assert report.class_map["person"].to is None


def test_a_rename_keeps_the_id_the_boxes_and_the_place() -> None:
    renamed = ClassOps({"bike": "bicycle"}).apply(dataset(), Report())
    assert [(c.id, c.name) for c in renamed.classes] == [(1, "person"), (3, "car"), (8, "truck"), (9, "bicycle")]
    assert boxes_by_image(renamed)["b.png"] == [([2, 3, 9, 12], "truck"), ([40, 40, 44, 50], "bicycle")]


def test_ids_order_the_classes_and_a_merged_class_takes_the_id_its_own_entry_gives() -> None:
    ops = ClassOps({"person": 2, "car": "vehicle", "truck": "vehicle", "vehicle": 0, "bike": 1})
    result = ops.apply(dataset(), Report())
    assert [(c.id, c.name) for c in result.classes] == [(0, "vehicle"), (1, "bike"), (2, "person")]
    assert boxes_by_image(result)["a.png"] == [
        ([1, 1, 5, 5], "person"),
        ([10, 10, 20, 14], "vehicle"),
        ([30, 2, 38, 9], "vehicle"),
    ]


def test_keep_and_drop_classes_name_classes_as_the_map_leaves_them() -> None:
    report = Report()
    ops = ClassOps({"car": "vehicle", "truck": "vehicle"}, keep=("vehicle", "bike"), drop=("bike",))
    result = ops.apply(dataset(), report)
    assert result.class_names == ["vehicle"]
    assert [len(image.boxes) for image in result.images] == [2, 1, 0, 0]
    assert report.counts["boxes_dropped:class"] == 3  # two persons and a bike
    assert {name: move.to for name, move in report.class_map.items()} == {
        "person": None,
        "car": "vehicle",
        "truck": "vehicle",
        "bike": None,
    }


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        (ClassOps({"persn": None}), "class map: unknown classes persn; known: person, car, truck, bike"),
        (ClassOps({"cars": "vehicle"}), "class map: unknown classes cars; known: person, car, truck, bike"),
        (ClassOps(keep=("van",)), "--keep-classes: unknown classes van; known: person, car, truck, bike"),
        (ClassOps({"car": "vehicle"}, drop=("car",)), "--drop-classes: unknown classes car; known: person, vehicle"),
        (ClassOps({"car": 0}), "class map: classes without an id in the class map: person, truck, bike"),
    ],
)
def test_unknown_names_and_missing_ids_are_usage_errors_listing_the_classes(ops: ClassOps, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        ops.apply(dataset(), Report())
    assert str(raised.value).startswith(message) or str(raised.value) == message
    assert raised.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- car\n", "expected a mapping"),
        ("car: true\n", "True is not a class name"),
        ("car: ''\n", "an empty class name"),
        ("car: 1\ntruck: 1\n", "two classes share one id"),
        ("car: [1]\n", "[1] is not a class name"),
    ],
)
def test_a_malformed_class_map_file_is_a_usage_error_naming_it(text: str, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=re.escape(problem)) as raised:
        read_class_map(path)
    assert str(raised.value).startswith(str(path))


def test_a_json_class_map_reads_like_yaml(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"car": "vehicle", "person": None, "bike": 4}))
    assert read_class_map(path) == {"car": "vehicle", "person": None, "bike": 4}


# --- every format: the golden cases through the pipeline --------------------------------------------------


def golden_map(expected: dict) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """A class map for a case: drop the class with the most boxes, merge the next two classes into `merged` (or
    rename the one left to `renamed`); and what it makes of each class, spelt out for the test."""
    names = [c["name"] for c in expected["classes"]]
    labels = [box["label"] for image in expected["images"] for box in image["boxes"]]
    if len(names) == 1:
        return {names[0]: "renamed"}, {names[0]: "renamed"}
    most = max(names, key=labels.count)
    mapping: dict[str, str | None] = {most: None}
    rest = [name for name in names if name != most]
    mapping.update(dict.fromkeys(rest[:2], "merged") if len(rest) >= 2 else {rest[0]: "renamed"})
    return mapping, {name: mapping.get(name, name) for name in names}


def has_images(case: Path, fmt: str) -> bool:
    return all(image.source is not None for image in load(case / "input", fmt=fmt).images)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_class_operations_on_every_format_keep_each_remaining_box(case: Path, tmp_path: Path) -> None:
    fmt = case.parents[1].name
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    names = [c["name"] for c in expected["classes"]]
    mapping, becomes = golden_map(expected)
    out = tmp_path / "out"
    images = "copy" if has_images(case, fmt) else "none"
    result = convert(case / "input", out, to=fmt, fmt_from=fmt, images=images, class_map=mapping)

    wanted = {
        (image["split"], image["name"]): [
            (box["xyxy"], becomes[box["label"]])
            for box in image["boxes"]
            if inside_with_area(box, image) and becomes[box["label"]] is not None
        ]
        for image in expected["images"]
    }
    back = load(out, fmt=fmt)
    got = {
        (image.split, image.name): list(
            zip(image.boxes.xyxy.tolist(), [back.class_names[k] for k in image.boxes.labels], strict=True)
        )
        for image in back.images
    }
    assert sorted(got) == sorted(wanted)  # every image stays, those that lost every box as negatives
    for key, boxes in wanted.items():
        assert [label for _, label in got[key]] == [label for _, label in boxes], key
        if boxes:
            tolerance = FORMATS[fmt].tolerance(next(i for i in back.images if (i.split, i.name) == key))
            np.testing.assert_allclose([xyxy for xyxy, _ in got[key]], [xyxy for xyxy, _ in boxes], atol=tolerance)
    dropped = [name for name, target in becomes.items() if target is None]
    lost = sum(
        1
        for image in expected["images"]
        for box in image["boxes"]
        if inside_with_area(box, image) and box["label"] in dropped
    )
    assert result.report.counts["boxes_dropped:class"] == lost
    assert back.class_names == list(dict.fromkeys(t for t in becomes.values() if t is not None))

    manifest = json.loads((out / "convert.json").read_text(encoding="utf-8"))
    written_ids = {c.name: c.id for c in back.classes}
    source_ids = {c["name"]: c["id"] for c in expected["classes"]}
    assert manifest["class_map"] == [
        {
            "name": name,
            "source_id": source_ids[name],
            "to": becomes[name],
            "output_id": None
            if becomes[name] is None or FORMATS[fmt].class_ids(back.classes)[0] is None
            else written_ids[becomes[name]],
        }
        for name in names
    ]


def test_coco_writes_a_merged_class_with_the_id_of_the_first_class_merged(tmp_path: Path) -> None:
    """coco/basic has scratch (1), dent (3) and rust (7): dent and rust merged into `damage` give category 3,
    and scratch merged into the existing `rust` gives rust its own id 7."""
    case = next(case for case in CASES if case_id(case) == "coco/basic")
    convert(case / "input", tmp_path / "a", to="coco", images="none", class_map={"dent": "damage", "rust": "damage"})
    convert(case / "input", tmp_path / "b", to="coco", images="none", class_map={"scratch": "rust"})
    for folder, want in (("a", [(1, "scratch"), (3, "damage")]), ("b", [(3, "dent"), (7, "rust")])):
        files = sorted((tmp_path / folder / "annotations").glob("*.json"))
        for file in files:
            categories = json.loads(file.read_text())["categories"]
            assert [(c["id"], c["name"]) for c in categories] == want, (folder, file.name)
    train = json.loads((tmp_path / "a" / "annotations" / "instances_train.json").read_text())
    assert sorted(a["category_id"] for a in train["annotations"]) == [1, 1, 3, 3]


def test_a_box_whose_class_index_is_outside_the_class_list_is_refused_not_relabelled() -> None:
    bad = Dataset(CLASSES[:2], [ImageRecord("a.png", "train", 64, 64, Boxes([[1, 1, 5, 5], [2, 2, 6, 6]], [0, 3]))])
    with pytest.raises(UsageError, match="1 boxes have a class index outside the class list of 2"):
        ClassOps({"car": "vehicle"}).apply(bad, Report())


# --- real data ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "colour_of"),
    [
        ("chess_coco_test", lambda name: name.split("-")[0] if "-" in name else None),
        ("wagon_defect_coco_test", lambda name: "defect" if name in ("gunny_bag", "wire") else None),
    ],
)
def test_merging_real_coco_classes_keeps_every_box_under_the_first_merged_id(
    name: str, colour_of: Callable[[str], str | None], corpus: Path, tmp_path: Path
) -> None:
    """chess: the twelve `black-*`/`white-*` pieces merged into `black` and `white`, the two unused parent
    categories dropped; wagon: gunny bags and wires merged into `defect`, the unused parent dropped."""
    source = corpus / name / "test" / "_annotations.coco.json"
    data = json.loads(source.read_text())
    mapping = {c["name"]: colour_of(c["name"]) for c in data["categories"]}
    out = tmp_path / "out"
    result = convert(source, out, to="coco", images="none", class_map=mapping)

    first_id = {}
    for category in data["categories"]:  # in file order: the first category merged gives its id
        if mapping[category["name"]] is not None:
            first_id.setdefault(mapping[category["name"]], category["id"])
    name_of = {c["id"]: mapping[c["name"]] for c in data["categories"]}
    written = json.loads(next((out / "annotations").glob("*.json")).read_text())
    assert [(c["id"], c["name"]) for c in written["categories"]] == sorted(
        ((i, n) for n, i in first_id.items()), key=lambda pair: pair[0]
    )
    files = {image["id"]: image["file_name"] for image in data["images"]}
    wanted = sorted(
        (files[a["image_id"]], first_id[name_of[a["category_id"]]], *a["bbox"])
        for a in data["annotations"]
        if name_of[a["category_id"]] is not None
    )
    written_files = {image["id"]: image["file_name"] for image in written["images"]}
    got = sorted((written_files[a["image_id"]], a["category_id"], *a["bbox"]) for a in written["annotations"])
    assert [row[:2] for row in got] == [row[:2] for row in wanted]
    np.testing.assert_allclose([row[2:] for row in got], [row[2:] for row in wanted], atol=1e-6)
    assert len(written["images"]) == len(data["images"])
    assert result.report.counts["boxes_dropped:class"] == len(data["annotations"]) - len(wanted)


def test_keep_classes_naming_no_class_is_a_usage_error_not_an_empty_dataset() -> None:
    with pytest.raises(UsageError, match="--keep-classes names no class"):
        ClassOps.of(keep=" , ")
    assert ClassOps.of() is None
    assert ClassOps.of(keep="car, truck") == ClassOps({}, ("car", "truck"), (), "class map")
