"""The worker side of the augmentation engine: make one image's copies, write them, and leave the result in a
progress file.

Kept apart from the coordinator (`bboxaug.pipeline.copies`) so that a worker imports only what pixel work needs
(the policy, the backend, the box geometry and image codecs, not the format adapters and conversion rules): the
workers are threads of the coordinator, or processes of their own for tiny images and on a Dask cluster.
Every copy is a pure function of (image, policy, seed, image key, copy index), so the bytes do not depend on which
worker makes it.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bboxaug.augmentation.policy import load_policy
from bboxaug.augmentation.seeds import derive_seed
from bboxaug.core.columns import carried_columns
from bboxaug.core.errors import BboxaugError
from bboxaug.core.model import Boxes, ImageRecord
from bboxaug.core.oriented import Quad
from bboxaug.core.report import Problem
from bboxaug.geometry.regions import refilled_mask
from bboxaug.geometry.shapes import (
    BoxRules,
    box_shapes,
    follow,
    follow_obb,
    keep_rows,
    obb_shapes,
    pack,
    polygon_segmentation,
    unpack,
)
from bboxaug.io.files import atomic_write_bytes
from bboxaug.io.masks import is_rle
from bboxaug.io.names import format_of
from bboxaug.io.pixels import encode_picture
from bboxaug.preprocessing.pixels import read_preprocessed
from bboxaug.preprocessing.steps import NO_PREPROCESSING, Preprocessing
from bboxaug.runtime.memory import keep_freed_image_memory

#: The folder in the staging folder that holds one progress file per finished job.
PROGRESS = ".progress"


MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class CopyPlan:
    """One copy to make: its index, its name in the split, and its path in the output layout."""

    index: int
    name: str
    path: str


@dataclass(frozen=True)
class ImageJob:
    """One source image and the copies to make of it. `required` are the labels every copy must keep at least
    one box of (None: every label the image has)."""

    image: ImageRecord
    copies: tuple[CopyPlan, ...]
    required: frozenset[int] | None = None

    @property
    def key(self) -> str:
        return self.image.key


@dataclass(frozen=True)
class CopyResult:
    """What became of one planned copy: its boxes and size, or (`boxes` None: it was given up) the labels it had
    to keep and lost in every attempt. The coordinator names them, as it knows the classes."""

    plan: CopyPlan
    seed: int
    attempts: int
    width: int = 0
    height: int = 0
    boxes: Boxes | None = None
    dropped: Mapping[str, int] = field(default_factory=dict)
    lost: tuple[int, ...] = ()


@dataclass(frozen=True)
class JobResult:
    key: str
    copies: tuple[CopyResult, ...] = ()
    error: Problem | None = None


#: Each worker thread's pipelines, by policy: a pipeline re-seeds itself for every copy, so threads cannot share one.
_LOCAL = threading.local()


def _pipeline(policy_json: str) -> tuple[Any, BoxRules]:
    """The policy's pipeline, built once per worker thread (OpenCV kept to one thread so workers don't fight,
    freed image memory kept for reuse)."""
    pipelines: dict[str, tuple[Any, BoxRules]] = _LOCAL.__dict__.setdefault("pipelines", {})
    if policy_json not in pipelines:
        from bboxaug.augmentation.backends import get_backend

        cv2.setNumThreads(1)
        keep_freed_image_memory()  # for a worker process; on threads, `run_jobs` has set it already
        policy = load_policy(json.loads(policy_json))
        pipelines[policy_json] = (get_backend(policy.backend).build(policy), policy.boxes)
    return pipelines[policy_json]


def moved_boxes(
    source: Boxes,
    rows: np.ndarray,
    xyxy: np.ndarray,
    polygons: list[list[np.ndarray]],
    width: int,
    height: int,
    obbs: dict[int, Quad | None] | None = None,
) -> tuple[Boxes, int]:
    """The kept rows of `source` at their new place, every per-box column carried along; polygon segmentations
    become the moved, clipped polygons, oriented boxes the moved (or re-fitted) ones in `obbs` (by source
    row), and RLE masks are filled again from their moved rings at the copy's
    `width x height` (the box: the mask's pixel bounds); columns describing the source shape are left behind.
    Also how many boxes were dropped because their mask kept no pixel."""
    shapes = source.columns.get("segmentation")
    masks = {
        row: refilled_mask(polygons[row], width, height)
        for row in rows.tolist()
        if shapes is not None and is_rle(shapes[row])
    }
    empty = [row for row, found in masks.items() if found is None]
    rows = np.setdiff1d(rows, empty) if empty else rows
    xyxy = xyxy.copy()
    for row, found in masks.items():
        if found is not None:
            xyxy[row] = found[1]

    def moved(position: int, segmentation: Any) -> Any:
        row = int(rows[position])
        found = masks.get(row)
        if found is not None:
            return found[0]
        return polygon_segmentation(polygons[row]) if isinstance(segmentation, list) and segmentation else None

    moved_obbs = obbs or {}
    kept = source.take(rows)
    columns = carried_columns(kept, "warp", moved, lambda position, quad: moved_obbs.get(int(rows[position])))
    return Boxes(xyxy[rows], kept.labels, columns), len(empty)


def make_copies(
    job: ImageJob, *, policy_json: str, seed: int, root: str, quality: int, preprocess: Preprocessing = NO_PREPROCESSING
) -> JobResult:
    """Decode one image, pre-process it, make its copies, write them, then record the result for `resume`."""
    pipeline, rules = _pipeline(policy_json)
    try:
        picture = read_preprocessed(job.image.known_source(), preprocess, bgr=pipeline.takes_bgr)
    except BboxaugError as error:
        return JobResult(job.key, error=Problem.from_error(error))
    boxes = job.image.boxes
    shapes = box_shapes(boxes, rules.box_shape)
    quads, quad_rows = obb_shapes(boxes)
    points, layout = pack(shapes + quads)
    required = set(boxes.labels.tolist()) if job.required is None else set(job.required)
    results = []
    for plan in job.copies:
        result = None
        for attempt in range(MAX_ATTEMPTS):
            copy_seed = derive_seed(seed, job.key, plan.index, attempt)
            pixels, moved = pipeline(picture.pixels, points, boxes.xyxy, copy_seed)
            height, width = pixels.shape[:2]
            moved_shapes = unpack(moved, layout)
            followed = follow(moved_shapes[: len(shapes)], width, height)
            rows, dropped = keep_rows(followed, rules)
            obbs = {
                row: follow_obb(quad[0], width, height)
                for row, quad in zip(quad_rows.tolist(), moved_shapes[len(shapes) :], strict=True)
            }
            moved, empty = moved_boxes(boxes, rows, followed.xyxy, followed.polygons, width, height, obbs)
            if empty:
                dropped = {**dropped, "empty_mask": empty}
            lost = required - set(moved.labels.tolist())
            if not lost:
                data = encode_picture(pixels, format_of(plan.path), quality, bgr=pipeline.takes_bgr)
                atomic_write_bytes(Path(root) / plan.path, data)
                result = CopyResult(plan, copy_seed, attempt + 1, width, height, moved, dropped)
                break
        results.append(
            result
            or CopyResult(
                plan,
                copy_seed,
                MAX_ATTEMPTS,
                lost=tuple(sorted(lost)),
            )
        )
    outcome = JobResult(job.key, tuple(results))
    atomic_write_bytes(progress_file(Path(root), job.key), pickle.dumps(outcome, protocol=5))
    return outcome


def progress_file(root: Path, key: str) -> Path:
    """Where the result of the job for image `key` ("split/name") is kept in the staging folder `root`."""
    return root / PROGRESS / f"{hashlib.blake2b(key.encode(), digest_size=16).hexdigest()}.pickle"
