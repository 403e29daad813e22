"""Small HTML builders for the report page: tables, and a picture with its boxes drawn over it as SVG (in the
class colours of the page's style sheet, `c<position>`), so boxes stay sharp, can be dimmed by a filter and
cost a few bytes each. Every text is escaped here."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from bboxaug.inspection.drawing import class_colour
from bboxaug.inspection.report import Shown
from bboxaug.inspection.svg_plots import hex_colour

#: Radius of the ring round a box with no area, as a share of the image's longer side.
RING = 0.05


def cell(value: Any) -> str:
    """A table cell's text: thousands separated, floats to two decimals (one from 10), None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"
    return escape(str(value))


def table(
    head: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    table_id: str | None = None,
    css: str | None = None,
    caption: str | None = None,
) -> str:
    """A table of already-built cell markup; the first cell of each row is its header."""
    attributes = (f' id="{escape(table_id)}"' if table_id else "") + (f' class="{escape(css)}"' if css else "")
    body = "".join("<tr>" + f"<th>{row[0]}</th>" + "".join(f"<td>{c}</td>" for c in row[1:]) + "</tr>" for row in rows)
    return (
        f"<table{attributes}>"
        + (f"<caption>{escape(caption)}</caption>" if caption else "")
        + "<thead><tr>"
        + "".join(f"<th>{escape(h)}</th>" for h in head)
        + f"</tr></thead><tbody>{body}</tbody></table>"
    )


def class_styles(count: int) -> str:
    """CSS giving each class position its colour (box outlines, swatches), and the rule that dims the other
    classes' boxes when the gallery is filtered to one."""
    rules = []
    for k in range(count):
        colour = hex_colour(class_colour(k))
        rules.append(
            f".c{k}{{stroke:{colour}}}.s{k}{{background:{colour}}}"
            f'#gallery-grid[data-focus="{k}"] .b:not(.c{k}){{opacity:.25}}'
        )
    return "".join(rules)


def swatch(position: int, name: str) -> str:
    return f'<span class="swatch s{position}" aria-hidden="true"></span>{escape(name)}'


def class_name(names: Sequence[str], label: int) -> str:
    return names[label] if 0 <= label < len(names) else f"#{label} (not in the class list)"


def _coordinate(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if math.isfinite(value) else "nan"


def picture(item: Shown, names: Sequence[str], *, highlight: int | None = None) -> str:
    """The thumbnail with every box drawn over it, in the image's own pixel coordinates (the SVG's viewBox);
    with `highlight`, that box stands out and the others are dimmed. A grey box says when there is no picture."""
    if item.thumbnail is None:
        inner = '<span class="none">image not found or unreadable</span>'
    else:
        inner = (
            f'<img src="{item.thumbnail.uri}" width="{item.thumbnail.width}" height="{item.thumbnail.height}" '
            f'alt="{escape(item.key)}">'
        )
    if item.size is None:
        return f'<div class="pic missing">{inner}</div>'
    width, height = item.size
    rects = []
    for row, (xyxy, label) in enumerate(zip(item.xyxy.tolist(), item.labels.tolist(), strict=True)):
        x1, y1, x2, y2 = xyxy
        if not all(map(math.isfinite, xyxy)):
            continue
        kind = "bad" if row == highlight else ("dim" if highlight is not None else "")
        rects.append(
            f'<rect class="b c{label} {kind}" x="{_coordinate(x1)}" y="{_coordinate(y1)}" '
            f'width="{_coordinate(max(x2 - x1, 0.0))}" height="{_coordinate(max(y2 - y1, 0.0))}" '
            f'data-box="{row}"><title>{escape(class_name(names, label))} (box {row})</title></rect>'
        )
        if row == highlight and (x2 <= x1 or y2 <= y1):  # a box with no area draws nothing: ring where it is
            rects.append(
                f'<circle class="ring c{label}" cx="{_coordinate((x1 + x2) / 2)}" cy="{_coordinate((y1 + y2) / 2)}" '
                f'r="{_coordinate(RING * max(width, height))}"/>'
            )
    missing = " missing" if item.thumbnail is None else ""
    return (
        f'<div class="pic{missing}" style="aspect-ratio:{width}/{height}">{inner}'
        f'<svg viewBox="0 0 {width} {height}" preserveAspectRatio="none" aria-hidden="true">{"".join(rects)}</svg>'
        "</div>"
    )


def box_list(item: Shown, names: Sequence[str]) -> str:
    """The image's boxes as a table: position, class, corners in pixels."""
    rows = [
        [str(row), swatch(label, class_name(names, label)), *(_coordinate(v) for v in xyxy)]
        for row, (xyxy, label) in enumerate(zip(item.xyxy.tolist(), item.labels.tolist(), strict=True))
    ]
    return table(["box", "class", "x1", "y1", "x2", "y2"], rows, css="boxes")
