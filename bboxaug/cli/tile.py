"""`bboxaug tile` and `bboxaug resize`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bboxaug.cli.options import dataset_options, negatives_share, selection_options
from bboxaug.cli.summary import finish, preprocess_lines
from bboxaug.core.errors import UsageError
from bboxaug.core.report import OnError
from bboxaug.geometry.letterbox import MODES, Mode, parse_size, parse_sizes
from bboxaug.geometry.tiling import PARTIAL_POLICIES, Partial
from bboxaug.preprocessing.steps import Preprocessing
from bboxaug.runtime.parallel import show_progress

if TYPE_CHECKING:
    from bboxaug.pipeline.classes import ClassOps
    from bboxaug.pipeline.filters import Filters


def parsed_by(parse: Callable[[str], Any]) -> Callable[[click.Context, click.Parameter, str], Any]:
    """A click callback turning our parser's UsageError into a click usage error (exit 2)."""

    def convert(ctx: click.Context, param: click.Parameter, value: str) -> Any:
        try:
            return parse(value)
        except UsageError as error:
            raise click.BadParameter(error.message) from None

    return convert


@click.command("tile")
@click.option(
    "--size",
    required=True,
    callback=parsed_by(parse_size),
    metavar="W[xH]",
    help="Tile size in pixels: 512 or 640x480.",
)
@click.option(
    "--overlap",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    default=0.2,
    show_default=True,
    help="Share of a tile that neighbouring tiles overlap by.",
)
@click.option(
    "--min-visibility",
    type=click.FloatRange(0.0, 1.0),
    default=0.5,
    show_default=True,
    help="Visible share of a cut box's area from which it is kept (clipped).",
)
@click.option(
    "--partial",
    type=click.Choice(PARTIAL_POLICIES),
    default="reject",
    show_default=True,
    help="A box visible under --min-visibility: drop it, keep it clipped, or reject the whole tile "
    "(no tile then shows an object without its label).",
)
@click.option(
    "--negatives",
    default="keep",
    show_default=True,
    callback=negatives_share,
    metavar="keep|drop|SHARE",
    help="Tiles without boxes: keep them, drop them, or keep this share of them (chosen by --seed).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the choice of negative tiles.")
@selection_options(negatives=False)
@dataset_options()
def tile_command(
    src: Path,
    dst: Path,
    size: tuple[int, int],
    overlap: float,
    min_visibility: float,
    partial: Partial,
    negatives: float,
    seed: int,
    to: str | None,
    task: str | None,
    fmt_from: str | None,
    image_dir: Path | None,
    read_options: Mapping[str, Any] | None,
    quality: int,
    preprocess: Preprocessing,
    on_error: OnError,
    class_ops: ClassOps | None,
    filters: Filters | None,
    jobs: int,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Cut every image of SRC into overlapping tiles of --size, written with their boxes to the new folder DST.

    Edge tiles are shifted back inside the image; images smaller than a tile are padded. A box cut by a tile
    border is kept clipped when its visible share reaches --min-visibility, else --partial decides. A box no
    grid tile keeps whole gets an extra tile around it where one fits. Tiles are named <stem>_<x>_<y>.<ext>
    and stay in their source's split; DST/tiles.json gives each tile's source, offset, size and padding.
    """
    from bboxaug.commands.tile import TILE_MANIFEST, tile

    result = tile(
        src,
        dst,
        size=size,
        overlap=overlap,
        min_visibility=min_visibility,
        partial=partial,
        negatives=negatives,
        to=to,
        task=task,
        fmt_from=fmt_from,
        image_dir=image_dir,
        read_options=read_options,
        seed=seed,
        quality=quality,
        jobs=jobs,
        on_error=on_error,
        class_ops=class_ops,
        filters=filters,
        overwrite=overwrite,
        progress=show_progress(quiet),
        preprocess=preprocess,
    )
    counts = result.manifest["tile_counts"]
    finish(
        [
            f"tiled {result.source_format} -> {result.target_format} at {size[0]}x{size[1]}: {dst}",
            f"  tiles      {counts['written']} of {counts['planned']} planned ({counts['extra']} extra)",
            f"  boxes      {result.dataset.box_count}",
            f"  negatives  {result.dataset.negative_count}",
            *preprocess_lines(preprocess),
        ],
        result.report,
        dst / TILE_MANIFEST,
        quiet,
    )


@click.command("resize")
@click.option(
    "--size",
    "sizes",
    required=True,
    callback=parsed_by(parse_sizes),
    metavar="S[,S2,...]",
    help="Sizes to write, each S or WxH: 640 or 640,1024 or 1280x720.",
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="letterbox",
    show_default=True,
    help="letterbox: scale to fit and pad to the size; fit: scale to fit, no padding; "
    "stretch: scale each axis to the size.",
)
@click.option(
    "--min-box-size",
    type=click.FloatRange(min=0.0),
    default=2.0,
    show_default=True,
    help="Boxes whose shorter side is under this many pixels once resized are dropped (counted).",
)
@selection_options(min_box_size=False)
@dataset_options()
def resize_command(
    src: Path,
    dst: Path,
    sizes: list[tuple[int, int]],
    mode: Mode,
    min_box_size: float,
    to: str | None,
    task: str | None,
    fmt_from: str | None,
    image_dir: Path | None,
    read_options: Mapping[str, Any] | None,
    quality: int,
    preprocess: Preprocessing,
    on_error: OnError,
    class_ops: ClassOps | None,
    filters: Filters | None,
    jobs: int,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Write SRC at every --size into the new folder DST, one dataset per size in DST/<size>/.

    Boxes are scaled exactly; DST/<size>/resize.json gives every image's scale and padding, so boxes found
    on a resized image can be mapped back (bboxaug.resize.resized_to_source).
    """
    from bboxaug.commands.resize import RESIZE_MANIFEST, resize

    result = resize(
        src,
        dst,
        sizes=sizes,
        mode=mode,
        min_box_size=min_box_size,
        to=to,
        task=task,
        fmt_from=fmt_from,
        image_dir=image_dir,
        read_options=read_options,
        quality=quality,
        jobs=jobs,
        on_error=on_error,
        class_ops=class_ops,
        filters=filters,
        overwrite=overwrite,
        progress=show_progress(quiet),
        preprocess=preprocess,
    )
    lines = [f"resized {result.source_format} -> {result.target_format} ({mode}): {dst}"]
    for folder, written in result.datasets.items():
        lines.append(
            f"  {folder:<10} {len(written.images)} images, {written.box_count} boxes, "
            f"{result.manifests[folder]['tiny_boxes_dropped']} boxes under {min_box_size:g} px dropped"
        )
    lines += preprocess_lines(preprocess)
    finish(lines, result.report, dst / "<size>" / RESIZE_MANIFEST, quiet)
