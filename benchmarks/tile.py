#!/usr/bin/env python3
"""Tiling benchmark: `bboxaug tile` against the JPEG decode/encode floor.

Generates (once, cached in the workdir) `--images` JPEGs of 4000x3000 (smooth multi-scale texture, sensor-like
grain, 40 small defects of 8-30 px each, quality 90) with one COCO file, then cuts every image into 512 px tiles
with the default overlap of 0.2 (80 tiles per image), written as JPEG quality 95:

- bboxaug keep: `bboxaug.commands.tile.tile(..., partial="keep")`, COCO in and out: every grid tile is written, so it
  encodes exactly the tiles the floor encodes;
- bboxaug: the same with the defaults (`partial="reject"`: tiles cutting a defect below half its area are not
  written, and an extra tile is placed around a defect that no kept tile holds whole);
- floor: the least any tiler must do, in one process with `cv2.setNumThreads(1)`: decode each image once
  (`cv2.imread`) and `cv2.imencode` every grid tile, nothing else (no colour conversion, no box work, no file
  writes). Its time divided by the number of jobs is the time of a perfectly parallel tool with no overhead.
- floor + write: the floor, each tile then written to its own file (`open(...).write`): what any tiler pays
  before it does anything about boxes.

Every measurement runs in a fresh Python process (this interpreter), in which only the work is timed (imports
apart). Runs are interleaved and the best of `--repeat` is kept. CPU time is the process's own (bboxaug's workers
are threads) plus that of any child process it reaped; peak memory is the process's own high-water mark, or a
reaped child's if larger. Every bboxaug output is checked: the
manifest's counts add up, every tile it lists is on disk, a 512x512 JPEG, and the COCO file lists each one.

Usage::

    python benchmarks/tile.py                      # 20 images, best of 3, jobs 1 and every core
    python benchmarks/tile.py --images 5 --repeat 1 --jobs 1

Prints a Markdown table and writes the same results to `WORKDIR/results.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "bboxaug-tile-bench"
SEED = 20240611
GENERATOR_VERSION = 1
WIDTH, HEIGHT = 4000, 3000
TILE = 512
OVERLAP = 0.2
DEFECTS = 40
SOURCE_QUALITY = 90
QUALITY = 95
CLASSES = ("scratch", "dent", "spot")
TOOLS = ("floor", "floor + write", "bboxaug keep", "bboxaug")
FLOORS = ("floor", "floor + write")


def cores() -> int:
    return len(os.sched_getaffinity(0))


# --- synthetic data -------------------------------------------------------------------------------------------


def defects(index: int) -> list[tuple[int, int, int, int, int]]:
    """The defects of image `index`: (class, x0, y0, x1, y1), 8-30 px a side, anywhere in the image."""
    rng = random.Random(f"{SEED}-{index}")
    boxes = []
    for _ in range(DEFECTS):
        w, h = rng.randint(8, 30), rng.randint(8, 30)
        x0, y0 = rng.randint(0, WIDTH - w), rng.randint(0, HEIGHT - h)
        boxes.append((rng.randrange(len(CLASSES)), x0, y0, x0 + w, y0 + h))
    return boxes


def render(index: int) -> Any:
    """The BGR pixels of image `index`: a textured background with grain, and the defects as darker patches."""
    import cv2
    import numpy as np

    rng = np.random.default_rng([SEED, index])
    canvas = np.full((HEIGHT, WIDTH, 3), 80.0, np.float32)
    for cells, amplitude in ((3, 90.0), (16, 40.0), (64, 20.0)):
        small = rng.random((cells * HEIGHT // WIDTH + 2, cells + 2, 3), dtype=np.float32)
        canvas += cv2.resize(small, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC) * amplitude
    canvas += rng.standard_normal((HEIGHT, WIDTH, 3), dtype=np.float32) * 4.0
    pixels = np.clip(canvas, 0, 255).astype(np.uint8)
    for _, x0, y0, x1, y1 in defects(index):
        pixels[y0:y1, x0:x1] //= 3
    return pixels


def dataset(workdir: Path, count: int) -> Path:
    """The COCO dataset of `count` images (`annotations/instances_train.json`, `images/train/`), made once."""
    import cv2

    root = workdir / "data" / str(count)
    stamp = root / "ready.json"
    expected = {"generator": GENERATOR_VERSION, "images": count}
    if stamp.exists() and json.loads(stamp.read_text()) == expected:
        return root
    shutil.rmtree(root, ignore_errors=True)
    (root / "images" / "train").mkdir(parents=True)
    images, annotations = [], []
    for index in range(count):
        name = f"{index:04d}.jpg"
        cv2.imwrite(str(root / "images" / "train" / name), render(index), [cv2.IMWRITE_JPEG_QUALITY, SOURCE_QUALITY])
        images.append({"id": index + 1, "file_name": name, "width": WIDTH, "height": HEIGHT})
        for label, x0, y0, x1, y1 in defects(index):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": index + 1,
                    "category_id": label + 1,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": (x1 - x0) * (y1 - y0),
                    "iscrowd": 0,
                }
            )
    (root / "annotations").mkdir()
    (root / "annotations" / "instances_train.json").write_text(
        json.dumps(
            {
                "images": images,
                "annotations": annotations,
                "categories": [{"id": i, "name": name} for i, name in enumerate(CLASSES, start=1)],
            }
        )
    )
    stamp.write_text(json.dumps(expected))
    return root


def grid(length: int) -> list[int]:
    """Tile starts along one axis: every stride, the last one ending on the border."""
    stride = TILE - round(OVERLAP * TILE)
    starts = [0]
    while starts[-1] + TILE < length:
        starts.append(min(starts[-1] + stride, length - TILE))
    return starts


# --- the tools, in the measured process -------------------------------------------------------------------------


def run_floor(src: Path, dst: Path | None) -> dict[str, float]:
    """Decode each image once and encode each grid tile (and write it to a file in `dst`, if given), one
    thread; the summed times and the tile count."""
    import cv2

    cv2.setNumThreads(1)
    times = {"decode_s": 0.0, "encode_s": 0.0, "tiles": 0}
    if dst is not None:
        dst.mkdir(parents=True)
    for path in sorted((src / "images" / "train").glob("*.jpg")):
        started = time.perf_counter()
        pixels = cv2.imread(str(path))
        times["decode_s"] += time.perf_counter() - started
        started = time.perf_counter()
        for y in grid(pixels.shape[0]):
            for x in grid(pixels.shape[1]):
                ok, data = cv2.imencode(".jpg", pixels[y : y + TILE, x : x + TILE], [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
                if not ok:
                    raise RuntimeError(f"cannot encode a tile of {path}")
                if dst is not None:
                    with open(dst / f"{path.stem}_{x}_{y}.jpg", "wb") as out:
                        out.write(data.tobytes())
                times["tiles"] += 1
        times["encode_s"] += time.perf_counter() - started
    return times


def worker(spec: dict[str, Any]) -> int:
    """Run one tool once in this fresh process; write its timings, or its error, to `spec["result"]`."""
    outcome: dict[str, Any] = {}
    try:
        started = time.perf_counter()
        import cv2  # noqa: F401

        if spec["tool"] not in FLOORS:
            from bboxaug.commands.tile import tile
        outcome["import_s"] = time.perf_counter() - started
        cpu_started = time.process_time()
        started = time.perf_counter()
        if spec["tool"] in FLOORS:
            outcome.update(run_floor(Path(spec["src"]), Path(spec["dst"]) if spec["tool"] == "floor + write" else None))
        else:
            tile(
                spec["src"],
                spec["dst"],
                size=TILE,
                overlap=OVERLAP,
                jobs=spec["jobs"],
                quality=QUALITY,
                partial="keep" if spec["tool"] == "bboxaug keep" else "reject",
            )
        outcome["seconds"] = time.perf_counter() - started
        outcome["own_cpu_s"] = time.process_time() - cpu_started
    except BaseException as error:  # any failure is the tool's result, reported as such
        outcome["error"] = f"{type(error).__name__}: {error}"
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    outcome["cpu_s"] = outcome.get("own_cpu_s", 0.0) + children.ru_utime + children.ru_stime
    with open("/proc/self/status", encoding="ascii") as status:
        own_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    outcome["peak_rss_mb"] = max(own_kb, children.ru_maxrss) / 1024
    Path(spec["result"]).write_text(json.dumps(outcome))
    return 0 if "error" not in outcome else 1


# --- measuring and checking ---------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float | None
    cpu_s: float | None
    peak_rss_mb: float | None
    tiles: int | None = None
    decode_s: float | None = None
    encode_s: float | None = None
    check: str = ""
    error: str | None = None


@dataclass
class Result:
    tool: str
    jobs: int
    runs: list[Run] = field(default_factory=list)

    def best(self, name: str) -> float | None:
        values = [getattr(run, name) for run in self.runs if getattr(run, name) is not None and not run.error]
        return min(values) if values else None

    @property
    def failure(self) -> str | None:
        return next((run.error for run in self.runs if run.error), None)


def check_output(dst: Path) -> tuple[int, str]:
    """The tiles written, after checking them against the manifest and the COCO file."""
    from PIL import Image

    manifest = json.loads((dst / "tiles.json").read_text())
    counts = manifest["tile_counts"]
    if counts["planned"] != counts["written"] + counts["rejected"] + counts["negatives_skipped"] + counts["failed"]:
        raise RuntimeError(f"tile counts do not add up: {counts}")
    coco = json.loads((dst / "annotations" / "instances_train.json").read_text())
    listed = {image["file_name"] for image in coco["images"]}
    for entry in manifest["tiles"]:
        with Image.open(dst / entry["path"]) as picture:
            if picture.size != (TILE, TILE) or picture.format != "JPEG":
                raise RuntimeError(f"{entry['path']}: {picture.format} {picture.size}")
        if entry["image"].split("/", 1)[1] not in listed:
            raise RuntimeError(f"{entry['image']} is not in the COCO file")
    boxes = manifest["box_counts"]
    return counts["written"], (
        f"{counts['written']} tiles ({counts['rejected']} rejected, {counts['extra']} extra), "
        f"{boxes['kept'] + boxes['kept_partial']} boxes; "
        f"{manifest['source_boxes']['whole_in_no_tile']} defects whole in no tile"
    )


def measure(tool: str, jobs: int, src: Path, workdir: Path) -> Run:
    dst = workdir / "out" / f"{tool.replace(' ', '-')}-{jobs}"
    shutil.rmtree(dst, ignore_errors=True)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        spec = {"tool": tool, "jobs": jobs, "src": str(src), "dst": str(dst), "result": str(Path(scratch) / "r.json")}
        process = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
            cwd=scratch,
            capture_output=True,
            text=True,
            check=False,
        )
        outcome = json.loads(Path(spec["result"]).read_text()) if Path(spec["result"]).exists() else {}
    error = outcome.get("error") or (
        None if outcome else f"exit code {process.returncode}: " + " | ".join(process.stderr.strip().splitlines()[-3:])
    )
    run = Run(
        outcome.get("seconds"),
        outcome.get("cpu_s"),
        outcome.get("peak_rss_mb"),
        outcome.get("tiles"),
        outcome.get("decode_s"),
        outcome.get("encode_s"),
        error=error,
    )
    if tool not in FLOORS and not error:
        try:
            run.tiles, run.check = check_output(dst)
        except (OSError, RuntimeError, KeyError, ValueError) as failure:
            run.error = f"WRONG OUTPUT: {failure}"
    elif not error:
        run.check = (
            f"{run.tiles} tiles encoded{' and written' if tool != 'floor' else ''}: decode "
            f"{run.decode_s:.2f} s, encode{' + write' if tool != 'floor' else ''} {run.encode_s:.2f} s"
        )
    return run


def markdown(results: list[Result], repeat: int, megapixels: float, jobs: list[int]) -> str:
    """The results as a Markdown table; each floor also divided by every job count (a perfectly parallel tool)."""
    floors = {r.tool: r.best("seconds") for r in results if r.tool in FLOORS}
    lines = [
        f"| tool | jobs | seconds (best of {repeat}) | CPU s | peak RSS MB | source MP/s | vs floor "
        "| vs floor + write | output |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for result in results:
        measured = result.best("seconds")
        rows = (
            [(j, None if measured is None else measured / j, j == 1) for j in jobs]
            if result.tool in FLOORS
            else [(result.jobs, measured, True)]
        )
        for count, value, real in rows:
            ratios = [
                "—" if value is None or not floors.get(f) else f"{value / (floors[f] / count):.2f}×" for f in FLOORS
            ]
            cells = [
                result.tool if real else f"{result.tool} / {count} (ideal)",
                str(count),
                "—" if value is None else f"{value:.2f}",
                f"{result.best('cpu_s'):.2f}" if real and value is not None else "—",
                f"{result.best('peak_rss_mb'):.0f}" if real and value is not None else "—",
                "—" if value is None else f"{megapixels / value:.1f}",
                *ratios,
                (result.failure or result.runs[-1].check).replace("|", "/"),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=20, help="number of 4000x3000 images (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool, the best kept (default: %(default)s)")
    parser.add_argument("--jobs", default=f"1,{cores()}", help="bboxaug worker counts to run (default: %(default)s)")
    parser.add_argument("--tools", default=",".join(TOOLS), help="subset of: " + ", ".join(TOOLS))
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="default: %(default)s")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(json.loads(args.worker))
    tools = [tool for tool in TOOLS if tool in args.tools.split(",")]
    jobs = sorted({int(j) for j in args.jobs.split(",")})
    if args.images < 1 or args.repeat < 1 or not tools or min(jobs) < 1:
        parser.error("--images, --repeat and --jobs must be at least 1, and --tools name known tools")
    print(f"$ {shlex.join(sys.orig_argv)}\n", flush=True)
    workdir = args.workdir.resolve()
    started = time.perf_counter()
    src = dataset(workdir, args.images)
    size_mb = sum(p.stat().st_size for p in (src / "images" / "train").glob("*.jpg")) / 1e6
    print(
        f"inputs: {args.images} JPEGs of {WIDTH}x{HEIGHT} ({size_mb:.0f} MB), {DEFECTS} defects each, "
        f"ready in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    results = [Result(tool, 1) for tool in tools if tool in FLOORS]
    results += [Result(tool, j) for tool in tools if tool not in FLOORS for j in jobs]
    for attempt in range(1, args.repeat + 1):
        for result in results:
            if result.failure:
                continue
            run = measure(result.tool, result.jobs, src, workdir)
            result.runs.append(run)
            shown = run.error or f"{run.seconds:.2f} s ({run.cpu_s:.2f} s CPU), {run.peak_rss_mb:.0f} MB, {run.check}"
            print(f"  [{attempt}/{args.repeat}] {result.tool} jobs={result.jobs}: {shown}", flush=True)
    megapixels = args.images * WIDTH * HEIGHT / 1e6
    table = markdown(results, args.repeat, megapixels, jobs)
    report = {
        "command": shlex.join(sys.orig_argv),
        "images": args.images,
        "cpus": cores(),
        "repeat": args.repeat,
        "python": sys.version.split()[0],
        "results": [{**asdict(r), "best_s": r.best("seconds")} for r in results],
    }
    (workdir / "results.json").write_text(json.dumps(report, indent=2))
    print(
        f"\n{args.images} images of {WIDTH}x{HEIGHT}, {TILE} px tiles, overlap {OVERLAP}, JPEG quality {QUALITY}; "
        f"{cores()} CPUs; Python {report['python']}\n"
    )
    print(table)
    print(f"\nresults: {workdir / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
