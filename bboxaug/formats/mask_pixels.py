"""Pixel masks <-> instances, with no files: what the masks format reads and writes, as pure functions.

A mask is an integer array of class values (0 is background). Reading, each connected component of one value is
an instance: its box is the component's pixel bounds (columns x0..x1 give `[x0, x1 + 1]`, the model's
convention), its polygon the outline of its pixels' edges (integer pixel corners, so the polygon's envelope is
the box and rasterising it with pycocotools gives the component's pixels back exactly, holes filled), and, when
the component has holes, its exact mask as COCO RLE. Writing paints each box's shape with its class value.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
from pycocotools import mask as mask_utils

Connectivity = Literal[4, 8]


@contextmanager
def _quiet_pycocotools() -> Iterator[None]:
    """pycocotools' Cython layer under NumPy 2 warns that `__array__` takes no `copy`: harmless, and not ours."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "__array__ implementation doesn't accept a copy keyword", DeprecationWarning)
        yield


@dataclass(frozen=True)
class Instance:
    """One connected component: its class value, pixel bounds as a box, outline, pixel count, and its exact mask
    as COCO RLE when the outline does not tell it (the component has holes)."""

    value: int
    xyxy: tuple[float, float, float, float]
    polygon: list[float]
    area: int
    rle: dict[str, Any] | None = None


@dataclass
class Components:
    """The instances of one mask and the components left out for having fewer pixels than the minimum."""

    instances: list[Instance] = field(default_factory=list)
    dropped: int = 0


def outline(component: np.ndarray, left: int, top: int) -> np.ndarray:
    """The outer edge of a component's pixels as (N, 2) integer corner points in image coordinates.

    `component` is the component's boolean crop, whose top-left pixel sits at (`left`, `top`). Doubling every
    pixel into a 2x2 block makes each traced border pixel lie in exactly one quarter of its source pixel, and
    the border pixel's nearest source corner, `(u + 1) // 2`, is then a point of the pixels' edge: OpenCV's
    border following gives the edges' order, the rounding gives corners instead of pixel centres. Repeated and
    collinear points are left out; two parts touching at a corner (8-connectivity) share that vertex.
    """
    doubled = np.repeat(np.repeat(component.astype(np.uint8), 2, axis=0), 2, axis=1)
    padded = cv2.copyMakeBorder(doubled, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    contours, _ = cv2.findContours(padded, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    border = max(contours, key=len).reshape(-1, 2).astype(np.int64) - 1
    points = (border + 1) // 2 + np.array([left, top])
    points = points[np.any(points != np.roll(points, 1, axis=0), axis=1)]
    before, after = np.roll(points, 1, axis=0), np.roll(points, -1, axis=0)
    turn = (points - before)[:, 0] * (after - points)[:, 1] - (points - before)[:, 1] * (after - points)[:, 0]
    return points[turn != 0]


def ring_area(points: np.ndarray) -> float:
    """The area a closed ring encloses (shoelace formula)."""
    x, y = points[:, 0].astype(np.float64), points[:, 1].astype(np.float64)
    return abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))) / 2


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO RLE (`size` [h, w], `counts` as text) of a boolean image-sized mask."""
    with _quiet_pycocotools():
        encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    counts = encoded["counts"]
    text = counts.decode("ascii") if isinstance(counts, bytes) else counts
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": text}


def find_instances(values: np.ndarray, connectivity: Connectivity = 8, min_area: int = 0) -> Components:
    """Every connected component of every non-zero value of `values` (in order of value, then of the
    component's first pixel in raster order), leaving out those of fewer than `min_area` pixels."""
    found = Components()
    for value in np.unique(values):
        if value == 0:
            continue
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            (values == value).astype(np.uint8), connectivity=connectivity, ltype=cv2.CV_32S
        )
        for component in range(1, count):
            left, top, width, height, area = (int(v) for v in stats[component])
            if area < min_area:
                found.dropped += 1
                continue
            crop = labels[top : top + height, left : left + width] == component
            ring = outline(crop, left, top)
            rle = None
            if ring_area(ring) != area:  # the outline encloses more pixels than the component has: holes
                rle = encode_rle(labels == component)
            box = (float(left), float(top), float(left + width), float(top + height))
            found.instances.append(Instance(int(value), box, ring.ravel().astype(np.float64).tolist(), area, rle))
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
        with _quiet_pycocotools():
            return dict(mask_utils.merge(mask_utils.frPyObjects(rings, height, width))) if rings else None
    if not isinstance(segmentation, dict) or list(segmentation.get("size", ())) != [height, width]:
        return None
    counts = segmentation.get("counts")
    if isinstance(counts, list):
        with _quiet_pycocotools():
            return dict(mask_utils.frPyObjects(segmentation, height, width))  # type: ignore[call-overload]  # stubs: no list counts
    if isinstance(counts, str | bytes):
        return {"size": [height, width], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    return None


def rle_pixels(rle: dict[str, Any]) -> np.ndarray:
    """A compressed RLE (counts as bytes) as a boolean mask."""
    with _quiet_pycocotools():
        return mask_utils.decode(rle).astype(bool)  # type: ignore[arg-type]  # a plain dict of the same keys


def rle_bounds(rle: dict[str, Any]) -> tuple[float, float, float, float]:
    """The pixel bounds `(x0, y0, x1, y1)` of a compressed RLE's pixels."""
    with _quiet_pycocotools():
        x, y, w, h = (float(v) for v in mask_utils.toBbox(rle))  # type: ignore[arg-type]  # a plain dict
    return x, y, x + w, y + h


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
            mask = rle_pixels(rle)
        pixels.append((value, mask))
    for value, mask in sorted(pixels, key=lambda item: -int(item[1].sum())):
        if painted.values[mask].any():
            painted.overlaps += 1
        painted.values[mask] = value
    return painted
