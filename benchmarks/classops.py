#!/usr/bin/env python3
"""Class operations and filters benchmark: how long the class step and the filter step take on a large table.

Builds an `ImageTable` in memory (no files): `--images` images of 700x700, 0-19 boxes each (a fifth of them
negatives), boxes of 1-80 px per side, 20 classes, 10 % of the images in `val`. Then times, once each:

- the class step: `ClassOps` merging two classes, renaming one, dropping one by the map and one by
  `--drop-classes`;
- the filter step: `Filters(min_box_size=8, min_box_area=200, negatives=0.5, drop_empty_classes=True)`.

Both work on the whole box table with numpy; the negatives kept are chosen by a BLAKE2b hash per negative image.

Usage::

    python benchmarks/classops.py                  # 200,000 images
    python benchmarks/classops.py --images 2000000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bboxaug.core.model import Boxes, ClassInfo, Dataset, text_column
from bboxaug.core.report import Report
from bboxaug.core.table import ImageTable, offsets_of
from bboxaug.pipeline.classes import ClassOps
from bboxaug.pipeline.filters import Filters

CLASSES = 20


def synthetic(images: int, seed: int = 0) -> Dataset:
    """The table described in the module docstring."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 20, images)
    counts[rng.random(images) < 0.2] = 0
    boxes = int(counts.sum())
    corner = rng.uniform(0, 600, (boxes, 2))
    xyxy = np.concatenate([corner, corner + rng.uniform(1, 80, (boxes, 2))], axis=1)
    table = ImageTable(
        names=text_column(f"img_{k:07d}.jpg" for k in range(images)),
        split_codes=(rng.random(images) < 0.1).astype(np.int32),
        split_names=("train", "val"),
        widths=np.full(images, 700),
        heights=np.full(images, 700),
        boxes=Boxes.wrap(xyxy, rng.integers(0, CLASSES, boxes).astype(np.int64), {}),
        offsets=offsets_of(counts),
    )
    return Dataset(tuple(ClassInfo(k, f"c{k}") for k in range(CLASSES)), table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200_000)
    images = parser.parse_args().images
    dataset = synthetic(images)
    report = Report()
    ops = ClassOps({"c1": "merged", "c2": "merged", "c3": None, "c4": "renamed"}, drop=("c5",))
    start = time.perf_counter()
    mapped = ops.apply(dataset, report)
    class_seconds = time.perf_counter() - start
    filters = Filters(min_box_size=8, min_box_area=200, negatives=0.5, drop_empty_classes=True)
    start = time.perf_counter()
    filtered = filters.apply(mapped, report)
    filter_seconds = time.perf_counter() - start
    print(f"{images:,} images, {dataset.box_count:,} boxes, {dataset.negative_count:,} negatives")
    print(f"class step  {class_seconds:6.2f} s")
    print(f"filter step {filter_seconds:6.2f} s")
    print(f"left: {len(filtered.images):,} images, {filtered.box_count:,} boxes")
    print(f"counts {dict(sorted(report.counts.items()))}")


if __name__ == "__main__":
    main()
