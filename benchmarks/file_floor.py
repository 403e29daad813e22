#!/usr/bin/env python3
"""The file-system floor of a YOLO label writer: how long it takes to create N small files in one folder.

A COCO -> YOLO conversion of N images writes N label files, so its time per image can grow with N for reasons
that are the file system's, not the converter's. This script writes ``--files`` files (each 380 bytes, ten
label lines) into one new folder below ``--folder`` with bare ``os.open``/``os.write``/``os.close`` calls, the
least any writer must do, and prints the time per file; then removes them (timed apart). Run it for 180,000 and
1,800,000 files (the label files of the 200k and 2M scale sets) on the disk and on tmpfs to see whether the
medium itself is linear.

Usage::

    python benchmarks/file_floor.py --folder /var/tmp --files 180000,1800000
    python benchmarks/file_floor.py --folder /dev/shm --files 180000,1800000
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

LINE = b"3 0.512345 0.412345 0.100000 0.200000\n"
NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC


def write_files(folder: Path, count: int) -> float:
    """Seconds to create `count` files of ten label lines in `folder` (which must be empty)."""
    data = LINE * 10
    start = time.perf_counter()
    for i in range(count):
        handle = os.open(f"{folder}/img_{i:08d}.txt", NEW_FILE, 0o666)
        os.write(handle, data)
        os.close(handle)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, required=True, help="where the test folder is made")
    parser.add_argument("--files", default="180000,1800000", help="file counts, comma-separated")
    args = parser.parse_args()
    print("| folder | files | seconds | µs per file | removal s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for count in (int(value) for value in args.files.split(",")):
        folder = args.folder / f"bboxaug-file-floor-{count}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        seconds = write_files(folder, count)
        start = time.perf_counter()
        shutil.rmtree(folder)
        removal = time.perf_counter() - start
        print(f"| {args.folder} | {count} | {seconds:.2f} | {seconds / count * 1e6:.1f} | {removal:.1f} |", flush=True)


if __name__ == "__main__":
    main()
