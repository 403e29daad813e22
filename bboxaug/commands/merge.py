"""Merge several datasets, in any mix of formats, into one (`bboxaug.pipeline.join` says how classes, splits,
clashing names and duplicate images are joined), and record in `merge.json` where every class and image went."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bboxaug.commands.convert import ConvertStep
from bboxaug.core.model import Dataset
from bboxaug.core.report import OnError, Report
from bboxaug.formats import detect_format
from bboxaug.io.files import ImageMode
from bboxaug.pipeline.classes import ClassOps, Target, class_operations
from bboxaug.pipeline.filters import Filters
from bboxaug.pipeline.join import JoinedSource
from bboxaug.pipeline.run import Context, Output, Written, run
from bboxaug.pipeline.source import Source
from bboxaug.preprocessing.steps import Preprocessing, PreprocessSpec
from bboxaug.runtime.gcpause import gc_paused

MERGE_MANIFEST = "merge.json"


@dataclass(frozen=True)
class MergeStep:
    """The joined dataset written as it is (its images copied, linked or left out, as `ConvertStep` does), with
    the record of the join in the manifest."""

    images: ImageMode = "copy"
    manifest: str = MERGE_MANIFEST
    resumable: bool = False
    scratch: tuple[str, ...] = ()

    def plan(self, dataset: Dataset, context: Context) -> Mapping[str, Any]:
        """The record of the join: each source's classes and where they went, the duplicates, the renames."""
        return dict(context.source_notes.get("merge", {}))

    def settings(self, plan: Mapping[str, Any], context: Context) -> dict[str, Any]:
        return {}

    def run(self, plan: Mapping[str, Any], dataset: Dataset, context: Context) -> list[Written]:
        written = ConvertStep(self.images).run(None, dataset, context)
        return [Written(item.dataset, {"merge": plan}, folder=item.folder) for item in written]


@dataclass
class MergeResult:
    """A finished merge: the formats read and written, the dataset as written, the record of the join (`merge`
    in merge.json) and what happened on the way."""

    source_format: str | None
    target_format: str
    dataset: Dataset
    record: Mapping[str, Any]
    report: Report
    classes: list[dict[str, Any]] = field(default_factory=list)


def _source(item: Path | str | Source) -> Source:
    """A source given as a path, with its format detected now (the first one's is the default target)."""
    if isinstance(item, Source):
        return item
    path = Path(item)
    return Source.at(path, detect_format(path).name)


@gc_paused()
def merge(
    sources: Sequence[Path | str | Source],
    dst: Path | str,
    *,
    to: str | None = None,
    images: ImageMode = "copy",
    class_map: Mapping[str, Target] | Path | str | None = None,
    class_ops: ClassOps | None = None,
    filters: Filters | None = None,
    preprocess: PreprocessSpec = None,
    task: str | None = None,
    quality: int = 95,
    on_error: OnError = "fail",
    keep_crowd: bool = False,
    overwrite: bool = False,
    jobs: int = 1,
    progress: bool = False,
) -> MergeResult:
    """Merge the datasets at `sources` (paths, formats detected; or `Source`s naming a format or an image folder)
    into the new folder `dst`, in format `to` (default: the first source's), writing `merge.json` beside it.
    `class_map` (or `class_ops=ClassOps.of(class_map)`) renames, merges, drops and renumbers the joined classes,
    by their joined names; `filters` drop small boxes, negatives and empty classes; with `preprocess` steps every
    image is decoded, pre-processed and encoded (JPEG/WebP at `quality`) instead of copied."""
    parts = tuple(_source(item) for item in sources)
    target = to or (parts[0].fmt if parts else None)
    joined = JoinedSource(parts, class_operations(class_map, class_ops), filters, on_error, fields_for=target)
    output = Output(
        Path(dst),
        target,
        overwrite=overwrite,
        jobs=jobs,
        progress=progress,
        keep_crowd=keep_crowd,
        quality=quality,
        preprocess=Preprocessing.of(preprocess),
        task=task,
    )
    result = run(MergeStep(images), joined, output)
    return MergeResult(
        result.source_format,
        result.target_format,
        result.written[0].dataset,
        result.plan,
        result.report,
        result.classes,
    )
