"""Several sources read as one dataset: what `bboxaug merge` reads.

`JoinedSource` opens each source (any mix of formats) and joins them into one columnar table
(`core.table.join_tables`), in the order given:
- classes align by name, ignoring case and whitespace at the ends or repeated inside (`" Car"`, `car` and `CAR` are
  one class), under the first spelling met; the class order is the first source's, then each new class as it
  appears. The first source's class ids are kept when it numbers every class (COCO, YOLO), and each new class
  takes the next id after the largest; when it numbers none (VOC, Labelme) no class has an id and the target
  numbers them as it always does;
- splits are kept by name; each image keeps its own file (`sources` column), so it is copied from its own folder;
- an image of a later source with the same bytes as one of an earlier source (`pipeline.duplicates`) is kept
  once when their boxes are the same, and is an error naming both files when they differ;
- an image whose `split/name` an earlier source's image already has is renamed `name_srcK.ext`, K the number of
  its source (1 for the first);
- format extras (`Dataset.meta`, such as COCO's `info` and `licenses` per split) are the first source's that has
  them; a format's own fields of images and boxes (`FORMAT_FIELDS`, such as Labelme's `flags`) are kept only for
  images read in the format written (`fields_for`), so a merge never writes one format's fields into another.
Everything it did is in the record `notes["merge"]`: each source's classes and where they went, the duplicates,
the renames.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bboxaug.core import codes
from bboxaug.core.errors import AnnotationError, UsageError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord, image_key, text_column
from bboxaug.core.report import OnError, Report
from bboxaug.core.table import ImageTable, TableBuilder, as_table
from bboxaug.formats import get_format
from bboxaug.io.names import suffixed_name
from bboxaug.pipeline.classes import ClassOps
from bboxaug.pipeline.duplicates import describe_difference, same_boxes, same_images
from bboxaug.pipeline.filters import Filters
from bboxaug.pipeline.source import Opened, Source

#: How far two corners of one image may differ and still be the same box, when a source is a dataset in memory.
IN_MEMORY_TOLERANCE = 1e-6

#: The columns that hold a format's own fields: an image's extra keys, a box's extra keys and its stored shape.
FORMAT_FIELDS = ("attributes", "shape")


def class_key(name: str) -> str:
    """What classes align by: the name case-folded, without whitespace at the ends, runs of it inside made one
    space."""
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class AlignedClasses:
    """The joined class list, and for each source the output position of each of its classes."""

    classes: tuple[ClassInfo, ...]
    positions: tuple[np.ndarray, ...]


def align_classes(class_lists: Sequence[Sequence[ClassInfo]]) -> AlignedClasses:
    """Join the sources' class lists by `class_key` (see the module docstring for the order and the ids)."""
    first = class_lists[0] if class_lists else ()
    numbered = bool(first) and all(info.id is not None for info in first)
    classes: list[ClassInfo] = []
    found: dict[str, int] = {}
    positions = []
    for class_list in class_lists:
        mapped = []
        for info in class_list:
            key = class_key(info.name)
            if key not in found:
                class_id = info.id if class_list is first else None
                if numbered and class_id is None:
                    class_id = max(c.id for c in classes if c.id is not None) + 1
                found[key] = len(classes)
                classes.append(ClassInfo(class_id if numbered else None, info.name, info.attributes))
            mapped.append(found[key])
        positions.append(np.array(mapped, dtype=np.int64))
    return AlignedClasses(tuple(classes), tuple(positions))


def _merged_meta(metas: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Format extras keyed by format and then (COCO) by split: the first source's that has each."""
    merged: dict[str, Any] = {}
    for meta in metas:
        for fmt, extras in meta.items():
            if isinstance(extras, Mapping) and isinstance(merged.get(fmt, {}), Mapping):
                merged[fmt] = {**extras, **merged.get(fmt, {})}
            else:
                merged.setdefault(fmt, extras)
    return merged


def _free_name(name: str, source_number: int, taken: set[str], split: str) -> str:
    """`name` with the number of its source added (`a_src2.jpg`), and a counter if that is taken too."""
    mark = f"_src{source_number}"
    free, counter = suffixed_name(name, mark), 0
    while image_key(split, free) in taken:
        counter += 1
        free = suffixed_name(name, f"{mark}_{counter}")
    return free


@dataclass(frozen=True)
class JoinedSource:
    """Several sources read as one dataset (see the module docstring), then given `class_ops` (by the joined
    classes' names) and `filters` like any source. `on_error` applies to reading every source, and to a
    later image whose bytes are an earlier one's with other boxes: stop, or leave it out and report it.
    `fields_for` names the format to be written: images read in another format lose their format's own fields
    (None: every image keeps them)."""

    parts: tuple[Source, ...]
    class_ops: ClassOps | None = None
    filters: Filters | None = None
    on_error: OnError = "fail"
    fields_for: str | None = None

    def __post_init__(self) -> None:
        if len(self.parts) < 2:
            raise UsageError(f"a merge needs at least two sources, not {len(self.parts)}")

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(path for part in self.parts for path in part.paths)

    def describe(self) -> list[str]:
        return [part.describe() for part in self.parts]

    def open(self, *, jobs: int = 1, progress: bool = False) -> Opened:
        report = Report(on_error=self.on_error)
        opened = [dataclasses.replace(part, report=report).open(jobs=jobs) for part in self.parts]
        aligned = align_classes([item.dataset.classes for item in opened])
        tables = [self._own_fields(as_table(item.dataset.images), item.fmt) for item in opened]
        builder = TableBuilder()
        for table, positions in zip(tables, aligned.positions, strict=True):
            builder.add_table(table.with_columns(boxes=table.boxes.with_labels(positions[table.boxes.labels])))
        table = builder.build()
        origins = np.repeat(np.arange(len(tables)), [len(part) for part in tables])
        tolerances = [self._tolerance(item.fmt) for item in opened]
        classes = [info.name for info in aligned.classes]
        table, origins, duplicates = self._without_duplicates(
            table, origins, tolerances, classes, report, jobs=jobs, progress=progress
        )
        table, renamed = self._renamed(table, origins, report)
        sources = [
            self._source_record(part, item, positions, aligned.classes)
            for part, item, positions in zip(self.parts, opened, aligned.positions, strict=True)
        ]
        report.count(
            codes.MERGE_CLASSES_ALIGNED,
            sum(entry["name"] != entry["as"] for item in sources for entry in item["classes"]),
        )
        record = {"sources": sources, "duplicates": duplicates, "renamed": renamed}
        formats = list(dict.fromkeys(item.fmt for item in opened if item.fmt is not None))
        dataset = Dataset(aligned.classes, table, _merged_meta([item.dataset.meta for item in opened]))
        if self.class_ops is not None:
            dataset = self.class_ops.apply(dataset, report)
        return Opened("+".join(formats) or None, dataset, report, {"merge": record})

    def _own_fields(self, table: ImageTable, fmt: str | None) -> ImageTable:
        """The table without its format's own fields when it was read in another format than the one written."""
        if self.fields_for is None or fmt in (None, self.fields_for):
            return table
        boxes = table.boxes
        columns = {name: column for name, column in boxes.columns.items() if name not in FORMAT_FIELDS}
        return table.with_columns(attributes=None, boxes=Boxes.wrap(boxes.xyxy, boxes.labels, columns))

    @staticmethod
    def _tolerance(fmt: str | None) -> Callable[[ImageRecord], float]:
        """How far a corner of an image may move in one write and read of this format: two sources' boxes closer
        than the larger of their tolerances are the same box."""
        return get_format(fmt).tolerance if fmt is not None else lambda image: IN_MEMORY_TOLERANCE

    @staticmethod
    def _without_duplicates(
        table: ImageTable,
        origins: np.ndarray,
        tolerances: list[Callable[[ImageRecord], float]],
        classes: list[str],
        report: Report,
        *,
        jobs: int,
        progress: bool,
    ) -> tuple[ImageTable, np.ndarray, list[dict[str, Any]]]:
        """The table without the later copy of each image two sources share; an error (or, with `on_error`
        skip, a skip) where their boxes differ."""
        drop, duplicates = [], []
        for pair in same_images(table, origins, jobs=jobs, progress=progress):
            first, later = table[pair.first], table[pair.later]
            tolerance = max(tolerances[origins[pair.first]](first), tolerances[origins[pair.later]](later))
            drop.append(pair.later)
            if same_boxes(first.boxes, later.boxes, tolerance):
                duplicates.append(
                    {
                        "image": first.key,
                        "source": int(origins[pair.first]) + 1,
                        "duplicate": later.key,
                        "duplicate_source": int(origins[pair.later]) + 1,
                    }
                )
                continue
            with report.item():
                raise AnnotationError(
                    f"{later.key} of source {origins[pair.later] + 1} has the same bytes as {first.source} "
                    f"({first.key} of source {origins[pair.first] + 1}) but other boxes: "
                    f"{describe_difference(first.boxes, later.boxes, classes)}",
                    file=later.source,
                    code=codes.CONFLICTING_DUPLICATE,
                )
        report.count(codes.MERGE_DUPLICATES, len(duplicates))
        if not drop:
            return table, origins, duplicates
        keep = np.setdiff1d(np.arange(len(table)), drop)
        return table.subset(keep), origins[keep], duplicates

    @staticmethod
    def _renamed(table: ImageTable, origins: np.ndarray, report: Report) -> tuple[ImageTable, list[dict[str, Any]]]:
        """The table with a free name for each image whose `split/name` an earlier image has."""
        names = table.names.tolist()
        splits = table.image_splits()
        taken: set[str] = set()
        renamed = []
        for row, (split, name) in enumerate(zip(splits, names, strict=True)):
            key = image_key(split, name)
            if key in taken:
                names[row] = _free_name(name, int(origins[row]) + 1, taken, split)
                key = image_key(split, names[row])
                renamed.append({"source": int(origins[row]) + 1, "image": image_key(split, name), "as": key})
            taken.add(key)
        report.count(codes.MERGE_RENAMED, len(renamed))
        if not renamed:
            return table, renamed
        return table.with_columns(names=text_column(names)), renamed

    @staticmethod
    def _source_record(
        part: Source, opened: Opened, positions: np.ndarray, classes: Sequence[ClassInfo]
    ) -> dict[str, Any]:
        """One source as the merge record shows it: where, its format and counts, and where each class went."""
        dataset = opened.dataset
        mapping = [
            {"name": info.name, "id": info.id, "as": classes[position].name}
            for info, position in zip(dataset.classes, positions.tolist(), strict=True)
        ]
        return {
            "path": part.describe(),
            "format": opened.fmt,
            "images": len(dataset.images),
            "boxes": dataset.box_count,
            "splits": dataset.splits,
            "classes": mapping,
        }
