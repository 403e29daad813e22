"""The inspection commands, `bboxaug stats`, `bboxaug validate`, `bboxaug preview` and `bboxaug report`: thin click
wrappers over `bboxaug.inspection`'s `stats`, `validate` and `preview`, and `bboxaug.commands.report`."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bboxaug.cli.options import jobs_option, on_error_option, selection_options, source_options
from bboxaug.core.report import OnError, Report
from bboxaug.io.files import atomic_write_bytes, atomic_write_text
from bboxaug.runtime.parallel import show_progress

if TYPE_CHECKING:
    from bboxaug.pipeline.classes import ClassOps
    from bboxaug.pipeline.filters import Filters

#: Findings of one code printed on the terminal before "... and N more".
SHOWN_PER_CODE = 20


def _write_json(target: str, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if target == "-":
        click.echo(text, nl=False)
    else:
        atomic_write_text(Path(target), text)


def _skipped_lines(report: Report) -> list[str]:
    lines = [f"skipped {len(report.skipped)} unreadable items:"] if report.skipped else []
    return lines + [f"  {problem}" for problem in report.skipped[:SHOWN_PER_CODE]]


@click.command("stats")
@source_options
@selection_options()
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write every figure as JSON to FILE ('-': standard output, instead of the table).",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a PNG: boxes per class, box width/height and box-centre heat maps.",
)
@click.option(
    "--anchors",
    type=click.IntRange(min=0),
    default=9,
    show_default=True,
    help="Anchors to fit with k-means (1 - IoU distance); 0: none.",
)
@click.option(
    "--img-size",
    type=click.IntRange(min=1),
    default=640,
    show_default=True,
    help="Training image size the anchors are for (letterbox: longest side scaled to it).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the anchor k-means.")
@on_error_option("unreadable image header (the image is left out of the figures)")
@jobs_option("reading image headers")
@click.option("--quiet", "-q", is_flag=True, help="No table and no progress bar.")
def stats_command(
    src: Path,
    fmt_from: str | None,
    image_dir: Path | None,
    read_options: Mapping[str, Any] | None,
    json_file: str | None,
    plot: Path | None,
    anchors: int,
    img_size: int,
    seed: int,
    on_error: OnError,
    jobs: int,
    quiet: bool,
    class_ops: ClassOps | None,
    filters: Filters | None,
) -> None:
    """Count what is in the dataset at SRC: images, negatives and boxes per split and class, box and image sizes,
    COCO small/medium/large, and anchors for training at --img-size."""
    from bboxaug.inspection.plot import render_stats_plot
    from bboxaug.inspection.stats import format_stats, stats_for

    report = Report(on_error=on_error)
    dataset, result = stats_for(
        src,
        fmt=fmt_from,
        image_dir=image_dir,
        read_options=read_options,
        anchors=anchors,
        img_size=img_size,
        seed=seed,
        jobs=jobs,
        report=report,
        class_ops=class_ops,
        filters=filters,
        progress=show_progress(quiet),
    )
    if json_file:
        _write_json(json_file, {"source": str(src), **result, "report": report.to_json()})
    if plot:
        buffer = io.BytesIO()
        render_stats_plot(dataset, title=src.name).save(buffer, format="PNG")
        atomic_write_bytes(plot, buffer.getvalue())
    if not quiet and json_file != "-":
        click.echo("\n".join([format_stats(result), *_skipped_lines(report)]))
    if report.skipped:
        sys.exit(1)


@click.command("validate")
@source_options
@selection_options()
@click.option(
    "--deep",
    is_flag=True,
    help="Decode every image (unreadable pixels) and hash the pixels (duplicates, split leakage).",
)
@click.option(
    "--near-duplicates",
    is_flag=True,
    help="Find images that look the same (resized, recompressed or slightly shifted copies with the same boxes): "
    "an error across splits.",
)
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write every finding as JSON to FILE ('-': standard output, instead of the list).",
)
@jobs_option("reading images")
@click.option("--quiet", "-q", is_flag=True, help="Only the totals line, no progress bar.")
def validate_command(
    src: Path,
    fmt_from: str | None,
    image_dir: Path | None,
    read_options: Mapping[str, Any] | None,
    deep: bool,
    near_duplicates: bool,
    json_file: str | None,
    jobs: int,
    quiet: bool,
    class_ops: ClassOps | None,
    filters: Filters | None,
) -> None:
    """Find every problem in the dataset at SRC a trainer would trip on, each with a stable code, the image and
    the box. Exits 1 when there are errors (warnings alone exit 0)."""
    from bboxaug.inspection.stats import aligned
    from bboxaug.inspection.validate import summarize, validate

    findings = validate(
        src,
        fmt=fmt_from,
        image_dir=image_dir,
        read_options=read_options,
        deep=deep,
        near_duplicates=near_duplicates,
        jobs=jobs,
        class_ops=class_ops,
        filters=filters,
        progress=show_progress(quiet),
    )
    summary = summarize(findings)
    if json_file:
        _write_json(json_file, {"source": str(src), "deep": deep, "near_duplicates": near_duplicates, **summary})
    if json_file != "-":
        lines: list[str] = []
        if not quiet:
            for code, count in summary["counts"].items():
                of_code = [f for f in findings if f.code == code]
                lines += [str(f) for f in of_code[:SHOWN_PER_CODE]]
                if count > SHOWN_PER_CODE:
                    lines.append(f"... and {count - SHOWN_PER_CODE} more {code} (see --json)")
            if findings:
                rows: list[list[Any]] = [["code", "errors", "warnings"]]
                for code in summary["counts"]:
                    severities = [f.severity for f in findings if f.code == code]
                    rows.append([code, severities.count("error"), severities.count("warning")])
                lines += ["", *aligned(rows), ""]
        lines.append(f"{summary['errors']} errors, {summary['warnings']} warnings" if findings else "no problems found")
        click.echo("\n".join(lines))
    if summary["errors"]:
        sys.exit(1)


@click.command("preview")
@source_options
@selection_options()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--n", "-n", "count", type=click.IntRange(min=1), default=16, show_default=True, help="Images to show.")
@click.option("--classes", help="Comma-separated class names: only images with them, only their boxes.")
@click.option("--seed", type=int, default=0, show_default=True, help="Which images, among equally rare ones.")
@click.option(
    "--cell",
    type=click.IntRange(min=16),
    default=320,
    show_default=True,
    help="Side of each image's square cell, in pixels.",
)
@click.option(
    "--compare",
    type=click.Path(exists=True, path_type=Path),
    help="A dataset made from SRC by bboxaug augment: show each image beside its augmented copies.",
)
@on_error_option("unreadable image")
def preview_command(
    src: Path,
    out: Path,
    fmt_from: str | None,
    image_dir: Path | None,
    read_options: Mapping[str, Any] | None,
    count: int,
    classes: str | None,
    seed: int,
    cell: int,
    compare: Path | None,
    on_error: OnError,
    class_ops: ClassOps | None,
    filters: Filters | None,
) -> None:
    """Draw a grid of images from SRC with their boxes and class names into OUT (PNG), rare classes first."""
    from bboxaug.inspection.preview import preview

    names = [name.strip() for name in classes.split(",") if name.strip()] if classes else None
    picture = preview(
        src,
        out,
        fmt=fmt_from,
        image_dir=image_dir,
        read_options=read_options,
        n=count,
        classes=names,
        seed=seed,
        cell=cell,
        compare=compare,
        report=Report(on_error=on_error),
        class_ops=class_ops,
        filters=filters,
    )
    click.echo(f"wrote {out} ({picture.width}x{picture.height})")


@click.command("report")
@source_options
@selection_options()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--compare",
    type=click.Path(exists=True, path_type=Path),
    help="A dataset made from SRC by bboxaug augment, balance, tile or resize: before/after pairs and its counts.",
)
@click.option(
    "--max-images",
    type=click.IntRange(min=0),
    default=300,
    show_default=True,
    help="Images in the gallery, rare classes first (chosen by --seed).",
)
@click.option(
    "--deep", is_flag=True, help="Decode every image (unreadable pixels, duplicate pixels), as validate --deep."
)
@click.option("--title", help="The page's title (default: SRC's name).")
@click.option("--seed", type=int, default=0, show_default=True, help="Which images, among equally rare ones.")
@jobs_option("reading images and making thumbnails")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary line.")
def report_command(
    src: Path,
    out: Path,
    fmt_from: str | None,
    image_dir: Path | None,
    compare: Path | None,
    max_images: int,
    deep: bool,
    title: str | None,
    seed: int,
    jobs: int,
    quiet: bool,
    class_ops: ClassOps | None,
    filters: Filters | None,
    read_options: Mapping[str, Any] | None,
) -> None:
    """Write one self-contained HTML page about the dataset at SRC into OUT: its figures and plots, every
    problem validate finds with a picture of it, and a gallery filterable by class and split. The page opens
    offline in any browser and makes no request."""
    from bboxaug.commands.report import report

    data = report(
        src,
        out,
        compare=compare,
        fmt=fmt_from,
        image_dir=image_dir,
        max_images=max_images,
        deep=deep,
        title=title,
        seed=seed,
        jobs=jobs,
        class_ops=class_ops,
        filters=filters,
        read_options=read_options,
        progress=show_progress(quiet),
    )
    if not quiet:
        errors = sum(f.severity == "error" for f in data.findings)
        warnings = len(data.findings) - errors
        click.echo(
            f"wrote {out} ({out.stat().st_size:,} bytes): {data.stats['images']:,} images, "
            f"{len(data.gallery):,} in the gallery; {errors:,} error{'s' * (errors != 1)}, "
            f"{warnings:,} warning{'s' * (warnings != 1)}"
        )
