#!/usr/bin/env python3
"""Defect masks to COCO, measured: instances, boxes and polygons against components found independently.

Generates (into the workdir) an MVTec AD style category: `--images` defect images of 512x512 split over three
defect types (random ellipses, circles, thick lines and polygons drawn with OpenCV; overlapping shapes make
irregular blobs, and with `--holes` some ellipses get a hole) and a quarter as many good images. Converts it to
COCO with `bboxaug.convert` and reads the COCO file back with pycocotools. For each defect image, scipy's
`ndimage.label` (8-connectivity) finds the components of `mask >= 128`, independently of bboxaug, and:

- instances: the number of annotations equals the number of components (every image);
- boxes: each annotation's bbox against the pixel bounds of the nearest component (max error in px);
- polygons: pycocotools' `annToMask` of each annotation against its component: IoU (min, median), and the
  share of instances at IoU >= 0.95.

Also times the conversion (masks read, COCO written, images copied). Prints a Markdown table and writes
`WORKDIR/results.json`.

Usage::

    python benchmarks/masks.py                   # 300 defect images, no holes
    python benchmarks/masks.py --holes           # some components with a hole
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
from pycocotools.coco import COCO
from scipy import ndimage

import bboxaug

SIZE = 512
DEFECTS = ("crack", "stain", "scratch")


def draw_mask(rng: np.random.Generator, defect: str, holes: bool) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), np.uint8)
    for _ in range(int(rng.integers(1, 7))):
        cx, cy = (int(v) for v in rng.integers(20, SIZE - 20, 2))
        if defect == "scratch":
            dx, dy = (int(v) for v in rng.integers(-120, 121, 2))
            cv2.line(mask, (cx, cy), (cx + dx, cy + dy), 255, int(rng.integers(1, 6)))
        elif defect == "stain":
            axes = (int(rng.integers(4, 60)), int(rng.integers(3, 30)))
            cv2.ellipse(mask, (cx, cy), axes, float(rng.integers(180)), 0, 360, 255, -1)
            if holes and min(axes) > 6 and rng.random() < 0.5:
                cv2.circle(mask, (cx, cy), int(rng.integers(1, min(axes) // 2)), 0, -1)
        elif rng.random() < 0.5:
            cv2.circle(mask, (cx, cy), int(rng.integers(1, 25)), 255, -1)
        else:
            points = rng.integers(-40, 41, (int(rng.integers(3, 8)), 2)) + np.array([cx, cy])
            cv2.fillPoly(mask, [points.astype(np.int32)], 255)
    return mask


def generate(root: Path, images: int, holes: bool, seed: int) -> dict[str, np.ndarray]:
    """The category at `root`; each defect image's mask by its record name (`<defect>/NNN.png`)."""
    rng = np.random.default_rng(seed)
    picture = np.full((SIZE, SIZE, 3), 128, np.uint8)
    masks = {}
    for number in range(images):
        defect = DEFECTS[number % len(DEFECTS)]
        name = f"{number:04d}.png"
        for folder in (root / "test" / defect, root / "ground_truth" / defect):
            folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "test" / defect / name), picture)
        mask = draw_mask(rng, defect, holes)
        cv2.imwrite(str(root / "ground_truth" / defect / f"{number:04d}_mask.png"), mask)
        masks[f"{defect}/{name}"] = mask
    for number in range(max(images // 4, 1)):
        (root / "train" / "good").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "train" / "good" / f"{number:04d}.png"), picture)
    return masks


def measure(coco: COCO, masks: dict[str, np.ndarray]) -> dict[str, float]:
    """Each annotation against the component whose pixel bounds are nearest its bbox (scipy's `find_objects`)."""
    by_name = {image["file_name"]: image["id"] for image in coco.dataset["images"]}
    count_errors, box_error, ious, instances, components = 0, 0.0, [], 0, 0
    for name, mask in masks.items():
        labels, count = ndimage.label(mask >= 128, structure=np.ones((3, 3), bool))
        slices = ndimage.find_objects(labels)
        bounds = np.array([(s[1].start, s[0].start, s[1].stop, s[0].stop) for s in slices]).reshape(-1, 4)
        components += count
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=[by_name[name]]))
        count_errors += len(annotations) != count
        for annotation in annotations:
            x, y, w, h = annotation["bbox"]
            errors = np.abs(bounds - np.array([x, y, x + w, y + h])).max(axis=1)
            nearest = int(errors.argmin())
            box_error = max(box_error, float(errors[nearest]))
            component = labels == nearest + 1
            drawn = coco.annToMask(annotation).astype(bool)
            ious.append((drawn & component).sum() / (drawn | component).sum())
            instances += 1
    return {
        "components (scipy)": components,
        "instances (COCO annotations)": instances,
        "images with another count": count_errors,
        "max box error (px)": box_error,
        "IoU min": float(np.min(ious)),
        "IoU median": float(np.median(ious)),
        "share IoU >= 0.95": float(np.mean(np.array(ious) >= 0.95)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=300, help="defect images (a quarter as many good ones)")
    parser.add_argument("--holes", action="store_true", help="punch holes in some stains")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bboxaug-bench-masks"))
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    masks = generate(args.workdir / "category", args.images, args.holes, args.seed)
    start = time.perf_counter()
    result = bboxaug.convert(args.workdir / "category", args.workdir / "coco", to="coco", jobs=args.jobs)
    seconds = time.perf_counter() - start
    with warnings.catch_warnings():  # pycocotools under NumPy 2 warns about `copy`: harmless
        warnings.simplefilter("ignore", DeprecationWarning)
        coco = COCO(str(args.workdir / "coco" / "annotations" / "instances_test.json"))
        figures = measure(coco, masks)
    figures.update(
        {
            "images": len(result.dataset.images),
            "convert seconds": round(seconds, 2),
            "images per second": round(len(result.dataset.images) / seconds, 1),
        }
    )
    print("| measure | value |\n|---|---|")
    for key, value in figures.items():
        print(f"| {key} | {value:.4g} |" if isinstance(value, float) else f"| {key} | {value} |")
    (args.workdir / "results.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
