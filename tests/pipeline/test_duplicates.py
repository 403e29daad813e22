"""Finding the images two merged sources share: only files of a size another source's file has are hashed, and
boxes are the same within a tolerance, in any order."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bboxaug.core.model import Boxes
from bboxaug.pipeline.duplicates import candidates, describe_difference, same_boxes


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_only_files_of_a_size_that_another_sources_file_has_are_candidates(tmp_path: Path) -> None:
    files = [
        write(tmp_path / "a", b"12345"),  # source 0: size 5, shared with source 1
        write(tmp_path / "b", b"123456"),  # source 0: size 6, shared only within source 0
        write(tmp_path / "c", b"654321"),  # source 0
        write(tmp_path / "d", b"abcde"),  # source 1: size 5
        write(tmp_path / "e", b"1234567"),  # source 1: size 7, alone
        None,  # source 1: no file (annotations only)
        tmp_path / "missing",  # source 1: a file that is not there
    ]
    assert candidates(files, np.array([0, 0, 0, 1, 1, 1, 1])) == [0, 3]
    assert candidates([None, None], np.array([0, 1])) == []


def test_boxes_are_the_same_in_any_order_within_the_tolerance_and_not_beyond() -> None:
    a = Boxes([[1, 2, 3, 4], [5, 6, 7, 8]], [0, 1])
    assert same_boxes(a, Boxes([[5, 6, 7, 8.4], [1.3, 2, 3, 4]], [1, 0]), tolerance=0.5)
    assert not same_boxes(a, Boxes([[5, 6, 7, 8.6], [1, 2, 3, 4]], [1, 0]), tolerance=0.5)
    assert not same_boxes(a, Boxes([[1, 2, 3, 4], [5, 6, 7, 8]], [0, 0]), tolerance=0.5)
    assert not same_boxes(a, Boxes([[1, 2, 3, 4]], [0]), tolerance=0.5)
    assert same_boxes(Boxes.empty(), Boxes.empty(), tolerance=0.0)


def test_a_difference_is_told_by_class_counts_or_else_by_corners() -> None:
    a = Boxes([[1, 2, 3, 4], [5, 6, 7, 8]], [0, 1])
    assert (
        describe_difference(a, Boxes([[1, 2, 3, 4]], [0]), ["car", "bus"]) == "{'car': 1, 'bus': 1} against {'car': 1}"
    )
    moved = Boxes([[1, 2, 3, 5], [5, 6, 7, 8]], [0, 1])
    assert describe_difference(a, moved, ["car", "bus"]) == "the same classes (2 boxes) at other corners"
