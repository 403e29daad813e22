"""Filters: small boxes, negatives and empty classes, on hand-made tables and on every format's golden cases
(written through the pipeline, read back, compared box by box with what expected.json says)."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from bboxaug.commands.convert import convert
from bboxaug.core.errors import UsageError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord
from bboxaug.core.report import Report
from bboxaug.formats import FORMATS
from bboxaug.pipeline.filters import Filters, parse_negatives
from bboxaug.pipeline.source import load
from tests.formats.test_conformance import CASES, case_id, inside_with_area
from tests.pipeline.test_classes import has_images

CLASSES = (ClassInfo(None, "scratch"), ClassInfo(None, "dot"), ClassInfo(None, "crack"))


def image(name: str, boxes: list[list[float]], labels: list[int], split: str = "train") -> ImageRecord:
    return ImageRecord(name, split, 100, 100, Boxes(np.array(boxes, dtype=float).reshape(-1, 4), labels))


def small_boxes() -> Dataset:
    """Box sizes (w x h): a 10x10, a 3x20 (thin), a 20x3 (flat), a 5x5 (25 px2), an 8x8 (64 px2)."""
    return Dataset(
        CLASSES,
        [
            image("a.png", [[0, 0, 10, 10], [20, 0, 23, 20]], [0, 1]),
            image("b.png", [[0, 50, 20, 53]], [1]),
            image("c.png", [[5, 5, 10, 10], [30, 30, 38, 38]], [0, 2]),
        ],
    )


def kept(data: Dataset) -> dict[str, list[tuple[list[float], str]]]:
    names = data.class_names
    return {
        i.name: [(xyxy, names[k]) for xyxy, k in zip(i.boxes.xyxy.tolist(), i.boxes.labels, strict=True)]
        for i in data.images
    }


def test_min_box_size_drops_a_box_whose_width_or_height_is_below_it() -> None:
    report = Report()
    result = Filters(min_box_size=5).apply(small_boxes(), report)
    assert kept(result) == {
        "a.png": [([0, 0, 10, 10], "scratch")],
        "b.png": [],
        "c.png": [([5, 5, 10, 10], "scratch"), ([30, 30, 38, 38], "crack")],  # 5 is not below 5
    }
    assert report.counts["boxes_dropped:min_box_size"] == 2
    assert result.negative_count == 1  # b lost its only box and stays, as a negative


def test_min_box_area_drops_a_box_whose_area_is_below_it_counted_apart_from_min_box_size() -> None:
    report = Report()
    result = Filters(min_box_size=4, min_box_area=60).apply(small_boxes(), report)
    assert kept(result) == {
        "a.png": [([0, 0, 10, 10], "scratch")],
        "b.png": [],
        "c.png": [([30, 30, 38, 38], "crack")],
    }
    assert report.counts["boxes_dropped:min_box_size"] == 2
    assert report.counts["boxes_dropped:min_box_area"] == 1


def test_drop_empty_classes_renumbers_the_rest_and_records_the_move() -> None:
    report = Report()
    result = Filters(min_box_size=4, drop_empty_classes=True).apply(small_boxes(), report)
    assert result.class_names == ["scratch", "crack"]
    assert kept(result)["c.png"] == [([5, 5, 10, 10], "scratch"), ([30, 30, 38, 38], "crack")]
    assert [image.boxes.labels.tolist() for image in result.images] == [[0], [], [0, 1]]
    assert report.counts["classes_dropped:empty"] == 1
    assert {name: move.to for name, move in report.class_map.items()} == {
        "scratch": "scratch",
        "dot": None,
        "crack": "crack",
    }


def negatives(count: int, split: str) -> list[ImageRecord]:
    return [image(f"{split}_{k:02d}.png", [], [], split) for k in range(count)]


def many_negatives() -> Dataset:
    return Dataset(
        CLASSES,
        [image("p.png", [[0, 0, 9, 9]], [0]), *negatives(20, "train"), *negatives(7, "val")],
    )


def smallest_hashes(keys: list[str], share: float, seed: int) -> set[str]:
    """The documented choice: round(share * n) keys with the smallest blake2b of (seed, key)."""
    ranked = sorted(keys, key=lambda k: (hashlib.blake2b(f"{seed}\0{k}".encode(), digest_size=8).digest(), k))
    return set(ranked[: math.floor(share * len(keys) + 0.5)])


@pytest.mark.parametrize("seed", [0, 7])
def test_a_share_of_negatives_is_kept_per_split_chosen_by_seed_alone(seed: int) -> None:
    report = Report()
    result = Filters(negatives=0.3, seed=seed).apply(many_negatives(), report)
    names = {i.key for i in result.images}
    train = [f"train/train_{k:02d}.png" for k in range(20)]
    val = [f"val/val_{k:02d}.png" for k in range(7)]
    assert names == {"train/p.png"} | smallest_hashes(train, 0.3, seed) | smallest_hashes(val, 0.3, seed)
    assert len(names) == 1 + 6 + 2
    assert report.counts["negatives_dropped"] == 27 - 8
    shuffled = Dataset(CLASSES, list(reversed(many_negatives().images)))
    assert {i.key for i in Filters(negatives=0.3, seed=seed).apply(shuffled, Report()).images} == names


def test_negatives_drop_and_keep() -> None:
    assert [i.name for i in Filters(negatives=0.0).apply(many_negatives(), Report()).images] == ["p.png"]
    assert len(Filters(negatives=1.0).apply(many_negatives(), Report()).images) == 28


@pytest.mark.parametrize(("text", "share"), [("keep", 1.0), ("drop", 0.0), ("0.25", 0.25), ("1", 1.0), (" Drop ", 0)])
def test_negatives_take_keep_drop_or_a_share(text: str, share: float) -> None:
    assert parse_negatives(text) == share


@pytest.mark.parametrize("text", ["some", "1.5", "-0.1", "nan", ""])
def test_any_other_negatives_value_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="--negatives takes keep, drop or a share between 0 and 1"):
        parse_negatives(text)


# --- every format: the golden cases through the pipeline --------------------------------------------------


def box_sides(box: dict) -> tuple[float, float]:
    x1, y1, x2, y2 = box["xyxy"]
    return x2 - x1, y2 - y1


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_filters_on_every_format_keep_exactly_the_boxes_images_and_classes_they_should(
    case: Path, tmp_path: Path
) -> None:
    """The thresholds are the median shorter side and the median area of the case's boxes: some boxes of most
    cases fall below each. Negatives are all dropped and classes left without boxes removed."""
    fmt = case.parents[1].name
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    boxes = [(box, image) for image in expected["images"] for box in image["boxes"] if inside_with_area(box, image)]
    size = float(np.median([min(box_sides(box)) for box, _ in boxes]))
    area = float(np.median([math.prod(box_sides(box)) for box, _ in boxes]))
    out = tmp_path / "out"
    filters = Filters(min_box_size=size, min_box_area=area, negatives=0.0, drop_empty_classes=True)
    images = "copy" if has_images(case, fmt) else "none"
    result = convert(case / "input", out, to=fmt, fmt_from=fmt, images=images, filters=filters)

    def survives(box: dict) -> bool:
        return min(box_sides(box)) >= size and math.prod(box_sides(box)) >= area

    wanted = {
        (image["split"], image["name"]): [(box["xyxy"], box["label"]) for box in image["boxes"] if box in kept_boxes]
        for image in expected["images"]
        if (kept_boxes := [box for box in image["boxes"] if inside_with_area(box, image) and survives(box)])
    }
    back = load(out, fmt=fmt)
    got = {
        (i.split, i.name): list(zip(i.boxes.xyxy.tolist(), [back.class_names[k] for k in i.boxes.labels], strict=True))
        for i in back.images
    }
    assert sorted(got) == sorted(wanted)
    for key, want in wanted.items():
        assert [label for _, label in got[key]] == [label for _, label in want], key
        tolerance = FORMATS[fmt].tolerance(next(i for i in back.images if (i.split, i.name) == key))
        np.testing.assert_allclose([xyxy for xyxy, _ in got[key]], [xyxy for xyxy, _ in want], atol=tolerance)

    names = [c["name"] for c in expected["classes"]]
    used = {label for want in wanted.values() for _, label in want}
    assert back.class_names == [name for name in names if name in used]
    counts = result.report.counts
    small = [box for box, _ in boxes if min(box_sides(box)) < size]
    assert counts["boxes_dropped:min_box_size"] == len(small)
    assert counts["boxes_dropped:min_box_area"] == sum(1 for box, _ in boxes if not survives(box)) - len(small)
    assert counts["negatives_dropped"] == len(expected["images"]) - len(wanted)
    assert counts["classes_dropped:empty"] == len(names) - len(used)
    manifest = json.loads((out / "convert.json").read_text(encoding="utf-8"))
    if len(used) < len(names):
        assert [(row["name"], row["to"]) for row in manifest["class_map"]] == [
            (name, name if name in used else None) for name in names
        ]
        assert [row["output_id"] for row in manifest["class_map"] if row["to"] is not None] == [
            row["output_id"] for row in manifest["classes"]
        ]
    else:
        assert "class_map" not in manifest
