"""Images that two merged sources both hold: the same bytes, found cheaply. Only files of a size that files of
another source share are hashed (one stat per image, then a digest per candidate, with a progress bar); two files
with the same digest are the same image. Within one source nothing is compared: a source's own duplicates are
`validate`'s finding, not a merge's to remove."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bboxaug.core.model import Boxes
from bboxaug.core.table import ImageTable
from bboxaug.io.digest import content_digest
from bboxaug.runtime.parallel import run_parallel


@dataclass(frozen=True)
class SameImage:
    """Rows `first` and `later` of a joined table are the same image file, `later` from a later source."""

    first: int
    later: int


def _file_size(path: Path | None) -> int | None:
    """The size of an image file; None for an image without one, or a file that cannot be seen."""
    if path is None:
        return None
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def candidates(files: Sequence[Path | None], origins: np.ndarray) -> list[int]:
    """The rows worth hashing: image files of a size that a file of another source has too."""
    by_size: dict[int, list[int]] = defaultdict(list)
    for row, path in enumerate(files):
        size = _file_size(path)
        if size is not None:
            by_size[size].append(row)
    return sorted(
        row for rows in by_size.values() if len(rows) > 1 and len(set(origins[rows].tolist())) > 1 for row in rows
    )


def same_images(table: ImageTable, origins: np.ndarray, *, jobs: int = 1, progress: bool = False) -> list[SameImage]:
    """Every image of a later source whose file has the same bytes as one of an earlier source, paired with the
    first such image (in the order of the sources, then of the rows)."""
    files = table.source_files()
    rows = candidates(files, origins)
    hashed = [file for file in (files[row] for row in rows) if file is not None]  # candidates all have a file
    if not hashed:
        return []
    digests = run_parallel(content_digest, hashed, jobs=jobs, description="hashing images", progress=progress)
    groups: dict[str, list[int]] = defaultdict(list)
    for row, digest in zip(rows, digests, strict=True):
        groups[digest].append(row)
    pairs = []
    for members in groups.values():
        members.sort(key=lambda row: (origins[row], row))
        first = members[0]
        pairs += [SameImage(first, row) for row in members[1:] if origins[row] != origins[first]]
    return sorted(pairs, key=lambda pair: pair.later)


def _ordered(boxes: Boxes) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((*boxes.xyxy.T[::-1], boxes.labels))
    return boxes.labels[order], boxes.xyxy[order]


def same_boxes(a: Boxes, b: Boxes, tolerance: float) -> bool:
    """Whether two images' boxes are the same: the same classes at the same corners, within `tolerance` pixels,
    in any order."""
    if len(a) != len(b):
        return False
    labels_a, xyxy_a = _ordered(a)
    labels_b, xyxy_b = _ordered(b)
    return bool(np.array_equal(labels_a, labels_b) and np.allclose(xyxy_a, xyxy_b, rtol=0.0, atol=tolerance))


def describe_difference(a: Boxes, b: Boxes, class_names: Sequence[str]) -> str:
    """How two images' boxes differ, for a message: the counts per class, or that the corners differ."""
    per_class = []
    for boxes in (a, b):
        labels, counts = np.unique(boxes.labels, return_counts=True)
        per_class.append({class_names[label]: int(count) for label, count in zip(labels, counts, strict=True)})
    if per_class[0] != per_class[1]:
        return f"{per_class[0]} against {per_class[1]}"
    return f"the same classes ({len(a)} boxes) at other corners"
