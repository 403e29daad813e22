"""What a format adapter provides: the `Format` record every adapter module exports as `FORMAT`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bboxaug.core.model import ClassInfo, Dataset, ImageRecord
from bboxaug.core.report import Report


class Reader(Protocol):
    def __call__(self, src: Path, *, report: Report, image_dir: Path | None = None, jobs: int = 1) -> Dataset: ...


def names_only(classes: Sequence[ClassInfo]) -> list[int | None]:
    """`Format.class_ids` of a format that stores class names, not ids."""
    return [None] * len(classes)


class Writer(Protocol):
    def __call__(self, dataset: Dataset, dst: Path, *, report: Report, jobs: int = 1) -> None: ...


@dataclass(frozen=True)
class Format:
    """One annotation format: pure parse/format logic lives in its module; this record is what the rest sees.

    - `read(src, report=, image_dir=, jobs=1)` reads a file or folder into the model (per-item errors go through
      `report.item()`); `image_dir` points at the images when they are not where the layout puts them. A reader
      whose per-file work is independent (VOC's XML files) spreads it over `jobs` worker processes through
      `bboxaug.runtime.parallel`; the others read in this process. The dataset and report are the same for any `jobs`.
    - `write(dataset, dst, report=, jobs=1)` writes the annotation files under the folder `dst` (images are placed
      by `bboxaug.pipeline.output.place_images`, at `image_path`). It never changes `dataset`. A writer of one
      file per image (YOLO) may share the files out over `jobs` worker processes; the files are the same.
    - `detect(path)` says whether `path` looks like this format (cheap: a few files are peeked at).
    - `image_path(split, name)` is where the layout puts an image, relative to the dataset root.
    - `annotation_key(split, name)` names the annotation slot an image owns in the layout (its label or XML
      file); two images with the same key would overwrite each other, so the later one is renamed.
    - `keeps_crowd`: the format can mark crowd regions; others drop `iscrowd` boxes unless asked to keep them.
    - `class_ids(classes)`: the id each class gets when written (None for formats that store names only); the
      conversion report records it, so any remap is written down.
    - `tolerance(image)`: how far, in pixels, a coordinate may move in one write and read back.
    - `keeps_oriented`: the format writes oriented boxes (the `obb` column); the others get the enclosing
      upright box, which `xyxy` already is, and the conversion counts them.
    - `with_task(task, dataset)`: for a format that writes one of several tasks (YOLO: `detect`, `obb`), the
      format writing `task` (None: the one this dataset calls for); None for a format with one task.
    """

    name: str
    description: str
    read: Reader
    write: Writer
    detect: Callable[[Path], bool]
    image_path: Callable[[str, str], str]
    annotation_key: Callable[[str, str], str]
    tolerance: Callable[[ImageRecord], float]
    keeps_crowd: bool = False
    class_ids: Callable[[Sequence[ClassInfo]], Sequence[int | None]] = names_only
    keeps_oriented: bool = False
    with_task: Callable[[str | None, Dataset], Format] | None = None
