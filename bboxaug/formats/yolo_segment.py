"""YOLO segmentation label lines: `class x1 y1 x2 y2 ...`, one ring per object, normalised by the image size.

What a box's ring is made of, in order (the contract is formats/yolo.md, "Segment lines"):
1. its polygon parts, or for an RLE mask the outer rings of its pixels (OpenCV contours; holes are left out, as a
   YOLO polygon has none: counted);
2. each part cut to the image (Sutherland-Hodgman; counted when it cut something), parts with no area left out;
3. several parts joined into one ring by the shortest edges between consecutive parts, each walked there and back
   (so the filled ring covers the parts and the connecting edges add no area), as Ultralytics' own converter does;
4. normalised, rounded to 6 decimals, and a vertex equal to the one before it once rounded left out (counted).
A box with no polygon or mask, or none with an area in its image, is written as its box's 4 corners (counted and
warned about by the writer). Pure numpy apart from the RLE decoding; no files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np

from bboxaug.core import codes
from bboxaug.core.model import Boxes
from bboxaug.core.polygons import clip_polygon, polygon_area, polygon_parts
from bboxaug.io.masks import decode_rle, is_rle, mask_rings, rle_size

#: Decimals of a normalised coordinate, and one value of a line as written.
DECIMALS = 6
VALUE = f" %.{DECIMALS}f"


def has_shape(segmentation: object) -> bool:
    """Whether a segmentation can give a YOLO polygon: polygon parts, or an RLE mask."""
    return bool(polygon_parts(segmentation)) or is_rle(segmentation)


def shape_parts(segmentation: object, width: int, height: int, counts: Counter[str]) -> list[np.ndarray]:
    """The polygon parts of a segmentation, or the outer rings of an RLE mask of the image's size (counted, and
    its holes counted as filled); [] for anything else."""
    if not is_rle(segmentation):
        return polygon_parts(segmentation)
    if rle_size(segmentation) != (width, height):
        return []
    rings = mask_rings(decode_rle(segmentation))
    counts[codes.POLYGONS_FROM_MASKS.name] += 1
    counts[codes.MASK_HOLES_FILLED.name] += bool(rings.holes)
    return rings.outer


def inside_parts(parts: Sequence[np.ndarray], width: int, height: int, counts: Counter[str]) -> list[np.ndarray]:
    """Each part cut to the image (counted once per instance cut), parts with no area inside left out."""
    kept, cut = [], False
    for part in parts:
        low, high = part.min(axis=0), part.max(axis=0)
        inside = low[0] >= 0 and low[1] >= 0 and high[0] <= width and high[1] <= height
        inner = part if inside else clip_polygon(part, width, height)  # the usual case needs no clipping
        cut |= not inside
        if polygon_area(inner) > 0:
            kept.append(inner)
    counts[codes.POLYGONS_CLIPPED.name] += cut
    return kept


def _closest(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """The vertex of `a` and the vertex of `b` nearest to each other."""
    distance = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
    i, j = np.unravel_index(int(np.argmin(distance)), distance.shape)
    return int(i), int(j)


def join_rings(rings: Sequence[np.ndarray]) -> np.ndarray:
    """Several rings as one: ring k is linked to ring k + 1 by the shortest edge between their vertices. The walk
    goes round the first ring from its link, along each link to the next ring and part of the way round it to its
    next link, round the last ring whole, then back along the links, finishing each ring on the way; the closing
    edge returns along the first link. Each link is walked once each way, so filling the ring (even-odd or
    non-zero) covers the rings and nothing between them."""
    if len(rings) == 1:
        return np.asarray(rings[0], dtype=np.float64)
    links = [_closest(rings[k], rings[k + 1]) for k in range(len(rings) - 1)]
    entries = [0] + [j for _, j in links]  # where each ring is entered (the first: where the walk starts)
    exits = [links[0][0]] + [i for i, _ in links[1:]] + [entries[-1]]  # where each leaves for the next
    entries[0] = exits[0]
    going, coming = [], []
    for k, ring in enumerate(rings):
        start, length = entries[k], len(ring)
        turned = np.roll(ring, -start, axis=0)
        stop = (exits[k] - start) % length
        if k in (0, len(rings) - 1):
            going.append(np.concatenate([turned, turned[:1]]))  # whole, back to where it was entered
        else:
            going.append(turned[: stop + 1])
            coming.append(np.concatenate([turned[stop:], turned[:1]]))  # the rest of the way round
    return np.concatenate(going + coming[::-1])


def normalised(ring: np.ndarray, width: int, height: int, counts: Counter[str]) -> np.ndarray:
    """The ring divided by the image size, rounded, each vertex equal to the one before it left out (counted)."""
    scaled = np.round(np.minimum(np.maximum(ring / (width, height), 0.0), 1.0), DECIMALS) + 0.0  # no "-0.000000"
    kept = np.ones(len(scaled), dtype=bool)
    kept[1:] = (scaled[1:, 0] != scaled[:-1, 0]) | (scaled[1:, 1] != scaled[:-1, 1])
    last = np.flatnonzero(kept)[-1]
    if last > 0 and np.array_equal(scaled[last], scaled[0]):
        kept[last] = False  # a closing vertex repeating the first
    counts[codes.POLYGON_POINTS_MERGED.name] += int(len(kept) - kept.sum())
    return scaled[kept]


def _corners(xyxy: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = xyxy
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64)


def instance_ring(segmentation: object, xyxy: np.ndarray, width: int, height: int, counts: Counter[str]) -> np.ndarray:
    """One box's normalised ring (see the module docstring)."""
    parts = inside_parts(shape_parts(segmentation, width, height, counts), width, height, counts)
    if len(parts) > 1:
        counts[codes.POLYGON_RINGS_JOINED.name] += 1
    ring = normalised(join_rings(parts), width, height, counts) if parts else np.zeros((0, 2))
    if len(ring) < 3:
        counts[codes.BOXES_WITHOUT_POLYGON.name] += 1
        ring = normalised(_corners(xyxy), width, height, Counter())
    return ring


def _is_single_part(segmentation: object) -> bool:
    """A polygon segmentation of exactly one part of three points or more."""
    if not isinstance(segmentation, list) or len(segmentation) != 1:
        return False
    part = segmentation[0]
    return isinstance(part, list) and len(part) >= 6 and len(part) % 2 == 0


def single_rings(segmentation: list[Any], box_sizes: np.ndarray, counts: Counter[str]) -> dict[int, list[float]]:
    """The usual case, for a whole batch in a few numpy passes: each box whose segmentation is one part lying
    inside its image (`box_sizes`: (M, 2) width, height per box), its ring normalised, rounded and without
    repeated vertices (counted), as flat values by row. Boxes left out (clipped, joined, masks, no area, fewer
    than three vertices left) take `instance_ring`, which gives the same ring for any box this gives one."""
    rows = [row for row, shape in enumerate(segmentation) if _is_single_part(shape)]
    if not rows:
        return {}
    flats = [segmentation[row][0] for row in rows]
    lengths = np.fromiter(map(len, flats), np.int64, len(flats)) // 2
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    points = np.fromiter(chain.from_iterable(flats), np.float64, 2 * int(lengths.sum())).reshape(-1, 2)
    sizes = np.repeat(box_sizes[rows].astype(np.float64), lengths, axis=0)
    outside = np.add.reduceat(((points < 0) | (points > sizes)).any(axis=1).astype(np.int64), starts) > 0
    following = np.arange(1, len(points) + 1)
    following[starts + lengths - 1] = starts  # each vertex's next one in its own ring
    cross = points[:, 0] * points[following, 1] - points[following, 0] * points[:, 1]
    area = np.abs(np.add.reduceat(cross, starts)) / 2
    scaled = np.round(np.minimum(np.maximum(points / sizes, 0.0), 1.0), DECIMALS) + 0.0  # no "-0.000000"
    keep = np.ones(len(points), dtype=bool)
    keep[1:] = (scaled[1:, 0] != scaled[:-1, 0]) | (scaled[1:, 1] != scaled[:-1, 1])
    keep[starts] = True
    last = np.maximum.reduceat(np.where(keep, np.arange(len(points)), -1), starts)
    closing = (last > starts) & (scaled[last] == scaled[starts]).all(axis=1)
    keep[last[closing]] = False
    kept = np.add.reduceat(keep.astype(np.int64), starts)
    good = ~outside & (area > 0) & (kept >= 3)
    counts[codes.POLYGON_POINTS_MERGED.name] += int((lengths - kept)[good].sum())
    values = scaled[keep].ravel().tolist()
    ends = np.cumsum(kept) * 2
    return {rows[k]: values[int(ends[k]) - 2 * int(kept[k]) : int(ends[k])] for k in np.flatnonzero(good).tolist()}


def polygon_lines(boxes: Boxes, sizes: np.ndarray, box_counts: Sequence[int]) -> tuple[list[str], Counter[str]]:
    """Each image's segment label lines (`idx x1 y1 x2 y2 ...`), for images of `sizes` ((N, 2) width, height)
    whose `box_counts` boxes are the rows of `boxes` in order; and what was counted on the way."""
    counts: Counter[str] = Counter()
    segmentation = boxes.column("segmentation").tolist()
    labels, xyxy = boxes.labels.tolist(), boxes.xyxy
    box_sizes = np.repeat(np.asarray(sizes, dtype=np.int64).reshape(-1, 2), box_counts, axis=0)
    simple = single_rings(segmentation, box_sizes, counts)
    texts, row = [], 0
    for (width, height), count in zip(np.asarray(sizes).tolist(), box_counts, strict=True):
        lines = []
        for _ in range(count):
            values = simple.get(row)
            if values is None:
                values = instance_ring(segmentation[row], xyxy[row], int(width), int(height), counts).ravel().tolist()
            lines.append(f"{labels[row]}" + VALUE * len(values) % tuple(values))
            row += 1
        texts.append("".join(line + "\n" for line in lines))
    counts[codes.member(codes.YOLO_LINES, "segment").name] += row
    return texts, counts
