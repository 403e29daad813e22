"""The `balance.png` chart: instances per class before and after balancing, one panel per balanced split, drawn
with PIL and the inspection plots' drawing helpers (no plotting library)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

from bboxaug.inspection.drawing import INK, fit_text, font

if TYPE_CHECKING:
    from bboxaug.balancing.plan import BalancePlan, SplitPlan


BEFORE = (150, 150, 150)


AFTER = (46, 110, 180)


TARGET = (200, 40, 40)


BAR = 34  # bar width, px


GAP = 36  # space between classes, px


PLOT_HEIGHT = 240


MARGIN = (56, 56, 90, 64)  # left, top, right, bottom


def _panel(split: SplitPlan) -> Image.Image:
    rows = split.rows
    width = MARGIN[0] + MARGIN[2] + len(rows) * (2 * BAR + GAP)
    image = Image.new("RGB", (max(width, 420), MARGIN[1] + PLOT_HEIGHT + MARGIN[3]), "white")
    draw = ImageDraw.Draw(image)
    after = [row.planned if row.after is None else row.after for row in rows]
    target = max((row.target or 0 for row in rows), default=0)
    top = max([*after, *(row.before for row in rows), target, 1])
    base = MARGIN[1] + PLOT_HEIGHT

    def y(value: float) -> float:
        return base - PLOT_HEIGHT * value / top

    which = "written" if all(row.after is not None for row in rows) else "planned"
    draw.text(
        (MARGIN[0], 8),
        f"{split.split}: instances per class, before and {which} (target {split.rule})",
        fill=INK,
        font=font(),
    )
    draw.rectangle([MARGIN[0], 26, MARGIN[0] + 10, 36], fill=BEFORE)
    draw.text((MARGIN[0] + 14, 25), "before", fill=INK, font=font())
    draw.rectangle([MARGIN[0] + 70, 26, MARGIN[0] + 80, 36], fill=AFTER)
    draw.text((MARGIN[0] + 84, 25), which, fill=INK, font=font())
    draw.line([MARGIN[0] - 4, base, image.width - MARGIN[2], base], fill=INK)
    draw.text((4, base - 6), "0", fill=INK, font=font())
    draw.text((4, y(top) - 6), str(top), fill=INK, font=font())
    for index, (row, value) in enumerate(zip(rows, after, strict=True)):
        left = MARGIN[0] + GAP // 2 + index * (2 * BAR + GAP)
        for offset, count, colour in ((0, row.before, BEFORE), (BAR, value, AFTER)):
            draw.rectangle([left + offset, y(count), left + offset + BAR - 2, base], fill=colour)
            draw.text((left + offset, y(count) - 12), str(count), fill=INK, font=font())
        draw.text((left, base + 6), fit_text(draw, row.name, 2 * BAR + GAP - 4), fill=INK, font=font())
    if target:
        for x in range(MARGIN[0], image.width - MARGIN[2] - 5, 10):
            draw.line([x, y(target), x + 5, y(target)], fill=TARGET)
        draw.text((image.width - MARGIN[2] + 4, y(target) - 6), f"target {target}", fill=TARGET, font=font())
    return image


def chart_png(plan: BalancePlan) -> bytes:
    """The chart of every balanced split, stacked, as PNG bytes."""
    panels = [_panel(split) for split in plan.splits]
    chart = Image.new("RGB", (max(p.width for p in panels), sum(p.height for p in panels)), "white")
    top = 0
    for panel in panels:
        chart.paste(panel, (0, top))
        top += panel.height
    buffer = io.BytesIO()
    chart.save(buffer, format="PNG")
    return buffer.getvalue()
