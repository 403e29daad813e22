"""The terminal summary a command prints: what was written, then every count, skip and warning."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from bboxaug.core.report import Problem, Report

SHOWN_PROBLEMS = 10

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


def problem_lines(title: str, problems: Sequence[Problem]) -> list[str]:
    """A count and the first few problems; every command's JSON report in the output folder lists them all."""
    lines = [f"  {title:<10} {len(problems)}"] if problems else []
    lines += [f"    {problem}" for problem in problems[:SHOWN_PROBLEMS]]
    if len(problems) > SHOWN_PROBLEMS:
        lines.append(f"    ... and {len(problems) - SHOWN_PROBLEMS} more (all are in the JSON report in the output)")
    return lines


def count_lines(report: Report) -> list[str]:
    """One line per counter of the report, labelled."""
    lines = []
    for key, count in sorted(report.counts.items()):
        if key in ("skipped_items", "copies_written"):
            continue
        label = COUNT_LABELS.get(key, key.replace("_", " "))
        lines.append(f"  {count:>9}  {label}")
    return lines


def finish(lines: list[str], report: Report, manifest: Path | str, quiet: bool, *, label: str = "manifest") -> None:
    """Print the summary (unless quiet): `lines`, the counts, skips and warnings, and where the command's JSON
    report is (`label`); exit 1 when anything was skipped."""
    if not quiet:
        lines = lines + count_lines(report) + problem_lines("skipped", report.skipped)
        lines += problem_lines("warnings", report.warnings)
        lines.append(f"  {label:<10} {manifest}")
        click.echo("\n".join(lines))
    if report.skipped:
        sys.exit(1)
