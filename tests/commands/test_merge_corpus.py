"""Merging two labelling batches of real data, in two formats: BCCD's train and val splits as Pascal VOC, and its
val and test splits as COCO with the classes spelled otherwise (`rbc`, ` wbc`, `PLATELETS `) and listed in another
order. The val images are in both batches with the same bytes and boxes. Every expected figure is computed here
from the batches' files with the standard library; the COCO output is read by pycocotools."""

from __future__ import annotations

import hashlib
import json
import os
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path

import pytest
from pycocotools.coco import COCO

from bboxaug.commands.merge import merge

Truth = dict[str, list[tuple[str, list[float]]]]  # split/file name -> (class, [x1, y1, x2, y2]) per box

#: How the second batch spells BCCD's classes, in its own category order.
SECOND_SPELLING = {"Platelets": "PLATELETS ", "WBC": " wbc", "RBC": "rbc"}


def voc_boxes(xml_file: Path) -> list[tuple[str, list[float]]]:
    """A VOC file's objects in model coordinates: 1-based inclusive corners moved to continuous pixels, equal
    corners kept as a box of no extent (formats/voc.md)."""
    boxes = []
    for element in ElementTree.parse(xml_file).getroot().iter("object"):
        xmin, ymin, xmax, ymax = (float(element.findtext(f"bndbox/{tag}")) for tag in ("xmin", "ymin", "xmax", "ymax"))
        x1 = xmin - 1 if xmax > xmin else xmax
        y1 = ymin - 1 if ymax > ymin else ymax
        boxes.append((element.findtext("name"), [x1, y1, xmax, ymax]))
    return boxes


def split_ids(bccd: Path, split: str) -> list[str]:
    return (bccd / "ImageSets" / "Main" / f"{split}.txt").read_text().split()


def first_batch(bccd: Path, root: Path) -> Truth:
    """BCCD's train and val splits as a VOC folder (files linked, not copied)."""
    truth: Truth = {}
    for folder in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / folder).mkdir(parents=True)
    for split in ("train", "val"):
        ids = split_ids(bccd, split)
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(ids) + "\n")
        for image_id in ids:
            os.symlink(bccd / "Annotations" / f"{image_id}.xml", root / "Annotations" / f"{image_id}.xml")
            os.symlink(bccd / "JPEGImages" / f"{image_id}.jpg", root / "JPEGImages" / f"{image_id}.jpg")
            truth[f"{split}/{image_id}.jpg"] = voc_boxes(bccd / "Annotations" / f"{image_id}.xml")
    return truth


def second_batch(bccd: Path, root: Path) -> Truth:
    """BCCD's val and test splits as COCO (`annotations/instances_<split>.json`, `images/<split>/`), written here
    from the VOC files with the classes respelled."""
    categories = [{"id": k, "name": name} for k, name in enumerate(SECOND_SPELLING.values(), 1)]
    category_of = {original: k for k, original in enumerate(SECOND_SPELLING, 1)}
    truth: Truth = {}
    for split in ("val", "test"):
        images, annotations = [], []
        (root / "images" / split).mkdir(parents=True)
        for image_id, name in enumerate(split_ids(bccd, split), 1):
            xml = ElementTree.parse(bccd / "Annotations" / f"{name}.xml").getroot()
            width, height = int(xml.findtext("size/width")), int(xml.findtext("size/height"))
            images.append({"id": image_id, "file_name": f"{name}.jpg", "width": width, "height": height})
            os.symlink(bccd / "JPEGImages" / f"{name}.jpg", root / "images" / split / f"{name}.jpg")
            boxes = voc_boxes(bccd / "Annotations" / f"{name}.xml")
            truth[f"{split}/{name}.jpg"] = boxes
            for label, (x1, y1, x2, y2) in boxes:
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": category_of[label],
                        "bbox": [x1, y1, x2 - x1, y2 - y1],
                        "area": (x2 - x1) * (y2 - y1),
                        "iscrowd": 0,
                    }
                )
        (root / "annotations").mkdir(exist_ok=True)
        document = {"images": images, "annotations": annotations, "categories": categories}
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(document))
    return truth


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def has_area(box: list[float]) -> bool:
    return box[2] > box[0] and box[3] > box[1]


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from tests.conftest import CORPUS

    if not CORPUS.is_dir():
        pytest.skip(f"real corpus not found at {CORPUS}")
    bccd = CORPUS / "bccd_voc" / "BCCD"
    root = tmp_path_factory.mktemp("merge")
    first, second = first_batch(bccd, root / "first"), second_batch(bccd, root / "second")
    result = merge([root / "first", root / "second"], root / "out", to="coco", images="symlink", jobs=2)
    return {"root": root, "first": first, "second": second, "result": result}


def test_the_shared_images_are_found_by_their_bytes_and_written_once(merged: dict) -> None:
    root, first, second = merged["root"], merged["first"], merged["second"]
    first_digests = {digest(root / "first" / "JPEGImages" / key.split("/")[1]): key for key in first}
    shared = {
        key: first_digests[d] for key in second if (d := digest(root / "second" / "images" / key)) in first_digests
    }
    assert len(shared) == 87  # BCCD's val split
    record = merged["result"].record
    assert {(d["duplicate"], d["image"]) for d in record["duplicates"]} == set(shared.items())
    assert all(d["source"] == 1 and d["duplicate_source"] == 2 for d in record["duplicates"])
    assert merged["result"].report.counts["merge_duplicates"] == 87
    assert record["renamed"] == []


def test_counts_add_up_per_split_and_per_class(merged: dict) -> None:
    first, second, result = merged["first"], merged["second"], merged["result"]
    shared = {d["duplicate"] for d in result.record["duplicates"]}
    expected = {**first, **{key: boxes for key, boxes in second.items() if key not in shared}}
    assert len(result.dataset.images) == len(first) + len(second) - len(shared) == 364
    per_split = Counter(image.split for image in result.dataset.images)
    assert per_split == Counter(key.split("/")[0] for key in expected) == {"train": 205, "val": 87, "test": 72}
    per_class = Counter(label for boxes in expected.values() for label, box in boxes if has_area(box))
    names = result.dataset.class_names
    assert Counter(names[label] for image in result.dataset.images for label in image.boxes.labels) == per_class
    degenerate = sum(not has_area(box) for boxes in expected.values() for _, box in boxes)
    assert result.report.counts["dropped_degenerate"] == degenerate


def test_classes_align_to_the_first_batchs_spelling_and_the_mapping_is_recorded(merged: dict) -> None:
    result = merged["result"]
    assert sorted(result.dataset.class_names) == ["Platelets", "RBC", "WBC"]
    second = result.record["sources"][1]
    assert second["format"] == "coco" and second["images"] == 159
    assert {c["name"]: c["as"] for c in second["classes"]} == {
        spelling: name for name, spelling in SECOND_SPELLING.items()
    }
    manifest = json.loads((merged["root"] / "out" / "merge.json").read_text())
    assert manifest["merge"]["sources"] == result.record["sources"]
    assert manifest["from"] == "voc+coco" and manifest["images"] == 364


def test_pycocotools_reads_every_box_where_the_batches_put_it(merged: dict) -> None:
    first, second, result = merged["first"], merged["second"], merged["result"]
    expected = {**second, **first}
    seen = 0
    for split in ("train", "val", "test"):
        coco = COCO(str(merged["root"] / "out" / "annotations" / f"instances_{split}.json"))
        names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
        for image in coco.loadImgs(coco.getImgIds()):
            boxes = sorted(
                (
                    names[a["category_id"]],
                    [a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]],
                )
                for a in coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))
            )
            truth = sorted((label, box) for label, box in expected[f"{split}/{image['file_name']}"] if has_area(box))
            assert [label for label, _ in boxes] == [label for label, _ in truth]
            for (_, got), (_, want) in zip(boxes, truth, strict=True):
                assert got == pytest.approx(want, abs=1e-6)
            seen += 1
    assert seen == len(result.dataset.images) == 364
