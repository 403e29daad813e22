"""The pixels of pre-processing: `preprocess(image, steps)` applies the steps in order to one decoded image. It is
what every worker of a run calls on each image it decodes, and what inference code calls on each frame, so both
see the same bytes. Pure OpenCV and NumPy, deterministic; `draw_window` (crop, scale, pad) is shared with the
tile and resize workers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from bboxaug.core.errors import ImageError
from bboxaug.core.model import EmbeddedImage
from bboxaug.geometry.letterbox import PAD_VALUE
from bboxaug.io.pixels import Picture, read_picture
from bboxaug.preprocessing.steps import (
    AutoContrast,
    Clahe,
    Crop,
    Grayscale,
    Preprocessing,
    PreprocessSpec,
    Resize,
    Step,
)


def draw_window(
    pixels: np.ndarray,
    window: tuple[int, int, int, int],
    scaled: tuple[int, int],
    canvas: tuple[int, int],
    place: tuple[int, int] = (0, 0),
    pad: int = PAD_VALUE,
) -> np.ndarray:
    """The `window` (x0, y0, x1, y1) of `pixels` scaled to `scaled` (w, h), area-averaged when shrinking and
    bilinear when enlarging, placed at `place` (left, top) on a `canvas` (w, h) of grey `pad`."""
    x0, y0, x1, y1 = window
    part = pixels[y0:y1, x0:x1]
    if scaled != (x1 - x0, y1 - y0):
        shrinking = scaled[0] * scaled[1] < (x1 - x0) * (y1 - y0)
        part = cv2.resize(part, scaled, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    if canvas == scaled:
        return part
    board = np.full((canvas[1], canvas[0], *part.shape[2:]), pad, dtype=np.uint8)
    left, top = place
    board[top : top + part.shape[0], left : left + part.shape[1]] = part
    return board


def _is_grey(pixels: np.ndarray) -> bool:
    """A 2-D image, or three equal channels (a grey image kept in three channels)."""
    if pixels.ndim == 2:
        return True
    return np.array_equal(pixels[:, :, 0], pixels[:, :, 1]) and np.array_equal(pixels[:, :, 0], pixels[:, :, 2])


def _on_grey(pixels: np.ndarray, change: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """`change` (one channel to one channel) applied to a grey image, kept in its channel layout."""
    if pixels.ndim == 2:
        return change(pixels)
    return cv2.merge([change(np.ascontiguousarray(pixels[:, :, 0]))] * 3)


def _luma(pixels: np.ndarray, bgr: bool) -> np.ndarray:
    if pixels.ndim == 2:
        return pixels
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY if bgr else cv2.COLOR_RGB2GRAY)


def _clahe(pixels: np.ndarray, step: Clahe, bgr: bool) -> np.ndarray:
    equalise = cv2.createCLAHE(clipLimit=step.clip, tileGridSize=step.grid).apply
    if _is_grey(pixels):
        return _on_grey(pixels, equalise)
    lab = cv2.cvtColor(pixels, cv2.COLOR_BGR2LAB if bgr else cv2.COLOR_RGB2LAB)
    lightness, a, b = cv2.split(lab)
    return cv2.cvtColor(cv2.merge([equalise(lightness), a, b]), cv2.COLOR_LAB2BGR if bgr else cv2.COLOR_LAB2RGB)


def _grayscale(pixels: np.ndarray, step: Grayscale, bgr: bool) -> np.ndarray:
    grey = _luma(pixels, bgr)
    return grey if step.channels == 1 else cv2.merge([grey] * 3)


def contrast_levels(luma: np.ndarray, step: AutoContrast) -> tuple[int, int]:
    """`lo` and `hi` of the stretch (see `AutoContrast`), from the histogram of the luminance levels."""
    histogram = np.bincount(luma.ravel(), minlength=256)
    total = histogram.sum()
    below = np.cumsum(histogram)
    above = np.cumsum(histogram[::-1])
    lo = int(np.searchsorted(below, step.low / 100 * total, side="right"))
    hi = 255 - int(np.searchsorted(above, (100 - step.high) / 100 * total, side="right"))
    return lo, hi


def _autocontrast(pixels: np.ndarray, step: AutoContrast, bgr: bool) -> np.ndarray:
    lo, hi = contrast_levels(_luma(pixels, bgr), step)
    if hi <= lo:
        return pixels
    levels = np.arange(256, dtype=np.float64)
    table = np.clip(np.rint((levels - lo) * 255.0 / (hi - lo)), 0, 255).astype(np.uint8)
    return cv2.LUT(pixels, table)


def _crop(pixels: np.ndarray, step: Crop) -> np.ndarray:
    x0, y0, x1, y1 = step.window(pixels.shape[1], pixels.shape[0])
    return pixels[y0:y1, x0:x1]


def _resize(pixels: np.ndarray, step: Resize) -> np.ndarray:
    height, width = pixels.shape[:2]
    where = step.scaling(width, height)
    return draw_window(
        pixels, (0, 0, width, height), where.content, (where.width, where.height), where.padding[:2], step.pad
    )


def apply_step(pixels: np.ndarray, step: Step, *, bgr: bool = False) -> np.ndarray:
    """One step on uint8 pixels (HxW grey, or HxWx3 RGB, or BGR when `bgr`)."""
    if isinstance(step, Clahe):
        return _clahe(pixels, step, bgr)
    if isinstance(step, Grayscale):
        return _grayscale(pixels, step, bgr)
    if isinstance(step, AutoContrast):
        return _autocontrast(pixels, step, bgr)
    if isinstance(step, Crop):
        return _crop(pixels, step)
    return _resize(pixels, step)


def preprocess(image: np.ndarray, steps: PreprocessSpec, *, bgr: bool = False) -> np.ndarray:
    """`image` (uint8, HxW grey or HxWx3 RGB; BGR as `cv2.imread` gives it when `bgr`) after `steps`: a
    `Preprocessing`, the STEPS text (`"clahe:clip=2;letterbox:640"`) or the list a manifest records under
    `preprocess`. The input is never changed; the same input and steps give the same pixels."""
    pixels = np.asarray(image)
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 3):
        raise ImageError(f"expected uint8 HxW or HxWx3 pixels, not {pixels.dtype} {pixels.shape}")
    for step in Preprocessing.of(steps).steps:
        pixels = apply_step(np.ascontiguousarray(pixels), step, bgr=bgr)
    return pixels if pixels is not image else pixels.copy()


def read_preprocessed(source: Path | EmbeddedImage, steps: Preprocessing, *, bgr: bool = False) -> Picture:
    """An image decoded upright (`bboxaug.io.pixels.read_picture`) and pre-processed: what a worker writes from."""
    picture = read_picture(source, bgr=bgr)
    return Picture(preprocess(picture.pixels, steps, bgr=bgr), picture.format) if steps else picture
