"""The check that the splits a command did not augment (or balance) are written exactly as a plain conversion
writes them: the same image bytes as the source, the same boxes, and the same annotation files, byte for byte."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bboxaug.commands.convert import convert
from bboxaug.pipeline.source import load


def check_untouched(src: Path, dst: Path, kept: list[str], changed: list[str], tmp: Path, *, to: str) -> None:
    """The splits `kept` of `dst` (written in format `to` from `src`): every image the same bytes as in the
    source, with the same boxes (coordinates and labels) as a plain conversion writes, and every file of that
    conversion that does not name a `changed` split (`ImageSets/Main/train.txt`, `instances_train.json`,
    `labels/train/...`) present in `dst` with the same bytes."""
    plain = tmp / f"plain-{to}"
    convert(src, plain, to=to)
    reference, written, source = load(plain, fmt=to), load(dst, fmt=to), load(src)
    for split in kept:
        expected = {image.name: image for image in reference.in_split(split)}
        got = {image.name: image for image in written.in_split(split)}
        assert sorted(got) == sorted(expected) and got, split
        originals = {image.name: image for image in source.in_split(split)}
        for name, image in got.items():
            assert image.source.read_bytes() == originals[name].source.read_bytes(), name
            assert np.array_equal(image.boxes.xyxy, expected[name].boxes.xyxy), name
            assert np.array_equal(image.boxes.labels, expected[name].boxes.labels), name
    compared = 0
    for file in sorted(plain.rglob("*")):
        relative = file.relative_to(plain).as_posix()
        if file.is_dir() or relative == "convert.json" or any(split in relative for split in changed):
            continue
        assert (dst / relative).read_bytes() == file.read_bytes(), relative
        compared += 1
    assert compared > len(kept), "no annotation file compared"
