"""Reading COCO detection JSON into columns, a batch of entries at a time.

A file is walked by `io.jsonstream`: its `images` and `annotations` arrays arrive as batches of a few megabytes,
each decoded by msgspec and turned into columns at once (into typed structs when the batch has only COCO's own
keys, which is three times faster than building dicts; into dicts otherwise, so an unknown key is kept), and the
other top-level keys (`info`, `licenses`, `categories`, anything else) are decoded whole. The file is never held as
one parse tree: memory grows with the columns (about 70 bytes a box), not with the JSON.

Reading keeps what a COCO-to-COCO round trip needs: category ids, names and other keys (`ClassInfo`), image ids and
unknown image keys (the image table's `source_ids` / `attributes`), annotation ids, `iscrowd`, `area`,
`segmentation` and unknown annotation keys (box columns), and the other top-level keys of each file
(`Dataset.meta["coco"][split]`). The contract people read is formats/coco.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import chain
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from bboxaug.core import codes
from bboxaug.core.errors import AnnotationError, FormatError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, object_column, text_column
from bboxaug.core.oriented import Quad, as_quad
from bboxaug.core.report import Report
from bboxaug.core.table import UNKNOWN, ImageTable, join_tables, offsets_of, path_column, ranges
from bboxaug.formats.coco_layout import annotation_files, image_folder, split_name
from bboxaug.formats.layout import ImageIndex
from bboxaug.io.headers import read_header
from bboxaug.io.jsonstream import Batch, read_batch, read_object
from bboxaug.io.names import is_plain_name, safe_relative_name
from bboxaug.runtime.gcpause import gc_paused
from bboxaug.runtime.parallel import run_parallel

#: The top-level keys that hold a file's entries; every other key is kept in `Dataset.meta["coco"][split]`.
LISTS = ("images", "annotations", "categories")

IMAGE_KEYS = frozenset({"id", "file_name", "width", "height"})

ANNOTATION_KEYS = frozenset({"id", "image_id", "category_id", "bbox", "area", "iscrowd", "segmentation", "obb"})

#: Files from this size up have their annotations decoded on worker processes (when jobs allow): below it,
#: starting the workers costs more than they save.
WORKERS_FROM_BYTES = 64 << 20

NOT_COCO = 'not a COCO file: expected a JSON object with an "images" list'

#: The code of an annotation skipped for its field, where more precise than `unreadable_annotation`: a
#: `category_id` is at fault only when it names no declared category.
FIELD_CODES = {"category_id": codes.UNKNOWN_CLASS}

#: Problems found in a batch of annotations, by row: `{row: (key, message)}`.
Problems = dict[int, tuple[str, str]]


class _Annotation(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """An annotation with only COCO's keys, each of the type COCO gives it (anything else fails the batch's
    typed decoding, which is then decoded as dicts and checked key by key)."""

    id: int | str | None = None
    image_id: int | str | None = None
    category_id: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    area: float | None = None
    iscrowd: int = 0
    segmentation: list[Any] | dict[str, Any] | None = None
    obb: tuple[float, float, float, float, float, float, float, float] | None = None  # bboxaug's oriented box


_TYPED_BATCH = msgspec.json.Decoder(list[_Annotation])


def parse_categories(categories: Sequence[Any], *, file: object) -> list[ClassInfo]:
    """Categories in file order; keys other than `id` and `name` go to `ClassInfo.attributes`."""
    classes: list[ClassInfo] = []
    seen: dict[int, int] = {}
    for i, entry in enumerate(categories):
        if not isinstance(entry, dict):
            raise FormatError(f"expected an object, found {entry!r}", file=file, field=f"categories[{i}]")
        category_id, name = entry.get("id"), entry.get("name")
        duplicate = type(category_id) is int and category_id in seen
        if type(category_id) is not int or duplicate:
            problem = (
                "not an integer"
                if type(category_id) is not int
                else f"duplicate (also categories[{seen[category_id]}])"
            )
            raise FormatError(f"category id {category_id!r} is {problem}", file=file, field=f"categories[{i}].id")
        if not isinstance(name, str) or not name:
            raise FormatError(
                f"category name must be a non-empty string, found {name!r}", file=file, field=f"categories[{i}].name"
            )
        seen[category_id] = i
        classes.append(ClassInfo(category_id, name, {k: v for k, v in entry.items() if k not in ("id", "name")}))
    return classes


def merge_classes(known: list[ClassInfo], new: list[ClassInfo]) -> tuple[list[ClassInfo], str | None]:
    """`known` plus the categories of `new` whose id it lacks (first-seen order), and what differed, if anything."""
    if [(c.id, c.name) for c in known] == [(c.id, c.name) for c in new]:
        return known, None
    by_id = {c.id: c for c in known}
    added = [c for c in new if c.id not in by_id]
    renamed = [
        f"{c.id} ({c.name!r} here, {by_id[c.id].name!r} kept)"
        for c in new
        if c.id in by_id and by_id[c.id].name != c.name
    ]
    detail = "; ".join(
        part
        for part in (
            f"added ids {[c.id for c in added]}" if added else "",
            f"names differ for ids {', '.join(renamed)}" if renamed else "",
        )
        if part
    )
    return known + added, f"categories differ, merged by id: {detail or 'same ids, other order or a subset'}"


def _values(entries: Sequence[dict[str, Any]], key: str, default: Any = None) -> list[Any]:
    """Every entry's value for `key` (`default` where it is absent), at C speed when all entries have it."""
    try:
        return list(map(itemgetter(key), entries))
    except KeyError:
        return [entry.get(key, default) for entry in entries]


def _bbox_array(values: list[Any], problems: Problems) -> np.ndarray:
    """(N, 4) float64 `[x, y, w, h]`; a malformed entry becomes zeros and a problem."""
    try:
        if not set(map(len, values)) - {4}:
            return _checked_sizes(
                np.fromiter(chain.from_iterable(values), np.float64, 4 * len(values)), values, problems
            )
    except (TypeError, ValueError):
        pass
    rows = []
    for k, value in enumerate(values):
        try:
            row = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            row = None
        if row is None or row.shape != (4,):
            problems.setdefault(k, ("bbox", f"expected [x, y, width, height] numbers, found {value!r}"))
            row = np.zeros(4)
        rows.append(row)
    return _checked_sizes(np.array(rows, dtype=np.float64), values, problems)


def _checked_sizes(flat: np.ndarray, values: list[Any], problems: Problems) -> np.ndarray:
    array = flat.reshape(-1, 4)
    for k in np.flatnonzero(~np.isfinite(array).all(axis=1) | (array[:, 2] < 0) | (array[:, 3] < 0)).tolist():
        problems.setdefault(k, ("bbox", f"values must be finite, width and height >= 0, found {values[k]!r}"))
    return array


def _flags(values: list[Any], problems: Problems) -> np.ndarray:
    """`iscrowd` values (0 or 1) as booleans."""
    try:
        valid = set(values) <= {0, 1}
    except TypeError:
        valid = False
    for k, value in [] if valid else enumerate(values):
        if type(value) not in (int, bool, float) or value not in (0, 1):
            problems.setdefault(k, ("iscrowd", f"expected 0 or 1, found {value!r}"))
            values[k] = 0
    return np.array(values, dtype=bool)


def _numbers(values: list[Any], problems: Problems) -> np.ndarray:
    """`area` values as float64; a missing or null area is NaN."""
    try:
        array = np.array(values, dtype=np.float64)
        if array.shape == (len(values),):
            return array
    except (TypeError, ValueError):
        pass
    for k, value in enumerate(values):
        if value is not None and type(value) not in (int, float):
            problems.setdefault(k, ("area", f"expected a number, found {value!r}"))
            values[k] = None
    return np.array(values, dtype=np.float64).reshape(-1)


def id_column(values: list[Any]) -> np.ndarray:
    """Ids as one int64 array when all are integers (the usual case, 8 bytes each), else as objects."""
    if set(map(type, values)) <= {int}:
        try:
            return np.array(values, dtype=np.int64).reshape(-1)
        except OverflowError:
            pass
    return object_column(values)


def _has_data(name: str, values: Any) -> bool:
    if name == "iscrowd":
        return bool(values.any())
    if name == "area":
        return not np.isnan(values).all()
    return any(value is not None for value in values)


@dataclass
class AnnotationBatch:
    """A batch of annotations as columns: their boxes (labels not yet known: categories may come later in the
    file), the image and category each names, and the problems found, by row."""

    boxes: Boxes
    image_ids: np.ndarray
    category_ids: np.ndarray
    problems: Problems = field(default_factory=dict)
    has_bbox: bool = True  # whether any annotation has a `bbox` key with a value


def _oriented_boxes(values: list[Any], segmentation: list[Any], problems: Problems) -> list[Quad | None]:
    """Each annotation's `obb` (its 4 corners as 8 numbers) as an oriented box; a segmentation that is that same
    quad (as this writer gives a box without a polygon) is left out, so the quad is not read twice."""
    obbs: list[Quad | None] = [None] * len(values)
    for k, value in enumerate(values):
        if value is None:
            continue
        numbers = list(value) if isinstance(value, (list, tuple)) else []
        if len(numbers) != 8 or not all(type(v) in (int, float) and math.isfinite(v) for v in numbers):
            problems.setdefault(k, ("obb", f"expected 8 finite numbers (4 corners), found {value!r:.80}"))
            continue
        obbs[k] = as_quad(numbers)
        if segmentation and segmentation[k] == [numbers]:
            segmentation[k] = None
    return obbs


def annotation_batch(values: Callable[[str, Any], list[Any]], extras: list[Any]) -> AnnotationBatch:
    """The columns of a batch whose values for each key `values(key, default)` gives, in order; `extras` holds
    each annotation's unknown keys (or is empty when none has any)."""
    problems: Problems = {}
    bboxes = values("bbox", None)
    xywh = _bbox_array(bboxes, problems)
    segmentation = values("segmentation", None)
    segmentation = [value or None for value in segmentation] if any(segmentation) else []
    for k, value in enumerate(segmentation):
        if value is not None and type(value) not in (list, dict):
            problems.setdefault(k, ("segmentation", f"expected polygons or an RLE object, found {value!r}"))
    obbs = _oriented_boxes(values("obb", None), segmentation, problems)
    columns = {
        "iscrowd": _flags(values("iscrowd", 0), problems),
        "area": _numbers(values("area", None), problems),
        "segmentation": segmentation,
        "source_id": id_column(values("id", None)),
        "attributes": extras,
        "obb": obbs,
    }
    present = {name: column for name, column in columns.items() if _has_data(name, column)}
    xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    return AnnotationBatch(
        Boxes(xyxy, np.zeros(len(xyxy), dtype=np.int64), present),
        id_column(values("image_id", None)),
        id_column(values("category_id", None)),
        problems,
        any(value is not None for value in bboxes),
    )


def decode_annotation_range(where: tuple[str, int, int]) -> AnnotationBatch:
    """`decode_annotations` of the annotations at bytes `start` to `stop` of file `path` (in a worker process)."""
    with gc_paused():
        return decode_annotations(read_batch(*where))


def decode_annotations(batch: bytes) -> AnnotationBatch:
    """A batch of annotation objects (JSON text) as columns: typed when every entry has only COCO's keys with
    COCO's types, else as dicts, keeping unknown keys and finding every bad value."""
    try:
        typed = _TYPED_BATCH.decode(batch)
    except msgspec.ValidationError:
        return annotation_dicts(msgspec.json.decode(batch))
    return annotation_batch(lambda key, default: list(map(attrgetter(key), typed)), [])


def annotation_dicts(annotations: Sequence[Any]) -> AnnotationBatch:
    """A batch of decoded annotation objects as columns (an entry that is not an object is a problem of its row)."""
    entries = [entry if isinstance(entry, dict) else {} for entry in annotations]
    batch = annotation_batch(
        lambda key, default: _values(entries, key, default),
        []
        if all(map(ANNOTATION_KEYS.issuperset, entries))
        else [
            None if ANNOTATION_KEYS.issuperset(a) else {k: v for k, v in a.items() if k not in ANNOTATION_KEYS}
            for a in entries
        ],
    )
    for k, entry in enumerate(annotations):
        if not isinstance(entry, dict):
            batch.problems[k] = ("", f"expected an object, found {entry!r}")
    return batch


def positions(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """For each of `wanted`, its position in `keys` (distinct), or -1: vectorised when both are integer arrays."""
    if keys.dtype == np.int64 and wanted.dtype == np.int64 and len(keys):
        order = np.argsort(keys, kind="stable")
        found = np.minimum(np.searchsorted(keys[order], wanted), len(keys) - 1)
        return np.where(keys[order][found] == wanted, order[found], -1)
    slots = {key: k for k, key in enumerate(keys.tolist())}
    return np.array([_hashable_get(slots, value) for value in wanted.tolist()], dtype=np.int64).reshape(-1)


def _hashable_get(slots: Mapping[Any, int], value: Any) -> int:
    try:
        return slots.get(value, -1)
    except TypeError:  # an unhashable id names nothing
        return -1


@dataclass
class _ImageEntries:
    """The `images` entries of one file whose id is valid, as columns (checked further once their boxes are
    known, so that a bad entry is skipped with its boxes)."""

    file: Path
    report: Report
    indices: list[int] = field(default_factory=list)  # positions in the file's `images`
    ids: list[Any] = field(default_factory=list)
    names: list[Any] = field(default_factory=list)
    widths: list[Any] = field(default_factory=list)
    heights: list[Any] = field(default_factory=list)
    extras: list[dict[str, Any] | None] = field(default_factory=list)
    seen: dict[Any, int] = field(default_factory=dict)
    count: int = 0  # entries read, valid or not

    def add(self, batch: Batch) -> None:
        entries = msgspec.json.decode(batch.text)
        ids = _values(entries, "id") if set(map(type, entries)) == {dict} else []
        if len(ids) == len(entries) and set(map(type, ids)) <= {int, str} and self._all_new(ids):
            self._add_checked(entries, ids)  # the usual batch: objects with distinct, new ids, taken whole
            return
        for entry in entries:
            i, self.count = self.count, self.count + 1
            with self.report.item():
                self._add_checked([entry], [_image_id(entry, i, self.seen, self.file)], start=i)

    def _all_new(self, ids: list[Any]) -> bool:
        return len(set(ids)) == len(ids) and self.seen.keys().isdisjoint(ids)

    def _add_checked(self, entries: list[dict[str, Any]], ids: list[Any], start: int | None = None) -> None:
        """Entries whose ids are checked (and, one at a time, already in `seen`)."""
        if start is None:
            start, self.count = self.count, self.count + len(entries)
            self.seen.update(zip(ids, range(start, self.count), strict=True))
        self.indices += range(start, start + len(entries))
        self.ids += ids
        self.names += _values(entries, "file_name")
        self.widths += _values(entries, "width")
        self.heights += _values(entries, "height")
        if all(map(IMAGE_KEYS.issuperset, entries)):
            self.extras += [None] * len(entries)
        else:
            self.extras += [{k: v for k, v in entry.items() if k not in IMAGE_KEYS} or None for entry in entries]


def _image_id(entry: Any, i: int, seen: dict[Any, int], file: Path) -> int | str:
    if not isinstance(entry, dict):
        raise AnnotationError(f"expected an object, found {entry!r}", file=file, field=f"images[{i}]")
    image_id = entry.get("id")
    duplicate = type(image_id) in (int, str) and image_id in seen
    if (type(image_id) is not int and type(image_id) is not str) or duplicate:
        problem = f"duplicate (also images[{seen[image_id]}])" if duplicate else "not an integer or a string"
        raise AnnotationError(f"image id {image_id!r} is {problem}", file=file, field=f"images[{i}].id")
    seen[image_id] = i
    return image_id


def _declared_size(value: Any, key: str, i: int, file: Path) -> int | None:
    """A `width` or `height` as a positive integer (`640.0` is 640), None where absent."""
    number = int(value) if type(value) is float and value.is_integer() else value
    if number is not None and (type(number) is not int or number <= 0):
        message = f"{key} must be a positive integer, found {value!r}"
        raise AnnotationError(message, file=file, field=f"images[{i}].{key}")
    return number


@dataclass(frozen=True)
class _Image:
    name: str
    width: int
    height: int
    source: Path | None


def _checked_image(entries: _ImageEntries, k: int, index: ImageIndex | None) -> _Image:
    """Entry `k`'s name, size (from its image header when the entry has none) and image file."""
    i, file = entries.indices[k], entries.file
    name, field_name = entries.names[k], f"images[{i}].file_name"
    if not isinstance(name, str):
        raise AnnotationError(f"file_name must be a string, found {name!r}", file=file, field=field_name)
    name = safe_relative_name(name, file=file, field=field_name)
    width, height = entries.widths[k], entries.heights[k]
    if type(width) is not int or type(height) is not int or width <= 0 or height <= 0:  # not the usual case
        width, height = _declared_size(width, "width", i, file), _declared_size(height, "height", i, file)
    source = index.find(name) if index else None
    if width is None or height is None:
        if source is None:
            missing = "width" if width is None else "height"
            raise AnnotationError(
                f"no {missing}, and no image file {name!r} to read the size from",
                file=file,
                field=f"images[{i}].{missing}",
                code=codes.UNKNOWN_SIZE,
            )
        header = read_header(source)
        width, height = header.width, header.height
    return _Image(name, width, height, source)


@dataclass
class _ImageColumns:
    """The images' names, sizes and files as they will be kept; `quick` marks the entries whose plain name and
    positive integer sizes need no closer look."""

    names: list[Any]
    widths: np.ndarray
    heights: np.ndarray
    sources: list[Path | None] | None
    quick: np.ndarray

    def accept(self, k: int, image: _Image) -> None:
        self.names[k], self.widths[k], self.heights[k] = image.name, image.width, image.height
        if self.sources is not None:
            self.sources[k] = image.source


def _sizes(values: list[Any]) -> np.ndarray:
    """Positive integer sizes as they are, anything else as UNKNOWN (for a closer look)."""
    if set(map(type, values)) <= {int}:
        array = np.array(values, dtype=np.int64).reshape(-1)
        return np.where(array > 0, array, UNKNOWN)
    return np.array([v if type(v) is int and v > 0 else UNKNOWN for v in values], dtype=np.int64).reshape(-1)


def _image_columns(images: _ImageEntries, index: ImageIndex | None) -> _ImageColumns:
    widths, heights = _sizes(images.widths), _sizes(images.heights)
    plain = np.fromiter(map(is_plain_name, images.names), bool, len(images.names))
    quick = plain & (widths > 0) & (heights > 0)
    names = list(images.names)
    sources = (
        None if index is None else [index.find(name) if fine else None for name, fine in zip(names, quick, strict=True)]
    )
    return _ImageColumns(names, widths, heights, sources, quick)


def _joined_batches(batches: list[AnnotationBatch]) -> AnnotationBatch:
    """The file's annotation batches as one (the list is emptied), problems numbered by their row in the file.
    Joined a column at a time, each column's parts freed once joined: the batches and the joined table are
    never held whole together."""
    if not batches:
        return AnnotationBatch(Boxes.empty(), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    problems: Problems = {}
    start = 0
    for batch in batches:
        problems.update({start + row: problem for row, problem in batch.problems.items()})
        start += len(batch.boxes)
    names = list(dict.fromkeys(name for batch in batches for name in batch.boxes.columns))
    parts = {
        "xyxy": [batch.boxes.xyxy for batch in batches],
        "labels": [batch.boxes.labels for batch in batches],
        "image_ids": [batch.image_ids for batch in batches],
        "category_ids": [batch.category_ids for batch in batches],
        **{name: [batch.boxes.column(name) for batch in batches] for name in names},
    }
    batches.clear()
    joined = {key: np.concatenate(parts.pop(key)) for key in list(parts)}
    boxes = Boxes.wrap(joined.pop("xyxy"), joined.pop("labels"), {name: joined.pop(name) for name in names})
    return AnnotationBatch(boxes, joined["image_ids"], joined["category_ids"], problems)


def _owners(annotations: AnnotationBatch, images: _ImageEntries, report: Report) -> np.ndarray:
    """The image (position among `images`) each annotation belongs to; -1 for one that names no image of the
    file, which is an error of its own."""
    owners = positions(id_column(images.ids), annotations.image_ids)
    for j in np.flatnonzero(owners < 0).tolist():
        with report.item():
            raise AnnotationError(
                f"image_id {annotations.image_ids[j : j + 1].tolist()[0]!r} names no image of this file",
                file=images.file,
                field=f"annotations[{j}].image_id",
            )
    return owners


def batch_labels(annotations: AnnotationBatch, class_index: Mapping[int, int]) -> np.ndarray:
    """Each annotation's class position; a category id no category declares is a problem of its row (after a
    bad bbox, which is reported first)."""
    declared = np.fromiter(class_index, np.int64, len(class_index))
    slots = positions(declared, annotations.category_ids)
    labels = np.full(len(slots), -1, dtype=np.int64)
    named = slots >= 0
    labels[named] = np.fromiter(class_index.values(), np.int64, len(class_index))[slots[named]]
    for k in np.flatnonzero(labels < 0).tolist():
        if annotations.problems.get(k, ("",))[0] != "bbox":
            found = annotations.category_ids[k : k + 1].tolist()[0]  # as the file gave it, not a numpy scalar
            annotations.problems[k] = ("category_id", f"category_id {found!r} is not declared in categories")
    return labels


def _first_problems(order: np.ndarray, problems: Problems, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """For each image (its rows `starts[k]:ends[k]` of `order`), the first of its rows with a problem, or -1."""
    if not problems:
        return np.full(len(starts), -1, dtype=np.int64)
    bad = np.zeros(len(order) + 1, dtype=bool)
    bad[np.fromiter(problems, np.int64, len(problems))] = True
    flagged = np.flatnonzero(bad[order])
    first = np.searchsorted(flagged, starts)
    found = flagged[np.minimum(first, len(flagged) - 1)] if len(flagged) else np.zeros(len(starts), dtype=np.int64)
    return np.where((first < len(flagged)) & (found < ends), found, -1)


def read_split(
    file: Path,
    split: str,
    report: Report,
    classes_of: Callable[[list[ClassInfo]], Mapping[int, int]],
    index: ImageIndex | None,
    jobs: int = 1,
) -> tuple[ImageTable, dict[str, Any]]:
    """One COCO file's images as a table and its other top-level keys. `classes_of` takes the file's categories
    and gives the class position of each category id. A bad image or annotation is an error of its image:
    on_error=skip leaves the image out with all its boxes (counted as coco_annotations_skipped). A large file's
    annotations are decoded on `jobs` worker processes, each reading its batches from the file again, while
    this process walks the file and takes the images."""
    images = _ImageEntries(file, report)
    batches: list[AnnotationBatch] = []
    places: list[tuple[str, int, int]] = []  # where the annotation batches are, when workers decode them
    on_workers = jobs != 1 and file.stat().st_size >= WORKERS_FROM_BYTES

    def take_annotations(batch: Batch) -> None:
        if on_workers:
            places.append((str(file), batch.start, batch.stop))
        else:
            batches.append(decode_annotations(batch.text))

    try:
        with open(file, "rb") as handle:
            members, streamed = read_object(
                handle, file=file, streamed={"images": images.add, "annotations": take_annotations}, not_object=NOT_COCO
            )
    except OSError as error:
        raise FormatError(f"cannot read file ({error.strerror})", file=file) from None
    if places:
        batches = run_parallel(decode_annotation_range, places, jobs=jobs, prefer="processes", items_are_batches=True)
    if "images" not in streamed:
        raise FormatError(NOT_COCO, file=file, field="images")
    for key in ("annotations", "categories"):
        if key in members and not isinstance(members[key], list):
            raise FormatError(f"expected a list, found {type(members[key]).__name__}", file=file, field=key)
    _require_bbox(file, batches)
    annotations = _joined_batches(batches)
    class_index = classes_of(parse_categories(members.get("categories", []), file=file))
    owners = _owners(annotations, images, report)
    labels = batch_labels(annotations, class_index)
    order = np.argsort(owners, kind="stable")[np.count_nonzero(owners < 0) :]
    counts = np.bincount(owners[order], minlength=len(images.ids))
    ends = np.cumsum(counts)
    starts = ends - counts
    first_bad = _first_problems(order, annotations.problems, starts, ends)
    columns = _image_columns(images, index)
    keep = columns.quick & (first_bad < 0)
    for k in np.flatnonzero(~keep).tolist():  # the entries that need a closer look: bad, unusual or without a size
        with report.item():
            if first_bad[k] >= 0:
                row = int(order[first_bad[k]])
                key, message = annotations.problems[row]
                raise AnnotationError(
                    message,
                    file=file,
                    field=f"annotations[{row}].{key}" if key else f"annotations[{row}]",
                    code=FIELD_CODES.get(key),
                )
            columns.accept(k, _checked_image(images, k, index))
            keep[k] = True
        if not keep[k]:
            report.count(codes.COCO_ANNOTATIONS_SKIPPED, int(counts[k]))
    rows = np.flatnonzero(keep)
    box_rows = order[ranges(starts[rows], counts[rows])]
    if len(box_rows) == len(annotations.boxes) and (box_rows == np.arange(len(box_rows))).all():
        boxes = annotations.boxes.with_labels(labels)  # already grouped by image, in order: nothing to move
    else:
        boxes = annotations.boxes.take(box_rows).with_labels(labels[box_rows])
    kept = rows.tolist()
    extras = [images.extras[k] for k in kept]
    names = [columns.names[k] for k in kept]
    table = ImageTable(
        names=text_column(names),
        split_codes=np.zeros(len(rows), dtype=np.int32),
        split_names=(split,),
        widths=columns.widths[rows],
        heights=columns.heights[rows],
        boxes=boxes,
        offsets=offsets_of(counts[rows]),
        sources=None if columns.sources is None else path_column([columns.sources[row] for row in kept], names),
        source_ids=id_column([images.ids[k] for k in kept]),
        attributes=object_column(extras) if any(extras) else None,
    )
    return table, {k: v for k, v in members.items() if k not in LISTS}


def _require_bbox(file: Path, batches: Sequence[AnnotationBatch]) -> None:
    """FormatError when there are annotations but none has a `bbox` (a captions, image-label or panoptic file)."""
    if any(len(batch.boxes) for batch in batches) and not any(batch.has_bbox for batch in batches):
        raise FormatError(
            'not COCO detection: no annotation has a "bbox"; captions, image-label and panoptic files hold no boxes',
            file=file,
            field="annotations",
        )


def read(src: Path, *, report: Report, image_dir: Path | None = None, jobs: int = 1) -> Dataset:
    """Read a COCO file, or every split file of a COCO folder, into one dataset, a large file's annotations
    decoded on `jobs` worker processes (-1: every core); the dataset and report are the same for any `jobs`."""
    src = Path(src)
    if not src.exists():
        raise FormatError("no such file or folder", file=src)
    files: dict[str, Path] = {}
    for file in annotation_files(src):
        split = split_name(file)
        if split in files:
            raise FormatError(
                f"{files[split].name} and {file.name} both hold split {split!r}; read them one at a time", file=src
            )
        files[split] = file
    if not files:
        raise FormatError(
            "no COCO file found (looked for annotations/*.json, <split>/_annotations.coco.json and "
            '*.json with "images")',
            file=src,
        )
    classes: list[ClassInfo] = []
    tables: list[ImageTable] = []
    read_splits: list[str] = []
    meta: dict[str, dict[str, Any]] = {}
    indexes: dict[Path, ImageIndex] = {}

    def classes_of(categories: list[ClassInfo], *, file: Path) -> dict[int, int]:
        nonlocal classes
        merged, difference = merge_classes(classes, categories) if meta else (categories, None)
        if difference:
            first = files[next(iter(meta))].name
            report.warn(file, "categories", f"{difference} (first file: {first})", codes.CATEGORIES_DIFFER)
        classes = merged
        return {c.id: position for position, c in enumerate(classes) if c.id is not None}

    with gc_paused():
        for split, file in files.items():
            with report.item():
                folder = image_folder(file, split, image_dir)
                if folder is not None and folder not in indexes:
                    indexes[folder] = ImageIndex(folder)
                index = indexes.get(folder) if folder else None
                table, top = read_split(file, split, report, partial(classes_of, file=file), index, jobs)
                tables.append(table.with_columns(split_codes=np.full(len(table), len(tables), dtype=np.int32)))
                read_splits.append(split)
                meta[split] = top
    return Dataset(tuple(classes), join_tables(tables, tuple(read_splits)), {"coco": meta})
