"""The rules every write keeps, applied to a dataset before a target format writes it:
- image sizes missing from the annotations come from image headers, never a full decode;
- boxes are clipped to their image and degenerate ones dropped, both counted;
- crowd regions are dropped for formats that cannot mark them (unless kept on purpose), counted;
- two images that would share an annotation file or image path in the target layout are renamed
  deterministically, never overwritten, and the renames are recorded;
- a class map renumbers the classes explicitly, and the class table records each class's source and output id.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import yaml

from bboxaug.core import codes
from bboxaug.core.errors import ImageError, UsageError
from bboxaug.core.model import ClassInfo, Dataset, ImageRecord
from bboxaug.core.report import Problem, Report
from bboxaug.formats.base import Format
from bboxaug.io.headers import header_of
from bboxaug.pipeline.parallel import run_parallel


def _fill_size(image: ImageRecord) -> tuple[ImageRecord | None, Problem | None]:
    """The record with its size read from the image header, or the problem that prevented it."""
    if image.has_size:
        return image, None
    if image.source is None:
        return None, Problem(image.name, "size", "image size unknown: not in the annotation and no image file found",
                             codes.UNKNOWN_SIZE.name)
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
                raise ImageError(problem.message, file=problem.file, field=problem.field, code=problem.code)
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
