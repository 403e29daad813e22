"""YOLO text labels in the Ultralytics layout (`data.yaml`, `images/<split>/`, `labels/<split>/`) and the Darknet
layout (`obj.data`, `obj.names`, `obj_train_data/` or `train.txt` lists).

Each label line is `class cx cy w h`, normalised by the image size, or `class x0 y0 x1 y1 ...` (a polygon, read as
its envelope, kept as the box's segmentation); in an oriented-box dataset `class x1 y1 ... x4 y4` is an oriented
box (`bboxaug.formats.yolo_obb`). YOLO stores no image sizes, so every size comes from the image header. Writing
gives the Ultralytics layout, with box lines (task "detect"), polygon lines ("segment",
`bboxaug.formats.yolo_segment`) or oriented-box lines ("obb"); the contract is formats/yolo.md.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import yaml
from numpy.typing import ArrayLike

from bboxaug.core import codes
from bboxaug.core.errors import AnnotationError, FormatError, ImageError, UsageError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord, name_stem, object_column
from bboxaug.core.report import Report
from bboxaug.core.table import TableBuilder, as_table
from bboxaug.formats.base import Format, Writer, stem_in_split
from bboxaug.formats.dota import is_object_line
from bboxaug.formats.layout import finite_number, split_folders
from bboxaug.formats.yolo_obb import label_texts as obb_label_texts
from bboxaug.formats.yolo_obb import oriented_if_all_quads, quads_to_obbs
from bboxaug.formats.yolo_segment import has_shape, polygon_lines
from bboxaug.io.files import atomic_write_text, write_file
from bboxaug.io.headers import is_image_name, read_header
from bboxaug.io.names import safe_relative_name
from bboxaug.runtime.parallel import iter_parallel

#: Normalised values at most this far outside [0, 1] are float noise from the tool that wrote them: snapped.
ROUNDING = 1e-6


#: data.yaml keys that name a split, and the split name each gives.
SPLIT_KEYS = {"train": "train", "val": "val", "validation": "val", "test": "test", "minival": "minival"}


#: data.yaml keys that never name a split.
NOT_SPLITS = frozenset(
    {"path", "names", "nc", "download", "channels", "kpt_shape", "flip_idx", "task", "roboflow", "yaml_file"}
)


SPLIT_ALIASES = {"val": ("valid", "validation"), "valid": ("val", "validation"), "validation": ("val", "valid")}


CLASS_FILES = ("obj.names", "classes.txt")


IMAGE_DIRS = ("images", "Images")


LABEL_DIRS = ("labels", "Labels", "annotations", "Annotations")


OBB_LABEL_DIRS = ("labelTxt",)


#: Text files that may sit beside images without being labels.
NOT_LABELS = frozenset({"classes.txt", "train.txt", "val.txt", "valid.txt", "test.txt", "readme.txt"})


#: Split names (lower case) written under a standard data.yaml key, and the order they are written in.
WRITTEN_KEYS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


WRITE_ORDER = {"train": 0, "val": 1, "valid": 1, "validation": 1, "test": 2}


#: Images whose label lines are computed in one numpy pass when writing (bounds the memory used).
WRITE_BATCH = 4096

#: Images below which label files are written in this process: starting workers costs about as much as writing
#: this many files.
MIN_IMAGES_FOR_WORKERS = 20_000


#: obj.data keys naming a split, and the split name each gives.
DARKNET_SPLITS = (("train", "train"), ("valid", "val"), ("test", "test"))


def _snap(value: float) -> float:
    """`value` pulled onto 0 or 1 when it lies outside [0, 1] by rounding noise only."""
    if -ROUNDING <= value < 0.0:
        return 0.0
    if 1.0 < value <= 1.0 + ROUNDING:
        return 1.0
    return value


def _dota_line(file: object, line: str) -> AnnotationError:
    return AnnotationError(
        "a DOTA line `x1 y1 x2 y2 x3 y3 x4 y4 name difficulty` in a YOLO dataset: read DOTA with --from dota",
        file=file,
        field=line,
    )


def _is_dota(tokens: Sequence[str]) -> bool:
    """A DOTA header (`imagesource:`, `gsd:`) or box line (`x1 y1 ... x4 y4 name [difficulty]`)."""
    if tokens[0].startswith(("imagesource:", "gsd:")):
        return True
    return is_object_line(tokens)


def _class_position(token: str, positions: Mapping[int, int], file: object, line: str) -> int:
    index = finite_number(token)
    if index is None or not index.is_integer():
        raise AnnotationError(f"class index {token!r} is not an integer", file=file, field=line)
    if int(index) not in positions:
        known = f"{min(positions)}..{max(positions)}" if positions else "none"
        raise AnnotationError(
            f"class index {int(index)} is not in the class list (known: {known})",
            file=file,
            field=line,
            code=codes.UNKNOWN_CLASS,
        )
    return positions[int(index)]


def parse_line(
    tokens: Sequence[str],
    positions: Mapping[int, int],
    *,
    file: object = None,
    line: str = "",
    keypoint_values: int = 0,
) -> tuple[int, list[float], list[float] | None]:
    """One label line as (class position, normalised [x1, y1, x2, y2], normalised polygon or None).

    4 values after the class are a box; an even number >= 6 of coordinates is a polygon (as Ultralytics reads
    it; in an oriented-box dataset, 8 coordinates become an oriented box afterwards). DOTA lines are refused.
    """
    if _is_dota(tokens):
        raise _dota_line(file, line)
    label = _class_position(tokens[0], positions, file, line)
    try:
        values = [float(token) for token in tokens[1:]]
    except ValueError:
        values = []
    if len(values) != len(tokens) - 1 or not all(map(math.isfinite, values)):
        bad = next(token for token in tokens[1:] if finite_number(token) is None)
        raise AnnotationError(f"non-numeric value {bad!r}", file=file, field=line)
    coords = [_snap(value) for value in values]
    count = len(coords)
    if keypoint_values and count == 4 + keypoint_values:
        coords, count = coords[:4], 4
    if count == 4:
        cx, cy, w, h = coords
        if w < 0 or h < 0:
            raise AnnotationError(
                f"negative {'width' if w < 0 else 'height'} ({w if w < 0 else h})", file=file, field=line
            )
        return label, [_snap(cx - w / 2), _snap(cy - h / 2), _snap(cx + w / 2), _snap(cy + h / 2)], None
    if keypoint_values or count < 6 or count % 2:
        expected = (
            f"4 + {keypoint_values} keypoint values"
            if keypoint_values
            else "4 (`class cx cy w h`) or an even number >= 6 (a polygon)"
        )
        raise AnnotationError(f"expected {expected} after the class, found {count}", file=file, field=line)
    xs, ys = coords[0::2], coords[1::2]
    return label, [min(xs), min(ys), max(xs), max(ys)], coords


def parse_labels(
    text: str,
    width: int,
    height: int,
    positions: Mapping[int, int],
    *,
    file: object = None,
    keypoint_values: int = 0,
) -> Boxes:
    """A label file's text as boxes in absolute pixels; polygons are kept in the `segmentation` column."""
    labels, edges, polygons = [], [], []
    for number, line in enumerate(text.splitlines(), 1):
        tokens = line.split()
        if tokens:
            label, box, polygon = parse_line(
                tokens, positions, file=file, line=f"line {number}", keypoint_values=keypoint_values
            )
            labels.append(label)
            edges.append(box)
            polygons.append(polygon)
    if not labels:
        return Boxes.empty()
    xyxy = np.array(edges, dtype=np.float64) * np.array([width, height, width, height], dtype=np.float64)
    if all(polygon is None for polygon in polygons):
        return Boxes(xyxy, labels)
    scale = np.array([width, height], dtype=np.float64)
    segmentation = [None if p is None else [(np.array(p).reshape(-1, 2) * scale).ravel().tolist()] for p in polygons]
    return Boxes(xyxy, labels, {"segmentation": object_column(segmentation)})


LINE = "%d %.6f %.6f %.6f %.6f\n"


def label_texts(xyxy: np.ndarray, labels: np.ndarray, sizes: ArrayLike, counts: Sequence[int]) -> list[str]:
    """Each image's label lines `idx cx cy w h` (6 decimals, clamped to [0, 1]; "" for a negative), for images
    of `sizes` ((N, 2) width, height) whose `counts` boxes are the rows of `xyxy` and `labels` in order. The
    whole batch is computed in one numpy pass and each image formatted with one `%`: no per-box numpy scalars."""
    if not len(xyxy):
        return [""] * len(counts)
    box_sizes = np.repeat(np.asarray(sizes, dtype=np.float64), counts, axis=0)
    table = np.empty((len(xyxy), 5), dtype=np.float64)
    table[:, 0] = labels
    table[:, 1:3] = (xyxy[:, :2] + xyxy[:, 2:]) / (2 * box_sizes)
    table[:, 3:5] = (xyxy[:, 2:] - xyxy[:, :2]) / box_sizes
    np.clip(table[:, 1:], 0.0, 1.0, out=table[:, 1:])
    table[:, 1:] += 0.0  # -0.0 would print as "-0.000000"
    flat = table.ravel().tolist()
    texts, start = [], 0
    for count in counts:
        texts.append(LINE * count % tuple(flat[start : start + 5 * count]) if count else "")
        start += 5 * count
    return texts


def format_labels(boxes: Boxes, width: int, height: int) -> str:
    """One image's label file text."""
    return label_texts(boxes.xyxy, boxes.labels, [(width, height)], [len(boxes)])[0]


def parse_names_file(text: str) -> tuple[ClassInfo, ...]:
    """obj.names / classes.txt: one name per line (blank lines skipped); ids are line positions."""
    names = [line.strip() for line in text.splitlines() if line.strip()]
    return tuple(ClassInfo(index, name) for index, name in enumerate(names))


def classes_from_yaml(data: Mapping[str, Any], *, file: object, report: Report) -> tuple[ClassInfo, ...]:
    """`names` as a list or an {index: name} map (gaps kept as ids), else `nc` generic names."""
    names, nc = data.get("names"), data.get("nc")
    if isinstance(names, list):
        pairs = list(enumerate(names))
    elif isinstance(names, dict):
        try:
            pairs = sorted((int(key), value) for key, value in names.items())
        except (TypeError, ValueError):
            raise FormatError("`names` keys must be class indices (integers)", file=file, field="names") from None
    elif names is None and isinstance(nc, int) and nc >= 0:
        pairs = [(index, f"class_{index}") for index in range(nc)]
    else:
        raise FormatError(
            "expected `names` as a list or a mapping of index to name (or `nc`)", file=file, field="names"
        )
    if isinstance(nc, int) and names is not None and nc != len(pairs):
        report.warn(
            file, "nc", f"nc is {nc} but `names` has {len(pairs)} entries; `names` is used", codes.CLASS_COUNT_MISMATCH
        )
    return tuple(ClassInfo(index, str(name)) for index, name in pairs)


def yaml_key(split: str, taken: set[str]) -> str:
    """The data.yaml key a split is written under: train, val (also for valid/validation), test, else its name
    (prefixed `split_` where the name is taken or is a data.yaml field such as `names`)."""
    key = WRITTEN_KEYS.get(split.lower(), split)
    if key in taken or key in NOT_SPLITS:
        key = split if split not in taken and split not in NOT_SPLITS else f"split_{split}"
    return key


def _yaml(mapping: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(mapping), sort_keys=False, allow_unicode=True, width=1 << 30)


def data_yaml(class_names: Sequence[str], splits: Sequence[str]) -> str:
    """The data.yaml Ultralytics loads from any working directory: no `path` key (the root is this file's folder),
    train and val always present (pointing at the first split, with a comment, when the dataset lacks them)."""
    ordered = sorted(splits, key=lambda split: WRITE_ORDER.get(split.lower(), len(WRITE_ORDER)))
    entries: dict[str, str] = {}
    for split in ordered:
        entries[yaml_key(split, set(entries))] = f"images/{split}"
    text = "# YOLO dataset written by bboxaug. No `path` key: paths are relative to this file's folder.\n"
    text += _yaml(entries) if entries else ""
    for key in ("train", "val"):
        if key not in entries and ordered:
            text += f"# no {key} split: {key} points at images/{ordered[0]} (Ultralytics requires train and val)\n"
            text += _yaml({key: f"images/{ordered[0]}"})
    return text + _yaml({"nc": len(class_names), "names": dict(enumerate(class_names))})


def parse_darknet_data(text: str) -> dict[str, str]:
    """obj.data `key = value` lines."""
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs if key.strip() and value.strip()}


def _absolute(path: Path) -> Path:
    """`path` made absolute and normalised, without following symlinks (linked images keep their own place)."""
    return Path(os.path.abspath(path))


def _resolve(entry: str, bases: Sequence[Path]) -> Path | None:
    """A path named in a yaml, obj.data or list file, found where it was meant to be: as written, below each
    base, then with leading components dropped (`../train/images`, `data/obj_train_data/1.jpg`, another
    machine's absolute path; a folder keeps two components), then with a split folder renamed (valid <-> val)."""
    path = Path(entry.strip().replace("\\", "/"))
    if path.is_absolute() and path.exists():
        return _absolute(path)
    parts = [part for part in path.parts if part != path.anchor]
    variants = [parts] + [
        [*parts[:i], alias, *parts[i + 1 :]]
        for i, part in enumerate(parts)
        for alias in SPLIT_ALIASES.get(part.lower(), ())
    ]
    keep = 1 if path.suffix else 2  # `../train/images` must not become `images`
    for variant in variants:
        for start in range(max(1, len(variant) - keep + 1)):
            tail = variant[start:]
            if start and ".." in tail:
                continue
            for base in bases:
                candidate = base.joinpath(*tail)
                if candidate.exists():
                    return _absolute(candidate)
    return None


def _label_folder(folder: Path, root: Path) -> tuple[Path, bool]:
    """Where the labels of the images in `folder` are, and whether they are oriented boxes: the last `images`
    component below `root` replaced by `labels` (Ultralytics), `Annotations` or `labelTxt` (DOTA); else
    beside the images (Darknet)."""
    parts = folder.parts
    start = len(root.parts) if folder.is_relative_to(root) else 0
    for index in range(len(parts) - 1, start - 1, -1):
        if parts[index] in IMAGE_DIRS:
            for name in LABEL_DIRS + OBB_LABEL_DIRS:
                candidate = Path(*parts[:index], name, *parts[index + 1 :])
                if candidate.is_dir():
                    return candidate, name in OBB_LABEL_DIRS
            break
    return folder, False


def _image_files(folder: Path) -> Iterator[tuple[str, str]]:
    """Every image file below `folder` (symlinked folders not entered) as its folder and its name, in the order
    of their paths' text, without making the paths: each folder's names sorted, and the folders' runs merged."""
    listed = []
    for root, _, files in os.walk(folder):
        names = sorted(name for name in files if is_image_name(name) and os.path.isfile(os.path.join(root, name)))
        listed.append(zip(itertools.repeat(root), names))
    return heapq.merge(*listed, key=lambda pair: os.path.join(*pair))


def _text(path: Path) -> str:
    """A list, obj.data or class file's text; a file that cannot be read stops the read (no item is known)."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise FormatError(f"unreadable file ({error})", file=path) from None


@dataclass
class _Split:
    """One split's images in read order, each as a folder (a code into `folders`, whose text is then held once
    rather than in every path) and a file name; and the folders they were listed from."""

    name: str
    roots: list[Path] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    codes: array[int] = field(default_factory=lambda: array("i"))
    files: list[str] = field(default_factory=list)
    _folder_codes: dict[str, int] = field(default_factory=dict)

    def add(self, folder: str, file: str) -> None:
        self.codes.append(self._folder_codes.setdefault(folder, len(self.folders)))
        if len(self._folder_codes) > len(self.folders):
            self.folders.append(folder)
        self.files.append(file)

    def __len__(self) -> int:
        return len(self.files)

    def paths(self) -> Iterator[str]:
        """Each image's path, made as it is asked for."""
        return map(os.path.join, map(self.folders.__getitem__, self.codes), self.files)


def _collect(
    name: str, sources: Sequence[Path], bases: Sequence[Path], report: Report, done: set[tuple[Path, ...]]
) -> list[_Split]:
    """A split from its folders (every image below, sorted) and list files (one image path a line); nothing when
    the same sources were already read under another key (Ultralytics lets train and val name one folder)."""
    if tuple(sources) in done or not sources:
        return []
    done.add(tuple(sources))
    split = _Split(name)
    for source in sources:
        if source.is_dir():
            split.roots.append(source)
            for folder, file in _image_files(source):
                split.add(folder, file)
            continue
        for number, entry in enumerate(_text(source).splitlines(), 1):
            if not entry.strip():
                continue
            with report.item():
                found = _resolve(entry, [source.parent, *bases])
                if found is None or not found.is_file():
                    raise ImageError(
                        f"listed image not found: {entry.strip()!r}",
                        file=source,
                        field=f"line {number}",
                        code=codes.MISSING_IMAGE,
                    )
                split.add(*os.path.split(os.fspath(found)))
    return [split]


@dataclass
class _Layout:
    """What the reader needs besides the splits: the class list and where each image folder's labels are."""

    classes: tuple[ClassInfo, ...]
    label_folder: Callable[[Path], tuple[Path, bool]]
    task: str | None = None  # data.yaml's `task`
    keypoint_values: int = 0


def _read_label(label: Path) -> str | None:
    """A label file's text, or None when the image has none (a negative)."""
    try:
        return label.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise AnnotationError(f"unreadable label file ({error})", file=label) from None


def _listed_before(splits: Sequence[_Split]) -> Iterator[bool]:
    """For every image of `splits` in order, whether its path equals an earlier one's: compared by 64-bit hash (8
    bytes an image, where a set of 200,000 paths costs about 10 MB more), and as text among the rare paths whose
    hash repeats."""

    def paths() -> Iterator[str]:
        return itertools.chain.from_iterable(split.paths() for split in splits)

    count = sum(map(len, splits))
    _, first, group = np.unique(
        np.fromiter(map(hash, paths()), np.int64, count), return_index=True, return_inverse=True
    )
    repeated = np.zeros(count, dtype=bool)
    shared = first[group] != np.arange(count)
    if shared.any():
        suspects = np.isin(group, group[shared]).tolist()
        seen: set[str] = set()
        for index, path in enumerate(paths()):
            if suspects[index]:
                repeated[index] = path in seen
                seen.add(path)
    return iter(repeated.tolist())


def _read_splits(splits: Sequence[_Split], layout: _Layout, report: Report) -> Dataset:
    """Every image of every split with its labels, each image once; label files without an image reported."""
    positions = {c.id: index for index, c in enumerate(layout.classes) if c.id is not None}
    label_folders: dict[Path, tuple[Path, bool]] = {}
    records = TableBuilder()
    repeated = _listed_before(splits)
    for split in splits:
        if not split:
            continue
        base = os.path.commonpath([*split.roots, *split.folders])
        # per folder: where its labels are, and the prefix of its images' names (none in the base folder itself,
        # so the name is the listed file name's own text, shared with the table)
        folder_labels = [
            label_folders.setdefault(Path(folder), layout.label_folder(Path(folder))) for folder in split.folders
        ]
        prefixes = [
            Path(os.path.relpath(folder, base)).as_posix() + "/" if folder != base else "" for folder in split.folders
        ]
        labelled = tried = 0
        for code, file in zip(split.codes, split.files, strict=True):
            # One string, not Path(folder, file): pathlib interns a part given alone, which would make every name
            # of the dataset an interned string and grow CPython's table of them (14.7 MB at 200,000 images).
            path = Path(os.path.join(split.folders[code], file))
            if next(repeated):
                report.count(codes.DUPLICATE_IMAGE)
                report.warn(
                    path, split.name, "image listed again; read once, in its first split", codes.DUPLICATE_IMAGE
                )
                continue
            label_dir, oriented = folder_labels[code]
            tried += 1
            with report.item():
                name = safe_relative_name(prefixes[code] + file if prefixes[code] else file, file=path, field="name")
                label = label_dir / f"{name_stem(file)}.txt"
                text = _read_label(label)
                labelled += text is not None
                header = read_header(path)
                boxes = parse_labels(
                    text or "",
                    header.width,
                    header.height,
                    positions,
                    file=label,
                    keypoint_values=layout.keypoint_values,
                )
                if layout.task == "obb" or oriented:
                    boxes = quads_to_obbs(boxes)
                report.count(codes.KEYPOINTS_DROPPED, len(boxes) if layout.keypoint_values else 0)
                records.add(ImageRecord(name, split.name, header.width, header.height, boxes, source=path))
        if tried and not labelled:
            report.warn(
                Path(base),
                split.name,
                "no label file found for any image of this split (looked in "
                f"{folder_labels[split.codes[0]][0]}): every image is read as a negative",
                codes.SPLIT_WITHOUT_LABELS,
            )
    for folder in sorted({*label_folders, *(root for split in splits for root in split.roots)}):
        _report_orphans(folder, label_folders.get(folder) or layout.label_folder(folder), report)
    dataset = Dataset(layout.classes, records.build())
    return oriented_if_all_quads(dataset) if layout.task is None else dataset


def _stem_hashes(folder: Path, keep: Callable[[str], bool]) -> np.ndarray:
    """The hashes of the stems of the files in `folder` whose names `keep` accepts, sorted: a folder may hold
    200,000 images, and 8 bytes a name is what comparing two listings then costs, where sets of names cost about
    100."""
    if not folder.is_dir():
        return np.zeros(0, dtype=np.int64)
    with os.scandir(folder) as entries:
        hashes = np.fromiter((hash(name_stem(e.name)) for e in entries if keep(e.name)), dtype=np.int64)
    hashes.sort()
    return hashes


def _report_orphans(folder: Path, label_folder: tuple[Path, bool], report: Report) -> None:
    """Warn about each label file in `folder`'s label folder whose image does not exist; they are not read.
    Stems are compared by hash (a label that shares its stem's 64-bit hash with an image's would go unreported:
    about one chance in 10^9 for two folders of 200,000 files), and names are listed only for the orphans."""
    labels = label_folder[0]

    def is_label(name: str) -> bool:
        return name.endswith(".txt") and not (labels == folder and name.lower() in NOT_LABELS)

    images = _stem_hashes(folder, is_image_name)
    label_hashes = _stem_hashes(labels, is_label)
    orphans = set(label_hashes[~np.isin(label_hashes, images)].tolist())
    if not orphans:
        return
    for name in sorted(name for name in os.listdir(labels) if is_label(name) and hash(name_stem(name)) in orphans):
        report.warn(labels / name, None, "label file without an image; not read", codes.ORPHAN_LABEL)
        report.count(codes.ORPHAN_LABEL)


def _read_ultralytics(yaml_file: Path, report: Report) -> Dataset:
    try:
        data = yaml.safe_load(_text(yaml_file))
    except yaml.YAMLError as error:
        raise FormatError(f"unreadable data.yaml ({error})", file=yaml_file) from None
    if not isinstance(data, dict):
        raise FormatError("expected a mapping with train/val/names keys", file=yaml_file)
    classes = classes_from_yaml(data, file=yaml_file, report=report)
    here = root = yaml_file.parent
    if isinstance(data.get("path"), str) and data["path"].strip():
        declared = Path(data["path"].strip())
        candidate = declared if declared.is_absolute() else here / declared
        root = _absolute(candidate) if candidate.is_dir() else here  # another machine's path: the yaml's folder
    bases = list(dict.fromkeys([root, here, here.parent]))
    splits: list[_Split] = []
    done: set[tuple[Path, ...]] = set()
    for key, value in data.items():
        entries = value if isinstance(value, list) else [value]
        if (
            not isinstance(key, str)
            or key in NOT_SPLITS
            or not entries
            or not all(isinstance(entry, str) and entry.strip() for entry in entries)
        ):
            continue
        found = [_resolve(entry, bases) for entry in entries]
        found = [p if p is not None and (p.is_dir() or p.suffix.lower() == ".txt") else None for p in found]
        if key not in SPLIT_KEYS and None in found:
            continue  # a free key whose value is no folder or list here: not a split
        for entry, path in zip(entries, found, strict=True):
            if path is None:
                report.warn(yaml_file, key, f"split folder or list {entry!r} not found; not read", codes.MISSING_SPLIT)
                report.count(codes.MISSING_SPLIT)
        splits += _collect(SPLIT_KEYS.get(key, key), [p for p in found if p is not None], bases, report, done)
    if not splits:
        raise FormatError("no train/val/test folder or list found", file=yaml_file)
    kpt = data.get("kpt_shape")
    keypoint_values = int(np.prod(kpt)) if isinstance(kpt, list) and all(isinstance(k, int) for k in kpt) else 0
    task = data.get("task") if isinstance(data.get("task"), str) else None
    layout = _Layout(classes, lambda folder: _label_folder(folder, root), task, keypoint_values)
    return _read_splits(splits, layout, report)


def _class_list(root: Path, declared: str | None = None) -> tuple[ClassInfo, ...]:
    """The classes from obj.data's `names=` file, else obj.names or classes.txt in `root`."""
    path = (_resolve(declared, [root]) if declared else None) or next(
        (root / name for name in CLASS_FILES if (root / name).is_file()), None
    )
    if path is None or not path.is_file():
        raise FormatError(f"no class list found (expected {' or '.join(CLASS_FILES)}, or a data.yaml)", file=root)
    return parse_names_file(_text(path))


def _read_darknet(root: Path, data_file: Path | None, report: Report) -> Dataset:
    """obj.data (`train=`, `valid=`, `names=`) or, without it, train.txt / obj_train_data/ beside a class list."""
    config = parse_darknet_data(_text(data_file)) if data_file else {}
    classes = _class_list(root, config.get("names"))
    splits: list[_Split] = []
    done: set[tuple[Path, ...]] = set()
    for key, split in DARKNET_SPLITS:
        if key in config:
            source = _resolve(config[key], [root])
            if source is None:
                report.warn(data_file, key, f"split list {config[key]!r} not found; not read", codes.MISSING_SPLIT)
                report.count(codes.MISSING_SPLIT)
        else:
            candidates = [
                root / f"{key}.txt",
                root / f"{split}.txt",
                root / f"obj_{key}_data",
                root / f"obj_{split}_data",
            ]
            source = next((path for path in candidates if path.exists()), None)
        splits += _collect(split, [source] if source else [], [root], report, done)
    return _read_splits(splits, _Layout(classes, lambda folder: _label_folder(folder, root)), report)


def _read_folders(root: Path, image_dir: Path | None, report: Report) -> Dataset:
    """`images/<split>/` + `labels/<split>/` (or Images/ + Annotations/) beside a class list, no yaml; with
    `image_dir`, the images are there and the labels below `root`."""
    classes = _class_list(root)
    image_root = image_dir or next((root / n for n in IMAGE_DIRS if (root / n).is_dir()), root)
    label_root, oriented = next(
        ((root / n, n in OBB_LABEL_DIRS) for n in LABEL_DIRS + OBB_LABEL_DIRS if (root / n).is_dir()),
        (root if image_dir else image_root, False),
    )

    def label_folder(folder: Path) -> tuple[Path, bool]:
        if folder.is_relative_to(image_root):
            return label_root / folder.relative_to(image_root), oriented
        return folder, False

    done: set[tuple[Path, ...]] = set()
    splits = [s for name, folder in split_folders(image_root) for s in _collect(name, [folder], [root], report, done)]
    return _read_splits(splits, _Layout(classes, label_folder), report)


def _looks_like_data_yaml(path: Path) -> bool:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and ("names" in data or "nc" in data) and ("train" in data or "val" in data)


def _find_yaml(folder: Path) -> Path | None:
    named = [folder / name for name in ("data.yaml", "data.yml")]
    others = sorted(p for p in [*folder.glob("*.yaml"), *folder.glob("*.yml")] if p not in named)
    return next((path for path in named + others if path.is_file() and _looks_like_data_yaml(path)), None)


def read(src: Path, *, report: Report, image_dir: Path | None = None, jobs: int = 1) -> Dataset:
    """Read a data.yaml (or a folder holding one), an obj.data layout, or images/ + labels/ beside a class list
    (in this process: `jobs` is unused)."""
    src = _absolute(Path(src))
    if src.is_file():
        if src.suffix.lower() in (".yaml", ".yml"):
            layout, yaml_file, data_file, root = "yaml", src, None, src.parent
        elif src.suffix.lower() == ".data":
            layout, yaml_file, data_file, root = "darknet", None, src, src.parent
        else:
            raise FormatError("expected a data.yaml, an obj.data or a dataset folder", file=src)
    elif src.is_dir():
        root, yaml_file = src, _find_yaml(src)
        data_file = src / "obj.data" if (src / "obj.data").is_file() else None
        darknet = data_file or any((src / f"obj_{k}_data").is_dir() for k, _ in DARKNET_SPLITS)
        layout = "yaml" if yaml_file else "darknet" if darknet else "folders"
    else:
        raise FormatError("no such file or folder", file=src)
    if image_dir is not None and layout != "folders":
        raise UsageError(
            "image_dir applies to images/ + labels/ folders only: the "
            f"{'data.yaml' if layout == 'yaml' else 'obj.data'} already says where the images are"
        )
    if yaml_file is not None:  # the layout is "yaml"
        return _read_ultralytics(yaml_file, report)
    if layout == "darknet":
        return _read_darknet(root, data_file, report)
    return _read_folders(root, None if image_dir is None else _absolute(image_dir), report)


def _has_yolo_labels(folder: Path) -> bool:
    """A few .txt files below `folder` that are empty or start with a numeric line."""
    for count, path in enumerate(folder.rglob("*.txt")):
        if count == 20:
            break
        try:
            first = next(
                (line.split() for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()), None
            )
        except (OSError, UnicodeDecodeError):
            continue
        if first is None or (len(first) >= 5 and all(finite_number(token) is not None for token in first[:5])):
            return True
    return False


def detect(path: Path) -> bool:
    """A data.yaml (file or in the folder), obj.data / obj.names, or images/ + labels/ holding YOLO .txt files."""
    if path.is_file():
        if path.suffix.lower() == ".data" and path.stat().st_size < 1 << 16:
            return "names" in parse_darknet_data(path.read_text(errors="replace"))
        return path.suffix.lower() in (".yaml", ".yml") and _looks_like_data_yaml(path)
    if not path.is_dir():
        return False
    if _find_yaml(path) or (path / "obj.data").is_file() or (path / "obj.names").is_file():
        return True
    has_images = any((path / name).is_dir() for name in IMAGE_DIRS)
    return has_images and any((path / name).is_dir() and _has_yolo_labels(path / name) for name in LABEL_DIRS)


#: Makes the label lines of a batch of images: their boxes (every column), their sizes ((N, 2) width, height) and
#: how many of the boxes each has, in order; gives each image's text and what it counted on the way.
LineWriter = Callable[[Boxes, np.ndarray, Sequence[int]], tuple[list[str], Counter[str]]]


def box_lines(boxes: Boxes, sizes: np.ndarray, counts: Sequence[int]) -> tuple[list[str], Counter[str]]:
    """Detection lines `idx cx cy w h` (`label_texts`)."""
    texts = label_texts(boxes.xyxy, boxes.labels, sizes, counts)
    return texts, Counter({codes.member(codes.YOLO_LINES, "detect").name: len(boxes)})


def oriented_box_lines(boxes: Boxes, sizes: np.ndarray, counts: Sequence[int]) -> tuple[list[str], Counter[str]]:
    """Oriented-box lines `idx x1 y1 ... x4 y4` (`yolo_obb.label_texts`; a box without one: its upright corners)."""
    texts = obb_label_texts(boxes.column("obb"), boxes.xyxy, boxes.labels, sizes, counts)
    return texts, Counter({codes.member(codes.YOLO_LINES, "obb").name: len(boxes)})


#: The label lines each task writes (`write(..., task=)`, `--task`).
TASK_LINES: Mapping[str, LineWriter] = MappingProxyType(
    {"detect": box_lines, "segment": polygon_lines, "obb": oriented_box_lines}
)


def chosen_task(dataset: Dataset) -> str:
    """The task written when none is asked for: "obb" when the dataset has boxes and every one has an oriented box,
    else "segment" when every one has a polygon or an RLE mask, else "detect". Reads the columns a batch of images
    at a time and stops as soon as neither can hold."""
    found, oriented, shaped = False, True, True
    for start in range(0, len(dataset.images), WRITE_BATCH):
        boxes = as_table(dataset.images[start : start + WRITE_BATCH]).boxes
        if not len(boxes):
            continue
        found = True
        quads, shapes = boxes.columns.get("obb"), boxes.columns.get("segmentation")
        oriented = oriented and quads is not None and all(quad is not None for quad in quads.tolist())
        shaped = shaped and shapes is not None and all(map(has_shape, shapes.tolist()))
        if not (oriented or shaped):
            return "detect"
    if not found:
        return "detect"
    return "obb" if oriented else "segment" if shaped else "detect"


@dataclass(frozen=True)
class _LabelFiles:
    """The label files of a run of images: where each goes and what the text is made from."""

    paths: list[str]
    boxes: Boxes
    sizes: np.ndarray
    counts: list[int]
    task: str


def _write_label_files(files: _LabelFiles) -> Counter[str]:
    texts, counted = TASK_LINES[files.task](files.boxes, files.sizes, files.counts)
    for path, text in zip(files.paths, texts, strict=True):
        write_file(path, text.encode("utf-8"))
    return counted


def write(dataset: Dataset, dst: Path, *, report: Report, jobs: int = 1, task: str | None = None) -> None:
    """data.yaml plus `labels/<split>/<stem>.txt` for every image (empty for a negative), with the lines of `task`
    (a key of `TASK_LINES`; None: `chosen_task`). Class indices are positions in the class list; images are
    placed by the caller at `images/<split>/<name>`. The images are taken a batch at a time (a dataset whose
    records are stored elsewhere, such as written copies, is never made into one table), and the batches
    formatted and written on `jobs` worker processes when there are enough images to pay for starting them.
    What the lines counted goes into `report`; boxes written as their corners in segment lines are warned about."""
    task = task or chosen_task(dataset)
    if task not in TASK_LINES:
        raise UsageError(f"unknown YOLO task {task!r}; known: {', '.join(TASK_LINES)}")
    for split in dataset.splits:
        safe_relative_name(split, file=dst, field="split")
    atomic_write_text(Path(dst) / "data.yaml", data_yaml(dataset.class_names, dataset.splits))
    labels_root = os.path.join(os.fspath(dst), "labels")
    folders: set[str] = set()

    def label_files(start: int) -> _LabelFiles:
        batch = as_table(dataset.images[start : start + WRITE_BATCH])
        paths = [
            f"{labels_root}/{split}/{name_stem(name)}.txt"
            for split, name in zip(batch.image_splits(), batch.names.tolist(), strict=True)
        ]
        for folder in dict.fromkeys(path[: path.rfind("/")] for path in paths).keys() - folders:
            os.makedirs(folder, exist_ok=True)
            folders.add(folder)
        return _LabelFiles(paths, batch.boxes, batch.sizes(), batch.box_counts().tolist(), task)

    count = len(dataset.images)
    runs = map(label_files, range(0, count, WRITE_BATCH))
    parallel = jobs if count >= MIN_IMAGES_FOR_WORKERS else 1
    counted: Counter[str] = Counter()
    for batch_counts in iter_parallel(
        _write_label_files, runs, jobs=parallel, prefer="processes", writes_into=Path(dst), items_are_batches=True
    ):
        counted.update(batch_counts)
    for name, value in sorted(counted.items()):
        if value:
            report.count(name, value)
    without = counted[codes.BOXES_WITHOUT_POLYGON.name]
    if without:
        report.warn(
            "labels",
            "task segment",
            f"{without} of {counted[codes.member(codes.YOLO_LINES, task).name]} boxes have no polygon or mask with "
            "an area in their image: written as their box's 4 corners",
            codes.BOXES_WITHOUT_POLYGON,
        )


def _task_writer(task: str) -> Writer:
    """`write` with its task fixed: the writer `Format.for_task` hands out."""

    def write_task(dataset: Dataset, dst: Path, *, report: Report, jobs: int = 1) -> None:
        write(dataset, dst, report=report, jobs=jobs, task=task)

    return write_task


def tolerance(image: ImageRecord) -> float:
    """Pixels a coordinate may move in one write and read: x1 = (cx - w/2) * W with cx and w each rounded to
    6 decimals moves by up to (0.5 + 0.25) * 1e-6 * W."""
    return 0.75e-6 * max(image.width or 0, image.height or 0) + 1e-9


FORMAT = Format(
    name="yolo",
    description="YOLO txt labels (detect or OBB): Ultralytics data.yaml + images/ + labels/, or Darknet obj.data",
    read=read,
    write=write,
    detect=detect,
    image_path=lambda split, name: f"images/{split}/{name}",
    annotation_key=stem_in_split,
    tolerance=tolerance,
    keeps_crowd=False,
    class_ids=lambda classes: list(range(len(classes))),
    tasks={task: _task_writer(task) for task in TASK_LINES},
    choose_task=chosen_task,
    oriented_task="obb",
)
