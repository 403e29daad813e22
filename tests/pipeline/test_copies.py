"""Which workers make a run's copies: threads where pixel work dominates, processes where Python work does."""

from __future__ import annotations

import numpy as np

from bboxaug.core.model import Boxes, ImageRecord
from bboxaug.core.table import ImageTable
from bboxaug.pipeline.copies import THREADS_FROM_PIXELS, PlannedJobs, workers_for


def jobs_of(sizes: list[tuple[int | None, int | None]], rows: list[int] | None = None) -> PlannedJobs:
    table = ImageTable.from_records(
        ImageRecord(f"{k}.png", "train", width, height, Boxes.empty()) for k, (width, height) in enumerate(sizes)
    )
    chosen = np.arange(len(sizes)) if rows is None else np.array(rows)
    return PlannedJobs(table, chosen, np.ones(len(chosen), dtype=np.int64), lambda split, name: f"{split}/{name}")


def test_large_images_go_to_threads_and_tiny_ones_to_processes() -> None:
    assert workers_for(jobs_of([(1280, 720)] * 3)) == "threads"
    assert workers_for(jobs_of([(64, 64)] * 3)) == "processes"


def test_the_mean_area_of_the_images_that_get_copies_decides() -> None:
    """Only the jobs' rows count, and an image of unknown size is left out of the mean."""
    mixed = [(64, 64), (64, 64), (2000, 2000), (None, None)]
    assert workers_for(jobs_of(mixed)) == "threads"  # (2 * 4,096 + 4,000,000) / 3 pixels
    assert workers_for(jobs_of(mixed, rows=[0, 1, 3])) == "processes"
    assert jobs_of(mixed, rows=[0, 1, 3]).mean_pixels() == 64 * 64
    side = int(THREADS_FROM_PIXELS**0.5)
    assert workers_for(jobs_of([(side, side)])) == "threads"
    assert workers_for(jobs_of([(side, side - 1)])) == "processes"


def test_without_any_known_size_copies_go_to_processes() -> None:
    assert jobs_of([(None, None)] * 2).mean_pixels() is None
    assert workers_for(jobs_of([(None, None)] * 2)) == "processes"
