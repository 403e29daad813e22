"""Small PIL drawing helpers shared by the stats plot and the preview grid: class colours, fonts, text, a colour
ramp for heat maps. Pure PIL and numpy, so inspecting a dataset needs no plotting library."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

Colour = tuple[int, int, int]


#: Class colours by position in the class list, cycling. Okabe and Ito's colour-blind-safe set (its black made
#: white, which shows on dark photos), then four more picked to stay as far from all the others: every pair stays
#: at least 10 CIEDE2000 apart for normal vision and under simulated protanopia, deuteranopia and tritanopia
#: (Machado et al. 2009, full severity), which tests/inspection/test_drawing.py checks.
PALETTE: tuple[Colour, ...] = (
    (213, 94, 0),  # vermillion
    (86, 180, 233),  # sky blue
    (0, 158, 115),  # bluish green
    (240, 228, 66),  # yellow
    (0, 114, 178),  # blue
    (230, 159, 0),  # orange
    (204, 121, 167),  # reddish purple
    (255, 255, 255),  # white
    (85, 85, 85),  # dark grey
    (170, 0, 0),  # dark red
    (187, 221, 170),  # pale green
    (187, 17, 136),  # magenta
)


BACKGROUND: Colour = (255, 255, 255)


INK: Colour = (30, 30, 30)


GRID: Colour = (200, 200, 200)


#: Heat-map ramp: white for empty, then dark blue, teal, green, yellow for one up to the most.
_RAMP = np.array(
    [(255, 255, 255), (68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)], dtype=np.float64
)


def class_colour(position: int) -> Colour:
    """The colour of the class at `position` in the class list (the same in every run and every picture)."""
    return PALETTE[position % len(PALETTE)]


def text_colour(background: Colour) -> Colour:
    """Black or white, whichever reads better on `background`."""
    red, green, blue = background
    return (0, 0, 0) if 0.299 * red + 0.587 * green + 0.114 * blue > 140 else (255, 255, 255)


@lru_cache(maxsize=8)
def font(size: int = 12) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """PIL's bundled font at `size` pixels (its fixed bitmap font where FreeType is missing)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()


def text_size(draw: ImageDraw.ImageDraw, text: str, size: int = 12) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font(size))
    return int(right - left), int(bottom - top)


def fit_text(draw: ImageDraw.ImageDraw, text: str, width: int, size: int = 12) -> str:
    """`text`, shortened in the middle with '...' until it fits in `width` pixels."""
    if text_size(draw, text, size)[0] <= width:
        return text
    keep = len(text)
    while keep > 1:
        keep -= 1
        shortened = f"{text[: keep // 2]}...{text[len(text) - (keep - keep // 2) :]}"
        if text_size(draw, shortened, size)[0] <= width:
            return shortened
    return "..."


def vertical_text(text: str, size: int = 12, colour: Colour = INK) -> Image.Image:
    """`text` rendered bottom-to-top on a transparent image (a y-axis title)."""
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    width, height = text_size(probe, text, size)
    image = Image.new("RGBA", (width + 2, height + 6), (0, 0, 0, 0))
    ImageDraw.Draw(image).text((1, 1), text, fill=colour, font=font(size), anchor="lt")
    return image.rotate(90, expand=True)


def heat_colours(counts: np.ndarray) -> np.ndarray:
    """RGB uint8 for each cell of a 2-D histogram: white where empty, else dark blue (one) to yellow (the most),
    on a log scale of the count."""
    counts = np.asarray(counts, dtype=np.float64)
    top = np.log(counts.max()) if counts.size and counts.max() > 1 else 1.0
    level = np.where(counts > 0, 1 + (len(_RAMP) - 2) * np.log(np.maximum(counts, 1)) / top, 0.0)
    low = np.clip(np.floor(level).astype(int), 0, len(_RAMP) - 2)
    fraction = (level - low)[..., None]
    return np.round(_RAMP[low] * (1 - fraction) + _RAMP[low + 1] * fraction).astype(np.uint8)
