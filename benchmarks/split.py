#!/usr/bin/env python3
"""`bboxaug split` benchmark: stratified against random splits of a generated multi-label, imbalanced detection set
and of the corpus.

The generated set (seeded) is a YOLO dataset of 2,000 tiny distinct PNGs, all in one split, with 1-15 boxes per
image over 20 classes whose frequencies span 100:1 (class k is drawn with weight 100^(-k/19)). With
``--clustered`` each image holds only 1-3 of the classes, so a rare class comes in a few images with several
boxes each (the harder case). Each seed is split with ``bboxaug.split(..., ratios=0.8,0.1,0.1)`` twice, stratified
and ``method="random"``, and the written label files are read back here to measure, per split, the worst
per-class deviation of the split's share of the class's boxes from its ratio, the classes with at least 3 boxes
missing from some split, and the deviation of the split's share of the images from its ratio.

``--corpus DIR`` does the same on the corpus datasets (BCCD, chess), measured from ``split.json``.

Usage::

    python benchmarks/split.py                  # seeds 0-4, independent classes per box
    python benchmarks/split.py --clustered
    python benchmarks/split.py --corpus ../shared/corpus
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "bboxaug-split-bench"
RATIOS = (0.8, 0.1, 0.1)
NAMES = ("train", "val", "test")


def generate(root: Path, *, images: int = 2000, classes: int = 20, seed: int = 12, clustered: bool = False) -> Path:
    """The YOLO dataset described in the module docstring; returns its data.yaml."""
    rng = np.random.default_rng(seed)
    weights = 100.0 ** (-np.arange(classes) / (classes - 1))
    weights /= weights.sum()
    pictures, labels = root / "images" / "train", root / "labels" / "train"
    pictures.mkdir(parents=True)
    labels.mkdir(parents=True)
    for index in range(images):
        count = int(rng.integers(1, 16))
        if clustered:
            present = rng.choice(classes, size=int(rng.integers(1, 4)), replace=False, p=weights)
            drawn = rng.choice(present, size=count)
        else:
            drawn = rng.choice(classes, size=count, p=weights)
        pixels = np.zeros((16, 16, 3), np.uint8)
        pixels.reshape(-1)[:4] = np.frombuffer(index.to_bytes(4, "big"), np.uint8)  # distinct bytes per image
        Image.fromarray(pixels).save(pictures / f"img{index:05d}.png")
        centres = rng.uniform(0.2, 0.8, size=(count, 2))
        lines = [f"{label} {x:.4f} {y:.4f} 0.1 0.1" for label, (x, y) in zip(drawn.tolist(), centres, strict=True)]
        (labels / f"img{index:05d}.txt").write_text("\n".join(lines) + "\n")
    names = ", ".join(f"c{k:02d}" for k in range(classes))
    (root / "data.yaml").write_text(f"path: .\ntrain: images/train\nval: images/train\nnames: [{names}]\n")
    return root / "data.yaml"


def measure_yolo(root: Path, classes: int) -> dict[str, float]:
    """Figures of a written YOLO split, from its label files."""
    held = np.zeros((len(NAMES), classes), dtype=np.int64)
    images = np.zeros(len(NAMES), dtype=np.int64)
    for position, name in enumerate(NAMES):
        for labels in (root / "labels" / name).glob("*.txt"):
            images[position] += 1
            for line in labels.read_text().split("\n"):
                if line.strip():
                    held[position, int(line.split()[0])] += 1
    return figures(held, images)


def figures(held: np.ndarray, images: np.ndarray) -> dict[str, float]:
    """Worst |share - ratio| of a class's boxes over splits and classes, the classes of 3 or more boxes missing
    from a split, and the worst |share - ratio| of the images."""
    totals = held.sum(axis=0)
    used = totals > 0
    shares = held[:, used] / totals[used]
    ratios = np.array(RATIOS)[:, None]
    return {
        "worst_class": float(np.abs(shares - ratios).max()),
        "worst_per_split": [float(v) for v in np.abs(shares - ratios).max(axis=1)],
        "missing": int(((held == 0) & (totals >= 3)[None, :]).any(axis=0).sum()),
        "worst_images": float(np.abs(images / images.sum() - np.array(RATIOS)).max()),
    }


def run_split(source: Path, dst: Path, method: str, seed: int) -> tuple[dict, float]:
    from bboxaug.commands.split import split

    started = time.perf_counter()
    result = split(source, dst, ratios=RATIOS, method=method, seed=seed, images="hardlink", jobs=1)
    return result.manifest, time.perf_counter() - started


def from_manifest(manifest: dict) -> dict[str, float]:
    planned = manifest["planned"]
    classes = list(planned[NAMES[0]]["boxes"])
    held = np.array([[planned[name]["boxes"][c] for c in classes] for name in NAMES])
    images = np.array([planned[name]["images"] for name in NAMES])
    return figures(held, images)


def report(label: str, rows: list[tuple[int, dict, dict, float, float]]) -> None:
    print(f"\n{label}")
    print(
        "| seed | worst class share off (stratified / random) | per split train, val, test (stratified) |"
        " per split (random) | classes >= 3 boxes missing a split | worst image share off | time |"
    )
    print("|---|---|---|---|---|---|---|")
    for seed, ours, theirs, took, took_random in rows:
        print(
            f"| {seed} | {100 * ours['worst_class']:.2f} / {100 * theirs['worst_class']:.2f} points | "
            + ", ".join(f"{100 * v:.2f}" for v in ours["worst_per_split"])
            + " | "
            + ", ".join(f"{100 * v:.2f}" for v in theirs["worst_per_split"])
            + f" | {ours['missing']} / {theirs['missing']} | {100 * ours['worst_images']:.2f} / "
            f"{100 * theirs['worst_images']:.2f} points | {took:.1f} s / {took_random:.1f} s |"
        )
    ours_all = [row[1]["worst_class"] for row in rows]
    theirs_all = [row[2]["worst_class"] for row in rows]
    print(
        f"mean worst class share off: stratified {100 * np.mean(ours_all):.2f}, random {100 * np.mean(theirs_all):.2f}"
        f" points ({np.mean(theirs_all) / max(np.mean(ours_all), 1e-9):.1f}x)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--clustered", action="store_true")
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    args = parser.parse_args(argv)
    shutil.rmtree(args.workdir, ignore_errors=True)
    if args.corpus is not None:
        for folder in ("bccd_voc/BCCD", "chess_coco_test/test/_annotations.coco.json"):
            rows = []
            for seed in range(args.seeds):
                out = args.workdir / f"{Path(folder).parts[0]}-{seed}"
                ours, took = run_split(args.corpus / folder, out / "stratified", "stratify", seed)
                theirs, took_random = run_split(args.corpus / folder, out / "random", "random", seed)
                rows.append((seed, from_manifest(ours), from_manifest(theirs), took, took_random))
            report(folder, rows)
        return 0
    source = generate(args.workdir / "generated", images=args.images, clustered=args.clustered)
    rows = []
    for seed in range(args.seeds):
        out = args.workdir / f"seed{seed}"
        _, took = run_split(source, out / "stratified", "stratify", seed)
        _, took_random = run_split(source, out / "random", "random", seed)
        rows.append((seed, measure_yolo(out / "stratified", 20), measure_yolo(out / "random", 20), took, took_random))
    kind = "1-3 classes per image" if args.clustered else "each box's class drawn on its own"
    report(f"generated: {args.images} images, 20 classes (100:1), 1-15 boxes per image, {kind}", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
