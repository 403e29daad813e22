"""Run a function over many items with joblib, showing a tqdm progress bar on a terminal.

All parallel work in bboxaug goes through `run_parallel`, so a joblib backend chosen by the caller (threads,
processes, or a Dask cluster through `joblib.parallel_backend`) runs the same code unchanged.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal, TypeVar

from joblib import Parallel, delayed
from tqdm import tqdm

Item = TypeVar("Item")
Result = TypeVar("Result")


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
) -> Iterator[Result]:
    """`function(item)` for each item, on `jobs` workers (-1: every core), yielded in input order as they finish.

    Closing the iterator early (an error in the caller) stops the workers."""
    if total is None and isinstance(items, Sequence):
        total = len(items)
    with tqdm(total=total, desc=description, unit="img", disable=not progress, dynamic_ncols=True) as bar:
        if jobs == 1:
            results: Iterable[Result] = (function(item) for item in items)
        else:
            runner = Parallel(n_jobs=jobs, prefer=prefer, return_as="generator", batch_size="auto")
            results = runner(delayed(function)(item) for item in items)
        for result in results:
            bar.update()
            yield result


def run_parallel(function: Callable[[Item], Result], items: Sequence[Item] | Iterable[Item], **options: Any
                 ) -> list[Result]:
    """All of `iter_parallel`'s results as a list."""
    return list(iter_parallel(function, items, **options))
