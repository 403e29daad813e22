"""One conformance suite run against every registered format's golden cases (formats/<name>/cases/<case>/).

For each case: the format detects its input; reading gives the model written by hand in expected.json (every
coordinate within the format's tolerance); writing gives the golden text in output/; and saving (images included)
then reading back gives the same boxes again. A case whose expected.json names a `task` (YOLO: detect, segment)
is written for that task.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bboxaug.commands.convert import save
from bboxaug.core.model import Dataset
from bboxaug.core.report import Report
from bboxaug.formats import FORMATS, detect_format, for_task
from bboxaug.io.headers import is_image_file
from bboxaug.pipeline.source import load
from tests.conftest import GOLDEN

CASES = sorted(path for path in GOLDEN.glob("*/cases/*") if (path / "expected.json").is_file())


def case_id(path: Path) -> str:
    return f"{path.parents[1].name}/{path.name}"


def test_every_format_has_golden_cases() -> None:
    with_cases = {path.parents[1].name for path in CASES}
    assert set(FORMATS) <= with_cases, f"formats without golden cases: {set(FORMATS) - with_cases}"
    for name in FORMATS:
        assert (GOLDEN / f"{name}.md").is_file(), f"formats/{name}.md (the format's contract page) is missing"


def assert_matches_expected(dataset: Dataset, expected: dict, fmt_name: str, report: Report | None = None) -> None:
    """Compare a dataset with a hand-written expected.json: classes, images, sizes, and every box."""
    fmt = FORMATS[fmt_name]
    assert [(c.id, c.name) for c in dataset.classes] == [(c["id"], c["name"]) for c in expected["classes"]]
    got = {(image.split, image.name): image for image in dataset.images}
    want = {(image["split"], image["name"]): image for image in expected["images"]}
    assert sorted(got) == sorted(want)
    names = dataset.class_names
    for key, image_expected in want.items():
        image = got[key]
        assert (image.width, image.height) == (image_expected["width"], image_expected["height"]), key
        boxes_expected = image_expected["boxes"]
        assert len(image.boxes) == len(boxes_expected), key
        if not boxes_expected:
            continue
        tolerance = fmt.tolerance(image)
        want_xyxy = np.array([box["xyxy"] for box in boxes_expected], dtype=np.float64)
        np.testing.assert_allclose(image.boxes.xyxy, want_xyxy, rtol=0, atol=tolerance, err_msg=str(key))
        assert [names[label] for label in image.boxes.labels] == [box["label"] for box in boxes_expected], key
        for row, box in enumerate(boxes_expected):
            for column, value in box.items():
                if column == "obb":
                    got_quad = image.boxes.column(column)[row]
                    assert got_quad is not None, (key, row, column)
                    np.testing.assert_allclose(got_quad, value, rtol=0, atol=tolerance, err_msg=f"{key} {row}")
                elif column not in ("xyxy", "label", "task"):
                    assert image.boxes.column(column)[row] == value, (key, row, column)
    if report is not None:
        for counter, value in expected.get("counts", {}).items():
            assert report.counts[counter] == value, counter


def annotation_files(root: Path) -> dict[str, Path]:
    return {
        path.relative_to(root).as_posix(): path
        for path in sorted(root.rglob("*"))
        if path.is_file() and not is_image_file(path) and path.name != "convert.json"
    }


def assert_same_text(written: Path, golden: Path) -> None:
    if golden.suffix == ".json":
        assert json.loads(written.read_text(encoding="utf-8")) == json.loads(golden.read_text(encoding="utf-8")), golden
    else:
        assert written.read_text(encoding="utf-8") == golden.read_text(encoding="utf-8"), golden


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_golden_case(case: Path, tmp_path: Path) -> None:
    fmt_name = case.parents[1].name
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    source = case / "input"

    assert detect_format(source).name == fmt_name

    report = Report()
    dataset = load(source, fmt=fmt_name, report=report)
    assert_matches_expected(dataset, expected, fmt_name, report)

    if (case / "output").is_dir():
        written = tmp_path / "written"
        written.mkdir()
        for_task(FORMATS[fmt_name], expected.get("task"), dataset).write(dataset, written, report=Report())
        golden = annotation_files(case / "output")
        produced = annotation_files(written)
        assert sorted(produced) == sorted(golden)
        for relative, path in golden.items():
            assert_same_text(produced[relative], path)

    saved = tmp_path / "saved"
    save(dataset, saved, to=fmt_name, images="copy" if _has_images(dataset) else "none", task=expected.get("task"))
    assert detect_format(saved).name == fmt_name
    # Formats that number classes themselves (YOLO: positions) give the written ids back; the rest keep theirs.
    written_ids = FORMATS[fmt_name].class_ids(dataset.classes)
    after_save = {
        "classes": [
            {**c, "id": c["id"] if i is None else i} for c, i in zip(expected["classes"], written_ids, strict=True)
        ],
        "images": [
            {**image, "boxes": [box for box in image["boxes"] if inside_with_area(box, image)]}
            for image in expected["images"]
        ],
    }
    assert_matches_expected(load(saved, fmt=fmt_name), after_save, fmt_name)


def inside_with_area(box: dict, image: dict) -> bool:
    """Whether `save` keeps the box as it is: it drops boxes with no area (and would clip those outside)."""
    x1, y1, x2, y2 = box["xyxy"]
    if not (x2 > x1 and y2 > y1):
        return False
    assert x1 >= 0 and y1 >= 0 and x2 <= image["width"] and y2 <= image["height"], "golden boxes lie inside"
    return True


def _has_images(dataset: Dataset) -> bool:
    return all(image.source is not None for image in dataset.images)


def test_writers_do_not_change_their_input(tmp_path: Path) -> None:
    """A writer handed a dataset leaves every array and record as it was."""
    for case in CASES:
        fmt_name = case.parents[1].name
        dataset = load(case / "input", fmt=fmt_name)
        before = [(image.name, image.boxes.xyxy.copy(), image.boxes.labels.copy()) for image in dataset.images]
        out = tmp_path / case_id(case).replace("/", "_")
        out.mkdir()
        FORMATS[fmt_name].write(dataset, out, report=Report())
        after = [(image.name, image.boxes.xyxy, image.boxes.labels) for image in dataset.images]
        for (name_a, xyxy_a, labels_a), (name_b, xyxy_b, labels_b) in zip(before, after, strict=True):
            assert name_a == name_b
            np.testing.assert_array_equal(xyxy_a, xyxy_b)
            np.testing.assert_array_equal(labels_a, labels_b)
