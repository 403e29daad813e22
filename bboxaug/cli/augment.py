"""`bboxaug augment`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bboxaug.cli.options import copy_options, dataset_options, selection_options, splits_option
from bboxaug.cli.summary import finish, preprocess_lines
from bboxaug.core.report import OnError
from bboxaug.preprocessing.steps import Preprocessing
from bboxaug.runtime.parallel import show_progress

if TYPE_CHECKING:
    from bboxaug.pipeline.classes import ClassOps
    from bboxaug.pipeline.filters import Filters


def splits_summary(augmented: Sequence[str], splits: Iterable[str]) -> str:
    """Which splits got copies and which were written as they are."""
    kept = [split for split in splits if split not in augmented]
    return f"{', '.join(augmented)} augmented" + (f"; {', '.join(kept)} written as is" if kept else "")


@click.command("augment")
@click.option(
    "--policy",
    "-p",
    default="auto",
    show_default=True,
    help="A preset (light, medium, heavy, auto: strength by dataset size) or a YAML/JSON policy file.",
)
@click.option(
    "--copies", "-n", type=click.IntRange(min=1), default=1, show_default=True, help="Augmented copies per image."
)
@splits_option("augment")
@copy_options
@click.option("--no-originals", is_flag=True, help="Leave out the originals of the augmented splits.")
@click.option("--dry-run", is_flag=True, help="Show the policy and how many images would be written; write nothing.")
@selection_options()
@dataset_options(quality_of="the copies")
def augment_command(
    src: Path,
    dst: Path,
    policy: str,
    copies: int,
    splits: tuple[str, ...],
    to: str | None,
    task: str | None,
    fmt_from: str | None,
    image_dir: Path | None,
    read_options: Mapping[str, Any] | None,
    seed: int,
    no_originals: bool,
    resume: bool,
    quality: int,
    preprocess: Preprocessing,
    on_error: OnError,
    class_ops: ClassOps | None,
    filters: Filters | None,
    dry_run: bool,
    jobs: int,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Write SRC plus N augmented copies of every image of the train split (or --splits) into the new folder DST;
    the other splits are written as they are.

    Boxes follow the pixels (polygons where the source has them), are clipped to the image, and are dropped below
    the policy's visibility and size thresholds. Copies are named <stem>_aug<k>.<ext> and stay in their source's
    split. DST/augment.json records the policy, the seed, the splits augmented, and every copy's source, seed and
    dropped boxes.
    """
    from bboxaug.augmentation.backends import get_backend
    from bboxaug.augmentation.policy import describe
    from bboxaug.commands.augment import augment, plan_augment
    from bboxaug.pipeline.copies import AUGMENT_MANIFEST

    if dry_run:
        plan = plan_augment(
            src,
            dst,
            policy=policy,
            copies=copies,
            to=to,
            task=task,
            fmt_from=fmt_from,
            image_dir=image_dir,
            read_options=read_options,
            on_error=on_error,
            class_ops=class_ops,
            filters=filters,
            jobs=jobs,
            preprocess=preprocess,
            splits=splits,
        )
        augmented, planned = int((plan.counts.copies > 0).sum()), int(plan.counts.copies.sum())
        originals = sum(plan.images.values()) - (augmented if no_originals else 0)
        click.echo(describe(plan.policy))
        click.echo(f"geometry: {get_backend(plan.policy.backend).geometry(plan.policy)}")
        if preprocess:
            click.echo(f"preprocess (every image, before the policy): {preprocess.describe()}")
        click.echo(
            f"would write {originals} originals and {planned} copies to {dst} "
            f"({splits_summary(plan.splits, plan.images)})"
        )
        return
    result = augment(
        src,
        dst,
        policy=policy,
        copies=copies,
        to=to,
        fmt_from=fmt_from,
        image_dir=image_dir,
        read_options=read_options,
        seed=seed,
        jobs=jobs,
        splits=splits,
        originals=not no_originals,
        resume=resume,
        quality=quality,
        on_error=on_error,
        class_ops=class_ops,
        filters=filters,
        overwrite=overwrite,
        progress=show_progress(quiet),
        preprocess=preprocess,
    )
    counts = result.counts
    finish(
        [
            f"augmented {result.source_format} -> {result.target_format} with {result.policy.source}: {dst}",
            f"  splits     {splits_summary(result.splits, counts['splits'])}",
            f"  images     {counts['images']} ({result.report.counts['copies_written']} copies)",
            f"  boxes      {counts['boxes']}",
            f"  negatives  {counts['negatives']}",
            *preprocess_lines(result.preprocess),
        ],
        result.report,
        dst / AUGMENT_MANIFEST,
        quiet,
    )
