"""The one annotation model every format reads into and writes from.

A `Dataset` is an ordered class list plus one `ImageRecord` per image. Each record holds its boxes as a columnar
`Boxes` table: `xyxy` (float64, absolute pixels, origin at the top-left corner of the top-left pixel, so a box
covering pixel columns 0..W-1 is `[0, W]`), `labels` (positions in the class list) and optional per-box columns.
Filtering goes through `Boxes.take`, so a box never loses its label or attributes. Arrays are read-only and every
"change" returns a new object: readers, transforms and writers cannot corrupt each other's input.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.dtypes import StringDType
from numpy.typing import ArrayLike

from bboxaug.core import codes
from bboxaug.core.errors import ImageError

#: Per-box columns with a meaning every format agrees on, and the value a box has when its source lacks it.
#: `segmentation` is COCO's shape: a list of flat polygons `[[x0, y0, x1, y1, ...], ...]` in absolute pixels, or
#: an RLE dict `{"size": [h, w], "counts": ...}`. `attributes` holds free per-box data (VOC `pose`, Labelme
#: `group_id`, unknown COCO keys); `shape` holds the source's own shape (Labelme's `shape_type` and points) so a
#: writer of the same format can give it back unchanged. `obb` is an oriented box: 8 floats, its 4 corners
#: clockwise on the image (the convention is `bboxaug.core.oriented`); `xyxy` is then its envelope.
COLUMN_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "iscrowd": False,
        "difficult": False,
        "truncated": False,
        "occluded": False,
        "area": float("nan"),
        "segmentation": None,
        "source_id": None,
        "attributes": None,
        "shape": None,
        "obb": None,
    }
)


_COLUMN_DTYPES: Mapping[str, Any] = MappingProxyType(
    {"iscrowd": bool, "difficult": bool, "truncated": bool, "occluded": bool, "area": np.float64}
)


def name_stem(name: str) -> str:
    """An image name without its extension, subfolders kept (`sub/a.jpg` -> `sub/a`; `.hidden` stays): what
    per-image annotation files are named after."""
    dot = name.rfind(".")
    return name[:dot] if dot > name.rfind("/") + 1 else name


def image_key(split: str, name: str) -> str:
    """The key of the image `name` in `split`: `split/name` (the one place that spells it)."""
    return f"{split}/{name}"


def object_column(values: Iterable[Any]) -> np.ndarray:
    """A 1-D object array of `values`, even when they are equal-length lists (which numpy would stack)."""
    items = list(values)
    column = np.empty(len(items), dtype=object)
    column[:] = items
    return column


def joined_objects(columns: Sequence[np.ndarray | None], lengths: Sequence[int]) -> np.ndarray | None:
    """Optional object columns of `lengths` rows each end to end, None in the rows of an absent one; None when
    every one is absent."""
    if all(column is None for column in columns):
        return None
    return np.concatenate(
        [object_column([None] * n) if column is None else column for column, n in zip(columns, lengths, strict=True)]
    )


def text_column(values: Iterable[str]) -> np.ndarray:
    """A 1-D column of strings in numpy's variable-width UTF-8 type (`StringDType`), as image names are held: 16
    bytes a row, with a string of up to 15 bytes inside them and a longer one in the array's own buffer, where a
    Python string and its pointer cost about 68 bytes (13.6 MB for the names of 200,000 images, against 3.2).
    Indexing and `tolist` give `str`s back."""
    return np.array(list(values), dtype=StringDType())


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _as_column(name: str, values: Any, rows: int) -> np.ndarray:
    if name not in COLUMN_DEFAULTS:
        raise ValueError(f"unknown box column {name!r}; known: {', '.join(COLUMN_DEFAULTS)}")
    dtype = _COLUMN_DTYPES.get(name)
    if dtype is None and isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        column = values.astype(np.int64)  # ids that are all integers stay one compact array
    else:
        column = np.array(values, dtype=dtype) if dtype else object_column(values)
    if column.shape != (rows,):
        raise ValueError(f"box column {name!r} has shape {column.shape}, expected ({rows},)")
    return _read_only(column)


@dataclass(frozen=True, eq=False, init=False)
class Boxes:
    """One image's boxes as a table: `xyxy` (N, 4) float64, `labels` (N,) int64, and optional named columns."""

    xyxy: np.ndarray
    labels: np.ndarray
    columns: Mapping[str, np.ndarray]

    def __init__(self, xyxy: ArrayLike, labels: ArrayLike, columns: Mapping[str, Any] | None = None) -> None:
        """Read-only copies of the coordinates, labels and columns (any array-likes), checked to have one row per
        box."""
        xyxy = np.array(xyxy, dtype=np.float64).reshape(-1, 4)
        labels = np.array(labels, dtype=np.int64).reshape(-1)
        if len(labels) != len(xyxy):
            raise ValueError(f"{len(xyxy)} boxes but {len(labels)} labels")
        columns = {name: _as_column(name, values, len(xyxy)) for name, values in (columns or {}).items()}
        object.__setattr__(self, "xyxy", _read_only(xyxy))
        object.__setattr__(self, "labels", _read_only(labels))
        object.__setattr__(self, "columns", MappingProxyType(columns))

    def __reduce__(self) -> tuple[type[Boxes], tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]]:
        """Pickle as the constructor's arguments (worker processes send boxes back this way)."""
        return Boxes, (self.xyxy, self.labels, dict(self.columns))

    @classmethod
    def empty(cls) -> Boxes:
        return cls(np.zeros((0, 4)), np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.labels)

    def column(self, name: str) -> np.ndarray:
        """The named column, or a column of its default value when the source had none."""
        if name in self.columns:
            return self.columns[name]
        default = COLUMN_DEFAULTS[name]
        if name in _COLUMN_DTYPES:
            return _read_only(np.full(len(self), default, dtype=_COLUMN_DTYPES[name]))
        return _read_only(object_column([default] * len(self)))

    @classmethod
    def wrap(cls, xyxy: np.ndarray, labels: np.ndarray, columns: Mapping[str, np.ndarray]) -> Boxes:
        """A table of these arrays as they are, made read-only, not copied: for arrays of the right dtypes made
        for this table or already owned by tables (a column that did not change is shared, not copied again,
        which for a dataset's whole box table is most of its memory). Shapes are checked, values are not."""
        if xyxy.dtype != np.float64 or xyxy.shape != (len(labels), 4) or labels.dtype != np.int64:
            raise ValueError(f"expected (N, 4) float64 corners and N int64 labels, got {xyxy.shape} and {labels.shape}")
        for name, column in columns.items():
            if name not in COLUMN_DEFAULTS or column.shape != (len(labels),):
                raise ValueError(f"box column {name!r} of shape {column.shape} in a table of {len(labels)} boxes")
        return cls._derived(xyxy, labels, columns)

    @classmethod
    def _derived(cls, xyxy: np.ndarray, labels: np.ndarray, columns: Mapping[str, np.ndarray]) -> Boxes:
        """`wrap` without its checks, for the rows of a table that was checked (every image's view is one)."""
        boxes = object.__new__(Boxes)
        for array in (xyxy, labels, *columns.values()):
            array.setflags(write=False)
        boxes.__dict__.update(xyxy=xyxy, labels=labels, columns=MappingProxyType(dict(columns)))
        return boxes

    def rows(self, start: int, stop: int, columns: Iterable[str] | None = None) -> Boxes:
        """Rows `start:stop` as read-only views of this table, with all its columns or only those named, neither
        copied nor checked again (they were checked when this table was made). A reader builds one table per
        file and slices each image's boxes from it, because checking a table per image is a large share of the
        time of reading a big file."""
        names = self.columns if columns is None else columns
        return Boxes._derived(
            self.xyxy[start:stop], self.labels[start:stop], {name: self.columns[name][start:stop] for name in names}
        )

    def take(self, rows: Sequence[int] | np.ndarray) -> Boxes:
        """The boxes at `rows` (indices or a boolean mask), every column kept in step."""
        rows = np.asarray(rows)
        return Boxes._derived(self.xyxy[rows], self.labels[rows], {k: v[rows] for k, v in self.columns.items()})

    def with_xyxy(self, xyxy: ArrayLike) -> Boxes:
        """The same boxes with new coordinates (same rows, same order); the other columns are shared."""
        return Boxes.wrap(_same_rows(np.array(xyxy, dtype=np.float64).reshape(-1, 4), self), self.labels, self.columns)

    def with_columns(self, **columns: Any) -> Boxes:
        """The same boxes with some columns added or replaced; the others are shared."""
        added = {name: _as_column(name, values, len(self)) for name, values in columns.items()}
        return Boxes.wrap(self.xyxy, self.labels, {**self.columns, **added})

    def with_labels(self, labels: ArrayLike) -> Boxes:
        """The same boxes with new labels; the other columns are shared."""
        return Boxes.wrap(self.xyxy, _same_rows(np.array(labels, dtype=np.int64).reshape(-1), self), self.columns)


def _same_rows(array: np.ndarray, boxes: Boxes) -> np.ndarray:
    if len(array) != len(boxes):
        raise ValueError(f"{len(array)} rows for a table of {len(boxes)} boxes")
    return array


@dataclass(frozen=True)
class ClassInfo:
    """A class: its id in the source (COCO category id, YOLO index; None where the format has no ids), its name,
    and any extra keys the source gave it (COCO `supercategory`)."""

    id: int | None
    name: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EmbeddedImage:
    """Pixels stored inside an annotation file (Labelme's base64 `imageData`) rather than beside it."""

    annotation: Path
    key: str = "imageData"


@dataclass(frozen=True)
class ImageRecord:
    """One image and its boxes.

    `name` is the image's path relative to its split's image folder, with `/` separators (subfolders kept);
    `source` says where the pixels are now. `width` and `height` are the EXIF-oriented size in pixels, or None
    until a header has been read. `attributes` keeps the source's extra per-image keys for a same-format writer.
    """

    name: str
    split: str
    width: int | None
    height: int | None
    boxes: Boxes = field(default_factory=Boxes.empty)
    source: Path | EmbeddedImage | None = None
    source_id: int | str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """`split/name`: what names the image in reports, manifests and seeds, unique in a dataset."""
        return image_key(self.split, self.name)

    @property
    def stem(self) -> str:
        """The name without its extension (subfolders kept): what annotation files are named after."""
        return name_stem(self.name)

    @property
    def has_size(self) -> bool:
        return self.width is not None and self.height is not None

    def known_size(self) -> tuple[int, int]:
        """`(width, height)`, for code that runs once the sizes are filled (`io.headers.image_size` reads a
        missing one); ImageError if this one is still unknown."""
        if self.width is None or self.height is None:
            raise ImageError(
                "image size unknown: not filled from the annotation or the image header",
                file=self.key,
                field="size",
                code=codes.UNKNOWN_SIZE,
            )
        return self.width, self.height

    def known_source(self) -> Path | EmbeddedImage:
        """Where the pixels are, for code that reads them; ImageError when no image was found for this record."""
        if self.source is None:
            raise ImageError("no image file found for this annotation", file=self.key, code=codes.MISSING_IMAGE)
        return self.source

    def replace(self, **changes: Any) -> ImageRecord:
        return dataclasses.replace(self, **changes)


class StoredImages(Sequence[ImageRecord]):
    """A read-only sequence of records kept elsewhere (as columns, or on disk) and built when asked for, so that
    a dataset larger than memory allows as records can be read, counted and written by streaming it. Knows each
    record's split without building it; a subclass that can count faster overrides the counting methods."""

    @abstractmethod
    def split_of(self, index: int) -> str:
        """The split of the record at `index`."""

    @abstractmethod
    def subset(self, indices: Sequence[int]) -> StoredImages:
        """The records at `indices`, still stored."""

    @abstractmethod
    def extended(self, records: Sequence[ImageRecord]) -> StoredImages:
        """These records, still stored, followed by `records` (held in memory)."""

    def splits(self) -> list[str]:
        """Split names in order of first appearance."""
        return list(dict.fromkeys(map(self.split_of, range(len(self)))))

    def box_counts(self) -> np.ndarray:
        """How many boxes each record has."""
        return np.fromiter((len(image.boxes) for image in self), np.int64, len(self))

    def split_positions(self) -> tuple[list[str], np.ndarray]:
        """The split names in order of first appearance, and each record's position among them."""
        names = list(map(self.split_of, range(len(self))))
        order = {name: k for k, name in enumerate(dict.fromkeys(names))}
        return list(order), np.fromiter(map(order.__getitem__, names), np.int64, len(names))

    def in_split(self, split: str) -> StoredImages:
        """The split's records in order, still stored."""
        return self.subset([i for i in range(len(self)) if self.split_of(i) == split])


@dataclass(frozen=True)
class Dataset:
    """An ordered class list and the images, each in a split.

    `images` is a sequence that may be lazy: a tuple of records, or `StoredImages` whose records are built from
    disk when asked for (the copies an augmentation run wrote), so that a dataset larger than memory can be
    written by streaming it. Code that goes through it once (writers, counts) never turns it into a list.
    `meta` keeps format-level extras keyed by format name (COCO `info`, `licenses` and unknown top-level keys per
    split), so a writer of the same format can give them back.
    """

    classes: tuple[ClassInfo, ...]
    images: Sequence[ImageRecord]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(self.classes))
        if not isinstance(self.images, StoredImages):
            object.__setattr__(self, "images", tuple(self.images))

    @property
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    @property
    def splits(self) -> list[str]:
        """Split names in order of first appearance."""
        if isinstance(self.images, StoredImages):
            return self.images.splits()
        return list(dict.fromkeys(image.split for image in self.images))

    def split_positions(self) -> tuple[list[str], np.ndarray]:
        """The split names in order of first appearance, and each image's position among them."""
        if isinstance(self.images, StoredImages):
            return self.images.split_positions()
        order = {name: k for k, name in enumerate(dict.fromkeys(image.split for image in self.images))}
        return list(order), np.fromiter((order[image.split] for image in self.images), np.int64, len(self.images))

    def box_counts(self) -> np.ndarray:
        """How many boxes each image has, in order."""
        if isinstance(self.images, StoredImages):
            return self.images.box_counts()
        return np.fromiter((len(image.boxes) for image in self.images), np.int64, len(self.images))

    @property
    def box_count(self) -> int:
        return int(self.box_counts().sum())

    @property
    def negative_count(self) -> int:
        return int(np.count_nonzero(self.box_counts() == 0))

    def in_split(self, split: str) -> Sequence[ImageRecord]:
        """The split's records in order (still stored, when the dataset's are)."""
        if isinstance(self.images, StoredImages):
            return self.images.in_split(split)
        return [image for image in self.images if image.split == split]

    def replace(self, **changes: Any) -> Dataset:
        return dataclasses.replace(self, **changes)

    def appended(self, records: Sequence[ImageRecord]) -> Dataset:
        """The dataset with `records` after its images; stored images stay stored (nothing is materialised)."""
        images = self.images
        more = images.extended(records) if isinstance(images, StoredImages) else (*images, *records)
        return self.replace(images=more)
