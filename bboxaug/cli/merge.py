"""`bboxaug merge`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bboxaug.cli.options import (
    FORMAT_CHOICE,
    IMAGES,
    KEEP_CROWD,
    OVERWRITE,
    PREPROCESS,
    QUIET,
    TASK,
    jobs_option,
    on_error_option,
    selection_options,
)
from bboxaug.cli.summary import finish, preprocess_lines
from bboxaug.core.report import OnError
from bboxaug.io.files import ImageMode
from bboxaug.pipeline.manifest import dataset_counts
from bboxaug.runtime.parallel import show_progress

if TYPE_CHECKING:
    from bboxaug.commands.merge import MergeResult
    from bboxaug.pipeline.classes import ClassOps
    from bboxaug.pipeline.filters import Filters
    from bboxaug.preprocessing.steps import Preprocessing


@click.command("merge")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="SRC1 SRC2 ... DST")
@click.option("--to", "to", type=FORMAT_CHOICE, help="Format to write (default: SRC1's).")
@TASK
@IMAGES
@KEEP_CROWD
@selection_options()
@PREPROCESS
@click.option(
    "--quality",
    type=click.IntRange(1, 100),
    default=95,
    show_default=True,
    help="JPEG/WebP quality of images re-encoded (by --preprocess, or upright).",
)
@on_error_option("missing image, or an image two sources hold with different boxes")
@jobs_option("hashing and copying images")
@OVERWRITE
@QUIET
def merge_command(
    paths: tuple[Path, ...],
    to: str | None,
    images: ImageMode,
    keep_crowd: bool,
    class_ops: ClassOps | None,
    filters: Filters | None,
    preprocess: Preprocessing,
    task: str | None,
    quality: int,
    on_error: OnError,
    jobs: int,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Merge the datasets SRC1 SRC2 ... (any mix of formats, each detected) into the new folder DST.

        Classes align by name, ignoring case and surrounding or repeated spaces (the first spelling is kept; the class
        order is SRC1's, then new classes as they appear); --class-map and the class and filter options then apply to
    the joined classes, by those names. Splits keep
        their names. An image whose split/name an earlier source has is renamed name_srcK.ext (K: its source's number).
        An image with the same bytes and boxes as an earlier source's is written once; the same bytes with other boxes
        is an error naming both files. DST/merge.json records where every class went, the duplicates and the renames.
    """
    if len(paths) < 3:
        raise click.UsageError(f"name at least two sources and the output folder, not {len(paths)} path(s)")
    *sources, dst = paths
    for source in sources:
        if not source.exists():
            raise click.BadParameter(f"{source} does not exist", param_hint="SRC")
    from bboxaug.commands.merge import MERGE_MANIFEST, merge

    result = merge(
        sources,
        dst,
        to=to,
        images=images,
        class_ops=class_ops,
        filters=filters,
        preprocess=preprocess,
        task=task,
        quality=quality,
        on_error=on_error,
        keep_crowd=keep_crowd,
        overwrite=overwrite,
        jobs=jobs,
        progress=show_progress(quiet),
    )
    finish(summary_lines(result, dst) + preprocess_lines(preprocess), result.report, dst / MERGE_MANIFEST, quiet)


def _class_mapping(source: dict[str, Any]) -> str:
    """A source's classes, each with the output class it joined where that is spelled otherwise."""
    return ", ".join(
        repr(entry["name"]) if entry["name"] == entry["as"] else f"{entry['name']!r} -> {entry['as']!r}"
        for entry in source["classes"]
    )


def summary_lines(result: MergeResult, dst: Path) -> list[str]:
    """Each source and where its classes went; what the merge wrote; the duplicates and renames."""
    record, dataset = result.record, result.dataset
    lines = [f"merged {result.source_format} -> {result.target_format}: {dst}"]
    for number, source in enumerate(record["sources"], 1):
        lines += [
            f"  source {number}   {source['path']} ({source['format']}): {source['images']} images, "
            f"{source['boxes']} boxes",
            f"    classes  {_class_mapping(source)}",
        ]
    counts = dataset_counts(dataset)
    splits = ", ".join(f"{split} {figures['images']}" for split, figures in counts["splits"].items())
    classes = ", ".join(
        repr(c["name"]) if c["output_id"] is None else f"{c['name']!r}={c['output_id']}" for c in result.classes
    )
    lines += [
        f"  images     {counts['images']}" + (f" ({splits})" if splits else ""),
        f"  boxes      {counts['boxes']}",
        f"  negatives  {counts['negatives']}",
        f"  classes    {len(dataset.classes)}: {classes}",
    ]
    for duplicate in record["duplicates"][:3]:
        lines.append(
            f"  duplicate  {duplicate['duplicate']} (source {duplicate['duplicate_source']}) = "
            f"{duplicate['image']} (source {duplicate['source']}): written once"
        )
    for renamed in record["renamed"][:3]:
        lines.append(f"  renamed    {renamed['image']} (source {renamed['source']}) -> {renamed['as']}")
    shown = min(len(record["duplicates"]), 3) + min(len(record["renamed"]), 3)
    if shown < len(record["duplicates"]) + len(record["renamed"]):
        lines.append("  ... every duplicate and rename is listed in merge.json")
    return lines
