"""The pixels of copy-paste (the side of `bboxaug.balancing.paste` that reads and writes images): cut a placed object
out of its source, match its colours to the new place, blend it in, and write the paste images on every core.

Object pixels come only from the object (its edge is filled outward before interpolating, so the edge keeps the
object's colours); an object cut by its box brings a soft edge of its own surroundings. Colours are matched by
mapping the mean and spread of each Lab channel of the background around the object in its source onto those of
the background around its new place (boxes, with a small clearance, are not background).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from bboxaug.balancing.paste import FEATHER, Placement, inverse_map
from bboxaug.core.errors import BboxaugError
from bboxaug.core.model import ImageRecord, image_key
from bboxaug.core.report import Problem
from bboxaug.io.files import atomic_write_bytes
from bboxaug.io.names import format_of
from bboxaug.io.pixels import encode_picture
from bboxaug.preprocessing.pixels import read_preprocessed
from bboxaug.preprocessing.steps import NO_PREPROCESSING, Preprocessing

CONTEXT = 0.25  # background used for colour statistics: this share of the object's larger side around it,


MIN_CONTEXT = 4  # at least this many px


CLEARANCE = 2  # px around boxes that do not count as background


GAIN_LIMITS = (0.5, 2.0)  # the spread of a colour channel is scaled by at most this much


def _as_channels(pixels: np.ndarray, like: np.ndarray) -> np.ndarray:
    """`pixels` with the channel layout of `like` (greyscale or RGB)."""
    if pixels.ndim == like.ndim:
        return pixels
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY) if like.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB)


def _lab(pixels: np.ndarray) -> np.ndarray:
    """Float Lab (or the grey level, as one channel), from uint8 RGB or grey."""
    scaled = pixels.astype(np.float32) / 255.0
    if pixels.ndim == 2:
        return scaled[:, :, None] * 100.0
    return cv2.cvtColor(scaled, cv2.COLOR_RGB2Lab)


def _from_lab(lab: np.ndarray, grey: bool) -> np.ndarray:
    rgb = lab[:, :, 0] / 100.0 if grey else cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB)
    return np.clip(rgb * 255.0, 0, 255)


def _stats(lab: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    values = lab[keep]
    if len(values) < 16:
        return None
    return values.mean(axis=0), values.std(axis=0)


def _surroundings(
    size: tuple[int, int], box: tuple[int, int, int, int], boxes: np.ndarray
) -> tuple[tuple[slice, slice], np.ndarray]:
    """The region around `box` (x0, y0, x1, y1) used for colour statistics, and which of its pixels are
    background: outside every box of `boxes` (the object's own included)."""
    x0, y0, x1, y1 = box
    margin = max(MIN_CONTEXT, round(CONTEXT * max(x1 - x0, y1 - y0)))
    left, top = max(0, x0 - margin), max(0, y0 - margin)
    right, bottom = min(size[0], x1 + margin), min(size[1], y1 + margin)
    background = np.ones((bottom - top, right - left), bool)
    for bx0, by0, bx1, by1 in np.asarray(boxes, np.float64).reshape(-1, 4):
        background[
            max(0, math.floor(by0) - CLEARANCE - top) : max(0, math.ceil(by1) + CLEARANCE - top),
            max(0, math.floor(bx0) - CLEARANCE - left) : max(0, math.ceil(bx1) + CLEARANCE - left),
        ] = False
    return (slice(top, bottom), slice(left, right)), background


def match_colours(
    patch_lab: np.ndarray,
    source_stats: tuple[np.ndarray, np.ndarray] | None,
    target_stats: tuple[np.ndarray, np.ndarray] | None,
) -> np.ndarray:
    """Map each channel's mean and spread from the source surroundings onto the target surroundings."""
    if source_stats is None or target_stats is None:
        return patch_lab
    (mean_s, std_s), (mean_t, std_t) = source_stats, target_stats
    gain = np.where(std_s > 1e-3, np.clip(std_t / np.maximum(std_s, 1e-3), *GAIN_LIMITS), 1.0)
    return (patch_lab - mean_s) * gain + mean_t


def edge_fill(pixels: np.ndarray, keep: np.ndarray, band: int = 2) -> np.ndarray:
    """`pixels` with the `band` pixels around the `keep` region filled from it (averages of kept neighbours), so
    interpolating at the region's edge mixes only the region's own colours."""
    values = pixels.astype(np.float32).reshape(*pixels.shape[:2], -1)
    filled = keep.astype(np.float32)
    values *= filled[:, :, None]
    for _ in range(band):
        weight = cv2.blur(filled, (3, 3), borderType=cv2.BORDER_CONSTANT)
        spread = cv2.blur(values, (3, 3), borderType=cv2.BORDER_CONSTANT).reshape(values.shape)
        grow = (filled == 0) & (weight > 0)
        values[grow] = spread[grow] / weight[grow][:, None]
        filled[grow] = 1.0
    out = np.where(keep[:, :, None], pixels.reshape(values.shape).astype(np.float32), values)
    return np.rint(out).astype(np.uint8).reshape(pixels.shape)


def cut_patch(placement: Placement, source: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The placement's pixels on its scaled grid (padded by the soft edge for box cutouts), their opacity, and
    which of them belong to the object. Object pixels come only from the object (its edge filled outward before
    interpolating); the soft edge shows the object's real surroundings."""
    cutout, (tw, th) = placement.cutout, placement.scaled
    (x0, y0), (w, h) = cutout.origin, cutout.size
    pad = FEATHER if placement.mask is None else 0
    margin = pad + 2
    left, top = max(0, x0 - margin), max(0, y0 - margin)
    crop = source[top : min(source.shape[0], y0 + h + margin), left : min(source.shape[1], x0 + w + margin)]
    keep = np.zeros(crop.shape[:2], bool)
    keep[y0 - top : y0 - top + h, x0 - left : x0 - left + w] = True if cutout.mask is None else cutout.mask
    matrix = inverse_map(cutout, placement.scaled, placement.flip, pad)
    matrix[:, 2] += (x0 - left, y0 - top)
    size = (tw + 2 * pad, th + 2 * pad)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    patch = cv2.warpAffine(edge_fill(crop, keep), matrix, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    if placement.mask is not None:
        return patch, placement.mask.astype(np.float64), placement.mask
    core = np.zeros((size[1], size[0]), bool)
    core[pad : pad + th, pad : pad + tw] = True
    surroundings = cv2.warpAffine(crop, matrix, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    patch[~core] = surroundings[~core]
    u, v = np.arange(size[0]), np.arange(size[1])
    du = np.maximum(np.maximum(pad - u, u - (pad + tw - 1)), 0)
    dv = np.maximum(np.maximum(pad - v, v - (pad + th - 1)), 0)
    return patch, 1.0 - np.maximum(du[None, :], dv[:, None]) / (pad + 1), core


def paste_objects(
    host: np.ndarray, host_boxes: np.ndarray, placements: list[Placement], sources: dict[str, np.ndarray]
) -> np.ndarray:
    """The host's pixels with every placement pasted in turn, colour-matched to its new surroundings; `sources`
    maps cutout keys to their pixels."""
    out = host.copy()
    grey = out.ndim == 2
    height, width = out.shape[:2]
    occupied = np.vstack(
        [
            np.asarray(host_boxes, np.float64).reshape(-1, 4),
            np.array([p.box for p in placements], np.float64).reshape(-1, 4),
        ]
    )
    for placement in placements:
        cutout = placement.cutout
        source = _as_channels(sources[cutout.key], out)
        patch, alpha, _ = cut_patch(placement, source)
        (x0, y0), (w, h) = cutout.origin, cutout.size
        region, background = _surroundings(
            (source.shape[1], source.shape[0]),
            (x0, y0, x0 + w, y0 + h),
            np.vstack([cutout.neighbours, [[x0, y0, x0 + w, y0 + h]]]),
        )
        source_stats = _stats(_lab(source[region]), background)
        bx0, by0, bx1, by1 = (int(v) for v in placement.box)
        region, background = _surroundings((width, height), (bx0, by0, bx1, by1), occupied)
        target_stats = _stats(_lab(out[region]), background)
        matched = _from_lab(match_colours(_lab(patch), source_stats, target_stats), grey)
        pad = (alpha.shape[1] - placement.scaled[0]) // 2
        tx, ty = placement.corner[0] - pad, placement.corner[1] - pad
        # the patch's part inside the host (a soft edge may reach past the border; the object never does)
        u0, v0 = max(0, -tx), max(0, -ty)
        u1, v1 = min(alpha.shape[1], width - tx), min(alpha.shape[0], height - ty)
        inside = (slice(ty + v0, ty + v1), slice(tx + u0, tx + u1))
        a = alpha[v0:v1, u0:u1] if grey else alpha[v0:v1, u0:u1, None]
        out[inside] = np.rint(a * matched[v0:v1, u0:u1] + (1 - a) * out[inside]).astype(np.uint8)
    return out


@dataclass(frozen=True)
class PasteJob:
    """One paste image to make: its host, its index among the host's paste images, its name and path in the
    output layout, and the objects to paste."""

    host: ImageRecord
    index: int
    name: str
    path: str
    placements: tuple[Placement, ...]

    @property
    def key(self) -> str:
        return image_key(self.host.split, self.name)


def make_paste(
    job: PasteJob, *, root: str, quality: int, preprocess: Preprocessing = NO_PREPROCESSING
) -> Problem | None:
    """Read the host and the sources (pre-processed), paste, encode and write one paste image; the problem if an
    image failed."""
    try:
        host = read_preprocessed(job.host.known_source(), preprocess)
        sources = {}
        for placement in job.placements:
            if placement.cutout.key not in sources:
                sources[placement.cutout.key] = read_preprocessed(placement.cutout.source, preprocess).pixels
        pixels = paste_objects(host.pixels, job.host.boxes.xyxy, list(job.placements), sources)
        atomic_write_bytes(Path(root) / job.path, encode_picture(pixels, format_of(job.path), quality))
    except BboxaugError as error:
        return Problem.from_error(error)
    return None
