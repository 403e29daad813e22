"""`bboxaug balance`: plan the new images each image of the balanced splits gets
(`bboxaug.balancing.plan`), make the copies with the augmentation engine and, with copy-paste, the paste images;
then write the plan, the before/after table and the chart beside the output."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bboxaug.augmentation.policy import load_policy
from bboxaug.augmentation.spec import Policy
from bboxaug.augmentation.worker import PROGRESS
from bboxaug.balancing.paste import Placement, pasted_boxes
from bboxaug.balancing.paste_pixels import PasteJob, make_paste
from bboxaug.balancing.plan import MAX_COPIES, BalancePlan, plan_balance
from bboxaug.commands.augment import AugmentResult, PolicySpec, choose_policy, preprocessing_for
from bboxaug.core import codes
from bboxaug.core.errors import ImageError, UsageError
from bboxaug.core.model import Dataset, ImageRecord
from bboxaug.core.report import OnError, Report
from bboxaug.core.splits import TRAIN, split_names
from bboxaug.inspection.balance_chart import chart_png
from bboxaug.io.files import atomic_write_bytes
from bboxaug.io.names import paste_name
from bboxaug.pipeline.classes import ClassOps
from bboxaug.pipeline.copies import CopyCounts, make_all_copies
from bboxaug.pipeline.filters import Filters
from bboxaug.pipeline.prepare import OutputNames
from bboxaug.pipeline.run import Context, Output, Written, run
from bboxaug.pipeline.source import Source
from bboxaug.preprocessing.steps import PreprocessSpec
from bboxaug.runtime.parallel import iter_parallel

BALANCE_MANIFEST = "balance.json"
BALANCE_CHART = "balance.png"


@dataclass(frozen=True)
class BalanceOptions:
    """What every class should reach, and what may be done to get there (see `balance`)."""

    target: int | Literal["max"] | None = "max"
    ratio: float | None = None
    max_copies: int = MAX_COPIES
    paste: bool = False
    splits: tuple[str, ...] = (TRAIN,)

    def __post_init__(self) -> None:
        target, ratio = self.target, self.ratio
        if target is None and ratio is None:
            raise UsageError("give a target (a number of instances or 'max'), a ratio, or both")
        if target is not None and target != "max" and (not isinstance(target, int) or target < 1):
            raise UsageError(f"target must be 'max' or a positive number of instances, not {target!r}")
        if ratio is not None and not ratio >= 1:
            raise UsageError(f"ratio must be at least 1, not {ratio}")
        if self.max_copies < 0:
            raise UsageError(f"max_copies must be 0 or more, not {self.max_copies}")
        if not self.splits:
            raise UsageError("name at least one split to balance")

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "ratio": self.ratio,
            "max_copies": self.max_copies,
            "paste": self.paste,
            "splits": list(self.splits),
        }


@dataclass(frozen=True)
class BalanceRun:
    """The policy the new images are made with, and the balancing plan."""

    policy: Policy
    plan: BalancePlan


@dataclass(frozen=True)
class BalanceStep:
    """The originals of every split plus the planned copies and paste images of the balanced splits."""

    policy: Policy | None
    options: BalanceOptions
    seed: int = 0
    manifest: str = BALANCE_MANIFEST
    resumable: bool = True
    scratch: tuple[str, ...] = (PROGRESS,)

    def plan(self, dataset: Dataset, context: Context) -> BalanceRun:
        options = self.options
        plan = plan_balance(
            dataset,
            target=options.target,
            ratio=options.ratio,
            max_copies=options.max_copies,
            splits=options.splits,
            paste=options.paste,
            seed=self.seed,
        )
        for split in plan.splits:
            for warning in split.few:
                context.report.warn(split.split, warning["class"], warning["message"], codes.FEW_INSTANCES)
        return BalanceRun(choose_policy(self.policy, dataset), plan)

    def settings(self, plan: BalanceRun, context: Context) -> dict[str, Any]:
        return {
            "policy": plan.policy.to_json(),
            "seed": self.seed,
            "balance": self.options.to_json(),
            "originals": True,
            "quality": context.output.quality,
        }

    def run(self, plan: BalanceRun, dataset: Dataset, context: Context) -> list[Written]:
        balance = plan.plan
        written, copy_entries = make_all_copies(
            dataset, CopyCounts.by_key(dataset, balance.copies, balance.required), plan.policy, context, seed=self.seed
        )
        written, paste_entries = write_pastes(balance.pastes, written, context)
        balance.measure(written)
        atomic_write_bytes(context.root / BALANCE_CHART, chart_png(balance))
        return [Written(written, {"balance": balance.to_json()}, itertools.chain(copy_entries, paste_entries))]


@dataclass
class BalanceResult:
    """The plan (with the counts written, unless a dry run) and, unless a dry run, the run's result."""

    plan: BalancePlan
    report: Report
    run: AugmentResult | None = None


def balance(
    src: Path | str,
    dst: Path | str,
    *,
    target: int | Literal["max"] | None = "max",
    ratio: float | None = None,
    policy: PolicySpec = "auto",
    max_copies: int = MAX_COPIES,
    paste: bool = False,
    splits: str | Sequence[str] = TRAIN,
    seed: int = 0,
    jobs: int = 1,
    to: str | None = None,
    fmt_from: str | None = None,
    image_dir: Path | str | None = None,
    read_options: Mapping[str, Any] | None = None,
    quality: int = 95,
    on_error: OnError = "fail",
    class_ops: ClassOps | None = None,
    filters: Filters | None = None,
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = False,
    dry_run: bool = False,
    preprocess: PreprocessSpec = None,
    task: str | None = None,
) -> BalanceResult:
    """Balance the classes of `splits` of the dataset at `src` into the new folder `dst`: the originals of every
    split plus augmented copies (and with `paste`, images with rare objects pasted in) of the balanced splits.
    `splits` names splits (a list, or comma-separated), or is `all`; a dataset with one split only is its own
    train split.

    `dst/balance.json` holds the plan, the before/planned/written table per class, what was left unmet and why,
    and the warnings; `dst/balance.png` charts the counts. `dry_run` plans and writes nothing. `preprocess`
    steps (or the policy's `preprocess` list) are applied to every image of every split first.
    `class_ops` and `filters` rename, merge and drop classes and filter boxes and images first.
    """
    options = BalanceOptions(target, ratio, max_copies, paste, split_names(splits))
    chosen = None if policy == "auto" else load_policy(policy)  # every policy mistake before any image is read
    steps = preprocessing_for(preprocess, chosen)
    source = Source.at(src, fmt_from, image_dir, on_error, class_ops, filters=filters, read_options=read_options)
    output = Output(
        Path(dst),
        to,
        overwrite=overwrite,
        resume=resume,
        jobs=jobs,
        progress=progress,
        quality=quality,
        preprocess=steps,
        task=task,
    )
    result = run(BalanceStep(chosen, options, seed), source, output, dry_run=dry_run)
    balanced = [split.split for split in result.plan.plan.splits]
    made = None if dry_run else AugmentResult.of(result, result.plan.policy, balanced, steps)
    return BalanceResult(result.plan.plan, result.report, made)


def write_pastes(
    pastes: list[tuple[ImageRecord, int, list[Placement]]], written: Dataset, context: Context
) -> tuple[Dataset, list[dict[str, Any]]]:
    """Write the paste images (host, index among the host's paste images, placements) into the staging folder,
    named `<stem>_paste<k>.<ext>` (renamed where taken), on every worker; add them to the written dataset, still
    stored; return it with the manifest entry of each."""
    target, report, output, staging = context.target, context.report, context.output, context.root
    names = OutputNames(target, report)
    for image in written.images:  # streamed: the copies' records are built one job at a time
        names.claim(image)
    todo = []
    for host, index, placements in pastes:
        record = names.claim(host.replace(name=paste_name(host.name, index)))
        todo.append(PasteJob(host, index, record.name, target.image_path(record.split, record.name), tuple(placements)))
    worker = functools.partial(make_paste, root=str(staging), quality=output.quality, preprocess=output.preprocess)
    problems = list(
        iter_parallel(
            worker,
            todo,
            jobs=output.jobs,
            prefer="processes",
            description="pasting",
            progress=output.progress,
            writes_into=staging,
        )
    )
    records, outputs = [], []
    for job, problem in zip(todo, problems, strict=True):
        if problem is not None:
            with report.item():
                raise ImageError(problem.message, file=problem.file, field=problem.field, code=problem.code)
            continue
        size = job.host.known_size()
        records.append(
            ImageRecord(
                job.name,
                job.host.split,
                size[0],
                size[1],
                pasted_boxes(job.host.boxes, list(job.placements), size),
                staging / job.path,
            )
        )
        outputs.append(
            {
                "image": job.key,
                "source": job.host.key,
                "paste": job.index,
                "objects": [placement.to_json() for placement in job.placements],
            }
        )
        report.count("paste_images_written")
        report.count("objects_pasted", len(job.placements))
    return written.appended(records), outputs
