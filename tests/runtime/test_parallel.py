"""The one runner all parallel work goes through: results in input order, and a worker that dies ends the run with
a one-line error instead of a traceback."""

from __future__ import annotations

import os
import signal

import pytest

from bboxaug.core.errors import WorkerLost
from bboxaug.runtime.parallel import run_parallel


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
