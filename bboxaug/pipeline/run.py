"""The one pipeline: source -> prepare -> plan -> run -> write -> publish. Every command is a `Step` run by `run`.

`run(step, source, output)`:
1. refuses an output that is, holds or lies inside the source, or that would replace something silently;
2. opens the source (its format given or detected, a dataset already in memory, or several sources joined into
   one by `bboxaug.pipeline.join`) and applies the class operations (`bboxaug.pipeline.classes`: rename, merge,
   drop, renumber);
3. prepares the dataset for the target format (`bboxaug.pipeline.prepare`: sizes from headers, boxes clipped,
   crowds dropped where the target cannot mark them, the filters of `bboxaug.pipeline.filters`, colliding names
   renamed), all counted in the report, checks that the target can number the classes as asked, and applies the
   pre-processing to its annotations (`bboxaug.pipeline.preprocess`; the step's workers apply it to the pixels of
   every image they decode);
4. asks the step for its plan (pure: no pixel is touched), and for the settings the manifest records;
5. opens the staging folder beside the output (resumable steps: `.DST.partial`, kept when a run fails, reused by
   `resume` when the settings are the same), and lets the step do its image work into it;
6. writes each dataset the step made with the target format, and its manifest: the common header (bboxaug
   version, source, formats, class operations, filters, the step's settings), the counts, the class table (and,
   when the classes changed, each source class's new class and id), the step's own keys and the report, with
   the per-image entries streamed;
7. publishes the staging folder as the output, atomically.

A step knows only its own work: nothing else opens a source, stages, writes a manifest header or publishes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from bboxaug.core.errors import UsageError
from bboxaug.core.model import Dataset
from bboxaug.core.report import Report
from bboxaug.core.version import __version__
from bboxaug.formats import for_task, get_format
from bboxaug.formats.base import Format
from bboxaug.pipeline.classes import check_class_ids
from bboxaug.pipeline.manifest import dataset_counts, write_manifest
from bboxaug.pipeline.output import Staging, check_destination, ensure_apart
from bboxaug.pipeline.prepare import class_moves, class_table, prepare
from bboxaug.pipeline.preprocess import preprocessed
from bboxaug.pipeline.source import Readable
from bboxaug.preprocessing.steps import NO_PREPROCESSING, Preprocessing
from bboxaug.runtime.memory import return_free_memory

PlanT = TypeVar("PlanT")


@dataclass(frozen=True)
class Output:
    """Where and how a run writes: the output folder, the target format (None: the source's), whether an old
    output may be replaced, whether an interrupted run is finished, the workers, whether to show progress,
    whether crowd regions are kept as boxes in formats that cannot mark them, the JPEG/WebP quality of the
    images a step encodes, the pre-processing every written image gets, and the task the target's labels are
    written for (YOLO: detect, segment or obb; None: the one the dataset calls for, see `Format.choose_task`)."""

    path: Path
    to: str | None = None
    overwrite: bool = False
    resume: bool = False
    jobs: int = 1
    progress: bool = False
    keep_crowd: bool = False
    quality: int = 95
    preprocess: Preprocessing = NO_PREPROCESSING
    task: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", self.path.absolute())  # workers may run in another folder
        if not 1 <= self.quality <= 100:
            raise UsageError(f"quality must be between 1 and 100, not {self.quality}")


@dataclass
class Context:
    """What a step sees of the run: the formats, the report, the output, and (while the step runs) the staging
    folder its files go into."""

    source: Readable
    source_format: str | None  # None for a dataset in memory
    target: Format
    report: Report
    output: Output
    staging: Path | None = None
    source_notes: Mapping[str, Any] = field(default_factory=dict)  # what opening the source did (a merge's record)

    @property
    def root(self) -> Path:
        """The staging folder; only a step's `run` writes there."""
        if self.staging is None:
            raise RuntimeError("the staging folder exists only while the step runs")
        return self.staging


@dataclass
class Written:
    """A dataset a step made, to be written with the target format into `folder` of the output (the output
    itself when ""), with the manifest keys that are the step's own and its per-image entries (streamed)."""

    dataset: Dataset
    manifest: Mapping[str, Any] = field(default_factory=dict)
    entries: Iterable[dict[str, Any]] | None = None
    folder: str = ""


class Step(Protocol[PlanT]):
    """One command's work. `manifest` names the JSON report written beside each dataset (None: none);
    `resumable` steps keep their staging folder when they fail, so `resume` can finish them; `scratch` names the
    folders in the staging folder that hold the step's work files, removed before the output is published."""

    @property
    def manifest(self) -> str | None: ...

    @property
    def resumable(self) -> bool: ...

    @property
    def scratch(self) -> tuple[str, ...]: ...

    def plan(self, dataset: Dataset, context: Context) -> PlanT:
        """What the step will make of the prepared dataset; touches no pixel and writes nothing."""
        ...

    def settings(self, plan: PlanT, context: Context) -> dict[str, Any]:
        """The step's settings: recorded in the manifest, and compared on resume."""
        ...

    def run(self, plan: PlanT, dataset: Dataset, context: Context) -> list[Written]:
        """Do the image work into `context.root` and return the datasets to write."""
        ...


@dataclass
class RunResult(Generic[PlanT]):
    """A finished (or, for a dry run, only planned) run."""

    source_format: str | None  # None for a dataset in memory
    target_format: str
    plan: PlanT
    report: Report
    written: list[Written] = field(default_factory=list)
    classes: list[dict[str, Any]] = field(default_factory=list)
    manifests: list[dict[str, Any]] = field(default_factory=list)


def run(step: Step[PlanT], source: Readable, output: Output, *, dry_run: bool = False) -> RunResult[PlanT]:
    """Run `step` from `source` to `output` through the pipeline's stages (see the module docstring); with
    `dry_run`, stop after the plan and write nothing."""
    if output.to is not None:
        get_format(output.to).for_task(output.task)  # an unknown target or task fails before anything is read
    for path in source.paths:
        ensure_apart(path, output.path)
    if not (dry_run or (step.resumable and output.resume)):
        check_destination(output.path, output.overwrite)
    opened = source.open(jobs=output.jobs, progress=output.progress)
    source_format, dataset, report = opened.fmt, opened.dataset, opened.report
    return_free_memory()  # each stage starts from what the dataset holds, not from the last stage's peak
    target_name = output.to or source_format
    if target_name is None:
        raise UsageError("name the format to write: a dataset in memory has none of its own")
    target = for_task(get_format(target_name), output.task, dataset)
    dataset = prepare(
        dataset,
        target,
        report,
        keep_crowd=output.keep_crowd,
        filters=source.filters,
        jobs=max(output.jobs, 1),
        progress=output.progress,
    )
    if source.class_ops is not None:
        check_class_ids(dataset, source.class_ops, target)
    dataset = preprocessed(dataset, output.preprocess, target, report)
    return_free_memory()
    context = Context(source, source_format, target, report, output, source_notes=opened.notes)
    plan = step.plan(dataset, context)
    return_free_memory()
    result = RunResult(source_format, target.name, plan, report)
    if dry_run:
        return result
    header = {
        "bboxaug": __version__,
        "source": source.describe(),
        "from": source_format,
        **({"read_options": opened.notes["read_options"]} if "read_options" in opened.notes else {}),
        "to": target.name,
        "class_ops": None if source.class_ops is None else source.class_ops.to_json(),
        "filters": None if source.filters is None else source.filters.to_json(),
        "preprocess": output.preprocess.to_json(),
        **({"task": output.task} if output.task else {}),
        **step.settings(plan, context),
    }
    with Staging(
        output.path,
        header,
        resumable=step.resumable,
        resume=output.resume,
        overwrite=output.overwrite,
        scratch=step.scratch,
    ) as staging:
        context.staging = staging
        result.written = step.run(plan, dataset, context)
        return_free_memory()
        for written in result.written:
            folder = staging / written.folder
            folder.mkdir(parents=True, exist_ok=True)
            target.write(written.dataset, folder, report=report, jobs=output.jobs)
            return_free_memory()
        result.classes = class_table(dataset, target)
        moved = {"class_map": class_moves(report.class_map, result.classes)} if report.class_map else {}
        manifest = step.manifest
        if manifest is not None:  # save() writes none, so it needs no counts either
            for written in result.written:  # after every write: the report is the whole run's
                document = {
                    **header,
                    **dataset_counts(written.dataset),
                    "classes": result.classes,
                    **moved,
                    **written.manifest,
                    **report.to_json(),
                    "codes": report.code_table(),
                }
                result.manifests.append(document)
                write_manifest(staging / written.folder / manifest, document, written.entries)
                return_free_memory()
    return result
