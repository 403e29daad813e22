#!/usr/bin/env python3
"""Augmentation benchmark: bboxaug against a hand-written albumentations + joblib script and a no-overhead floor.

Generates (once, cached in the workdir) a deterministic detection set: `--images` 1280x720 JPEGs (smooth
multi-scale texture, fine grain, unlabelled clutter lines and 5-10 filled rectangles of 4 classes, each one
box) with one COCO file. All tools make `--copies` augmented copies of every image with the same policy
(`--policies`, each measured in turn: `readme`, the README table's HorizontalFlip, Affine,
RandomBrightnessContrast, HueSaturationValue, GaussianBlur; `perspective`, HorizontalFlip, Affine, Perspective,
RandomBrightnessContrast, HueSaturationValue), boxes kept at `min_visibility` 0.3, written as JPEG quality 95:

- bboxaug: `bboxaug.commands.augment.augment` with a policy file written by this script, `jobs` = the cores,
  `originals=False`, COCO in and out.
- hand-written: the script users write (`handwritten`): read the COCO file, one `joblib.Parallel(n_jobs=-1)`
  task per image and copy that reads, converts to RGB, runs an `A.Compose` with `A.BboxParams`, converts
  back and `cv2.imwrite`s the copy, then one COCO file. It leaves OpenCV's threads and the seeds alone.
- floor: the work no tool can skip, in one process with `cv2.setNumThreads(1)`: for each image and copy,
  decode (`cv2.imread`), run the same `A.Compose` on the pixels alone, and `cv2.imencode` the result. The
  CPU times of these operations (`time.process_time`, one thread: on a busy machine, time spent waiting for a
  core is not counted) are summed and divided by the cores: the throughput of a perfectly parallel tool with
  no overhead (no box work, no file writes, no colour conversion, no process start-up). The same run also
  gives the stricter "floor, 1 decode/image", which counts only the first decode of each image (a tool that
  decodes an image once for all its copies, as bboxaug does, can beat the first floor).
- fused floor: the same for bboxaug's fused path: each image decoded once, then per copy the pipeline bboxaug
  builds for the policy (one warp, the pixel work, in the channel order it asks for) and the encode; summed
  and divided by the cores. What bboxaug would reach with no overhead at all.

Every measurement runs in a fresh Python process started by this script (same interpreter), in a new session;
inside it only the work is timed (imports are timed apart). Runs are interleaved (attempt by attempt, policy by
policy, tool by tool) and the best of `--repeat` is reported, with every run's throughput and the lowest and
highest ratio of runs of the same attempt (made within a minute or two of each other, so under about the same
load). Throughput is copies written per second.

Memory of a process tree: the driver samples /proc every 50 ms while a measurement runs. The tree is every
process whose session is the measured process's (loky workers and joblib's resource tracker inherit it) or
whose parent chain reaches it. Per sample it sums the processes' VmRSS (resident pages; pages shared between
processes, such as those of the libraries, are counted once per process, so the sum over-counts), and the
largest sum seen is the tree's peak RSS. Because a spike shorter than 50 ms can fall between samples, the sum
over processes of each process's own high-water mark (VmHWM, last value seen) is reported too: an upper bound
on the true peak, reached only if every process peaked at the same moment.

CPU time: the tree's is the sum of each process's last-seen utime + stime; the work's is that less the
measured process's own start-up and imports (worker processes' start-up is part of the work), and "CPU
ms/copy" divides it by the copies written (for the floors: their summed operation times, per copy). On a
shared machine this is the steadier figure: "floor CPU / CPU" (the floor's CPU ms/copy over the tool's) is the
share of the floor's throughput the tool would reach on idle cores, were its work perfectly spread over them;
"fused floor CPU / CPU" the same for the fused floor, and "hand-written CPU / CPU" the speed-up over the
hand-written script the tool would show on idle cores (both spreading their work perfectly). Throughput
ratios of tools against floors mean something only on an idle machine: a tool's time counts the waits for a
busy core, a floor's does not.

`--memory` runs bboxaug alone on `--images` and 10x `--images` images (default 200 and 2,000) to show that the
peak memory of the tree stays under 1 GB and does not grow with the image count.

Every output is checked: the JPEG files written equal images x copies, the output's COCO file lists each of
them, and bboxaug's manifest (`augment.json`) agrees on every copy.

Usage::

    python benchmarks/augment.py                    # 200 images x 3 copies, both policies, best of 3
    python benchmarks/augment.py --policies readme --repeat 1
    python benchmarks/augment.py --memory           # bboxaug on 200 x 3 and 2,000 x 3

Prints a Markdown table and writes the same results to `WORKDIR/results.json` (`results-memory.json`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "bboxaug-augment-bench"

SEED = 20240611
#: Bump when the generated pictures or boxes change, so cached images are made again.
GENERATOR_VERSION = 1
WIDTH, HEIGHT = 1280, 720
CLASSES = ("crate", "panel", "sign", "tile")
#: Colours (BGR) the rectangles of each class are drawn in, jittered per rectangle.
CLASS_COLOURS = ((40, 90, 200), (180, 120, 40), (40, 180, 200), (150, 150, 150))
BOXES_PER_IMAGE = (5, 10)
#: Boxes keep this share of each side away from the borders, so a rotation by 15 degrees at 1.1x rarely pushes
#: a whole class out of a copy (which bboxaug answers with a retry the other tools do not make).
MARGIN = 0.1
SOURCE_QUALITY = 90
QUALITY = 95
MIN_VISIBILITY = 0.3
SPLIT = "train"
MEMORY_LIMIT_MB = 1024
SAMPLE_INTERVAL_S = 0.05
TOOLS = ("bboxaug", "hand-written", "floor", "fused floor")
FLOOR_ONE_DECODE = "floor, 1 decode/image"

#: The policies bboxaug runs, by name; `make_transforms` writes each as users write it. `readme` is the policy of
#: the README's table; `perspective` has three spatial transforms (flip, affine, perspective) and two pixel ones.
POLICIES: dict[str, dict[str, Any]] = {
    "readme": {
        "backend": "albumentations",
        "boxes": {"min_visibility": MIN_VISIBILITY},
        "transforms": [
            {"HorizontalFlip": {"p": 0.5}},
            {"Affine": {"rotate": [-15, 15], "scale": [0.9, 1.1], "border_mode": 0, "fill": 0, "p": 0.7}},
            {"RandomBrightnessContrast": {"p": 0.5}},
            {"HueSaturationValue": {"p": 0.5}},
            {"GaussianBlur": {"p": 0.3}},
        ],
    },
    "perspective": {
        "backend": "albumentations",
        "boxes": {"min_visibility": MIN_VISIBILITY},
        "transforms": [
            {"HorizontalFlip": {"p": 0.5}},
            {"Affine": {"rotate": [-15, 15], "scale": [0.9, 1.1], "border_mode": 0, "fill": 0, "p": 0.7}},
            {"Perspective": {"scale": [0.02, 0.05], "border_mode": 0, "fill": 0, "p": 0.5}},
            {"RandomBrightnessContrast": {"p": 0.5}},
            {"HueSaturationValue": {"p": 0.5}},
        ],
    },
}


def cores() -> int:
    """The cores this process may run on (what joblib's n_jobs=-1 uses on Linux, barring cgroup limits)."""
    return len(os.sched_getaffinity(0))


# --- synthetic data -------------------------------------------------------------------------------------------


def object_boxes(index: int) -> list[tuple[int, int, int, int, int]]:
    """The objects of image `index`: (class, x0, y0, x1, y1) in 0-based pixel corners, drawn in this order."""
    rng = random.Random(f"{SEED}-{index}")
    margin_x, margin_y = int(WIDTH * MARGIN), int(HEIGHT * MARGIN)
    boxes = []
    for _ in range(rng.randint(*BOXES_PER_IMAGE)):
        w, h = rng.randint(40, 260), rng.randint(40, 200)
        x0, y0 = rng.randint(margin_x, WIDTH - margin_x - w), rng.randint(margin_y, HEIGHT - margin_y - h)
        boxes.append((rng.randrange(len(CLASSES)), x0, y0, x0 + w, y0 + h))
    return boxes


def render(index: int) -> Any:
    """The BGR pixels of image `index`: a textured background, clutter lines, and the objects' rectangles."""
    import cv2
    import numpy as np

    rng = np.random.default_rng([SEED, index])
    canvas = np.full((HEIGHT, WIDTH, 3), 60.0, np.float32)
    for cells, amplitude in ((3, 110.0), (12, 50.0), (48, 25.0)):
        small = rng.random((cells * HEIGHT // WIDTH + 2, cells + 2, 3), dtype=np.float32)
        canvas += cv2.resize(small, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC) * amplitude
    canvas += rng.standard_normal((HEIGHT, WIDTH, 3), dtype=np.float32) * 5.0  # sensor-like grain
    pixels = np.clip(canvas, 0, 255).astype(np.uint8)
    for _ in range(12):
        x0, x1 = rng.integers(0, WIDTH, 2)
        y0, y1 = rng.integers(0, HEIGHT, 2)
        shade = tuple(int(v) for v in rng.integers(0, 256, 3))
        cv2.line(pixels, (int(x0), int(y0)), (int(x1), int(y1)), shade, int(rng.integers(1, 5)), cv2.LINE_AA)
    for label, x0, y0, x1, y1 in object_boxes(index):
        colour = tuple(int(np.clip(c + rng.integers(-30, 31), 0, 255)) for c in CLASS_COLOURS[label])
        cv2.rectangle(pixels, (x0, y0), (x1 - 1, y1 - 1), colour, thickness=-1)
        cv2.rectangle(pixels, (x0, y0), (x1 - 1, y1 - 1), tuple(c // 2 for c in colour), thickness=3)
        for y in range(y0 + 8, y1 - 4, 12):  # stripes: some texture inside the object
            cv2.line(pixels, (x0 + 4, y), (x1 - 5, y), tuple(min(255, c + 40) for c in colour), 2)
    return pixels


def pool_image(pool: Path, index: int) -> Path:
    """The cached JPEG of image `index` in the pool, rendered on first use."""
    path = pool / f"{index:06d}.jpg"
    if not path.exists():
        import cv2

        ok, data = cv2.imencode(".jpg", render(index), [cv2.IMWRITE_JPEG_QUALITY, SOURCE_QUALITY])
        if not ok:
            raise RuntimeError(f"cannot encode image {index}")
        partial = path.with_suffix(".partial")
        partial.write_bytes(data.tobytes())
        partial.replace(path)
    return path


def coco_content(count: int) -> dict[str, Any]:
    """The COCO detection file of the first `count` images."""
    images, annotations = [], []
    for index in range(count):
        images.append({"id": index + 1, "file_name": f"{index:06d}.jpg", "width": WIDTH, "height": HEIGHT})
        for label, x0, y0, x1, y1 in object_boxes(index):
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
    return {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": name} for i, name in enumerate(CLASSES, start=1)],
    }


def dataset(workdir: Path, count: int) -> Path:
    """The COCO dataset of the first `count` images (`annotations/instances_train.json`, `images/train/`),
    made once: images come from a pool shared by every count (hard links), rendered on first use."""
    root = workdir / "data" / f"{count}"
    stamp = root / "ready.json"
    expected = {"generator": GENERATOR_VERSION, "images": count}
    if stamp.exists() and json.loads(stamp.read_text()) == expected:
        return root
    pool = workdir / "pool" / f"v{GENERATOR_VERSION}"
    pool.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(root, ignore_errors=True)
    images = root / "images" / SPLIT
    images.mkdir(parents=True)
    started = time.perf_counter()
    for index in range(count):
        os.link(pool_image(pool, index), images / f"{index:06d}.jpg")
        if (index + 1) % 200 == 0:
            print(f"  images: {index + 1}/{count} ({time.perf_counter() - started:.0f} s)", flush=True)
    (root / "annotations").mkdir()
    (root / "annotations" / f"instances_{SPLIT}.json").write_text(json.dumps(coco_content(count)))
    stamp.write_text(json.dumps(expected))
    return root


def write_policy(workdir: Path, name: str) -> Path:
    path = workdir / f"policy-{name}.json"
    path.write_text(json.dumps(POLICIES[name], indent=2) + "\n")
    return path


# --- the tools, as run inside the measured process -------------------------------------------------------------


def make_transforms(name: str) -> list[Any]:
    """Policy `name` as a user writes it with albumentations."""
    import albumentations as A
    import cv2

    flip = A.HorizontalFlip(p=0.5)
    affine = A.Affine(rotate=(-15, 15), scale=(0.9, 1.1), border_mode=cv2.BORDER_CONSTANT, fill=0, p=0.7)
    if name == "readme":
        return [flip, affine, A.RandomBrightnessContrast(p=0.5), A.HueSaturationValue(p=0.5), A.GaussianBlur(p=0.3)]
    perspective = A.Perspective(scale=(0.02, 0.05), border_mode=cv2.BORDER_CONSTANT, fill=0, p=0.5)
    return [flip, affine, perspective, A.RandomBrightnessContrast(p=0.5), A.HueSaturationValue(p=0.5)]


def check_same_transforms() -> None:
    """Fail unless `make_transforms` and `POLICIES` build the same transforms, every parameter included."""
    import albumentations as A

    for name, policy in POLICIES.items():
        from_policy = [getattr(A, key)(**params) for entry in policy["transforms"] for key, params in entry.items()]
        if [A.to_dict(t) for t in from_policy] != [A.to_dict(t) for t in make_transforms(name)]:
            raise SystemExit(f"make_transforms({name!r}) and POLICIES differ: the tools would not run the same")


def augment_one(
    path: str, boxes: list[list[float]], labels: list[int], transform: Any, out_dir: str, k: int
) -> dict[str, Any]:
    """The hand-written script's task: one augmented copy of one image, written as JPEG; its boxes returned."""
    import cv2

    image = cv2.imread(path)
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    out = transform(image=image, bboxes=boxes, labels=labels)
    name = f"{Path(path).stem}_aug{k}.jpg"
    cv2.imwrite(
        os.path.join(out_dir, name), cv2.cvtColor(out["image"], cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, QUALITY]
    )
    height, width = out["image"].shape[:2]
    return {
        "file_name": name,
        "width": width,
        "height": height,
        "bboxes": [list(map(float, box)) for box in out["bboxes"]],
        "labels": [int(x) for x in out["labels"]],
    }


def handwritten(src: Path, dst: Path, copies: int, policy: str) -> None:
    """The augmentation script users write: albumentations for the pixels and boxes, joblib for the cores."""
    import albumentations as A
    from joblib import Parallel, delayed

    with open(src / "annotations" / f"instances_{SPLIT}.json") as f:
        coco = json.load(f)
    boxes, labels = defaultdict(list), defaultdict(list)
    for ann in coco["annotations"]:
        x, y, w, h = ann["bbox"]
        boxes[ann["image_id"]].append([x, y, x + w, y + h])
        labels[ann["image_id"]].append(ann["category_id"])
    transform = A.Compose(
        make_transforms(policy),
        bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"], min_visibility=MIN_VISIBILITY),
    )
    out_dir = dst / "images"
    out_dir.mkdir(parents=True)
    results = Parallel(n_jobs=-1)(
        delayed(augment_one)(
            str(src / "images" / SPLIT / image["file_name"]),
            boxes[image["id"]],
            labels[image["id"]],
            transform,
            str(out_dir),
            k,
        )
        for image in coco["images"]
        for k in range(1, copies + 1)
    )
    images, annotations = [], []
    for image_id, result in enumerate(results, start=1):
        images.append(
            {"id": image_id, "file_name": result["file_name"], "width": result["width"], "height": result["height"]}
        )
        for (x0, y0, x1, y1), label in zip(result["bboxes"], result["labels"], strict=True):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": label,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": (x1 - x0) * (y1 - y0),
                    "iscrowd": 0,
                }
            )
    with open(dst / "annotations.json", "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": coco["categories"]}, f)


def run_bboxaug(src: Path, dst: Path, copies: int, policy: Path) -> None:
    from bboxaug.commands.augment import augment

    augment(src, dst, policy=str(policy), copies=copies, seed=0, jobs=cores(), originals=False, quality=QUALITY)


def run_floor(src: Path, copies: int, policy: str) -> dict[str, float]:
    """For each image and copy: decode, transform (pixels only) and encode, one thread; the summed times, the
    decodes after an image's first apart (`redecode_s`)."""
    import albumentations as A
    import cv2

    cv2.setNumThreads(1)
    transform = A.Compose(make_transforms(policy), seed=SEED)
    times = {"decode_s": 0.0, "redecode_s": 0.0, "transform_s": 0.0, "encode_s": 0.0}
    for path in sorted((src / "images" / SPLIT).glob("*.jpg")):
        for copy in range(copies):
            started = time.process_time()
            pixels = cv2.imread(str(path))
            times["redecode_s" if copy else "decode_s"] += time.process_time() - started
            started = time.process_time()
            out = transform(image=pixels)["image"]
            times["transform_s"] += time.process_time() - started
            started = time.process_time()
            ok, _ = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
            times["encode_s"] += time.process_time() - started
            if not ok:
                raise RuntimeError(f"cannot encode a copy of {path}")
    return times


def run_fused_floor(src: Path, copies: int, policy: str) -> dict[str, float]:
    """The floor of the fused path: each image decoded once, then per copy bboxaug's fused pipeline on the pixels
    (its one warp and pixel work, in the channel order it asks for; no boxes) and the encode, one thread; the
    summed times."""
    import cv2
    import numpy as np

    from bboxaug.augmentation.backends import get_backend
    from bboxaug.augmentation.policy import load_policy

    cv2.setNumThreads(1)
    checked = load_policy(POLICIES[policy])
    pipeline = get_backend(checked.backend).build(checked)
    times = {"decode_s": 0.0, "transform_s": 0.0, "encode_s": 0.0}
    no_points, no_boxes = np.zeros((0, 2)), np.zeros((0, 4))
    for index, path in enumerate(sorted((src / "images" / SPLIT).glob("*.jpg"))):
        started = time.process_time()
        pixels = cv2.imread(str(path))
        if not pipeline.takes_bgr:
            pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
        times["decode_s"] += time.process_time() - started
        for copy in range(copies):
            started = time.process_time()
            out, _ = pipeline(pixels, no_points, no_boxes, SEED + index * copies + copy)
            times["transform_s"] += time.process_time() - started
            started = time.process_time()
            if not pipeline.takes_bgr:
                out = cv2.cvtColor(out, cv2.COLOR_RGB2BGR)
            ok, _ = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
            times["encode_s"] += time.process_time() - started
            if not ok:
                raise RuntimeError(f"cannot encode a copy of {path}")
    return times


def worker(spec: dict[str, Any]) -> int:
    """Run one tool once in this fresh process; write its timings, or its error, to `spec["result"]`."""
    outcome: dict[str, Any] = {}
    src, dst = Path(spec["src"]), Path(spec["dst"])
    try:
        started = time.perf_counter()
        import albumentations  # noqa: F401 - every tool uses it: its import is timed apart from the work
        import cv2  # noqa: F401
        import joblib  # noqa: F401

        if spec["tool"] in ("bboxaug", "fused floor"):
            import bboxaug.commands.augment  # noqa: F401
        outcome["import_s"] = time.perf_counter() - started
        outcome["setup_cpu_s"] = time.process_time()  # start-up and imports: not part of the work's CPU time
        started = time.perf_counter()
        if spec["tool"] == "bboxaug":
            run_bboxaug(src, dst, spec["copies"], Path(spec["policy"]))
        elif spec["tool"] == "hand-written":
            handwritten(src, dst, spec["copies"], spec["policy_name"])
        elif spec["tool"] == "fused floor":
            outcome["floor"] = run_fused_floor(src, spec["copies"], spec["policy_name"])
        else:
            outcome["floor"] = run_floor(src, spec["copies"], spec["policy_name"])
        outcome["work_s"] = time.perf_counter() - started
    except BaseException as error:  # any failure is the tool's result, reported as such
        outcome["error"] = f"{type(error).__name__}: {error}"
    Path(spec["result"]).write_text(json.dumps(outcome))
    return 0 if "error" not in outcome else 1


# --- measuring --------------------------------------------------------------------------------------------------


def _read(path: str) -> bytes | None:
    """A small /proc file's bytes, None if its process is gone (os.read: half the cost of open() per sample)."""
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(handle, 8192)
    except OSError:
        return None
    finally:
        os.close(handle)


def _proc_stat(pid: str) -> tuple[int, int, int, int] | None:
    """(ppid, session, start time, utime + stime ticks) of a process, None if it is gone."""
    data = _read(f"/proc/{pid}/stat")
    if data is None:
        return None
    fields = data.rsplit(b")", 1)[1].split()
    return int(fields[1]), int(fields[3]), int(fields[19]), int(fields[11]) + int(fields[12])


def _status_kb(pid: int) -> dict[bytes, int]:
    """VmRSS and VmHWM (kB) of a process; empty if it is gone."""
    data = _read(f"/proc/{pid}/status") or b""
    return {
        line.split(b":", 1)[0]: int(line.split()[1])
        for line in data.splitlines()
        if line.startswith((b"VmRSS:", b"VmHWM:"))
    }


def _command(pid: int) -> str:
    """A short form of a process's command line: the program and the start of its arguments."""
    words = (_read(f"/proc/{pid}/cmdline") or b"?").decode(errors="replace").split("\0")
    return " ".join([Path(words[0]).name, *words[1:]])[:100]


class TreeSampler(threading.Thread):
    """Samples the memory and CPU time of a process tree every `SAMPLE_INTERVAL_S` (see the module docstring).

    A sample reads /proc/*/stat of every process on the machine and /proc/<pid>/status of the tree's: about
    2 ms of CPU, 4 % of one core. (Not smaps_rollup for PSS: it costs milliseconds per process and takes the
    locks the measured processes need to fault pages in, slowing what it measures.)"""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peak_rss_kb = 0
        self.hwm_kb: dict[tuple[int, int], int] = {}  # (pid, start time) -> last VmHWM seen
        self.cpu_ticks: dict[tuple[int, int], int] = {}
        self.commands: dict[tuple[int, int], str] = {}  # what each process runs, for the per-process report
        self._done = threading.Event()

    def members(self) -> dict[int, tuple[int, int]]:
        """pid -> (start time, CPU ticks) of every live process of the tree."""
        stats = {
            int(pid): stat for pid in os.listdir("/proc") if pid.isdigit() if (stat := _proc_stat(pid)) is not None
        }
        found = {}
        for pid, (_, session, start, ticks) in stats.items():
            ancestor, hops = pid, 0
            while ancestor not in (self.root, 0, 1) and ancestor in stats and hops < 64:
                ancestor, hops = stats[ancestor][0], hops + 1
            if session == self.root or ancestor == self.root:
                found[pid] = (start, ticks)
        return found

    def sample(self) -> None:
        rss = 0
        for pid, (start, ticks) in self.members().items():
            status = _status_kb(pid)
            if not status:
                continue
            rss += status.get(b"VmRSS", 0)
            self.hwm_kb[pid, start] = status.get(b"VmHWM", 0)
            self.cpu_ticks[pid, start] = ticks
            if (pid, start) not in self.commands:
                self.commands[pid, start] = _command(pid)
        self.peak_rss_kb = max(self.peak_rss_kb, rss)

    def run(self) -> None:
        while not self._done.is_set():
            self.sample()
            self._done.wait(SAMPLE_INTERVAL_S)

    def per_process(self) -> list[dict[str, Any]]:
        """Each process seen: its pid, whether it is the tree's root, its command, last-seen VmHWM and CPU time."""
        tick = os.sysconf("SC_CLK_TCK")
        return [
            {
                "pid": pid,
                "root": pid == self.root,
                "command": self.commands.get((pid, start), "?"),
                "hwm_mb": round(kb / 1024, 1),
                "cpu_s": self.cpu_ticks[pid, start] / tick,
            }
            for (pid, start), kb in self.hwm_kb.items()
        ]

    def stop(self) -> None:
        self._done.set()
        self.join()

    @property
    def cpu_s(self) -> float:
        return sum(self.cpu_ticks.values()) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    """One measured process tree."""

    tool: str
    images: int
    copies: int
    work_s: float | None = None
    import_s: float | None = None
    wall_s: float = 0.0
    tree_cpu_s: float = 0.0
    work_cpu_s: float | None = None
    peak_rss_mb: float = 0.0
    hwm_sum_mb: float = 0.0
    processes: list[dict[str, Any]] = field(default_factory=list)
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    written: int = 0
    check: str = ""
    ok: bool = False
    error: str | None = None
    floor: dict[str, float] | None = None

    @property
    def copies_per_s(self) -> float | None:
        return self.written / self.work_s if self.work_s and self.ok else None

    @property
    def cpu_ms_per_copy(self) -> float | None:
        return 1000 * self.work_cpu_s / self.written if self.work_cpu_s and self.ok else None

    def hwm_mb(self, root: bool) -> float:
        """The VmHWM of the measured process (root) or the largest of the processes it started."""
        return max((p["hwm_mb"] for p in self.processes if p["root"] == root), default=0.0)


def measure(tool: str, src: Path, dst: Path, images: int, copies: int, policy: Path, policy_name: str) -> Run:
    """Run `tool` in a fresh process in its own session, sampling its process tree; check its output."""
    shutil.rmtree(dst, ignore_errors=True)
    dst.parent.mkdir(parents=True, exist_ok=True)
    run = Run(tool, images, copies, load=os.getloadavg())
    with tempfile.TemporaryDirectory() as scratch:
        result, log = Path(scratch) / "result.json", Path(scratch) / "log.txt"
        spec = {
            "tool": tool,
            "src": str(src),
            "dst": str(dst),
            "copies": copies,
            "policy": str(policy),
            "policy_name": policy_name,
            "result": str(result),
        }
        with open(log, "wb") as output:
            started = time.perf_counter()
            process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=scratch,
                start_new_session=True,
            )
            sampler = TreeSampler(process.pid)
            sampler.start()
            process.wait()
            run.wall_s = time.perf_counter() - started
            sampler.stop()
        outcome = json.loads(result.read_text()) if result.exists() else {}
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
    run.work_s, run.import_s, run.floor = outcome.get("work_s"), outcome.get("import_s"), outcome.get("floor")
    run.error = outcome.get("error") or (None if outcome else f"exit code {process.returncode}: {' | '.join(tail)}")
    run.tree_cpu_s = sampler.cpu_s
    if "setup_cpu_s" in outcome:
        run.work_cpu_s = run.tree_cpu_s - outcome["setup_cpu_s"]
    run.peak_rss_mb = sampler.peak_rss_kb / 1024
    run.hwm_sum_mb = sum(sampler.hwm_kb.values()) / 1024
    run.processes = sampler.per_process()
    if run.error is None:
        try:
            run.written, run.check = check_output(tool, dst, images * copies)
            run.ok = True
        except CheckFailed as failure:
            run.check = str(failure)
    return run


def floor_variants(run: Run) -> list[Run]:
    """A floor run as its two floors (the fused floor as one), each timed as its operations' summed time over the
    cores (CPU time: the summed time itself); any other run as it is."""
    if run.tool == "fused floor" and run.floor is not None:
        every = sum(run.floor.values())
        return [replace(run, work_s=every / cores(), work_cpu_s=every)]
    if run.tool != "floor":
        return [run]
    if run.floor is None:
        return [run, replace(run, tool=FLOOR_ONE_DECODE)]
    every = sum(run.floor.values())
    once = every - run.floor["redecode_s"]
    return [
        replace(run, work_s=every / cores(), work_cpu_s=every),
        replace(run, tool=FLOOR_ONE_DECODE, work_s=once / cores(), work_cpu_s=once),
    ]


# --- checking outputs ------------------------------------------------------------------------------------------


class CheckFailed(Exception):
    """A tool's output is not what it should be."""


def listed_images(coco_file: Path) -> tuple[list[str], int]:
    """The image file names (base names) and the number of boxes of a COCO file."""
    content = json.loads(coco_file.read_text())
    return [Path(image["file_name"]).name for image in content["images"]], len(content["annotations"])


def check_output(tool: str, dst: Path, expected: int) -> tuple[int, str]:
    """The number of copies written and a summary; CheckFailed unless `expected` JPEGs were written and the
    annotations (and bboxaug's manifest) list exactly them."""
    if tool in ("floor", "fused floor"):
        return expected, "encoded in memory"
    written = sorted(path.name for path in dst.rglob("*.jpg"))
    if len(written) != expected:
        raise CheckFailed(f"{len(written)} JPEG files, expected {expected}")
    if tool == "hand-written":
        names, boxes = listed_images(dst / "annotations.json")
    else:
        names, boxes = listed_images(dst / "annotations" / f"instances_{SPLIT}.json")
        manifest = json.loads((dst / "augment.json").read_text())
        made = sorted(Path(entry["image"]).name for entry in manifest["outputs"] if "dropped" not in entry)
        if made != written or manifest["counts"].get("copies_written") != expected:
            raise CheckFailed(
                f"augment.json lists {len(made)} copies "
                f"(copies_written {manifest['counts'].get('copies_written')}), not the {expected} "
                "files written"
            )
    if sorted(names) != written:
        raise CheckFailed(f"the COCO file lists {len(names)} images, not the {expected} files written")
    return expected, f"{expected} JPEGs, {boxes} boxes" + (", manifest agrees" if tool == "bboxaug" else "")


# --- reporting --------------------------------------------------------------------------------------------------


def best(runs: list[Run]) -> Run | None:
    """The fastest valid run, or None when a run failed (its failure is what is reported)."""
    if not runs or any(not run.ok for run in runs):
        return None
    return min(runs, key=lambda run: run.work_s or float("inf"))


def failure(runs: list[Run]) -> str:
    bad = next(run for run in runs if not run.ok)
    return ("FAILED: " + bad.error) if bad.error else ("WRONG OUTPUT: " + bad.check)


def cell(value: float | None, spec: str, suffix: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{suffix}"


def ratio_spread(results: dict[str, list[Run]], tool: str, other: str) -> tuple[float, float] | None:
    """The lowest and highest ratio of `tool`'s throughput to `other`'s over the attempts (runs of the same
    attempt, taken minutes apart at most, share the machine's load)."""
    pairs = [
        a.copies_per_s / b.copies_per_s
        for a, b in zip(results.get(tool, []), results.get(other, []), strict=False)
        if a.copies_per_s and b.copies_per_s
    ]
    return (min(pairs), max(pairs)) if pairs else None


def summary(results: dict[str, list[Run]]) -> dict[str, dict[str, Any]]:
    """Per tool: the best run's figures, throughput and its ratios to the hand-written script and the floors."""
    bests = {tool: best(runs) for tool, runs in results.items()}
    rates = {tool: run.copies_per_s if run else None for tool, run in bests.items()}
    floor_cpu = bests["floor"].cpu_ms_per_copy if bests.get("floor") else None
    fused_floor_cpu = bests["fused floor"].cpu_ms_per_copy if bests.get("fused floor") else None
    handwritten_cpu = bests["hand-written"].cpu_ms_per_copy if bests.get("hand-written") else None
    table = {}
    for tool, runs in results.items():
        run, rate = bests[tool], rates[tool]
        cpu = run.cpu_ms_per_copy if run else None
        table[tool] = {
            "copies_per_s": rate,
            "copies_per_s_all": [r.copies_per_s for r in runs],
            "vs_handwritten": rate / rates["hand-written"] if rate and rates.get("hand-written") else None,
            "vs_handwritten_spread": ratio_spread(results, tool, "hand-written"),
            "vs_floor": rate / rates["floor"] if rate and rates.get("floor") else None,
            "vs_floor_one_decode": rate / rates[FLOOR_ONE_DECODE] if rate and rates.get(FLOOR_ONE_DECODE) else None,
            "vs_fused_floor": rate / rates["fused floor"] if rate and rates.get("fused floor") else None,
            "vs_fused_floor_spread": ratio_spread(results, tool, "fused floor"),
            "best_work_s": run.work_s if run else None,
            "cpu_ms_per_copy": cpu,
            "floor_cpu_share": floor_cpu / cpu if floor_cpu and cpu else None,
            "fused_floor_cpu_share": fused_floor_cpu / cpu if fused_floor_cpu and cpu else None,
            "handwritten_cpu_ratio": handwritten_cpu / cpu if handwritten_cpu and cpu else None,
            "max_peak_rss_mb": max(r.peak_rss_mb for r in runs),
            "max_hwm_sum_mb": max(r.hwm_sum_mb for r in runs),
            "output": (runs[-1].check if run else failure(runs)),
        }
    return table


def spread_cell(best_ratio: float | None, spread: tuple[float, float] | None) -> str:
    if best_ratio is None:
        return "—"
    return f"{best_ratio:.2f}×" + (f" ({spread[0]:.2f}-{spread[1]:.2f})" if spread else "")


def markdown(results: dict[str, list[Run]], repeat: int) -> str:
    rows = summary(results)
    lines = [
        f"| tool | copies/s (best of {repeat}) | all runs | vs hand-written (per-run range) | vs fused floor "
        "(per-run range) | vs floor | CPU ms/copy | hand-written CPU / CPU | fused floor CPU / CPU | floor CPU / CPU "
        "| peak RSS MB (tree) | output |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for tool in results:
        row = rows[tool]
        cells = [
            tool,
            cell(row["copies_per_s"], ".1f"),
            ", ".join(cell(rate, ".1f") for rate in row["copies_per_s_all"]),
            spread_cell(row["vs_handwritten"], row["vs_handwritten_spread"]),
            spread_cell(row["vs_fused_floor"], row["vs_fused_floor_spread"]),
            cell(row["vs_floor"], ".2f", "×"),
            cell(row["cpu_ms_per_copy"], ".1f"),
            cell(row["handwritten_cpu_ratio"], ".2f"),
            cell(row["fused_floor_cpu_share"], ".2f"),
            cell(row["floor_cpu_share"], ".2f"),
            cell(row["max_peak_rss_mb"], ".0f"),
            row["output"].replace("|", "/"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def memory_markdown(runs: list[Run]) -> str:
    lines = [
        "| images × copies | seconds | copies/s | CPU ms/copy | peak RSS MB (tree) | Σ VmHWM MB "
        f"| main process VmHWM MB | largest worker VmHWM MB | under {MEMORY_LIMIT_MB} MB | output |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for run in runs:
        cells = [
            f"{run.images:,} × {run.copies}",
            cell(run.work_s, ".1f"),
            cell(run.copies_per_s, ".1f"),
            cell(run.cpu_ms_per_copy, ".1f"),
            f"{run.peak_rss_mb:.0f}",
            f"{run.hwm_sum_mb:.0f}",
            f"{run.hwm_mb(root=True):.0f}",
            f"{run.hwm_mb(root=False):.0f}",
            "yes" if max(run.peak_rss_mb, run.hwm_sum_mb) < MEMORY_LIMIT_MB else "NO",
            (run.check if run.ok else (run.error or run.check)).replace("|", "/"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def show(run: Run, attempt: str) -> None:
    detail = (
        f"{run.work_s:.1f} s ({run.copies_per_s or 0:.1f} copies/s, import {run.import_s:.1f} s, "
        f"wall {run.wall_s:.1f} s, tree CPU {run.tree_cpu_s:.1f} s, {run.cpu_ms_per_copy or 0:.1f} ms per "
        f"copy), peak RSS {run.peak_rss_mb:.0f} MB, "
        f"Σ VmHWM {run.hwm_sum_mb:.0f} MB in {len(run.processes)} processes, "
        f"load {run.load[0]:.2f}: {run.check}"
        if run.work_s is not None
        else run.error
    )
    print(f"  [{attempt}] {run.tool} {run.images}×{run.copies}: {detail}", flush=True)


def machine() -> dict[str, Any]:
    """What the numbers depend on: cores, load, versions."""
    from importlib.metadata import version

    return {
        "cores": cores(),
        "python": sys.version.split()[0],
        "load_average": os.getloadavg(),
        "versions": {
            name: version(name) for name in ("bboxaug", "albumentations", "joblib", "opencv-python-headless", "numpy")
        },
    }


def describe_policy(name: str) -> str:
    """The transforms of a policy and their probabilities, on one line."""
    return ", ".join(
        f"{key} (p={params['p']})" for entry in POLICIES[name]["transforms"] for key, params in entry.items()
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200, help="number of images (default: %(default)s)")
    parser.add_argument("--copies", type=int, default=3, help="augmented copies per image (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool, the best kept (default: %(default)s)")
    parser.add_argument(
        "--policies",
        default=",".join(POLICIES),
        help="comma-separated policies to measure, each with every tool: " + ", ".join(POLICIES),
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help="cached inputs, outputs and results (default: %(default)s)",
    )
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of: " + ", ".join(TOOLS))
    parser.add_argument(
        "--memory",
        action="store_true",
        help="bboxaug alone on --images and 10x --images images: peak memory of the process tree",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.images, args.copies, args.repeat) < 1:
        parser.error("--images, --copies and --repeat must be at least 1")
    chosen = [tool for tool in args.tools.split(",") if tool]
    if not chosen or set(chosen) - set(TOOLS):
        parser.error(f"--tools: choose from {', '.join(TOOLS)}")
    args.tools = [tool for tool in TOOLS if tool in chosen]
    args.policies = [name for name in args.policies.split(",") if name]
    if not args.policies or set(args.policies) - set(POLICIES):
        parser.error(f"--policies: choose from {', '.join(POLICIES)}")
    return args


def announce(workdir: Path) -> tuple[str, Path]:
    """Print the command line that started this benchmark; return it and the workdir, made absolute and created."""
    command = shlex.join(sys.orig_argv)
    print(f"$ {command}\n", flush=True)
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    return command, workdir


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker(json.loads(args.worker))

    command, workdir = announce(args.workdir)
    check_same_transforms()
    policies = {name: write_policy(workdir, name) for name in args.policies}
    counts = [args.images, 10 * args.images] if args.memory else [args.images]
    sources = {count: dataset(workdir, count) for count in counts}
    about = machine()
    print(
        f"{' and '.join(map(str, counts))} images of {WIDTH}x{HEIGHT} in {workdir / 'data'}; {args.copies} copies "
        f"each; {about['cores']} cores; load average {about['load_average'][0]:.2f}",
        flush=True,
    )

    if args.memory:
        runs = []
        for count in counts:
            runs.append(
                measure(
                    "bboxaug",
                    sources[count],
                    workdir / "out" / f"memory-{count}",
                    count,
                    args.copies,
                    policies[args.policies[0]],
                    args.policies[0],
                )
            )
            show(runs[-1], "memory")
        report = {"command": command, **about, "copies": args.copies, "runs": [asdict(run) for run in runs]}
        path = workdir / "results-memory.json"
        text = memory_markdown(runs)
    else:
        results: dict[str, dict[str, list[Run]]] = {name: defaultdict(list) for name in args.policies}
        for attempt in range(1, args.repeat + 1):
            for name in args.policies:
                for tool in args.tools:
                    out = workdir / "out" / tool.replace(" ", "-")
                    measured = measure(tool, sources[args.images], out, args.images, args.copies, policies[name], name)
                    for run in floor_variants(measured):
                        results[name][run.tool].append(run)
                        show(run, f"{name} {attempt}/{args.repeat}")
        report = {
            "command": command,
            **about,
            "images": args.images,
            "copies": args.copies,
            "repeat": args.repeat,
            "summary": {name: summary(runs) for name, runs in results.items()},
            "runs": {
                name: [asdict(run) for runs in by_tool.values() for run in runs] for name, by_tool in results.items()
            },
        }
        path = workdir / "results.json"
        text = "\n\n".join(
            f"policy {name}: {describe_policy(name)}\n\n{markdown(by_tool, args.repeat)}"
            for name, by_tool in results.items()
        )
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"\n{text}\n\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
