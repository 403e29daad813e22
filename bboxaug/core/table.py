"""A whole dataset's images as columns: one table of images and one table of boxes.

A reader of a large dataset fills an `ImageTable` instead of building one `ImageRecord` per image: names, splits
and sizes are arrays with one row per image, and every box of the dataset is one `Boxes` table ordered by image,
with `offsets[i]:offsets[i + 1]` the rows of image `i`. Two million images with twenty million boxes then cost
their arrays (about 70 bytes per box) rather than a few kilobytes of Python objects per image. The table is a
read-only `Sequence[ImageRecord]`: indexing it builds a record whose `boxes` is a view of the image's rows, so code
that works image by image is unchanged, while whole-dataset code (writers, counts, checks) reads the columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np
from numpy.dtypes import StringDType

from bboxaug.core.model import (
    COLUMN_DEFAULTS,
    Boxes,
    EmbeddedImage,
    ImageRecord,
    StoredImages,
    image_key,
    joined_objects,
    object_column,
    text_column,
)
from bboxaug.core.sources import SourceColumn

#: Width or height of an image whose size is not known yet.
UNKNOWN = -1

#: The bit of each box column in `ImageTable.box_columns`.
_COLUMN_BITS = {name: bit for bit, name in enumerate(COLUMN_DEFAULTS)}


def concat_boxes(tables: Sequence[Boxes]) -> Boxes:
    """The tables end to end; a column that only some tables have is filled with its default in the others."""
    if len(tables) == 1:
        return tables[0]
    return _joined_boxes(_box_arrays(tables))


def _box_arrays(tables: Sequence[Boxes]) -> dict[str, list[np.ndarray]]:
    """Each box array of `tables` (`xyxy`, `labels`, then the columns), listed table by table, ready to join."""
    names = dict.fromkeys(name for table in tables for name in table.columns)
    arrays = {"xyxy": [table.xyxy for table in tables], "labels": [table.labels for table in tables]}
    arrays.update({name: [table.column(name) for table in tables] for name in names})
    return arrays


def _joined_boxes(arrays: dict[str, list[np.ndarray]]) -> Boxes:
    """One table of the listed arrays (`_box_arrays`), joined one name at a time and each list emptied once
    joined, so that where nothing else holds the pieces, joining costs one joined array more than the pieces,
    not twice them."""
    xyxy = _concatenated(arrays["xyxy"], np.float64).reshape(-1, 4)
    labels = _concatenated(arrays["labels"], np.int64)
    columns = {name: _concatenated(pieces, object) for name, pieces in arrays.items() if name not in ("xyxy", "labels")}
    return Boxes.wrap(xyxy, labels, columns)


def _concatenated(pieces: list[np.ndarray], dtype: Any) -> np.ndarray:
    """The pieces end to end (no pieces: an empty array of `dtype`); the list is emptied, so they can be freed
    before the next array is joined."""
    if not pieces:
        return np.zeros(0, dtype=dtype)
    joined = np.concatenate(pieces)
    pieces.clear()
    return joined


def in_appearance_order(codes: np.ndarray) -> np.ndarray:
    """The distinct values of `codes` (a few small non-negative integers, such as split codes) in the order they
    first appear, found without sorting a copy of `codes` (3.2 MB for 400,000 rows)."""
    present = np.flatnonzero(np.bincount(codes)) if len(codes) else np.zeros(0, dtype=np.int64)
    first = [int(np.argmax(codes == code)) for code in present.tolist()]
    return present[np.argsort(first)]


def positions_in_appearance_order(codes: np.ndarray, names: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The `names` that `codes` index, in order of first appearance, and each code's position among them."""
    present = in_appearance_order(codes)
    remap = np.zeros(max(len(names), 1), dtype=np.int32)
    remap[present] = np.arange(len(present))
    return [names[code] for code in present.tolist()], remap[codes]


def offsets_of(counts: np.ndarray) -> np.ndarray:
    """The offsets (`0, c0, c0 + c1, ...`, one more than `counts`) of runs of `counts` rows laid end to end."""
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The row numbers `starts[k] .. starts[k] + counts[k] - 1` for every k, in order, as one array."""
    total = int(counts.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(starts - offsets_of(counts)[:-1], counts)
    return shift + np.arange(total, dtype=np.int64)


def _optional(column: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if column is None else column[rows]


@dataclass(frozen=True, eq=False)
class ImageTable(StoredImages):
    """Images as columns (one row each) and their boxes as one table ordered by image.

    `widths`/`heights` hold `UNKNOWN` where the size is not known; `sources` (image files, a folder code and
    the image's name each: `core.sources`), `source_ids` and `attributes` are None when no image has one (the
    common case costs nothing). `box_columns` says, where images differ, which of the box table's columns each
    image's boxes carry (a bit per name of `COLUMN_DEFAULTS`): a VOC file without `<occluded>` gives its boxes no
    `occluded` column, and its writer writes none back. Every array is read-only."""

    names: np.ndarray
    split_codes: np.ndarray
    split_names: tuple[str, ...]
    widths: np.ndarray
    heights: np.ndarray
    boxes: Boxes
    offsets: np.ndarray
    sources: SourceColumn | None = None
    source_ids: np.ndarray | None = None
    attributes: np.ndarray | None = None
    box_columns: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.names.dtype, StringDType):
            raise TypeError(f"image names must be a text column (core.model.text_column), not {self.names.dtype}")
        rows = len(self.names)
        for name in ("names", "split_codes", "widths", "heights", "sources", "source_ids", "attributes", "box_columns"):
            column = getattr(self, name)
            if column is not None and column.shape != (rows,):
                raise ValueError(f"image column {name!r} has shape {column.shape}, expected ({rows},)")
            if isinstance(column, np.ndarray):
                column.setflags(write=False)
        if self.offsets.shape != (rows + 1,) or self.offsets[-1] != len(self.boxes):
            raise ValueError(f"{rows} images need {rows + 1} offsets ending at {len(self.boxes)} boxes")
        self.offsets.setflags(write=False)

    @classmethod
    def from_records(cls, records: Iterable[ImageRecord]) -> ImageTable:
        builder = TableBuilder()
        for record in records:
            builder.add(record)
        return builder.build()

    def __len__(self) -> int:
        return len(self.names)

    def record(self, index: int) -> ImageRecord:
        """The image at `index` as a record whose boxes are a view of its rows."""
        width, height = int(self.widths[index]), int(self.heights[index])
        return ImageRecord(
            name=self.names[index],
            split=self.split_names[self.split_codes[index]],
            width=None if width == UNKNOWN else width,
            height=None if height == UNKNOWN else height,
            boxes=self.boxes.rows(int(self.offsets[index]), int(self.offsets[index + 1]), self._box_columns(index)),
            source=self.source_of(index),
            source_id=None if self.source_ids is None else self.source_ids[index],
            attributes=self._attributes(index),
        )

    def source_of(self, index: int) -> Path | EmbeddedImage | None:
        """Image `index`'s file (or the annotation its pixels are embedded in), without building its record."""
        return None if self.sources is None else _source(self.sources[index])

    def source_files(self) -> list[Path | None]:
        """Each image's file; None where it has none (no source known, or pixels embedded in its annotation)."""
        if self.sources is None:
            return [None] * len(self)
        return [Path(value) if isinstance(value, str) else None for value in self.sources.tolist()]

    def has_sources(self) -> np.ndarray:
        """Where an image has a source (a file, or pixels embedded in its annotation)."""
        return np.zeros(len(self), dtype=bool) if self.sources is None else self.sources.present()

    def _box_columns(self, index: int) -> list[str] | None:
        if self.box_columns is None:
            return None
        bits = int(self.box_columns[index])
        return [name for name in self.boxes.columns if bits >> _COLUMN_BITS[name] & 1]

    def _attributes(self, index: int) -> Mapping[str, Any]:
        extras = None if self.attributes is None else self.attributes[index]
        return {} if extras is None else extras

    @overload
    def __getitem__(self, index: int) -> ImageRecord: ...

    @overload
    def __getitem__(self, index: slice) -> ImageTable: ...

    def __getitem__(self, index: int | slice) -> ImageRecord | ImageTable:
        if isinstance(index, slice):
            return self.subset(np.arange(len(self))[index])
        if not -len(self) <= index < len(self):
            raise IndexError(f"image {index} of {len(self)}")
        return self.record(index % len(self))

    def __iter__(self) -> Iterator[ImageRecord]:
        return map(self.record, range(len(self)))

    def __eq__(self, other: object) -> bool:
        """Equal to a sequence of equal records (a tuple or list, or another table), as a tuple of records is."""
        if not isinstance(other, (tuple, list, ImageTable)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def split_of(self, index: int) -> str:
        return self.split_names[self.split_codes[index]]

    def image_splits(self) -> list[str]:
        """Each image's split name, in order."""
        return [self.split_names[code] for code in self.split_codes.tolist()]

    def split_name_pairs(self, rows: np.ndarray | None = None, chunk: int = 4096) -> Iterator[tuple[str, str]]:
        """(split, name) of the images of `rows` (every image when None), in order, made a chunk at a time: the
        names as a list would be a Python string each (12 MB at 200,000 images) on top of their column."""
        rows = np.arange(len(self)) if rows is None else rows
        for start in range(0, len(rows), chunk):
            taken = rows[start : start + chunk]
            splits = [self.split_names[code] for code in self.split_codes[taken].tolist()]
            yield from zip(splits, self.names[taken].tolist(), strict=True)

    def key_of(self, index: int) -> str:
        """The key (`split/name`) of the image at `index`, without building its record."""
        return image_key(self.split_of(index), self.names[index])

    def splits(self) -> list[str]:
        return [self.split_names[code] for code in in_appearance_order(self.split_codes).tolist()]

    def box_counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def split_positions(self) -> tuple[list[str], np.ndarray]:
        return positions_in_appearance_order(self.split_codes, self.split_names)

    def box_owners(self) -> np.ndarray:
        """The image (row) each box belongs to."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.box_counts())

    def sizes(self) -> np.ndarray:
        """(N, 2) float64 `[width, height]` per image, NaN where unknown."""
        sizes = np.stack([self.widths, self.heights], axis=1).astype(np.float64)
        sizes[sizes == UNKNOWN] = np.nan
        return sizes

    def in_split(self, split: str) -> ImageTable:
        """The images of one split, in order."""
        if split not in self.split_names:
            return self.subset(np.zeros(0, dtype=np.int64))
        return self.subset(np.flatnonzero(self.split_codes == self.split_names.index(split)))

    def subset(self, indices: Sequence[int] | np.ndarray) -> ImageTable:
        rows = np.asarray(indices, dtype=np.int64).reshape(-1)
        counts = self.box_counts()[rows]
        box_rows = ranges(self.offsets[rows], counts)
        return ImageTable(
            names=self.names[rows],
            split_codes=self.split_codes[rows],
            split_names=self.split_names,
            widths=self.widths[rows],
            heights=self.heights[rows],
            boxes=self.boxes.take(box_rows),
            offsets=offsets_of(counts),
            sources=None if self.sources is None else self.sources.take(rows),
            source_ids=_optional(self.source_ids, rows),
            attributes=_optional(self.attributes, rows),
            box_columns=_optional(self.box_columns, rows),
        )

    def extended(self, records: Sequence[ImageRecord]) -> ImageTable:
        builder = TableBuilder(self.split_names)
        builder.add_table(self)
        for record in records:
            builder.add(record)
        return builder.build()

    def with_boxes(self, boxes: Boxes, owners: np.ndarray) -> ImageTable:
        """The same images with a new box table; `owners` gives each box's image and is non-decreasing."""
        counts = np.bincount(owners, minlength=len(self)) if len(owners) else np.zeros(len(self), dtype=np.int64)
        return self.with_columns(boxes=boxes, offsets=offsets_of(counts))

    def with_columns(self, **columns: Any) -> ImageTable:
        """The same table with some columns replaced (each still one row per image)."""
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return ImageTable(**{**fields, **columns})


def as_table(images: Sequence[ImageRecord]) -> ImageTable:
    """`images` as a table (itself when it is one)."""
    return images if isinstance(images, ImageTable) else ImageTable.from_records(images)


def _size_column(values: list[int | None]) -> np.ndarray:
    return np.array([UNKNOWN if value is None else value for value in values], dtype=np.int64)


def _sparse_column(values: list[Any]) -> np.ndarray | None:
    """An object column, or None when every value is None."""
    return object_column(values) if any(value is not None for value in values) else None


def path_column(sources: Sequence[Path | EmbeddedImage | None], names: Sequence[str]) -> SourceColumn | None:
    """The `sources` column of images named `names` (None when no image has a source): a `Path` costs about five
    times the memory of its text and a table holds one per image, so files are held as a folder code and the
    image's name where they can be, and handed out as `Path`s again by `ImageTable.record`."""
    return SourceColumn.of(sources, names) if any(source is not None for source in sources) else None


def _source(value: str | EmbeddedImage | None) -> Path | EmbeddedImage | None:
    return Path(value) if isinstance(value, str) else value


class TableBuilder:
    """Collects images one at a time (or a table at a time) into an `ImageTable`, keeping their boxes as a few
    large tables rather than one small table per image, so that memory grows with the boxes, not with the
    records added."""

    #: Records whose box tables are joined into one at a time.
    FLUSH = 4096

    def __init__(self, split_names: Iterable[str] = ()) -> None:
        self._split_codes: dict[str, int] = {name: code for code, name in enumerate(split_names)}
        self._parts: list[ImageTable] = []
        self._records: list[ImageRecord] = []

    def add(self, record: ImageRecord) -> None:
        self._records.append(record)
        if len(self._records) >= self.FLUSH:
            self._flush()

    def add_table(self, table: ImageTable) -> None:
        """Every image of `table`, in order."""
        self._flush()
        codes = np.array([self._code(name) for name in table.split_names], dtype=np.int32)
        self._parts.append(table.with_columns(split_codes=codes[table.split_codes], split_names=()))

    def _code(self, split: str) -> int:
        return self._split_codes.setdefault(split, len(self._split_codes))

    def _flush(self) -> None:
        records, self._records = self._records, []
        if not records:
            return
        boxes = concat_boxes([record.boxes for record in records])
        counts = np.fromiter((len(record.boxes) for record in records), np.int64, len(records))
        names = [record.name for record in records]
        self._parts.append(
            ImageTable(
                names=text_column(names),
                split_codes=np.array([self._code(record.split) for record in records], dtype=np.int32),
                split_names=(),
                widths=_size_column([record.width for record in records]),
                heights=_size_column([record.height for record in records]),
                boxes=boxes,
                offsets=offsets_of(counts),
                sources=path_column([record.source for record in records], names),
                source_ids=_sparse_column([record.source_id for record in records]),
                attributes=_sparse_column([record.attributes or None for record in records]),
                box_columns=_column_bits([record.boxes for record in records], boxes),
            )
        )

    def build(self) -> ImageTable:
        """The table of every image added, in order."""
        self._flush()
        return join_tables(self._parts, tuple(self._split_codes))


def join_tables(parts: list[ImageTable], split_names: tuple[str, ...]) -> ImageTable:
    """Tables whose split codes already index `split_names`, end to end. `parts` is emptied: its tables' arrays are
    listed column by column and each list is dropped once joined, so a reader's batches are freed while the
    dataset's table is built (at 200,000 images, the whole table twice over was the peak of reading)."""
    offsets = offsets_of(np.concatenate([part.box_counts() for part in parts]) if parts else np.zeros(0, np.int64))
    sources = SourceColumn.concat([part.sources for part in parts], [len(part) for part in parts])
    box_columns = _joined_bits(parts)
    source_ids, attributes = _joined_optional(parts, "source_ids"), _joined_optional(parts, "attributes")
    images = {name: [getattr(part, name) for part in parts] for name in ("names", "split_codes", "widths", "heights")}
    boxes = _box_arrays([part.boxes for part in parts])
    parts.clear()
    return ImageTable(
        names=_concatenated(images["names"], StringDType()),
        split_codes=_concatenated(images["split_codes"], np.int32),
        split_names=split_names,
        widths=_concatenated(images["widths"], np.int64),
        heights=_concatenated(images["heights"], np.int64),
        boxes=_joined_boxes(boxes),
        offsets=offsets,
        sources=sources,
        source_ids=source_ids,
        attributes=attributes,
        box_columns=box_columns,
    )


def _bits(names: Iterable[str]) -> int:
    return sum(1 << _COLUMN_BITS[name] for name in names)


def _column_bits(tables: Sequence[Boxes], joined: Boxes) -> np.ndarray | None:
    """Each table's columns as bits, or None when every table has all the columns of `joined`."""
    every = _bits(joined.columns)
    bits = [_bits(table.columns) for table in tables]
    return None if all(value == every for value in bits) else np.array(bits, dtype=np.int64)


def _joined_bits(parts: Sequence[ImageTable]) -> np.ndarray | None:
    """The parts' column bits end to end (a part without them has all of its own box columns everywhere)."""
    if all(part.box_columns is None for part in parts):
        every = {_bits(part.boxes.columns) for part in parts}
        if len(every) <= 1:
            return None
    return np.concatenate(
        [
            np.full(len(part), _bits(part.boxes.columns), dtype=np.int64)
            if part.box_columns is None
            else part.box_columns
            for part in parts
        ]
    )


def _joined_optional(parts: Sequence[ImageTable], name: str) -> np.ndarray | None:
    return joined_objects([getattr(part, name) for part in parts], [len(part) for part in parts])
