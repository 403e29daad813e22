"""The `bboxaug` command line: thin click commands over the library functions.

Our errors become one-line messages with exit code 1 (data) or 2 (usage); click's own usage errors exit 2 too.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .convert import REPORT_FILE, ConvertResult, convert
from .errors import BboxaugError
from .formats import FORMATS
from .io import IMAGE_MODES
from .parallel import show_progress
from .report import Report

F = TypeVar("F", bound=Callable[..., Any])

FORMAT_CHOICE = click.Choice(sorted(FORMATS))
SHOWN_PROBLEMS = 10


class BboxaugGroup(click.Group):
    """Turns bboxaug errors and OS errors raised by any command into a one-line message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BboxaugError as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(error.exit_code)
        except OSError as error:
            where = f"{error.filename}: " if error.filename else ""
            click.echo(f"error: {where}{error.strerror or error}", err=True)
            ctx.exit(1)


@click.group(cls=BboxaugGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bboxaug")
def main() -> None:
    """Prepare object-detection datasets offline: convert between COCO, Pascal VOC, YOLO and Labelme without
    losing an image, a class or a pixel of a box; augment with boxes that follow the pixels; balance rare
    classes; tile large images; and look at the data (stats, validate, preview)."""


@main.command("formats")
def formats_command() -> None:
    """List the formats bboxaug reads and writes."""
    for name in sorted(FORMATS):
        click.echo(f"{name:<8} {FORMATS[name].description}")


def common_output_options(command: F) -> F:
    """Options every command that writes a dataset shares; with --scheduler the command runs on a Dask cluster."""
    options = [
        click.option("--jobs", "-j", type=int, default=1, show_default=True,
                     help="Parallel workers for image work (-1: every core). With --scheduler local: the local "
                          "cluster's worker processes, one per core unless N is above 1."),
        click.option("--scheduler", metavar="ADDRESS", envvar="BBOXAUG_SCHEDULER", show_envvar=True,
                     help="Run the image work on the Dask scheduler at ADDRESS (tcp://host:8786), or on a new "
                          "cluster on this machine with 'local'. SRC and DST must be on storage every worker "
                          "mounts at the same path. Needs pip install 'bboxaug[dask]'."),
        click.option("--overwrite", is_flag=True, help="Replace DST if it exists (only once the new output is complete)."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary."),
    ]
    command = on_scheduler(command)
    for option in reversed(options):
        command = option(command)
    return command


def on_scheduler(command: F) -> F:
    """The command as given, or, when --scheduler names a Dask scheduler, run inside
    `bboxaug.cluster.use_scheduler`: SRC, DST and --image-dir made absolute (workers may start elsewhere), and
    the workers checked to see them before any work. A dry run stays on this machine."""

    @functools.wraps(command)
    def run(*args: Any, scheduler: str | None, **params: Any) -> Any:
        if not scheduler or params.get("dry_run"):
            return command(*args, **params)
        from .cluster import describe, use_scheduler

        for name in ("src", "dst", "image_dir"):
            if params.get(name) is not None:
                params[name] = params[name].absolute()
        reads = [path for path in (params["src"], params.get("image_dir")) if path is not None]
        with use_scheduler(scheduler, reads=reads, writes=params["dst"], workers=params["jobs"]) as client:
            if not params["quiet"]:
                click.echo(describe(client), err=True)
            return command(*args, **params)

    return run  # type: ignore[return-value]


def dataset_options(*, to_required: bool = False, quality_of: str | None = "the images written",
                    on_error_about: str = "unreadable image") -> Callable[[F], F]:
    """SRC, DST, the options every command that reads one dataset and writes another shares, and
    `common_output_options`. `quality_of` says what --quality applies to (None: no --quality); `on_error_about`
    names the image problem --on-error decides on besides malformed annotations."""
    to_help = "Format to write." if to_required else "Format to write (default: SRC's)."
    options = [
        click.argument("src", type=click.Path(exists=True, path_type=Path)),
        click.argument("dst", type=click.Path(path_type=Path)),
        click.option("--to", "to", type=FORMAT_CHOICE, required=to_required, help=to_help),
        click.option("--from", "fmt_from", type=FORMAT_CHOICE, help="Format of SRC (detected when not given)."),
        click.option("--image-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
                     help="Where the images are, when not where SRC's layout puts them."),
    ]
    if quality_of is not None:
        options.append(click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True,
                                    help=f"JPEG/WebP quality of {quality_of}."))
    options.append(click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail", show_default=True,
                                help=f"On a malformed annotation or {on_error_about}: stop, or skip the item and "
                                     "report it."))

    def decorate(command: F) -> F:
        command = common_output_options(command)
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


@main.command("convert")
@click.option("--images", type=click.Choice(IMAGE_MODES), default="copy", show_default=True,
              help="How images reach DST: copied, hard-linked, symlinked, or not at all (annotations only).")
@click.option("--class-map", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML/JSON mapping class name -> output id, overriding the source's numbering.")
@click.option("--keep-crowd", is_flag=True, help="Write COCO iscrowd regions as boxes in formats without crowd.")
@dataset_options(to_required=True, quality_of=None, on_error_about="missing image")
def convert_command(src: Path, dst: Path, to: str, fmt_from: str | None, image_dir: Path | None, images: str,
                    on_error: str, class_map: Path | None, keep_crowd: bool, jobs: int, overwrite: bool,
                    quiet: bool) -> None:
    """Convert the dataset at SRC into format --to in the new folder DST.

    SRC is a COCO JSON file, a YOLO data.yaml, or a folder in any supported layout. DST is written atomically in
    the target's conventional layout, with convert.json recording counts, class ids, skips, clips and renames.
    """
    result = convert(src, dst, to=to, fmt_from=fmt_from, image_dir=image_dir, images=images,  # type: ignore[arg-type]
                     on_error=on_error, class_map=class_map, keep_crowd=keep_crowd,  # type: ignore[arg-type]
                     overwrite=overwrite, jobs=jobs, progress=show_progress(quiet))
    if not quiet:
        click.echo(format_summary(result, dst))
    if result.report.skipped:
        sys.exit(1)


@main.command("augment")
@click.option("--policy", "-p", default="auto", show_default=True,
              help="A preset (light, medium, heavy, auto: strength by dataset size) or a YAML/JSON policy file.")
@click.option("--copies", "-n", type=click.IntRange(min=1), default=1, show_default=True,
              help="Augmented copies per image.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Same seed, same bytes, whatever --jobs is.")
@click.option("--no-originals", is_flag=True, help="Write only the augmented copies.")
@click.option("--resume", is_flag=True, help="Finish an interrupted run with the same settings.")
@click.option("--dry-run", is_flag=True, help="Show the policy and how many images would be written; write nothing.")
@dataset_options(quality_of="the copies")
def augment_command(src: Path, dst: Path, policy: str, copies: int, to: str | None, fmt_from: str | None,
                    image_dir: Path | None, seed: int, no_originals: bool, resume: bool, quality: int,
                    on_error: str, dry_run: bool, jobs: int, overwrite: bool, quiet: bool) -> None:
    """Write SRC plus N augmented copies of every image into the new folder DST.

    Boxes follow the pixels (polygons where the source has them), are clipped to the image, and are dropped below
    the policy's visibility and size thresholds. Copies are named <stem>_aug<k>.<ext> and stay in their source's
    split. DST/augment.json records the policy, the seed, and every copy's source, seed and dropped boxes.
    """
    from .augment.engine import MANIFEST, augment

    if dry_run:
        from .augment.policy import describe, load_policy
        from .convert import load

        chosen = None if policy == "auto" else load_policy(policy)
        dataset = load(src, fmt=fmt_from, image_dir=image_dir, report=Report(on_error=on_error))  # type: ignore[arg-type]
        chosen = chosen or load_policy("auto", dataset_size=len(dataset.images))
        originals = 0 if no_originals else len(dataset.images)
        click.echo(describe(chosen))
        click.echo(f"would write {originals} originals and {copies * len(dataset.images)} copies to {dst}")
        return
    result = augment(src, dst, policy=policy, copies=copies, to=to, fmt_from=fmt_from, image_dir=image_dir,
                     seed=seed, jobs=jobs, originals=not no_originals, resume=resume, quality=quality,
                     on_error=on_error, overwrite=overwrite, progress=show_progress(quiet))  # type: ignore[arg-type]
    if not quiet:
        counts = result.counts
        lines = [f"augmented {result.source_format} -> {result.target_format} with {result.policy.source}: {dst}",
                 f"  images     {counts['images']} ({result.report.counts['copies_written']} copies)",
                 f"  boxes      {counts['boxes']}",
                 f"  negatives  {counts['negatives']}"]
        lines += _count_lines(result.report)
        lines += _problems("skipped", result.report.skipped)
        lines += _problems("warnings", result.report.warnings)
        lines.append(f"  manifest   {dst / MANIFEST}")
        click.echo("\n".join(lines))
    if result.report.skipped:
        sys.exit(1)


def _problems(title: str, problems: list[Any]) -> list[str]:
    """A count and the first few problems; every command's JSON report in the output folder lists them all."""
    lines = [f"  {title:<10} {len(problems)}"] if problems else []
    lines += [f"    {problem}" for problem in problems[:SHOWN_PROBLEMS]]
    if len(problems) > SHOWN_PROBLEMS:
        lines.append(f"    ... and {len(problems) - SHOWN_PROBLEMS} more (all are in the JSON report in the output)")
    return lines


def format_summary(result: ConvertResult, dst: Path) -> str:
    """The terminal summary of a conversion: what was written and everything skipped, dropped or renamed."""
    dataset, report = result.dataset, result.report
    splits = ", ".join(f"{split} {len(dataset.in_split(split))}" for split in dataset.splits)
    classes = ", ".join(c["name"] if c["output_id"] is None else f"{c['name']}={c['output_id']}"
                        for c in result.classes)
    lines = [
        f"converted {result.source_format} -> {result.target_format}: {dst}",
        f"  images     {len(dataset.images)}" + (f" ({splits})" if splits else ""),
        f"  boxes      {dataset.box_count}",
        f"  negatives  {dataset.negative_count}",
        f"  classes    {len(dataset.classes)}: {classes}",
    ]
    lines += _count_lines(report)
    lines += _problems("skipped", report.skipped)
    lines += _problems("warnings", report.warnings)
    lines.append(f"  report     {dst / REPORT_FILE}")
    return "\n".join(lines)


COUNT_LABELS = {
    "copies_written": "augmented copies written",
    "copies_dropped": "copies dropped: they lost every box of a class they were made for",
    "clipped": "boxes clipped to their image",
    "dropped_degenerate": "boxes dropped: no area inside the image",
    "dropped_crowd": "crowd regions dropped (--keep-crowd keeps them)",
    "renamed": "images renamed to avoid overwriting (see renamed in the report)",
    "exif_rotated": "images re-encoded upright (EXIF orientation applied)",
    "size_mismatch": "declared sizes that disagree with the image",
}


def _count_lines(report: Report) -> list[str]:
    lines = []
    for key, count in sorted(report.counts.items()):
        if key in ("skipped_items", "copies_written"):
            continue
        label = COUNT_LABELS.get(key, key.replace("_", " "))
        lines.append(f"  {count:>9}  {label}")
    return lines



def _register_commands() -> None:
    """The commands that live in modules of their own (inspection, balancing, tiling) join the group."""
    from . import cli_balance, cli_inspect, cli_tile

    for module in (cli_inspect, cli_balance, cli_tile):
        module.register(main)


_register_commands()

if __name__ == "__main__":
    main()
