"""Helpers several formats share: split folders, finding an image by name, class lists by name, numbers in text.

Nothing here knows a format; each adapter decides which of these its layout needs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

from bboxaug.core.model import ClassInfo
from bboxaug.io.headers import is_image_file

DEFAULT_SPLIT = "default"


#: Folder names read as split names when they sit directly under a dataset root.
SPLIT_NAMES = frozenset(
    {"train", "training", "val", "valid", "validation", "test", "testing", "trainval", "dev", DEFAULT_SPLIT}
)


def split_folders(root: Path) -> list[tuple[str, Path]]:
    """`(split, folder)` for each split-named subfolder of `root`, or `[("default", root)]` when there is none."""
    found = sorted(
        (child.name, child) for child in root.iterdir() if child.is_dir() and child.name.lower() in SPLIT_NAMES
    )
    return found or [(DEFAULT_SPLIT, root)]


def posix_relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


class ImageIndex:
    """Finds image files under a folder by a name from an annotation, forgiving what annotations get wrong.

    Tried in order: the exact relative path (any file, whatever its extension); the same path in another letter
    case (`IMG_1.JPG` for `IMG_1.jpg`); the name with any image extension when it has none or the wrong one (VOC
    `<filename>` without extension); and, for a bare file name, a unique file of that name anywhere below the
    folder. The folder is listed once, so finding a name costs no file-system call.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._by_exact: dict[str, Path] = {}
        self._by_lower: dict[str, Path] = {}
        self._by_stem: dict[str, list[Path]] = {}
        self._by_basename: dict[str, list[Path]] = {}
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if not path.is_file():
                    continue
                relative = posix_relative(path, folder)
                self._by_exact[relative] = path
                if not is_image_file(path):
                    continue
                self._by_lower.setdefault(relative.lower(), path)
                self._by_stem.setdefault(relative.rsplit(".", 1)[0].lower(), []).append(path)
                self._by_basename.setdefault(path.name.lower(), []).append(path)

    def __len__(self) -> int:
        return len(self._by_lower)

    def paths(self) -> list[Path]:
        return sorted(self._by_lower.values())

    def find(self, name: str) -> Path | None:
        """The image file `name` stands for, or None. Looks only in the index: no file-system call per name."""
        exact = self._by_exact.get(name)
        if exact is not None:
            return exact
        lower = name.lower()
        if lower in self._by_lower:
            return self._by_lower[lower]
        stem = lower.rsplit(".", 1)[0] if "." in lower.rsplit("/", 1)[-1] else lower
        candidates = self._by_stem.get(stem) or self._by_stem.get(lower, [])
        if len(candidates) == 1:
            return candidates[0]
        if "/" not in name:
            same_name = self._by_basename.get(lower, [])
            if len(same_name) == 1:
                return same_name[0]
        return None


def classes_from_names(names: Iterable[str], declared: Iterable[str] = ()) -> tuple[ClassInfo, ...]:
    """A class list for formats that name classes but give no ids: the declared names first, in their order,
    then any other name in order of first use. Ids stay None; writers that need ids number by position."""
    ordered = dict.fromkeys(declared)
    ordered.update(dict.fromkeys(names))
    return tuple(ClassInfo(None, name) for name in ordered)


def compact_number(value: float) -> int | float:
    """An integral float as int (so `12.0` is written `12`), any other float unchanged."""
    as_float = float(value)
    return int(as_float) if as_float.is_integer() else as_float


def finite_number(text: str | None) -> float | None:
    """The number `text` spells, or None when it is missing, not a number, infinite or NaN (the caller names the
    field in its error)."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
