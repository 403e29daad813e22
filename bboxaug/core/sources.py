"""Each image's file as a compact column: a folder code per image, the name shared with the table's names.

An image's file is almost always its folder joined with its name in the dataset (`images/train` + `a/b.jpg`), and
a table of 200,000 images held a path string of about 130 bytes for each. `SourceColumn` holds the few folders
once, a 32-bit folder code per image and a reference to the image's name (the same string the `names` column
holds, so no new text): 12 bytes an image. A file that is not its folder plus its name (a COCO `file_name` that
differs from the image's name, pixels embedded in an annotation, no file at all) is held as it is, with code -1.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bboxaug.core.model import EmbeddedImage, object_column

#: The folder code of a row whose value is held whole in `tails`.
WHOLE = -1

Source = str | EmbeddedImage | None


@dataclass(frozen=True, eq=False)
class SourceColumn:
    """Image sources: row `i` is `folders[codes[i]] + "/" + tails[i]`, or `tails[i]` itself where `codes[i]` is
    `WHOLE` (a path string, an `EmbeddedImage` or None). Read-only, like every column of a table."""

    folders: tuple[str, ...]
    codes: np.ndarray
    tails: np.ndarray

    def __post_init__(self) -> None:
        if self.codes.shape != self.tails.shape or self.codes.ndim != 1:
            raise ValueError(f"{self.codes.shape} folder codes for {self.tails.shape} names")
        self.codes.setflags(write=False)
        self.tails.setflags(write=False)

    @classmethod
    def of(cls, sources: Iterable[Path | str | EmbeddedImage | None], names: Sequence[str]) -> SourceColumn:
        """The column of `sources` (one per name, in order); a file at `<folder>/<name>` keeps only its folder's
        code and a reference to `name`."""
        folders: dict[str, int] = {}
        codes = np.full(len(names), WHOLE, dtype=np.int32)
        tails = object_column(None for _ in names)
        for row, (source, name) in enumerate(zip(sources, names, strict=True)):
            value = os.fspath(source) if isinstance(source, Path) else source
            if isinstance(value, str) and _joined(value, name):
                codes[row] = folders.setdefault(value[: -len(name) - 1], len(folders))
                tails[row] = name
            else:
                tails[row] = value
        return cls(tuple(folders), codes, tails)

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.codes.shape

    def __getitem__(self, row: int) -> Source:
        """Row `row`'s source: a path as text, an `EmbeddedImage` or None."""
        code = int(self.codes[row])
        tail = self.tails[row]
        return tail if code == WHOLE else f"{self.folders[code]}/{tail}"

    def tolist(self) -> list[Source]:
        return [self[row] for row in range(len(self))]

    def present(self) -> np.ndarray:
        """Where a row has a source (a file or embedded pixels)."""
        return (self.codes != WHOLE) | (self.tails != None)  # noqa: E711 (elementwise comparison)

    def take(self, rows: np.ndarray) -> SourceColumn:
        return SourceColumn(self.folders, self.codes[rows], self.tails[rows])

    @staticmethod
    def concat(parts: Sequence[SourceColumn | None], lengths: Sequence[int]) -> SourceColumn | None:
        """Columns end to end (`lengths` rows each; None for a part without sources), folders merged; None when
        no part has any."""
        if all(part is None for part in parts):
            return None
        folders: dict[str, int] = {}
        folder_codes, names = [], []
        for part, length in zip(parts, lengths, strict=True):
            if part is None:
                folder_codes.append(np.full(length, WHOLE, dtype=np.int32))
                names.append(object_column(None for _ in range(length)))
                continue
            remap = np.array([folders.setdefault(folder, len(folders)) for folder in part.folders] + [WHOLE])
            folder_codes.append(remap[part.codes].astype(np.int32))  # WHOLE (-1) picks the last entry: WHOLE again
            names.append(part.tails)
        return SourceColumn(tuple(folders), np.concatenate(folder_codes), np.concatenate(names))


def _joined(path: str, name: str) -> bool:
    """Whether `path` is some folder joined with `name` by a `/`."""
    return len(path) > len(name) + 1 and path.endswith(name) and path[-len(name) - 1] == "/"
