"""Pixel masks <-> instances, with no files: what the masks format reads and writes, as pure functions.

A mask is an integer array of class values (0 is background). Reading, each connected component of one value is
an instance: its box is the component's pixel bounds (columns x0..x1 give `[x0, x1 + 1]`, the model's
convention), its polygon the outline of its pixels' edges, holes bridged in (integer pixel corners, so the
polygon's envelope is the box and rasterising it with pycocotools gives the component's pixels back exactly).
Writing paints each box's shape with its class value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from bboxaug.io.masks import decode_rle

Connectivity = Literal[4, 8]


@dataclass(frozen=True)
class Instance:
    """One connected component: its class value, pixel bounds as a box, outline (holes bridged in), and pixel
    count."""

    value: int
    xyxy: tuple[float, float, float, float]
    polygon: list[float]
    area: int


@dataclass
class Components:
    """The instances of one mask and the components left out for having fewer pixels than the minimum."""

    instances: list[Instance] = field(default_factory=list)
    dropped: int = 0


def _corners(border: np.ndarray, left: int, top: int) -> np.ndarray:
    """A border traced in the padded, doubled crop as the pixel corners it runs along, repeated and collinear
    points left out: each traced pixel lies in one quarter of its source pixel, whose nearest corner is `u // 2`
    (the padding's one pixel included)."""
    points = border.reshape(-1, 2).astype(np.int64) // 2 + np.array([left, top])
    points = points[np.any(points != np.roll(points, 1, axis=0), axis=1)]
    before, after = np.roll(points, 1, axis=0), np.roll(points, -1, axis=0)
    turn = (points - before)[:, 0] * (after - points)[:, 1] - (points - before)[:, 1] * (after - points)[:, 0]
    return points[turn != 0]


def rings(component: np.ndarray, left: int, top: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The outer edge and the hole edges of one component's pixels, each as (N, 2) integer corner points in
    image coordinates (`component` is its boolean crop, whose top-left pixel sits at (`left`, `top`)).

    Doubling every pixel into a 2x2 block lets OpenCV's border following (`findContours`, which traces pixel
    centres) give the order of the edges, and rounding each traced pixel to its source pixel's nearest corner
    gives points on the pixels' edges instead of their centres. Two parts touching at a corner (8-connectivity)
    share that vertex. OpenCV traces holes the other way round from the outer edge.
    """
    doubled = np.repeat(np.repeat(component.astype(np.uint8), 2, axis=0), 2, axis=1)
    padded = cv2.copyMakeBorder(doubled, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    contours, hierarchy = cv2.findContours(padded, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    is_hole = hierarchy.reshape(-1, 4)[:, 3] >= 0
    outer = [_corners(c, left, top) for c, hole in zip(contours, is_hole, strict=True) if not hole]
    holes = [_corners(c, left, top) for c, hole in zip(contours, is_hole, strict=True) if hole]
    return max(outer, key=len), holes


def bridged(outer: np.ndarray, holes: Sequence[np.ndarray]) -> np.ndarray:
    """One ring holding the outer edge and every hole: each hole joined by a bridge, there and back, from its
    top-left vertex to the nearest vertex of the outer edge. A bridge's two copies cancel under the even-odd rule
    (pycocotools, OpenCV's `fillPoly`) and under winding (OpenCV traces holes the other way round), wherever
    they run, so the ring fills exactly the component's pixels; its shoelace area is the pixel count."""
    joins: dict[int, list[np.ndarray]] = {}
    for hole in holes:
        top_left = int(np.lexsort((hole[:, 0], hole[:, 1]))[0])
        at = int(((outer - hole[top_left]) ** 2).sum(axis=1).argmin())
        rolled = np.roll(hole, -top_left, axis=0)
        joins.setdefault(at, []).append(np.concatenate([rolled, rolled[:1], outer[at : at + 1]]))
    parts, start = [], 0
    for at in sorted(joins):
        parts += [outer[start : at + 1], *joins[at]]
        start = at + 1
    return np.concatenate([*parts, outer[start:]])


def find_instances(values: np.ndarray, connectivity: Connectivity = 8, min_area: int = 0) -> Components:
    """Every connected component of every non-zero value of `values` (non-negative integers; in order of value,
    then of the component's first pixel in raster order), leaving out those of fewer than `min_area` pixels."""
    found = Components()
    for value in np.flatnonzero(np.bincount(values.ravel())[1:]) + 1:
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            (values == value).astype(np.uint8), connectivity=connectivity, ltype=cv2.CV_32S
        )
        for component in range(1, count):
            left, top, width, height, area = (int(v) for v in stats[component])
            if area < min_area:
                found.dropped += 1
                continue
            ring = bridged(*rings(labels[top : top + height, left : left + width] == component, left, top))
            box = (float(left), float(top), float(left + width), float(top + height))
            found.instances.append(Instance(int(value), box, ring.ravel().astype(np.float64).tolist(), area))
    return found


@dataclass
class Painted:
    """A written mask and what writing it needed to say: boxes painted as filled rectangles for want of a
    shape, and instances painted over part of an earlier one."""

    values: np.ndarray
    filled_boxes: int = 0
    overlaps: int = 0


def shape_rle(segmentation: Any, height: int, width: int) -> dict[str, Any] | None:
    """A segmentation (COCO polygons or RLE, compressed or not) as compressed RLE for an image of this size, or
    None when it gives no usable shape (no polygon of three points, an RLE of another size)."""
    if isinstance(segmentation, list):
        rings = [ring for ring in segmentation if isinstance(ring, list) and len(ring) >= 6]
        return dict(mask_utils.merge(mask_utils.frPyObjects(rings, height, width))) if rings else None
    if not isinstance(segmentation, dict) or list(segmentation.get("size", ())) != [height, width]:
        return None
    counts = segmentation.get("counts")
    if isinstance(counts, list):
        return dict(mask_utils.frPyObjects(segmentation, height, width))  # type: ignore[call-overload]  # stubs: no list counts
    if isinstance(counts, str | bytes):
        return {"size": [height, width], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    return None


def box_pixels(xyxy: Sequence[float], height: int, width: int) -> np.ndarray:
    """The pixels whose centres lie inside a box, as a boolean mask."""
    x0, y0, x1, y1 = (int(np.floor(v + 0.5)) for v in xyxy)
    filled = np.zeros((height, width), dtype=bool)
    filled[max(y0, 0) : max(min(y1, height), 0), max(x0, 0) : max(min(x1, width), 0)] = True
    return filled


def paint(
    height: int, width: int, shapes: Sequence[tuple[int, Any, Sequence[float]]], dtype: type = np.uint8
) -> Painted:
    """An image's mask from `(value, segmentation, xyxy)` per box: each box's shape (its box, filled, when it has
    none) painted with its value, larger shapes first so that a smaller one lying on a larger stays seen."""
    pixels = []
    painted = Painted(np.zeros((height, width), dtype=dtype))
    for value, segmentation, xyxy in shapes:
        rle = shape_rle(segmentation, height, width)
        if rle is None:
            mask = box_pixels(xyxy, height, width)
            painted.filled_boxes += 1
        else:
            mask = decode_rle(rle)
        pixels.append((value, mask))
    for value, mask in sorted(pixels, key=lambda item: -int(item[1].sum())):
        if painted.values[mask].any():
            painted.overlaps += 1
        painted.values[mask] = value
    return painted
