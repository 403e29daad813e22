"""Run a function over many items with joblib, showing a tqdm progress bar on a terminal.

All parallel work in bboxaug goes through `iter_parallel`, so the same code runs on local processes or threads,
or, inside `bboxaug.runtime.cluster.use_scheduler`, on a Dask cluster through joblib's Dask backend.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Generator, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from joblib import Parallel, delayed
from joblib.externals.loky.process_executor import TerminatedWorkerError
from tqdm import tqdm

from bboxaug.core.errors import WorkerLost
from bboxaug.io.files import remove_partial_writes
from bboxaug.runtime.cluster import cluster_runner, lost_worker_errors
from bboxaug.runtime.memory import trimmed

Item = TypeVar("Item")


Result = TypeVar("Result")


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system has one), the default number of
    workers."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def show_progress(quiet: bool) -> bool:
    """Progress bars go to a terminal only, never into logs, and never when asked to be quiet."""
    return not quiet and sys.stderr.isatty()


def iter_parallel(
    function: Callable[[Item], Result],
    items: Sequence[Item] | Iterable[Item],
    *,
    jobs: int = 1,
    prefer: Literal["threads", "processes"] = "threads",
    description: str = "",
    progress: bool = False,
    total: int | None = None,
    writes_into: Path | None = None,
    items_are_batches: bool = False,
) -> Generator[Result, None, None]:
    """`function(item)` for each item, on `jobs` workers (-1: every core), yielded in input order as they finish.

    Small items are grouped into tasks as joblib measures their time; `items_are_batches` sends each item as a
    task of its own, for items that are already batches of work: grouped, several batches and their results are
    in flight at once (writing the labels of 200,000 images peaked 4 to 13 MB higher).

    Inside `use_scheduler` every item goes to the Dask cluster, whatever `jobs` is. There a task whose worker
    died runs again on another worker; `writes_into` names the folder the function writes files into, so the
    temporary files the dead worker left there are removed once every task is done. Closing the iterator early
    (an error in the caller) stops the workers. A local worker that dies, or a task that takes down
    several cluster workers in a row, ends the run with `WorkerLost`. The free heap goes back to the system every
    second of the run (`runtime.memory.trimmed`)."""
    if total is None and isinstance(items, Sequence):
        total = len(items)
    runner = cluster_runner()
    on_cluster = runner is not None
    if runner is None and jobs != 1:
        runner = Parallel(
            n_jobs=jobs, prefer=prefer, return_as="generator", batch_size=1 if items_are_batches else "auto"
        )
    with tqdm(total=total, desc=description, unit="img", disable=not progress, dynamic_ncols=True) as bar:
        if runner is None:
            results: Generator[Result, None, None] = (function(item) for item in items)
        else:
            results = runner(delayed(function)(item) for item in items)
        try:
            for result in trimmed(results):
                bar.update()
                yield result
        except (TerminatedWorkerError, *lost_worker_errors()) as error:
            raise WorkerLost(
                f"{description or 'the work'} stopped: a worker process died (killed, or out of "
                f"memory?) - {type(error).__name__}; bboxaug augment and balance can --resume"
            ) from None
        finally:
            _stop(results)
    if on_cluster and writes_into is not None:
        remove_partial_writes(writes_into)


def _stop(results: Generator[Result, None, None]) -> None:
    """Stop the workers now, also when the caller stops early (an error, a failed item); joblib then warns that
    it cancels the tasks still running, or that tasks already done go unused, which is what was asked for."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"\d+ tasks which were still being processed", UserWarning)
        warnings.filterwarnings("ignore", r"\d+ tasks have been successfully executed +but not used", UserWarning)
        results.close()


def run_parallel(
    function: Callable[[Item], Result], items: Sequence[Item] | Iterable[Item], **options: Any
) -> list[Result]:
    """All of `iter_parallel`'s results as a list."""
    return list(iter_parallel(function, items, **options))
