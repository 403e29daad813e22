#!/usr/bin/env python3
"""Real-client check: Ultralytics trains an oriented-box model on YOLO-OBB written by bboxaug.

1. Draws a small DOTA dataset (in `--workdir`): `--images` train and a quarter as many val images of 320x240,
   each with 3-6 filled rotated rectangles of 2 classes (random sizes and angles), one oriented box each.
2. `bboxaug augment` makes 2 copies of every train image (rotations up to 180 degrees, affine with shear,
   perspective, flips; boxes cut by the border re-fitted) and writes the whole set as YOLO-OBB
   (`--to yolo --task obb`).
3. In the Python named by `BBOXAUG_ULTRALYTICS_PYTHON` (or `--python`), which has ultralytics and CPU torch,
   `YOLO("yolov8n-obb.yaml")` (no weights) trains 1 epoch at `--imgsz` on CPU from the written data.yaml, and the
   label counts Ultralytics' loader found (its `labels/*.cache`: found, missing, empty, corrupt) are printed, with
   the messages of any corrupt file.

Exit code 1 when a label is missing or corrupt or training fails. Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from bboxaug.commands.augment import augment
from bboxaug.commands.convert import save
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord, object_column

COLOURS = [(230, 60, 40), (40, 200, 90)]

POLICY = {
    "backend": "albumentations",
    "boxes": {"min_visibility": 0.3, "min_area": 16, "min_size": 2},
    "transforms": [
        {"HorizontalFlip": {"p": 0.5}},
        {"Affine": {"rotate": [-180, 180], "shear": [-10, 10], "scale": [0.8, 1.2], "border_mode": 0, "p": 1.0}},
        {"Perspective": {"scale": [0.02, 0.06], "border_mode": 0, "p": 0.5}},
    ],
}

#: Run in the Ultralytics Python: train one epoch, then print the loader's label counts of each split as JSON.
TRAIN = """
import json, sys
from pathlib import Path
import numpy as np
from ultralytics import YOLO
data, imgsz, project = sys.argv[1], int(sys.argv[2]), sys.argv[3]
model = YOLO("yolov8n-obb.yaml")
model.train(data=data, epochs=1, imgsz=imgsz, batch=8, device="cpu", workers=0, project=project, name="run",
            plots=False, val=True, verbose=False, amp=False)
counts = {}
for cache in sorted(Path(data).parent.glob("labels/*.cache")):
    entry = np.load(cache, allow_pickle=True).item()
    found, missing, empty, corrupt, total = entry["results"]
    counts[cache.stem] = {"images": total, "found": found, "missing": missing, "empty": empty,
                          "corrupt": corrupt, "messages": entry["msgs"]}
print("COUNTS " + json.dumps(counts))
"""


def rotated_rectangle(cx: float, cy: float, width: float, height: float, degrees: float) -> list[float]:
    turn = np.radians(degrees)
    axes = np.array([[np.cos(turn), np.sin(turn)], [-np.sin(turn), np.cos(turn)]])
    local = np.array([[-width, -height], [width, -height], [width, height], [-width, height]]) / 2
    return (local @ axes + (cx, cy)).ravel().tolist()


def draw_dataset(root: Path, train: int, val: int, seed: int) -> Dataset:
    """Images of 3-6 rotated rectangles on a grey, noisy background, as a dataset with oriented boxes."""
    rng = np.random.default_rng(seed)
    images = []
    for split, count in (("train", train), ("val", val)):
        for number in range(count):
            pixels = rng.integers(90, 140, (240, 320, 3), dtype=np.uint8)
            picture = Image.fromarray(pixels)
            pen = ImageDraw.Draw(picture)
            quads, labels = [], []
            for cell in rng.choice(6, size=int(rng.integers(3, 7)), replace=False):
                cx, cy = (cell % 3 + 0.5) * 320 / 3, (cell // 3 + 0.5) * 120
                label = int(rng.integers(0, 2))
                quad = rotated_rectangle(cx, cy, rng.uniform(50, 90), rng.uniform(16, 35), rng.uniform(0, 180))
                pen.polygon([tuple(p) for p in np.reshape(quad, (4, 2)) - 0.5], fill=COLOURS[label])
                quads.append(quad)
                labels.append(label)
            path = root / "pixels" / split / f"{split}_{number:03d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            picture.save(path)
            corners = np.reshape(quads, (-1, 4, 2))
            xyxy = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)
            boxes = Boxes(xyxy, labels, {"obb": object_column(tuple(q) for q in quads)})
            images.append(ImageRecord(path.name, split, 320, 240, boxes, path))
    return Dataset((ClassInfo(None, "red"), ClassInfo(None, "green")), tuple(images))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=os.environ.get("BBOXAUG_ULTRALYTICS_PYTHON"))
    parser.add_argument("--workdir", type=Path, default=None, help="Kept when given; a temporary folder otherwise.")
    parser.add_argument("--images", type=int, default=24, help="Train images drawn (val: a quarter as many).")
    parser.add_argument("--imgsz", type=int, default=160)
    args = parser.parse_args()
    if not args.python:
        print("name the Python that has ultralytics: --python or BBOXAUG_ULTRALYTICS_PYTHON", file=sys.stderr)
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bboxaug-ultralytics-obb-"))
    try:
        save(draw_dataset(workdir, args.images, max(1, args.images // 4), seed=0), workdir / "dota", to="dota")
        result = augment(
            workdir / "dota", workdir / "yolo", policy=POLICY, copies=2, seed=0, to="yolo", task="obb", jobs=2
        )
        print(f"bboxaug wrote {result.counts['images']} images, {result.counts['boxes']} oriented boxes (YOLO-OBB)")
        run = subprocess.run(
            [args.python, "-c", TRAIN, str(workdir / "yolo" / "data.yaml"), str(args.imgsz), str(workdir / "runs")],
            capture_output=True,
            text=True,
            check=False,
        )
        line = next((text for text in run.stdout.splitlines() if text.startswith("COUNTS ")), None)
        if run.returncode or line is None:
            print(run.stdout[-3000:], run.stderr[-3000:], sep="\n", file=sys.stderr)
            print(f"Ultralytics training failed (exit {run.returncode})", file=sys.stderr)
            return 1
        counts = json.loads(line[len("COUNTS ") :])
        for split, figures in counts.items():
            print(
                f"ultralytics {split}: {figures['images']} images, {figures['found']} label files found, "
                f"{figures['missing']} missing, {figures['empty']} empty, {figures['corrupt']} corrupt"
            )
            for message in figures["messages"]:
                print(f"  {message}")
        print("trained 1 epoch of yolov8n-obb on CPU")
        bad = sum(figures["missing"] + figures["corrupt"] for figures in counts.values())
        return 1 if bad else 0
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
