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
  that area over the box's own. Where the box has a polygon or an RLE mask, both come from that shape (polygon
  area, mask pixels), and so does the clipped box (the envelope of the shape's visible part): a box whose shape
  is not in the tile is not in it, however much of its box is. A visible box whose fraction reaches
  `min_visibility` is kept as the clipped box (marked `truncated` when cut). Below it the box is partial, and
  `partial` decides: "drop" the box, "keep" it clipped, or "reject" (the default) the whole tile, so that no
  written tile shows an object without its label.
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
- Per-box columns follow the rows (`Boxes.take`); polygon segmentations and RLE masks are cut to the tile; what
  describes the source's shape or identity (`area`, `shape`, `source_id`) is left behind.

Decoding and writing the pixels is `bboxaug.pipeline.render`'s, shared with `bboxaug.commands.resize`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bboxaug.core import codes
from bboxaug.core.errors import UsageError
from bboxaug.core.model import Dataset, ImageRecord
from bboxaug.core.report import OnError, Report
from bboxaug.formats.base import Format
from bboxaug.geometry.letterbox import PAD_VALUE, parse_size
from bboxaug.geometry.tiling import (
    PARTIAL_POLICIES,
    Partial,
    TileCut,
    TileSpec,
    cut_image,
    sample_negatives,
    tile_to_source,
)
from bboxaug.io.names import tile_name
from bboxaug.pipeline.classes import ClassOps
from bboxaug.pipeline.filters import Filters
from bboxaug.pipeline.prepare import rename_collisions
from bboxaug.pipeline.render import Render, RenderJob, run_renders
from bboxaug.pipeline.run import Context, Output, Written, run
from bboxaug.pipeline.source import Source
from bboxaug.preprocessing.steps import Preprocessing, PreprocessSpec

TILE_MANIFEST = "tiles.json"


@dataclass
class TilePlan:
    """Every tile to write, as (source image, cut), and what became of the others, counted."""

    tiles: list[tuple[ImageRecord, TileCut]]
    tile_counts: Counter[str]
    box_counts: Counter[str]
    rejected: list[dict[str, Any]]


def plan_tiles(
    dataset: Dataset, spec: TileSpec, *, min_visibility: float, partial: Partial, negatives: float, seed: int
) -> TilePlan:
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
                rejected.append({"source": image.key, "offset": list(cut.offset), "partial_boxes": cut.partial})
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


def _tile_key(image: ImageRecord, cut: TileCut) -> str:
    return f"{image.key}@{cut.window[0]},{cut.window[1]}"


def _render_jobs(
    named: list[tuple[ImageRecord, TileCut, ImageRecord]], target: Format, spec: TileSpec
) -> list[RenderJob]:
    """One job per source image: its tiles, each a crop written at its place in the target layout."""
    groups: dict[str, list[tuple[ImageRecord, TileCut, ImageRecord]]] = {}
    for item in named:
        groups.setdefault(item[0].key, []).append(item)
    jobs = []
    for key, group in groups.items():
        source = group[0][0]
        renders = tuple(
            Render(target.image_path(record.split, record.name), cut.window, cut.size, (spec.width, spec.height))
            for _, cut, record in group
        )
        jobs.append(RenderJob(key, source.source, *source.known_size(), renders))
    return jobs


def _source_boxes(
    dataset: Dataset, written: list[tuple[ImageRecord, TileCut, ImageRecord]], failed: set[str], report: Report
) -> dict[str, int]:
    """Source boxes lying whole in some written tile, in none (each image warned about), or in failed images."""
    whole: dict[str, set[int]] = {}
    for image, cut, _ in written:
        whole.setdefault(image.key, set()).update(cut.whole)
    counts = {"total": dataset.box_count, "whole_in_a_tile": 0, "whole_in_no_tile": 0, "in_failed_images": 0}
    for image in dataset.images:
        if image.key in failed:
            counts["in_failed_images"] += len(image.boxes)
            continue
        missing = len(image.boxes) - len(whole.get(image.key, ()))
        counts["whole_in_a_tile"] += len(image.boxes) - missing
        counts["whole_in_no_tile"] += missing
        if missing:
            report.warn(
                image.key,
                "boxes",
                f"{missing} box(es) lie whole in no written tile (larger than the "
                "overlap, or their tiles were rejected)",
                codes.BOXES_WHOLE_IN_NO_TILE,
            )
    return counts


def _tile_entry(
    image: ImageRecord, cut: TileCut, record: ImageRecord, target: Format, spec: TileSpec
) -> dict[str, Any]:
    return {
        "image": record.key,
        "path": target.image_path(record.split, record.name),
        "source": image.key,
        "source_size": [image.width, image.height],
        "offset": list(cut.offset),
        "size": [spec.width, spec.height],
        "padding": [0, 0, spec.width - cut.size[0], spec.height - cut.size[1]],
        "extra": cut.extra,
    }


@dataclass(frozen=True)
class NamedTiles:
    """The tiling plan and, for every tile to write, its source image, its cut and its record in the output
    (named, renamed where two would collide)."""

    plan: TilePlan
    named: list[tuple[ImageRecord, TileCut, ImageRecord]]


@dataclass(frozen=True)
class TileStep:
    """Every image cut into tiles of `spec` (see the module docstring for the rules)."""

    spec: TileSpec
    min_visibility: float = 0.5
    partial: Partial = "reject"
    negatives: float = 1.0
    seed: int = 0
    manifest: str = TILE_MANIFEST
    resumable: bool = False
    scratch: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.partial not in PARTIAL_POLICIES:
            raise UsageError(f"partial must be one of {', '.join(PARTIAL_POLICIES)}, not {self.partial!r}")
        for name, value in (("min_visibility", self.min_visibility), ("negatives", self.negatives)):
            if not 0.0 <= value <= 1.0:
                raise UsageError(f"{name} must be between 0 and 1, not {value}")

    def plan(self, dataset: Dataset, context: Context) -> NamedTiles:
        spec = self.spec
        plan = plan_tiles(
            dataset,
            spec,
            min_visibility=self.min_visibility,
            partial=self.partial,
            negatives=self.negatives,
            seed=self.seed,
        )
        placeholders = dataset.replace(
            images=tuple(
                image.replace(
                    name=tile_name(image.name, *cut.offset),
                    width=spec.width,
                    height=spec.height,
                    boxes=cut.boxes,
                    source=None,
                    source_id=None,
                )
                for image, cut in plan.tiles
            )
        )
        records = rename_collisions(placeholders, context.target, context.report).images
        return NamedTiles(
            plan, [(image, cut, record) for (image, cut), record in zip(plan.tiles, records, strict=True)]
        )

    def settings(self, plan: NamedTiles, context: Context) -> dict[str, Any]:
        spec = self.spec
        return {
            "tiling": {
                "size": [spec.width, spec.height],
                "overlap": spec.overlap,
                "overlap_px": list(spec.overlap_px),
                "stride": list(spec.stride),
                "min_visibility": self.min_visibility,
                "partial": self.partial,
                "negatives": self.negatives,
                "seed": self.seed,
                "quality": context.output.quality,
                "pad_value": PAD_VALUE,
            }
        }

    def run(self, plan: NamedTiles, dataset: Dataset, context: Context) -> list[Written]:
        target, report, output = context.target, context.report, context.output
        failed = run_renders(
            _render_jobs(plan.named, target, self.spec),
            context.root,
            output.quality,
            report,
            workers=output.jobs,
            progress=output.progress,
            description="tiling",
            preprocess=output.preprocess,
        )
        written = [
            (image, cut, record.replace(source=output.path / target.image_path(record.split, record.name)))
            for image, cut, record in plan.named
            if image.key not in failed
        ]
        tile_counts, box_counts = plan.plan.tile_counts, plan.plan.box_counts
        tile_counts["written"], tile_counts["failed"] = len(written), len(plan.named) - len(written)
        source_boxes = _source_boxes(dataset, written, failed, report)
        for name, value in (
            ("tiles_rejected", tile_counts["rejected"]),
            ("negative_tiles_skipped", tile_counts["negatives_skipped"]),
            ("tile_boxes_dropped", box_counts["dropped"]),
            ("tile_boxes_kept_partial", box_counts["kept_partial"]),
            ("boxes_whole_in_no_tile", source_boxes["whole_in_no_tile"]),
        ):
            report.count(name, value)
        manifest = {
            "tile_counts": {
                k: tile_counts[k] for k in ("planned", "written", "rejected", "negatives_skipped", "failed", "extra")
            },
            "box_counts": {k: box_counts[k] for k in ("visible", "kept", "kept_partial", "dropped", "rejected")},
            "source_boxes": source_boxes,
            "tiles": [_tile_entry(image, cut, record, target, self.spec) for image, cut, record in written],
            "rejected": plan.plan.rejected,
        }
        return [Written(dataset.replace(images=tuple(record for _, _, record in written)), manifest)]


@dataclass
class TileResult:
    """A finished run: the dataset of tiles as written, the report, and the manifest (`tiles.json`) content."""

    source_format: str | None
    target_format: str
    dataset: Dataset
    report: Report
    manifest: dict[str, Any]


def tile(
    src: Path | str,
    dst: Path | str,
    *,
    size: int | str | tuple[int, int],
    overlap: float = 0.2,
    min_visibility: float = 0.5,
    partial: Partial = "reject",
    negatives: float = 1.0,
    to: str | None = None,
    task: str | None = None,
    fmt_from: str | None = None,
    image_dir: Path | str | None = None,
    read_options: Mapping[str, Any] | None = None,
    seed: int = 0,
    quality: int = 95,
    jobs: int = 1,
    on_error: OnError = "fail",
    class_ops: ClassOps | None = None,
    filters: Filters | None = None,
    overwrite: bool = False,
    progress: bool = False,
    preprocess: PreprocessSpec = None,
) -> TileResult:
    """Write the dataset at `src` as tiles of `size` (pixels: `W`, `(W, H)` or `"WxH"`) into the new folder
    `dst`, in `src`'s format unless `to` names another; `tiles.json` in `dst` maps every tile to its source.
    `preprocess` steps are applied to every source first: tiles are cut from the pre-processed images.
    `class_ops` and `filters` rename, merge and drop classes and filter boxes and images first."""
    width, height = parse_size(size) if isinstance(size, str) else (size, size) if isinstance(size, int) else size
    step = TileStep(TileSpec(width, height, overlap), min_visibility, partial, negatives, seed)
    source = Source.at(src, fmt_from, image_dir, on_error, class_ops, filters=filters, read_options=read_options)
    result = run(
        step,
        source,
        Output(
            Path(dst),
            to,
            overwrite=overwrite,
            jobs=jobs,
            progress=progress,
            quality=quality,
            preprocess=Preprocessing.of(preprocess),
            task=task,
        ),
    )
    return TileResult(
        result.source_format, result.target_format, result.written[0].dataset, result.report, result.manifests[0]
    )


__all__ = ["TILE_MANIFEST", "TilePlan", "TileResult", "TileStep", "plan_tiles", "tile", "tile_to_source"]
