"""Read any format into the model and write any format out, keeping the conversion rules every adapter shares.

`load` reads (detecting the format unless told), `save` writes a dataset atomically into a new folder, `convert`
does both and records what happened in `convert.json` in the output. The rules kept on every write:
- images without boxes survive;
- boxes are clipped to their image and degenerate ones dropped, both counted;
- crowd regions are dropped for formats that cannot mark them (unless `keep_crowd`), counted;
- image sizes missing from the annotations come from image headers, never a full decode;
- EXIF-rotated images are written upright without the tag, and a declared size that disagrees is reported;
- two images that would share an annotation file in the target layout are renamed deterministically, never
  overwritten, and the renames are recorded;
- the class list (order, ids, any remap) is recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import yaml

from . import __version__
from .dataset import ClassInfo, Dataset, ImageRecord
from .errors import BboxaugError, ImageError, UsageError
from .formats import Format, detect_format, get_format
from .gcpause import gc_paused
from .io import ImageMode, IMAGE_MODES, atomic_write_text, export_image, header_of
from .parallel import run_parallel
from .report import OnError, Problem, Report

REPORT_FILE = "convert.json"


def load(src: Path | str, *, fmt: str | None = None, image_dir: Path | str | None = None,
         report: Report | None = None, jobs: int = 1) -> Dataset:
    """Read a dataset from `src` in format `fmt` (detected when None), on `jobs` workers where the format can."""
    src = Path(src)
    reader = get_format(fmt) if fmt else detect_format(src)
    return reader.read(src, report=report or Report(), image_dir=None if image_dir is None else Path(image_dir),
                       jobs=jobs)


# --- the rules every write keeps ------------------------------------------------------------------------------

def _fill_size(image: ImageRecord) -> tuple[ImageRecord | None, Problem | None]:
    """The record with its size read from the image header, or the problem that prevented it."""
    if image.has_size:
        return image, None
    if image.source is None:
        return None, Problem(image.name, "size", "image size unknown: not in the annotation and no image file found")
    try:
        header = header_of(image.source)
    except ImageError as error:
        return None, Problem.from_error(error)
    return image.replace(width=header.width, height=header.height), None


def fill_sizes(dataset: Dataset, report: Report, *, jobs: int = 1, progress: bool = False) -> Dataset:
    """Every image's size, from its header where the annotation has none; images with no size are skipped."""
    missing = [image for image in dataset.images if not image.has_size]
    if not missing:
        return dataset
    filled = dict(zip(map(id, missing), run_parallel(_fill_size, missing, jobs=jobs, description="reading sizes",
                                                     progress=progress)))
    images = []
    for image in dataset.images:
        record, problem = filled.get(id(image), (image, None))
        if problem is not None:
            with report.item():
                raise ImageError(problem.message, file=problem.file, field=problem.field)
            continue
        images.append(record)
    return dataset.replace(images=tuple(images))


def sanitize_boxes(image: ImageRecord, report: Report, *, drop_crowd: bool) -> ImageRecord:
    """Drop crowd regions (if asked), clip boxes to the image, drop boxes with no area left; count each."""
    boxes = image.boxes
    if not len(boxes):
        return image
    if drop_crowd and "iscrowd" in boxes.columns:
        crowd = boxes.columns["iscrowd"]
        report.count("dropped_crowd", int(crowd.sum()))
        boxes = boxes.take(~crowd)
    limits = np.array([image.width, image.height, image.width, image.height], dtype=np.float64)
    xyxy = boxes.xyxy
    clipped = np.clip(xyxy, 0.0, limits)
    finite = np.isfinite(xyxy).all(axis=1)
    changed = finite & (clipped != xyxy).any(axis=1)
    keep = finite & (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
    report.count("clipped", int((changed & keep).sum()))
    report.count("dropped_degenerate", int((~keep).sum()))
    if changed.any():
        boxes = boxes.with_xyxy(clipped)
    if not keep.all():
        boxes = boxes.take(keep)
    return image if boxes is image.boxes else image.replace(boxes=boxes)


def _needs_sanitizing(images: tuple[ImageRecord, ...], drop_crowd: bool) -> list[bool]:
    """For each image, whether `sanitize_boxes` would change it: one vectorised pass over every box, so the
    common case (every box inside its image) costs no per-image work."""
    with_boxes = [image for image in images if len(image.boxes)]
    if not with_boxes:
        return [False] * len(images)
    tables = [image.boxes for image in with_boxes]
    counts = np.fromiter(map(len, tables), np.int64, len(tables))
    xyxy = np.concatenate([table.xyxy for table in tables])
    widths = np.repeat(np.fromiter((image.width for image in with_boxes), np.float64, len(tables)), counts)
    heights = np.repeat(np.fromiter((image.height for image in with_boxes), np.float64, len(tables)), counts)
    fine = ((xyxy[:, :2] >= 0).all(axis=1) & (xyxy[:, 2] <= widths) & (xyxy[:, 3] <= heights)
            & (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1]))
    if drop_crowd and any("iscrowd" in table.columns for table in tables):
        fine &= ~np.concatenate([table.column("iscrowd") for table in tables])
    per_image = np.add.reduceat(~fine, np.concatenate([[0], np.cumsum(counts)[:-1]])) > 0
    flagged = {id(image) for image, flag in zip(with_boxes, per_image) if flag}
    return [id(image) in flagged for image in images]


def _free_name(name: str, taken: set[str], key_of: Any) -> str:
    path = PurePosixPath(name)
    counter = 1
    while True:
        candidate = str(path.with_name(f"{path.stem}_{counter}{path.suffix}"))
        if key_of(candidate) not in taken:
            return candidate
        counter += 1


def rename_collisions(dataset: Dataset, target: Format, report: Report) -> Dataset:
    """Give a new name (`a_1.png`) to each image whose annotation slot or image path in the target layout is
    already taken by an earlier image, so nothing is overwritten; record every rename."""
    taken: set[str] = set()
    images = []
    for image in dataset.images:
        def keys(name: str, split: str = image.split) -> tuple[str, str]:
            return target.annotation_key(split, name), target.image_path(split, name)

        annotation, path = keys(image.name)
        if annotation in taken or path in taken:
            name = _free_name(image.name, taken,
                              lambda candidate: next((k for k in keys(candidate) if k in taken), None))
            report.renamed[f"{image.split}/{image.name}"] = f"{image.split}/{name}"
            report.count("renamed")
            image = image.replace(name=name)
            annotation, path = keys(name)
        taken.add(annotation)
        taken.add(path)
        images.append(image)
    return dataset.replace(images=tuple(images))


def prepare(dataset: Dataset, target: Format, report: Report, *, keep_crowd: bool = False, jobs: int = 1,
            progress: bool = False) -> Dataset:
    """Apply every conversion rule so `target.write` gets a dataset it can write as is."""
    dataset = fill_sizes(dataset, report, jobs=jobs, progress=progress)
    drop_crowd = not (target.keeps_crowd or keep_crowd)
    flags = _needs_sanitizing(dataset.images, drop_crowd)
    images = tuple(sanitize_boxes(image, report, drop_crowd=drop_crowd) if flag else image
                   for image, flag in zip(dataset.images, flags))
    return rename_collisions(dataset.replace(images=images), target, report)


# --- class lists ---------------------------------------------------------------------------------------------

def read_class_map(path: Path | str) -> dict[str, int]:
    """A `--class-map` file: YAML or JSON mapping each class name to the id it gets in the output."""
    path = Path(path)
    try:
        mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise UsageError(f"cannot read class map ({error})", file=path) from None
    if not isinstance(mapping, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in mapping.items()):
        raise UsageError("expected a mapping of class name to integer id, e.g. `scratch: 0`", file=path)
    if len(set(mapping.values())) != len(mapping):
        raise UsageError("two classes share one id", file=path)
    return mapping


def apply_class_map(dataset: Dataset, mapping: Mapping[str, int], *, origin: object = "class map") -> Dataset:
    """The dataset with its classes renumbered (and reordered by id) as `mapping` says; every class must be
    named. Classes only in the map are added, unused."""
    unmapped = [name for name in dataset.class_names if name not in mapping]
    if unmapped:
        raise UsageError(f"classes missing from the class map: {', '.join(unmapped)}", file=origin)
    old_attributes = {c.name: c.attributes for c in dataset.classes}
    classes = tuple(ClassInfo(class_id, name, old_attributes.get(name, {}))
                    for name, class_id in sorted(mapping.items(), key=lambda item: item[1]))
    position = {c.name: index for index, c in enumerate(classes)}
    lookup = np.array([position[name] for name in dataset.class_names], dtype=np.int64)
    images = tuple(image.replace(boxes=image.boxes.with_labels(lookup[image.boxes.labels])) if len(image.boxes)
                   else image for image in dataset.images)
    return dataset.replace(classes=classes, images=images)


def class_table(dataset: Dataset, target: Format) -> list[dict[str, Any]]:
    """Each class with its source id and the id the target format gives it (None where it stores names only)."""
    output_ids = target.class_ids(dataset.classes)
    return [{"name": c.name, "source_id": c.id, "output_id": output_id}
            for c, output_id in zip(dataset.classes, output_ids)]


# --- writing ---------------------------------------------------------------------------------------------------

def check_destination(dst: Path, overwrite: bool) -> None:
    """Refuse an output that is a file, or a non-empty folder unless `overwrite`: nothing is replaced silently."""
    if dst.exists() and not dst.is_dir():
        raise UsageError("the output exists and is not a folder", file=dst)
    if dst.is_dir() and any(dst.iterdir()) and not overwrite:
        raise UsageError("the output folder is not empty; choose another or pass --overwrite", file=dst)


def _place_image(job: tuple[ImageRecord, Path, ImageMode]) -> tuple[ImageRecord, Problem | None, int]:
    """Put one image into the output; returns the record, a problem if it failed, and its EXIF orientation."""
    image, target, mode = job
    if image.source is None:
        return image, Problem(image.name, "image", "image file not found"), 1
    try:
        header = export_image(image.source, target, mode)
    except (ImageError, OSError) as error:
        problem = Problem.from_error(error) if isinstance(error, ImageError) else Problem(
            str(image.source), "image", f"cannot write {target.name} ({error.strerror or error})")
        return image, problem, 1
    if (header.width, header.height) != (image.width, image.height):
        return image, Problem(str(image.source), "size", f"declared {image.width}x{image.height}, "
                                                         f"upright image is {header.width}x{header.height}"), 0
    return image, None, header.orientation


def place_images(dataset: Dataset, target: Format, root: Path, mode: ImageMode, report: Report, *, jobs: int = 1,
                 progress: bool = False) -> Dataset:
    """Copy, link or re-encode every image into `root` where `target` puts it; images that fail are skipped
    (or stop the run, as the report's policy says). Size mismatches are warned about, not fatal."""
    if mode == "none":
        return dataset
    jobs_list = [(image, root / target.image_path(image.split, image.name), mode) for image in dataset.images]
    results = run_parallel(_place_image, jobs_list, jobs=jobs, description="writing images", progress=progress,
                           writes_into=root)
    images = []
    for image, problem, orientation in results:
        if problem is not None and problem.field == "size":
            report.warnings.append(problem)
            report.count("size_mismatch")
        elif problem is not None:
            with report.item():
                raise ImageError(problem.message, file=problem.file, field=problem.field)
            continue
        if orientation > 1:
            report.count("exif_rotated")
        images.append(image)
    return dataset.replace(images=tuple(images))


def publish(temp: Path, dst: Path) -> None:
    """Move the finished temporary folder to `dst`, replacing an old `dst` only once the new one is complete."""
    if not dst.exists():
        os.replace(temp, dst)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old.", dir=dst.parent))
    os.replace(dst, old / dst.name)
    os.replace(temp, dst)
    shutil.rmtree(old, ignore_errors=True)


@dataclass
class SaveResult:
    """What `save` wrote: the dataset as written (renamed, clipped, sized) and the report."""

    dataset: Dataset
    report: Report
    classes: list[dict[str, Any]] = field(default_factory=list)


def save(dataset: Dataset, dst: Path | str, *, fmt: str, images: ImageMode = "copy", report: Report | None = None,
         keep_crowd: bool = False, overwrite: bool = False, jobs: int = 1, progress: bool = False,
         extra_files: Mapping[str, Any] | None = None) -> SaveResult:
    """Write `dataset` in format `fmt` into the new folder `dst`, atomically: everything goes into a temporary
    folder beside `dst`, which is renamed to `dst` only when complete. `extra_files` maps file names to JSON data
    written beside (a report or manifest)."""
    if images not in IMAGE_MODES:
        raise UsageError(f"images must be one of {', '.join(IMAGE_MODES)}, not {images!r}")
    dst = Path(dst)
    target = get_format(fmt)
    report = report or Report()
    check_destination(dst, overwrite)
    dst.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.tmp.", dir=dst.parent))
    try:
        prepared = prepare(dataset, target, report, keep_crowd=keep_crowd, jobs=jobs, progress=progress)
        prepared = place_images(prepared, target, temp, images, report, jobs=jobs, progress=progress)
        target.write(prepared, temp, report=report)
        classes = class_table(prepared, target)
        for name, data in (extra_files or {}).items():
            payload = data(prepared, report, classes) if callable(data) else data
            atomic_write_text(temp / name, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        publish(temp, dst)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return SaveResult(prepared, report, classes)


def ensure_apart(src: Path, dst: Path) -> None:
    """Refuse an output that is, holds or lies inside the source: replacing it could destroy the source."""
    src_resolved, dst_resolved = src.resolve(), dst.resolve()
    if src_resolved == dst_resolved or dst_resolved in src_resolved.parents or src_resolved in dst_resolved.parents:
        raise UsageError(f"the output {dst} must not be, contain, or lie inside the source {src}")


@dataclass
class ConvertResult:
    """A finished conversion: the formats, the dataset as written, and what happened on the way."""

    source_format: str
    target_format: str
    dataset: Dataset
    report: Report
    classes: list[dict[str, Any]]


@gc_paused()
def convert(src: Path | str, dst: Path | str, *, to: str, fmt_from: str | None = None,
            image_dir: Path | str | None = None, images: ImageMode = "copy", on_error: OnError = "fail",
            class_map: Mapping[str, int] | Path | str | None = None, keep_crowd: bool = False,
            overwrite: bool = False, jobs: int = 1, progress: bool = False) -> ConvertResult:
    """Convert the dataset at `src` to format `to` in the new folder `dst`, writing `convert.json` beside it."""
    src, dst = Path(src), Path(dst)
    target = get_format(to)
    ensure_apart(src, dst)
    check_destination(dst, overwrite)
    source = get_format(fmt_from) if fmt_from else detect_format(src)
    report = Report(on_error=on_error)
    dataset = source.read(src, report=report, image_dir=None if image_dir is None else Path(image_dir), jobs=jobs)
    if class_map is not None:
        origin = class_map if not isinstance(class_map, Mapping) else "class map"
        mapping = class_map if isinstance(class_map, Mapping) else read_class_map(class_map)
        dataset = apply_class_map(dataset, mapping, origin=origin)
        wanted = [mapping[c.name] for c in dataset.classes]
        given = target.class_ids(dataset.classes)
        if any(g is not None and g != w for g, w in zip(given, wanted)):
            raise UsageError(f"{target.name} numbers these classes {given}, not {wanted} as the class map asks",
                             file=origin)

    def summary(written: Dataset, final_report: Report, classes: list[dict[str, Any]]) -> dict[str, Any]:
        return {"bboxaug": __version__, "source": str(src.resolve()), "from": source.name, "to": target.name,
                **dataset_counts(written), "classes": classes, **final_report.to_json()}

    result = save(dataset, dst, fmt=target.name, images=images, report=report, keep_crowd=keep_crowd,
                  overwrite=overwrite, jobs=jobs, progress=progress, extra_files={REPORT_FILE: summary})
    return ConvertResult(source.name, target.name, result.dataset, report, result.classes)


def dataset_counts(dataset: Dataset) -> dict[str, Any]:
    """Images, boxes and negatives, overall and per split (in order of first appearance), in one pass."""
    splits: dict[str, dict[str, int]] = {}
    for image in dataset.images:
        boxes = len(image.boxes)
        counts = splits.get(image.split) or splits.setdefault(image.split, {"images": 0, "boxes": 0, "negatives": 0})
        counts["images"] += 1
        counts["boxes"] += boxes
        counts["negatives"] += boxes == 0
    totals = {key: sum(counts[key] for counts in splits.values()) for key in ("images", "boxes", "negatives")}
    return {**totals, "splits": splits}


__all__ = ["BboxaugError", "ConvertResult", "SaveResult", "apply_class_map", "convert", "dataset_counts", "load",
           "prepare", "read_class_map", "save"]
