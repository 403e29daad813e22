"""The one runner all parallel work goes through: results in input order, batches of work not grouped further, and
a worker that dies ends the run with a one-line error instead of a traceback."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from bboxaug.core.errors import WorkerLost
from bboxaug.runtime.parallel import iter_parallel, run_parallel


def doubled(item: int) -> int:
    return 2 * item


def dies_at_three(item: int) -> int:
    """Kills its own worker process on item 3, as the kernel's out-of-memory killer would."""
    if item == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return item


def test_results_come_back_in_input_order_on_processes_and_threads() -> None:
    for prefer in ("processes", "threads"):
        assert run_parallel(doubled, range(40), jobs=2, prefer=prefer) == [2 * k for k in range(40)]


def test_a_worker_that_dies_ends_the_run_with_worker_lost() -> None:
    with pytest.raises(WorkerLost, match="augmenting stopped: a worker process died") as raised:
        run_parallel(dies_at_three, range(8), jobs=2, prefer="processes", description="augmenting")
    assert "\n" not in str(raised.value)


def test_batches_of_work_are_sent_one_per_task_so_few_are_taken_ahead() -> None:
    """Grouped by joblib's automatic batching, about 1,500 of these 2,000 quick items were taken from the input
    before their results were read; one per task, under 60."""
    taken = 0

    def items() -> Iterator[int]:
        nonlocal taken
        for item in range(2000):
            taken += 1
            yield item

    ahead = 0
    results = iter_parallel(doubled, items(), jobs=2, prefer="processes", items_are_batches=True)
    for read, result in enumerate(results, 1):
        assert result == 2 * (read - 1)
        ahead = max(ahead, taken - read)
    assert read == 2000
    assert ahead <= 200
