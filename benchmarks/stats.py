#!/usr/bin/env python3
"""`bboxaug stats` benchmark on the conversion benchmark's synthetic COCO.

Writes the same deterministic detection set as ``benchmarks/convert.py`` (its generator, same seed: 20,000
images and 200,000 boxes by default, sizes in the JSON, no pixels) as one COCO file, then times the command
``bboxaug stats FILE --json OUT --quiet`` end to end in a fresh process (import, read, statistics, anchors, JSON),
best of ``--repeat``, and the same with ``--plot``. It also times the steps in this process (reading the file,
``compute_stats``) and checks the figures against the generator's own counts, so a fast wrong answer fails.

Usage::

    python benchmarks/stats.py                      # 20,000 images, best of 3
    python benchmarks/stats.py --images 2000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from convert import CLASSES, make_images, write_coco  # noqa: E402  (the conversion benchmark's generator)

DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "bboxaug-stats-bench"
BBOXAUG = Path(sys.executable).parent / "bboxaug"


def expected_counts(images: list) -> dict:
    """Images, negatives, boxes, per-class images and boxes, and COCO size groups, from the generator's data."""
    boxes = Counter(box.label for image in images for box in image.boxes)
    per_image = Counter(label for image in images for label in {box.label for box in image.boxes})
    areas = [(box.x1 - box.x0) * (box.y1 - box.y0) for image in images for box in image.boxes]
    return {
        "images": len(images),
        "negatives": sum(1 for image in images if not image.boxes),
        "boxes": len(areas),
        "classes": {name: {"images": per_image[name], "boxes": boxes[name]} for name in CLASSES},
        "size_groups": {
            "small": sum(a < 32**2 for a in areas),
            "medium": sum(32**2 <= a < 96**2 for a in areas),
            "large": sum(a >= 96**2 for a in areas),
        },
    }


def timed_command(arguments: list[str], repeat: int) -> float:
    """Best wall time of the command over `repeat` runs, each in a fresh process."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(arguments, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--boxes-per-image", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    args = parser.parse_args(argv)

    images = make_images(args.images, args.boxes_per_image)
    shutil.rmtree(args.workdir, ignore_errors=True)
    source = args.workdir / "coco" / "annotations" / "instances_train.json"
    write_coco(images, source)
    print(
        f"input: {len(images)} images, {sum(len(i.boxes) for i in images)} boxes, {source} "
        f"({source.stat().st_size / 1e6:.1f} MB)"
    )

    from bboxaug.inspection.stats import compute_stats
    from bboxaug.pipeline.source import load

    started = time.perf_counter()
    dataset = load(source, fmt="coco")
    read = time.perf_counter() - started
    started = time.perf_counter()
    stats = compute_stats(dataset)
    computed = time.perf_counter() - started
    want = expected_counts(images)
    wrong = [key for key, value in want.items() if stats[key] != value]
    print(
        f"in process: read {read:.2f} s, compute_stats (with 9 anchors) {computed:.2f} s; "
        f"figures {'WRONG: ' + ', '.join(wrong) if wrong else 'match the generator'}"
    )

    output = args.workdir / "stats.json"
    command = [str(BBOXAUG), "stats", str(source), "--json", str(output), "--quiet"]
    plain = timed_command(command, args.repeat)
    with_plot = timed_command([*command, "--plot", str(args.workdir / "stats.png")], args.repeat)
    written = json.loads(output.read_text(encoding="utf-8"))
    wrong += [key for key, value in want.items() if written[key] != value]
    print(
        f"$ {' '.join(command)}\n  best of {args.repeat}: {plain:.2f} s; with --plot: {with_plot:.2f} s; "
        f"mean best IoU of the anchors {written['anchors']['mean_best_iou']}"
    )
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
