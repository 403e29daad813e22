"""The COCO reader a batch at a time: a file cut into many small batches reads exactly as in one, the typed and
the dict decoding give the same columns, and nothing COCO -> COCO loses is lost across batches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bboxaug.core.errors import AnnotationError
from bboxaug.core.model import Dataset
from bboxaug.core.report import Report
from bboxaug.formats import coco, coco_reader
from bboxaug.io import jsonstream
from tests.conftest import GOLDEN
from tests.formats.test_coco import CORPUS_FILES


def read(src: Path, *, block: int | None = None, **options: Any) -> Dataset:
    original = jsonstream.BLOCK
    jsonstream.BLOCK = block or original
    try:
        return coco.read(src, report=options.pop("report", None) or Report(), **options)
    finally:
        jsonstream.BLOCK = original


def assert_same(first: Dataset, second: Dataset) -> None:
    assert first.classes == second.classes and first.meta == second.meta
    assert len(first.images) == len(second.images)
    for a, b in zip(first.images, second.images, strict=True):
        assert (a.key, a.width, a.height, a.source, a.source_id, dict(a.attributes)) == (
            b.key,
            b.width,
            b.height,
            b.source,
            b.source_id,
            dict(b.attributes),
        )
        np.testing.assert_array_equal(a.boxes.xyxy, b.boxes.xyxy)
        np.testing.assert_array_equal(a.boxes.labels, b.boxes.labels)
        assert {k: v.tolist() for k, v in a.boxes.columns.items()} == {
            k: v.tolist() for k, v in b.boxes.columns.items()
        }


def golden_sources() -> list[Path]:
    return sorted(path for path in (GOLDEN / "coco" / "cases").glob("*/input") if path.is_dir())


@pytest.mark.parametrize("src", golden_sources(), ids=lambda path: path.parent.name)
def test_golden_cases_read_the_same_in_tiny_batches(src: Path) -> None:
    assert_same(read(src, block=32), read(src))


@pytest.mark.parametrize("name", sorted(CORPUS_FILES))
def test_corpus_reads_the_same_in_tiny_batches(corpus: Path, name: str) -> None:
    folder = corpus / CORPUS_FILES[name][0]
    assert_same(read(folder, block=300), read(folder))


def synthetic(count: int, *, extras_every: int = 0) -> dict[str, Any]:
    images = [{"id": k + 1, "file_name": f"{k:04d}.jpg", "width": 100 + k, "height": 80} for k in range(count)]
    images[3]["flickr_url"] = "http://x/3"
    annotations = []
    for k in range(3 * count):
        entry = {
            "id": 1000 + k,
            "image_id": k % count + 1,
            "category_id": 1 + k % 2,
            "bbox": [k % 7, 2.5, 10, 20.25],
            "area": 202.5,
            "iscrowd": 0,
            "segmentation": [[k % 7, 2.5, k % 7 + 10, 2.5, k % 7 + 10, 22.75]] if k % 5 == 0 else [],
        }
        if extras_every and k % extras_every == 0:
            entry["score"] = 0.5 + k
        annotations.append(entry)
    return {
        "info": {"year": 2024, "description": "}, {"},
        "licenses": [{"id": 1, "name": "CC"}],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "scratch", "supercategory": "defect"}, {"id": 2, "name": "dent"}],
        "custom_after": {"kept": [1, 2, 3]},
    }


def test_unknown_keys_info_and_licenses_survive_coco_to_coco_across_batches(tmp_path: Path) -> None:
    document = synthetic(40, extras_every=50)  # the unknown `score` is in a few batches only
    src = tmp_path / "src" / "annotations" / "instances_train.json"
    src.parent.mkdir(parents=True)
    src.write_text(json.dumps(document), encoding="utf-8")
    dataset = read(src, block=400)
    dst = tmp_path / "dst"
    coco.write(dataset, dst, report=Report())
    back = json.loads((dst / "annotations" / "instances_train.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in back.items() if k not in ("images", "annotations")} == {
        k: v for k, v in document.items() if k not in ("images", "annotations")
    }
    assert back["images"] == document["images"]
    by_id = {entry["id"]: entry for entry in document["annotations"]}
    assert len(back["annotations"]) == len(by_id)
    for entry in back["annotations"]:
        expected = by_id[entry["id"]]
        assert entry == {**expected, "segmentation": expected["segmentation"] or []}
    assert sum("score" in entry for entry in back["annotations"]) == 3


def test_typed_and_dict_decoding_give_the_same_columns() -> None:
    annotations = synthetic(10)["annotations"]
    typed = coco_reader.decode_annotations(json.dumps(annotations).encode())
    dicts = coco_reader.annotation_dicts(annotations)
    assert typed.image_ids.dtype == dicts.image_ids.dtype == np.int64
    np.testing.assert_array_equal(typed.boxes.xyxy, dicts.boxes.xyxy)
    assert typed.category_ids.tolist() == dicts.category_ids.tolist()
    assert {k: v.tolist() for k, v in typed.boxes.columns.items()} == {
        k: v.tolist() for k, v in dicts.boxes.columns.items()
    }
    assert typed.problems == dicts.problems == {}


def test_a_bad_annotation_in_a_later_batch_names_its_place_in_the_file(tmp_path: Path) -> None:
    document = synthetic(30)
    document["annotations"][80]["bbox"] = [1, 2, -3, 4]
    src = tmp_path / "bad.json"
    src.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(AnnotationError, match=r"annotations\[80\]\.bbox"):
        read(src, block=256)
    report = Report(on_error="skip")
    dataset = read(src, block=256, report=report)
    owner = document["annotations"][80]["image_id"]
    assert [image.source_id for image in dataset.images] == [k for k in range(1, 31) if k != owner]
    assert report.counts["coco_annotations_skipped"] == 3


def test_annotations_decoded_on_workers_read_the_same_as_in_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = synthetic(60, extras_every=70)
    src = tmp_path / "big.json"
    src.write_text(json.dumps(document), encoding="utf-8")
    in_process = read(src, block=512, jobs=1)
    monkeypatch.setattr(coco_reader, "WORKERS_FROM_BYTES", 0)  # as if the file were large: 512-byte batches
    on_workers = read(src, block=512, jobs=2)
    assert_same(on_workers, in_process)
    assert len(in_process.images) == 60 and sum(len(image.boxes) for image in in_process.images) == 180


def test_annotations_of_a_file_without_categories_are_unknown_classes(tmp_path: Path) -> None:
    document = synthetic(4)
    document["categories"] = []
    src = tmp_path / "nocat.json"
    src.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(AnnotationError, match=r"category_id 1 is not declared") as error:
        read(src)
    assert error.value.field == "annotations[0].category_id"
    report = Report(on_error="skip")
    assert len(read(src, report=report).images) == 0 and report.counts["coco_annotations_skipped"] == 12


def test_an_annotation_naming_no_image_is_named_as_the_file_gives_it(tmp_path: Path) -> None:
    document = synthetic(4)
    document["annotations"][5]["image_id"] = 99
    src = tmp_path / "orphan.json"
    src.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(AnnotationError, match=r": image_id 99 names no image of this file$") as error:
        read(src)
    assert error.value.field == "annotations[5].image_id"
