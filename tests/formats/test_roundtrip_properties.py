"""Property tests: any dataset survives a trip from any box format to any other (all 12 directions).

Datasets are drawn by hypothesis: images of random sizes in two splits, some without boxes, boxes on whole pixels
(sides of 2 px or more) anywhere inside the image (touching the borders too), classes with some unused. After
writing in format A, converting to format B and reading back: the same images, negatives, class names in order,
and every box within the looser of the two formats' tolerances. The masks format keeps pixels, not boxes
(overlapping boxes of a class become one component: formats/masks.md), so it has round trips of its own
(tests/formats/test_masks.py).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bboxaug.commands.convert import convert, save
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord
from bboxaug.formats import FORMATS
from bboxaug.pipeline.source import load
from tests.conftest import BOX_FORMATS, make_image

DIRECTIONS = list(itertools.permutations(BOX_FORMATS, 2))
CLASS_NAMES = st.lists(st.from_regex(r"[a-z][a-z0-9_-]{0,7}", fullmatch=True), min_size=1, max_size=4, unique=True)


@st.composite
def box_tables(draw: st.DrawFn, width: int, height: int, classes: int) -> tuple[list[list[int]], list[int]]:
    count = draw(st.integers(0, 4))
    boxes, labels = [], []
    for _ in range(count):
        # Sides of at least 2 px: VOC cannot hold a 1 px side (equal corners mean "no box"; formats/voc.md).
        x1 = draw(st.integers(0, width - 2))
        y1 = draw(st.integers(0, height - 2))
        x2 = draw(st.integers(x1 + 2, width))
        y2 = draw(st.integers(y1 + 2, height))
        boxes.append([x1, y1, x2, y2])
        labels.append(draw(st.integers(0, classes - 1)))
    return boxes, labels


@st.composite
def datasets(draw: st.DrawFn) -> tuple[list[str], list[dict]]:
    names = draw(CLASS_NAMES)
    images = []
    for index in range(draw(st.integers(1, 4))):
        width, height = draw(st.integers(4, 48)), draw(st.integers(4, 48))
        boxes, labels = draw(box_tables(width, height, len(names)))
        folder = draw(st.sampled_from(["", "sub/"]))
        images.append(
            {
                "name": f"{folder}img{index}.png",
                "split": draw(st.sampled_from(["train", "val"])),
                "width": width,
                "height": height,
                "boxes": boxes,
                "labels": labels,
            }
        )
    return names, images


def build(names: list[str], images: list[dict], root: Path) -> Dataset:
    records = []
    for spec in images:
        source = make_image(root / spec["split"] / spec["name"], spec["width"], spec["height"])
        boxes = Boxes(np.array(spec["boxes"], dtype=float).reshape(-1, 4), spec["labels"])
        records.append(ImageRecord(spec["name"], spec["split"], spec["width"], spec["height"], boxes, source))
    return Dataset(tuple(ClassInfo(None, name) for name in names), tuple(records))


def tolerance(fmt: str, image: ImageRecord) -> float:
    return max(FORMATS[fmt].tolerance(image), 1e-6)


@pytest.mark.parametrize(("source_format", "target_format"), DIRECTIONS, ids=lambda value: value)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=datasets())
def test_round_trip_between_formats(source_format: str, target_format: str, data: tuple, tmp_path_factory) -> None:
    names, images = data
    root = tmp_path_factory.mktemp("trip")
    original = build(names, images, root / "pixels")
    save(original, root / "a", to=source_format)
    convert(root / "a", root / "b", to=target_format, fmt_from=source_format)
    back = load(root / "b", fmt=target_format)

    assert len(back.images) == len(original.images)
    assert back.negative_count == original.negative_count
    assert back.class_names == original.class_names
    got = {(image.split, image.name): image for image in back.images}
    for image in original.images:
        written = got[(image.split, image.name)]
        assert (written.width, written.height) == (image.width, image.height)
        atol = max(tolerance(source_format, image), tolerance(target_format, image))
        assert [back.class_names[label] for label in written.boxes.labels] == [
            original.class_names[label] for label in image.boxes.labels
        ]
        np.testing.assert_allclose(written.boxes.xyxy, image.boxes.xyxy, rtol=0, atol=atol)
