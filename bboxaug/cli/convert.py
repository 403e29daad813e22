"""`bboxaug convert` and `bboxaug formats`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bboxaug.cli.options import IMAGES, KEEP_CROWD, dataset_options, selection_options
from bboxaug.cli.summary import finish, preprocess_lines
from bboxaug.core.report import OnError
from bboxaug.formats import FORMATS
from bboxaug.io.files import ImageMode
from bboxaug.pipeline.manifest import dataset_counts
from bboxaug.preprocessing.steps import Preprocessing
from bboxaug.runtime.parallel import show_progress

if TYPE_CHECKING:
    from bboxaug.commands.convert import ConvertResult
    from bboxaug.pipeline.classes import ClassOps
    from bboxaug.pipeline.filters import Filters


@click.command("formats")
def formats_command() -> None:
    """List the formats bboxaug reads and writes."""
    for name in sorted(FORMATS):
        click.echo(f"{name:<8} {FORMATS[name].description}")


@click.command("convert")
@IMAGES
@KEEP_CROWD
@selection_options()
@dataset_options(
    to_required=True, quality_of="images re-encoded (by --preprocess, or upright)", on_error_about="missing image"
)
def convert_command(
    src: Path,
    dst: Path,
    to: str,
    fmt_from: str | None,
    image_dir: Path | None,
    read_options: Mapping[str, Any] | None,
    images: ImageMode,
    on_error: OnError,
    class_ops: ClassOps | None,
    filters: Filters | None,
    keep_crowd: bool,
    task: str | None,
    quality: int,
    preprocess: Preprocessing,
    jobs: int,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Convert the dataset at SRC into format --to in the new folder DST.

    SRC is a COCO JSON file, a YOLO data.yaml, or a folder in any supported layout. DST is written atomically in
    the target's conventional layout, with convert.json recording counts, class ids, skips, clips and renames.
    """
    from bboxaug.commands.convert import CONVERT_MANIFEST, convert

    result = convert(
        src,
        dst,
        to=to,
        fmt_from=fmt_from,
        image_dir=image_dir,
        read_options=read_options,
        images=images,
        on_error=on_error,
        class_ops=class_ops,
        filters=filters,
        keep_crowd=keep_crowd,
        task=task,
        overwrite=overwrite,
        jobs=jobs,
        progress=show_progress(quiet),
        preprocess=preprocess,
        quality=quality,
    )
    lines = summary_lines(result, dst) + preprocess_lines(preprocess)
    finish(lines, result.report, dst / CONVERT_MANIFEST, quiet, label="report")


def summary_lines(result: ConvertResult, dst: Path) -> list[str]:
    """What a conversion wrote: images per split, boxes, negatives and the classes with their output ids."""
    dataset = result.dataset
    counts = dataset_counts(dataset)
    splits = ", ".join(f"{split} {figures['images']}" for split, figures in counts["splits"].items())
    classes = ", ".join(
        c["name"] if c["output_id"] is None else f"{c['name']}={c['output_id']}" for c in result.classes
    )
    return [
        f"converted {result.source_format} -> {result.target_format}: {dst}",
        f"  images     {counts['images']}" + (f" ({splits})" if splits else ""),
        f"  boxes      {counts['boxes']}",
        f"  negatives  {counts['negatives']}",
        f"  classes    {len(dataset.classes)}: {classes}",
    ]
