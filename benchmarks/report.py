#!/usr/bin/env python3
"""`bboxaug report` benchmark: time and file size of the page for a dataset of 1280x720 JPEGs, against the
commands it gathers run one after another (`stats`, `validate`, `preview`).

Writes a deterministic YOLO dataset of ``--images`` photographs-like JPEGs (a textured background, one to eight
boxes of five classes from common to rare, filled shapes where the boxes are, 1280x720, quality 90) into a
work folder, then times each command end to end in a fresh process (import, read, checks, thumbnails, page):

    bboxaug report SRC OUT.html --jobs J            (the gallery's default --max-images, 300)
    bboxaug stats SRC --json OUT.json --quiet --jobs J
    bboxaug validate SRC --json OUT.json --quiet --jobs J
    bboxaug preview SRC OUT.png                      (16 images, its default)

and prints a Markdown table. The page is checked: its stated size is its size, and it holds one thumbnail per
gallery image. The work folder is deleted at the end unless ``--keep``.

Usage::

    python benchmarks/report.py --images 1000 10000     # one run of each size
    python benchmarks/report.py --images 1000 --repeat 3 --jobs 2
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

BBOXAUG = Path(sys.executable).parent / "bboxaug"
DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "report-bench"
WIDTH, HEIGHT = 1280, 720
CLASSES = ("scratch", "spot", "crack", "dent", "inclusion")
SHARES = np.array([0.45, 0.25, 0.15, 0.1, 0.05])  # boxes per class, common to rare
TEXTURES = 8


def make_dataset(root: Path, count: int, seed: int = 0) -> None:
    """`count` JPEGs with YOLO labels in `root` (train and val, 9 to 1), all made from `seed`."""
    rng = np.random.default_rng(seed)
    textures = [
        cv2.GaussianBlur(rng.integers(60, 200, (HEIGHT, WIDTH, 3), dtype=np.uint8), (0, 0), 2.0)
        for _ in range(TEXTURES)
    ]
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    for k in range(count):
        split = "val" if k % 10 == 9 else "train"
        picture = textures[k % TEXTURES].copy()
        lines = []
        for _ in range(int(rng.integers(0, 9))):  # 0 to 8 boxes: some negatives
            label = int(rng.choice(len(CLASSES), p=SHARES))
            w, h = rng.uniform(12, 260, 2)
            x, y = rng.uniform(0, WIDTH - w), rng.uniform(0, HEIGHT - h)
            colour = tuple(int(c) for c in rng.integers(0, 255, 3))
            cv2.rectangle(picture, (int(x), int(y)), (int(x + w) - 1, int(y + h) - 1), colour, -1)
            lines.append(
                f"{label} {(x + w / 2) / WIDTH:.6f} {(y + h / 2) / HEIGHT:.6f} {w / WIDTH:.6f} {h / HEIGHT:.6f}"
            )
        name = f"img_{k:06d}"
        cv2.imwrite(str(root / "images" / split / f"{name}.jpg"), picture, [cv2.IMWRITE_JPEG_QUALITY, 90])
        (root / "labels" / split / f"{name}.txt").write_text("".join(line + "\n" for line in lines))
    names = "".join(f"  {k}: {name}\n" for k, name in enumerate(CLASSES))
    (root / "data.yaml").write_text(f"path: .\ntrain: images/train\nval: images/val\nnames:\n{names}")


def timed(arguments: list[str], repeat: int) -> float:
    """Best wall time of the command over `repeat` runs, each in a fresh process."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(arguments, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - started)
    return best


def check_page(page: Path, images: int) -> int:
    """The page's thumbnail count, after checking that it states its own size."""
    text = page.read_text(encoding="utf-8")
    stated = re.search(r"<dt>this file</dt><dd>([\d,]+) bytes", text)
    if stated is None or int(stated.group(1).replace(",", "")) != page.stat().st_size:
        raise SystemExit(f"{page}: the stated size is not the file's size")
    thumbnails = text.count('<figure class="tile"')
    if thumbnails != min(images, 300):
        raise SystemExit(f"{page}: {thumbnails} gallery images, expected {min(images, 300)}")
    return thumbnails


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--keep", action="store_true", help="Keep the generated datasets and outputs.")
    args = parser.parse_args(argv)
    jobs = ["--jobs", str(args.jobs)]
    rows = []
    try:
        for count in args.images:
            root = args.workdir / f"images-{count}"
            shutil.rmtree(root, ignore_errors=True)
            started = time.perf_counter()
            make_dataset(root, count)
            made = time.perf_counter() - started
            data = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
            print(f"{count} images: {data / 1e6:.0f} MB written in {made:.0f} s", flush=True)
            src, out = str(root / "data.yaml"), root.parent / f"out-{count}"
            out.mkdir(exist_ok=True)
            report = timed([str(BBOXAUG), "report", src, str(out / "report.html"), *jobs, "--quiet"], args.repeat)
            gallery = check_page(out / "report.html", count)
            stats = timed([str(BBOXAUG), "stats", src, "--json", str(out / "s.json"), "--quiet", *jobs], args.repeat)
            validate = timed(
                [str(BBOXAUG), "validate", src, "--json", str(out / "v.json"), "--quiet", *jobs], args.repeat
            )
            preview = timed([str(BBOXAUG), "preview", src, str(out / "p.png")], args.repeat)
            page = (out / "report.html").stat().st_size
            rows.append(
                f"| {count:,} | {report:.1f} s | {page / 1e6:.1f} MB ({gallery} images) "
                f"| {stats:.1f} s | {validate:.1f} s | {preview:.1f} s | {stats + preview:.1f} s "
                f"| {stats + validate + preview:.1f} s | {(out / 'p.png').stat().st_size / 1e6:.1f} MB |"
            )
            print(rows[-1], flush=True)
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
    print(
        "\n| images | report | page (gallery) | stats | validate | preview | stats + preview "
        "| stats + validate + preview | preview PNG |\n|---|---|---|---|---|---|---|---|---|"
    )
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
