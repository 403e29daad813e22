#!/usr/bin/env python3
"""Real client for YOLO segment lines: Ultralytics builds its dataset from what bboxaug writes and trains on it.

Makes a small polygon dataset (deterministic scenes of filled polygons, some objects in two parts, some touching
the border; `--images` per split, 256x192 PNG, with a COCO file), then with bboxaug:
1. `convert` it to YOLO (segment lines, chosen because every box has a polygon);
2. `augment` its train split to YOLO (3 copies per image, rotations, flips, perspective): moved polygons;
3. with `--corpus`, `convert` the wagon defect set (real COCO polygons) to YOLO.
Each YOLO dataset is then given to Ultralytics in another Python (`--python`, or BBOXAUG_ULTRALYTICS_PYTHON; it
needs `ultralytics` with a CPU torch): `YOLO("yolov8n-seg.yaml")` (no weights) trains 1 epoch at `--imgsz` on
the CPU, and the script prints the counts Ultralytics itself recorded when it checked the labels (its
`labels/<split>.cache`: found, missing, empty, corrupt) and the epoch's losses. Exit status 1 when any label was
corrupt or missing, or training failed.

    python benchmarks/ultralytics_seg.py --python /path/to/ultra/bin/python [--corpus ../shared/corpus]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

import bboxaug
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord, object_column

CLASSES = ("blob", "plate", "wire")
COLOURS = ((230, 60, 60), (60, 200, 90), (70, 110, 240))

#: Run in the Ultralytics Python: train one epoch, then report the label cache counts of each split as JSON.
TRAIN = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import numpy as np
    from ultralytics import YOLO

    data, out, imgsz = sys.argv[1], sys.argv[2], int(sys.argv[3])
    model = YOLO("yolov8n-seg.yaml")
    model.train(data=data, epochs=1, imgsz=imgsz, batch=4, device="cpu", workers=0, plots=False,
                project=out, name="run", exist_ok=True, verbose=False, amp=False)
    counts = {}
    for cache in sorted(Path(data).parent.joinpath("labels").glob("*.cache")):
        found, missing, empty, corrupt, total = np.load(cache, allow_pickle=True).item()["results"]
        counts[cache.stem] = {"found": found, "missing": missing, "empty": empty, "corrupt": corrupt, "images": total}
    losses = {k: round(float(v), 4) for k, v in (model.trainer.label_loss_items(model.trainer.tloss) or {}).items()}
    print("RESULT " + json.dumps({"labels": counts, "train_losses": losses}))
    """
)


def scene(rng: np.random.Generator, width: int, height: int) -> tuple[np.ndarray, Boxes]:
    """An image of 2..5 filled polygons (star-shaped, some in two parts, some cut by the border) and its boxes."""
    pixels = np.full((height, width, 3), 30, np.uint8)
    xyxy, labels, shapes = [], [], []
    for _ in range(int(rng.integers(2, 6))):
        label = int(rng.integers(0, len(CLASSES)))
        parts = []
        for _ in range(1 if rng.random() < 0.7 else 2):
            count = int(rng.integers(5, 12))
            angles = np.sort(rng.uniform(0, 2 * np.pi, count))
            centre = rng.uniform([-10, -10], [width + 10, height + 10])
            radii = rng.uniform(10, 40, count)
            ring = centre + radii[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)
            parts.append(np.clip(ring, 0, (width, height)))
        mask = np.zeros((height, width), np.uint8)
        cv2.fillPoly(mask, [np.round((p - 0.5) * 16).astype(np.int32) for p in parts], 1, cv2.LINE_8, shift=4)
        if mask.sum() < 50:
            continue
        pixels[mask.astype(bool)] = COLOURS[label]
        points = np.concatenate(parts)
        xyxy.append([*points.min(axis=0), *points.max(axis=0)])
        labels.append(label)
        shapes.append([part.ravel().tolist() for part in parts])
    return pixels, Boxes(np.array(xyxy).reshape(-1, 4), labels, {"segmentation": object_column(shapes)})


def make_source(root: Path, images: int) -> Path:
    """The deterministic polygon dataset, written as COCO by bboxaug."""
    rng = np.random.default_rng(2026)
    records = []
    for split in ("train", "val"):
        for k in range(images):
            pixels, boxes = scene(rng, 256, 192)
            path = root / "pixels" / split / f"{k:03d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path)
            records.append(ImageRecord(path.name, split, 256, 192, boxes, path))
    dataset = Dataset(tuple(ClassInfo(k, name) for k, name in enumerate(CLASSES)), tuple(records))
    bboxaug.save(dataset, root / "coco", to="coco")
    return root / "coco"


POLICY = {
    "backend": "albumentations",
    "boxes": {"min_visibility": 0.3, "min_area": 16, "min_size": 2},
    "transforms": [
        {"HorizontalFlip": {"p": 0.5}},
        {"Affine": {"rotate": [-90, 90], "scale": [0.8, 1.2], "border_mode": 0, "fill": 0, "p": 1.0}},
        {"Perspective": {"scale": [0.03, 0.08], "border_mode": 0, "fill": 0, "p": 0.5}},
    ],
}


def train(python: str, dataset: Path, imgsz: int, work: Path) -> dict:
    """Train in the Ultralytics Python on `dataset` and return what it reported (or the failure)."""
    done = subprocess.run(
        [python, "-c", TRAIN, str(dataset / "data.yaml"), str(work), str(imgsz)],
        capture_output=True,
        text=True,
        env={**os.environ, "YOLO_OFFLINE": "1"},
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-15:]}
    return json.loads(lines[-1][len("RESULT ") :])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--python", default=os.environ.get("BBOXAUG_ULTRALYTICS_PYTHON"), help="Python with ultralytics"
    )
    parser.add_argument("--corpus", type=Path, help="the real corpus folder (adds the wagon defect set)")
    parser.add_argument("--images", type=int, default=12, help="images per split of the generated set")
    parser.add_argument("--imgsz", type=int, default=160)
    parser.add_argument("--workdir", type=Path, help="kept when given; else a temporary folder, removed")
    args = parser.parse_args()
    if not args.python:
        parser.error("name the Python that has ultralytics: --python or BBOXAUG_ULTRALYTICS_PYTHON")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bboxaug-ultralytics-seg-"))
    try:
        source = make_source(work, args.images)
        outputs = {}
        converted = bboxaug.convert(source, work / "converted", to="yolo")
        outputs["converted"] = (work / "converted", converted.report)
        augmented = bboxaug.augment(source, work / "augmented", policy=POLICY, copies=3, seed=0, to="yolo")
        outputs["augmented"] = (work / "augmented", augmented.report)
        if args.corpus:
            wagon = args.corpus / "wagon_defect_coco_test" / "test"
            outputs["wagon"] = (work / "wagon", bboxaug.convert(wagon, work / "wagon", to="yolo").report)
        failed = False
        for name, (folder, report) in outputs.items():
            counts = {key: value for key, value in sorted(report.counts.items()) if key != "skipped_items"}
            result = train(args.python, folder, args.imgsz, work / f"runs-{name}")
            print(f"{name}: bboxaug counts {json.dumps(counts)}")
            print(f"{name}: ultralytics {json.dumps(result)}")
            labels = result.get("labels", {})
            failed |= "error" in result or not labels
            failed |= any(split["corrupt"] or split["missing"] for split in labels.values())
        return 1 if failed else 0
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
