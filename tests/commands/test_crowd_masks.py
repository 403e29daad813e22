"""Crowd regions keep their masks through augment, tile, resize and --preprocess to COCO: pycocotools' `annToRLE` and
`COCOeval(..., "segm")` load every output, no crowd is written without its mask, and each written mask covers
the crowd's pixels in the written image (the crowd is drawn in a colour of its own)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from bboxaug.commands import resize, tile
from bboxaug.commands.augment import augment
from bboxaug.commands.convert import convert, save
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord, object_column
from bboxaug.io.masks import decode_rle, encode_rle

CROWD, OBJECT = (200, 40, 255), (40, 255, 40)
POLICY = {
    "backend": "albumentations",
    "boxes": {"min_visibility": 0.2, "min_area": 16, "min_size": 2},
    "transforms": [
        {"HorizontalFlip": {"p": 0.5}},
        {"Affine": {"rotate": [-40, 40], "scale": [0.8, 1.2], "border_mode": 0, "fill": 0, "p": 1.0}},
    ],
}


def crowd_mask(width: int, height: int) -> np.ndarray:
    """Two joined blobs with a hole: a crowd region of the usual shape."""
    rows, columns = np.mgrid[0:height, 0:width] + 0.5
    blob = ((columns - 60) / 40) ** 2 + ((rows - 70) / 30) ** 2 <= 1
    blob |= ((columns - 110) / 30) ** 2 + ((rows - 60) / 35) ** 2 <= 1
    return blob & ~(((columns - 60) / 8) ** 2 + ((rows - 70) / 8) ** 2 <= 1)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crowd")
    width, height = 200, 140
    mask = crowd_mask(width, height)
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[mask] = CROWD
    pixels[100:130, 150:190] = OBJECT
    Image.fromarray(pixels).save(root / "a.png")
    ys, xs = np.nonzero(mask)
    boxes = Boxes(
        [[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], [150, 100, 190, 130]],
        [0, 1],
        {
            "iscrowd": [True, False],
            "segmentation": object_column([encode_rle(mask), [[150, 100, 190, 100, 190, 130, 150, 130]]]),
        },
    )
    image = ImageRecord("a.png", "train", width, height, boxes, root / "a.png")
    save(Dataset((ClassInfo(1, "people"), ClassInfo(2, "car")), (image,)), root / "coco", to="coco")
    return root / "coco"


def coco_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*.json") if path.parent.name == "annotations"]


def check_output(root: Path) -> int:
    """Load every COCO file under `root` with pycocotools, evaluate it against itself as segmentation, and compare
    each crowd's mask with the crowd's colour in its image; returns the crowds checked."""
    crowds = 0
    files = coco_files(root)
    assert files
    for file in files:
        with warnings.catch_warnings():  # pycocotools' Cython layer under NumPy 2, and its prints
            warnings.simplefilter("ignore", DeprecationWarning)
            ground = COCO(str(file))
            for annotation in ground.dataset["annotations"]:
                rle = ground.annToRLE(annotation)  # raises IndexError on `segmentation: []` with iscrowd 1
                assert annotation["segmentation"], annotation
                if annotation["iscrowd"]:
                    crowds += 1
                    entry = ground.imgs[annotation["image_id"]]
                    pixels = np.asarray(
                        Image.open(
                            file.parents[1] / "images" / file.stem.split("_", 1)[1] / entry["file_name"]
                        ).convert("RGB")
                    )
                    shown = np.abs(pixels.astype(int) - CROWD).max(axis=2) <= 60
                    written = decode_rle(annotation["segmentation"])
                    assert written.shape == shown.shape and written.any()
                    overlap = (written & shown).sum() / (written | shown).sum()
                    assert overlap >= 0.9, (file, entry["file_name"], overlap)
                    ys, xs = np.nonzero(written)
                    x, y, w, h = annotation["bbox"]
                    # The box is the mask's pixel bounds (augment, tile) or the source's scaled exactly (resize).
                    bounds = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
                    np.testing.assert_allclose([x, y, x + w, y + h], bounds, atol=1.0)
                assert rle["size"] == [
                    ground.imgs[annotation["image_id"]]["height"],
                    ground.imgs[annotation["image_id"]]["width"],
                ]
            results = [{**a, "score": 1.0} for a in ground.dataset["annotations"] if not a["iscrowd"]]
            if results:
                evaluation = COCOeval(ground, ground.loadRes(results), "segm")
                evaluation.evaluate()
                evaluation.accumulate()
    return crowds


RUNS: dict[str, Callable[[Path, Path], object]] = {
    "augment": lambda src, dst: augment(src, dst, policy=POLICY, copies=8, seed=1, to="coco"),
    "tile": lambda src, dst: tile.tile(src, dst, size=96, overlap=0.25, partial="keep", min_visibility=0.1),
    "resize": lambda src, dst: resize.resize(src, dst, sizes=[120, (320, 160)]),
    "preprocess": lambda src, dst: convert(src, dst, to="coco", preprocess="crop:20,10,170,130;letterbox:128"),
}


@pytest.mark.parametrize("step", sorted(RUNS))
def test_crowd_regions_keep_their_masks(source: Path, tmp_path: Path, step: str) -> None:
    RUNS[step](source, tmp_path / "out")
    assert check_output(tmp_path / "out") >= (1 if step == "preprocess" else 2)
