"""Tiling geometry: the grid of tiles over an image, boxes cut to a tile, extra tiles around boxes no grid tile
holds whole, and the seeded choice of negative tiles. Pure numpy: the whole tiling plan is made from the
annotations before any pixel is decoded (see `bboxaug.commands.tile` for the rules as a whole).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bboxaug.core.columns import carried_columns
from bboxaug.core.errors import UsageError
from bboxaug.core.model import Boxes, ImageRecord
from bboxaug.core.oriented import corners_of
from bboxaug.geometry.regions import Regions
from bboxaug.geometry.shapes import RULE_TOLERANCE, clip_polygon, move_obb, polygon_area

Partial = Literal["drop", "keep", "reject"]


PARTIAL_POLICIES: tuple[Partial, ...] = ("drop", "keep", "reject")


#: Most tile starts per axis tried for an extra tile around a box no grid tile holds whole.
EXTRA_STEPS = 512


#: Most (place, box) shares computed at once in that search.
EXTRA_BLOCK = 1 << 21


@dataclass(frozen=True)
class TileSpec:
    """Tile size in pixels and the share of it neighbouring tiles overlap by."""

    width: int
    height: int
    overlap: float = 0.2

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise UsageError(f"tile size must be at least 1x1, not {self.width}x{self.height}")
        if not 0.0 <= self.overlap < 1.0:
            raise UsageError(f"overlap must be at least 0 and below 1, not {self.overlap}")

    @property
    def overlap_px(self) -> tuple[int, int]:
        """The least overlap of neighbouring tiles, in pixels, along x and y (below the tile size, so the
        stride is at least 1)."""
        return (
            min(round(self.overlap * self.width), self.width - 1),
            min(round(self.overlap * self.height), self.height - 1),
        )

    @property
    def stride(self) -> tuple[int, int]:
        return self.width - self.overlap_px[0], self.height - self.overlap_px[1]


def axis_offsets(length: int, tile: int, stride: int) -> list[int]:
    """Tile starts along one axis: 0, stride, ... with the last shifted back to end at `length`; [0] when the
    axis is no longer than a tile."""
    if length <= tile:
        return [0]
    count = -(-(length - tile) // stride) + 1
    return [min(i * stride, length - tile) for i in range(count)]


def tile_windows(width: int, height: int, spec: TileSpec) -> list[tuple[int, int, int, int]]:
    """Each tile's part of the image as `(x0, y0, x1, y1)`, row by row: the tile's offset is (x0, y0), and
    (x1 - x0, y1 - y0) is smaller than the tile only where the image is (the rest is padding)."""
    stride_x, stride_y = spec.stride
    return [
        (x, y, min(x + spec.width, width), min(y + spec.height, height))
        for y in axis_offsets(height, spec.height, stride_y)
        for x in axis_offsets(width, spec.width, stride_x)
    ]


def clip_to_window(xyxy: np.ndarray, window: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Each box cut to `window` (x0, y0, x1, y1, source coordinates), and its visible fraction: the area of the
    cut over the box's own (0 where nothing is left, or the box has no area)."""
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    clipped = np.concatenate([np.maximum(xyxy[:, :2], window[:2]), np.minimum(xyxy[:, 2:], window[2:])], axis=1)
    visible = np.clip(clipped[:, 2:] - clipped[:, :2], 0.0, None).prod(axis=1)
    area = (xyxy[:, 2:] - xyxy[:, :2]).prod(axis=1)
    fraction = np.divide(visible, area, out=np.zeros(len(xyxy)), where=area > 0)
    return clipped, fraction


def tile_to_source(
    xyxy: np.ndarray | Sequence[Sequence[float]], offset: Sequence[float], source_size: Sequence[float] | None = None
) -> np.ndarray:
    """Boxes on a tile (xyxy, tile pixels) in its source image's pixels: shifted by the tile's `offset` (from
    `tiles.json`), and cut to the source's `(width, height)` when given (a prediction reaching into padding)."""
    shifted = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4) + np.tile(np.asarray(offset, np.float64), 2)
    if source_size is not None:
        shifted = np.clip(shifted, 0.0, np.tile(np.asarray(source_size, np.float64), 2))
    return shifted


@dataclass(frozen=True)
class TileCut:
    """One tile of an image: its window, its boxes in tile coordinates, and what became of its visible boxes."""

    window: tuple[int, int, int, int]
    boxes: Boxes
    whole: frozenset[int]  # source rows lying whole in the tile
    visible: int  # boxes with some area in the tile
    partial: int  # visible boxes under min_visibility
    rejected: bool
    extra: bool = False  # placed around a box no grid tile kept whole, not on the grid

    @property
    def offset(self) -> tuple[int, int]:
        return self.window[0], self.window[1]

    @property
    def size(self) -> tuple[int, int]:
        """The size of the image part the tile shows (the tile's size less its padding)."""
        return self.window[2] - self.window[0], self.window[3] - self.window[1]


def clip_obbs_to_window(
    boxes: Boxes, window: Sequence[float], clipped: np.ndarray, fraction: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`clip_to_window`'s boxes and fractions with those of boxes that have an oriented box taken from its quad:
    the visible share of the quad's area, and the envelope of the quad's visible part (so a tile that holds a
    rotated box's envelope but none of the box itself gets nothing)."""
    quads = boxes.columns.get("obb")
    if quads is None:
        return clipped, fraction
    clipped, fraction = clipped.copy(), fraction.copy()
    x0, y0, x1, y1 = window
    for row in np.flatnonzero((quads != None) & (fraction > 0)).tolist():  # noqa: E711
        corners = corners_of(quads[row])
        visible = clip_polygon(corners - (x0, y0), x1 - x0, y1 - y0)
        area, shown = polygon_area(corners), polygon_area(visible)
        fraction[row] = min(shown / area, 1.0) if area > 0 and len(visible) >= 3 else 0.0
        if fraction[row] > 0:
            corner = np.array([x0, y0], dtype=np.float64)
            clipped[row] = np.concatenate([visible.min(axis=0) + corner, visible.max(axis=0) + corner])
    return clipped, fraction


def cut_tile(
    boxes: Boxes,
    window: tuple[int, int, int, int],
    min_visibility: float,
    partial: Partial,
    size: tuple[int, int] | None = None,
    regions: Regions | None = None,
) -> TileCut:
    """The boxes of one tile under the visibility rule and the `partial` policy (see the module docstring). A
    tile is `size` pixels (the window's size unless padded); where a box has an oriented box, or `regions` gives
    its polygon or mask, its visible share and its clipped box come from that shape, and the shape is cut with
    it."""
    clipped, fraction = clip_obbs_to_window(boxes, window, *clip_to_window(boxes.xyxy, window))
    if regions is not None:
        clipped, fraction = regions.in_window(clipped, fraction, window)
    visible = fraction > 0
    if not visible.any():
        return TileCut(window, Boxes.empty(), frozenset(), 0, 0, False)
    enough = visible & (fraction >= min_visibility - RULE_TOLERANCE)
    under = visible & ~enough
    rows = np.flatnonzero(enough | under if partial == "keep" else enough)
    kept = boxes.take(rows)
    x0, y0, x1, y1 = window
    regions = regions or Regions([None] * len(boxes))
    columns = carried_columns(
        kept,
        "cut",
        lambda position, segmentation: regions.cut(rows[position], segmentation, window, size or (x1 - x0, y1 - y0)),
        lambda row, quad: move_obb(quad, lambda corners: corners - (x0, y0), x1 - x0, y1 - y0),
    )
    cut = fraction[rows] < 1.0
    if cut.any() or "truncated" in columns:
        columns["truncated"] = kept.column("truncated") | cut
    x0, y0 = window[:2]
    moved = Boxes(clipped[rows] - (x0, y0, x0, y0), kept.labels, columns)
    return TileCut(
        window,
        moved,
        frozenset(np.flatnonzero(fraction == 1.0).tolist()),
        int(visible.sum()),
        int(under.sum()),
        partial == "reject" and bool(under.any()),
    )


def _extra_starts(low: float, high: float, length: int, tile: int) -> tuple[np.ndarray, int]:
    """Tile starts along one axis that hold [low, high] whole (every one, or at most about `EXTRA_STEPS` evenly
    spaced), and the start centring it."""
    if length <= tile:
        return np.zeros(1, dtype=np.int64), 0
    lowest, highest = max(0, math.ceil(high) - tile), min(math.floor(low), length - tile)
    if lowest > highest:
        return np.zeros(0, dtype=np.int64), 0
    centre = min(max(round((low + high - tile) / 2), lowest), highest)
    step = max(1, -(-(highest - lowest + 1) // EXTRA_STEPS))
    return np.union1d(np.arange(lowest, highest + 1, step), [centre]).astype(np.int64), centre


def _shares(starts: np.ndarray, tile: int, sides: np.ndarray) -> np.ndarray:
    """(starts, boxes): the share of each box's extent on one axis (`sides`: start, end) inside each tile."""
    inside = np.minimum(sides[:, 1], starts[:, None] + tile) - np.maximum(sides[:, 0], starts[:, None])
    extent = sides[:, 1] - sides[:, 0]
    return np.divide(np.clip(inside, 0.0, None), extent, out=np.zeros(inside.shape), where=extent > 0)


def extra_window(
    boxes: Boxes, row: int, width: int, height: int, spec: TileSpec, min_visibility: float, partial: Partial
) -> tuple[int, int, int, int] | None:
    """The tile nearest to centred on box `row` that holds it whole; under "reject", the nearest that also cuts
    no box below `min_visibility` (every place is tried, on a grid of about `EXTRA_STEPS` per axis at most;
    ties go to the topmost, then leftmost).
    None when the box is larger than a tile or no place will do."""
    x0, y0, x1, y1 = boxes.xyxy[row]
    xs, centre_x = _extra_starts(x0, x1, width, spec.width)
    ys, centre_y = _extra_starts(y0, y1, height, spec.height)
    if not len(xs) or not len(ys):
        return None
    if partial != "reject":
        x, y = centre_x, centre_y
    else:
        along_x = _shares(xs, spec.width, boxes.xyxy[:, [0, 2]])
        along_y = _shares(ys, spec.height, boxes.xyxy[:, [1, 3]])
        near = (along_x > 0).any(axis=0) & (along_y > 0).any(axis=0)
        along_x, along_y = along_x[:, near], along_y[:, near]
        fine = np.empty((len(ys), len(xs)), dtype=bool)
        rows = max(1, EXTRA_BLOCK // (len(xs) * max(1, int(near.sum()))))
        for first in range(0, len(ys), rows):  # (y, x, box) shares, a block of rows at a time
            share = along_y[first : first + rows, None, :] * along_x[None, :, :]
            fine[first : first + rows] = ~((share > 0) & (share < min_visibility - RULE_TOLERANCE)).any(axis=2)
        if not fine.any():
            return None
        distance = np.abs(ys - centre_y)[:, None] + np.abs(xs - centre_x)[None, :]
        j, i = np.unravel_index(np.argmin(np.where(fine, distance, np.iinfo(np.int64).max)), fine.shape)
        x, y = int(xs[i]), int(ys[j])
    return x, y, min(x + spec.width, width), min(y + spec.height, height)


def cut_image(image: ImageRecord, spec: TileSpec, min_visibility: float, partial: Partial) -> list[TileCut]:
    """The grid tiles of an image, then an extra tile around each box that no kept grid tile holds whole (a box
    larger than the overlap, or one whose tiles were rejected), where one fits."""
    width, height = image.known_size()
    size, regions = (spec.width, spec.height), Regions.of(image.boxes, width, height)
    cuts = [
        cut_tile(image.boxes, window, min_visibility, partial, size, regions)
        for window in tile_windows(width, height, spec)
    ]
    whole = set().union(*(cut.whole for cut in cuts if not cut.rejected))
    for row in range(len(image.boxes)):
        if row in whole:
            continue
        window = extra_window(image.boxes, row, width, height, spec, min_visibility, partial)
        cut = None if window is None else cut_tile(image.boxes, window, min_visibility, partial, size, regions)
        if cut is not None and not cut.rejected:
            cuts.append(dataclasses.replace(cut, extra=True))
            whole |= cut.whole
    return cuts


def sample_negatives(keys: Sequence[str], fraction: float, seed: int) -> set[str]:
    """round(fraction * n) of the n keys: those with the smallest hash of (seed, key)."""
    count = math.floor(fraction * len(keys) + 0.5)

    def rank(key: str) -> tuple[bytes, str]:
        return hashlib.blake2b(f"{seed}\0{key}".encode(), digest_size=8).digest(), key

    return set(sorted(keys, key=rank)[:count])
