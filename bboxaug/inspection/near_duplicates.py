"""Near-duplicate images: the same picture resized, recompressed or slightly shifted, found without comparing
every pair.

Two images are near-duplicates when
1. their perceptual hashes are close: `imagehash.phash` (64 bits: the signs of the lowest 8x8 DCT frequencies of
   the upright greyscale picture shrunk to 32x32) differ in at most `MAX_DISTANCE` bits. Shrinking, JPEG
   recompression and a shift of a few per cent change few of those bits; and
2. their boxes agree: the same number of boxes of each class, each box with a partner of its class whose centre
   and size, as fractions of the image, differ by at most `BOX_TOLERANCE`. Images without boxes agree.

The second test keeps apart what a hash alone cannot: photographs of one scene from a fixed camera with different
objects in it (a chess board with a rook, then with a pawn, on the same square) hash alike, but are different
samples. A copy keeps its objects where they were.

Finding the close hashes is multi-index hashing (Norouzi, Punjani and Fleet, 2012): the 64 bits are cut into 4
bands of 16, and two hashes at most `MAX_DISTANCE` apart agree within `MAX_DISTANCE // 4` bits on at least one
band (pigeonhole), so each image looks up, per band, the few band values that close to its own in a sorted array
(137 values for 2 bits). The cost is O(n log n) for the lookups plus the candidate pairs they return, which are
about n^2 / 250 for unrelated pictures whose hash bits are spread evenly, and every pair within a set of pictures
that all look alike (a video, a static camera), however large.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from bboxaug.core.errors import ImageError
from bboxaug.core.model import Dataset, EmbeddedImage
from bboxaug.core.table import UNKNOWN, ImageTable, as_table, ranges
from bboxaug.io.headers import embedded_bytes
from bboxaug.runtime.parallel import run_parallel

#: Bits (of 64) in which two near-duplicates' hashes may differ.
MAX_DISTANCE = 10

#: How far, as a fraction of the image's width or height, a copy's box may lie from the original's (centre, size).
BOX_TOLERANCE = 0.05

#: The hash is cut into this many bands for the index.
BANDS = 4
BAND_BITS = 64 // BANDS

#: Side of the picture JPEG decoding is asked to reduce to (at least): the hash shrinks it to 32x32 anyway.
DRAFT_SIDE = 128

_POPCOUNT = np.array([bin(value).count("1") for value in range(256)], dtype=np.int64)


@dataclass(frozen=True)
class Fingerprint:
    """An image's perceptual hash and upright size, or why it could not be read."""

    hash: int | None
    width: int = 0
    height: int = 0
    error: str | None = None


def fingerprint(source: Path | EmbeddedImage) -> Fingerprint:
    """The perceptual hash of the upright picture in `source` (decoded at a reduced size where JPEG allows)."""
    try:
        stream = io.BytesIO(embedded_bytes(source)) if isinstance(source, EmbeddedImage) else source
        with Image.open(stream) as image:
            width, height = image.size
            image.draft("L", (DRAFT_SIDE, DRAFT_SIDE))
            upright = ImageOps.exif_transpose(image)
            if upright.size != image.size and (upright.width, upright.height) == (image.height, image.width):
                width, height = height, width
            value = int(str(imagehash.phash(upright)), 16)
    except (
        ImageError,
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
    ) as error:
        return Fingerprint(None, error=str(error))
    return Fingerprint(value, width, height)


def hamming(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Bits in which the uint64 hashes differ, pair by pair."""
    xor = np.ascontiguousarray(np.bitwise_xor(first, second), dtype=np.uint64)
    return _POPCOUNT[xor.view(np.uint8)].reshape(-1, 8).sum(axis=1)


def _band_masks(radius: int) -> np.ndarray:
    """Every 16-bit value with at most `radius` bits set."""
    masks = [0]
    for bits in range(1, radius + 1):
        masks += [sum(1 << b for b in chosen) for chosen in itertools.combinations(range(BAND_BITS), bits)]
    return np.array(masks, dtype=np.uint64)


def close_hashes(hashes: np.ndarray, max_distance: int = MAX_DISTANCE) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of rows (first < second, sorted) whose uint64 hashes differ in at most `max_distance` bits,
    through the banded index of the module docstring."""
    hashes = np.asarray(hashes, dtype=np.uint64)
    count = len(hashes)
    masks = _band_masks(max_distance // BANDS)
    found = []
    for band in range(BANDS):
        values = (hashes >> np.uint64(band * BAND_BITS)) & np.uint64((1 << BAND_BITS) - 1)
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        for mask in masks:
            wanted = values ^ mask
            low = np.searchsorted(ordered, wanted, side="left")
            hits = np.searchsorted(ordered, wanted, side="right") - low
            first = np.repeat(np.arange(count, dtype=np.int64), hits)
            second = order[ranges(low, hits)]
            keep = first < second
            found.append(first[keep] * count + second[keep])
    pairs = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
    first, second = pairs // max(count, 1), pairs % max(count, 1)
    close = hamming(hashes[first], hashes[second]) <= max_distance
    return first[close], second[close]


def boxes_agree(table: ImageTable, sizes: np.ndarray, one: int, other: int, tolerance: float = BOX_TOLERANCE) -> bool:
    """Whether images `one` and `other` of `table` hold the same boxes (`sizes[i]` = width, height of image i):
    as many of each class, each with a partner of its class whose centre and size, as fractions of the image,
    differ by at most `tolerance`."""
    rows = [np.arange(table.offsets[i], table.offsets[i + 1]) for i in (one, other)]
    if len(rows[0]) != len(rows[1]):
        return False
    if not len(rows[0]):
        return True
    labels = [table.boxes.labels[r] for r in rows]
    if not np.array_equal(np.sort(labels[0]), np.sort(labels[1])):
        return False
    shapes = []
    for image, r in zip((one, other), rows, strict=True):
        xyxy = table.boxes.xyxy[r]
        scale = np.tile(sizes[image], 2)
        shapes.append(np.concatenate([(xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]], axis=1) / scale)
    free = np.ones(len(rows[1]), dtype=bool)
    for k in range(len(rows[0])):
        near = free & (labels[1] == labels[0][k]) & (np.abs(shapes[1] - shapes[0][k]).max(axis=1) <= tolerance)
        if not near.any():
            return False
        free[np.flatnonzero(near)[0]] = False
    return True


@dataclass(frozen=True)
class NearDuplicates:
    """Each near-duplicate image (a row of the table) with the first earlier image it copies and how many hash
    bits they differ in; and the images that could not be hashed, with the reason."""

    later: np.ndarray
    earlier: np.ndarray
    distance: np.ndarray
    unreadable: dict[int, str]


def find_near_duplicates(
    dataset: Dataset,
    *,
    fingerprints: Sequence[Fingerprint] | None = None,
    max_distance: int = MAX_DISTANCE,
    jobs: int = 1,
    progress: bool = False,
) -> NearDuplicates:
    """The near-duplicates among the dataset's images (see the module docstring); the images are hashed on `jobs`
    workers unless their `fingerprints` are given."""
    table = as_table(dataset.images)
    if fingerprints is None:
        fingerprints = hash_images(table, jobs=jobs, progress=progress)
    rows = np.array([k for k, f in enumerate(fingerprints) if f.hash is not None], dtype=np.int64)
    hashes = np.array([fingerprints[k].hash for k in rows.tolist()], dtype=np.uint64)
    sizes = np.stack([table.widths, table.heights], axis=1).astype(np.float64)
    for k in rows.tolist():
        if UNKNOWN in (table.widths[k], table.heights[k]):
            sizes[k] = fingerprints[k].width, fingerprints[k].height
    first, second = close_hashes(hashes, max_distance)
    distances = hamming(hashes[first], hashes[second])
    first, second = rows[first], rows[second]
    later, earlier, distance = [], [], []
    matched: set[int] = set()
    for k in np.lexsort((first, second)).tolist():  # by the later image, its earliest partner first
        one, other = int(first[k]), int(second[k])
        if other not in matched and boxes_agree(table, sizes, one, other):
            matched.add(other)
            later.append(other)
            earlier.append(one)
            distance.append(int(distances[k]))
    unreadable = {k: f.error or "unreadable" for k, f in enumerate(fingerprints) if f.hash is None}
    return NearDuplicates(
        np.array(later, dtype=np.int64),
        np.array(earlier, dtype=np.int64),
        np.array(distance, dtype=np.int64),
        unreadable,
    )


def hash_images(table: ImageTable, *, jobs: int = 1, progress: bool = False) -> list[Fingerprint]:
    """Every image's fingerprint, on `jobs` workers (an image without a file gets none)."""
    missing = Fingerprint(None, error="no image file")
    sources = [table.source_of(k) for k in range(len(table))]
    found = run_parallel(
        fingerprint,
        [source for source in sources if source is not None],
        jobs=jobs,
        prefer="processes",
        description="hashing pictures",
        progress=progress,
    )
    results = iter(found)
    return [missing if source is None else next(results) for source in sources]
