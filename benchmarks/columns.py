#!/usr/bin/env python3
"""What a dataset's columns hold in memory: the part of a coordinator's memory that must grow with the images.

Reads a dataset as bboxaug does and prints the bytes of each column of its image table and box table, counting
the Python strings an object column refers to (each name is a string of its own), with the total and the bytes
per image. Used to tell the growth of a coordinator from 20,000 to 200,000 images that is the dataset itself
from the growth of what a stage holds while it runs (README, "Scale").

Usage::

    python benchmarks/columns.py /dev/shm/bbscale/data/tiny-yolo-200000-seed0
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc
from pathlib import Path

import numpy as np
from numpy.dtypes import StringDType

import bboxaug
from bboxaug.core.table import ImageTable


def array_bytes(column: np.ndarray) -> int:
    """The array's own bytes, with, for a text column, the buffer its longer strings are in (traced as a copy is
    made), and for an object column the distinct strings it refers to."""
    if isinstance(column.dtype, StringDType):
        tracemalloc.start()
        try:
            column.copy()
            return int(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    if column.dtype != object:
        return int(column.nbytes)
    strings = {id(value): value for value in column.tolist() if isinstance(value, str)}
    return int(column.nbytes) + sum(sys.getsizeof(value) for value in strings.values())


def column_bytes(table: ImageTable) -> dict[str, int]:
    """Bytes per column of `table`."""
    sizes = {
        name: array_bytes(getattr(table, name))
        for name in ("names", "split_codes", "widths", "heights", "offsets", "source_ids", "attributes", "box_columns")
        if getattr(table, name) is not None
    }
    if table.sources is not None:
        others = table.sources.others
        sizes["sources"] = int(table.sources.codes.nbytes) + array_bytes(table.sources.tails)
        sizes["sources"] += 0 if others is None else array_bytes(others)
    boxes = table.boxes
    sizes["boxes: xyxy"] = int(boxes.xyxy.nbytes)
    sizes["boxes: labels"] = int(boxes.labels.nbytes)
    sizes.update({f"boxes: {name}": array_bytes(boxes.column(name)) for name in boxes.columns})
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path, help="a dataset folder or annotation file bboxaug reads")
    args = parser.parse_args()
    images = bboxaug.load(args.dataset).images
    if not isinstance(images, ImageTable):
        print(f"{args.dataset}: read as records, not columns", file=sys.stderr)
        return 1
    sizes = column_bytes(images)
    total = sum(sizes.values())
    print(f"{len(images):,} images, {len(images.boxes):,} boxes")
    print("| column | MB |\n| --- | ---: |")
    for name, size in sizes.items():
        print(f"| {name} | {size / 1e6:.2f} |")
    print(f"| total | {total / 1e6:.2f} |")
    print(f"{total / len(images):.0f} bytes per image")
    return 0


if __name__ == "__main__":
    sys.exit(main())
