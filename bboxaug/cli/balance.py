"""`bboxaug balance`, and the plan table it prints."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bboxaug.cli.options import copy_options, dataset_options, selection_options, splits_option
from bboxaug.cli.summary import class_map_lines, count_lines, preprocess_lines, problem_lines
from bboxaug.core.report import OnError
from bboxaug.preprocessing.steps import Preprocessing
from bboxaug.runtime.parallel import show_progress

if TYPE_CHECKING:
    from bboxaug.balancing.plan import BalancePlan
    from bboxaug.pipeline.classes import ClassOps
    from bboxaug.pipeline.filters import Filters


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_plan(plan: BalancePlan) -> str:
    """The terminal table of each balanced split: per class the instances and images before, the target, the
    planned count and what copies and pastes add, and the count written (once written); then the max/min ratio,
    the new images, and every target left unmet with what stopped it."""
    lines = []
    for split in plan.splits:
        written = all(row.after is not None for row in split.rows)
        lines.append(
            f"{split.split} ({split.images} images): target {split.rule}; at most {split.max_copies} new "
            "images from one image"
        )
        width = max([5, *(len(row.name) for row in split.rows)])
        header = (
            f"  {'class':<{width}}  {'before':>7}  {'images':>7}  {'target':>7}  {'planned':>7}  "
            f"{'+copies':>7}  {'+pasted':>7}"
        )
        lines.append(header + (f"  {'written':>7}" if written else ""))
        for row in split.rows:
            target = "-" if row.target is None else str(row.target)
            line = (
                f"  {row.name:<{width}}  {row.before:>7}  {row.images:>7}  {target:>7}  {row.planned:>7}  "
                f"{row.from_copies:>7}  {row.pasted:>7}"
            )
            lines.append(line + (f"  {row.after:>7}" if written else ""))
        ratios = split.ratios()
        lines.append(
            f"  max/min ratio {_number(ratios['before'])} before, {_number(ratios['planned'])} planned"
            + (f", {_number(ratios['after'])} written" if written else "")
            + f"; {split.copies} copies and {split.paste_images} paste images planned"
        )
        if split.unmet:
            lines.append("  not reached:")
            lines += [f"    {unmet['message']}" for unmet in split.unmet]
    return "\n".join(lines)


def warning_lines(plan: BalancePlan) -> list[str]:
    """The plain warnings about classes with few distinct instances."""
    return [f"warning: {few['message']}" for split in plan.splits for few in split.few]


def target_value(ctx: click.Context, param: click.Parameter, value: str | None) -> int | str | None:
    if value is None or value == "max":
        return value
    if not value.isdigit() or int(value) < 1:
        raise click.BadParameter(f"expected 'max' or a positive number of instances, not {value!r}")
    return int(value)


@click.command("balance")
@click.option(
    "--target",
    callback=target_value,
    metavar="N|max",
    help="Instances every class should reach: a number, or 'max' for as many as the largest class "
    "has (the default unless only --ratio is given).",
)
@click.option(
    "--ratio",
    type=click.FloatRange(min=1.0),
    help="Largest allowed max/min ratio of instances per class, the largest counted after balancing.",
)
@click.option(
    "--policy",
    "-p",
    default="auto",
    show_default=True,
    help="Augmentation of the copies: a preset (light, medium, heavy, auto) or a YAML/JSON file.",
)
@click.option(
    "--max-copies",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Most new images (copies and paste images) made from any one image.",
)
@click.option(
    "--paste", is_flag=True, help="When copies are not enough, paste rare objects into other images of the same split."
)
@splits_option("balance, each on its own")
@copy_options
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing.")
@selection_options()
@dataset_options(quality_of="the new images")
def balance_command(
    src: Path,
    dst: Path,
    target: int | str | None,
    ratio: float | None,
    policy: str,
    max_copies: int,
    paste: bool,
    splits: tuple[str, ...],
    seed: int,
    to: str | None,
    fmt_from: str | None,
    image_dir: Path | None,
    read_options: Mapping[str, Any] | None,
    quality: int,
    preprocess: Preprocessing,
    task: str | None,
    on_error: OnError,
    class_ops: ClassOps | None,
    filters: Filters | None,
    resume: bool,
    dry_run: bool,
    jobs: int,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Balance the classes of SRC's train split (or --splits) into the new folder DST.

    Plans how many augmented copies each image gets so every class reaches the target while the common
    classes grow as little as possible (at most --max-copies new images per image), then writes the
    originals of every split plus the new images. DST/balance.json holds the plan, the before/after table,
    what was left unmet and why; DST/balance.png charts the counts.
    """
    from bboxaug.commands.balance import BALANCE_CHART, BALANCE_MANIFEST, balance

    chosen: Any = "max" if target is None and ratio is None else target
    result = balance(
        src,
        dst,
        target=chosen,
        ratio=ratio,
        policy=policy,
        max_copies=max_copies,
        paste=paste,
        splits=splits,
        seed=seed,
        jobs=jobs,
        to=to,
        fmt_from=fmt_from,
        image_dir=image_dir,
        read_options=read_options,
        quality=quality,
        on_error=on_error,
        class_ops=class_ops,
        filters=filters,
        overwrite=overwrite,
        resume=resume,
        progress=show_progress(quiet),
        dry_run=dry_run,
        preprocess=preprocess,
        task=task,
    )
    for line in warning_lines(result.plan):
        click.echo(line, err=True)
    if dry_run:
        click.echo(format_plan(result.plan))
        click.echo(f"dry run: nothing written to {dst}")
        return
    run = result.run
    if not quiet and run is not None:
        lines = [f"balanced {run.source_format} -> {run.target_format}: {dst}", format_plan(result.plan)]
        lines += preprocess_lines(run.preprocess)
        lines += class_map_lines(result.report) + count_lines(result.report)
        lines += problem_lines("skipped", result.report.skipped)
        lines += [f"  plan       {dst / BALANCE_MANIFEST}", f"  chart      {dst / BALANCE_CHART}"]
        click.echo("\n".join(lines))
    if result.report.skipped:
        sys.exit(1)
