"""The `bboxaug stats --plot` picture, drawn with PIL and numpy (no plotting library): boxes per class as bars,
box width against height as a heat map, and where box centres fall in their images as a heat map."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from bboxaug.core.model import Dataset
from bboxaug.inspection.drawing import (
    BACKGROUND,
    GRID,
    INK,
    class_colour,
    fit_text,
    font,
    heat_colours,
    text_size,
    vertical_text,
)
from bboxaug.inspection.stats import BoxTable

PLOT = 400  # side of a heat map, and the least height of the bar chart, in pixels


MARGIN = (78, 44, 24, 76)  # left, top, right, bottom around each plot area


BINS = 50


BAR_MAX = 22  # thickest bar


NAME_WIDTH = 170  # longest class name shown before it is shortened


Tick = tuple[float, str]  # position in the plot (0..1 from the axis origin) and its label


def nice_step(span: float, count: int = 5) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about `count` ticks over `span`."""
    if span <= 0:
        return 1.0
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def value_ticks(top: float) -> list[Tick]:
    """Ticks from 0 to `top` at a round step, as positions 0..1 of the axis."""
    step = nice_step(top)
    values = np.arange(0, top + step * 1e-9, step)
    return [(value / top if top else 0.0, f"{value:g}") for value in values]


def _axes(
    draw: ImageDraw.ImageDraw,
    box: tuple[int, int, int, int],
    x_ticks: Sequence[Tick],
    y_ticks: Sequence[Tick],
    *,
    y_down: bool = False,
) -> None:
    """A frame round the plot area `box` with tick marks and labels; y runs up unless `y_down`."""
    left, top, right, bottom = box
    draw.rectangle(box, outline=INK)
    for position, label in x_ticks:
        x = left + position * (right - left)
        draw.line([(x, bottom), (x, bottom + 4)], fill=INK)
        draw.text((x, bottom + 6), label, fill=INK, font=font(11), anchor="mt")
    for position, label in y_ticks:
        y = top + position * (bottom - top) if y_down else bottom - position * (bottom - top)
        draw.line([(left - 4, y), (left, y)], fill=INK)
        draw.text((left - 6, y), label, fill=INK, font=font(11), anchor="rm")


def _titled(canvas: Image.Image, box: tuple[int, int, int, int], title: str, x_title: str, y_title: str) -> None:
    draw = ImageDraw.Draw(canvas)
    left, top, right, bottom = box
    draw.text(((left + right) / 2, top - 12), title, fill=INK, font=font(14), anchor="md")
    draw.text(((left + right) / 2, bottom + 24), x_title, fill=INK, font=font(12), anchor="mt")
    label = vertical_text(y_title, 12)
    canvas.paste(label, (max(2, left - 70), (top + bottom - label.height) // 2), label)


def class_bars(names: Sequence[str], counts: Sequence[int]) -> Image.Image:
    """Horizontal bars, one per class in class-list order, in each class's colour, with the count at the end."""
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    shown = [fit_text(probe, name, NAME_WIDTH, 12) for name in names]
    name_width = max([text_size(probe, name, 12)[0] for name in shown] + [20])
    slot = min(BAR_MAX + 6, max(8, PLOT // max(len(names), 1)))
    height = max(PLOT, slot * len(names))
    left = name_width + 16
    box = (left, MARGIN[1], left + PLOT, MARGIN[1] + height)
    canvas = Image.new("RGB", (box[2] + MARGIN[2] + 40, box[3] + MARGIN[3]), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    top_count = max(max(counts, default=0), 1)
    step = nice_step(top_count)
    axis_top = math.ceil(top_count / step) * step
    ticks = value_ticks(axis_top)
    for position, _ in ticks[1:]:
        x = box[0] + position * PLOT
        draw.line([(x, box[1]), (x, box[3])], fill=GRID)
    for k, (name, count) in enumerate(zip(shown, counts, strict=True)):
        middle = box[1] + slot * k + slot / 2
        thickness = max(2, min(BAR_MAX, int(slot * 0.7)))
        end = box[0] + PLOT * count / axis_top
        if count:
            draw.rectangle(
                [box[0], middle - thickness / 2, end, middle + thickness / 2], fill=class_colour(k), outline=INK
            )
        draw.text((box[0] - 6, middle), name, fill=INK, font=font(12), anchor="rm")
        draw.text((end + 4, middle), str(count), fill=INK, font=font(11), anchor="lm")
    _axes(draw, box, ticks, [])
    draw.text(((box[0] + box[2]) / 2, box[1] - 12), "boxes per class", fill=INK, font=font(14), anchor="md")
    draw.text(((box[0] + box[2]) / 2, box[3] + 24), "boxes", fill=INK, font=font(12), anchor="mt")
    return canvas


def heat_map(
    x: np.ndarray,
    y: np.ndarray,
    x_range: float,
    y_range: float,
    *,
    title: str,
    x_title: str,
    y_title: str,
    y_down: bool,
    unit_ticks: bool = False,
) -> Image.Image:
    """A 2-D histogram of (x, y) over [0, x_range] x [0, y_range] as coloured cells (log scale) with axes."""
    counts, _, _ = np.histogram2d(x, y, bins=BINS, range=[[0, x_range], [0, y_range]])
    cells = heat_colours(counts.T)  # rows are y bins, growing downward in the array
    if not y_down:
        cells = cells[::-1]
    box = (MARGIN[0], MARGIN[1], MARGIN[0] + PLOT, MARGIN[1] + PLOT)
    canvas = Image.new("RGB", (box[2] + MARGIN[2], box[3] + MARGIN[3]), BACKGROUND)
    canvas.paste(Image.fromarray(cells).resize((PLOT, PLOT), Image.Resampling.NEAREST), box[:2])
    draw = ImageDraw.Draw(canvas)
    if unit_ticks:
        x_ticks = y_ticks = [(v, f"{v:g}") for v in (0.0, 0.25, 0.5, 0.75, 1.0)]
    else:
        x_ticks, y_ticks = value_ticks(x_range), value_ticks(y_range)
    _axes(draw, box, x_ticks, y_ticks, y_down=y_down)
    _titled(canvas, box, title, x_title, y_title)
    _legend(canvas, (box[0] + box[2]) // 2, box[3] + 48, int(counts.max(initial=0)))
    return canvas


def _legend(canvas: Image.Image, centre: int, top: int, most: int) -> None:
    """The colour ramp from one box per cell to `most`, under a heat map."""
    ramp = heat_colours(np.geomspace(1, max(most, 1), 120)[None, :])
    strip = Image.fromarray(ramp).resize((120, 8), Image.Resampling.NEAREST)
    left = centre - 60
    canvas.paste(strip, (left, top))
    draw = ImageDraw.Draw(canvas)
    draw.text((left - 4, top + 4), "1", fill=INK, font=font(11), anchor="rm")
    draw.text((left + 124, top + 4), f"{most} boxes per cell (log scale)", fill=INK, font=font(11), anchor="lm")


def _side_by_side(panels: Sequence[Image.Image], header: str) -> Image.Image:
    width = sum(panel.width for panel in panels)
    height = max(panel.height for panel in panels) + 30
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    ImageDraw.Draw(canvas).text((12, 8), header, fill=INK, font=font(14))
    x = 0
    for panel in panels:
        canvas.paste(panel, (x, 30))
        x += panel.width
    return canvas


def render_stats_plot(dataset: Dataset, title: str = "") -> Image.Image:
    """The three panels side by side under a one-line summary."""
    table = BoxTable.of(dataset)
    names = dataset.class_names
    known = (table.labels >= 0) & (table.labels < len(names))
    counts = np.bincount(table.labels[known], minlength=len(names)).tolist()
    width, height = table.wh.T
    finite = np.isfinite(width) & np.isfinite(height)
    width, height = np.maximum(width[finite], 0), np.maximum(height[finite], 0)
    limit = max(float(width.max(initial=0)), float(height.max(initial=0)), 1.0)
    top = nice_step(limit) * math.ceil(limit / nice_step(limit))
    sizes = table.sizes[table.image]
    centres = (table.xyxy[:, :2] + table.xyxy[:, 2:]) / 2 / sizes
    placed = np.isfinite(centres).all(axis=1)
    panels = [
        class_bars(names, counts),
        heat_map(
            width,
            height,
            top,
            top,
            title="box width and height",
            x_title="box width (px)",
            y_title="box height (px)",
            y_down=False,
        ),
        heat_map(
            centres[placed, 0],
            centres[placed, 1],
            1.0,
            1.0,
            title="box centres",
            x_title="centre x / image width",
            y_title="centre y / image height",
            y_down=True,
            unit_ticks=True,
        ),
    ]
    header = (f"{title}   " if title else "") + (
        f"{len(dataset.images)} images, {len(table.labels)} boxes, "
        f"{int((table.counts == 0).sum())} negatives, {len(names)} classes"
    )
    return _side_by_side(panels, header)
