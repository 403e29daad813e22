"""Which workers make a run's copies (threads where pixel work dominates, processes where Python work does), and
the order of the written records."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bboxaug.core.model import Boxes, ImageRecord
from bboxaug.core.table import ImageTable
from bboxaug.pipeline.copies import ORIGINAL, THREADS_FROM_PIXELS, PlannedJobs, _written_order, workers_for


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


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 3)), max_size=40))
def test_each_original_is_followed_by_its_copies_in_row_order(images: list[tuple[bool, int]]) -> None:
    """Per source image: whether its original is written and how many copies it got (its job's copies). The
    expected order is a stable sort by (row, original before copy), written out here."""
    original_rows = [row for row, (kept, _) in enumerate(images) if kept]
    with_copies = [(row, count) for row, (_, count) in enumerate(images) if count]
    copy_rows = [row for row, count in with_copies for _ in range(count)]
    copies = [(job, position) for job, (_, count) in enumerate(with_copies) for position in range(count)]
    expected = sorted(
        [((row, 0), (ORIGINAL, k)) for k, row in enumerate(original_rows)]
        + [((row, 1), copy) for row, copy in zip(copy_rows, copies, strict=True)],
        key=lambda item: item[0],
    )
    order = _written_order(
        np.array(original_rows, dtype=np.int64),
        np.array(copy_rows, dtype=np.int64),
        np.array(copies, dtype=np.int64).reshape(-1, 2),
    )
    assert [tuple(pair) for pair in order.tolist()] == [record for _, record in expected]
