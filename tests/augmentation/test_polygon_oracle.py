"""Polygon oracle: augmented copies of a polygon dataset carry polygons that cover the moved objects' pixels.

Scenes of solid ellipses in unique colours (each with its 64-vertex polygon) are augmented with rotations,
scaling, shifts, flips and perspective, to COCO and to YOLO segment lines. Every written polygon is filled (pixel
centres inside) and compared with the pixels of its object's colour measured in the written image: the mask IoU
is at least 0.95 for at least 99 % of instances, and every box is its polygon's envelope.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from bboxaug.commands.augment import augment
from bboxaug.commands.convert import save
from bboxaug.core.model import Dataset, ImageRecord
from bboxaug.core.polygons import polygon_parts
from bboxaug.pipeline.source import load
from tests.augmentation.oracle import COLOURS, Scene, scene_dataset

SCENES = [
    Scene(
        "a.png",
        240,
        180,
        (
            ("ellipse", 0, (10, 10, 80, 60)),
            ("ellipse", 1, (120, 20, 200, 90)),
            ("ellipse", 2, (30, 100, 100, 170)),
            ("ellipse", 3, (150, 110, 235, 175)),
        ),
    ),
    Scene(
        "b.png",
        200,
        200,
        (("ellipse", 4, (0, 0, 70, 90)), ("ellipse", 5, (90, 40, 190, 110)), ("ellipse", 6, (40, 130, 160, 195))),
    ),
]
POLICY = {
    "backend": "albumentations",
    "boxes": {"min_visibility": 0.3, "min_area": 64, "min_size": 4},
    "transforms": [
        {"HorizontalFlip": {"p": 0.5}},
        {
            "Affine": {
                "rotate": [-60, 60],
                "scale": [0.8, 1.25],
                "translate_percent": [-0.15, 0.15],
                "border_mode": 0,
                "fill": 0,
                "p": 1.0,
            }
        },
        {"Perspective": {"scale": [0.03, 0.08], "border_mode": 0, "fill": 0, "p": 0.5}},
    ],
}
IOU = 0.95
SHARE = 0.99


def filled(parts: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """The pixels whose centre a polygon covers (OpenCV's filling at 1/16 pixel), for drawing and for measuring
    alike, so an object and a polygon in the same place give the same pixels."""
    canvas = np.zeros((height, width), np.uint8)
    points = [np.round((part - 0.5) * 16).astype(np.int32) for part in parts]
    return cv2.fillPoly(canvas, points, 1, cv2.LINE_8, shift=4).astype(bool)


def draw(dataset: Dataset) -> Dataset:
    """Each scene drawn again with `filled`: every object's colour on the pixels its polygon covers."""
    for image in dataset.images:
        pixels = np.zeros((image.height or 0, image.width or 0, 3), np.uint8)
        for label, segmentation in zip(image.boxes.labels, image.boxes.column("segmentation"), strict=True):
            pixels[filled(polygon_parts(segmentation), *image.known_size())] = COLOURS[int(label)]
        Image.fromarray(pixels).save(image.known_source())
    return dataset


def measured_mask(pixels: np.ndarray, colour: int) -> np.ndarray:
    """The pixels at least half covered by the object: on black, an edge pixel is its colour times the share it
    covers, so that share is the pixel's projection on the colour (and the rest must be small)."""
    hue = np.array(COLOURS[colour], dtype=np.float64)
    values = pixels.astype(np.float64)
    share = values @ hue / (hue @ hue)
    residual = np.abs(values - share[..., None] * hue).max(axis=2)
    return (share >= 0.5) & (residual <= 40)


def mask_ious(image: ImageRecord, pixels: np.ndarray, class_names: list[str]) -> list[float]:
    """Each written polygon's mask IoU with its object's measured pixels; and its box checked to be its envelope."""
    scores = []
    for xyxy, label, segmentation in zip(
        image.boxes.xyxy, image.boxes.labels, image.boxes.column("segmentation"), strict=True
    ):
        parts = polygon_parts(segmentation)
        assert parts, f"{image.key}: a box without its polygon"
        points = np.concatenate(parts)
        np.testing.assert_allclose(xyxy, [*points.min(axis=0), *points.max(axis=0)], atol=2e-6 * max(pixels.shape))
        written = filled(parts, *image.known_size())
        measured = measured_mask(pixels, int(class_names[label][3:]))
        union = (written | measured).sum()
        scores.append(float((written & measured).sum() / union) if union else 0.0)
    return scores


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("polygons")
    save(draw(scene_dataset(SCENES, root / "pixels")), root / "coco", to="coco")
    return root / "coco"


@pytest.mark.parametrize("to", ["coco", "yolo"])
def test_written_polygons_cover_the_moved_objects(source: Path, tmp_path: Path, to: str) -> None:
    out = tmp_path / "out"
    augment(source, out, policy=POLICY, copies=30, seed=3, originals=False, to=to)
    dataset = load(out, fmt=to)
    scores = []
    for image in dataset.images:
        pixels = np.asarray(Image.open(image.known_source()).convert("RGB"))
        scores += mask_ious(image, pixels, dataset.class_names)
    share = float(np.mean(np.array(scores) >= IOU))
    print(f"{to}: {len(scores)} instances, {share:.2%} with mask IoU >= {IOU}, lowest {min(scores):.3f}")
    assert len(scores) >= 200 and share >= SHARE
