#!/usr/bin/env python3
"""`validate --near-duplicates` on the corpus: the pairs the hash alone proposes, the pairs reported, and how many
planted copies of every corpus photograph are found.

For each corpus dataset: the pairs of images whose perceptual hashes lie within `MAX_DISTANCE` bits (what a
hash-only check would report), the pairs `find_near_duplicates` reports (the boxes must agree too), and, with
``--pairs DIR``, each hash pair saved side by side as a PNG to look at. Then every photograph is copied four ways
(half size, JPEG quality 40, 1 % and 2 % cut off the top and left), each saved as a JPEG at quality 95 and hashed
as `validate` hashes a file, and the copies within `MAX_DISTANCE` bits of their original are counted per kind,
with the largest distance seen.

Usage::

    python benchmarks/near_duplicates.py ../shared/corpus [--pairs /tmp/pairs]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from bboxaug.core.report import Report
from bboxaug.core.table import as_table
from bboxaug.inspection.near_duplicates import (
    MAX_DISTANCE,
    close_hashes,
    find_near_duplicates,
    fingerprint,
    hamming,
    hash_images,
)
from bboxaug.pipeline.source import load

DATASETS = ("bccd_voc/BCCD", "chess_coco_test/test", "cards_voc_subset/images/test", "wagon_defect_coco_test/test")


def copies(picture: Image.Image) -> dict[str, Image.Image]:
    """The four planted copies of a picture."""
    width, height = picture.size
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=40)
    return {
        "half size": picture.resize((width // 2, height // 2), Image.BILINEAR),
        "JPEG quality 40": Image.open(io.BytesIO(buffer.getvalue())),
        "1 % shift": picture.crop((width // 100, height // 100, width, height)),
        "2 % shift": picture.crop((width * 2 // 100, height * 2 // 100, width, height)),
    }


def side_by_side(first: Path, second: Path, out: Path) -> None:
    pictures = [ImageOps.exif_transpose(Image.open(path)).convert("RGB") for path in (first, second)]
    pictures = [p.resize((round(p.width * 320 / p.height), 320)) for p in pictures]
    sheet = Image.new("RGB", (pictures[0].width + pictures[1].width + 8, 320), "white")
    sheet.paste(pictures[0], (0, 0))
    sheet.paste(pictures[1], (pictures[0].width + 8, 0))
    sheet.save(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--pairs", type=Path, help="Save every hash pair side by side here.")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)

    print(f"| dataset | images | pairs within {MAX_DISTANCE} bits (hash alone) | pairs reported |")
    print("|---|---|---|---|")
    distances: dict[str, list[int]] = {}
    for folder in DATASETS:
        dataset = load(args.corpus / folder, report=Report(on_error="skip"))
        table = as_table(dataset.images)
        prints = hash_images(table, jobs=args.jobs)
        hashes = np.array([f.hash for f in prints], dtype=np.uint64)
        first, second = close_hashes(hashes)
        reported = find_near_duplicates(dataset, fingerprints=prints)
        print(f"| {folder} | {len(table)} | {len(first)} | {len(reported.later)} |")
        if args.pairs is not None:
            args.pairs.mkdir(parents=True, exist_ok=True)
            for k, (one, other) in enumerate(zip(first.tolist(), second.tolist(), strict=True)):
                bits = int(hamming(hashes[[one]], hashes[[other]])[0])
                side_by_side(table.sources[one], table.sources[other], args.pairs / f"{folder[:5]}-{k:03d}-{bits}.png")
        with tempfile.TemporaryDirectory() as scratch:
            for row, source in enumerate(table.sources.tolist()):
                picture = ImageOps.exif_transpose(Image.open(source)).convert("RGB")
                for kind, copy in copies(picture).items():
                    path = Path(scratch) / "copy.jpg"
                    copy.save(path, quality=95)  # hashed as validate hashes a file
                    copied = np.array([fingerprint(path).hash], dtype=np.uint64)
                    distances.setdefault(kind, []).append(int(hamming(copied, hashes[[row]])[0]))
    print(f"\n| planted copy | found within {MAX_DISTANCE} bits | largest distance |")
    print("|---|---|---|")
    for kind, values in distances.items():
        found = sum(v <= MAX_DISTANCE for v in values)
        print(f"| {kind} | {found} of {len(values)} | {max(values)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
