"""Cut large images into overlapping tiles, so defects a few pixels wide survive training at a small input size.

`tile(src, dst, size=...)` writes every image of a dataset as tiles of `size` pixels, boxes cut to each tile, in
any format, keeping splits. The geometry is pure numpy and needs no pixels, so the whole plan (which tiles, which
boxes, which tiles are rejected or sampled away) is made from the annotations before any image is decoded; the
workers then decode each source once and write its tiles. The rules:

- Grid: along each axis the stride is `size - round(overlap * size)` (at least 1). Tiles start at 0, stride,
  2 * stride, ... and the last one is shifted back to end on the image border (never padded), so neighbours
  overlap by at least `round(overlap * size)` px and every box no larger than that on a side lies whole in at
  least one grid tile.
- An image smaller than a tile on an axis gets one tile there at offset 0, padded on the right or bottom with
  grey `PAD_VALUE` up to the tile size; the padding is recorded as `[left, top, right, bottom]`.
- A box is visible in a tile when the part of it inside the tile has an area above 0; its visible fraction is
  that area over the box's own. A visible box whose fraction reaches `min_visibility` is kept as the clipped box
  (marked `truncated` when cut). Below it the box is partial, and `partial` decides: "drop" the box, "keep" it
  clipped, or "reject" (the default) the whole tile, so that no written tile shows an object without its label.
- Extra tiles: a box that lies whole in no kept grid tile (larger than the overlap, or its tiles were rejected)
  gets one more tile, as near centred on it as can be, that holds it whole and, under "reject", cuts no other box
  below `min_visibility`. Where no such place exists (a box larger than a tile, a dense scene) the box is counted
  (`boxes_whole_in_no_tile`) and its image warned about.
- `negatives=R` keeps round(R * n) of the n tiles of a split left without boxes: those with the smallest hash of
  (seed, source image, offset), so the choice depends on the seed alone, never on `jobs` or the order of work.
- Tiles are named `<stem>_<x>_<y>.<ext>` (subfolders kept; sources OpenCV cannot write become PNG) and renamed
  like conversions do if two would collide. `tiles.json` lists every tile with its source, offset, size and
  padding; `tile_to_source` maps boxes found on a tile back to its source image.
- Counts add up: tiles planned = written + rejected + negatives skipped + failed (unreadable sources, with
  `on_error="skip"`); visible (tile, box) pairs = kept + kept partial + dropped + in rejected tiles.
- Per-box columns follow the rows (`Boxes.take`); polygon segmentations are cut to the tile; what describes the
  source's shape or identity (`area`, `shape`, `source_id`, RLE masks) is left behind.

Decoding and writing the pixels is `bboxaug.render`'s, shared with `bboxaug.resize`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from . import __version__
from .augment.worker import SOURCE_ONLY_COLUMNS
from .augment.geometry import RULE_TOLERANCE, _polygon_parts, clip_polygon
from .convert import dataset_counts, rename_collisions
from .dataset import Boxes, Dataset, ImageRecord, object_column
from .errors import UsageError
from .formats import Format
from .io import atomic_write_text
from .augment.images import writable_name
from .render import PAD_VALUE, Render, RenderJob, parse_size, read_prepared, run_renders, staged_output
from .report import OnError, Report

MANIFEST = "tiles.json"
Partial = Literal["drop", "keep", "reject"]
PARTIAL_POLICIES: tuple[Partial, ...] = ("drop", "keep", "reject")
#: Most tile starts per axis tried for an extra tile around a box no grid tile holds whole.
EXTRA_STEPS = 512
#: Most (place, box) shares computed at once in that search.
EXTRA_BLOCK = 1 << 21


# --- geometry (pure) -------------------------------------------------------------------------------------------

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
        return (min(round(self.overlap * self.width), self.width - 1),
                min(round(self.overlap * self.height), self.height - 1))

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
    return [(x, y, min(x + spec.width, width), min(y + spec.height, height))
            for y in axis_offsets(height, spec.height, stride_y) for x in axis_offsets(width, spec.width, stride_x)]


def clip_to_window(xyxy: np.ndarray, window: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Each box cut to `window` (x0, y0, x1, y1, source coordinates), and its visible fraction: the area of the
    cut over the box's own (0 where nothing is left, or the box has no area)."""
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    clipped = np.concatenate([np.maximum(xyxy[:, :2], window[:2]), np.minimum(xyxy[:, 2:], window[2:])], axis=1)
    visible = np.clip(clipped[:, 2:] - clipped[:, :2], 0.0, None).prod(axis=1)
    area = (xyxy[:, 2:] - xyxy[:, :2]).prod(axis=1)
    fraction = np.divide(visible, area, out=np.zeros(len(xyxy)), where=area > 0)
    return clipped, fraction


def tile_to_source(xyxy: np.ndarray | Sequence[Sequence[float]], offset: Sequence[float],
                   source_size: Sequence[float] | None = None) -> np.ndarray:
    """Boxes on a tile (xyxy, tile pixels) in its source image's pixels: shifted by the tile's `offset` (from
    `tiles.json`), and cut to the source's `(width, height)` when given (a prediction reaching into padding)."""
    shifted = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4) + np.tile(np.asarray(offset, np.float64), 2)
    if source_size is not None:
        shifted = np.clip(shifted, 0.0, np.tile(np.asarray(source_size, np.float64), 2))
    return shifted


def _cut_segmentation(segmentation: Any, window: Sequence[int]) -> Any:
    """A polygon segmentation cut to the window, in tile coordinates (None if nothing or RLE is left)."""
    x0, y0, x1, y1 = window
    parts = [clip_polygon(part - (x0, y0), x1 - x0, y1 - y0) for part in _polygon_parts(segmentation)]
    return [part.ravel().tolist() for part in parts if len(part) >= 3] or None


@dataclass(frozen=True)
class TileCut:
    """One tile of an image: its window, its boxes in tile coordinates, and what became of its visible boxes."""

    window: tuple[int, int, int, int]
    boxes: Boxes
    whole: frozenset[int]    # source rows lying whole in the tile
    visible: int             # boxes with some area in the tile
    partial: int             # visible boxes under min_visibility
    rejected: bool
    extra: bool = False      # placed around a box no grid tile kept whole, not on the grid

    @property
    def offset(self) -> tuple[int, int]:
        return self.window[0], self.window[1]

    @property
    def size(self) -> tuple[int, int]:
        """The size of the image part the tile shows (the tile's size less its padding)."""
        return self.window[2] - self.window[0], self.window[3] - self.window[1]


def cut_tile(boxes: Boxes, window: tuple[int, int, int, int], min_visibility: float, partial: Partial) -> TileCut:
    """The boxes of one tile under the visibility rule and the `partial` policy (see the module docstring)."""
    clipped, fraction = clip_to_window(boxes.xyxy, window)
    visible = fraction > 0
    if not visible.any():
        return TileCut(window, Boxes.empty(), frozenset(), 0, 0, False)
    enough = visible & (fraction >= min_visibility - RULE_TOLERANCE)
    under = visible & ~enough
    rows = np.flatnonzero(enough | under if partial == "keep" else enough)
    kept = boxes.take(rows)
    columns = {name: values for name, values in kept.columns.items() if name not in SOURCE_ONLY_COLUMNS}
    cut = fraction[rows] < 1.0
    if cut.any() or "truncated" in columns:
        columns["truncated"] = kept.column("truncated") | cut
    if "segmentation" in columns:
        columns["segmentation"] = object_column(_cut_segmentation(s, window) for s in columns["segmentation"])
    x0, y0 = window[:2]
    moved = Boxes(clipped[rows] - (x0, y0, x0, y0), kept.labels, columns)
    return TileCut(window, moved, frozenset(np.flatnonzero(fraction == 1.0).tolist()), int(visible.sum()),
                   int(under.sum()), partial == "reject" and bool(under.any()))


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


def extra_window(boxes: Boxes, row: int, width: int, height: int, spec: TileSpec, min_visibility: float,
                 partial: Partial) -> tuple[int, int, int, int] | None:
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
            share = along_y[first:first + rows, None, :] * along_x[None, :, :]
            fine[first:first + rows] = ~((share > 0) & (share < min_visibility - RULE_TOLERANCE)).any(axis=2)
        if not fine.any():
            return None
        distance = np.abs(ys - centre_y)[:, None] + np.abs(xs - centre_x)[None, :]
        j, i = np.unravel_index(np.argmin(np.where(fine, distance, np.iinfo(np.int64).max)), fine.shape)
        x, y = int(xs[i]), int(ys[j])
    return x, y, min(x + spec.width, width), min(y + spec.height, height)


def cut_image(image: ImageRecord, spec: TileSpec, min_visibility: float, partial: Partial) -> list[TileCut]:
    """The grid tiles of an image, then an extra tile around each box that no kept grid tile holds whole (a box
    larger than the overlap, or one whose tiles were rejected), where one fits."""
    width, height = image.width, image.height
    cuts = [cut_tile(image.boxes, window, min_visibility, partial)
            for window in tile_windows(width, height, spec)]  # type: ignore[arg-type]
    whole = set().union(*(cut.whole for cut in cuts if not cut.rejected))
    for row in range(len(image.boxes)):
        if row in whole:
            continue
        window = extra_window(image.boxes, row, width, height, spec, min_visibility, partial)  # type: ignore[arg-type]
        cut = None if window is None else cut_tile(image.boxes, window, min_visibility, partial)
        if cut is not None and not cut.rejected:
            cuts.append(dataclasses.replace(cut, extra=True))
            whole |= cut.whole
    return cuts


def tile_name(name: str, x: int, y: int) -> str:
    """`<stem>_<x>_<y>.<ext>`, subfolders kept."""
    return writable_name(name, f"_{x}_{y}")


def sample_negatives(keys: Sequence[str], fraction: float, seed: int) -> set[str]:
    """round(fraction * n) of the n keys: those with the smallest hash of (seed, key)."""
    count = math.floor(fraction * len(keys) + 0.5)
    def rank(key: str) -> tuple[bytes, str]:
        return hashlib.blake2b(f"{seed}\0{key}".encode(), digest_size=8).digest(), key
    return set(sorted(keys, key=rank)[:count])


# --- the tiling run ------------------------------------------------------------------------------------------------

@dataclass
class TilePlan:
    """Every tile to write, as (source image, cut), and what became of the others, counted."""

    tiles: list[tuple[ImageRecord, TileCut]]
    tile_counts: Counter[str]
    box_counts: Counter[str]
    rejected: list[dict[str, Any]]


def plan_tiles(dataset: Dataset, spec: TileSpec, *, min_visibility: float, partial: Partial, negatives: float,
               seed: int) -> TilePlan:
    """Cut every image (sizes known, boxes inside) into tiles; reject and sample negatives. No pixels needed."""
    tile_counts: Counter[str] = Counter()
    box_counts: Counter[str] = Counter()
    rejected, candidates = [], []
    for image in dataset.images:
        for cut in cut_image(image, spec, min_visibility, partial):
            tile_counts["planned"] += 1
            tile_counts["extra"] += cut.extra
            box_counts["visible"] += cut.visible
            if cut.rejected:
                tile_counts["rejected"] += 1
                box_counts["rejected"] += cut.visible
                rejected.append({"source": _key(image), "offset": list(cut.offset), "partial_boxes": cut.partial})
            else:
                box_counts["kept"] += cut.visible - cut.partial
                box_counts["kept_partial" if partial == "keep" else "dropped"] += cut.partial
                candidates.append((image, cut))
    negative_keys: dict[str, list[str]] = {}
    for image, cut in candidates:
        if not len(cut.boxes):
            negative_keys.setdefault(image.split, []).append(_tile_key(image, cut))
    chosen = set().union(*(sample_negatives(keys, negatives, seed) for keys in negative_keys.values()))
    tiles = [(image, cut) for image, cut in candidates if len(cut.boxes) or _tile_key(image, cut) in chosen]
    tile_counts["negatives_skipped"] = len(candidates) - len(tiles)
    return TilePlan(tiles, tile_counts, box_counts, rejected)


def _key(image: ImageRecord) -> str:
    return f"{image.split}/{image.name}"


def _tile_key(image: ImageRecord, cut: TileCut) -> str:
    return f"{_key(image)}@{cut.window[0]},{cut.window[1]}"


def _render_jobs(named: list[tuple[ImageRecord, TileCut, ImageRecord]], target: Format, spec: TileSpec
                 ) -> list[RenderJob]:
    """One job per source image: its tiles, each a crop written at its place in the target layout."""
    groups: dict[str, list[tuple[ImageRecord, TileCut, ImageRecord]]] = {}
    for item in named:
        groups.setdefault(_key(item[0]), []).append(item)
    jobs = []
    for key, group in groups.items():
        source = group[0][0]
        renders = tuple(Render(target.image_path(record.split, record.name), cut.window, cut.size,
                               (spec.width, spec.height)) for _, cut, record in group)
        jobs.append(RenderJob(key, source.source, source.width, source.height, renders))  # type: ignore[arg-type]
    return jobs


def _source_boxes(dataset: Dataset, written: list[tuple[ImageRecord, TileCut, ImageRecord]], failed: set[str],
                  report: Report) -> dict[str, int]:
    """Source boxes lying whole in some written tile, in none (each image warned about), or in failed images."""
    whole: dict[str, set[int]] = {}
    for image, cut, _ in written:
        whole.setdefault(_key(image), set()).update(cut.whole)
    counts = {"total": dataset.box_count, "whole_in_a_tile": 0, "whole_in_no_tile": 0, "in_failed_images": 0}
    for image in dataset.images:
        if _key(image) in failed:
            counts["in_failed_images"] += len(image.boxes)
            continue
        missing = len(image.boxes) - len(whole.get(_key(image), ()))
        counts["whole_in_a_tile"] += len(image.boxes) - missing
        counts["whole_in_no_tile"] += missing
        if missing:
            report.warn(_key(image), "boxes", f"{missing} box(es) lie whole in no written tile (larger than the "
                                              "overlap, or their tiles were rejected)")
    return counts


def _tile_entry(image: ImageRecord, cut: TileCut, record: ImageRecord, target: Format, spec: TileSpec
                ) -> dict[str, Any]:
    return {"image": _key(record), "path": target.image_path(record.split, record.name), "source": _key(image),
            "source_size": [image.width, image.height], "offset": list(cut.offset), "size": [spec.width, spec.height],
            "padding": [0, 0, spec.width - cut.size[0], spec.height - cut.size[1]], "extra": cut.extra}


@dataclass
class TileResult:
    """A finished run: the dataset of tiles as written, the report, and the manifest (`tiles.json`) content."""

    source_format: str
    target_format: str
    dataset: Dataset
    report: Report
    manifest: dict[str, Any]


def tile(src: Path | str, dst: Path | str, *, size: int | str | tuple[int, int], overlap: float = 0.2,
         min_visibility: float = 0.5, partial: Partial = "reject", negatives: float = 1.0, to: str | None = None,
         fmt_from: str | None = None, image_dir: Path | str | None = None, seed: int = 0, quality: int = 95,
         jobs: int = 1, on_error: OnError = "fail", overwrite: bool = False, progress: bool = False) -> TileResult:
    """Write the dataset at `src` as tiles of `size` (pixels: `W`, `(W, H)` or `"WxH"`) into the new folder
    `dst`, in `src`'s format unless `to` names another; `tiles.json` in `dst` maps every tile to its source."""
    src, dst = Path(src), Path(dst)
    width, height = parse_size(size) if isinstance(size, str) else (size, size) if isinstance(size, int) else size
    spec = TileSpec(width, height, overlap)
    if partial not in PARTIAL_POLICIES:
        raise UsageError(f"partial must be one of {', '.join(PARTIAL_POLICIES)}, not {partial!r}")
    for name, value in (("min_visibility", min_visibility), ("negatives", negatives)):
        if not 0.0 <= value <= 1.0:
            raise UsageError(f"{name} must be between 0 and 1, not {value}")
    if not 1 <= quality <= 100:
        raise UsageError(f"quality must be between 1 and 100, not {quality}")
    source_format, target, dataset, report = read_prepared(
        src, dst, to=to, fmt_from=fmt_from, image_dir=image_dir, on_error=on_error, overwrite=overwrite, jobs=jobs,
        progress=progress)
    plan = plan_tiles(dataset, spec, min_visibility=min_visibility, partial=partial, negatives=negatives, seed=seed)
    placeholders = dataset.replace(images=tuple(
        image.replace(name=tile_name(image.name, *cut.offset), width=spec.width, height=spec.height, boxes=cut.boxes,
                      source=None, source_id=None) for image, cut in plan.tiles))
    named = [(image, cut, record) for (image, cut), record
             in zip(plan.tiles, rename_collisions(placeholders, target, report).images)]

    with staged_output(dst, overwrite) as staging:
        failed = run_renders(_render_jobs(named, target, spec), staging, quality, report, workers=jobs,
                             progress=progress, description="tiling")
        written = [(image, cut, record.replace(source=dst / target.image_path(record.split, record.name)))
                   for image, cut, record in named if _key(image) not in failed]
        tile_counts, box_counts = plan.tile_counts, plan.box_counts
        tile_counts["written"], tile_counts["failed"] = len(written), len(named) - len(written)
        source_boxes = _source_boxes(dataset, written, failed, report)
        result = dataset.replace(images=tuple(record for _, _, record in written))
        target.write(result, staging, report=report)
        for name, value in (("tiles_rejected", tile_counts["rejected"]),
                            ("negative_tiles_skipped", tile_counts["negatives_skipped"]),
                            ("tile_boxes_dropped", box_counts["dropped"]),
                            ("tile_boxes_kept_partial", box_counts["kept_partial"]),
                            ("boxes_whole_in_no_tile", source_boxes["whole_in_no_tile"])):
            report.count(name, value)
        manifest = {
            "bboxaug": __version__, "source": str(src.resolve()), "from": source_format.name, "to": target.name,
            "tiling": {"size": [spec.width, spec.height], "overlap": overlap, "overlap_px": list(spec.overlap_px),
                       "stride": list(spec.stride), "min_visibility": min_visibility, "partial": partial,
                       "negatives": negatives, "seed": seed, "quality": quality, "pad_value": PAD_VALUE},
            **dataset_counts(result),
            "tile_counts": {k: tile_counts[k] for k in ("planned", "written", "rejected", "negatives_skipped",
                                                        "failed", "extra")},
            "box_counts": {k: box_counts[k] for k in ("visible", "kept", "kept_partial", "dropped", "rejected")},
            "source_boxes": source_boxes,
            "tiles": [_tile_entry(image, cut, record, target, spec) for image, cut, record in written],
            "rejected": plan.rejected,
            **report.to_json(),
        }
        atomic_write_text(staging / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return TileResult(source_format.name, target.name, result, report, manifest)


__all__ = ["MANIFEST", "PAD_VALUE", "TileCut", "TilePlan", "TileResult", "TileSpec", "axis_offsets", "cut_image",
           "clip_to_window", "cut_tile", "extra_window", "parse_size", "plan_tiles", "sample_negatives", "tile",
           "tile_name", "tile_to_source", "tile_windows"]
