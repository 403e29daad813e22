"""Datumaro imports bboxaug's VOC output: the outputs of convert, augment, balance and tile on the sample set,
whose class names are not VOC's 20 (Datumaro takes those only from labelmap.txt). Datumaro is a large install
bboxaug does not use, so it runs in an environment of its own: set BBOXAUG_DATUMARO_PYTHON to a Python with
datumaro installed (`python3 -m venv /tmp/dm && /tmp/dm/bin/pip install datumaro==1.13.12`); without it these
tests skip."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bboxaug
from bboxaug.pipeline.source import load
from tests.conftest import REPO

SAMPLES = REPO / "samples" / "defects"
DATUMARO_PYTHON = os.environ.get("BBOXAUG_DATUMARO_PYTHON")

pytestmark = pytest.mark.skipif(
    not DATUMARO_PYTHON, reason="set BBOXAUG_DATUMARO_PYTHON to a Python with datumaro installed to run these"
)

#: Run by Datumaro's Python: every item of a VOC detection dataset, its subset and boxes (label name and x, y, w, h
#: in continuous pixels: VOC's 1-based corners moved back by Datumaro's `voc-one-based` mode).
READ_WITH_DATUMARO = """
import json, sys
import datumaro as dm
dataset = dm.Dataset.import_from(sys.argv[1], "voc_detection", coordinate_mode="voc-one-based")
names = [label.name for label in dataset.categories()[dm.AnnotationType.label]]
items = [
    {
        "subset": item.subset,
        "id": item.id,
        "boxes": [[names[a.label], *a.get_bbox()] for a in item.annotations if a.type == dm.AnnotationType.bbox],
    }
    for item in dataset
]
print(json.dumps({"labels": names, "items": items}))
"""


def read_with_datumaro(root: Path) -> dict[str, Any]:
    done = subprocess.run(
        [str(DATUMARO_PYTHON), "-c", READ_WITH_DATUMARO, str(root)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The four commands' VOC outputs of the sample set (train split augmented, balanced or tiled)."""
    root = tmp_path_factory.mktemp("voc-outputs")
    bboxaug.convert(SAMPLES, root / "convert", to="voc")
    bboxaug.augment(SAMPLES, root / "augment", policy="light", copies=2, to="voc", jobs=2)
    bboxaug.balance.balance(SAMPLES, root / "balance", policy="light", to="voc", jobs=2)
    bboxaug.tile.tile(SAMPLES, root / "tile", size=160, to="voc", jobs=2)
    return {name: root / name for name in ("convert", "augment", "balance", "tile")}


@pytest.mark.parametrize("command", ["convert", "augment", "balance", "tile"])
def test_datumaro_imports_the_voc_output_with_the_same_images_classes_and_boxes(
    command: str, outputs: dict[str, Path]
) -> None:
    root = outputs[command]
    written = load(root, fmt="voc")
    found = read_with_datumaro(root)
    assert found["labels"] == written.class_names == (SAMPLES / "classes.txt").read_text().split()
    manifest = json.loads((root / f"{command}.json").read_text()) if command != "tile" else None
    by_split = Counter(item["subset"] for item in found["items"])
    assert by_split == Counter(image.split for image in written.images)
    if manifest is not None:
        assert by_split == {split: counts["images"] for split, counts in manifest["splits"].items()}
    boxes = {(item["subset"], item["id"]): item["boxes"] for item in found["items"]}
    assert sum(map(len, boxes.values())) == sum(len(image.boxes) for image in written.images)
    for image in written.images:
        theirs = sorted(boxes[(image.split, image.name.rsplit(".", 1)[0])])
        ours = sorted(
            [written.class_names[label], x1, y1, x2 - x1, y2 - y1]
            for label, (x1, y1, x2, y2) in zip(image.boxes.labels.tolist(), image.boxes.xyxy.tolist(), strict=True)
        )
        assert [box[0] for box in theirs] == [box[0] for box in ours], image.name
        np.testing.assert_allclose([box[1:] for box in theirs], [box[1:] for box in ours], atol=1e-9)
    if command == "augment":  # copies of train only: val is the sample's own
        assert by_split["val"] == 10 and by_split["train"] > 38
