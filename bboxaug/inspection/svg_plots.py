"""The report's plots as inline SVG text: bars, histograms, a heat map and scatter plots, drawn from numpy arrays
with no plotting library, so they stay sharp at any zoom, their labels can be searched and selected, and a page
of them weighs a few tens of kilobytes. Styling (fonts, axis colours) is the page's CSS; class colours are given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

from bboxaug.inspection.drawing import Colour, heat_colours
from bboxaug.inspection.plot import nice_step, value_ticks

#: Plot area of a histogram, heat map or scatter plot, and the margins round it (left, top, right, bottom).
WIDTH, HEIGHT = 300, 200
MARGIN = (52, 28, 16, 44)
HISTOGRAM_BINS = 30
HEAT_BINS = 32
ROW = 18  # height of a class's row of bars
PANEL = 170  # width of one split's bars
MAX_POINTS = 2000  # points drawn in a scatter plot (a seeded sample beyond)


def hex_colour(colour: Colour) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


def _number(value: float) -> str:
    """A coordinate with at most one decimal."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _svg(width: float, height: float, title: str, body: list[str]) -> str:
    return (
        f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{_number(width)}" height="{_number(height)}" '
        f'viewBox="0 0 {_number(width)} {_number(height)}" role="img"><title>{escape(title)}</title>'
        f'<text class="title" x="{_number(width / 2)}" y="16" text-anchor="middle">{escape(title)}</text>'
        + "".join(body)
        + "</svg>"
    )


@dataclass(frozen=True)
class Axis:
    """A linear or log10 map from data values to pixels between `start` and `end`."""

    low: float
    high: float
    start: float
    end: float
    log: bool = False

    def __call__(self, value: float) -> float:
        if self.log:
            low, high, value = math.log10(self.low), math.log10(self.high), math.log10(max(value, self.low))
        else:
            low, high = self.low, self.high
        share = (value - low) / (high - low) if high > low else 0.0
        return self.start + share * (self.end - self.start)

    def ticks(self) -> list[tuple[float, str]]:
        """Tick positions (pixels) and labels: round steps, or powers of ten on a log axis."""
        if self.log:
            powers = range(math.floor(math.log10(self.low)), math.ceil(math.log10(self.high)) + 1)
            values = [10.0**p for p in powers if self.low <= 10.0**p <= self.high * 1.0001]
            return [(self(v), f"{v:g}") for v in values]
        span = self.high - self.low
        return [(self(self.low + share * span), label) for share, label in value_ticks(span)] if span > 0 else []


def _frame(x: Axis, y: Axis, x_label: str, y_label: str) -> list[str]:
    """The axes' lines, ticks, grid and titles round the plot area."""
    left, right = x.start, x.end
    top, bottom = sorted((y.start, y.end))
    parts = [f'<path class="axis" d="M{_number(left)} {_number(top)}V{_number(bottom)}H{_number(right)}"/>']
    for position, label in x.ticks():
        parts.append(
            f'<path class="tick" d="M{_number(position)} {_number(bottom)}v4"/>'
            f'<text x="{_number(position)}" y="{_number(bottom + 15)}" text-anchor="middle">{escape(label)}</text>'
        )
    for position, label in y.ticks():
        parts.append(
            f'<path class="grid" d="M{_number(left)} {_number(position)}H{_number(right)}"/>'
            f'<text x="{_number(left - 5)}" y="{_number(position + 4)}" text-anchor="end">{escape(label)}</text>'
        )
    parts.append(
        f'<text x="{_number((left + right) / 2)}" y="{_number(bottom + 34)}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
        f'<text transform="translate(12 {_number((top + bottom) / 2)}) rotate(-90)" text-anchor="middle">'
        f"{escape(y_label)}</text>"
    )
    return parts


def _plot_axes(x_low: float, x_high: float, y_low: float, y_high: float, *, log_x: bool = False) -> tuple[Axis, Axis]:
    left, top, _, _ = MARGIN
    return (
        Axis(x_low, x_high, left, left + WIDTH, log=log_x),
        Axis(y_low, y_high, top + HEIGHT, top),
    )


def _size() -> tuple[int, int]:
    return MARGIN[0] + WIDTH + MARGIN[2], MARGIN[1] + HEIGHT + MARGIN[3]


def _round_top(value: float) -> float:
    step = nice_step(value)
    return max(step, math.ceil(value / step) * step)


def class_bars(names: Sequence[str], colours: Sequence[Colour], columns: Sequence[tuple[str, Sequence[int]]]) -> str:
    """Boxes per class: one row per class (in class-list order), one panel of bars per column (a split, or
    all), every panel on the same scale, each bar in its class's colour with its count."""
    name_width = min(170, 12 + 7 * max((len(name) for name in names), default=4))
    top = 46
    width = name_width + PANEL * len(columns) + 10
    height = top + ROW * len(names) + 10
    most = max((max(counts, default=0) for _, counts in columns), default=0)
    scale = (PANEL - 48) / max(most, 1)
    body = []
    for k, name in enumerate(names):
        y = top + ROW * k
        body.append(f'<text x="{name_width - 6}" y="{y + 13}" text-anchor="end">{escape(name)}</text>')
    for c, (column, counts) in enumerate(columns):
        left = name_width + PANEL * c
        body.append(f'<text class="head" x="{left}" y="{top - 8}">{escape(column)}</text>')
        body.append(f'<path class="axis" d="M{left} {top - 4}V{top + ROW * len(names)}"/>')
        for k, count in enumerate(counts):
            y = top + ROW * k
            length = count * scale
            if count:
                body.append(
                    f'<rect class="bar" x="{left}" y="{y + 3}" width="{_number(length)}" height="{ROW - 6}" '
                    f'fill="{hex_colour(colours[k])}"><title>{escape(names[k])} in {escape(column)}: {count}'
                    "</title></rect>"
                )
            body.append(f'<text x="{_number(left + length + 4)}" y="{y + 13}">{count}</text>')
    return _svg(width, height, "boxes per class", body)


def histogram(
    values: np.ndarray,
    *,
    title: str,
    x_label: str,
    log: bool = False,
    marks: Sequence[tuple[float, str]] = (),
) -> str:
    """A histogram of the finite (and, on a log axis, positive) values, with dashed lines at `marks`."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values) & ((values > 0) if log else True)]
    width, height = _size()
    if not len(values):
        empty = f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no boxes</text>'
        return _svg(width, height, title, [empty])
    low, high = float(values.min()), float(values.max())
    if log:
        low, high = 10 ** math.floor(math.log10(low)), 10 ** math.ceil(math.log10(high) + 1e-9)
        edges = np.geomspace(low, high, HISTOGRAM_BINS + 1)
    else:
        low, high = 0.0, _round_top(high)
        edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    counts, _ = np.histogram(values, bins=edges)
    x, y = _plot_axes(low, high, 0, _round_top(float(counts.max())), log_x=log)
    bars = "".join(
        f"M{_number(x(edges[k]))} {_number(y(0))}V{_number(y(count))}H{_number(x(edges[k + 1]))}V{_number(y(0))}Z"
        for k, count in enumerate(counts.tolist())
        if count
    )
    body = [*_frame(x, y, x_label, "boxes"), f'<path class="bars" d="{bars}"/>']
    for value, label in marks:
        if low <= value <= high:
            body.append(
                f'<path class="mark" d="M{_number(x(value))} {_number(y.end)}V{_number(y.start)}"/>'
                f'<text class="mark" x="{_number(x(value) + 3)}" y="{_number(y.end + 10)}">{escape(label)}</text>'
            )
    return _svg(width, height, title, body)


def heat_map(x_values: np.ndarray, y_values: np.ndarray, *, title: str, x_label: str, y_label: str) -> str:
    """Where points in [0, 1]² fall, as cells coloured from one point (dark blue) to the most (yellow), y down
    like an image; empty cells are left blank."""
    counts, _, _ = np.histogram2d(x_values, y_values, bins=HEAT_BINS, range=[[0, 1], [0, 1]])
    colours = heat_colours(counts)
    left, top, _, _ = MARGIN
    side = HEIGHT
    cell = side / HEAT_BINS
    x = Axis(0, 1, left, left + side)
    y = Axis(0, 1, top, top + side)  # y grows downward, like the image's
    body = _frame(x, y, x_label, y_label)
    for i, j in zip(*np.nonzero(counts), strict=True):
        body.append(
            f'<rect x="{_number(left + i * cell)}" y="{_number(top + j * cell)}" width="{_number(cell)}" '
            f'height="{_number(cell)}" fill="{hex_colour(tuple(colours[i, j].tolist()))}"/>'
        )
    body.append(
        f'<text x="{left + side + 8}" y="{top + 10}">most: {int(counts.max(initial=0))}</text>'
        f'<text x="{left + side + 8}" y="{top + 24}">(log colour scale)</text>'
    )
    return _svg(left + side + 110, top + side + MARGIN[3], title, body)


def scatter(
    points: np.ndarray,
    *,
    title: str,
    x_label: str,
    y_label: str,
    weights: np.ndarray | None = None,
    marks: Sequence[tuple[float, float, str]] = (),
    seed: int = 0,
) -> str:
    """Points (a seeded sample of `MAX_POINTS` when there are more), as discs whose area follows `weights` when
    given; `marks` are drawn over them as labelled crosses."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(points) > MAX_POINTS:
        keep = np.sort(np.random.default_rng(seed).choice(len(points), MAX_POINTS, replace=False))
        points = points[keep]
        weights = None if weights is None else weights[keep]
    width, height = _size()
    every = np.vstack([points, np.array([(mx, my) for mx, my, _ in marks]).reshape(-1, 2)])
    x_high = _round_top(float(every[:, 0].max(initial=1.0)))
    y_high = _round_top(float(every[:, 1].max(initial=1.0)))
    x, y = _plot_axes(0, x_high, 0, y_high)
    radii = np.full(len(points), 1.6) if weights is None else 2 + 8 * np.sqrt(weights / max(weights.max(), 1))
    body = _frame(x, y, x_label, y_label)
    body.append(
        '<g class="points">'
        + "".join(
            f'<circle cx="{_number(x(px))}" cy="{_number(y(py))}" r="{_number(r)}"/>'
            for (px, py), r in zip(points.tolist(), radii.tolist(), strict=True)
        )
        + "</g>"
    )
    for mx, my, label in marks:
        cx, cy = x(mx), y(my)
        body.append(
            f'<path class="anchor" d="M{_number(cx - 5)} {_number(cy)}h10M{_number(cx)} {_number(cy - 5)}v10"/>'
            f'<text class="anchor" x="{_number(cx + 6)}" y="{_number(cy - 4)}">{escape(label)}</text>'
        )
    return _svg(width, height, title, body)
