#!/usr/bin/env python3
"""Scale benchmark (issue #14): bboxaug against Datumaro and globox from 20,000 to 2,000,000 images.

Generates deterministic annotation-only detection sets (``--seed``) at each size of ``--images``, with the variety
of real ones: 1-30 boxes per positive image (about 10 per image overall), 80 classes with a Zipf-like long tail,
10 % negative images, image sizes from 640×480 to 1920×1080, and a polygon segmentation on 5 % of the objects.
The same boxes are written as

- COCO: ``coco-N-seedS/annotations/instances_train.json`` (written as a stream, chunk by chunk: the 2M set is
  about 3 GB of JSON and never exists as Python objects), with an empty ``images/`` beside it (Datumaro wants it);
- VOC: ``voc-N-seedS/Annotations/*.xml`` (sizes in ``<size>``, 1-based integer corners),
  ``ImageSets/Main/train.txt`` and a ``labelmap.txt`` naming the 80 classes (for Datumaro, which otherwise knows
  only the 20 VOC classes).

There is no annotation-only YOLO set: YOLO stores no image sizes, and bboxaug's reader takes them from the image
files, listing the images, not the labels: without images it reads nothing (Datumaro can read sizes from an
``images.meta`` side file; bboxaug has none), and real-sized images would not fit at 2M. The YOLO set here is the
``augment`` scenario's: ``tiny-yolo-N-seedS`` in the Ultralytics layout (``data.yaml``, ``images/train/*.png``,
``labels/train/*.txt``) with 64×64 solid-colour PNGs and 1-3 boxes each. Generated sets are kept in ``--workdir``
and reused until ``--regenerate``; the workdir defaults to ``/dev/shm/bbscale`` (RAM: at 2M images the sets and
outputs need more than this machine has, and the script warns: give a ``--workdir`` on disk).

Scenarios (``--scenarios``), each tool in a fresh process:

- ``coco2yolo``: ``bboxaug convert COCO DST --from coco --to yolo --images none``; Datumaro and globox as in
  ``benchmarks/convert.py``;
- ``voc2coco``: the same from the VOC set to COCO;
- ``stats``: ``bboxaug stats COCO --json OUT --anchors 0``; Datumaro's ``compute_ann_statistics`` (what
  ``datum stats`` computes for annotations); globox's ``show_stats`` (``globox summary``);
- ``validate``: ``bboxaug validate COCO --json OUT``; Datumaro's ``DetectionValidator().validate`` (``datum
  validate -t detection``). globox has no validation;
- ``augment``: ``bboxaug augment TINY DST --copies 1 --to yolo`` (bboxaug only), on sets of at most
  ``--augment-max-images`` images; its main process is the coordinator, whose peak is reported apart.

Each run's wall time is that of the whole process (interpreter start and imports included, for every tool). Its
memory is polled every 50 ms: the peak of the summed resident set size of the process and all its descendants
(shared library pages are counted once per process), and the main process's own high-water mark (``VmHWM``). A
run whose tree passes ``--memory-cap-gb`` or runs past ``--timeout`` is killed and reported as such. Outputs are
checked cheaply against the generated counts (label files, lines and the class histogram; COCO images,
annotations and class histogram; the counts a stats or validate run reports), and deleted after the check; a wrong
output is reported as wrong and gets no ratio.

bboxaug is run through its ``bboxaug`` command from the venv of ``--bboxaug-python`` (default: this interpreter);
the peers in ``--peer-python``: ``benchmarks/.venv-scale`` (made by ``--setup`` with the versions
``benchmarks/convert.py`` pins) when it exists, else ``benchmarks/.venv`` (made by ``convert.py --setup``).
The driver needs numpy and psutil.

Usage::

    python benchmarks/scale.py --images 20000                          # every scenario and tool, once
    python benchmarks/scale.py --images 20000,200000 --repeat 3 --scenarios coco2yolo,stats
    python benchmarks/scale.py --images 2000000 --workdir /var/tmp/bbscale --memory-cap-gb 20
    python benchmarks/scale.py --setup                                 # make benchmarks/.venv-scale first

Prints a Markdown table per size and writes every run to ``WORKDIR/results-<time>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import resource
import shlex
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from convert import VOC_FILE, VOC_OBJECT, CheckFailed, load_datumaro, load_globox, set_up  # noqa: E402

DEFAULT_WORKDIR = Path("/dev/shm/bbscale")
SETUP_VENV = HERE / ".venv-scale"
#: Where the peers are looked for, first found first: the venv `--setup` makes, then the one the lead prepared.
PEER_PYTHONS = (SETUP_VENV / "bin" / "python", HERE / ".venv" / "bin" / "python")

#: Bumped whenever the generator changes what it writes, so that cached sets are made again.
GENERATOR_VERSION = 1
CHUNK_IMAGES = 20_000
#: Independent random streams of one seed: the large sets' chunks, and the tiny set.
LARGE_STREAM, TINY_STREAM = 0, 1

CLASS_COUNT = 80
CLASS_NAMES = tuple(f"class{i:02d}" for i in range(CLASS_COUNT))
#: Zipf-like class frequencies: class k is drawn in proportion to 1 / (k + 1), from 20 % down to 0.25 %.
CLASS_WEIGHTS = 1.0 / np.arange(1, CLASS_COUNT + 1)
CLASS_WEIGHTS /= CLASS_WEIGHTS.sum()
NEGATIVE_SHARE = 0.1
MAX_BOXES = 30
#: Boxes per positive image: 1 + a negative binomial (n=2, p=0.16), at most `MAX_BOXES`: mean about 11.3 (about
#: 10 per image with the negatives), median 10, the 95th percentile 27.
BOX_COUNT_N, BOX_COUNT_P = 2, 0.16
WIDTHS, HEIGHTS = (640, 1920), (480, 1080)
#: Box sides relative to the image side, drawn log-uniformly (small objects are the most frequent).
RELATIVE_SIDES = (0.01, 0.6)
POLYGON_SHARE = 0.05

TINY_SIDE = 64
TINY_BOXES = (1, 3)

SCENARIOS = ("coco2yolo", "voc2coco", "stats", "validate", "augment")
TOOLS = ("bboxaug", "datumaro", "globox")
#: Which tool runs which scenario.
SUPPORTED = {
    "bboxaug": set(SCENARIOS),
    "datumaro": {"coco2yolo", "voc2coco", "stats", "validate"},
    "globox": {"coco2yolo", "voc2coco", "stats"},
}
#: The data set each scenario reads.
SOURCE_KIND = {"coco2yolo": "coco", "voc2coco": "voc", "stats": "coco", "validate": "coco", "augment": "tiny-yolo"}

POLL_S = 0.05
MB = 1 << 20
GB = 1 << 30


# --- synthetic data -------------------------------------------------------------------------------------------


@dataclass
class Chunk:
    """Up to `CHUNK_IMAGES` consecutive images: per image its size and box count, per box (in image order) its
    class index, its corner and size in pixels (2 decimals, inside the image) and, for polygons, the cut of an
    octagon inscribed in the box (0 for a plain box)."""

    first: int
    widths: np.ndarray
    heights: np.ndarray
    counts: np.ndarray
    labels: np.ndarray
    xywh: np.ndarray
    cuts: np.ndarray

    @property
    def owners(self) -> np.ndarray:
        """Each box's image index within the chunk."""
        return np.repeat(np.arange(len(self.counts)), self.counts)


def make_chunk(seed: int, index: int, first: int, count: int) -> Chunk:
    """The images `first` to `first + count - 1`, from a generator seeded by (`seed`, `index`) alone, so any chunk
    can be made again without the others (COCO writes the images, then the annotations, from the same chunks)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(LARGE_STREAM, index)))
    widths = rng.integers(WIDTHS[0], WIDTHS[1], count, endpoint=True)
    heights = rng.integers(HEIGHTS[0], HEIGHTS[1], count, endpoint=True)
    positive = rng.random(count) >= NEGATIVE_SHARE
    counts = np.where(positive, np.minimum(1 + rng.negative_binomial(BOX_COUNT_N, BOX_COUNT_P, count), MAX_BOXES), 0)
    owners = np.repeat(np.arange(count), counts)
    total = int(counts.sum())
    sides = np.stack([widths[owners], heights[owners]], axis=1).astype(np.float64)
    relative = np.exp(rng.uniform(math.log(RELATIVE_SIDES[0]), math.log(RELATIVE_SIDES[1]), (total, 2)))
    size = np.floor(np.maximum(relative * sides, 2.0) * 100) / 100
    # 0.01 px of margin: the right and bottom edges stay inside the image after float rounding of x + w.
    corner = np.floor(rng.random((total, 2)) * (sides - size - 0.01) * 100) / 100
    polygon = rng.random(total) < POLYGON_SHARE
    cuts = np.where(polygon, np.round(rng.uniform(0.1, 0.4, total) * size.min(axis=1), 2), 0.0)
    labels = rng.choice(CLASS_COUNT, size=total, p=CLASS_WEIGHTS)
    return Chunk(first, widths, heights, counts, labels, np.hstack([corner, size]), cuts)


def chunks(images: int, seed: int) -> Iterator[Chunk]:
    for index, first in enumerate(range(0, images, CHUNK_IMAGES)):
        yield make_chunk(seed, index, first, min(CHUNK_IMAGES, images - first))


def stem(index: int) -> str:
    return f"{index:07d}"


COCO_IMAGE = '{"id":%d,"file_name":"%s.jpg","width":%d,"height":%d}'
COCO_BOX = '{"id":%d,"image_id":%d,"category_id":%d,"bbox":[%.2f,%.2f,%.2f,%.2f],"area":%.2f,"iscrowd":0,'
COCO_PLAIN = COCO_BOX + '"segmentation":[]}'
COCO_POLYGON = COCO_BOX + '"segmentation":[[' + ",".join(["%.2f"] * 16) + "]]}"


def octagons(xywh: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """(N, 16) x, y pairs of the octagon that touches all four sides of each box, its corners cut by `cuts`."""
    x0, y0, w, h = xywh.T
    x1, y1 = x0 + w, y0 + h
    xs = [x0 + cuts, x1 - cuts, x1, x1, x1 - cuts, x0 + cuts, x0, x0]
    ys = [y0, y0, y0 + cuts, y1 - cuts, y1, y1, y1 - cuts, y0 + cuts]
    return np.round(np.stack([v for pair in zip(xs, ys, strict=True) for v in pair], axis=1), 2)


def coco_images_text(chunk: Chunk) -> str:
    rows = zip(range(chunk.first + 1, chunk.first + len(chunk.counts) + 1), chunk.widths, chunk.heights, strict=True)
    return ",".join(COCO_IMAGE % (image_id, stem(image_id - 1), w, h) for image_id, w, h in rows)


def coco_annotations_text(chunk: Chunk, first_id: int) -> str:
    """The chunk's annotations as COCO JSON objects (ids from `first_id`), formatted row by row from numpy
    columns; plain boxes with an empty segmentation, the polygons' octagons as one ring each."""
    total = len(chunk.labels)
    area = np.round(chunk.xywh[:, 2] * chunk.xywh[:, 3] - 2 * chunk.cuts**2, 2)
    ids = np.arange(first_id, first_id + total)
    table = np.column_stack([ids, chunk.first + chunk.owners + 1, chunk.labels + 1, chunk.xywh, area])
    polygon = chunk.cuts > 0
    texts = np.empty(total, dtype=object)
    texts[~polygon] = [COCO_PLAIN % tuple(row) for row in table[~polygon].tolist()]
    rings = np.hstack([table[polygon], octagons(chunk.xywh[polygon], chunk.cuts[polygon])])
    texts[polygon] = [COCO_POLYGON % tuple(row) for row in rings.tolist()]
    return ",".join(texts.tolist())


@dataclass
class Expected:
    """What a set holds, counted while it is written: what every output is checked against."""

    images: int = 0
    negatives: int = 0
    boxes: int = 0
    polygons: int = 0
    class_boxes: list[int] = field(default_factory=lambda: [0] * CLASS_COUNT)

    def add(self, counts: np.ndarray, labels: np.ndarray, polygons: int = 0) -> None:
        """Count images with `counts` boxes each, whose boxes have the class indices `labels`."""
        self.images += len(counts)
        self.negatives += int((counts == 0).sum())
        self.boxes += len(labels)
        self.polygons += polygons
        for label, count in enumerate(np.bincount(labels, minlength=CLASS_COUNT).tolist()):
            self.class_boxes[label] += count

    def add_chunk(self, chunk: Chunk) -> None:
        self.add(chunk.counts, chunk.labels, int((chunk.cuts > 0).sum()))

    @property
    def positives(self) -> int:
        return self.images - self.negatives

    @property
    def class_histogram(self) -> list[int]:
        """The box counts of the classes that have boxes, sorted: what any class numbering must reproduce."""
        return sorted(count for count in self.class_boxes if count)


def write_coco(root: Path, images: int, seed: int) -> Expected:
    """`root/annotations/instances_train.json`, written as a stream in COCO's own key order (categories last, as in
    the official files: a reader cannot count on them coming first), and an empty `root/images/`."""
    expected = Expected()
    path = root / "annotations" / "instances_train.json"
    path.parent.mkdir(parents=True)
    (root / "images").mkdir()
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"info":{"description":"bboxaug scale benchmark (synthetic)","version":"1.0"},')
        out.write('"licenses":[{"id":1,"name":"synthetic","url":""}],"images":[')
        for chunk in chunks(images, seed):
            out.write(("," if chunk.first else "") + coco_images_text(chunk))
        out.write('],"annotations":[')
        for chunk in chunks(images, seed):
            if len(chunk.labels):
                out.write(("," if expected.boxes else "") + coco_annotations_text(chunk, expected.boxes + 1))
            expected.add_chunk(chunk)
        categories = ",".join(
            json.dumps({"id": i + 1, "name": name, "supercategory": "object"}, separators=(",", ":"))
            for i, name in enumerate(CLASS_NAMES)
        )
        out.write(f'],"categories":[{categories}]}}')
    return expected


def voc_xml(chunk: Chunk, position: int, boxes: np.ndarray, labels: list[int]) -> str:
    """One image's VOC XML (`convert.py`'s template): 1-based corners, the box rounded to whole pixels."""
    objects = "".join(
        VOC_OBJECT.format(name=CLASS_NAMES[label], xmin=x0 + 1, ymin=y0 + 1, xmax=x1, ymax=y1)
        for label, (x0, y0, x1, y1) in zip(labels, boxes.tolist(), strict=True)
    )
    index = chunk.first + position
    return VOC_FILE.format(
        filename=f"{stem(index)}.jpg",
        width=chunk.widths[position],
        height=chunk.heights[position],
        objects=objects,
    )


def write_voc(root: Path, images: int, seed: int) -> Expected:
    """`Annotations/*.xml`, `ImageSets/Main/train.txt` and `labelmap.txt` (Datumaro's `name:color:parts:actions`)."""
    expected = Expected()
    annotations = root / "Annotations"
    annotations.mkdir(parents=True)
    image_set = root / "ImageSets" / "Main" / "train.txt"
    image_set.parent.mkdir(parents=True)
    (root / "labelmap.txt").write_text("".join(f"{name}:::\n" for name in CLASS_NAMES), encoding="utf-8")
    with open(image_set, "w", encoding="utf-8") as listing:
        for chunk in chunks(images, seed):
            corners = np.rint(np.hstack([chunk.xywh[:, :2], chunk.xywh[:, :2] + chunk.xywh[:, 2:]])).astype(int)
            ends = np.cumsum(chunk.counts).tolist()
            labels = chunk.labels.tolist()
            for position, end in enumerate(ends):
                start = end - int(chunk.counts[position])
                name = stem(chunk.first + position)
                text = voc_xml(chunk, position, corners[start:end], labels[start:end])
                with open(annotations / f"{name}.xml", "w", encoding="utf-8") as out:
                    out.write(text)
                listing.write(f"{name}\n")
            expected.add_chunk(chunk)
    return expected


def solid_png(side: int, rgb: tuple[int, int, int]) -> bytes:
    """A `side`×`side` RGB PNG of one colour, encoded by hand (no imaging library in the driver)."""

    def png_chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    pixels = zlib.compress((b"\x00" + bytes(rgb) * side) * side, 9)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", pixels) + png_chunk(b"IEND", b"")


YOLO_LINE = "%d %.6f %.6f %.6f %.6f\n"


def write_tiny_yolo(root: Path, images: int, seed: int) -> Expected:
    """The augment scenario's set: `images/train/*.png` (64×64, one of 16 colours) and `labels/train/*.txt` with
    1-3 boxes of 8-40 px each, classes drawn as in the large sets; `data.yaml` names the 80 classes."""
    expected = Expected()
    image_dir, label_dir = root / "images" / "train", root / "labels" / "train"
    image_dir.mkdir(parents=True)
    label_dir.mkdir(parents=True)
    lines = ["train: images/train", f"nc: {CLASS_COUNT}", "names:", *(f"  {i}: {n}" for i, n in enumerate(CLASS_NAMES))]
    (root / "data.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(TINY_STREAM,)))
    pngs = [solid_png(TINY_SIDE, tuple(int(v) for v in rng.integers(0, 256, 3))) for _ in range(16)]
    for first in range(0, images, CHUNK_IMAGES):
        count = min(CHUNK_IMAGES, images - first)
        counts = rng.integers(TINY_BOXES[0], TINY_BOXES[1], count, endpoint=True)
        total = int(counts.sum())
        size = rng.integers(8, 40, (total, 2), endpoint=True)
        centre = (size / 2 + rng.random((total, 2)) * (TINY_SIDE - size)) / TINY_SIDE
        labels = rng.choice(CLASS_COUNT, size=total, p=CLASS_WEIGHTS)
        rows = np.column_stack([labels, centre, size / TINY_SIDE]).tolist()
        colours = rng.integers(0, len(pngs), count).tolist()
        start = 0
        for position, n in enumerate(counts.tolist()):
            name = stem(first + position)
            (image_dir / f"{name}.png").write_bytes(pngs[colours[position]])
            text = "".join(YOLO_LINE % tuple(row) for row in rows[start : start + n])
            (label_dir / f"{name}.txt").write_text(text, encoding="utf-8")
            start += n
        expected.add(counts, labels)
    return expected


WRITERS: dict[str, Callable[[Path, int, int], Expected]] = {
    "coco": write_coco,
    "voc": write_voc,
    "tiny-yolo": write_tiny_yolo,
}


@dataclass
class DataSet:
    """A generated set on disk: what tools are given (`source`) and what it holds."""

    kind: str
    root: Path
    expected: Expected

    @property
    def source(self) -> Path:
        return {
            "coco": self.root / "annotations" / "instances_train.json",
            "voc": self.root,
            "tiny-yolo": self.root / "data.yaml",
        }[self.kind]


def data_set(workdir: Path, kind: str, images: int, seed: int, regenerate: bool) -> DataSet:
    """The set of `kind` at this size and seed: the cached one when its manifest matches, else written afresh
    (the manifest last, so an interrupted generation is never taken for a finished one)."""
    root = workdir / "data" / f"{kind}-{images}-seed{seed}"
    manifest = root / "manifest.json"
    if manifest.exists() and not regenerate:
        cached = json.loads(manifest.read_text(encoding="utf-8"))
        if cached["generator_version"] == GENERATOR_VERSION:
            return DataSet(kind, root, Expected(**cached["expected"]))
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    expected = WRITERS[kind](root, images, seed)
    seconds = time.perf_counter() - started
    size_mb = sum(path.stat().st_size for path in root.rglob("*") if path.is_file()) / MB
    print(
        f"generated {root.name}: {expected.images} images ({expected.negatives} negatives), {expected.boxes} boxes "
        f"({expected.polygons} polygons), {size_mb:.0f} MB in {seconds:.1f} s",
        flush=True,
    )
    content = {"generator_version": GENERATOR_VERSION, "seconds": seconds, "mb": size_mb, "expected": asdict(expected)}
    manifest.write_text(json.dumps(content), encoding="utf-8")
    return DataSet(kind, root, expected)


# --- the peers, each run in its own process (`--peer`) ----------------------------------------------------------

#: What a stats or validate run writes into its output folder: its counts as JSON (bboxaug's `stats --json` too).
SUMMARY = "summary.json"
#: bboxaug's `validate --json` report.
FINDINGS = "findings.json"


def datumaro_coco(source: Path) -> Any:
    """Datumaro's dataset of the COCO set; its importer takes the folder that holds `annotations/`."""
    from datumaro.components.dataset import Dataset

    return Dataset.import_from(str(source.parent.parent), "coco_instances")


def datumaro_stats(source: Path) -> dict[str, Any]:
    """`compute_ann_statistics`. Datumaro reads a COCO polygon as a polygon plus its box, so the boxes are its
    count of bbox annotations, not its total."""
    from datumaro.components.operations import compute_ann_statistics

    stats = compute_ann_statistics(datumaro_coco(source))
    return {
        "images": stats["images count"],
        "negatives": stats["unannotated images count"],
        "boxes": stats["annotations by type"]["bbox"]["count"],
    }


def datumaro_validate(source: Path) -> dict[str, Any]:
    """`DetectionValidator().validate`: statistics of the boxes, then its reports (counted by severity)."""
    from datumaro.plugins.validators import DetectionValidator

    dataset = datumaro_coco(source)
    result = DetectionValidator().validate(dataset)
    return {
        "images": len(dataset),
        "negatives": len(result["statistics"]["items_missing_annotation"]),
        "boxes": result["statistics"]["total_ann_count"],
        "findings": result["summary"],
    }


def globox_stats(source: Path) -> dict[str, Any]:
    """`show_stats` (what `globox summary` prints: images and boxes per class)."""
    from globox import AnnotationSet

    annotations = AnnotationSet.from_coco(source)
    annotations.show_stats()
    return {"images": len(annotations), "boxes": annotations.nb_boxes()}


PEER_SUMMARIES: dict[tuple[str, str], Callable[[Path], dict[str, Any]]] = {
    ("datumaro", "stats"): datumaro_stats,
    ("datumaro", "validate"): datumaro_validate,
    ("globox", "stats"): globox_stats,
}


def run_peer(tool: str, scenario: str, source: Path, dst: Path) -> None:
    """One peer run, in this (fresh) process: a conversion as `benchmarks/convert.py` runs it, or a summary
    written to `dst/summary.json`. A failure propagates: the exit code and the log say it."""
    if scenario in ("coco2yolo", "voc2coco"):
        converter = load_datumaro(scenario) if tool == "datumaro" else load_globox(scenario, CLASS_NAMES)
        converter(source, dst)
        return
    summary = PEER_SUMMARIES[tool, scenario](source)
    dst.mkdir(parents=True, exist_ok=True)
    (dst / SUMMARY).write_text(json.dumps(summary), encoding="utf-8")


# --- measuring --------------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One measured process: wall and CPU time (user + system of the whole tree), the peak of the tree's summed
    RSS, the main process's own peak (VmHWM), and what became of it."""

    seconds: float
    cpu_s: float
    tree_peak_mb: float
    main_peak_mb: float
    exit_code: int
    command: str
    killed: str | None = None
    error: str | None = None
    check: str = ""
    ok: bool = False


class Sampler(threading.Thread):
    """Polls a process tree every `POLL_S` until stopped, keeping the peaks; kills the tree when its summed RSS
    passes `cap` bytes or the run passes `timeout` seconds, and says why in `killed`."""

    def __init__(self, pid: int, cap: float, timeout: float) -> None:
        super().__init__(daemon=True)
        import psutil  # the driver's own dependency: the peers' venv need not have it

        self.psutil = psutil
        self.pid = pid
        self.root: Any = None  # its psutil handle, once the thread runs
        self.cap, self.timeout = cap, timeout
        self.started = time.perf_counter()
        self.tree_peak = self.main_peak = 0
        self.killed: str | None = None
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            self.root = self.psutil.Process(self.pid)
        except self.psutil.NoSuchProcess:
            return  # ended already (reaped): nothing to watch
        while True:
            members = self.members()
            rss = sum(self.rss(process) for process in members)
            self.main_peak = max(self.main_peak, high_water_mark(self.pid))
            # The main process's high-water mark also catches a peak between two polls: the tree was at least that.
            self.tree_peak = max(self.tree_peak, rss, self.main_peak)
            elapsed = time.perf_counter() - self.started
            if rss > self.cap or elapsed > self.timeout:
                reason = f"memory cap {self.cap / GB:g} GB" if rss > self.cap else f"timeout {self.timeout:g} s"
                self.killed = f"killed at {rss / GB:.1f} GB after {elapsed:.0f} s ({reason})"
                self.kill(members)
                return
            if self.stopped.wait(POLL_S):
                return

    def members(self) -> list[Any]:
        """The process and all its descendants (none once it has ended)."""
        try:
            return [self.root, *self.root.children(recursive=True)]
        except self.psutil.NoSuchProcess:
            return []

    def rss(self, process: Any) -> int:
        try:
            return int(process.memory_info().rss)
        except (self.psutil.NoSuchProcess, self.psutil.AccessDenied):
            return 0

    def kill(self, members: list[Any]) -> None:
        """SIGKILL to the run's process group (it leads its own session), then to any descendant outside it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        for process in members:
            with contextlib.suppress(self.psutil.NoSuchProcess):
                process.kill()


def high_water_mark(pid: int) -> int:
    """A live process's peak RSS in bytes (`VmHWM`); 0 once it has ended."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(command: list[str], log: Path, cap_gb: float, timeout: float) -> Run:
    """Run `command` in a new session, output to `log`, while a `Sampler` watches it. The wall time ends when the
    process is reaped (this thread waits on it), not at the next poll. CPU time is that of every descendant the
    process waited for."""
    cpu_before = children_cpu_s()
    with open(log, "wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        sampler = Sampler(process.pid, cap_gb * GB, timeout)
        sampler.start()
        exit_code = process.wait()
        seconds = time.perf_counter() - started
    sampler.stopped.set()
    sampler.join()
    return Run(
        seconds=seconds,
        cpu_s=children_cpu_s() - cpu_before,
        tree_peak_mb=sampler.tree_peak / MB,
        main_peak_mb=sampler.main_peak / MB,
        exit_code=exit_code,
        command=shlex.join(command),
        killed=sampler.killed,
    )


# --- checking outputs -------------------------------------------------------------------------------------------


def check_yolo(expected: Expected, dst: Path) -> str:
    """One label line per box, a non-empty label file per positive image, and the same boxes per class (compared
    as sorted counts, so any class numbering passes). Label files are the `.txt` files named by image number."""
    lines = labelled = 0
    classes: Counter[bytes] = Counter()
    for path in dst.rglob("*.txt"):
        if not path.stem.isdigit():
            continue
        rows = [row for row in path.read_bytes().splitlines() if row.strip()]
        lines += len(rows)
        labelled += bool(rows)
        classes.update(row.split(maxsplit=1)[0] for row in rows)
    if lines != expected.boxes:
        raise CheckFailed(f"{lines} label lines, expected {expected.boxes}")
    if labelled != expected.positives:
        raise CheckFailed(f"{labelled} label files with boxes, expected {expected.positives}")
    if sorted(classes.values()) != expected.class_histogram:
        raise CheckFailed("the boxes per class differ from the source's")
    return f"{lines} boxes in {labelled} label files, boxes per class agree"


CATEGORY_ID = re.compile(rb'"category_id"\s*:\s*(\d+)')


def coco_counts(path: Path) -> tuple[int, int, Counter[bytes]]:
    """Images (`"file_name"` keys), annotations (`"image_id"` keys) and annotations per category id in a COCO
    file of any size, scanned block by block. A block is cut after its last comma: no counted token holds one."""
    images = annotations = 0
    categories: Counter[bytes] = Counter()
    carry = b""
    with open(path, "rb") as source:
        while True:
            block = source.read(1 << 24)
            text = carry + block
            cut = text.rfind(b",") + 1 if block else len(text)
            text, carry = text[:cut], text[cut:]
            images += text.count(b'"file_name"')
            annotations += text.count(b'"image_id"')
            categories.update(CATEGORY_ID.findall(text))
            if not block:
                return images, annotations, categories


def check_coco(expected: Expected, dst: Path) -> str:
    """The largest JSON file under `dst` holds every image, one annotation per box and the same boxes per class."""
    files = sorted(dst.rglob("*.json"), key=lambda path: path.stat().st_size)
    if not files:
        raise CheckFailed(f"no JSON file under {dst}")
    images, annotations, categories = coco_counts(files[-1])
    if images != expected.images:
        raise CheckFailed(f"{files[-1].name}: {images} images, expected {expected.images}")
    if annotations != expected.boxes:
        raise CheckFailed(f"{files[-1].name}: {annotations} annotations, expected {expected.boxes}")
    if sorted(categories.values()) != expected.class_histogram:
        raise CheckFailed(f"{files[-1].name}: the boxes per class differ from the source's")
    return f"{images} images, {annotations} annotations, boxes per class agree"


def check_summary(expected: Expected, dst: Path) -> str:
    """The images, negatives and boxes a stats or validate run counted (those it reports), and the boxes per class
    when it names the classes (bboxaug's `stats --json`)."""
    summary = json.loads((dst / SUMMARY).read_text(encoding="utf-8"))
    for key in ("images", "negatives", "boxes"):
        if key in summary and summary[key] != getattr(expected, key):
            raise CheckFailed(f"{key}: {summary[key]}, expected {getattr(expected, key)}")
    classes = summary.get("classes")
    if isinstance(classes, dict):
        found = [classes.get(name, {}).get("boxes", 0) for name in CLASS_NAMES]
        if found != expected.class_boxes:
            raise CheckFailed("the boxes per class differ from the source's")
    counted = ", ".join(f"{summary[key]} {key}" for key in ("images", "negatives", "boxes") if key in summary)
    return counted + (", boxes per class agree" if isinstance(classes, dict) else "")


def report_totals(path: Path) -> dict[str, Any]:
    """The totals of bboxaug's `validate --json` report, read up to its list of findings (which, on a set
    without images, is one finding per image: half a gigabyte at 2M images)."""
    head = b""
    with open(path, "rb") as report:
        while (block := report.read(1 << 16)) and b'"findings"' not in head:
            head += block
    if b'"findings"' not in head:
        return json.loads(head)
    return json.loads(head[: head.index(b'"findings"')].rstrip().rstrip(b",") + b"}")


def check_findings(expected: Expected, dst: Path) -> str:
    """The annotation-only set's one problem: no image file, one error per image, nothing else."""
    totals = report_totals(dst / FINDINGS)
    if totals.get("counts") != {"missing_image": expected.images} or totals.get("errors") != expected.images:
        raise CheckFailed(f"expected only {expected.images} missing_image errors, found {totals.get('counts')}")
    return f"{expected.images} missing_image errors (no image files), nothing else"


def check_augment(expected: Expected, dst: Path) -> str:
    """Every original and one copy each: twice the images, each with a label file; the originals keep every box."""
    images = sum(1 for path in dst.rglob("*") if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"))
    labels = [path for path in dst.rglob("*.txt") if path.stem[:1].isdigit()]
    original_boxes = sum(
        len([row for row in path.read_bytes().splitlines() if row.strip()]) for path in labels if path.stem.isdigit()
    )
    if images != 2 * expected.images:
        raise CheckFailed(f"{images} images, expected {2 * expected.images}")
    if original_boxes != expected.boxes:
        raise CheckFailed(f"the originals' label files hold {original_boxes} boxes, expected {expected.boxes}")
    return f"{images} images, {len(labels)} label files, the originals' {original_boxes} boxes kept"


def check_of(scenario: str, tool: str) -> Callable[[Expected, Path], str]:
    if scenario == "validate" and tool == "bboxaug":
        return check_findings
    return {
        "coco2yolo": check_yolo,
        "voc2coco": check_coco,
        "stats": check_summary,
        "validate": check_summary,
        "augment": check_augment,
    }[scenario]


# --- the benchmark ----------------------------------------------------------------------------------------------


def bboxaug_arguments(scenario: str, source: Path, dst: Path) -> list[object]:
    """The `bboxaug` command line of a scenario, after the program name (`-q` and `--jobs` are added)."""
    return {
        "coco2yolo": ["convert", source, dst, "--from", "coco", "--to", "yolo", "--images", "none", "--overwrite"],
        "voc2coco": ["convert", source, dst, "--from", "voc", "--to", "coco", "--images", "none", "--overwrite"],
        "stats": ["stats", source, "--from", "coco", "--json", dst / SUMMARY, "--anchors", "0"],
        "validate": ["validate", source, "--from", "coco", "--json", dst / FINDINGS],
        "augment": ["augment", source, dst, "--copies", "1", "--to", "yolo", "--overwrite"],
    }[scenario]


@dataclass
class Settings:
    """How tools are run: their interpreters, bboxaug's `--jobs`, the limits of a run, the output folders."""

    bboxaug: Path
    peer_python: Path | None
    jobs: int | None
    memory_cap_gb: float
    timeout: float
    workdir: Path

    def command(self, tool: str, scenario: str, source: Path, dst: Path) -> list[str]:
        if tool == "bboxaug":
            jobs = ["--jobs", str(self.jobs)] if self.jobs else []
            return [str(self.bboxaug), *map(str, bboxaug_arguments(scenario, source, dst)), "-q", *jobs]
        assert self.peer_python is not None
        return [str(self.peer_python), str(Path(__file__).resolve()), "--peer", tool, scenario, str(source), str(dst)]


@dataclass
class Result:
    """Every run of one tool on one scenario at one size, and what is reported of them."""

    images: int
    scenario: str
    tool: str
    runs: list[Run] = field(default_factory=list)

    @property
    def failure(self) -> str | None:
        """Why this tool has no valid time: killed, failed, or a wrong output."""
        for run in self.runs:
            if run.killed:
                return run.killed
            if run.error:
                return f"FAILED ({run.error})"
            if not run.ok:
                return f"WRONG OUTPUT ({run.check})"
        return None

    @property
    def seconds(self) -> list[float]:
        return sorted(run.seconds for run in self.runs if not run.killed and not run.error)

    @property
    def best_s(self) -> float | None:
        return self.seconds[0] if self.seconds and not self.failure else None

    @property
    def tree_peak_mb(self) -> float | None:
        return max((run.tree_peak_mb for run in self.runs), default=None)

    @property
    def main_peak_mb(self) -> float | None:
        return max((run.main_peak_mb for run in self.runs), default=None)

    def summary(self) -> dict[str, Any]:
        seconds = self.seconds
        return {
            "images": self.images,
            "scenario": self.scenario,
            "tool": self.tool,
            "valid": self.failure is None,
            "failure": self.failure,
            "best_s": self.best_s,
            "median_s": statistics.median(seconds) if seconds else None,
            "max_s": seconds[-1] if seconds else None,
            "best_cpu_s": min((run.cpu_s for run in self.runs if not run.killed), default=None),
            "tree_peak_mb": self.tree_peak_mb,
            "main_peak_mb": self.main_peak_mb,
            "runs": [asdict(run) for run in self.runs],
        }


def run_once(settings: Settings, result: Result, data: DataSet, attempt: str) -> Run:
    """One measured run of `result`'s tool, its output checked against `data` and then deleted."""
    dst = settings.workdir / "out" / f"{result.scenario}-{result.tool}"
    shutil.rmtree(dst, ignore_errors=True)
    if result.scenario in ("stats", "validate"):
        dst.mkdir(parents=True)
    log = settings.workdir / "logs" / f"{result.images}-{result.scenario}-{result.tool}-{attempt}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = settings.command(result.tool, result.scenario, data.source, dst)
    run = measure(command, log, settings.memory_cap_gb, settings.timeout)
    # validate exits 1 when it finds errors, and an annotation-only set has one per image (no image file).
    accepted = (0, 1) if result.scenario == "validate" else (0,)
    if not run.killed and run.exit_code not in accepted:
        tail = log.read_text(errors="replace").strip().splitlines()[-2:]
        run.error = f"exit code {run.exit_code}: {' | '.join(tail)} (log: {log})"
    elif not run.killed:
        try:
            run.check, run.ok = check_of(result.scenario, result.tool)(data.expected, dst), True
        except (CheckFailed, OSError, ValueError) as failure:
            run.check = str(failure)
    shutil.rmtree(dst, ignore_errors=True)
    return run


def shown(run: Run) -> str:
    memory = f"tree {run.tree_peak_mb:.0f} MB, main {run.main_peak_mb:.0f} MB"
    if run.killed:
        return f"{run.killed}; {memory}"
    if run.error:
        return f"FAILED after {run.seconds:.1f} s: {run.error}"
    verdict = run.check if run.ok else f"WRONG OUTPUT: {run.check}"
    return f"{run.seconds:.2f} s ({run.cpu_s:.2f} s CPU), {memory}, {verdict}"


def run_size(
    settings: Settings,
    sets: dict[str, DataSet],
    pairs: list[tuple[str, str]],
    repeat: int,
    save: Callable[[list[Result]], None],
) -> list[Result]:
    """Interleave the runs: each repeat runs every (scenario, tool) pair once, and `save` is given the results so
    far after each. A tool that was killed or failed is not run again on that scenario."""
    results = [Result(sets[SOURCE_KIND[scenario]].expected.images, scenario, tool) for scenario, tool in pairs]
    for attempt in range(1, repeat + 1):
        for result in results:
            if result.failure:
                continue
            run = run_once(settings, result, sets[SOURCE_KIND[result.scenario]], f"{attempt}of{repeat}")
            result.runs.append(run)
            print(f"  [{attempt}/{repeat}] {result.scenario} {result.tool} ({result.images}): {shown(run)}", flush=True)
            save(results)
    return results


# --- reporting --------------------------------------------------------------------------------------------------


def cell(value: float | None, spec: str, suffix: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{suffix}"


def markdown(results: list[Result], repeat: int) -> str:
    """One size's results: a row per scenario and tool, ratios against bboxaug on the same scenario."""
    lines = [
        f"| scenario | tool | s best of {repeat} | s median | s max | s / 1k images | CPU s | peak RSS tree MB "
        "| main process peak MB | time ÷ bboxaug | RSS ÷ bboxaug | output |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    reference = {r.scenario: r for r in results if r.tool == "bboxaug" and r.failure is None}
    for result in results:
        summary = result.summary()
        base = reference.get(result.scenario)
        time_ratio = result.best_s / base.best_s if base and base.best_s and result.best_s else None
        rss_ratio = (
            result.tree_peak_mb / base.tree_peak_mb
            if base and base.tree_peak_mb and result.tree_peak_mb and result.failure is None
            else None
        )
        output = result.failure or (result.runs[-1].check if result.runs else "not run")
        cells = [
            result.scenario,
            result.tool,
            cell(summary["best_s"], ".2f"),
            cell(summary["median_s"], ".2f"),
            cell(summary["max_s"], ".2f"),
            cell(result.best_s and result.best_s / result.images * 1000, ".3f"),
            cell(summary["best_cpu_s"], ".2f"),
            cell(result.tree_peak_mb, ".0f"),
            cell(result.main_peak_mb, ".0f"),
            cell(time_ratio, ".2f", "×"),
            cell(rss_ratio, ".2f", "×"),
            output.replace("|", "/"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def versions(python: Path, packages: list[str]) -> dict[str, str]:
    """The installed versions of `packages` in the interpreter `python` (empty when it cannot say)."""
    code = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    done = subprocess.run([str(python), "-c", code, *packages], capture_output=True, text=True, check=False)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def bboxaug_commit(python: Path) -> str | None:
    """The git commit of the bboxaug source `python` imports (`+dirty` with uncommitted changes): an editable
    install runs whatever that checkout holds when each run starts."""
    code = "import bboxaug, os; print(os.path.dirname(bboxaug.__file__))"
    found = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    if found.returncode != 0:
        return None
    git = ["git", "-C", found.stdout.strip()]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    if commit.returncode != 0:
        return None
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "."], capture_output=True, text=True, check=False)
    return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


#: Bytes per image that a set, and a scenario's output, take on a tmpfs (a 4 KB page per small file), measured at
#: 20,000 images. Outputs are deleted after each run, so only the largest counts.
SET_BYTES = {"coco": 1.4e3, "voc": 5.0e3, "tiny-yolo": 8.2e3}
OUTPUT_BYTES = {"coco2yolo": 3.7e3, "voc2coco": 1.2e3, "stats": 0.0, "validate": 0.3e3, "augment": 16.6e3}


def footprint_warning(workdir: Path, sizes: list[int], scenarios: list[str], augment_max: int) -> str | None:
    """A warning when the sets and the largest output would take much of the memory from a RAM-backed workdir."""
    import psutil

    needed = 0.0
    for images in sizes:
        running = [s for s in scenarios if s != "augment" or images <= augment_max]
        per_image = sum(SET_BYTES[kind] for kind in {SOURCE_KIND[s] for s in running})
        needed += images * (per_image + max((OUTPUT_BYTES[s] for s in running), default=0.0))
    mounts = [p for p in psutil.disk_partitions(all=True) if workdir.is_relative_to(p.mountpoint)]
    on_tmpfs = bool(mounts) and max(mounts, key=lambda p: len(p.mountpoint)).fstype == "tmpfs"
    available = psutil.virtual_memory().available
    if on_tmpfs and needed > available / 3:
        return (
            f"{workdir} is in RAM (tmpfs) and these sizes need about {needed / GB:.0f} GB of it "
            f"({available / GB:.0f} GB available), taken from the tools: use --workdir on a disk"
        )
    return None


# --- command line -----------------------------------------------------------------------------------------------


def chosen(parser: argparse.ArgumentParser, text: str, known: tuple[str, ...], option: str) -> list[str]:
    items = [item for item in text.split(",") if item]
    if not items or set(items) - set(known):
        parser.error(f"{option}: comma-separated, from {', '.join(known)}")
    return [item for item in known if item in items]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", default="20000", help="sizes, comma-separated (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated sets (default: %(default)s)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="from: " + ", ".join(SCENARIOS))
    parser.add_argument("--tools", default=",".join(TOOLS), help="from: " + ", ".join(TOOLS))
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool and scenario (default: %(default)s)")
    parser.add_argument(
        "--workdir", type=Path, default=DEFAULT_WORKDIR, help="sets, outputs, logs, results (default: %(default)s)"
    )
    parser.add_argument("--regenerate", action="store_true", help="write the sets again even when cached")
    parser.add_argument(
        "--memory-cap-gb", type=float, default=20.0, help="kill a run whose tree RSS passes this (default: 20)"
    )
    parser.add_argument("--timeout", type=float, default=7200.0, help="kill a run after this many seconds")
    parser.add_argument(
        "--augment-max-images",
        type=int,
        default=200_000,
        help="largest size the augment scenario runs at: its set has PNGs and its output twice as many "
        "(default: %(default)s)",
    )
    parser.add_argument("--jobs", type=int, help="bboxaug's --jobs (default: bboxaug's own default)")
    parser.add_argument(
        "--bboxaug-python", type=Path, default=Path(sys.executable), help="the venv bboxaug runs from (its python)"
    )
    parser.add_argument(
        "--peer-python",
        type=Path,
        help="the python of Datumaro and globox (default: benchmarks/.venv-scale if made, else benchmarks/.venv)",
    )
    parser.add_argument("--setup", action="store_true", help=f"make {SETUP_VENV} with the pinned peers first")
    parser.add_argument("--peer", nargs=4, metavar=("TOOL", "SCENARIO", "SRC", "DST"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peer:
        return args
    try:
        args.images = [int(value) for value in args.images.split(",")]
    except ValueError:
        parser.error("--images: comma-separated positive integers")
    if min(*args.images, args.repeat) < 1:
        parser.error("--images and --repeat must be at least 1")
    args.scenarios = chosen(parser, args.scenarios, SCENARIOS, "--scenarios")
    args.tools = chosen(parser, args.tools, TOOLS, "--tools")
    args.workdir = args.workdir.absolute()
    return args


def peer_python(args: argparse.Namespace) -> Path | None:
    """`--peer-python`, else the first of `PEER_PYTHONS` that exists."""
    if args.peer_python:
        return args.peer_python
    return next((python for python in PEER_PYTHONS if python.exists()), None)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.peer:
        tool, scenario, source, dst = args.peer
        run_peer(tool, scenario, Path(source), Path(dst))
        return 0
    if args.setup:
        set_up(SETUP_VENV)
    peers = peer_python(args)
    if any(tool != "bboxaug" for tool in args.tools) and peers is None:
        print("no Datumaro/globox venv: run with --setup or give --peer-python", file=sys.stderr)
        return 2
    bboxaug = args.bboxaug_python.parent / "bboxaug"
    if "bboxaug" in args.tools and not bboxaug.exists():
        print(f"no bboxaug command beside {args.bboxaug_python}: give --bboxaug-python", file=sys.stderr)
        return 2
    settings = Settings(
        bboxaug=bboxaug,
        peer_python=peers,
        jobs=args.jobs,
        memory_cap_gb=args.memory_cap_gb,
        timeout=args.timeout,
        workdir=args.workdir,
    )
    report: dict[str, Any] = {
        "command": shlex.join(sys.orig_argv),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_average_at_start": os.getloadavg(),
        "cpus": os.cpu_count(),
        "seed": args.seed,
        "versions": {
            **versions(args.bboxaug_python, ["bboxaug"]),
            **(versions(peers, ["datumaro", "globox"]) if peers else {}),
        },
        "bboxaug_commit": bboxaug_commit(args.bboxaug_python),
        "sets": {},
        "results": [],
    }
    results_file = args.workdir / f"results-{time.strftime('%Y%m%d-%H%M%S')}.json"
    print(f"$ {report['command']}\nload average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"versions: {', '.join(f'{k} {v}' for k, v in report['versions'].items())}", flush=True)
    print(f"bboxaug source at commit {report['bboxaug_commit']}", flush=True)
    warning = footprint_warning(args.workdir, args.images, args.scenarios, args.augment_max_images)
    if warning:
        print(f"WARNING: {warning}", flush=True)
    tables = []
    done: list[Result] = []

    def save(current: list[Result]) -> None:
        report["results"] = [result.summary() for result in [*done, *current]]
        report["load_average_at_end"] = os.getloadavg()
        results_file.write_text(json.dumps(report, indent=2), encoding="utf-8")

    for images in args.images:
        scenarios = [s for s in args.scenarios if s != "augment" or images <= args.augment_max_images]
        if len(scenarios) < len(args.scenarios):
            print(f"augment skipped at {images} images (above --augment-max-images {args.augment_max_images})")
        kinds = sorted({SOURCE_KIND[scenario] for scenario in scenarios})
        sets = {kind: data_set(args.workdir, kind, images, args.seed, args.regenerate) for kind in kinds}
        report["sets"].update({set_.root.name: asdict(set_.expected) for set_ in sets.values()})
        pairs = [(s, t) for s in scenarios for t in args.tools if s in SUPPORTED[t]]
        load_at_start = os.getloadavg()
        results = run_size(settings, sets, pairs, args.repeat, save)
        done += results
        held = "; ".join(f"{d.kind}: {d.expected.boxes} boxes" for d in sets.values())
        load = " ".join(f"{value:.2f}" for value in load_at_start)
        title = f"### {images} images ({held}), seed {args.seed}; load average at the start: {load}"
        tables.append(title + "\n\n" + markdown(results, args.repeat))
        print("\n" + tables[-1] + "\n", flush=True)
    save([])
    if len(tables) > 1:
        print("\n\n".join(tables) + "\n")
    print(f"results: {results_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
