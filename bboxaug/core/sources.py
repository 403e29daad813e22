"""Each image's file as a compact column: a folder code and a file name per image, in text columns.

An image's file is almost always its folder joined with its name in the dataset (`images/train` + `a/b.jpg`), and
a table of 200,000 images held a path string of about 130 bytes for each. `SourceColumn` holds the few folders
once, and per image a 32-bit folder code and the file's name in a text column (`core.model.text_column`): 20
bytes an image for a name of up to 15 bytes. The name is held apart from the table's `names` column, as an image
renamed on the way out keeps its file. A file that is not its folder plus its name (a COCO `file_name` that
differs from the image's name, pixels embedded in an annotation) is held as it is in `others`, with code -1, as is
an image without a file (None); `others` is None when every image with a source has a folder code, as usual.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bboxaug.core.model import EmbeddedImage, joined_objects, object_column, text_column

#: The folder code of a row whose value is held whole in `others`.
WHOLE = -1

Source = str | EmbeddedImage | None


@dataclass(frozen=True, eq=False)
class SourceColumn:
    """Image sources: row `i` is `folders[codes[i]] + "/" + tails[i]`, or, where `codes[i]` is `WHOLE`,
    `others[i]` (a path string, an `EmbeddedImage` or None; `tails[i]` is then empty). Read-only, like every
    column of a table."""

    folders: tuple[str, ...]
    codes: np.ndarray
    tails: np.ndarray
    others: np.ndarray | None = None

    def __post_init__(self) -> None:
        for column in (self.tails, self.others):
            if column is not None and (column.shape != self.codes.shape or self.codes.ndim != 1):
                raise ValueError(f"{self.codes.shape} folder codes for {column.shape} values")
        for column in (self.codes, self.tails, self.others):
            if column is not None:
                column.setflags(write=False)

    @classmethod
    def of(cls, sources: Iterable[Path | str | EmbeddedImage | None], names: Sequence[str]) -> SourceColumn:
        """The column of `sources` (one per name, in order); a file at `<folder>/<name>` keeps only its folder's
        code and `name`."""
        folders: dict[str, int] = {}
        codes = np.full(len(names), WHOLE, dtype=np.int32)
        tails: list[str] = []
        others: dict[int, Source] = {}
        for row, (source, name) in enumerate(zip(sources, names, strict=True)):
            value = os.fspath(source) if isinstance(source, Path) else source
            if isinstance(value, str) and _joined(value, name):
                codes[row] = folders.setdefault(value[: -len(name) - 1], len(folders))
                tails.append(name)
            else:
                tails.append("")
                if value is not None:
                    others[row] = value
        return cls(tuple(folders), codes, text_column(tails), _other_column(others, len(names)))

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.codes.shape

    def __getitem__(self, row: int) -> Source:
        """Row `row`'s source: a path as text, an `EmbeddedImage` or None."""
        code = int(self.codes[row])
        if code == WHOLE:
            return None if self.others is None else self.others[row]
        return f"{self.folders[code]}/{self.tails[row]}"

    def tolist(self) -> list[Source]:
        return [self[row] for row in range(len(self))]

    def present(self) -> np.ndarray:
        """Where a row has a source (a file or embedded pixels)."""
        if self.others is None:
            return self.codes != WHOLE
        return (self.codes != WHOLE) | (self.others != None)  # noqa: E711 (elementwise comparison)

    def take(self, rows: np.ndarray) -> SourceColumn:
        others = None if self.others is None else self.others[rows]
        return SourceColumn(self.folders, self.codes[rows], self.tails[rows], others)

    @staticmethod
    def concat(parts: Sequence[SourceColumn | None], lengths: Sequence[int]) -> SourceColumn | None:
        """Columns end to end (`lengths` rows each; None for a part without sources), folders merged; None when
        no part has any."""
        if all(part is None for part in parts):
            return None
        folders: dict[str, int] = {}
        folder_codes, tails = [], []
        others: list[np.ndarray | None] = []
        for part, length in zip(parts, lengths, strict=True):
            if part is None:
                folder_codes.append(np.full(length, WHOLE, dtype=np.int32))
                tails.append(text_column([""] * length))
                others.append(None)
                continue
            remap = np.array([folders.setdefault(folder, len(folders)) for folder in part.folders] + [WHOLE])
            folder_codes.append(remap[part.codes].astype(np.int32))  # WHOLE (-1) picks the last entry: WHOLE again
            tails.append(part.tails)
            others.append(part.others)
        joined = np.concatenate(folder_codes), np.concatenate(tails)
        return SourceColumn(tuple(folders), *joined, joined_objects(others, lengths))


def _other_column(others: dict[int, Source], rows: int) -> np.ndarray | None:
    """The object column of the sources held whole (`others`, by row; None elsewhere); None when there are none."""
    if not others:
        return None
    column = object_column([None] * rows)
    for row, value in others.items():
        column[row] = value
    return column


def _joined(path: str, name: str) -> bool:
    """Whether `path` is some folder joined with `name` by a `/`."""
    return len(path) > len(name) + 1 and path.endswith(name) and path[-len(name) - 1] == "/"
