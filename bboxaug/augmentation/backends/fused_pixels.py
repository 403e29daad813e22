"""The pixel transforms recorded after the warp, run with fewer passes where the result is the same bits.

- A run of brightness/contrast and gamma transforms on uint8 is one lookup table: each transform's own function
  is evaluated on the 256 values (per channel) and the tables are chained, so the image is read once however
  many of them fired. On uint8 these transforms are lookup tables in albumentations too (albucore's
  `multiply_add_lut`, the gamma table), so the chained table gives the same bits.
- HueSaturationValue on RGB uint8 is one conversion to HSV, one three-channel table (the hue, saturation and
  value shifts `albumentations...functional.shift_hsv` makes, built from the same expressions and albucore's
  `add_constant` on the 256 values) and one conversion back, where albumentations splits, shifts the three
  planes one by one and merges them.
- Every other transform runs its own function with the parameters it sampled.

The tests compare each shortcut with the transform's own function, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from albucore import add_constant, sz_lut

#: Transforms whose uint8 result is a function of each channel value alone, with a table per channel.
LOOKUP_TABLE_TRANSFORMS = frozenset({"RandomBrightnessContrast", "RandomGamma"})

_VALUES = np.arange(256, dtype=np.uint8)


@dataclass(frozen=True)
class PixelStep:
    """A pixel transform's call, kept for after the warp: its name, its pixel function, its sampled parameters."""

    name: str
    function: Callable[..., np.ndarray]
    params: Mapping[str, Any]


def _channels(image: np.ndarray) -> int:
    return int(image.shape[2]) if image.ndim == 3 else 1


def lookup_table(step: PixelStep, image: np.ndarray) -> np.ndarray:
    """(256, channels) uint8: what `step` makes of each value in each channel of an image like `image`."""
    channels = _channels(image)
    ramp = _VALUES.reshape(1, 256) if image.ndim == 2 else np.repeat(_VALUES.reshape(1, 256, 1), channels, axis=2)
    return np.asarray(step.function(ramp, **step.params), dtype=np.uint8).reshape(256, channels)


def apply_lookup_table(image: np.ndarray, table: np.ndarray) -> np.ndarray:
    """One table for every channel, or one per channel, applied with albucore's `sz_lut` (StringZilla's byte
    translation, about twice as fast as cv2.LUT here; per channel on split planes)."""
    if image.ndim == 2 or (table == table[:, :1]).all():
        return sz_lut(image, np.ascontiguousarray(table[:, 0]), inplace=False)
    planes = [
        sz_lut(plane, np.ascontiguousarray(table[:, channel]), inplace=False)
        for channel, plane in enumerate(cv2.split(image))
    ]
    return cv2.merge(planes)


def shift_hsv(
    image: np.ndarray, hue_shift: float, sat_shift: float, val_shift: float, *, bgr: bool = False
) -> np.ndarray:
    """HueSaturationValue on an RGB (or, when `bgr`, BGR) uint8 image as one table over its HSV planes (see the
    module docstring)."""
    if hue_shift == 0 and sat_shift == 0 and val_shift == 0:
        return image
    table = np.repeat(_VALUES.reshape(256, 1), 3, axis=1)
    if hue_shift != 0:
        table[:, 0] = np.mod(np.arange(0, 256, dtype=np.int16) + hue_shift, 180).astype(np.uint8)
    if sat_shift != 0:
        table[:, 1] = add_constant(_VALUES.reshape(1, 256).copy(), sat_shift, inplace=True).ravel()
        table[0, 1] = 0  # grey pixels (saturation 0) stay grey
    if val_shift != 0:
        table[:, 2] = add_constant(_VALUES.reshape(1, 256).copy(), val_shift, inplace=True).ravel()
    to_hsv, from_hsv = (cv2.COLOR_BGR2HSV, cv2.COLOR_HSV2BGR) if bgr else (cv2.COLOR_RGB2HSV, cv2.COLOR_HSV2RGB)
    return cv2.cvtColor(apply_lookup_table(cv2.cvtColor(image, to_hsv), table), from_hsv)


def run_step(image: np.ndarray, step: PixelStep, *, bgr: bool = False) -> np.ndarray:
    """One pixel transform on `image`: HueSaturationValue on 3-channel uint8 by `shift_hsv`, anything else by
    its own function."""
    if step.name == "HueSaturationValue" and image.dtype == np.uint8 and _channels(image) == 3:
        params = step.params
        return shift_hsv(image, params["hue_shift"], params["sat_shift"], params["val_shift"], bgr=bgr)
    return step.function(image, **step.params)


def apply_pixel_steps(image: np.ndarray, steps: list[PixelStep], *, bgr: bool = False) -> np.ndarray:
    """Run the recorded pixel transforms in order, a run of table transforms as one table; `bgr`: the image's
    channels are in BGR order (only HueSaturationValue needs to know)."""
    table: np.ndarray | None = None
    for step in steps:
        if image.dtype == np.uint8 and step.name in LOOKUP_TABLE_TRANSFORMS:
            current = lookup_table(step, image)
            table = current if table is None else np.take_along_axis(current, table.astype(np.intp), axis=0)
            continue
        if table is not None:
            image, table = apply_lookup_table(image, table), None
        image = run_step(image, step, bgr=bgr)
    return image if table is None else apply_lookup_table(image, table)
