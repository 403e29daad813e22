"""The terminal summary a command prints: what was written, then every count, skip and warning."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from bboxaug.core import codes
from bboxaug.core.report import Problem, Report

SHOWN_PROBLEMS = 10


#: Counters the summary leaves out: the skips are listed below the counts, and each command states its copies.
NOT_SHOWN = (codes.SKIPPED_ITEMS.name, codes.COPIES_WRITTEN.name)


def problem_lines(title: str, problems: Sequence[Problem]) -> list[str]:
    """A count and the first few problems; every command's JSON report in the output folder lists them all."""
    lines = [f"  {title:<10} {len(problems)}"] if problems else []
    lines += [f"    {problem}" for problem in problems[:SHOWN_PROBLEMS]]
    if len(problems) > SHOWN_PROBLEMS:
        lines.append(f"    ... and {len(problems) - SHOWN_PROBLEMS} more (all are in the JSON report in the output)")
    return lines


def count_lines(report: Report) -> list[str]:
    """One line per counter of the report, labelled by its code."""
    return [
        f"  {count:>9}  {codes.lookup(key).label}"
        for key, count in sorted(report.counts.items())
        if key not in NOT_SHOWN
    ]


def class_map_lines(report: Report) -> list[str]:
    """The classes the class operations and filters renamed, merged or dropped (those left as they were are not
    listed)."""
    moves = report.class_map
    changed = [f"{name} -> {move.to}" for name, move in moves.items() if move.to not in (None, name)]
    dropped = [name for name, move in moves.items() if move.to is None]
    parts = ([", ".join(changed)] if changed else []) + ([f"dropped {', '.join(dropped)}"] if dropped else [])
    return [f"  {'class map':<10} {'; '.join(parts)}"] if parts else []


def finish(lines: list[str], report: Report, manifest: Path | str, quiet: bool, *, label: str = "manifest") -> None:
    """Print the summary (unless quiet): `lines`, the counts, skips and warnings, and where the command's JSON
    report is (`label`); exit 1 when anything was skipped."""
    if not quiet:
        lines = lines + class_map_lines(report) + count_lines(report) + problem_lines("skipped", report.skipped)
        lines += problem_lines("warnings", report.warnings)
        lines.append(f"  {label:<10} {manifest}")
        click.echo("\n".join(lines))
    if report.skipped:
        sys.exit(1)
