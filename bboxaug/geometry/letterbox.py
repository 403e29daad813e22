"""Resizing geometry: where a source lands at a target size (letterbox, fit or stretch), boxes scaled exactly,
and the way back. A point `(x, y)` of the source lands at `(x * sx + left, y * sy + top)`, with `sx` the scale the
pixels really got (`round(w * s) / w`), which OpenCV's `resize` maps pixel corners by.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from bboxaug.core.columns import carried_columns
from bboxaug.core.errors import UsageError
from bboxaug.core.model import Boxes
from bboxaug.core.oriented import as_quad, corners_of
from bboxaug.geometry.regions import mapped_mask, source_mask
from bboxaug.geometry.shapes import move_segmentation


def parse_size(text: str) -> tuple[int, int]:
    """`"512"` -> (512, 512); `"640x480"` -> (640, 480): width then height, both positive."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*", text)
    if not match or int(match[1]) < 1 or (match[2] is not None and int(match[2]) < 1):
        raise UsageError(f"size must be W or WxH in whole pixels above 0, like 512 or 640x480, not {text!r}")
    return int(match[1]), int(match[2] or match[1])


Mode = Literal["letterbox", "fit", "stretch"]


#: Grey of the padding added where an image is smaller than its canvas (a letterbox, a tile): the usual one.
PAD_VALUE = 114


MODES: tuple[Mode, ...] = ("letterbox", "fit", "stretch")


@dataclass(frozen=True)
class Scaling:
    """Where a source lands in its resized image: `(x, y) -> (x * scale[0] + left, y * scale[1] + top)` on a
    `width x height` image whose `padding` is `(left, top, right, bottom)`."""

    width: int
    height: int
    scale: tuple[float, float]
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def content(self) -> tuple[int, int]:
        """The size the source's pixels are scaled to (the image less its padding)."""
        left, top, right, bottom = self.padding
        return self.width - left - right, self.height - top - bottom


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """`"640,1024"` or `"640x480,1280x960"`: the sizes in order; the same size twice is refused."""
    sizes = [parse_size(part) for part in text.split(",")]
    if len(set(sizes)) != len(sizes):
        raise UsageError(f"a size is listed twice in {text!r}")
    return sizes


def size_folder(size: tuple[int, int]) -> str:
    """`640` for a square size, `640x480` otherwise: the output folder of one size."""
    return str(size[0]) if size[0] == size[1] else f"{size[0]}x{size[1]}"


def scaling(width: int, height: int, size: tuple[int, int], mode: Mode) -> Scaling:
    """How a `width x height` source is placed at `size` in `mode` (see the module docstring)."""
    if mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    target_w, target_h = size
    if mode == "stretch":
        return Scaling(target_w, target_h, (target_w / width, target_h / height))
    factor = min(target_w / width, target_h / height)
    content_w, content_h = max(1, round(width * factor)), max(1, round(height * factor))
    scale = (content_w / width, content_h / height)
    if mode == "fit":
        return Scaling(content_w, content_h, scale)
    left, top = (target_w - content_w) // 2, (target_h - content_h) // 2
    return Scaling(target_w, target_h, scale, (left, top, target_w - content_w - left, target_h - content_h - top))


def to_resized(xyxy: np.ndarray | Sequence[Sequence[float]], where: Scaling) -> np.ndarray:
    """Source boxes (xyxy pixels) in the resized image, kept inside its content (float rounding only)."""
    left, top = where.padding[:2]
    factors = np.tile(np.asarray(where.scale, np.float64), 2)
    moved = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4) * factors + (left, top, left, top)
    width, height = where.content
    return np.clip(moved, (left, top, left, top), (left + width, top + height, left + width, top + height))


def resized_to_source(
    xyxy: np.ndarray | Sequence[Sequence[float]], scale: Sequence[float], padding: Sequence[int] = (0, 0, 0, 0)
) -> np.ndarray:
    """Boxes on a resized image back in its source's pixels, from the `scale` and `padding` in `resize.json`."""
    left, top = padding[0], padding[1]
    factors = np.tile(np.asarray(scale, np.float64), 2)
    return (np.asarray(xyxy, dtype=np.float64).reshape(-1, 4) - (left, top, left, top)) / factors


def resize_boxes(
    boxes: Boxes, where: Scaling, min_box_size: float, source_size: tuple[int, int] | None = None
) -> tuple[Boxes, int]:
    """The boxes at their place in the resized image, less those whose shorter side is under `min_box_size`
    pixels there, or whose RLE mask (of an image of `source_size`) keeps no pixel once scaled; and how many were
    dropped. Polygons are scaled; masks are scaled with the pixels (`geometry.regions.mapped_mask`)."""
    xyxy = to_resized(boxes.xyxy, where)
    keep = np.flatnonzero((xyxy[:, 2:] - xyxy[:, :2]).min(axis=1, initial=np.inf) >= min_box_size)
    kept = boxes.take(keep)
    factors, shift = np.asarray(where.scale), np.asarray(where.padding[:2])
    content = (float(shift[0]), float(shift[1]), float(shift[0] + where.content[0]), float(shift[1] + where.content[1]))
    vanished: list[int] = []

    def moved(row: int, segmentation: Any) -> Any:
        mask = None if source_size is None else source_mask(segmentation, *source_size)
        if mask is None:
            return move_segmentation(segmentation, lambda part: part * factors + shift)
        found = mapped_mask(mask, where.scale, where.padding[:2], (where.width, where.height), content)
        if found is None:
            vanished.append(row)
        return found

    columns = carried_columns(kept, "scale", moved, lambda row, quad: as_quad(corners_of(quad) * factors + shift))
    resized = Boxes(xyxy[keep], kept.labels, columns)
    if vanished:
        resized = resized.take(np.setdiff1d(np.arange(len(resized)), vanished))
    return resized, len(boxes) - len(resized)
