"""Run a function over many items with joblib, showing a tqdm progress bar on a terminal.

All parallel work in bboxaug goes through `run_parallel`, so a joblib backend chosen by the caller (threads,
processes, or a Dask cluster through `joblib.parallel_backend`) runs the same code unchanged.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Literal, TypeVar

from joblib import Parallel, delayed
from tqdm import tqdm

Item = TypeVar("Item")
Result = TypeVar("Result")


def show_progress(quiet: bool) -> bool:
    """Progress bars go to a terminal only, never into logs, and never when asked to be quiet."""
    return not quiet and sys.stderr.isatty()


def run_parallel(
    function: Callable[[Item], Result],
    items: Sequence[Item] | Iterable[Item],
    *,
    jobs: int = 1,
    prefer: Literal["threads", "processes"] = "threads",
    description: str = "",
    progress: bool = False,
    total: int | None = None,
) -> list[Result]:
    """`[function(item) for item in items]`, on `jobs` workers (-1: every core), results in input order."""
    if total is None and isinstance(items, Sequence):
        total = len(items)
    bar = tqdm(total=total, desc=description, unit="img", disable=not progress, dynamic_ncols=True)
    try:
        if jobs == 1:
            results = []
            for item in items:
                results.append(function(item))
                bar.update()
            return results
        runner = Parallel(n_jobs=jobs, prefer=prefer, return_as="generator", batch_size="auto")
        results = []
        for result in runner(delayed(function)(item) for item in items):
            results.append(result)
            bar.update()
        return results
    finally:
        bar.close()
