"""Copy-paste of rare objects, the planning side: cut an object out of one image and choose a free place for it in
another (the pixels are moved by `bboxaug.balancing.paste_pixels`).

An object is cut by its mask where it has one (COCO or Labelme polygons; RLE masks decoded with pycocotools), else
by its box, which is pasted with a soft edge of `FEATHER` pixels of its own surroundings. The cut is scaled (by the
host's size relative to its source's, times a log-uniform jitter), flipped half the time, and put where its box
has an IoU below `max_iou` with every box already in the image and its pixels cover at most `max_cover` of any of
them. Placement needs only geometry, so it is decided when the run is planned; the pasted box is the bounds of the
pasted mask, known exactly before any pixel is read. Every random choice comes from a seed derived from the run
seed, the host image, the paste image's index and the object's slot in it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bboxaug.augmentation.seeds import derive_seed
from bboxaug.core.columns import carried_columns
from bboxaug.core.model import Boxes, EmbeddedImage, ImageRecord, object_column
from bboxaug.io.masks import decode_rle, encode_rle

MAX_IOU = 0.1  # a pasted box's IoU with every box already in the image stays below this


MAX_COVER = 0.1  # the pasted pixels cover at most this share of any box already in the image


SCALE_JITTER = (0.8, 1.25)  # scale factor range (log-uniform) on top of the host/source size ratio


FLIP = 0.5  # chance of a horizontal flip


FEATHER = 2  # px of soft edge around an object cut by its box


TRIES = 100  # random positions tried per object


SUBPIXELS = 4  # polygons are rasterised at this many sub-pixels per pixel side


@dataclass(frozen=True, eq=False)
class Cutout:
    """One object to paste: where it is (image key, box row, pixels), its cut rectangle in the source
    (`origin` x, y and `size` w, h in whole pixels) and its mask inside that rectangle (None: the whole box)."""

    key: str
    row: int
    label: int
    source: Path | EmbeddedImage
    image_size: tuple[int, int]
    origin: tuple[int, int]
    size: tuple[int, int]
    mask: np.ndarray | None
    neighbours: np.ndarray  # every box of the source image (its own included): not background


@dataclass(frozen=True, eq=False)
class Placement:
    """A cutout placed in a host: scaled to `scaled` (w, h), maybe flipped, its cut rectangle's top-left at
    `corner` in the host; `mask` is the transformed mask (None: the whole rectangle, soft edge); `box` is the
    exact bounds of the pasted mask in the host."""

    cutout: Cutout
    scaled: tuple[int, int]
    flip: bool
    corner: tuple[int, int]
    mask: np.ndarray | None
    box: tuple[float, float, float, float]

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.cutout.key,
            "row": self.cutout.row,
            "box": list(self.box),
            "flip": self.flip,
            "scale": round(self.scaled[0] / self.cutout.size[0], 4),
            "mask": self.mask is not None,
        }


def _polygon_mask(parts: list[np.ndarray], width: int, height: int) -> tuple[int, int, np.ndarray]:
    """The pixels at least half covered by the polygons (even-odd; filled at sub-pixels, then averaged), within
    the polygons' bounds clipped to the image: the bounds' top-left and the mask."""
    points = np.vstack(parts)
    x0, y0 = max(0, math.floor(points[:, 0].min())), max(0, math.floor(points[:, 1].min()))
    x1, y1 = min(width, math.ceil(points[:, 0].max())), min(height, math.ceil(points[:, 1].max()))
    if x1 <= x0 or y1 <= y0:
        return x0, y0, np.zeros((0, 0), bool)
    canvas = np.zeros(((y1 - y0) * SUBPIXELS, (x1 - x0) * SUBPIXELS), np.uint8)
    shifted = [np.round(((part - (x0, y0)) * SUBPIXELS - 0.5) * 16).astype(np.int32) for part in parts]
    cv2.fillPoly(canvas, shifted, 1, cv2.LINE_8, shift=4)
    return x0, y0, canvas.reshape(y1 - y0, SUBPIXELS, x1 - x0, SUBPIXELS).mean(axis=(1, 3)) >= 0.5


def object_mask(segmentation: Any, width: int, height: int) -> tuple[int, int, np.ndarray] | None:
    """An object's pixels from its polygon or RLE segmentation: the top-left of their bounds and the mask within
    them; None when it has no usable segmentation or no pixel."""
    x0 = y0 = 0
    if isinstance(segmentation, list):
        parts = [
            np.asarray(flat, np.float64).reshape(-1, 2)
            for flat in segmentation
            if isinstance(flat, (list, tuple)) and len(flat) >= 6 and len(flat) % 2 == 0
        ]
        if not parts:
            return None
        x0, y0, mask = _polygon_mask(parts, width, height)
    elif isinstance(segmentation, dict) and list(segmentation.get("size", ())) == [height, width]:
        mask = decode_rle(segmentation)
    else:
        return None
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return None
    return (x0 + int(xs.min()), y0 + int(ys.min()), mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].copy())


def cut(image: ImageRecord, row: int) -> Cutout | None:
    """The cutout of box `row` of `image` (whose size is known): by its mask, else its whole-pixel box."""
    width, height = image.known_size()
    where = (image.key, row, int(image.boxes.labels[row]), image.known_source(), (width, height))
    found = object_mask(image.boxes.column("segmentation")[row], width, height)
    if found is not None:
        x0, y0, mask = found
        size = (mask.shape[1], mask.shape[0])
        return Cutout(*where, (x0, y0), size, mask, image.boxes.xyxy)
    x1, y1, x2, y2 = image.boxes.xyxy[row]
    x0, y0 = max(0, math.floor(x1)), max(0, math.floor(y1))
    x3, y3 = min(width, math.ceil(x2)), min(height, math.ceil(y2))
    if x3 <= x0 or y3 <= y0:
        return None
    return Cutout(*where, (x0, y0), (x3 - x0, y3 - y0), None, image.boxes.xyxy)


def touches_border(image: ImageRecord, row: int) -> bool:
    """Whether a box reaches its image's edge (the object may be cut off: a poor thing to paste mid-image)."""
    x1, y1, x2, y2 = image.boxes.xyxy[row]
    width, height = image.known_size()
    return bool(x1 <= 0 or y1 <= 0 or x2 >= width or y2 >= height)


def inverse_map(cutout: Cutout, scaled: tuple[int, int], flip: bool, pad: int) -> np.ndarray:
    """The affine map from a pixel of the scaled (padded by `pad`) grid to a pixel of the cut rectangle, in OpenCV's
    pixel-centre coordinates (cut rectangle's own origin)."""
    (w, h), (tw, th) = cutout.size, scaled
    sx, sy = tw / w, th / h
    if flip:
        return np.array([[-1 / sx, 0, w - (0.5 - pad) / sx - 0.5], [0, 1 / sy, (0.5 - pad) / sy - 0.5]])
    return np.array([[1 / sx, 0, (0.5 - pad) / sx - 0.5], [0, 1 / sy, (0.5 - pad) / sy - 0.5]])


def scaled_mask(cutout: Cutout, scaled: tuple[int, int], flip: bool) -> np.ndarray | None:
    """The cutout's mask on the scaled grid (nearest neighbour); None for box cutouts."""
    if cutout.mask is None:
        return None
    warped = cv2.warpAffine(
        cutout.mask.astype(np.uint8),
        inverse_map(cutout, scaled, flip, 0),
        scaled,
        flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
        borderValue=0,
    )
    return warped.astype(bool)


def box_iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of each row of `box` (T, 4) with each of `others` (N, 4): (T, N)."""
    ix = np.clip(
        np.minimum(box[:, None, 2], others[None, :, 2]) - np.maximum(box[:, None, 0], others[None, :, 0]), 0, None
    )
    iy = np.clip(
        np.minimum(box[:, None, 3], others[None, :, 3]) - np.maximum(box[:, None, 1], others[None, :, 1]), 0, None
    )
    inter = ix * iy
    area_a = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
    area_b = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def covered_share(footprint: np.ndarray, corners: np.ndarray, others: np.ndarray) -> np.ndarray:
    """For a footprint (bool array) put with its top-left at each of `corners` (T, 2), the share of each box of
    `others` (N, 4) it covers: (T, N). A pixel counts for a box when any part of it lies inside the box."""
    h, w = footprint.shape
    integral = np.zeros((h + 1, w + 1), np.int64)
    integral[1:, 1:] = footprint.astype(np.int64).cumsum(0).cumsum(1)
    area = np.maximum((others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1]), 1e-12)
    x0 = np.clip(np.floor(others[None, :, 0]) - corners[:, None, 0], 0, w).astype(np.int64)
    x1 = np.clip(np.ceil(others[None, :, 2]) - corners[:, None, 0], 0, w).astype(np.int64)
    y0 = np.clip(np.floor(others[None, :, 1]) - corners[:, None, 1], 0, h).astype(np.int64)
    y1 = np.clip(np.ceil(others[None, :, 3]) - corners[:, None, 1], 0, h).astype(np.int64)
    inside = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
    return np.minimum(inside / area[None, :], 1.0)


def place(
    cutout: Cutout,
    host_size: tuple[int, int],
    occupied: np.ndarray,
    rng: np.random.Generator,
    *,
    max_iou: float = MAX_IOU,
    max_cover: float = MAX_COVER,
) -> Placement | None:
    """Scale, flip and put `cutout` at a free place of a host of `host_size` (w, h) holding the boxes `occupied`
    (N, 4), trying `TRIES` random positions; None when none is free."""
    (w, h), (host_w, host_h) = cutout.size, host_size
    relative = math.sqrt(host_w * host_h / (cutout.image_size[0] * cutout.image_size[1]))
    scale = relative * math.exp(rng.uniform(math.log(SCALE_JITTER[0]), math.log(SCALE_JITTER[1])))
    scale = min(scale, host_w / w, host_h / h)
    scaled = (max(1, min(host_w, round(w * scale))), max(1, min(host_h, round(h * scale))))
    flip = bool(rng.random() < FLIP)
    mask = scaled_mask(cutout, scaled, flip)
    if mask is not None and not mask.any():
        return None
    if mask is None:
        left = top = 0
        right, bottom = scaled
        pad = FEATHER
        footprint = np.ones((scaled[1] + 2 * pad, scaled[0] + 2 * pad), bool)
    else:
        ys, xs = np.nonzero(mask)
        left, top, right, bottom = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
        pad, footprint = 0, mask
    # the mask's bounds must lie inside the host; the cut rectangle's corner follows from them
    xs_ = rng.integers(-left, host_w - right + 1, TRIES)
    ys_ = rng.integers(-top, host_h - bottom + 1, TRIES)
    corners = np.stack([xs_, ys_], axis=1)
    boxes = np.stack([xs_ + left, ys_ + top, xs_ + right, ys_ + bottom], axis=1).astype(np.float64)
    fine = np.ones(TRIES, bool)
    if len(occupied):
        fine &= (box_iou(boxes, occupied) < max_iou).all(axis=1)
        fine &= (covered_share(footprint, corners - pad, occupied) <= max_cover).all(axis=1)
    if not fine.any():
        return None
    chosen = int(np.argmax(fine))
    x1, y1, x2, y2 = boxes[chosen].tolist()
    return Placement(cutout, scaled, flip, (int(corners[chosen, 0]), int(corners[chosen, 1])), mask, (x1, y1, x2, y2))


def paste_seed(seed: int, host_key: str, index: int, slot: int) -> int:
    """The seed of one pasted object: the run seed, the host image, the paste image's index and the slot."""
    return derive_seed(seed, f"{host_key}#paste", index, slot)


def place_objects(
    host: ImageRecord,
    cutouts: list[Cutout],
    seed: int,
    index: int,
    *,
    max_iou: float = MAX_IOU,
    max_cover: float = MAX_COVER,
) -> list[Placement]:
    """Place each cutout in turn in `host` (paste image number `index`); the ones that find no free place are
    left out. Each placed object is a box the later ones must keep clear of."""
    occupied = np.asarray(host.boxes.xyxy, np.float64).reshape(-1, 4)
    placed = []
    for slot, cutout in enumerate(cutouts):
        rng = np.random.default_rng(paste_seed(seed, host.key, index, slot))
        placement = place(cutout, host.known_size(), occupied, rng, max_iou=max_iou, max_cover=max_cover)
        if placement is not None:
            placed.append(placement)
            occupied = np.vstack([occupied, np.asarray(placement.box)[None]])
    return placed


class Paster:
    """Chooses and places the objects of each paste image of one split: the planner's `paste` function.

    The objects of a class are used in turn (those that do not touch their image's border first, crowd regions
    never), skipping the host's own; `jobs` collects (host index, paste index, placements) of every paste image."""

    def __init__(
        self,
        images: Sequence[ImageRecord],
        classes: int,
        seed: int,
        *,
        max_iou: float = MAX_IOU,
        max_cover: float = MAX_COVER,
    ) -> None:
        self.images, self.seed, self.max_iou, self.max_cover = images, seed, max_iou, max_cover
        found: list[list[tuple[bool, int, int]]] = [[] for _ in range(classes)]
        for i, image in enumerate(images):
            crowd = image.boxes.column("iscrowd")
            for row, label in enumerate(image.boxes.labels.tolist()):
                if not crowd[row]:
                    found[label].append((touches_border(image, row), i, row))
        self.sources = [[(i, row) for _, i, row in sorted(entries, key=lambda e: e[0])] for entries in found]
        self.turn = [0] * classes
        self.made: dict[int, int] = {}
        self.jobs: list[tuple[int, int, list[Placement]]] = []
        self._cuts: dict[tuple[int, int], Cutout | None] = {}

    @property
    def pastable(self) -> np.ndarray:
        return np.array([bool(entries) for entries in self.sources])

    def _next(self, label: int, host: int) -> Cutout | None:
        """The next object of `label` from an image other than `host`, or None when there is none."""
        entries = self.sources[label]
        for _ in range(len(entries)):
            i, row = entries[self.turn[label] % len(entries)]
            self.turn[label] += 1
            if i != host:
                if (i, row) not in self._cuts:
                    self._cuts[(i, row)] = cut(self.images[i], row)
                if self._cuts[(i, row)] is not None:
                    return self._cuts[(i, row)]
        return None

    def __call__(self, host: int, wanted: list[int]) -> list[int]:
        index = self.made.get(host, 0) + 1
        cutouts = [c for c in (self._next(label, host) for label in wanted) if c is not None]
        placements = place_objects(
            self.images[host], cutouts, self.seed, index, max_iou=self.max_iou, max_cover=self.max_cover
        )
        if placements:
            self.made[host] = index
            self.jobs.append((host, index, placements))
        return [placement.cutout.label for placement in placements]


def pasted_boxes(host: Boxes, placements: list[Placement], image_size: tuple[int, int]) -> Boxes:
    """The host's boxes (columns describing the source annotation left behind, as for copies) followed by one
    box per pasted object: its exact mask bounds, and for masked objects the mask as COCO RLE and its area."""
    kept = Boxes(
        host.xyxy,
        host.labels,
        carried_columns(host, "warp", lambda row, segmentation: segmentation, lambda row, quad: quad),
    )
    columns: dict[str, Any] = {}
    if any(placement.mask is not None for placement in placements):
        columns["segmentation"] = object_column(_rle(p, image_size) for p in placements)
        columns["area"] = [float("nan") if p.mask is None else float(p.mask.sum()) for p in placements]
    pasted = Boxes(
        np.array([p.box for p in placements], np.float64).reshape(-1, 4),
        np.array([p.cutout.label for p in placements], np.int64),
        columns,
    )
    names = dict.fromkeys([*kept.columns, *pasted.columns])
    return Boxes(
        np.vstack([kept.xyxy, pasted.xyxy]),
        np.concatenate([kept.labels, pasted.labels]),
        {name: np.concatenate([kept.column(name), pasted.column(name)]) for name in names},
    )


def _rle(placement: Placement, image_size: tuple[int, int]) -> dict[str, Any] | None:
    """A placement's mask in its host as compressed COCO RLE (None for objects cut by their box)."""
    if placement.mask is None:
        return None
    full = np.zeros((image_size[1], image_size[0]), np.uint8)
    (x, y), (x0, y0, x1, y1) = placement.corner, (int(v) for v in placement.box)
    full[y0:y1, x0:x1] = placement.mask[y0 - y : y1 - y, x0 - x : x1 - x]  # the mask's bounds lie inside the host
    return encode_rle(full)
