"""The rules every write keeps, applied to a dataset before a target format writes it:
- image sizes missing from the annotations come from image headers, never a full decode;
- boxes are clipped to their image and degenerate ones dropped, both counted;
- crowd regions are dropped for formats that cannot mark them (unless kept on purpose), counted;
- two images that would share an annotation file or image path in the target layout are renamed
  deterministically, never overwritten, and the renames are recorded;
- a class map renumbers the classes explicitly, and the class table records each class's source and output id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np
import yaml

from bboxaug.core.errors import ImageError, UsageError
from bboxaug.core.model import ClassInfo, Dataset, ImageRecord, image_key
from bboxaug.core.report import Problem, Report
from bboxaug.formats.base import Format
from bboxaug.io.headers import image_size
from bboxaug.runtime.parallel import run_parallel


def _size_or_problem(image: ImageRecord) -> tuple[int, int] | Problem:
    """`image_size`, or the problem that prevented it (a problem travels back from a worker; an error would lose
    its file and field)."""
    try:
        return image_size(image)
    except ImageError as error:
        return Problem.from_error(error)


def fill_sizes(
    dataset: Dataset,
    report: Report,
    *,
    unknown: Literal["skip", "keep"] = "skip",
    jobs: int = 1,
    progress: bool = False,
) -> Dataset:
    """Every image's size, from its header where the annotation has none. An image whose size cannot be known is
    skipped as the report's policy says, or, with `unknown="keep"`, kept without a size (figures that count it
    as unknown)."""
    missing = [k for k, image in enumerate(dataset.images) if not image.has_size]
    if not missing:
        return dataset
    found = dict(
        zip(
            missing,
            run_parallel(
                _size_or_problem,
                [dataset.images[k] for k in missing],
                jobs=jobs,
                description="reading sizes",
                progress=progress,
            ),
            strict=True,
        )
    )
    images = []
    for k, image in enumerate(dataset.images):
        size = found.get(k)
        if isinstance(size, Problem):
            if unknown == "keep":
                images.append(image)
                continue
            with report.item():
                raise ImageError(size.message, file=size.file, field=size.field, code=size.code)
            continue
        images.append(image if size is None else image.replace(width=size[0], height=size[1]))
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


def _needs_sanitizing(images: Sequence[ImageRecord], drop_crowd: bool) -> list[bool]:
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
    fine = (
        (xyxy[:, :2] >= 0).all(axis=1)
        & (xyxy[:, 2] <= widths)
        & (xyxy[:, 3] <= heights)
        & (xyxy[:, 2] > xyxy[:, 0])
        & (xyxy[:, 3] > xyxy[:, 1])
    )
    if drop_crowd and any("iscrowd" in table.columns for table in tables):
        fine &= ~np.concatenate([table.column("iscrowd") for table in tables])
    per_image = np.add.reduceat(~fine, np.concatenate([[0], np.cumsum(counts)[:-1]])) > 0
    flagged = {id(image) for image, flag in zip(with_boxes, per_image, strict=True) if flag}
    return [id(image) in flagged for image in images]


class OutputNames:
    """The annotation slots and image paths taken so far in a target layout. An image that would take one
    already taken gets a new name (`a_1.png`), so nothing is overwritten; every rename is recorded."""

    def __init__(self, target: Format, report: Report) -> None:
        self.target, self.report = target, report
        self.taken: set[str] = set()

    def _keys(self, split: str, name: str) -> tuple[str, str]:
        return self.target.annotation_key(split, name), self.target.image_path(split, name)

    def claim(self, image: ImageRecord) -> ImageRecord:
        """The image under a name free in the layout (its own when free), which is then taken. Each name's keys
        are made once: this runs for every image of a conversion."""
        taken = self.taken
        annotation, path = self._keys(image.split, image.name)
        if annotation in taken or path in taken:
            original = PurePosixPath(image.name)
            counter = 0
            while annotation in taken or path in taken:
                counter += 1
                name = str(original.with_name(f"{original.stem}_{counter}{original.suffix}"))
                annotation, path = self._keys(image.split, name)
            self.report.renamed[image.key] = image_key(image.split, name)
            self.report.count("renamed")
            image = image.replace(name=name)
        taken.add(annotation)
        taken.add(path)
        return image


def rename_collisions(dataset: Dataset, target: Format, report: Report) -> Dataset:
    """The dataset with a new name (`a_1.png`) for each image whose annotation slot or image path in the target
    layout is already taken by an earlier image; every rename recorded."""
    names = OutputNames(target, report)
    return dataset.replace(images=tuple(names.claim(image) for image in dataset.images))


def prepare(
    dataset: Dataset, target: Format, report: Report, *, keep_crowd: bool = False, jobs: int = 1, progress: bool = False
) -> Dataset:
    """Apply every conversion rule so `target.write` gets a dataset it can write as is."""
    dataset = fill_sizes(dataset, report, jobs=jobs, progress=progress)
    drop_crowd = not (target.keeps_crowd or keep_crowd)
    flags = _needs_sanitizing(dataset.images, drop_crowd)
    images = tuple(
        sanitize_boxes(image, report, drop_crowd=drop_crowd) if flag else image
        for image, flag in zip(dataset.images, flags, strict=True)
    )
    return rename_collisions(dataset.replace(images=images), target, report)


def read_class_map(path: Path | str) -> dict[str, int]:
    """A `--class-map` file: YAML or JSON mapping each class name to the id it gets in the output."""
    path = Path(path)
    try:
        mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise UsageError(f"cannot read class map ({error})", file=path) from None
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in mapping.items()
    ):
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
    classes = tuple(
        ClassInfo(class_id, name, old_attributes.get(name, {}))
        for name, class_id in sorted(mapping.items(), key=lambda item: item[1])
    )
    position = {c.name: index for index, c in enumerate(classes)}
    lookup = np.array([position[name] for name in dataset.class_names], dtype=np.int64)
    images = tuple(
        image.replace(boxes=image.boxes.with_labels(lookup[image.boxes.labels])) if len(image.boxes) else image
        for image in dataset.images
    )
    return dataset.replace(classes=classes, images=images)


def map_classes(dataset: Dataset, class_map: Mapping[str, int] | Path, target: Format) -> Dataset:
    """The dataset renumbered by a class map (a mapping, or a `--class-map` file), which `target` must be able to
    write as asked: a format that numbers classes by position (YOLO) takes only the ids 0, 1, 2, ..."""
    origin: object = "class map" if isinstance(class_map, Mapping) else class_map
    mapping = class_map if isinstance(class_map, Mapping) else read_class_map(class_map)
    dataset = apply_class_map(dataset, mapping, origin=origin)
    wanted = [mapping[c.name] for c in dataset.classes]
    given = target.class_ids(dataset.classes)
    if any(g is not None and g != w for g, w in zip(given, wanted, strict=True)):
        raise UsageError(
            f"{target.name} numbers these classes {given}, not {wanted} as the class map asks", file=origin
        )
    return dataset


def class_table(dataset: Dataset, target: Format) -> list[dict[str, Any]]:
    """Each class with its source id and the id the target format gives it (None where it stores names only)."""
    output_ids = target.class_ids(dataset.classes)
    return [
        {"name": c.name, "source_id": c.id, "output_id": output_id}
        for c, output_id in zip(dataset.classes, output_ids, strict=True)
    ]
