"""Oriented boxes through DOTA, YOLO-OBB, COCO and Labelme and back: every corner, in order, within 1e-6 px (YOLO:
within its 6-decimal normalisation, 0.5e-6 of the image size)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bboxaug.commands.convert import convert, save
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord, object_column
from bboxaug.core.oriented import as_quad
from bboxaug.pipeline.source import load
from tests.conftest import make_image

SIZES = [(1200, 900), (640, 480), (333, 517)]


def random_quads(rng: np.random.Generator, width: int, height: int, count: int) -> list[tuple[float, ...]]:
    """Rotated rectangles and general quadrilaterals with float corners, all inside the image."""
    quads = []
    for k in range(count):
        cx, cy = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height
        reach = 0.25 * min(width, height)
        if k % 2:
            angles = np.sort(rng.uniform(0, 2 * np.pi, 4))  # a convex quad, corners in angle order
            radii = rng.uniform(0.5, 1.0, 4) * reach
            corners = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
        else:
            turn = rng.uniform(0, np.pi)
            along, across = np.array([np.cos(turn), np.sin(turn)]), np.array([-np.sin(turn), np.cos(turn)])
            long, short = rng.uniform(0.5, 1.0) * reach, rng.uniform(0.1, 0.5) * reach
            signs = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]])
            corners = np.array([cx, cy]) + signs[:, :1] * long * along + signs[:, 1:] * short * across
        quads.append(as_quad(np.roll(corners, -int(rng.integers(4)), axis=0)))
    return quads


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Dataset]:
    root = tmp_path_factory.mktemp("roundtrip")
    rng = np.random.default_rng(13)
    images = []
    for number, (width, height) in enumerate(SIZES):
        path = make_image(root / "pixels" / f"img{number}.png", width, height)
        quads = random_quads(rng, width, height, 6)
        corners = np.reshape(quads, (-1, 4, 2))
        xyxy = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)
        labels = rng.integers(0, 3, len(quads))
        boxes = Boxes(xyxy, labels, {"obb": object_column(quads)})
        images.append(ImageRecord(path.name, "train", width, height, boxes, path))
    images.append(ImageRecord("neg.png", "train", 50, 40, source=make_image(root / "pixels/neg.png", 50, 40)))
    dataset = Dataset(tuple(ClassInfo(None, name) for name in ("plane", "ship", "harbor")), tuple(images))
    save(dataset, root / "dota", to="dota")
    return root, dataset


def obbs_by_image(dataset: Dataset) -> dict[str, list[tuple[float, ...]]]:
    return {image.name: list(image.boxes.column("obb")) for image in dataset.images}


def assert_same_quads(got: Dataset, want: Dataset, tolerance: float) -> None:
    have, expected = obbs_by_image(got), obbs_by_image(want)
    assert sorted(have) == sorted(expected)
    for name, quads in expected.items():
        assert len(have[name]) == len(quads), name
        for a, b in zip(have[name], quads, strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=tolerance, err_msg=name)
        assert [got.class_names[k] for k in next(i for i in got.images if i.name == name).boxes.labels] == [
            want.class_names[k] for k in next(i for i in want.images if i.name == name).boxes.labels
        ]


def test_dota_coco_labelme_dota_keeps_every_corner_within_1e_6_px(source: tuple[Path, Dataset]) -> None:
    root, original = source
    convert(root / "dota", root / "coco", to="coco")
    convert(root / "coco", root / "labelme", to="labelme")
    convert(root / "labelme", root / "dota_again", to="dota")
    for step in ("coco", "labelme", "dota_again"):
        assert_same_quads(load(root / step), original, 1e-6)


def test_dota_yolo_obb_coco_dota_keeps_every_corner_within_the_normalisation(source: tuple[Path, Dataset]) -> None:
    root, original = source
    result = convert(root / "dota", root / "yolo", to="yolo")  # every box has a quad: written as obb
    assert "obb_written_upright" not in result.report.counts
    lines = (root / "yolo/labels/train/img0.txt").read_text().splitlines()
    assert len(lines) == 6 and all(len(line.split()) == 9 for line in lines)
    convert(root / "yolo", root / "yolo_coco", to="coco")
    convert(root / "yolo_coco", root / "yolo_dota", to="dota")
    normalisation = 0.5e-6 * max(max(size) for size in SIZES) + 1e-9
    for step in ("yolo", "yolo_coco", "yolo_dota"):
        assert_same_quads(load(root / step), original, normalisation)
    assert_same_quads(load(root / "yolo_dota"), load(root / "yolo"), 1e-6)  # no loss after the normalisation


def test_upright_targets_get_the_envelope_and_count_it(source: tuple[Path, Dataset]) -> None:
    root, original = source
    boxes = sum(len(image.boxes) for image in original.images)
    for to, task in (("voc", None), ("yolo", "detect")):
        out = root / f"upright_{to}"
        result = convert(root / "dota", out, to=to, task=task)
        assert result.report.counts["obb_written_upright"] == boxes
        again = load(out)
        for image in original.images:
            written = next(i for i in again.images if i.name == image.name).boxes
            np.testing.assert_allclose(written.xyxy, image.boxes.xyxy, atol=1.0 if to == "voc" else 1e-3)
            assert "obb" not in written.columns
