"""Oracle suite: every geometric transform of the presets moves boxes where the pixels went.

Scenes of solid objects in unique colours (rectangles, and ellipses with their polygon) are augmented with each
geometric transform the presets use, forced to apply. For every written box, the box measured from the output
pixels of that object's colour must match it (IoU >= 0.9), and every object still clearly visible must have a
box.
"""

from __future__ import annotations

from pathlib import Path

import albumentations as A
import numpy as np
import pytest
from PIL import Image

from bboxaug.augmentation.policy import load_policy
from bboxaug.commands.augment import augment
from bboxaug.commands.convert import save
from bboxaug.pipeline.source import load
from tests.augmentation.oracle import Scene, iou, measured_box, scene_dataset

SCENES = [
    Scene(
        "a.png",
        200,
        150,
        (
            ("rect", 0, (20, 20, 70, 60)),
            ("rect", 1, (150, 100, 200, 150)),
            ("ellipse", 2, (90, 30, 150, 80)),
            ("rect", 3, (0, 110, 30, 140)),
        ),
    ),
    Scene(
        "b.png",
        160,
        160,
        (("ellipse", 4, (10, 90, 70, 140)), ("rect", 5, (100, 10, 150, 40)), ("rect", 6, (60, 60, 90, 100))),
    ),
]
BOX_RULES = {"min_visibility": 0.3, "min_area": 16, "min_size": 2}


def geometric_transforms() -> list[tuple[str, dict]]:
    """(preset/name, params) of every transform in the presets that moves pixels, forced on; plus a stress case
    that rotates far enough to cut objects at the border."""
    found: dict[str, dict] = {}
    for preset in ("light", "medium", "heavy"):
        for spec in load_policy(preset).transforms:
            if issubclass(getattr(A, spec.name), A.DualTransform):
                found[f"{preset}/{spec.name}"] = {spec.name: {**spec.params, "p": 1.0}}
    found["stress/Affine"] = {
        "Affine": {
            "rotate": [-30, 30],
            "scale": [0.8, 1.2],
            "translate_percent": [-0.2, 0.2],
            "border_mode": 0,
            "fill": 0,
            "p": 1.0,
        }
    }
    return sorted(found.items())


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("oracle")
    save(scene_dataset(SCENES, root / "pixels"), root / "coco", to="coco")
    return root / "coco"


@pytest.mark.parametrize(("name", "transform"), geometric_transforms(), ids=lambda v: v if isinstance(v, str) else "")
def test_boxes_match_the_moved_pixels(name: str, transform: dict, scenes: Path, tmp_path: Path) -> None:
    policy = {"backend": "albumentations", "boxes": BOX_RULES, "transforms": [transform]}
    out = tmp_path / "out"
    augment(scenes, out, policy=policy, copies=6, seed=7, originals=False)
    dataset = load(out, fmt="coco")
    original_pixels = {
        scene.name: {colour: (box[2] - box[0]) * (box[3] - box[1]) for _, colour, box in scene.objects}
        for scene in SCENES
    }
    checked = cut = 0
    for image in dataset.images:
        pixels = np.asarray(Image.open(out / "images" / image.split / image.name).convert("RGB"))
        source = image.name.rsplit("_aug", 1)[0] + ".png"
        boxed = set()
        for xyxy, label in zip(image.boxes.xyxy, image.boxes.labels, strict=True):
            colour = int(dataset.class_names[label][3:])
            measured, _ = measured_box(pixels, colour)
            assert measured is not None, f"{name}: {image.name} has a box for obj{colour}, which is not visible"
            score = iou(tuple(xyxy), measured)
            assert score >= 0.9, (
                f"{name}: {image.name} obj{colour}: box {xyxy.round(1)} vs pixels {measured}, IoU {score:.3f}"
            )
            boxed.add(colour)
            checked += 1
            cut += measured[0] == 0 or measured[1] == 0 or measured[2] == image.width or measured[3] == image.height
        for colour, area in original_pixels[source].items():
            _, visible = measured_box(pixels, colour)
            if visible >= 0.6 * area:
                assert colour in boxed, f"{name}: {image.name} shows obj{colour} ({visible} px) without a box"
    assert checked > 0
    if name == "stress/Affine":
        assert cut > 0, "the stress case should cut some objects at the border"


FUSED_STRESS = {
    "backend": "albumentations",
    "boxes": BOX_RULES,
    "transforms": [
        {"HorizontalFlip": {"p": 0.5}},
        {"Affine": {"rotate": [-30, 30], "scale": [0.85, 1.15], "border_mode": 0, "fill": 0, "p": 1.0}},
        {"Perspective": {"scale": [0.03, 0.06], "border_mode": 0, "fill": 0, "p": 0.7}},
        {"BBoxSafeRandomCrop": {"erosion_rate": 0.0, "p": 0.5}},
        {"RandomCrop": {"height": 120, "width": 120, "p": 0.3}},
    ],
}


def test_one_warp_for_rotations_perspective_and_crops_keeps_boxes_on_their_pixels(scenes: Path, tmp_path: Path) -> None:
    """The fused path (one warp per copy) under rotations up to 30 degrees, perspective and crops: at least 99 %
    of the written boxes have IoU >= 0.9 with the box measured from their object's pixels."""
    from bboxaug.augmentation.backends import get_backend

    assert get_backend("albumentations").geometry(load_policy(FUSED_STRESS)).startswith("one warp per copy")
    out = tmp_path / "out"
    augment(scenes, out, policy=FUSED_STRESS, copies=30, seed=3, originals=False)
    dataset = load(out, fmt="coco")
    scores = []
    for image in dataset.images:
        pixels = np.asarray(Image.open(out / "images" / image.split / image.name).convert("RGB"))
        for xyxy, label in zip(image.boxes.xyxy, image.boxes.labels, strict=True):
            measured, _ = measured_box(pixels, int(dataset.class_names[label][3:]))
            scores.append(0.0 if measured is None else iou(tuple(xyxy), measured))
    assert len(scores) >= 180
    good = np.mean(np.asarray(scores) >= 0.9)
    assert good >= 0.99, f"{good:.1%} of {len(scores)} boxes have IoU >= 0.9; worst {min(scores):.3f}"
