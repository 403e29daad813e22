"""COCO detection JSON: one file per split, boxes as absolute `[x, y, width, height]` floats.

The model's corners are `[x, y, x + w, y + h]`. Reading keeps what a COCO-to-COCO round trip needs: category ids,
names and other keys (`ClassInfo`), image ids and unknown image keys (`ImageRecord.source_id` / `.attributes`),
annotation ids, `iscrowd`, `area`, `segmentation` and unknown annotation keys (box columns), and the other
top-level keys of each file (`Dataset.meta["coco"][split]`). COCO files are large, so parsing and writing work on
whole columns per file rather than box by box. The contract people read is formats/coco.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import chain, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from bboxaug.core import codes
from bboxaug.core.errors import AnnotationError, FormatError
from bboxaug.core.model import COLUMN_DEFAULTS, Boxes, ClassInfo, Dataset, ImageRecord
from bboxaug.core.report import Report
from bboxaug.formats.base import Format
from bboxaug.formats.layout import DEFAULT_SPLIT, ImageIndex
from bboxaug.io import jsontext
from bboxaug.io.files import atomic_text_file
from bboxaug.io.headers import read_header
from bboxaug.io.names import safe_relative_name
from bboxaug.runtime.gcpause import gc_paused

ROBOFLOW_FILE = "_annotations.coco.json"


#: COCO's own file prefixes (`instances_train2017.json`): what follows one is the split name.
TASK_PREFIXES = ("instances_", "person_keypoints_", "stuff_", "labels_", "captions_", "panoptic_", "image_info_")


#: The top-level keys written for a split that was not read from COCO.
MINIMAL_TOP: Mapping[str, Any] = {"info": {"description": "written by bboxaug"}}


_LISTS = ("images", "annotations", "categories")


_IMAGE_KEYS = frozenset({"id", "file_name", "width", "height"})


_ANNOTATION_KEYS = frozenset({"id", "image_id", "category_id", "bbox", "area", "iscrowd", "segmentation"})


_PEEK_BYTES = 64 * 1024


_DETECT_FILES = 10


_KEY = re.compile(rb'"(?:images|annotations)"\s*:\s*\[')


Problems = dict[int, tuple[str, str]]


#: The code of an annotation skipped for its field, where more precise than `unreadable_annotation`: a
#: `category_id` is at fault only when it names no declared category.
FIELD_CODES = {"category_id": codes.UNKNOWN_CLASS}


def split_name(path: Path) -> str:
    """The split a file holds: Roboflow's `<split>/_annotations.coco.json` and `instances_<split>.json` (or
    another COCO task prefix) name it; any other file is a split named by its stem."""
    if path.name == ROBOFLOW_FILE:
        return path.parent.name or DEFAULT_SPLIT
    prefix = next((p for p in TASK_PREFIXES if path.stem.startswith(p) and len(path.stem) > len(p)), "")
    return path.stem[len(prefix) :]


def looks_like_coco(path: Path) -> bool:
    """Cheap check: a JSON object whose first or last 64 KB holds an `"images"` or `"annotations"` list (so a
    summary like bboxaug's own `convert.json`, with `"images": 29`, is not taken for COCO)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_PEEK_BYTES)
            handle.seek(max(len(head), handle.seek(0, 2) - _PEEK_BYTES))
            tail = handle.read()
    except OSError:
        return False
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") and bool(_KEY.search(head) or _KEY.search(tail))


def annotation_files(src: Path, *, peek_limit: int | None = None) -> list[Path]:
    """The COCO files of `src`, by the first layout that matches: `src` itself; `annotations/*.json` (only the
    `instances_*.json` ones when there are any); `<split>/_annotations.coco.json` (Roboflow); `src` being one
    Roboflow split folder; the COCO-looking `*.json` in `src` (the first `peek_limit` looked at)."""
    if src.is_file():
        return [src]
    annotations = sorted((src / "annotations").glob("*.json"))
    instances = [path for path in annotations if path.name.startswith("instances_")]
    if instances or annotations:
        return instances or annotations
    roboflow = sorted(src.glob(f"*/{ROBOFLOW_FILE}"))
    if roboflow:
        return roboflow
    if (src / ROBOFLOW_FILE).is_file():
        return [src / ROBOFLOW_FILE]
    return [path for path in sorted(src.glob("*.json"))[:peek_limit] if looks_like_coco(path)]


def image_folder(json_path: Path, split: str, image_dir: Path | None = None) -> Path | None:
    """Where a split's images are: `image_dir/<split>/` or `image_dir` when given; else, under the dataset root,
    `images/<split>/`, `<split>/`, `<split>2017/`, `images/`, then the JSON file's own folder."""
    if image_dir is not None:
        candidates = [image_dir / split, image_dir]
    else:
        nested = json_path.parent.name == "annotations" or json_path.name == ROBOFLOW_FILE
        root = json_path.parent.parent if nested else json_path.parent
        candidates = [root / "images" / split, root / split, root / f"{split}2017", root / "images", json_path.parent]
    return next((folder for folder in candidates if folder.is_dir()), None)


def detect(path: Path) -> bool:
    if path.is_file():
        return path.suffix.lower() == ".json" and looks_like_coco(path)
    files = annotation_files(path, peek_limit=_DETECT_FILES) if path.is_dir() else []
    return any(looks_like_coco(file) for file in files[:_DETECT_FILES])


def load_json(path: Path) -> dict[str, Any]:
    """A COCO file's top-level object, checked for the lists a detection file has."""
    try:
        with open(path, "rb") as handle:
            data = jsontext.loads(handle.read())
    except OSError as error:
        raise FormatError(f"cannot read file ({error.strerror})", file=path) from None
    except ValueError as error:
        raise FormatError(f"invalid JSON ({error})", file=path) from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise FormatError('not a COCO file: expected a JSON object with an "images" list', file=path, field="images")
    for key in ("annotations", "categories"):
        if not isinstance(data.get(key, []), list):
            raise FormatError(f"expected a list, found {type(data[key]).__name__}", file=path, field=key)
    annotations = data.get("annotations", [])
    if annotations and not any(isinstance(entry, dict) and "bbox" in entry for entry in annotations):
        found = sorted(annotations[0]) if isinstance(annotations[0], dict) else annotations[0]
        raise FormatError(
            f'not COCO detection: no annotation has a "bbox" (the first has {found}); captions, '
            "image-label and panoptic files hold no boxes",
            file=path,
            field="annotations",
        )
    return data


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


def parse_annotations(
    annotations: Sequence[dict[str, Any]], class_index: Mapping[int, int]
) -> tuple[np.ndarray, np.ndarray, dict[str, Any], Problems]:
    """One table for many annotation objects: xyxy, labels (`class_index` maps category id to class position),
    the columns holding anything but defaults, and the problems found, by row: `{row: (key, message)}`."""
    problems: Problems = {}
    xywh = _bbox_array(_values(annotations, "bbox"), problems)
    categories = _values(annotations, "category_id")
    try:
        labels = np.fromiter(map(class_index.get, categories, repeat(-1)), np.int64, len(categories))
    except TypeError:  # an unhashable category_id
        labels = np.array([class_index.get(c, -1) if type(c) is int else -1 for c in categories], dtype=np.int64)
    for k in np.flatnonzero(labels < 0).tolist():
        problems.setdefault(k, ("category_id", f"category_id {categories[k]!r} is not declared in categories"))
    segmentation = _values(annotations, "segmentation")
    segmentation = [value or None for value in segmentation] if any(segmentation) else []
    for k, value in enumerate(segmentation):
        if value is not None and type(value) not in (list, dict):
            problems.setdefault(k, ("segmentation", f"expected polygons or an RLE object, found {value!r}"))
    extras = (
        []
        if all(map(_ANNOTATION_KEYS.issuperset, annotations))
        else [
            None if _ANNOTATION_KEYS.issuperset(a) else {k: v for k, v in a.items() if k not in _ANNOTATION_KEYS}
            for a in annotations
        ]
    )
    columns = {
        "iscrowd": _flags(_values(annotations, "iscrowd", 0), problems),
        "area": _numbers(_values(annotations, "area"), problems),
        "segmentation": segmentation,
        "source_id": _values(annotations, "id"),
        "attributes": extras,
    }
    present = {name: values for name, values in columns.items() if _has_data(name, values)}
    return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1), labels, present, problems


def _has_data(name: str, values: Any) -> bool:
    if name == "iscrowd":
        return bool(values.any())
    if name == "area":
        return not np.isnan(values).all()
    return any(value is not None for value in values)


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


def _declared_size(entry: dict[str, Any], i: int, file: Path) -> tuple[int | None, int | None]:
    """`width` and `height` as positive integers (`640.0` is 640), None where absent."""
    size = []
    for key in ("width", "height"):
        value = entry.get(key)
        number = int(value) if type(value) is float and value.is_integer() else value
        if number is not None and (type(number) is not int or number <= 0):
            raise AnnotationError(
                f"{key} must be a positive integer, found {value!r}", file=file, field=f"images[{i}].{key}"
            )
        size.append(number)
    return size[0], size[1]


def _image_record(
    entry: dict[str, Any], i: int, image_id: int | str, split: str, boxes: Boxes, index: ImageIndex | None, file: Path
) -> ImageRecord:
    name, field = entry.get("file_name"), f"images[{i}].file_name"
    if not isinstance(name, str):
        raise AnnotationError(f"file_name must be a string, found {name!r}", file=file, field=field)
    name = safe_relative_name(name, file=file, field=field)
    width, height = entry.get("width"), entry.get("height")
    if type(width) is not int or type(height) is not int or width <= 0 or height <= 0:  # not the usual case
        width, height = _declared_size(entry, i, file)
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
    attributes = {k: v for k, v in entry.items() if k not in _IMAGE_KEYS}
    return ImageRecord(name, split, width, height, boxes, source, image_id, attributes)


def _group(annotations: list[Any], slots: Mapping[Any, int], file: Path, report: Report) -> tuple[list[int], list[int]]:
    """Annotation indices ordered by the image they belong to (`slots` maps image id to image position), and how
    many each image has. An annotation that names no image of the file is an error of its own."""
    try:
        owners = list(map(slots.get, map(itemgetter("image_id"), annotations)))
    except (KeyError, TypeError):
        owners = [
            slots.get(a.get("image_id")) if isinstance(a, dict) and type(a.get("image_id")) in (int, str) else None
            for a in annotations
        ]
    if None in owners:
        for j in [j for j, owner in enumerate(owners) if owner is None]:
            with report.item():
                found = annotations[j].get("image_id") if isinstance(annotations[j], dict) else annotations[j]
                raise AnnotationError(
                    f"image_id {found!r} names no image of this file", file=file, field=f"annotations[{j}].image_id"
                )
        owners = [-1 if owner is None else owner for owner in owners]
    owner_array = np.array(owners, dtype=np.int64).reshape(-1)
    order = np.argsort(owner_array, kind="stable")[np.count_nonzero(owner_array < 0) :]
    return order.tolist(), np.bincount(owner_array[order], minlength=len(slots)).tolist()


def _read_split(
    data: dict[str, Any],
    split: str,
    file: Path,
    class_index: Mapping[int, int],
    index: ImageIndex | None,
    report: Report,
) -> list[ImageRecord]:
    """The images of one file. A bad image or annotation is an error of its image: on_error=skip leaves the
    image out with all its boxes (counted as coco_annotations_skipped)."""
    entries: list[tuple[int, dict[str, Any], int | str]] = []
    seen: dict[Any, int] = {}
    for i, entry in enumerate(data["images"]):
        with report.item():
            entries.append((i, entry, _image_id(entry, i, seen, file)))
    annotations = data.get("annotations", [])
    order, counts = _group(annotations, {image_id: k for k, (_, _, image_id) in enumerate(entries)}, file, report)
    xyxy, labels, columns, problems = parse_annotations(list(map(annotations.__getitem__, order)), class_index)
    table = Boxes(xyxy, labels, columns)
    records: list[ImageRecord] = []
    start = 0
    for (i, entry, image_id), count in zip(entries, counts, strict=True):
        end, done = start + count, False
        with report.item():
            bad = [k for k in range(start, end) if k in problems] if problems else []
            if bad:
                key, message = problems[bad[0]]
                raise AnnotationError(
                    message, file=file, field=f"annotations[{order[bad[0]]}].{key}", code=FIELD_CODES.get(key)
                )
            records.append(_image_record(entry, i, image_id, split, table.rows(start, end), index, file))
            done = True
        if not done:
            report.count(codes.COCO_ANNOTATIONS_SKIPPED, count)
        start = end
    return records


def read(src: Path, *, report: Report, image_dir: Path | None = None, jobs: int = 1) -> Dataset:
    """Read a COCO file, or every split file of a COCO folder, into one dataset (in this process: `jobs` is
    unused, as a file is one JSON document)."""
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
    images: list[ImageRecord] = []
    meta: dict[str, dict[str, Any]] = {}
    indexes: dict[Path, ImageIndex] = {}
    with gc_paused():
        for split, file in files.items():
            with report.item():
                data = load_json(file)
                categories = parse_categories(data.get("categories", []), file=file)
                classes, difference = merge_classes(classes, categories) if meta else (categories, None)
                if difference:
                    report.warn(
                        file,
                        "categories",
                        f"{difference} (first file: {files[next(iter(meta))].name})",
                        codes.CATEGORIES_DIFFER,
                    )
                folder = image_folder(file, split, image_dir)
                if folder is not None and folder not in indexes:
                    indexes[folder] = ImageIndex(folder)
                class_index = {c.id: position for position, c in enumerate(classes) if c.id is not None}
                index = indexes.get(folder) if folder else None
                images += _read_split(data, split, file, class_index, index, report)
                meta[split] = {k: v for k, v in data.items() if k not in _LISTS}
    return Dataset(tuple(classes), tuple(images), {"coco": meta})


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


def _joined(tables: Sequence[Boxes], name: str, total: int) -> np.ndarray:
    """One column of many tables end to end (a default-filled array when no table has it)."""
    if any(name in table.columns for table in tables):
        return np.concatenate([table.column(name) for table in tables])
    return np.full(total, COLUMN_DEFAULTS[name], dtype=Boxes.empty().column(name).dtype)


def annotation_entries(
    images: Sequence[ImageRecord],
    image_ids: Sequence[int],
    category_ids: Sequence[int],
    annotation_ids: Sequence[int],
    *,
    keep_extras: bool,
) -> list[dict[str, Any]]:
    """The annotation objects of some images (whole-column work, then one dict per box), numbered
    `annotation_ids`. `area` is the stored one when finite, else the box's; `segmentation` as stored, or `[]`."""
    tables = [image.boxes for image in images]
    counts = [len(table) for table in tables]
    total = sum(counts)
    if not total:
        return []
    xyxy = np.concatenate([table.xyxy for table in tables])
    sizes = box_sizes(xyxy)
    bboxes = compact_array(np.concatenate([xyxy[:, :2], sizes], axis=1))
    area = _joined(tables, "area", total)
    areas = compact_array(np.where(np.isfinite(area), area, sizes[:, 0] * sizes[:, 1]))
    crowd = _joined(tables, "iscrowd", total).astype(np.int64).tolist()
    shapes = [() if shape is None else shape for shape in _joined(tables, "segmentation", total).tolist()]
    owners = np.repeat(np.asarray(image_ids, dtype=np.int64), counts).tolist()
    categories = np.asarray(category_ids, dtype=np.int64)[np.concatenate([table.labels for table in tables])]
    entries = [
        {"id": a, "image_id": o, "category_id": c, "bbox": b, "area": ar, "segmentation": s, "iscrowd": cr}
        for a, o, c, b, ar, s, cr in zip(
            annotation_ids, owners, categories.tolist(), bboxes, areas, shapes, crowd, strict=True
        )
    ]
    if keep_extras and any("attributes" in table.columns for table in tables):
        for entry, extra in zip(entries, _joined(tables, "attributes", total).tolist(), strict=True):
            _with_extras(entry, extra)
    return entries


#: Images whose annotations are built and encoded at a time: the whole split's annotation objects would take
#: about 1 KB per box at once (55 MB for 48,000 boxes), so they are written in chunks.
ANNOTATION_CHUNK = 500


def _box_source_ids(stored: Sequence[tuple[int, np.ndarray]], total: int) -> list[Any]:
    """Every box's source id in order (None where its image's boxes have none), from the (first row, ids) pairs of
    the images that have them."""
    ids: list[Any] = [COLUMN_DEFAULTS["source_id"]] * total
    for start, column in stored:
        ids[start : start + len(column)] = column.tolist()
    return ids


def write_split(
    handle: TextIO,
    images: Sequence[ImageRecord],
    categories: list[dict[str, Any]],
    category_ids: Sequence[int],
    top: Mapping[str, Any] | None,
    *,
    keep_extras: bool,
    report: Report,
    file: object,
) -> None:
    """One split's COCO object: its stored top-level keys (`top`, or a minimal `info`), then images, annotations
    (encoded a chunk of images at a time) and categories, as one line of compact JSON."""
    image_ids, assigned = assign_ids([image.source_id for image in images])
    report.count(codes.COCO_IMAGE_IDS_ASSIGNED, len(image_ids) if assigned else 0)
    entries = []
    stored_ids: list[tuple[int, np.ndarray]] = []  # (first row, ids) of the images whose boxes carry source ids
    total = 0
    for image_id, image in zip(image_ids, images, strict=True):
        if image.width is None or image.height is None:
            raise AnnotationError(
                "image size unknown: COCO needs width and height", file=image.name, code=codes.UNKNOWN_SIZE
            )
        entry = {"id": image_id, "file_name": image.name, "width": int(image.width), "height": int(image.height)}
        entries.append(_with_extras(entry, image.attributes) if keep_extras else entry)
        boxes = image.boxes  # read once: the images may be stored on disk, so no table is kept beyond its ids
        if "source_id" in boxes.columns:
            stored_ids.append((total, boxes.columns["source_id"]))
        total += len(boxes)
    annotation_ids, assigned = assign_ids(_box_source_ids(stored_ids, total))
    report.count(codes.COCO_ANNOTATION_IDS_ASSIGNED, len(annotation_ids) if assigned else 0)
    head = {k: v for k, v in (MINIMAL_TOP if top is None else top).items() if k not in _LISTS}
    handle.write(dumps({**head, "images": entries}, file=file)[:-2])  # all but the closing "}\n"
    handle.write(',"annotations":[')
    first, start = True, 0
    for begin in range(0, len(images), ANNOTATION_CHUNK):
        chunk = images[begin : begin + ANNOTATION_CHUNK]
        count = sum(len(image.boxes) for image in chunk)
        if not count:
            continue
        annotations = annotation_entries(
            chunk,
            image_ids[begin : begin + ANNOTATION_CHUNK],
            category_ids,
            annotation_ids[start : start + count],
            keep_extras=keep_extras,
        )
        start += count
        handle.write(("" if first else ",") + dumps(annotations, file=file)[1:-2])  # the items, without [ and ]\n
        first = False
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


def write(dataset: Dataset, dst: Path, *, report: Report) -> None:
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
    with gc_paused():
        for split in dataset.splits or [DEFAULT_SPLIT]:
            top = stored.get(split) if isinstance(stored, Mapping) else None
            target = Path(dst) / "annotations" / f"instances_{split}.json"
            with atomic_text_file(target) as handle:
                write_split(
                    handle,
                    dataset.in_split(split),
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
)
