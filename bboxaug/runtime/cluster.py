"""Run bboxaug's per-image work on a Dask cluster, through joblib's Dask backend.

`use_scheduler(address)` connects to a running Dask scheduler (or, for "local", starts a cluster on this machine),
checks that its workers run this bboxaug and see the data, and while the block runs every `bboxaug.runtime.parallel`
run goes to the cluster: the same functions, on the workers instead of local processes. Workers read the images from
SRC and write theirs into the staging folder beside DST, so both must lie on storage every worker mounts at the
same path; only this process, the coordinator, writes annotation files and manifests. A worker that dies costs
only its task, which Dask runs again on another worker; what it was writing is a hidden temporary file, removed
by the runner (`writes_into`) once every task is done. Outputs are pure functions of their inputs and seeds, so
the bytes are the same as a local run's.

`distributed` is an optional extra (`pip install 'bboxaug[dask]'`), imported only here and only when asked for.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from joblib import Parallel, parallel_config

from bboxaug.core.errors import ClusterError, UsageError
from bboxaug.core.version import __version__

#: The address that starts a cluster on this machine instead of connecting to one.
LOCAL = "local"


INSTALL_HINT = "pip install 'bboxaug[dask]'"


#: Worker threads a cluster needs: with one, joblib would run the work in this process instead.
MIN_THREADS = 2


#: Workers named in one error message; the rest are counted.
NAMED_WORKERS = 3


#: Dask settings for processes that do nothing but bboxaug's work. Dask's defaults wake every process 50 times a
#: second (event-loop health ticks), sample every worker's stack 100 times a second (the profiler) and poll memory
#: and system load several times a second: measured here, 14 % of a core for an idle scheduler and two workers
#: under nannies, 1.2 % with these. Used for `--scheduler local`; `quiet_environment` gives them as the
#: environment variables to start a cluster's processes with.
QUIET_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}


_CLIENT: ContextVar[Any] = ContextVar("bboxaug_dask_client", default=None)


def active_client() -> Any:
    """The `distributed.Client` of the innermost `use_scheduler` block, None outside one."""
    return _CLIENT.get()


def lost_worker_errors() -> tuple[type[BaseException], ...]:
    """The error a cluster raises for a task that took down `allowed-failures` workers in a row; none when
    `distributed` is not installed (no cluster can have run the task)."""
    try:
        from distributed import KilledWorker
    except ImportError:
        return ()
    return (KilledWorker,)


def cluster_runner() -> Parallel[Literal["generator"]] | None:
    """A joblib runner that sends tasks to the active cluster, results in input order, or None outside
    `use_scheduler`. joblib keeps twice as many batches of tasks in flight as the cluster has worker threads when
    the run starts (workers that join later replace workers that leave, but add no parallelism), and sizes the
    batches so each takes 0.2-1 s, which keeps Dask's cost per task small."""
    client = active_client()
    if client is None:
        return None
    with parallel_config(backend="dask", client=client):
        return Parallel(n_jobs=-1, return_as="generator", batch_size="auto")


@contextmanager
def use_scheduler(
    address: str, *, reads: Sequence[Path | str] = (), writes: Path | str | None = None, workers: int = -1
) -> Iterator[Any]:
    """Run every `bboxaug.runtime.parallel` run inside the block on the Dask cluster at `address` (`tcp://host:8786`),
    or on a new cluster of `workers` single-threaded processes on this machine (every core for -1 or 1) when
    `address` is "local". Yields the `distributed.Client`.

    Before the block runs, every worker must run this bboxaug version, find at each path of `reads` what this
    process finds there, and be able to write beside `writes` (the output folder, whose staging folder the
    workers write into); otherwise `ClusterError`. Give absolute paths unless the workers share this process's
    working directory."""
    distributed = _distributed()
    with _connected(distributed, address, workers) as client:
        check_workers(client, reads, None if writes is None else Path(writes).parent)
        token = _CLIENT.set(client)
        try:
            yield client
        finally:
            _CLIENT.reset(token)


def quiet_environment() -> dict[str, str]:
    """`QUIET_CONFIG` as the environment variables Dask reads at start (`DASK_DISTRIBUTED__WORKER__...`)."""
    return {
        "DASK_" + key.upper().replace(".", "__").replace("-", "_"): str(value) for key, value in QUIET_CONFIG.items()
    }


def describe(client: Any) -> str:
    """One line about the cluster: its scheduler, workers, threads and dashboard."""
    info = client.scheduler_info()
    threads = sum(worker["nthreads"] for worker in info["workers"].values())
    dashboard = f"; dashboard {client.dashboard_link}" if "dashboard" in info.get("services", {}) else ""
    return f"on the Dask cluster at {info['address']}: {len(info['workers'])} workers, {threads} threads{dashboard}"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise UsageError(f"running on a Dask scheduler needs Dask's distributed package: {INSTALL_HINT}") from None
    return distributed


@contextmanager
def _connected(distributed: Any, address: str, workers: int) -> Iterator[Any]:
    """A client of the scheduler at `address` (or of a new local cluster) whose workers have `MIN_THREADS`
    threads; closed, and the local cluster stopped, when the block ends. Waits for the scheduler, then for the
    threads, as long as Dask's connect timeout each (`distributed.comm.timeouts.connect`, 30 s unless configured,
    e.g. through DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT)."""
    import dask.config
    from dask.utils import parse_timedelta

    timeout = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"))
    with ExitStack() as stack:
        cluster = None
        if address == LOCAL:
            count = workers if workers > 1 else max(os.cpu_count() or 1, MIN_THREADS)
            with dask.config.set(QUIET_CONFIG):  # the nannies hand this configuration to their workers
                cluster = stack.enter_context(distributed.LocalCluster(n_workers=count, threads_per_worker=1))
        else:
            try:
                distributed.comm.get_address_host_port(address)
            except ValueError:
                raise UsageError(
                    f"a Dask scheduler address is tcp://HOST:PORT, or '{LOCAL}', not {address!r}"
                ) from None
        try:
            client = distributed.Client(cluster or address, timeout=timeout, set_as_default=False)
        except (OSError, ValueError) as error:
            raise ClusterError(f"cannot reach the Dask scheduler at {address} ({error})") from None
        stack.enter_context(client)
        _wait_for_threads(client, address, timeout)
        yield client


def _wait_for_threads(client: Any, address: str, timeout: float) -> None:
    """Wait until the cluster's workers have `MIN_THREADS` threads in all; `ClusterError` after `timeout`."""
    deadline = time.monotonic() + timeout
    while (threads := sum(client.nthreads().values())) < MIN_THREADS:
        if time.monotonic() > deadline:
            found = "no worker" if threads == 0 else "a single worker thread"
            raise ClusterError(
                f"the Dask scheduler at {address} has {found} after {timeout:g} s; bboxaug needs "
                f"{MIN_THREADS} worker threads at least (joblib runs the work of a one-thread "
                "cluster in this process)"
            )
        time.sleep(0.1)


def fingerprint(path: str) -> str | None:
    """What a process sees at `path`: a digest of a folder's entry names, or a file's size; None if it sees
    nothing there. Two processes that see the same storage get the same answer."""
    try:
        if os.path.isdir(path):
            names = "\0".join(sorted(os.listdir(path)))
            return "folder " + hashlib.blake2b(names.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()
        return f"file of {os.stat(path).st_size} bytes"
    except OSError:
        return None


def look(reads: list[str], probe: str | None) -> dict[str, Any]:
    """Run on every worker: its bboxaug version, its fingerprint of each path of `reads`, and the content of the
    probe file (None if it cannot read it) with whether it may write into the probe's folder."""
    found: dict[str, Any] = {"bboxaug": __version__, "reads": [fingerprint(path) for path in reads]}
    if probe is not None:
        try:
            found["probe"] = Path(probe).read_text(encoding="utf-8")
        except OSError:
            found["probe"] = None
        found["writable"] = os.access(os.path.dirname(probe), os.W_OK | os.X_OK)
    return found


def installed_version() -> str:
    """Run on the scheduler: the bboxaug version it has (it unpickles the tasks, so it needs bboxaug too)."""
    return __version__


def check_workers(client: Any, reads: Sequence[Path | str], output_folder: Path | None) -> None:
    """Fail with `ClusterError` unless the scheduler and every worker run this bboxaug version, every worker
    sees at each path of `reads` what this process sees, and can write into `output_folder` (created here when
    missing) - checked through a probe file this process writes there, so a folder of the same name on a
    worker's own disk does not pass."""
    paths = [str(path) for path in reads]
    probe = token = None
    if output_folder is not None:
        output_folder.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(16)
        probe = output_folder / f".bboxaug-probe-{token}"
        probe.write_text(token, encoding="utf-8")
    try:
        expected = [fingerprint(path) for path in paths]  # while the probe exists, as the workers see it
        try:
            scheduler_version = client.run_on_scheduler(installed_version)
            answers = client.run(look, paths, None if probe is None else str(probe))
        except ImportError as error:
            raise ClusterError(
                f"the Dask scheduler or workers cannot import bboxaug ({error}): install bboxaug "
                f"{__version__} where they run ({INSTALL_HINT})"
            ) from None
    finally:
        if probe is not None:
            probe.unlink(missing_ok=True)
    if scheduler_version != __version__:
        raise ClusterError(
            f"the Dask scheduler runs bboxaug {scheduler_version}, this machine {__version__}: "
            "install the same version on the scheduler and every worker"
        )
    problems: dict[str, list[str]] = {}  # what is wrong -> the workers it is wrong on
    for worker, found in sorted(answers.items()):
        wrong = []
        if found["bboxaug"] != __version__:
            wrong.append(
                f"a Dask worker runs bboxaug {found['bboxaug']}, this machine {__version__}: install the "
                "same version on every worker"
            )
        for path, mine, theirs in zip(paths, expected, found["reads"], strict=False):
            if theirs != mine:
                seen = "cannot be seen" if theirs is None else "holds other files"
                wrong.append(
                    f"{path} {seen} on a Dask worker: SRC and DST must be on storage every worker mounts "
                    "at the same path"
                )
        if probe is not None and (found["probe"] != token or not found["writable"]):
            wrong.append(
                f"{output_folder} is not writable on a Dask worker as this machine sees it: DST must be "
                "on storage every worker mounts at the same path, writable by the workers"
            )
        for message in wrong:
            problems.setdefault(message, []).append(worker)
    if problems:
        message, workers = next(iter(problems.items()))
        more = f" and {len(workers) - NAMED_WORKERS} more" if len(workers) > NAMED_WORKERS else ""
        raise ClusterError(f"{message} (workers: {', '.join(workers[:NAMED_WORKERS])}{more})")
