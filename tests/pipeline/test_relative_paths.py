"""Relative paths given from Python mean the caller's current folder at the time of the call, also when worker
processes started by an earlier call are reused."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

# Two runs from Python, each in its own folder, with the same relative paths. joblib keeps its worker processes
# for the next call, and they stay in the folder they started in.
TWO_RUNS = """
import os, sys
import bboxaug
for folder in sys.argv[1:]:
    os.chdir(folder)
    bboxaug.augment("data", "out", copies=1, jobs=2)
"""


def test_a_second_run_in_another_folder_writes_there(tmp_path: Path) -> None:
    folders = [tmp_path / "first", tmp_path / "second"]
    for folder in folders:
        shutil.copytree(REPO / "samples" / "defects", folder / "data")
    # A fresh interpreter, so the workers start in the first folder and never in the checkout.
    run = subprocess.run(
        [sys.executable, "-c", TWO_RUNS, *map(str, folders)], capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 0, run.stderr[-2000:]
    originals = len(list((folders[0] / "data" / "JPEGImages").iterdir()))
    for folder in folders:
        assert sorted(path.name for path in folder.iterdir()) == ["data", "out"]
        manifest = json.loads((folder / "out" / "augment.json").read_text())
        written = [entry for entry in manifest["outputs"] if "dropped" not in entry]  # a copy may be given up
        assert len(written) > originals / 2
        assert len(list((folder / "out" / "JPEGImages").iterdir())) == originals + len(written)
