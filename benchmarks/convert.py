#!/usr/bin/env python3
"""Conversion benchmark: bboxaug against Datumaro, globox and a no-logic floor.

Writes a deterministic synthetic detection set (boxes only, no pixels: 20,000 images and 200,000 boxes by
default) twice, as one COCO file and as VOC XML files holding the same boxes, then times two conversions:

- COCO -> YOLO: ``coco/annotations/instances_train.json`` to one label file per image;
- VOC -> COCO: ``voc/Annotations/*.xml`` (image sizes in the XML, ``ImageSets/Main/train.txt``) to one COCO
  file.

Each tool converts annotations only: there are no image files (COCO's ``images/`` folder exists, empty, because
Datumaro requires it). Every measurement runs in a fresh Python process of the benchmark's own virtual
environment (``benchmarks/.venv``, made by ``--setup``), so no tool inherits another's memory or caches. Inside
that process only the conversion is timed; the tool's import is timed apart. Runs are interleaved (tool after
tool, repeat after repeat) and the best of ``--repeat`` is reported, with the process's peak resident set size:
its own ``VmHWM``, or that of a child process it reaped if larger. (Not ``wait4``/``getrusage`` alone: Linux
carries a process's memory high-water mark from before ``exec`` over into it, so a worker started by this large
driver would report the driver's memory.) Every output is checked against the generated boxes after every run;
a tool whose output is wrong is reported as such and never counted as the fastest peer.

bboxaug runs once per value of ``--jobs`` (``--jobs 1,2``: single-process, and on two worker processes), shown as
``bboxaug --jobs N``. With N > 1 its CPU time includes its worker processes', and its peak memory is that of the
largest single process (the main one or a worker), not their sum. The peers and the floor run in one process.

The floor is the least any converter must do, single-process, in plain Python:

- COCO -> YOLO: ``json.load`` the file, group the annotations by image, compute each box's normalised centre
  and size, and write one ``.txt`` per image (``%.6f`` numbers, empty file for a negative).
- VOC -> COCO: parse every XML with ``xml.etree.ElementTree`` (the C parser), take the file name, size, class
  name and the four corners (1-based inclusive corners to 0-based ``[x, y, w, h]``), and write one COCO file
  with ``json.dumps``.

Usage::

    python benchmarks/convert.py --setup            # make benchmarks/.venv, then run
    python benchmarks/convert.py --images 2000 --repeat 1 --tools floor,bboxaug
    python benchmarks/convert.py --jobs 1,2         # bboxaug single-process and on two workers

Prints a Markdown table and writes the same results to ``WORKDIR/results.json``.
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
import venv
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from xml.etree import ElementTree

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_VENV = HERE / ".venv"
DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "bboxaug-convert-bench"

#: The peer versions this benchmark was written and checked against.
PEER_PINS = ("datumaro==1.13.12", "globox==2.9.0")

SEED = 20240611
#: Class names, COCO ids 1..8 in this order. They are PASCAL VOC class names so that Datumaro's VOC importer,
#: which falls back to the VOC label map when a dataset has no labelmap.txt, knows them.
CLASSES = ("person", "car", "dog", "cat", "bicycle", "bus", "chair", "bottle")
NEGATIVE_SHARE = 0.1
MIN_SIZE = (640, 480)  # width, height
MAX_SIZE = (1920, 1080)

#: Images whose boxes are compared one by one (all images have their box counts compared).
SAMPLE_IMAGES = 500
YOLO_TOLERANCE = 1e-3
COCO_TOLERANCE_PX = 1.0

DIRECTIONS = {"coco2yolo": "COCO → YOLO", "voc2coco": "VOC → COCO"}
TOOLS = ("bboxaug", "datumaro", "globox", "floor")
PEERS = ("datumaro", "globox")


def runner_names(tools: list[str], jobs: list[int]) -> list[str]:
    """What is run, in order: each tool, bboxaug once per `--jobs` value (named `bboxaug:<jobs>`)."""
    names = []
    for tool in tools:
        names += [f"bboxaug:{count}" for count in jobs] if tool == "bboxaug" else [tool]
    return names


def tool_of(runner: str) -> str:
    return runner.partition(":")[0]


def jobs_of(runner: str) -> int:
    return int(runner.partition(":")[2] or 1)


def label(runner: str) -> str:
    """How a runner is shown: `bboxaug --jobs 2`, or the tool's name."""
    return f"bboxaug --jobs {jobs_of(runner)}" if tool_of(runner) == "bboxaug" else runner


# --- synthetic data -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """A box in 0-based pixel corners (integers, so COCO and VOC hold exactly the same box)."""

    label: str
    x0: int
    y0: int
    x1: int
    y1: int


@dataclass(frozen=True)
class Image:
    """An image's annotation: its file is `<stem>.jpg` (never written), its size, its boxes."""

    stem: str
    width: int
    height: int
    boxes: tuple[Box, ...]

    @property
    def file_name(self) -> str:
        return f"{self.stem}.jpg"


def make_images(count: int, boxes_per_image: int, seed: int = SEED) -> list[Image]:
    """`count` images of random sizes with exactly `count * boxes_per_image` boxes in all.

    About `NEGATIVE_SHARE` of the images have no box; each box goes to a random one of the others, so box counts
    vary around the mean. Sides are 2 px to half the image side, corners are integers inside the image.
    """
    rng = random.Random(seed)
    sizes = [(rng.randint(MIN_SIZE[0], MAX_SIZE[0]), rng.randint(MIN_SIZE[1], MAX_SIZE[1])) for _ in range(count)]
    positives = [i for i in range(count) if rng.random() >= NEGATIVE_SHARE] or list(range(count))
    per_image = [0] * count
    for i in rng.choices(positives, k=count * boxes_per_image):
        per_image[i] += 1
    images = []
    for i, ((width, height), n) in enumerate(zip(sizes, per_image, strict=True)):
        boxes = []
        for _ in range(n):
            w, h = rng.randint(2, width // 2), rng.randint(2, height // 2)
            x0, y0 = rng.randint(0, width - w), rng.randint(0, height - h)
            boxes.append(Box(rng.choice(CLASSES), x0, y0, x0 + w, y0 + h))
        images.append(Image(f"{i:06d}", width, height, tuple(boxes)))
    return images


def write_coco(images: list[Image], path: Path) -> None:
    """One COCO detection file; coordinates written as floats (`12.0`), as COCO files usually hold them."""
    category_ids = {name: i for i, name in enumerate(CLASSES, start=1)}
    annotations = []
    for image_id, image in enumerate(images, start=1):
        for box in image.boxes:
            w, h = box.x1 - box.x0, box.y1 - box.y0
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category_ids[box.label],
                    "bbox": [float(box.x0), float(box.y0), float(w), float(h)],
                    "area": float(w * h),
                    "iscrowd": 0,
                    "segmentation": [],
                }
            )
    content = {
        "info": {"description": "bboxaug conversion benchmark (synthetic)"},
        "licenses": [],
        "images": [
            {"id": i, "file_name": image.file_name, "width": image.width, "height": image.height}
            for i, image in enumerate(images, start=1)
        ],
        "annotations": annotations,
        "categories": [{"id": i, "name": name, "supercategory": "none"} for name, i in category_ids.items()],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content), encoding="utf-8")


VOC_FILE = """<annotation>
  <folder>JPEGImages</folder>
  <filename>{filename}</filename>
  <size>
    <width>{width}</width>
    <height>{height}</height>
    <depth>3</depth>
  </size>
  <segmented>0</segmented>
{objects}</annotation>
"""
VOC_OBJECT = """  <object>
    <name>{name}</name>
    <pose>Unspecified</pose>
    <truncated>0</truncated>
    <difficult>0</difficult>
    <bndbox>
      <xmin>{xmin}</xmin>
      <ymin>{ymin}</ymin>
      <xmax>{xmax}</xmax>
      <ymax>{ymax}</ymax>
    </bndbox>
  </object>
"""


def voc_xml(image: Image) -> str:
    """The PASCAL VOC XML of one image: 1-based inclusive integer corners, the size in `<size>`."""
    objects = "".join(
        VOC_OBJECT.format(name=box.label, xmin=box.x0 + 1, ymin=box.y0 + 1, xmax=box.x1, ymax=box.y1)
        for box in image.boxes
    )
    return VOC_FILE.format(filename=image.file_name, width=image.width, height=image.height, objects=objects)


def write_voc(images: list[Image], root: Path) -> None:
    """`Annotations/<stem>.xml` for every image and the `ImageSets/Main/train.txt` list (no JPEGImages)."""
    annotations = root / "Annotations"
    annotations.mkdir(parents=True, exist_ok=True)
    for image in images:
        (annotations / f"{image.stem}.xml").write_text(voc_xml(image), encoding="utf-8")
    image_set = root / "ImageSets" / "Main" / "train.txt"
    image_set.parent.mkdir(parents=True, exist_ok=True)
    image_set.write_text("".join(f"{image.stem}\n" for image in images), encoding="utf-8")


def coco_source(workdir: Path) -> Path:
    return workdir / "coco" / "annotations" / "instances_train.json"


def voc_source(workdir: Path) -> Path:
    return workdir / "voc"


def write_inputs(images: list[Image], workdir: Path) -> None:
    """Write both inputs afresh under `workdir`."""
    for folder in (workdir / "coco", voc_source(workdir)):
        shutil.rmtree(folder, ignore_errors=True)
    write_coco(images, coco_source(workdir))
    # COCO's usual layout has the images beside annotations/; Datumaro refuses a COCO folder without images/.
    (workdir / "coco" / "images").mkdir()
    write_voc(images, voc_source(workdir))


# --- the tools, as run inside the worker process --------------------------------------------------------------

#: A converter: (source, destination folder) -> None. A loader imports a tool and returns its converter.
Converter = Callable[[Path, Path], None]


def load_bboxaug(direction: str, jobs: int = 1) -> Converter:
    """bboxaug's Python API with both formats named (as for the peers), annotations only (`images="none"`), on
    `jobs` worker processes (`--jobs`), everything else at its defaults."""
    from bboxaug.commands.convert import convert

    source, target = {"coco2yolo": ("coco", "yolo"), "voc2coco": ("voc", "coco")}[direction]

    def run(src: Path, dst: Path) -> None:
        convert(src, dst, fmt_from=source, to=target, images="none", jobs=jobs)

    return run


def load_datumaro(direction: str) -> Converter:
    """`Dataset.import_from(...).export(..., save_media=False)`: COCO sizes come from the json, VOC sizes from
    `<size>`. VOC is read with `coordinate_mode="voc-one-based"` (VOC's 1-based corners; the default keeps them
    as they are). YOLO is Datumaro's `yolo` format (`obj_train_data/*.txt`, `obj.names`)."""
    from datumaro.components.dataset import Dataset

    if direction == "coco2yolo":

        def run(src: Path, dst: Path) -> None:
            dataset_root = src.parent.parent  # Datumaro takes the folder that holds annotations/
            Dataset.import_from(str(dataset_root), "coco_instances").export(str(dst), "yolo", save_media=False)
    else:

        def run(src: Path, dst: Path) -> None:
            dataset = Dataset.import_from(str(src), "voc_detection", coordinate_mode="voc-one-based")
            dataset.export(str(dst), "coco_instances", save_media=False)

    return run


def load_globox(direction: str, classes: Sequence[str] = CLASSES) -> Converter:
    """`AnnotationSet.from_coco(...).save_yolo_darknet(...)` with the class-to-index map globox needs from the
    user (`classes`, in COCO id order), and `from_pascal_voc(Annotations).save_coco(..., auto_ids=True)` (its
    CLI's `-A`), which numbers categories from 0 and keeps VOC corners as they are (no 1-based shift)."""
    from globox import AnnotationSet

    if direction == "coco2yolo":
        label_to_id = {name: i for i, name in enumerate(classes)}

        def run(src: Path, dst: Path) -> None:
            AnnotationSet.from_coco(src).save_yolo_darknet(dst, label_to_id=label_to_id)
    else:

        def run(src: Path, dst: Path) -> None:
            dst.mkdir(parents=True)  # save_coco writes a file into an existing folder
            AnnotationSet.from_pascal_voc(src / "Annotations").save_coco(dst / "instances_train.json", auto_ids=True)

    return run


def floor_coco_to_yolo(src: Path, dst: Path) -> None:
    """The COCO -> YOLO floor: load, group by image, write normalised boxes, one file per image."""
    with open(src, encoding="utf-8") as f:
        content = json.load(f)
    index = {category["id"]: i for i, category in enumerate(content["categories"])}
    lines: dict[int, list[str]] = {image["id"]: [] for image in content["images"]}
    sizes = {image["id"]: (image["width"], image["height"]) for image in content["images"]}
    for ann in content["annotations"]:
        width, height = sizes[ann["image_id"]]
        x, y, w, h = ann["bbox"]
        lines[ann["image_id"]].append(
            f"{index[ann['category_id']]} {(x + w / 2) / width:.6f} "
            f"{(y + h / 2) / height:.6f} {w / width:.6f} {h / height:.6f}\n"
        )
    labels = dst / "labels"
    labels.mkdir(parents=True)
    for image in content["images"]:
        with open(labels / (image["file_name"].rsplit(".", 1)[0] + ".txt"), "w", encoding="utf-8") as f:
            f.write("".join(lines[image["id"]]))


def floor_voc_to_coco(src: Path, dst: Path) -> None:
    """The VOC -> COCO floor: parse each XML, take the numbers, write one COCO file."""
    images, annotations, category_ids = [], [], {}
    for image_id, path in enumerate(sorted((src / "Annotations").glob("*.xml")), start=1):
        root = ElementTree.parse(path).getroot()
        images.append(
            {
                "id": image_id,
                "file_name": root.findtext("filename"),
                "width": int(root.findtext("size/width")),
                "height": int(root.findtext("size/height")),
            }
        )
        for obj in root.iter("object"):
            name = obj.findtext("name")
            box = obj.find("bndbox")
            x0, y0 = float(box.findtext("xmin")) - 1, float(box.findtext("ymin")) - 1
            x1, y1 = float(box.findtext("xmax")), float(box.findtext("ymax"))
            category_id = category_ids.setdefault(name, len(category_ids) + 1)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category_id,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": (x1 - x0) * (y1 - y0),
                    "iscrowd": 0,
                }
            )
    content = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": name} for name, i in category_ids.items()],
    }
    dst.mkdir(parents=True)
    (dst / "instances_train.json").write_text(json.dumps(content), encoding="utf-8")


def load_floor(direction: str) -> Converter:
    return floor_coco_to_yolo if direction == "coco2yolo" else floor_voc_to_coco


LOADERS: dict[str, Callable[[str], Converter]] = {
    "bboxaug": load_bboxaug,
    "datumaro": load_datumaro,
    "globox": load_globox,
    "floor": load_floor,
}


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started, or its reaped children's if larger."""
    with open("/proc/self/status", encoding="ascii") as status:
        own_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return max(own_kb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def workers_cpu_s() -> float:
    """CPU time (user + system) of the worker processes bboxaug started, once stopped: joblib keeps its workers for
    reuse, and a process's time is counted only when it has ended."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def worker(runner: str, direction: str, src: Path, dst: Path, result: Path) -> int:
    """Import one tool and run one conversion in this (fresh) process; write timings or the error to `result`."""
    outcome: dict[str, object] = {"python": sys.version.split()[0]}
    tool, jobs = tool_of(runner), jobs_of(runner)
    try:
        started = time.perf_counter()
        run = load_bboxaug(direction, jobs) if tool == "bboxaug" else LOADERS[tool](direction)
        outcome["import_s"] = time.perf_counter() - started
        if tool != "floor":
            from importlib.metadata import version

            outcome["version"] = version(tool)
        started, cpu_started = time.perf_counter(), time.process_time()
        run(src, dst)
        outcome["convert_s"] = time.perf_counter() - started
        outcome["cpu_s"] = time.process_time() - cpu_started + (workers_cpu_s() if jobs != 1 else 0.0)
    except BaseException as error:  # any failure is the tool's result, reported as such
        outcome["error"] = f"{type(error).__name__}: {error}"
        outcome["unavailable"] = isinstance(error, (NotImplementedError, ImportError))
    outcome["peak_rss_mb"] = peak_rss_mb()
    result.write_text(json.dumps(outcome), encoding="utf-8")
    return 0 if "error" not in outcome else 1


# --- measuring ------------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One measured process."""

    convert_s: float | None
    cpu_s: float | None
    import_s: float | None
    wall_s: float
    peak_rss_mb: float | None
    check: str = ""
    ok: bool = False
    error: str | None = None
    unavailable: bool = False
    version: str | None = None
    python: str | None = None


def measure(python: Path, runner: str, direction: str, src: Path, dst: Path) -> Run:
    """Run `runner` (a tool, or `bboxaug:<jobs>`) on `direction` in a fresh process of `python`."""
    shutil.rmtree(dst, ignore_errors=True)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        result, log = Path(scratch) / "result.json", Path(scratch) / "log.txt"
        with open(log, "wb") as output:
            started = time.perf_counter()
            process = subprocess.run(
                [
                    str(python),
                    str(Path(__file__).resolve()),
                    "--worker",
                    runner,
                    direction,
                    str(src),
                    str(dst),
                    str(result),
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=scratch,
                check=False,
            )
            wall = time.perf_counter() - started
        outcome = json.loads(result.read_text()) if result.exists() else {}
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
    error = outcome.get("error")
    if not outcome:
        error = f"exit code {process.returncode}: {' | '.join(tail)}"
    return Run(
        convert_s=outcome.get("convert_s"),
        cpu_s=outcome.get("cpu_s"),
        import_s=outcome.get("import_s"),
        wall_s=wall,
        peak_rss_mb=outcome.get("peak_rss_mb"),
        error=error,
        unavailable=bool(outcome.get("unavailable")),
        version=outcome.get("version"),
        python=outcome.get("python"),
    )


# --- checking outputs ------------------------------------------------------------------------------------------


class CheckFailed(Exception):
    """The output does not hold the source's boxes."""


def sample(images: list[Image]) -> list[Image]:
    """About `SAMPLE_IMAGES` images spread over the set."""
    step = max(1, len(images) // SAMPLE_IMAGES)
    return images[::step]


Coords = tuple[float, ...]


def match_boxes(
    expected: list[tuple[str, Coords]],
    found: list[tuple[str, Coords]],
    tolerance: float,
    classes: dict[str, str],
    where: str,
) -> list[tuple[Coords, Coords]]:
    """Pair every expected box with a found one of the same class within `tolerance` on every coordinate.

    `classes` maps the output's class keys to source names; a key not in it yet is bound to the name of the
    expected box it matches (YOLO indices), after which it must always mean that class. Returns the pairs
    `(expected, found)`.
    """
    if len(expected) != len(found):
        raise CheckFailed(f"{where}: {len(found)} boxes, expected {len(expected)}")
    left = list(found)
    pairs = []
    for name, coords in expected:
        for i, (key, other) in enumerate(left):
            close = max(abs(a - b) for a, b in zip(coords, other, strict=True)) <= tolerance
            if close and classes.get(key, name) == name:
                if key not in classes and name in classes.values():
                    raise CheckFailed(f"{where}: {name} written as {key!r}, elsewhere as another class key")
                classes[key] = name
                pairs.append((coords, other))
                del left[i]
                break
        else:
            raise CheckFailed(f"{where}: no box of class {name} near {coords}")
    return pairs


def describe_error(pairs: list[tuple[Coords, Coords]], axes: str, rounding: float, unit: str = "") -> str:
    """The largest coordinate difference, and any mean offset beyond `rounding` (a systematic shift)."""
    worst = max((abs(a - b) for want, got in pairs for a, b in zip(want, got, strict=True)), default=0.0)
    offsets = [sum(got[i] - want[i] for want, got in pairs) / len(pairs) for i in range(len(axes))] if pairs else []
    shifted = [f"{axis} {offset:+.3g}" for axis, offset in zip(axes, offsets, strict=False) if abs(offset) > rounding]
    return f"max error {worst:.2g}{unit}" + (f", mean offset {' '.join(shifted)}{unit}" if shifted else "")


def yaml_names(text: str) -> list[str] | None:
    """`names` of an Ultralytics `data.yaml` in the shapes writers use (`0: person` lines, `- person` lines or
    `[person, car]`), without a YAML parser (the benchmark's driver needs only the standard library)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("names:"):
            continue
        inline = line.removeprefix("names:").strip()
        if inline.startswith("["):
            return [name.strip().strip("'\"") for name in inline.strip("[]").split(",")]
        names = []
        for item in lines[i + 1 :]:
            if not (item[:1].isspace() or item.startswith("- ")):
                break
            item = item.strip()
            names.append((item[2:] if item.startswith("- ") else item.partition(":")[2]).strip().strip("'\""))
        return names
    return None


def class_list(dst: Path) -> tuple[str, list[str]] | None:
    """The class list a YOLO output declares and the file it is in: a one-name-per-line file (`*.names`,
    `classes.txt`) or a `data.yaml`; None when there is none."""
    for path in sorted([*dst.rglob("*.names"), *dst.rglob("classes.txt"), *dst.rglob("data.yaml")]):
        text = path.read_text(encoding="utf-8")
        names = yaml_names(text) if path.suffix == ".yaml" else text.split()
        if names is not None:
            return path.name, names
    return None


def check_yolo(images: list[Image], dst: Path) -> str:
    """Every positive image has a label file with one line per box (a negative's file may be missing or empty);
    the sampled images' boxes are within `YOLO_TOLERANCE` (normalised centre and size), each class index always
    stands for the same class, and agrees with the output's class list when it writes one."""
    files = {path.stem: path for path in dst.rglob("*.txt")}
    rows: dict[str, list[str]] = {}
    for image in images:
        path = files.get(image.stem)
        rows[image.stem] = [line for line in path.read_text().splitlines() if line.strip()] if path else []
        if len(rows[image.stem]) != len(image.boxes):
            raise CheckFailed(f"{image.stem}: {len(rows[image.stem])} label lines, expected {len(image.boxes)}")
    classes: dict[str, str] = {}
    pairs = []
    for image in sample(images):
        expected = [
            (
                box.label,
                (
                    (box.x0 + box.x1) / 2 / image.width,
                    (box.y0 + box.y1) / 2 / image.height,
                    (box.x1 - box.x0) / image.width,
                    (box.y1 - box.y0) / image.height,
                ),
            )
            for box in image.boxes
        ]
        found = [(key, tuple(map(float, numbers))) for key, *numbers in map(str.split, rows[image.stem])]
        if any(len(coords) != 4 for _, coords in found):
            raise CheckFailed(f"{image.stem}: a label line without exactly 4 numbers after the class")
        pairs += match_boxes(expected, found, YOLO_TOLERANCE, classes, image.stem)
    declared = class_list(dst)
    if declared is None:
        classes_checked = "no class list"
    else:
        source, names = declared
        if any(not key.isdigit() or int(key) >= len(names) or names[int(key)] != name for key, name in classes.items()):
            raise CheckFailed(f"{source} lists {names}, but the boxes say {classes}")
        classes_checked = f"{source} agrees"
    written = sum(1 for image in images if image.stem in files)
    return f"{sum(map(len, rows.values()))} boxes in {written} files, {classes_checked}, " + describe_error(
        pairs, "xywh", YOLO_TOLERANCE / 100
    )


def coco_file(dst: Path) -> dict:
    """The one COCO file under `dst` (other JSON files, such as a conversion report, are ignored)."""
    found = []
    for path in sorted(dst.rglob("*.json")):
        content = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(content, dict) and "annotations" in content and "images" in content:
            found.append(content)
    if len(found) != 1:
        raise CheckFailed(f"expected one COCO file under {dst}, found {len(found)}")
    return found[0]


def check_coco(images: list[Image], dst: Path) -> str:
    """One COCO file holding every image (same size, same number of boxes); the sampled images' boxes are within
    `COCO_TOLERANCE_PX` and of the right class name. A systematic shift is reported (a VOC reader that keeps the
    1-based corners is +1 px on x and y, -1 px on w and h)."""
    content = coco_file(dst)
    names = {category["id"]: category["name"] for category in content["categories"]}
    by_stem = {Path(record["file_name"]).stem: record for record in content["images"]}
    boxes: dict[object, list[tuple[str, Coords]]] = {record["id"]: [] for record in content["images"]}
    for ann in content["annotations"]:
        boxes[ann["image_id"]].append((names[ann["category_id"]], tuple(ann["bbox"])))
    if len(content["images"]) != len(images):
        raise CheckFailed(f"{len(content['images'])} images, expected {len(images)}")
    for image in images:
        record = by_stem.get(image.stem)
        if record is None:
            raise CheckFailed(f"{image.stem}: missing")
        if (record["width"], record["height"]) != (image.width, image.height):
            raise CheckFailed(f"{image.stem}: size {record['width']}x{record['height']}")
        if len(boxes[record["id"]]) != len(image.boxes):
            raise CheckFailed(f"{image.stem}: {len(boxes[record['id']])} boxes, expected {len(image.boxes)}")
    pairs = []
    for image in sample(images):
        expected = [(box.label, (box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0)) for box in image.boxes]
        pairs += match_boxes(
            expected, boxes[by_stem[image.stem]["id"]], COCO_TOLERANCE_PX, {name: name for name in CLASSES}, image.stem
        )
    return f"{len(content['annotations'])} boxes, " + describe_error(pairs, "xywh", 0.01, " px")


CHECKS: dict[str, Callable[[list[Image], Path], str]] = {"coco2yolo": check_yolo, "voc2coco": check_coco}


# --- the benchmark ----------------------------------------------------------------------------------------------


@dataclass
class Result:
    """All runs of one tool in one direction and what is reported of them; `tool` is the runner's name
    (`bboxaug:2` for bboxaug with `--jobs 2`)."""

    direction: str
    tool: str
    runs: list[Run] = field(default_factory=list)

    @property
    def failure(self) -> str | None:
        """Why this tool has no valid time: its error, or the check its output failed."""
        for run in self.runs:
            if run.error:
                return ("not available" if run.unavailable else "FAILED") + f" ({run.error})"
            if not run.ok:
                return f"WRONG OUTPUT ({run.check})"
        return None

    @property
    def best_s(self) -> float | None:
        """The best conversion time, also when the output was wrong (`failure` says so)."""
        times = [run.convert_s for run in self.runs if run.convert_s is not None]
        return min(times) if times else None

    @property
    def valid_s(self) -> float | None:
        """The best time of a tool whose every output was right: the only times compared."""
        return None if self.failure else self.best_s

    @property
    def cpu_s(self) -> float | None:
        """The least CPU time (user + system, all threads) of a conversion: steadier than the clock on a busy
        machine."""
        times = [run.cpu_s for run in self.runs if run.cpu_s is not None]
        return min(times) if times else None

    @property
    def import_s(self) -> float | None:
        times = [run.import_s for run in self.runs if run.import_s is not None]
        return min(times) if times else None

    @property
    def peak_rss_mb(self) -> float | None:
        sizes = [run.peak_rss_mb for run in self.runs if run.peak_rss_mb is not None]
        return max(sizes) if sizes else None

    @property
    def version(self) -> str | None:
        return next((run.version for run in self.runs if run.version), None)


def set_up(venv_dir: Path) -> None:
    """Create the benchmark's virtual environment with bboxaug (editable) and the pinned peers."""
    print(f"setting up {venv_dir}", flush=True)
    venv.create(venv_dir, with_pip=True, clear=False)
    subprocess.run(
        [str(venv_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", "-e", str(REPO), *PEER_PINS], check=True
    )


def run_benchmark(
    python: Path, workdir: Path, images: list[Image], runners: list[str], directions: list[str], repeat: int
) -> list[Result]:
    """Interleave the runs: each repeat runs every tool once per direction. Stops repeating a tool that failed."""
    sources = {"coco2yolo": coco_source(workdir), "voc2coco": voc_source(workdir)}
    results = {(d, r): Result(DIRECTIONS[d], r) for d in directions for r in runners}
    for attempt in range(1, repeat + 1):
        for direction in directions:
            for runner in runners:
                result = results[direction, runner]
                if result.failure:
                    continue
                dst = workdir / "out" / direction / runner.replace(":", "-j")
                run = measure(python, runner, direction, sources[direction], dst)
                if not run.error:
                    try:
                        run.check, run.ok = CHECKS[direction](images, dst), True
                    except CheckFailed as failure:
                        run.check = str(failure)
                result.runs.append(run)
                shown = (
                    run.error
                    if run.error
                    else f"{run.convert_s:.2f} s ({run.cpu_s:.2f} s CPU), {run.peak_rss_mb:.0f} MB, {run.check}"
                )
                print(f"  [{attempt}/{repeat}] {DIRECTIONS[direction]} {label(runner)}: {shown}", flush=True)
    return list(results.values())


def ratios(results: list[Result]) -> dict[tuple[str, str], dict[str, float | None]]:
    """For each result: its time over the floor's, and (for bboxaug) the fastest valid peer's time over its own."""
    table = {}
    for result in results:
        same = {r.tool: r.valid_s for r in results if r.direction == result.direction}
        floor = same.get("floor")
        peers = [same[p] for p in PEERS if same.get(p) is not None]
        best = result.valid_s
        table[result.direction, result.tool] = {
            "vs_floor": best / floor if best is not None and floor else None,
            "speedup_vs_fastest_peer": (
                min(peers) / best if tool_of(result.tool) == "bboxaug" and best and peers else None
            ),
        }
    return table


def cell(value: float | None, spec: str, suffix: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{suffix}"


def markdown(results: list[Result], repeat: int) -> str:
    """The results as a Markdown table."""
    derived = ratios(results)
    lines = [
        f"| direction | tool | seconds (best of {repeat}) | CPU s | import s | peak RSS MB | vs floor "
        "| speed-up vs fastest peer | output |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for result in results:
        extra = derived[result.direction, result.tool]
        output = (result.failure or result.runs[-1].check).replace("|", "/")
        cells = [
            result.direction,
            label(result.tool),
            cell(result.best_s, ".2f"),
            cell(result.cpu_s, ".2f"),
            cell(result.import_s, ".2f"),
            cell(result.peak_rss_mb, ".0f"),
            cell(extra["vs_floor"], ".2f", "×"),
            cell(extra["speedup_vs_fastest_peer"], ".1f", "×"),
            output,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def to_json(results: list[Result], command: str, images: list[Image], repeat: int) -> dict:
    """Everything the table shows, plus every run, for `results.json`."""
    derived = ratios(results)
    return {
        "command": command,
        "images": len(images),
        "boxes": sum(len(image.boxes) for image in images),
        "negatives": sum(1 for image in images if not image.boxes),
        "repeat": repeat,
        "cpus": os.cpu_count(),
        "python": next((run.python for r in results for run in r.runs if run.python), None),
        "versions": {tool_of(r.tool): r.version for r in results if r.version},
        "results": [
            {
                "direction": r.direction,
                "tool": tool_of(r.tool),
                "jobs": jobs_of(r.tool),
                "best_s": r.best_s,
                "valid": r.failure is None,
                "failure": r.failure,
                "cpu_s": r.cpu_s,
                "import_s": r.import_s,
                "peak_rss_mb": r.peak_rss_mb,
                **derived[r.direction, r.tool],
                "runs": [asdict(run) for run in r.runs],
            }
            for r in results
        ],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=20_000, help="number of images (default: %(default)s)")
    parser.add_argument("--boxes-per-image", type=int, default=10, help="mean boxes per image (default: %(default)s)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per tool and direction, the best kept (default: %(default)s)"
    )
    parser.add_argument(
        "--workdir", type=Path, default=DEFAULT_WORKDIR, help="inputs, outputs and results.json (default: %(default)s)"
    )
    parser.add_argument("--setup", action="store_true", help="create or update the benchmark venv first")
    parser.add_argument(
        "--venv", type=Path, default=DEFAULT_VENV, help="the venv the tools run in (default: %(default)s)"
    )
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of: " + ", ".join(TOOLS))
    parser.add_argument(
        "--jobs",
        default="1",
        help="bboxaug's --jobs, comma-separated for one run each, e.g. 1,2 (default: %(default)s)",
    )
    parser.add_argument(
        "--directions", default=",".join(DIRECTIONS), help="comma-separated subset of: " + ", ".join(DIRECTIONS)
    )
    parser.add_argument(
        "--worker", nargs=5, metavar=("TOOL", "DIRECTION", "SRC", "DST", "RESULT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if min(args.images, args.boxes_per_image, args.repeat) < 1:
        parser.error("--images, --boxes-per-image and --repeat must be at least 1")
    for name, known in (("tools", TOOLS), ("directions", DIRECTIONS)):
        chosen = [item for item in getattr(args, name).split(",") if item]
        unknown = set(chosen) - set(known)
        if unknown or not chosen:
            parser.error(f"--{name}: choose from {', '.join(known)}")
        setattr(args, name, [item for item in known if item in chosen])
    try:
        args.jobs = [int(value) for value in args.jobs.split(",")]
    except ValueError:
        args.jobs = []
    if not args.jobs or any(value < 1 for value in args.jobs):
        parser.error("--jobs: comma-separated positive integers, e.g. 1,2")
    args.venv = args.venv.absolute()  # the worker runs in a scratch folder
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        tool, direction, src, dst, result = args.worker
        return worker(tool, direction, Path(src), Path(dst), Path(result))

    command = shlex.join(sys.orig_argv)
    print(f"$ {command}\n", flush=True)
    if args.setup:
        set_up(args.venv)
    python = args.venv / "bin" / "python"
    if not python.exists():
        print(f"no benchmark venv at {args.venv}: run with --setup first", file=sys.stderr)
        return 2

    workdir = args.workdir.resolve()
    images = make_images(args.images, args.boxes_per_image)
    started = time.perf_counter()
    write_inputs(images, workdir)
    boxes = sum(len(image.boxes) for image in images)
    print(
        f"inputs: {len(images)} images ({sum(1 for i in images if not i.boxes)} negatives), {boxes} boxes, "
        f"{len(CLASSES)} classes, written to {workdir} in {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    results = run_benchmark(python, workdir, images, runner_names(args.tools, args.jobs), args.directions, args.repeat)
    report = to_json(results, command, images, args.repeat)
    (workdir / "results.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print()
    print(
        f"{len(images)} images, {boxes} boxes; annotations only; {os.cpu_count()} CPUs; Python {report['python']}; "
        + ", ".join(f"{tool} {version}" for tool, version in report["versions"].items())
    )
    print()
    print(markdown(results, args.repeat))
    print(f"\nresults: {workdir / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
