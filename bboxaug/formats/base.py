"""What a format adapter provides: the `Format` record every adapter module exports as `FORMAT`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bboxaug.core.errors import UsageError
from bboxaug.core.model import ClassInfo, Dataset, ImageRecord, name_stem
from bboxaug.core.report import Report


class Reader(Protocol):
    def __call__(self, src: Path, *, report: Report, image_dir: Path | None = None, jobs: int = 1) -> Dataset: ...


def stem_in_split(split: str, name: str) -> str:
    """The annotation key of a layout with one annotation file per image stem in each split (YOLO labels,
    Labelme JSON, DOTA `labelTxt`, mask PNGs): `a/b.jpg` and `a/b.png` of one split would share a file."""
    return f"{split}/{name_stem(name)}"


def names_only(classes: Sequence[ClassInfo]) -> list[int | None]:
    """`Format.class_ids` of a format that stores class names, not ids."""
    return [None] * len(classes)


#: Options a format's reader takes beyond the common ones, by name (the masks format's `threshold` ...).
ReadOptions = Mapping[str, Any]


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
    - `read_with(options)`: the reader with the format's own reader options bound (`reader`), for a format that
      takes any (masks: the class of binary masks, the threshold ...); None for the others.
    - `tasks`: for a format whose labels say different things (YOLO: detect, segment), the writer of each; `write`
      chooses by itself, `for_task` gives the format writing one of them.
    - `keeps_oriented`: the format writes oriented boxes (the `obb` column); the others get the enclosing
      upright box, which `xyxy` already is, and the conversion counts them.
    - `choose_task(dataset)`: the task written when none is asked for (YOLO: obb, segment or detect, by what the
      boxes hold); `oriented_task`: the task whose lines hold oriented boxes.
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
    read_with: Callable[[ReadOptions], Reader] | None = None
    tasks: Mapping[str, Writer] = field(default_factory=dict, compare=False)
    keeps_oriented: bool = False
    choose_task: Callable[[Dataset], str] | None = None
    oriented_task: str | None = None

    def reader(self, options: ReadOptions | None = None) -> Reader:
        """`read`, or the reader `options` configure; options given to a format that takes none (those left
        None aside) are a usage error naming them."""
        given = {name: value for name, value in (options or {}).items() if value is not None}
        if not given:
            return self.read
        if self.read_with is None:
            raise UsageError(f"reader options {', '.join(sorted(given))} do not apply to the {self.name} format")
        return self.read_with(given)

    def for_task(self, task: str | None) -> Format:
        """This format writing the labels of `task` (None: as `write` chooses); UsageError for a task it has not."""
        if task is None:
            return self
        if task not in self.tasks:
            offered = f"tasks {', '.join(self.tasks)}" if self.tasks else "one kind of label"
            raise UsageError(f"the {self.name} format has no task {task!r}: it writes {offered}")
        oriented = self.keeps_oriented or task == self.oriented_task
        return dataclasses.replace(self, write=self.tasks[task], keeps_oriented=oriented)
