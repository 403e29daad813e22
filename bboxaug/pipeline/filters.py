"""Filters: the one step that drops small boxes, some or all negative images, and classes left without boxes.

In order, on the whole box table at once: boxes whose width or height is below `min_box_size` pixels, then boxes
whose area is below `min_box_area` square pixels; then, of the images left without boxes (negatives), a share
`negatives` per split (1: keep all, 0: drop all), chosen by the smallest hash of (seed, image key), so the choice
is the same on any machine and for any order of reading; then, with `drop_empty_classes`, the classes no box has
any more, the others renumbered in order. Everything dropped is counted by its code.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from bboxaug.core import codes
from bboxaug.core.errors import UsageError
from bboxaug.core.model import Dataset
from bboxaug.core.report import Report
from bboxaug.core.table import ImageTable, as_table
from bboxaug.geometry.tiling import sample_negatives
from bboxaug.pipeline.classes import record_mapping, relabel

NEGATIVES_WORDS = {"keep": 1.0, "drop": 0.0}


def parse_negatives(text: str | float) -> float:
    """`keep`, `drop` or a share between 0 and 1 of the negative images to keep."""
    if isinstance(text, str) and text.strip().lower() in NEGATIVES_WORDS:
        return NEGATIVES_WORDS[text.strip().lower()]
    try:
        share = float(text)
    except ValueError:
        share = float("nan")
    if not 0.0 <= share <= 1.0:
        raise UsageError(f"--negatives takes keep, drop or a share between 0 and 1, not {text!r}")
    return share


@dataclass(frozen=True)
class Filters:
    """What to filter out (the module docstring says how); `seed` chooses the negatives kept."""

    min_box_size: float = 0.0
    min_box_area: float = 0.0
    negatives: float = 1.0
    drop_empty_classes: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.min_box_size < 0 or self.min_box_area < 0:
            raise UsageError("--min-box-size and --min-box-area must be at least 0")
        parse_negatives(self.negatives)

    def to_json(self) -> dict[str, Any]:
        """The filters as the manifest records them (and a resumed run compares)."""
        return dataclasses.asdict(self)

    @property
    def active(self) -> bool:
        """Whether these filters can drop anything."""
        return bool(self.min_box_size or self.min_box_area or self.negatives < 1.0 or self.drop_empty_classes)

    def apply(self, dataset: Dataset, report: Report) -> Dataset:
        """The dataset filtered; what was dropped counted in `report`, and classes dropped recorded in its
        `class_map`."""
        table = self._small_boxes_dropped(as_table(dataset.images), report)
        if self.negatives < 1.0:
            table = self._negatives_sampled(table, report)
        dataset = dataset.replace(images=table)
        return self._empty_classes_dropped(dataset, report) if self.drop_empty_classes else dataset

    def _small_boxes_dropped(self, table: ImageTable, report: Report) -> ImageTable:
        if not (self.min_box_size or self.min_box_area):
            return table
        xyxy = table.boxes.xyxy
        width, height = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
        small = (width < self.min_box_size) | (height < self.min_box_size)
        tiny = ~small & (width * height < self.min_box_area)
        report.count(codes.BOXES_DROPPED_MIN_BOX_SIZE, int(np.count_nonzero(small)))
        report.count(codes.BOXES_DROPPED_MIN_BOX_AREA, int(np.count_nonzero(tiny)))
        rows = np.flatnonzero(~(small | tiny))
        if len(rows) == len(table.boxes):
            return table
        return table.with_boxes(table.boxes.take(rows), table.box_owners()[rows])

    def _negatives_sampled(self, table: ImageTable, report: Report) -> ImageTable:
        negative = table.box_counts() == 0
        keep = ~negative
        for code in np.unique(table.split_codes[negative]).tolist():
            rows = np.flatnonzero(negative & (table.split_codes == code))
            keys = [table.key_of(row) for row in rows.tolist()]
            chosen = sample_negatives(keys, self.negatives, self.seed)
            keep[rows] = [key in chosen for key in keys]
        report.count(codes.NEGATIVES_DROPPED, int(np.count_nonzero(~keep)))
        return table if keep.all() else table.subset(np.flatnonzero(keep))

    def _empty_classes_dropped(self, dataset: Dataset, report: Report) -> Dataset:
        table = as_table(dataset.images)
        used = np.bincount(table.boxes.labels, minlength=len(dataset.classes)) > 0
        report.count(codes.CLASSES_DROPPED_EMPTY, int(np.count_nonzero(~used)))
        if used.all():
            return dataset
        targets = [name if keep else None for name, keep in zip(dataset.class_names, used.tolist(), strict=True)]
        record_mapping(report, dataset.classes, targets)
        classes = tuple(c for c, keep in zip(dataset.classes, used.tolist(), strict=True) if keep)
        return relabel(dataset, classes, targets, report, codes.BOXES_DROPPED_CLASS)  # no box has these classes
