"""`bboxaug split`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bboxaug.cli.options import IMAGES, dataset_options, selection_options
from bboxaug.cli.summary import finish, preprocess_lines
from bboxaug.core.report import OnError
from bboxaug.io.files import ImageMode
from bboxaug.runtime.parallel import show_progress

if TYPE_CHECKING:
    from bboxaug.commands.split import SplitResult
    from bboxaug.pipeline.classes import ClassOps
    from bboxaug.pipeline.filters import Filters
    from bboxaug.preprocessing.steps import Preprocessing


def _ratios(ctx: click.Context, param: click.Parameter, value: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected numbers separated by commas, such as 0.8,0.1,0.1, not {value!r}") from None


def _names(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
    return () if value is None else tuple(part.strip() for part in value.split(","))


@click.command("split")
@click.option(
    "--ratios",
    default="0.8,0.1,0.1",
    show_default=True,
    callback=_ratios,
    metavar="R1,R2[,...]",
    help="Share of the images and of every class's boxes each split gets; they add up to 1.",
)
@click.option(
    "--names",
    callback=_names,
    metavar="N1,N2[,...]",
    help="The splits' names, one per ratio [default: train,val,test; train,val for two ratios].",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same splits, on any machine.")
@click.option(
    "--stratify/--random",
    "stratified",
    default=True,
    show_default=True,
    help="Balance every class's boxes and the images across the splits at once, or shuffle and cut.",
)
@click.option(
    "--group-by",
    "group_by",
    multiple=True,
    metavar="source|near-duplicates|REGEX",
    help="Images that go to one split together, besides those made from one source and files with the same bytes "
    "(always): near-duplicates (images that look the same), or REGEX searched in each image's name (its first "
    "group, or the whole match, is the key). Repeatable.",
)
@click.option(
    "--min-per-class",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Boxes of every class each split gets, where the class has enough (warned about where not).",
)
@click.option(
    "--from-splits",
    type=click.Choice(["all", "keep"]),
    default="all",
    show_default=True,
    help="all: split every image anew; keep: leave the images of the splits named after the first (val, test) "
    "where they are and share out the rest.",
)
@IMAGES
@selection_options()
@dataset_options(quality_of="images re-encoded (by --preprocess, or upright)")
def split_command(
    src: Path,
    dst: Path,
    ratios: tuple[float, ...],
    names: tuple[str, ...],
    seed: int,
    stratified: bool,
    group_by: tuple[str, ...],
    min_per_class: int,
    from_splits: str,
    images: ImageMode,
    class_ops: ClassOps | None,
    filters: Filters | None,
    to: str | None,
    fmt_from: str | None,
    image_dir: Path | None,
    read_options: Mapping[str, Any] | None,
    on_error: OnError,
    jobs: int,
    quality: int,
    preprocess: Preprocessing,
    task: str | None,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Cut the dataset at SRC into splits by --ratios, written with its images unchanged to the new folder DST.

    Each split gets its ratio of the images and of every class's boxes (--stratify), rare classes reach every
    split, and images that belong together never straddle two splits. DST/split.json gives each split's images,
    negatives and boxes per class, and how far each class's share is from the ratio.
    """
    from bboxaug.commands.split import SPLIT_MANIFEST, split

    result = split(
        src,
        dst,
        ratios=ratios,
        names=names or None,
        seed=seed,
        method="stratify" if stratified else "random",
        group_by=group_by,
        min_per_class=min_per_class,
        from_splits="keep" if from_splits == "keep" else "all",
        images=images,
        to=to,
        fmt_from=fmt_from,
        image_dir=image_dir,
        read_options=read_options,
        jobs=jobs,
        on_error=on_error,
        class_ops=class_ops,
        filters=filters,
        preprocess=preprocess,
        task=task,
        quality=quality,
        overwrite=overwrite,
        progress=show_progress(quiet),
    )
    finish(summary_lines(result, dst) + preprocess_lines(preprocess), result.report, dst / SPLIT_MANIFEST, quiet)


def summary_lines(result: SplitResult, dst: Path) -> list[str]:
    """The splits (images, negatives, boxes) and each class's boxes per split with its share, then the worst
    deviation of a class's share from its split's ratio."""
    from bboxaug.inspection.stats import aligned

    manifest = result.manifest
    planned: dict[str, dict[str, Any]] = manifest["planned"]
    settings = manifest["split"]
    total_images = sum(split["images"] for split in planned.values())
    rows: list[list[Any]] = [["split", "ratio", "images", "negatives", "boxes"]]
    for name, split in planned.items():
        rows.append(
            [
                name,
                f"{split['ratio']:g}",
                f"{split['images']} ({_percent(split['images'], total_images)})",
                split["negatives"],
                sum(split["boxes"].values()),
            ]
        )
    classes = list(next(iter(planned.values()))["boxes"]) if planned else []
    table: list[list[Any]] = [["class", "boxes", *planned]]
    for name in classes:
        total = sum(split["boxes"][name] for split in planned.values())
        table.append(
            [name, total, *(f"{s['boxes'][name]} ({_percent(s['boxes'][name], total)})" for s in planned.values())]
        )
    groups = manifest["groups"]
    how = "stratified" if settings["method"] == "stratify" else "random"
    lines = [
        f"split {result.source_format} -> {result.target_format} ({how}, seed {settings['seed']}): {dst}",
        f"  groups     {groups['count']} ({groups['images_grouped']} images share a group with others)",
        *(f"  {line}" for line in aligned(rows)),
        "",
        *(f"  {line}" for line in aligned(table)),
    ]
    worst = manifest["worst_deviation"]
    if worst is not None:
        lines.append(
            f"  worst class share off its ratio: {100 * worst['deviation']:+.1f} points "
            f"({worst['class']} in {worst['split']})"
        )
    return lines


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"
