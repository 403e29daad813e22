"""The real datasets convert in every direction with counts that add up, and real clients read what we write.

Expected counts are computed here from the source files with the standard library, not by bboxaug. COCO output is
loaded by pycocotools; YOLO and VOC output are read back by globox, an independent reader, and must give the same
boxes.
"""

from __future__ import annotations

import contextlib
import io
import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest

from bboxaug.commands.convert import convert
from bboxaug.formats import FORMATS
from bboxaug.pipeline.source import load
from tests.conftest import BOX_FORMATS

TARGETS = BOX_FORMATS


def voc_truth(annotations: list[Path]) -> dict[str, list[tuple[str, list[float]]]]:
    """Boxes per image file name in model coordinates, parsed with the stdlib: (name, [x1, y1, x2, y2])."""
    truth = {}
    for path in annotations:
        root = ElementTree.parse(path).getroot()
        boxes = []
        for obj in root.iter("object"):
            box = obj.find("bndbox")
            xmin, ymin, xmax, ymax = (float(box.find(tag).text) for tag in ("xmin", "ymin", "xmax", "ymax"))
            # 1-based inclusive corners; equal corners are a click without a drag (zero extent, see formats/voc.md)
            x1 = xmin - 1 if xmax > xmin else xmax
            y1 = ymin - 1 if ymax > ymin else ymax
            boxes.append((obj.find("name").text, [x1, y1, xmax, ymax]))
        truth[root.find("filename").text] = boxes
    return truth


def coco_truth(path: Path) -> dict[str, list[tuple[str, list[float]]]]:
    data = json.loads(path.read_text())
    names = {c["id"]: c["name"] for c in data["categories"]}
    truth = {image["file_name"]: [] for image in data["images"]}
    by_id = {image["id"]: image["file_name"] for image in data["images"]}
    for annotation in data["annotations"]:
        x, y, w, h = annotation["bbox"]
        truth[by_id[annotation["image_id"]]].append((names[annotation["category_id"]], [x, y, x + w, y + h]))
    return truth


def corpus_sources(corpus: Path) -> dict[str, tuple[Path, dict]]:
    bccd = corpus / "bccd_voc" / "BCCD"
    cards = corpus / "cards_voc_subset" / "images"
    chess = corpus / "chess_coco_test" / "test" / "_annotations.coco.json"
    wagon = corpus / "wagon_defect_coco_test" / "test" / "_annotations.coco.json"
    return {
        "bccd": (bccd, voc_truth(sorted((bccd / "Annotations").glob("*.xml")))),
        "cards": (cards, voc_truth(sorted(cards.rglob("*.xml")))),
        "chess": (chess, coco_truth(chess)),
        "wagon": (wagon, coco_truth(wagon)),
    }


def has_area(box: list[float]) -> bool:
    return box[2] > box[0] and box[3] > box[1]


def stem(name: str) -> str:
    return name.rsplit("/", 1)[-1].rsplit(".", 1)[0]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> dict:
    from tests.conftest import CORPUS

    if not CORPUS.is_dir():
        pytest.skip(f"real corpus not found at {CORPUS}")
    root = tmp_path_factory.mktemp("corpus")
    results = {}
    for name, (source, truth) in corpus_sources(CORPUS).items():
        for target in TARGETS:
            out = root / f"{name}-{target}"
            # Box lines, whose boxes are the source's: segment lines (the default for wagon's polygons) give each
            # box as its polygon's envelope, checked in tests/formats/test_yolo_segment.py.
            task = "detect" if target == "yolo" else None
            result = convert(source, out, to=target, images="symlink", task=task)
            results[(name, target)] = (out, result, truth)
    return results


@pytest.mark.parametrize("dataset", ["bccd", "cards", "chess", "wagon"])
@pytest.mark.parametrize("target", TARGETS)
def test_counts_add_up_and_boxes_match_the_source(converted: dict, dataset: str, target: str) -> None:
    out, result, truth = converted[(dataset, target)]
    counts = result.report.counts
    source_boxes = sum(len(boxes) for boxes in truth.values())
    degenerate = sum(1 for boxes in truth.values() for _, box in boxes if not has_area(box))
    assert len(result.dataset.images) + counts["skipped_items"] == len(truth)
    assert result.dataset.box_count + counts["dropped_degenerate"] + counts["dropped_crowd"] == source_boxes
    assert counts["dropped_degenerate"] == degenerate
    assert result.dataset.negative_count == sum(1 for boxes in truth.values() if not boxes)

    back = load(out, fmt=target)
    written = {stem(image.name): image for image in back.images}
    assert len(written) == len(truth)
    for file_name, boxes in truth.items():
        image = written[stem(file_name)]
        kept = [(label, box) for label, box in boxes if has_area(box)]
        assert [back.class_names[label] for label in image.boxes.labels] == [label for label, _ in kept]
        if kept:
            tolerance = FORMATS[target].tolerance(image)
            np.testing.assert_allclose(image.boxes.xyxy, [box for _, box in kept], atol=tolerance)


@pytest.mark.parametrize("dataset", ["bccd", "chess"])
@pytest.mark.parametrize("middle", TARGETS)
def test_second_hop_keeps_every_image_and_box(converted: dict, dataset: str, middle: str, tmp_path: Path) -> None:
    """From each written format to every other: YOLO and Labelme sources are exercised on real data too."""
    out, first, _ = converted[(dataset, middle)]
    for target in TARGETS:
        if target == middle:
            continue
        second = convert(out, tmp_path / f"{middle}-{target}", to=target, images="symlink")
        assert len(second.dataset.images) == len(first.dataset.images)
        assert second.dataset.box_count == first.dataset.box_count
        assert second.dataset.negative_count == first.dataset.negative_count
        assert set(second.dataset.class_names) >= set(first.dataset.class_names)


@pytest.mark.parametrize("dataset", ["bccd", "cards", "chess", "wagon"])
def test_pycocotools_loads_what_we_write(converted: dict, dataset: str) -> None:
    from pycocotools.coco import COCO

    out, result, _ = converted[(dataset, "coco")]
    for split in result.dataset.splits:
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO(str(out / "annotations" / f"instances_{split}.json"))
        images = result.dataset.in_split(split)
        assert len(coco.getImgIds()) == len(images)
        assert len(coco.getAnnIds()) == sum(len(image.boxes) for image in images)
        first = next(image for image in images if len(image.boxes))
        image_id = next(i for i, info in coco.imgs.items() if info["file_name"] == first.name)
        bboxes = [coco.anns[a]["bbox"] for a in coco.getAnnIds(imgIds=[image_id])]
        xyxy = [[x, y, x + w, y + h] for x, y, w, h in bboxes]
        np.testing.assert_allclose(xyxy, first.boxes.xyxy, atol=1e-6)


def _globox_boxes(annotation_set) -> dict[str, list[tuple[str, list[float]]]]:
    boxes = {}
    for annotation in annotation_set:
        boxes[stem(str(annotation.image_id))] = [(box.label, list(box.ltrb)) for box in annotation.boxes]
    return boxes


@pytest.mark.parametrize("dataset", ["bccd", "chess"])
def test_globox_reads_our_yolo_and_voc_with_the_same_boxes(converted: dict, dataset: str) -> None:
    globox = pytest.importorskip("globox", reason="globox is the independent reader (pip install -e '.[test]')")
    yolo_out, yolo_result, _ = converted[(dataset, "yolo")]
    voc_out, voc_result, _ = converted[(dataset, "voc")]
    names = yolo_result.dataset.class_names

    split = yolo_result.dataset.splits[0]
    yolo_set = globox.AnnotationSet.from_yolo_v5(
        folder=yolo_out / "labels" / split, image_folder=yolo_out / "images" / split, image_extension=".jpg"
    )
    theirs = _globox_boxes(yolo_set)
    for image in yolo_result.dataset.in_split(split):
        got = theirs[stem(image.name)]
        assert [int(label) for label, _ in got] == list(image.boxes.labels)
        if len(image.boxes):
            np.testing.assert_allclose(
                [box for _, box in got], image.boxes.xyxy, atol=1e-3 * max(image.width, image.height)
            )

    voc_set = globox.AnnotationSet.from_pascal_voc(folder=voc_out / "Annotations")
    theirs = _globox_boxes(voc_set)
    for image in voc_result.dataset.images:
        got = theirs[stem(image.name)]
        assert [label for label, _ in got] == [names[label] for label in image.boxes.labels]
        if len(image.boxes):
            # globox reads VOC corners as written (1-based xmin); the model's x1 is xmin - 1.
            np.testing.assert_allclose(
                [[x1 - 1, y1 - 1, x2, y2] for _, (x1, y1, x2, y2) in got], image.boxes.xyxy, atol=0.5
            )
