"""COCO detection JSON: one file per split, boxes as absolute `[x, y, width, height]` floats.

The model's corners are `[x, y, x + w, y + h]`. Finding the files is `coco_layout`'s work and reading them
`coco_reader`'s; this module writes, a chunk of images at a time, from the columns. The contract people read is
formats/coco.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from bboxaug.core import codes
from bboxaug.core.errors import AnnotationError, FormatError
from bboxaug.core.model import Boxes, ClassInfo, Dataset
from bboxaug.core.report import Report
from bboxaug.core.table import UNKNOWN, ImageTable, as_table
from bboxaug.formats.base import Format
from bboxaug.formats.coco_layout import (
    ROBOFLOW_FILE,
    TASK_PREFIXES,
    annotation_files,
    detect,
    image_folder,
    looks_like_coco,
    split_name,
)
from bboxaug.formats.coco_reader import (
    FIELD_CODES,
    LISTS,
    annotation_dicts,
    batch_labels,
    merge_classes,
    parse_categories,
    read,
)
from bboxaug.formats.layout import DEFAULT_SPLIT, compact_number
from bboxaug.io import jsontext
from bboxaug.io.files import atomic_text_file
from bboxaug.runtime.gcpause import gc_paused

__all__ = [
    "FIELD_CODES",
    "FORMAT",
    "ROBOFLOW_FILE",
    "TASK_PREFIXES",
    "annotation_files",
    "detect",
    "image_folder",
    "looks_like_coco",
    "merge_classes",
    "parse_annotations",
    "parse_categories",
    "read",
    "split_name",
    "write",
]


def parse_annotations(
    annotations: Sequence[dict[str, Any]], class_index: Mapping[int, int]
) -> tuple[np.ndarray, np.ndarray, dict[str, Any], dict[int, tuple[str, str]]]:
    """One table for many annotation objects: xyxy, labels (`class_index` maps category id to class position),
    the columns holding anything but defaults, and the problems found, by row: `{row: (key, message)}`."""
    batch = annotation_dicts(annotations)
    labels = batch_labels(batch, class_index)
    return batch.boxes.xyxy, labels, dict(batch.boxes.columns), batch.problems


#: The top-level keys written for a split that was not read from COCO.
MINIMAL_TOP: Mapping[str, Any] = {"info": {"description": "written by bboxaug"}}


def box_sizes(xyxy: np.ndarray) -> np.ndarray:
    """`[x2 - x1, y2 - y1]` per box, snapped to the nearest 1e-10 px when that is within one float step of the
    corner. The snap only undoes the rounding of `x + w` on read (so `27.534` comes back as `27.534`, not
    `27.533999999999992`); any other value is written unrounded."""
    sizes = xyxy[:, 2:] - xyxy[:, :2]
    snapped = np.round(sizes, 10)
    step = np.spacing(np.maximum(np.abs(xyxy[:, 2:]), np.abs(xyxy[:, :2])))
    return np.where(np.abs(snapped - sizes) <= step, snapped, sizes)


def compact_array(values: np.ndarray) -> list[Any]:
    """`values.tolist()` with integral values as int: `layout.compact_number` over a whole array at C speed."""
    out = values.astype(object)
    integral = np.isfinite(values) & (values == np.trunc(values)) & (np.abs(values) < 2.0**53)
    out[integral] = values[integral].astype(np.int64)
    return out.tolist()


def assign_ids(values: Sequence[Any]) -> tuple[list[int], bool]:
    """The ids as they are when all are distinct integers, else 1..n in order; and whether they were assigned."""
    types = set(map(type, values))
    if all(kind is int or issubclass(kind, np.integer) for kind in types) and len(set(values)) == len(values):
        return [int(v) for v in values], False
    return list(range(1, len(values) + 1)), bool(values)


def category_ids(classes: Sequence[ClassInfo]) -> list[int]:
    """The category id each class is written with: its own when all are distinct integers, else 1..n."""
    return assign_ids([info.id for info in classes])[0]


def _with_extras(entry: dict[str, Any], extras: Any) -> dict[str, Any]:
    """`entry` with unknown keys given back after the known ones; a known key is never overwritten."""
    if isinstance(extras, Mapping):
        for key, value in extras.items():
            entry.setdefault(key, value)
    elif extras is not None:
        entry.setdefault("attributes", extras)
    return entry


def annotation_entries(
    boxes: Boxes,
    owners: Sequence[int],
    category_ids: Sequence[int],
    annotation_ids: Sequence[int],
    *,
    keep_extras: bool,
) -> list[dict[str, Any]]:
    """The annotation objects of a run of boxes (whole-column work, then one dict per box), `owners` giving each
    box's image id, numbered `annotation_ids`. `area` is the stored one when finite, else the box's;
    `segmentation` as stored, or `[]`."""
    if not len(boxes):
        return []
    sizes = box_sizes(boxes.xyxy)
    bboxes = compact_array(np.concatenate([boxes.xyxy[:, :2], sizes], axis=1))
    area = boxes.column("area")
    areas = compact_array(np.where(np.isfinite(area), area, sizes[:, 0] * sizes[:, 1]))
    crowd = boxes.column("iscrowd").astype(np.int64).tolist()
    shapes = [() if shape is None else shape for shape in boxes.column("segmentation").tolist()]
    categories = np.asarray(category_ids, dtype=np.int64)[boxes.labels].tolist()
    entries = [
        {"id": a, "image_id": o, "category_id": c, "bbox": b, "area": ar, "segmentation": s, "iscrowd": cr}
        for a, o, c, b, ar, s, cr in zip(annotation_ids, owners, categories, bboxes, areas, shapes, crowd, strict=True)
    ]
    if "obb" in boxes.columns:
        _add_oriented_boxes(entries, boxes.columns["obb"].tolist())
    if keep_extras and "attributes" in boxes.columns:
        for entry, extra in zip(entries, boxes.columns["attributes"].tolist(), strict=True):
            _with_extras(entry, extra)
    return entries


def _add_oriented_boxes(entries: list[dict[str, Any]], obbs: list[Any]) -> None:
    """Each oriented box as the annotation's `obb` key (its 4 corners, 8 numbers), and as its `segmentation`
    where it has no polygon of its own, so COCO tools draw and evaluate the quad."""
    for entry, quad in zip(entries, obbs, strict=True):
        if quad is not None:
            entry["obb"] = [compact_number(value) for value in quad]
            if not entry["segmentation"]:
                entry["segmentation"] = [entry["obb"]]


#: Boxes whose annotation objects are built and encoded at a time: the whole split's objects would take about
#: 1 KB per box at once, so they are written in chunks.
ANNOTATION_CHUNK = 20_000


def image_entries(table: ImageTable, image_ids: Sequence[int], *, keep_extras: bool) -> list[dict[str, Any]]:
    """The image objects of a table's images, given `image_ids`; unknown keys given back when `keep_extras`."""
    unknown = np.flatnonzero((table.widths == UNKNOWN) | (table.heights == UNKNOWN))
    if len(unknown):
        name = table.names[unknown[0]]
        raise AnnotationError("image size unknown: COCO needs width and height", file=name, code=codes.UNKNOWN_SIZE)
    entries = [
        {"id": i, "file_name": name, "width": width, "height": height}
        for i, name, width, height in zip(
            image_ids, table.names.tolist(), table.widths.tolist(), table.heights.tolist(), strict=True
        )
    ]
    if keep_extras and table.attributes is not None:
        for entry, extras in zip(entries, table.attributes.tolist(), strict=True):
            _with_extras(entry, extras)
    return entries


def write_split(
    handle: TextIO,
    table: ImageTable,
    categories: list[dict[str, Any]],
    category_ids: Sequence[int],
    top: Mapping[str, Any] | None,
    *,
    keep_extras: bool,
    report: Report,
    file: object,
) -> None:
    """One split's COCO object: its stored top-level keys (`top`, or a minimal `info`), then images, annotations
    (encoded a chunk of boxes at a time) and categories, as one line of compact JSON."""
    image_ids, assigned = assign_ids([None] * len(table) if table.source_ids is None else table.source_ids.tolist())
    report.count(codes.COCO_IMAGE_IDS_ASSIGNED, len(image_ids) if assigned else 0)
    boxes = table.boxes
    annotation_ids, assigned = assign_ids(boxes.column("source_id").tolist())
    report.count(codes.COCO_ANNOTATION_IDS_ASSIGNED, len(annotation_ids) if assigned else 0)
    head = {k: v for k, v in (MINIMAL_TOP if top is None else top).items() if k not in LISTS}
    entries = image_entries(table, image_ids, keep_extras=keep_extras)
    handle.write(dumps({**head, "images": entries}, file=file)[:-2])  # all but the closing "}\n"
    del entries
    handle.write(',"annotations":[')
    owners = np.repeat(np.asarray(image_ids, dtype=np.int64), table.box_counts())
    for start in range(0, len(boxes), ANNOTATION_CHUNK):
        stop = min(start + ANNOTATION_CHUNK, len(boxes))
        annotations = annotation_entries(
            boxes.rows(start, stop),
            owners[start:stop].tolist(),
            category_ids,
            annotation_ids[start:stop],
            keep_extras=keep_extras,
        )
        handle.write(("," if start else "") + dumps(annotations, file=file)[1:-2])  # the items, without [ and ]\n
    handle.write('],"categories":' + dumps(categories, file=file)[:-1] + "}\n")


def _json_value(value: Any) -> Any:
    """What `json` cannot encode itself but a column may hold: numpy arrays and scalars, read-only mappings."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(document: Any, *, file: object) -> str:
    """Compact JSON of `document` and a newline; numpy values and read-only mappings included."""
    try:
        return jsontext.dumps(document, _json_value) + "\n"
    except (TypeError, ValueError) as error:
        raise FormatError(f"cannot write as JSON ({error})", file=file) from None


def write(dataset: Dataset, dst: Path, *, report: Report, jobs: int = 1) -> None:
    """`annotations/instances_<split>.json` per split. Unknown image and annotation keys are written only for a
    dataset read from COCO (it has `meta["coco"]`): other formats' attributes are their own fields."""
    category_ids, assigned = assign_ids([info.id for info in dataset.classes])
    report.count(codes.COCO_CATEGORY_IDS_ASSIGNED, len(category_ids) if assigned else 0)
    categories = [
        _with_extras({"id": category_id, "name": info.name}, info.attributes)
        for category_id, info in zip(category_ids, dataset.classes, strict=True)
    ]
    stored = dataset.meta.get("coco")
    keep_extras = isinstance(stored, Mapping)
    table = as_table(dataset.images)
    with gc_paused():
        for split in table.splits() or [DEFAULT_SPLIT]:
            top = stored.get(split) if isinstance(stored, Mapping) else None
            target = Path(dst) / "annotations" / f"instances_{split}.json"
            with atomic_text_file(target) as handle:
                write_split(
                    handle,
                    table.in_split(split),
                    categories,
                    category_ids,
                    top if isinstance(top, Mapping) else None,
                    keep_extras=keep_extras,
                    report=report,
                    file=target,
                )


FORMAT = Format(
    name="coco",
    description="COCO detection JSON (annotations/instances_<split>.json, bbox [x, y, w, h] in pixels)",
    read=read,
    write=write,
    detect=detect,
    image_path=lambda split, name: f"images/{split}/{name}",
    annotation_key=lambda split, name: f"{split}/{name}",
    tolerance=lambda image: 1e-6,
    keeps_crowd=True,
    class_ids=category_ids,
    keeps_oriented=True,
)
