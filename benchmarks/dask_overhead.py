#!/usr/bin/env python3
"""Dask overhead benchmark: what running `bboxaug augment` on a Dask cluster costs per image, against a local run.

The same images as `benchmarks/augment.py` (`--images` generated 1280x720 JPEGs with one COCO file, made by its
generator and cached in the workdir) and the same policy, `--copies` copies of each, JPEG quality 95, originals
left out. Two ways to run it on this machine's cores:

- local: `augment(..., jobs=2)`, two joblib (loky) worker processes;
- dask: the same call inside `bboxaug.runtime.cluster.use_scheduler(ADDRESS)`, on a cluster this script starts on
  loopback for the run and stops after it (so none runs beside a local run): `dask scheduler` and
  `dask worker --nworkers 2 --nthreads 1` (two single-threaded workers, each under its nanny, as deployed);
- dask-quiet: the same cluster started with `bboxaug.runtime.cluster.quiet_environment()` (the settings the README
  recommends for workers that only run bboxaug: no stack profiler, slower health and memory polling).

Each run is a fresh Python process. Inside it, only the augmentation of the whole set is timed; before it, the
process imports, connects (dask: including bboxaug's check that the workers see the data) and augments 4 other
images, so both ways start with warm workers (loky starts its processes, Dask workers import the backend and
build the policy's pipeline). The steady-state cost per image is what a long run pays; the start-up is reported
apart. Runs alternate (local, dask, local, ...) and the best of `--repeat` is kept, because the machine may be
shared. The overhead per image is (dask seconds per image - local seconds per image) / local seconds per image.
CPU time (psutil, installed with distributed) is counted over the timed run for every process involved, by role:
the coordinator (the measured process), the workers (loky's, or Dask's with their nannies and launcher) and the
scheduler; on a shared machine it is the steadier figure. The CPU overhead compares the runs that used least.

Every dask output is compared file by file with the local output: the bytes must be identical.

Usage::

    python benchmarks/dask_overhead.py --images 200 --copies 3 --repeat 3

Prints a Markdown table and writes the results to `WORKDIR/results.json`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# benchmarks/augment.py: the same images and the same policy
from augment import HEIGHT, QUALITY, WIDTH, announce, dataset, write_policy

DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "bboxaug-dask-bench"
MODES = ("local", "dask", "dask-quiet")
WORKERS = 2
WARMUP_IMAGES = 4
START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 20


@dataclass
class Run:
    """One measured process."""

    mode: str
    images: int
    copies: int
    work_s: float | None = None
    cpu: dict[str, float] | None = None  # CPU seconds of the timed run by role (see `cpu_by_role`)
    startup_s: float | None = None
    load: float = 0.0
    identical: bool | None = None
    error: str | None = None

    @property
    def per_image_s(self) -> float | None:
        return self.work_s / self.images if self.work_s else None

    @property
    def cpu_s(self) -> float | None:
        return sum(self.cpu.values()) if self.cpu else None

    @property
    def cpu_per_image_s(self) -> float | None:
        return self.cpu_s / self.images if self.cpu_s else None

    @property
    def copies_per_s(self) -> float | None:
        return self.images * self.copies / self.work_s if self.work_s else None


# --- inside the measured process ------------------------------------------------------------------------------


def worker(spec: dict[str, Any]) -> int:
    """Warm up, then augment the whole set once, locally or on the cluster; write the timings to `spec["result"]`."""
    outcome: dict[str, Any] = {}
    try:
        started = time.perf_counter()
        from bboxaug.commands.augment import augment
        from bboxaug.runtime.cluster import use_scheduler

        def run(src: str, dst: str) -> None:
            augment(
                src,
                dst,
                policy=spec["policy"],
                copies=spec["copies"],
                seed=0,
                jobs=WORKERS,
                originals=False,
                quality=QUALITY,
                overwrite=True,
            )

        cluster = (
            use_scheduler(spec["address"], reads=[spec["src"]], writes=spec["dst"])
            if spec["address"]
            else nullcontext()
        )
        with cluster:
            run(spec["warmup"], spec["warmup_dst"])
            outcome["startup_s"] = time.perf_counter() - started
            cpu, started = cpu_by_role(spec["cluster_pids"]), time.perf_counter()
            run(spec["src"], spec["dst"])
            outcome["work_s"] = time.perf_counter() - started
            outcome["cpu"] = {role: spent - cpu[role] for role, spent in cpu_by_role(spec["cluster_pids"]).items()}
    except BaseException as error:  # any failure is the run's result, reported as such
        outcome["error"] = f"{type(error).__name__}: {error}"
    Path(spec["result"]).write_text(json.dumps(outcome))
    return 0 if "error" not in outcome else 1


def cpu_by_role(cluster: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by this process ("coordinator"), by its children and the cluster's worker launcher
    with its nannies and workers ("workers"), and by the cluster's scheduler ("scheduler")."""
    import psutil  # installed with distributed

    def used(process: psutil.Process) -> float:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            return 0.0
        return times.user + times.system

    def tree(pid: int) -> float:
        root = psutil.Process(pid)
        return used(root) + sum(used(child) for child in root.children(recursive=True))

    me = psutil.Process()
    return {
        "coordinator": used(me),
        "workers": sum(used(child) for child in me.children(recursive=True))
        + (tree(cluster["workers"]) if "workers" in cluster else 0.0),
        "scheduler": tree(cluster["scheduler"]) if "scheduler" in cluster else 0.0,
    }


# --- the driver ---------------------------------------------------------------------------------------------------


@contextmanager
def loopback_cluster(workdir: Path, quiet: bool) -> Iterator[tuple[str, dict[str, int]]]:
    """A scheduler on 127.0.0.1 (a port it picks) and WORKERS single-threaded workers under nannies, with Dask's
    default settings or (`quiet`) those of `quiet_environment`: its address and the process ids of the scheduler
    and of the workers' launcher."""
    from bboxaug.runtime.cluster import quiet_environment

    environment = {**os.environ, **(quiet_environment() if quiet else {})}
    dask = Path(sys.executable).with_name("dask")
    folder = workdir / "cluster"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    scheduler_file = folder / "scheduler.json"
    processes = []
    try:
        with open(folder / "scheduler.log", "wb") as log:
            processes.append(
                subprocess.Popen(
                    [
                        str(dask),
                        "scheduler",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        "0",
                        "--no-dashboard",
                        "--scheduler-file",
                        str(scheduler_file),
                    ],
                    stdout=log,
                    stderr=log,
                    cwd=folder,
                    env=environment,
                )
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not scheduler_file.exists():
            if time.monotonic() > deadline or processes[0].poll() is not None:
                raise SystemExit(f"the scheduler did not start; see {folder / 'scheduler.log'}")
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        with open(folder / "workers.log", "wb") as log:
            processes.append(
                subprocess.Popen(
                    [
                        str(dask),
                        "worker",
                        address,
                        "--nworkers",
                        str(WORKERS),
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--local-directory",
                        str(folder / "space"),
                    ],
                    stdout=log,
                    stderr=log,
                    cwd=folder,
                    env=environment,
                )
            )
        from distributed import Client

        with Client(address, timeout=START_TIMEOUT_S, set_as_default=False) as client:
            client.wait_for_workers(WORKERS, timeout=START_TIMEOUT_S)
        yield address, {"scheduler": processes[0].pid, "workers": processes[1].pid}
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under `root` with the hash of its bytes."""
    return {
        path.relative_to(root).as_posix(): hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def measure(mode: str, sources: dict[str, Path], workdir: Path, copies: int, policy: Path, images: int) -> Run:
    """One run of `mode` in a fresh process; for dask, on a cluster started for it (not timed) and stopped after,
    so no cluster process runs during a local run."""
    cluster = loopback_cluster(workdir, quiet=mode == "dask-quiet") if mode != "local" else nullcontext((None, {}))
    with cluster as (address, pids):
        return measure_process(mode, address, pids, sources, workdir, copies, policy, images)


def measure_process(
    mode: str,
    address: str | None,
    pids: dict[str, int],
    sources: dict[str, Path],
    workdir: Path,
    copies: int,
    policy: Path,
    images: int,
) -> Run:
    """One run of `mode` in a fresh process, on the cluster at `address` (processes `pids`) if not None."""
    run = Run(mode, images, copies, load=os.getloadavg()[0])
    out = workdir / "out" / mode
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        result = Path(scratch) / "result.json"
        spec = {
            "address": address,
            "src": str(sources["set"]),
            "dst": str(out),
            "warmup": str(sources["warmup"]),
            "warmup_dst": str(workdir / "out" / f"warmup-{mode}"),
            "copies": copies,
            "policy": str(policy),
            "cluster_pids": pids,
            "result": str(result),
        }
        process = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
            capture_output=True,
            text=True,
            cwd=scratch,
        )
        outcome = json.loads(result.read_text()) if result.exists() else {}
    run.work_s, run.startup_s, run.cpu = outcome.get("work_s"), outcome.get("startup_s"), outcome.get("cpu")
    run.error = outcome.get("error") or (
        None if outcome else f"exit code {process.returncode}: {process.stderr.strip()[-300:]}"
    )
    written = len(list(out.rglob("*.jpg")))
    if run.error is None and written != images * copies:
        run.error = f"{written} JPEG files written, expected {images * copies}"
    return run


def cell(value: float | None, spec: str, suffix: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{suffix}"


def change(mode: str, row: dict[str, Any], ms: str, percent: str) -> str:
    """A row's overhead over the local run, in ms and percent (empty for the local run itself)."""
    return "" if mode == "local" else f"{cell(row[ms], '+.1f', ' ms')} ({cell(row[percent], '+.1f', ' %')})"


def overhead(value: float | None, local: float | None) -> tuple[float | None, float | None]:
    """(value - local) in milliseconds and in percent of local."""
    if value is None or not local:
        return None, None
    return 1000 * (value - local), 100 * (value - local) / local


def summary(runs: list[Run]) -> dict[str, dict[str, Any]]:
    """Per mode: the best run's throughput, wall and CPU seconds per image and, for dask, the overhead per image
    over the best local run (wall) and over the local run with the least CPU."""
    ok = {mode: [run for run in runs if run.mode == mode and run.work_s] for mode in MODES}
    best = {mode: min(found, key=lambda run: run.work_s, default=None) for mode, found in ok.items()}
    thriftiest = {
        mode: min((run for run in found if run.cpu_s), key=lambda run: run.cpu_s, default=None)
        for mode, found in ok.items()
    }
    least_cpu = {mode: run.cpu_per_image_s if run else None for mode, run in thriftiest.items()}
    table = {}
    for mode, run in best.items():
        per_image = run.per_image_s if run else None
        wall_ms, wall_percent = overhead(per_image, best["local"].per_image_s if best["local"] else None)
        cpu_ms, cpu_percent = overhead(least_cpu[mode], least_cpu["local"])
        table[mode] = {
            "copies_per_s": run.copies_per_s if run else None,
            "seconds_per_image": per_image,
            "cpu_seconds_per_image": least_cpu[mode],
            "cpu_ms_per_image_by_role": {role: 1000 * spent / run.images for role, spent in run.cpu.items()}
            if (run := thriftiest[mode])
            else None,
            "overhead_ms_per_image": wall_ms if mode != "local" else None,
            "overhead_percent": wall_percent if mode != "local" else None,
            "cpu_overhead_ms_per_image": cpu_ms if mode != "local" else None,
            "cpu_overhead_percent": cpu_percent if mode != "local" else None,
            "startup_s": min((r.startup_s for r in runs if r.mode == mode and r.startup_s), default=None),
            "load_average": [r.load for r in runs if r.mode == mode],
            "identical": all(r.identical for r in runs if r.mode == mode) if mode != "local" else None,
            "errors": [r.error for r in runs if r.mode == mode and r.error],
        }
    return table


def markdown(table: dict[str, dict[str, Any]], repeat: int) -> str:
    lines = [
        f"| run | copies/s (best of {repeat}) | s per image | overhead per image | CPU s per image "
        "| CPU ms per image: coordinator / workers / scheduler | CPU overhead per image | start-up s "
        "| load average at start | bytes as local |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    names = {
        "local": f"local, --jobs {WORKERS}",
        "dask": f"Dask, {WORKERS} workers x 1 thread (loopback)",
        "dask-quiet": f"Dask, {WORKERS} workers x 1 thread (loopback), quiet settings",
    }
    for mode, row in table.items():
        same = "" if mode == "local" else ("yes" if row["identical"] else "NO")
        cells = [
            names[mode],
            cell(row["copies_per_s"], ".1f"),
            cell(row["seconds_per_image"], ".4f"),
            change(mode, row, "overhead_ms_per_image", "overhead_percent"),
            cell(row["cpu_seconds_per_image"], ".4f"),
            " / ".join(f"{ms:.1f}" for ms in (row["cpu_ms_per_image_by_role"] or {}).values()),
            change(mode, row, "cpu_overhead_ms_per_image", "cpu_overhead_percent"),
            cell(row["startup_s"], ".1f"),
            ", ".join(f"{load:.2f}" for load in row["load_average"]),
            same,
        ]
        if row["errors"]:
            cells[-1] += " FAILED: " + row["errors"][0].replace("|", "/")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200, help="number of images (default: %(default)s)")
    parser.add_argument("--copies", type=int, default=3, help="augmented copies per image (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode, the best kept (default: %(default)s)")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help="cached inputs, outputs and results (default: %(default)s)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.images, args.copies, args.repeat) < 1:
        parser.error("--images, --copies and --repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker(json.loads(args.worker))
    command, workdir = announce(args.workdir)
    policy = write_policy(workdir)
    sources = {"set": dataset(workdir, args.images), "warmup": dataset(workdir, WARMUP_IMAGES)}
    print(
        f"{args.images} images of {WIDTH}x{HEIGHT}, {args.copies} copies each; {os.cpu_count()} cores; load "
        f"average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    runs: list[Run] = []
    for attempt in range(1, args.repeat + 1):
        for mode in MODES:
            run = measure(mode, sources, workdir, args.copies, policy, args.images)
            if mode != "local" and run.error is None:
                run.identical = tree_digest(workdir / "out" / mode) == tree_digest(workdir / "out" / "local")
            runs.append(run)
            print(
                f"  [{attempt}/{args.repeat}] {mode}: "
                + (
                    run.error
                    or f"{run.work_s:.2f} s, {run.copies_per_s:.1f} copies/s, CPU {run.cpu_s:.1f} s, "
                    f"start-up {run.startup_s:.1f} s, load {run.load:.2f}"
                    + ("" if run.identical is None else f", identical: {run.identical}")
                ),
                flush=True,
            )
    table = summary(runs)
    report = {
        "command": command,
        "images": args.images,
        "copies": args.copies,
        "repeat": args.repeat,
        "width": WIDTH,
        "height": HEIGHT,
        "workers": WORKERS,
        "summary": table,
        "runs": [asdict(run) for run in runs],
    }
    path = workdir / "results.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\n{markdown(table, args.repeat)}\n\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
