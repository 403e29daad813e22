"""Convert a dataset from one format to another (or write one held in memory), keeping the rules every write
keeps (`bboxaug.pipeline.prepare`), and record what happened in `convert.json` in the output."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bboxaug.core.errors import UsageError
from bboxaug.core.model import Dataset
from bboxaug.core.report import OnError, Report
from bboxaug.io.files import IMAGE_MODES, ImageMode
from bboxaug.pipeline.classes import ClassOps, Target, class_operations
from bboxaug.pipeline.filters import Filters
from bboxaug.pipeline.output import place_images
from bboxaug.pipeline.run import Context, Output, Written, run
from bboxaug.pipeline.source import Source
from bboxaug.preprocessing.steps import Preprocessing, PreprocessSpec
from bboxaug.runtime.gcpause import gc_paused

CONVERT_MANIFEST = "convert.json"


@dataclass(frozen=True)
class ConvertStep:
    """The dataset as it is, its images copied, linked or left out (`images`)."""

    images: ImageMode = "copy"
    manifest: str | None = CONVERT_MANIFEST
    resumable: bool = False
    scratch: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.images not in IMAGE_MODES:
            raise UsageError(f"images must be one of {', '.join(IMAGE_MODES)}, not {self.images!r}")

    def plan(self, dataset: Dataset, context: Context) -> None:
        return None

    def settings(self, plan: None, context: Context) -> dict[str, Any]:
        return {}

    def run(self, plan: None, dataset: Dataset, context: Context) -> list[Written]:
        output = context.output
        placed = place_images(
            dataset,
            context.target,
            context.root,
            self.images,
            context.report,
            jobs=output.jobs,
            progress=output.progress,
            preprocess=output.preprocess,
            quality=output.quality,
        )
        return [Written(placed)]


@dataclass
class SaveResult:
    """What `save` wrote: the dataset as written (renamed, clipped, sized) and the report."""

    dataset: Dataset
    report: Report
    classes: list[dict[str, Any]] = field(default_factory=list)


def save(
    dataset: Dataset,
    dst: Path | str,
    *,
    to: str,
    images: ImageMode = "copy",
    report: Report | None = None,
    keep_crowd: bool = False,
    task: str | None = None,
    overwrite: bool = False,
    jobs: int = 1,
    progress: bool = False,
) -> SaveResult:
    """Write `dataset` in format `to` into the new folder `dst`, atomically: everything goes into a temporary
    folder beside `dst`, which is renamed to `dst` only when complete. No manifest is written. (`to` names the
    format written, as in `convert`; `fmt` always names the format read, as in `load`; `task` as in `convert`.)"""
    source = Source(dataset, report=report)
    output = Output(Path(dst), to, overwrite=overwrite, jobs=jobs, progress=progress, keep_crowd=keep_crowd, task=task)
    result = run(ConvertStep(images, manifest=None), source, output)
    return SaveResult(result.written[0].dataset, result.report, result.classes)


@dataclass
class ConvertResult:
    """A finished conversion: the formats, the dataset as written, and what happened on the way."""

    source_format: str | None
    target_format: str
    dataset: Dataset
    report: Report
    classes: list[dict[str, Any]]


@gc_paused()
def convert(
    src: Path | str,
    dst: Path | str,
    *,
    to: str,
    fmt_from: str | None = None,
    image_dir: Path | str | None = None,
    read_options: Mapping[str, Any] | None = None,
    images: ImageMode = "copy",
    on_error: OnError = "fail",
    class_map: Mapping[str, Target] | Path | str | None = None,
    class_ops: ClassOps | None = None,
    filters: Filters | None = None,
    keep_crowd: bool = False,
    task: str | None = None,
    overwrite: bool = False,
    jobs: int = 1,
    progress: bool = False,
    preprocess: PreprocessSpec = None,
    quality: int = 95,
) -> ConvertResult:
    """Convert the dataset at `src` to format `to` in the new folder `dst`, writing `convert.json` beside it.
    `class_map` (a mapping or a YAML/JSON file, see `bboxaug.pipeline.classes`) is short for
    `class_ops=ClassOps.of(class_map)`; `filters` drop small boxes, negatives and empty classes; `task` says
    what a YOLO target's lines hold (`detect`, `obb`; None: obb when every box has an oriented box). With
    `preprocess` steps every image is decoded, pre-processed and encoded (JPEG/WebP at `quality`) instead of
    copied, and the boxes follow. `task` says what the labels hold in formats that say it (YOLO: "detect" writes
    boxes, "segment" polygons; None: segment when every box has a polygon or mask, else detect)."""
    source = Source.at(
        src,
        fmt_from,
        image_dir,
        on_error,
        class_operations(class_map, class_ops),
        filters=filters,
        read_options=read_options,
    )
    output = Output(
        Path(dst),
        to,
        overwrite=overwrite,
        jobs=jobs,
        progress=progress,
        keep_crowd=keep_crowd,
        quality=quality,
        preprocess=Preprocessing.of(preprocess),
        task=task,
    )
    result = run(ConvertStep(images), source, output)
    return ConvertResult(
        result.source_format, result.target_format, result.written[0].dataset, result.report, result.classes
    )
