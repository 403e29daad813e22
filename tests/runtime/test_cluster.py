"""Running on a Dask cluster: a real scheduler and worker processes on loopback give the bytes of a local run, a
worker killed mid-run changes nothing, workers that cannot see the data stop the run before any work, and every
way of getting it wrong (no Dask, no scheduler, a bad address) is one line.

The clusters are `dask scheduler` and `dask worker` processes of this environment, started in folders of their own
(so a relative path that works here does not on a worker), and always torn down, killed if they hang.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from bboxaug.cli.main import main
from bboxaug.commands.convert import save
from bboxaug.core.errors import ClusterError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord
from bboxaug.core.version import __version__ as bboxaug_version
from bboxaug.runtime import cluster
from bboxaug.runtime.cluster import use_scheduler
from bboxaug.runtime.parallel import iter_parallel
from tests.commands.test_augment import POLICY, make_source, textured, tree_bytes
from tests.conftest import REPO

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
import dask.config  # noqa: E402  (installed with distributed)

DASK = Path(sys.executable).with_name("dask")
BBOXAUG = Path(sys.executable).with_name("bboxaug")
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 10
RUN_TIMEOUT_S = 120

#: Run a command so that it is killed when this process dies, even by SIGKILL (util-linux; Linux only).
DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "KILL"] if shutil.which("setpriv") else []


@dataclass
class Cluster:
    address: str
    workers: list[subprocess.Popen]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT_S)


@contextmanager
def loopback_cluster(root: Path, workers: int = 2, *, threads: int = 1, wrap: Sequence[str] = ()) -> Iterator[Cluster]:
    """A scheduler on 127.0.0.1 at a port it picks (read from its scheduler file) and `workers` worker processes
    of `threads` threads without a nanny (a killed worker stays dead), each command prefixed by `wrap`."""
    root.mkdir(parents=True, exist_ok=True)
    home = root / "home"  # the processes' working folder: not where the tests' relative paths point
    home.mkdir(exist_ok=True)
    scheduler_file = root / "scheduler.json"
    processes: list[subprocess.Popen] = []
    environment = {**os.environ, "PYTHONPATH": str(REPO)}  # the test module's task functions, as on a real cluster

    def start(name: str, command: list[str]) -> subprocess.Popen:
        with open(root / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                [*DIE_WITH_PARENT, *command],
                cwd=home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=environment,
            )
        processes.append(process)
        return process

    try:
        scheduler = start(
            "scheduler",
            [
                str(DASK),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not scheduler_file.exists():
            if time.monotonic() > deadline or scheduler.poll() is not None:
                pytest.fail(f"the scheduler did not start: {(root / 'scheduler.log').read_text()[-2000:]}")
            time.sleep(0.05)
        address = json.loads(scheduler_file.read_text())["address"]
        started = [
            start(
                f"worker{index}",
                [
                    *wrap,
                    str(DASK),
                    "worker",
                    address,
                    "--nthreads",
                    str(threads),
                    "--no-nanny",
                    "--no-dashboard",
                    "--local-directory",
                    str(root / f"space{index}"),
                ],
            )
            for index in range(workers)
        ]
        with distributed.Client(address, timeout=START_TIMEOUT_S, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=START_TIMEOUT_S)
        yield Cluster(address, started)
    finally:
        for process in reversed(processes):  # workers first, so none waits for a scheduler that is gone
            _stop(process)


def bboxaug(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*DIE_WITH_PARENT, str(BBOXAUG), *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env=None if env is None else {**os.environ, **env},
    )


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with loopback_cluster(tmp_path_factory.mktemp("cluster")) as running:
        yield running


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """VOC in two splits: JPEG and PNG, colour and greyscale, one image without boxes."""
    return make_source(tmp_path_factory.mktemp("data"), count=12)


def test_augment_on_a_cluster_writes_the_bytes_of_a_local_run(shared: Cluster, source: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(POLICY))
    common = ["--policy", str(policy), "--copies", "3", "--seed", "7", "--splits", "all"]
    local = bboxaug("augment", str(source), str(tmp_path / "local"), *common, "--jobs", "1")
    remote = bboxaug("augment", str(source), str(tmp_path / "remote"), *common, "--scheduler", shared.address)
    assert local.returncode == 0, local.stderr
    assert remote.returncode == 0, remote.stderr
    assert f"on the Dask cluster at {shared.address}: 2 workers, 2 threads" in remote.stderr
    expected, found = tree_bytes(tmp_path / "local"), tree_bytes(tmp_path / "remote")
    assert sorted(found) == sorted(expected)
    assert found == expected  # every image, annotation and augment.json
    assert sum("_aug" in name for name in found) == 2 * 36  # 36 copies, each an image and an annotation


def test_tile_and_convert_run_on_the_cluster_named_by_the_environment(
    shared: Cluster, source: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    for command in (["tile", "--size", "48", "--overlap", "0.25"], ["convert", "--to", "coco"]):
        local = runner.invoke(main, [command[0], str(source), str(tmp_path / f"{command[0]}-local"), *command[1:]])
        remote = runner.invoke(
            main,
            [command[0], str(source), str(tmp_path / f"{command[0]}-remote"), *command[1:]],
            env={"BBOXAUG_SCHEDULER": shared.address},
        )
        assert local.exit_code == 0 and remote.exit_code == 0, remote.output
        assert f"on the Dask cluster at {shared.address}" in remote.stderr
        expected = tree_bytes(tmp_path / f"{command[0]}-local")
        assert tree_bytes(tmp_path / f"{command[0]}-remote") == expected
        assert sum(name.endswith((".jpg", ".png")) for name in expected) >= 12


def place_with_a_leftover(index: int, root: str) -> int:
    """Write an image, and the hidden temporary file a worker killed in the middle of writing would leave."""
    (Path(root) / f"a{index}.png").write_bytes(b"image")
    (Path(root) / f".a{index}.png.x7k2.tmp").write_bytes(b"half an image")
    return os.getpid()


def test_work_goes_to_the_workers_and_their_partial_writes_are_removed(shared: Cluster, tmp_path: Path) -> None:
    with use_scheduler(shared.address, reads=[tmp_path], writes=tmp_path / "out"):
        pids = list(
            iter_parallel(
                functools.partial(place_with_a_leftover, root=str(tmp_path)), range(6), jobs=1, writes_into=tmp_path
            )
        )
    assert len(pids) == 6 and os.getpid() not in pids  # jobs=1 too runs on the cluster
    assert sorted(path.name for path in tmp_path.iterdir()) == [f"a{index}.png" for index in range(6)]


def test_a_worker_killed_mid_run_costs_only_its_task(tmp_path: Path) -> None:
    images = []
    for index in range(40):
        path = tmp_path / "pixels" / f"photo{index}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        textured(320, 240, index).save(path)
        images.append(
            ImageRecord(path.name, "train", 320, 240, Boxes([[10, 10, 160, 120], [100, 80, 315, 235]], [0, 1]), path)
        )
    source = tmp_path / "src"
    save(Dataset((ClassInfo(1, "scratch"), ClassInfo(2, "spot")), tuple(images)), source, to="voc")
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(POLICY))
    common = ["--policy", str(policy), "--copies", "3", "--seed", "3", "--quiet"]
    assert bboxaug("augment", str(source), str(tmp_path / "local"), *common).returncode == 0

    with loopback_cluster(tmp_path / "cluster") as running:
        command = [
            *DIE_WITH_PARENT,
            str(BBOXAUG),
            "augment",
            str(source),
            str(tmp_path / "remote"),
            *common,
            "--scheduler",
            running.address,
        ]
        run = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        progress = tmp_path / ".remote.partial" / ".progress"
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while run.poll() is None and time.monotonic() < deadline and len(list(progress.glob("*.pickle"))) < 3:
            time.sleep(0.01)
        victim = running.workers[1]
        os.kill(victim.pid, signal.SIGKILL)
        done = len(list(progress.glob("*.pickle")))
        try:
            _, errors = run.communicate(timeout=RUN_TIMEOUT_S)
        finally:
            run.kill()
        assert victim.wait(STOP_TIMEOUT_S) == -signal.SIGKILL
        with (
            dask.config.set({"distributed.comm.timeouts.connect": "1s"}),  # what is left is too small a cluster
            pytest.raises(ClusterError, match="has a single worker thread after 1 s; bboxaug needs 2 worker"),
            use_scheduler(running.address),
        ):
            pytest.fail("a cluster of one thread was accepted")
    assert 3 <= done < 40, f"the kill came at a useless moment ({done} of 40 images done)"
    assert run.returncode == 0, errors
    assert tree_bytes(tmp_path / "remote") == tree_bytes(tmp_path / "local")


def hide(folders: list[Path]) -> list[str]:
    """A command prefix that runs the command in a mount namespace where `folders` are empty tmpfs mounts: a
    worker on a machine that does not share them."""
    mounts = " && ".join(f"mount -t tmpfs none '{folder}'" for folder in folders)
    return ["unshare", "--mount", "sh", "-c", f'{mounts} && exec "$@"', "sh"]


def test_workers_that_cannot_see_src_or_write_dst_stop_the_run_before_any_work(tmp_path: Path) -> None:
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("mount namespaces are not available here (unshare --mount needs root)")
    private, public = tmp_path / "private", tmp_path / "public"
    source = make_source(private, count=2)
    visible = make_source(public / "data", count=2)
    (tmp_path / "elsewhere").mkdir()
    with loopback_cluster(
        tmp_path / "cluster", workers=1, threads=2, wrap=hide([private, tmp_path / "elsewhere"])
    ) as running:
        unseen = bboxaug("augment", str(source), str(public / "out"), "--scheduler", running.address)
        unwritable = bboxaug(
            "augment", str(visible), str(tmp_path / "elsewhere" / "out"), "--scheduler", running.address
        )
    assert unseen.returncode == 1
    lines = unseen.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"error: {source} cannot be seen on a Dask worker: SRC and DST must be on storage every worker mounts at the "
        "same path (workers: tcp://127.0.0.1:"
    )
    assert unwritable.returncode == 1
    assert len(unwritable.stderr.strip().splitlines()) == 1
    assert f"{tmp_path / 'elsewhere'} is not writable on a Dask worker" in unwritable.stderr
    assert not (public / "out").exists() and not (tmp_path / "elsewhere" / "out").exists()
    assert not list((tmp_path / "elsewhere").iterdir())  # the probe file is gone too


def test_relative_paths_are_looked_up_in_each_workers_own_folder(
    shared: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    with (
        pytest.raises(ClusterError, match=r"^data cannot be seen on a Dask worker: .*\(workers: tcp://127\.0\.0\.1"),
        use_scheduler(shared.address, reads=[Path("data")]),
    ):
        pytest.fail("the block ran although the workers do not see the data")


def test_a_cluster_running_another_bboxaug_version_is_refused(
    shared: Cluster, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster, "__version__", "0.0.1")
    with (
        pytest.raises(ClusterError, match=f"^the Dask scheduler runs bboxaug {bboxaug_version}, this machine 0.0.1"),
        use_scheduler(shared.address, reads=[source]),
    ):
        pytest.fail("the block ran although the workers run another version")


def test_without_dask_the_flag_says_how_to_install_it(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now fails as if not installed
    result = CliRunner().invoke(main, ["augment", str(source), str(tmp_path / "out"), "--scheduler", "tcp://h:1"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: running on a Dask scheduler needs Dask's distributed package: pip install 'bboxaug[dask]'"
    ]


def test_an_unreachable_scheduler_or_a_bad_address_is_one_line(source: Path, tmp_path: Path) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]  # closed again when the block ends: nothing listens there
    unreachable = bboxaug(
        "tile",
        str(source),
        str(tmp_path / "out"),
        "--size",
        "48",
        env={"BBOXAUG_SCHEDULER": f"tcp://127.0.0.1:{port}", "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"},
    )
    assert unreachable.returncode == 1
    lines = unreachable.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")
    malformed = CliRunner().invoke(
        main, ["tile", str(source), str(tmp_path / "out"), "--size", "48", "--scheduler", "scheduler-host"]
    )
    assert malformed.exit_code == 2
    assert (
        malformed.output.strip() == "error: a Dask scheduler address is tcp://HOST:PORT, or 'local', not "
        "'scheduler-host'"
    )
    assert not (tmp_path / "out").exists()


def test_a_local_cluster_resizes_to_the_bytes_of_a_local_run(source: Path, tmp_path: Path) -> None:
    command = ["resize", str(source), None, "--size", "64,40x30", "--mode", "letterbox"]
    local = bboxaug(*[part or str(tmp_path / "local") for part in command])
    on_cluster = bboxaug(
        *[part or str(tmp_path / "cluster") for part in command], "--scheduler", "local", "--jobs", "2"
    )
    assert local.returncode == 0 and on_cluster.returncode == 0, on_cluster.stderr
    assert "on the Dask cluster at tcp://127.0.0.1:" in on_cluster.stderr and "2 workers" in on_cluster.stderr
    expected = tree_bytes(tmp_path / "local")
    assert tree_bytes(tmp_path / "cluster") == expected
    assert sum(name.startswith("64/") and name.endswith((".jpg", ".png")) for name in expected) == 12


#: Prints, as JSON, the values the workers of a `--scheduler local` cluster run with for the quiet settings' keys
#: (in its own process: a cluster started inside pytest trips its warnings-as-errors on Dask's own sockets).
LOCAL_WORKER_SETTINGS = """
import json, dask.config
from bboxaug.runtime.cluster import QUIET_CONFIG, use_scheduler
if __name__ == "__main__":
    with use_scheduler("local", workers=2) as client:
        found = client.run(lambda: {key: dask.config.get(key) for key in QUIET_CONFIG})
    print(json.dumps(list(found.values())))
"""


def test_quiet_settings_reach_local_workers_and_read_back_from_the_environment(tmp_path: Path) -> None:
    """The quiet settings are what `--scheduler local` workers run with, and the environment variables the README
    gives for other clusters are read by Dask as the same settings."""
    script = tmp_path / "settings.py"
    script.write_text(LOCAL_WORKER_SETTINGS)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == [cluster.QUIET_CONFIG] * 2
    read = dask.config.collect_env(cluster.quiet_environment())
    assert {key: dask.config.get(key, config=read) for key in cluster.QUIET_CONFIG} == cluster.QUIET_CONFIG
