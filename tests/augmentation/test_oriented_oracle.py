"""Oracle suite for oriented boxes: rotated rectangles of unique colours are augmented (rotations up to 180
degrees, affine with shear, perspective, flips and crops) and tiled; every written quad is rasterised and compared
with the object's pixels in the output. At least 99 % of the objects must have IoU >= 0.9."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bboxaug.commands.augment import augment
from bboxaug.commands.convert import save
from bboxaug.commands.tile import tile
from bboxaug.core.model import Dataset
from bboxaug.formats import dota
from bboxaug.pipeline.source import load
from tests.augmentation.oracle import colour_mask, mask_iou, quad_mask, quad_scenes

BORDER = {"border_mode": 0, "fill": 0}

POLICIES = {
    "rotate_180": [{"Rotate": {"limit": [-180, 180], **BORDER, "p": 1.0}}],
    "affine": [
        {
            "Affine": {
                "rotate": [-180, 180],
                "shear": [-10, 10],
                "scale": [0.8, 1.2],
                "translate_percent": [-0.1, 0.1],
                **BORDER,
                "p": 1.0,
            }
        }
    ],
    "perspective": [{"Perspective": {"scale": [0.05, 0.12], **BORDER, "p": 1.0}}],
    "flips_and_crop": [
        {"HorizontalFlip": {"p": 0.5}},
        {"VerticalFlip": {"p": 0.5}},
        {"RandomRotate90": {"p": 1.0}},
        {"BBoxSafeRandomCrop": {"erosion_rate": 0.0, "p": 1.0}},
    ],
}

BOX_RULES = {"min_visibility": 0.3, "min_area": 16, "min_size": 2}

#: The share of objects whose written quad must overlap the object's pixels by IoU >= 0.9.
REQUIRED_SHARE = 0.99


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("oriented")
    save(quad_scenes(root / "pixels", 4, 320, 240, 6, seed=3), root / "dota", to="dota")
    return root / "dota"


def quad_scores(dataset: Dataset, root: Path) -> tuple[list[float], int]:
    """Per written box of the DOTA dataset at `root`, the IoU of its quad (rasterised) with the pixels of its
    object's colour; and how many of the objects the image border cuts (their quads were re-fitted)."""
    scores, cut = [], 0
    for image in dataset.images:
        pixels = np.asarray(Image.open(root / dota.image_path(image.split, image.name)).convert("RGB"))
        for quad, label in zip(image.boxes.column("obb"), image.boxes.labels, strict=True):
            assert quad is not None, f"{image.name}: a box without its oriented box"
            colour = int(dataset.class_names[label][3:])
            shown = colour_mask(pixels, colour)
            scores.append(mask_iou(quad_mask(quad, pixels.shape[1], pixels.shape[0]), shown))
            cut += bool(shown[0].any() or shown[-1].any() or shown[:, 0].any() or shown[:, -1].any())
    return scores, cut


def share_above(scores: list[float], threshold: float = 0.9) -> float:
    return float(np.mean(np.asarray(scores) >= threshold))


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_written_quads_cover_the_moved_objects(name: str, scenes: Path, tmp_path: Path) -> None:
    policy = {"backend": "albumentations", "boxes": BOX_RULES, "transforms": POLICIES[name]}
    out = tmp_path / "out"
    augment(scenes, out, policy=policy, copies=8, seed=11, originals=False)
    scores, cut = quad_scores(load(out, fmt="dota"), out)
    print(f"{name}: {share_above(scores):.2%} of {len(scores)} objects ({cut} cut), IoU >= 0.9, min {min(scores):.3f}")
    assert len(scores) >= 150 and cut > 0
    assert share_above(scores) >= REQUIRED_SHARE


def test_tiled_quads_cover_the_objects_in_each_tile(tmp_path: Path) -> None:
    source = tmp_path / "dota"
    save(quad_scenes(tmp_path / "pixels", 12, 480, 320, 6, seed=5), source, to="dota")
    out = tmp_path / "tiles"
    tile(source, out, size=160, overlap=0.2, partial="drop")
    scores, cut = quad_scores(load(out, fmt="dota"), out)
    print(f"tile: {share_above(scores):.2%} of {len(scores)} objects ({cut} cut), IoU >= 0.9, min {min(scores):.3f}")
    assert len(scores) >= 150 and cut > 0
    assert share_above(scores) >= REQUIRED_SHARE
