"""Near-duplicates: the banded index finds exactly the pairs a full comparison finds; resized, recompressed and
shifted copies planted across splits are found, and nothing else; pictures alike with other boxes are not pairs;
the corpus holds no pair."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from bboxaug.commands.convert import save
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord
from bboxaug.core.table import as_table
from bboxaug.inspection.near_duplicates import (
    MAX_DISTANCE,
    boxes_agree,
    close_hashes,
    find_near_duplicates,
    fingerprint,
)
from bboxaug.inspection.validate import ERROR, WARNING, validate
from bboxaug.pipeline.source import load

CLASSES = (ClassInfo(0, "scratch"), ClassInfo(1, "spot"))


def brute_force_pairs(hashes: np.ndarray, limit: int) -> set[tuple[int, int]]:
    """Every pair within `limit` bits, by comparing all pairs with Python's own bit count."""
    values = [int(h) for h in hashes]
    return {
        (i, j)
        for i in range(len(values))
        for j in range(i + 1, len(values))
        if bin(values[i] ^ values[j]).count("1") <= limit
    }


def test_the_banded_index_finds_every_close_pair_and_no_other() -> None:
    rng = np.random.default_rng(2)
    hashes = rng.integers(0, 2**63, 400, dtype=np.int64).astype(np.uint64) * np.uint64(2) + np.uint64(1)
    for k in range(60):  # copies 1..12 bits away, bits spread over the bands
        flips = rng.choice(64, size=1 + k % 12, replace=False)
        hashes[200 + k] = hashes[k] ^ np.uint64(sum(1 << int(b) for b in flips))
    first, second = close_hashes(hashes, MAX_DISTANCE)
    found = set(zip(first.tolist(), second.tolist(), strict=True))
    assert found == brute_force_pairs(hashes, MAX_DISTANCE)
    assert {(k, 200 + k) for k in range(60) if 1 + k % 12 <= MAX_DISTANCE} <= found
    assert (11, 211) not in found  # 12 bits apart


def scene(seed: int, width: int = 320, height: int = 240) -> np.ndarray:
    """A smooth random picture (upscaled noise with a few bright rectangles), RGB uint8."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    picture = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(4):
        x, y = int(rng.integers(0, width - 60)), int(rng.integers(0, height - 60))
        picture[y : y + int(rng.integers(20, 60)), x : x + int(rng.integers(20, 60))] = rng.integers(0, 256, 3)
    return picture


def write(path: Path, pixels: np.ndarray, quality: int = 95) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"quality": quality} if path.suffix == ".jpg" else {}
    Image.fromarray(pixels).save(path, **options)
    return path


def record(path: Path, split: str, boxes: list[tuple[int, list[float]]]) -> ImageRecord:
    with Image.open(path) as image:
        width, height = image.size
    xyxy = [corners for _, corners in boxes]
    box_table = Boxes(xyxy, [label for label, _ in boxes]) if boxes else Boxes.empty()
    return ImageRecord(path.name, split, width, height, box_table, path)


def scaled(boxes: list[tuple[int, list[float]]], factor: float) -> list[tuple[int, list[float]]]:
    return [(label, [value * factor for value in corners]) for label, corners in boxes]


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A COCO dataset of eight unrelated scenes plus: scene 0 at half size in val, scene 1 recompressed at JPEG
    quality 30 in test, scene 2 shifted by 2 % in val, scene 3 again at 75 % size in train (same split), and
    scene 4's picture with other boxes in val (alike, but not a copy)."""
    pixels = tmp_path_factory.mktemp("pixels")
    boxes = {k: [(k % 2, [40.0 + k, 50.0, 120.0 + k, 110.0]), (1, [200.0, 20.0, 260.0, 90.0])] for k in range(8)}
    images = [record(write(pixels / f"scene{k}.png", scene(k)), "train", boxes[k]) for k in range(8)]
    half = cv2.resize(scene(0), (160, 120), interpolation=cv2.INTER_AREA)
    images.append(record(write(pixels / "small.png", half), "val", scaled(boxes[0], 0.5)))
    buffer = io.BytesIO()
    Image.fromarray(scene(1)).save(buffer, "JPEG", quality=30)
    (pixels / "squeezed.jpg").write_bytes(buffer.getvalue())
    images.append(record(pixels / "squeezed.jpg", "test", boxes[1]))
    dx, dy = 6, 5  # 2 % of 320 x 240
    shifted = scene(2)[dy:, dx:]
    moved = [(label, [c[0] - dx, c[1] - dy, c[2] - dx, c[3] - dy]) for label, c in boxes[2]]
    images.append(record(write(pixels / "shifted.png", shifted), "val", moved))
    three = cv2.resize(scene(3), (240, 180), interpolation=cv2.INTER_AREA)
    images.append(record(write(pixels / "again.png", three), "train", scaled(boxes[3], 0.75)))
    images.append(record(write(pixels / "other_boxes.png", scene(4)), "val", [(0, [10.0, 10.0, 50.0, 60.0])]))
    root = tmp_path_factory.mktemp("planted") / "coco"
    save(Dataset(CLASSES, tuple(images)), root, to="coco")
    return root


def test_planted_copies_are_found_errors_across_splits_and_nothing_else(planted: Path) -> None:
    findings = [f for f in validate(planted, near_duplicates=True) if f.code == "near_duplicate"]
    found = {(frozenset((f.image, f.details["other"])), f.severity) for f in findings}  # either may come first
    assert found == {
        (frozenset(("val/small.png", "train/scene0.png")), ERROR),
        (frozenset(("test/squeezed.jpg", "train/scene1.png")), ERROR),
        (frozenset(("val/shifted.png", "train/scene2.png")), ERROR),
        (frozenset(("train/again.png", "train/scene3.png")), WARNING),
    }
    for item in findings:
        assert 0 <= item.details["distance"] <= MAX_DISTANCE
        assert item.details["leakage"] == (item.severity == ERROR)
    assert not [f for f in validate(planted) if f.code == "near_duplicate"]  # only when asked


def test_the_same_picture_with_other_boxes_is_not_a_copy(planted: Path) -> None:
    dataset = load(planted)
    table = as_table(dataset.images)
    keys = [table.key_of(k) for k in range(len(table))]
    alike, original = keys.index("val/other_boxes.png"), keys.index("train/scene4.png")
    assert fingerprint(table.sources[alike]).hash == fingerprint(table.sources[original]).hash
    sizes = np.stack([table.widths, table.heights], axis=1).astype(float)
    assert not boxes_agree(table, sizes, original, alike)
    assert boxes_agree(table, sizes, original, original)
    near = find_near_duplicates(dataset)
    assert alike not in near.later.tolist()


def test_boxes_agree_within_the_tolerance_and_by_class() -> None:
    first = ImageRecord("a.png", "train", 100, 100, Boxes([[10, 10, 30, 30], [50, 50, 90, 70]], [0, 1]))
    moved = first.replace(boxes=Boxes([[50, 51, 90, 71], [13, 12, 33, 32]], [1, 0]))  # other order, 3 % moved
    far = first.replace(boxes=Boxes([[50, 50, 90, 70], [17, 10, 37, 30]], [1, 0]))  # 7 % moved
    swapped = first.replace(boxes=Boxes([[10, 10, 30, 30], [50, 50, 90, 70]], [1, 0]))
    table = as_table([first, moved, far, swapped])
    sizes = np.full((4, 2), 100.0)
    assert boxes_agree(table, sizes, 0, 1)
    assert not boxes_agree(table, sizes, 0, 2)
    assert not boxes_agree(table, sizes, 0, 3)


def test_the_corpus_holds_no_near_duplicate(corpus: Path) -> None:
    """Candidates by hash alone exist there (the chess board under one camera with another piece, wagons seen
    from one place, two focus settings of one blood smear field); none holds the same boxes."""
    folders = ("bccd_voc/BCCD", "chess_coco_test/test", "cards_voc_subset/images/test", "wagon_defect_coco_test/test")
    for folder in folders:
        findings = validate(corpus / folder, near_duplicates=True, jobs=2)
        assert [f for f in findings if f.code == "near_duplicate"] == [], folder
