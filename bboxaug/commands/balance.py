"""`bboxaug balance`: plan the new images each image of the balanced splits gets
(`bboxaug.balancing.plan`), make the copies with the augmentation engine and, with copy-paste, the paste images;
then write the plan, the before/after table and the chart beside the output."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bboxaug.augmentation.policy import load_policy
from bboxaug.balancing.paste import Placement, pasted_boxes
from bboxaug.balancing.paste_pixels import PasteJob, make_paste
from bboxaug.balancing.plan import MAX_COPIES, BalancePlan, plan_balance
from bboxaug.core import codes
from bboxaug.core.errors import ImageError, UsageError
from bboxaug.core.model import Dataset, ImageRecord
from bboxaug.core.report import OnError, Report
from bboxaug.formats.base import Format
from bboxaug.inspection.balance_chart import chart_png
from bboxaug.io.files import atomic_write_bytes
from bboxaug.io.names import paste_name
from bboxaug.pipeline.copies import AugmentResult, Plan, run_augmentation
from bboxaug.pipeline.parallel import iter_parallel
from bboxaug.pipeline.prepare import prepare, rename_collisions
from bboxaug.pipeline.source import read_source

BALANCE_FILE = "balance.json"


CHART_FILE = "balance.png"


@dataclass
class BalanceResult:
    """The plan (with the counts written, unless a dry run) and, unless a dry run, the run's result."""

    plan: BalancePlan
    report: Report
    run: AugmentResult | None = None


def balance(src: Path | str, dst: Path | str, *, target: int | Literal["max"] | None = "max",
            ratio: float | None = None, policy: str | Path | dict[str, Any] = "auto", max_copies: int = MAX_COPIES,
            paste: bool = False, splits: Sequence[str] = ("train",), seed: int = 0, jobs: int = 1,
            to: str | None = None, fmt_from: str | None = None, image_dir: Path | str | None = None,
            quality: int = 95, on_error: OnError = "fail", overwrite: bool = False, resume: bool = False,
            progress: bool = False, dry_run: bool = False) -> BalanceResult:
    """Balance the classes of `splits` of the dataset at `src` into the new folder `dst`: the originals of every
    split plus augmented copies (and with `paste`, images with rare objects pasted in) of the balanced splits.

    `dst/balance.json` holds the plan, the before/planned/written table per class, what was left unmet and why,
    and the warnings; `dst/balance.png` charts the counts. `dry_run` plans and writes nothing.
    """
    if target is None and ratio is None:
        raise UsageError("give a target (a number of instances or 'max'), a ratio, or both")
    if target is not None and target != "max" and (not isinstance(target, int) or target < 1):
        raise UsageError(f"target must be 'max' or a positive number of instances, not {target!r}")
    if ratio is not None and not ratio >= 1:
        raise UsageError(f"ratio must be at least 1, not {ratio}")
    if max_copies < 0:
        raise UsageError(f"max_copies must be 0 or more, not {max_copies}")
    if not splits:
        raise UsageError("name at least one split to balance")
    chosen = None if policy == "auto" else load_policy(policy)  # every policy mistake before any image is read
    options = {"target": target, "ratio": ratio, "max_copies": max_copies, "paste": paste, "splits": list(splits)}
    made: list[BalancePlan] = []

    def planner(dataset: Dataset, report: Report) -> Plan:
        made.append(plan_balance(dataset, **options, seed=seed))  # type: ignore[arg-type]
        for split in made[-1].splits:
            for warning in split.few:
                report.warn(split.split, warning["class"], warning["message"], codes.FEW_INSTANCES)
        return Plan(made[-1].copies, made[-1].required, made[-1])

    if dry_run:
        _, target_format, dataset, report = read_source(Path(src), to=to, fmt_from=fmt_from, image_dir=image_dir,
                                                        on_error=on_error)
        planner(prepare(dataset, target_format, report, jobs=max(jobs, 1), progress=progress), report)
        return BalanceResult(made[-1], report)

    def finish(prepared: Dataset, written: Dataset, plan: Plan, staging: Path, target_format: Format,
               report: Report) -> tuple[Dataset, dict[str, Any], list[dict[str, Any]]]:
        written, outputs = write_pastes(plan.extra.pastes, written, staging, target_format, report,
                                        quality=quality, jobs=jobs, progress=progress)
        plan.extra.measure(written)
        atomic_write_bytes(staging / CHART_FILE, chart_png(plan.extra))
        return written, {"balance": plan.extra.to_json()}, outputs

    run = run_augmentation(Path(src), Path(dst), policy=chosen, plan=planner, settings={"balance": options},
                           manifest=BALANCE_FILE, finish=finish, to=to, fmt_from=fmt_from, image_dir=image_dir,
                           seed=seed, jobs=jobs, resume=resume, quality=quality, on_error=on_error,
                           overwrite=overwrite, progress=progress)
    return BalanceResult(made[-1], run.report, run)


def write_pastes(pastes: list[tuple[ImageRecord, int, list[Placement]]], written: Dataset, staging: Path,
                 target: Format, report: Report, *, quality: int, jobs: int, progress: bool
                 ) -> tuple[Dataset, list[dict[str, Any]]]:
    """Write the paste images (host, index among the host's paste images, placements) into `staging`, named
    `<stem>_paste<k>.<ext>` (renamed where taken), on `jobs` workers; add them to the written dataset; return it
    with the manifest entry of each."""
    placeholders = [host.replace(name=paste_name(host.name, index)) for host, index, _ in pastes]
    named = rename_collisions(written.replace(images=(*written.images, *placeholders)), target, report).images
    todo = [PasteJob(host, index, record.name, target.image_path(record.split, record.name), tuple(placements))
            for (host, index, placements), record in zip(pastes, named[len(written.images):])]
    worker = functools.partial(make_paste, root=str(staging), quality=quality)
    problems = list(iter_parallel(worker, todo, jobs=jobs, prefer="processes", description="pasting",
                                  progress=progress, writes_into=staging))
    records, outputs = [], []
    for job, problem in zip(todo, problems):
        if problem is not None:
            with report.item():
                raise ImageError(problem.message, file=problem.file, field=problem.field, code=problem.code)
            continue
        size = (int(job.host.width), int(job.host.height))  # type: ignore[arg-type]
        records.append(ImageRecord(job.name, job.host.split, size[0], size[1],
                                   pasted_boxes(job.host.boxes, list(job.placements), size), staging / job.path))
        outputs.append({"image": job.key, "source": f"{job.host.split}/{job.host.name}", "paste": job.index,
                        "objects": [placement.to_json() for placement in job.placements]})
        report.count("paste_images_written")
        report.count("objects_pasted", len(job.placements))
    return written.replace(images=(*written.images, *records)), outputs
