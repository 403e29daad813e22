"""Freed arrays go back to the system once the CLI has set glibc's mapping threshold."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

SCRIPT = """
import numpy as np
from bboxaug.runtime.memory import release_freed_arrays

def rss():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS")) // 1024

print(release_freed_arrays() if {release} else "off")
big = np.ones(16 << 20, dtype=np.uint8); del big  # raises glibc's threshold to 16 MB when left alone
parts = [np.ones(4 << 20, dtype=np.uint8) for _ in range(120)]  # 480 MB in 4 MB arrays
before = rss()
del parts[::2]  # every other one: the freed ones lie between arrays still in use
print(before - rss())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc: Linux only")
def test_freed_arrays_leave_the_process_only_with_the_setting() -> None:
    def freed(release: bool) -> tuple[str, int]:
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT.format(release=release)], capture_output=True, text=True, cwd=REPO, check=True
        ).stdout.split()
        return out[0], int(out[1])

    taken, returned = freed(True)
    _, kept_by_default = freed(False)
    assert taken == "True" and returned > 200, "the 240 MB freed leave the process"
    assert kept_by_default < 50, "without it glibc keeps them in the heap (the effect the setting exists for)"


IMAGE_WORK = """
import numpy as np
from bboxaug.runtime.memory import image_work_memory, release_freed_arrays

def rss():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS")) // 1024

def free_every_other():
    parts = [np.ones(4 << 20, dtype=np.uint8) for _ in range(120)]  # 480 MB in 4 MB arrays
    before = rss()
    del parts[::2]
    return before - rss(), parts

release_freed_arrays()
start = rss()
with image_work_memory():
    returned_inside, parts = free_every_other()
    del parts[10:]  # 40 MB still in use, 440 MB freed
print(returned_inside, rss() - start, free_every_other()[0])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc: Linux only")
def test_image_work_keeps_its_buffers_and_gives_them_back_when_done() -> None:
    out = subprocess.run([sys.executable, "-c", IMAGE_WORK], capture_output=True, text=True, cwd=REPO, check=True)
    returned_inside, grown, returned_after = map(int, out.stdout.split())
    assert returned_inside < 50, "inside, freed image buffers stay in the heap for the next copy"
    assert grown < 40 + 30, "once done, the process holds the 40 MB still in use, not the 440 MB freed"
    assert returned_after > 200, "after, freed arrays leave the process again at once"
