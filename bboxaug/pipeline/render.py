"""Decode each source image once and write every image made from it: the half of `tile` and `resize` that
touches pixels.

A `RenderJob` names one source and the `Render`s to make from it: a window of the source, scaled to a size and
placed on a canvas of the usual letterbox grey (`PAD_VALUE`). Workers (`run_renders`, joblib threads) read the
source upright (`bboxaug.io.pixels.read_picture`: EXIF applied, greyscale kept), pre-process it as the run says
(`bboxaug.preprocessing.pixels`), keep OpenCV's channel order, and write each output atomically in its source's
format; the coordinator only counts failures, which the
report's policy turns into a stop or a skip. The workers write into the run's staging folder
(`bboxaug.pipeline.output.Staging`), which becomes the output only when complete.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2

from bboxaug.core import codes
from bboxaug.core.errors import BboxaugError, ImageError
from bboxaug.core.model import EmbeddedImage
from bboxaug.core.report import Problem, Report
from bboxaug.io.files import atomic_write_bytes
from bboxaug.io.names import format_of
from bboxaug.io.pixels import encode_picture
from bboxaug.preprocessing.pixels import draw_window, read_preprocessed
from bboxaug.preprocessing.steps import NO_PREPROCESSING, Preprocessing
from bboxaug.runtime.parallel import iter_parallel


@dataclass(frozen=True)
class Render:
    """One output image made from a source: the window `(x0, y0, x1, y1)` of the source it shows, scaled to
    `scaled` (w, h) and placed at `place` (left, top) on a canvas of `canvas` (w, h); the rest is padding."""

    path: str
    window: tuple[int, int, int, int]
    scaled: tuple[int, int]
    canvas: tuple[int, int]
    place: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class RenderJob:
    """One source image (of the upright, pre-processed size the plan assumed) and the images to make from it."""

    key: str
    source: Path | EmbeddedImage | None
    width: int
    height: int
    renders: tuple[Render, ...]


def render_job(
    job: RenderJob, *, root: str, quality: int, preprocess: Preprocessing = NO_PREPROCESSING
) -> tuple[str, Problem | None]:
    """Decode one source once, pre-process it, and write every image made from it (each atomically), or say why
    it failed."""
    cv2.setNumThreads(1)  # one image per worker: OpenCV's own threads would fight the other workers
    try:
        if job.source is None:
            raise ImageError("image file not found", file=job.key, field="image", code=codes.MISSING_IMAGE)
        picture = read_preprocessed(job.source, preprocess, bgr=True)  # crops and scales only: no need for RGB
        if (picture.width, picture.height) != (job.width, job.height):
            raise ImageError(
                f"declared {job.width}x{job.height}, upright image is {picture.width}x{picture.height}",
                file=job.source if isinstance(job.source, Path) else job.source.annotation,
                field="size",
                code=codes.SIZE_MISMATCH,
            )
        for spec in job.renders:
            pixels = draw_window(picture.pixels, spec.window, spec.scaled, spec.canvas, spec.place)
            encoded = encode_picture(pixels, format_of(spec.path), quality, bgr=True)
            atomic_write_bytes(Path(root) / spec.path, encoded)
    except BboxaugError as error:
        return job.key, Problem.from_error(error)
    return job.key, None


def run_renders(
    jobs: list[RenderJob],
    root: Path,
    quality: int,
    report: Report,
    *,
    workers: int,
    progress: bool,
    description: str,
    preprocess: Preprocessing = NO_PREPROCESSING,
) -> set[str]:
    """Run every job on `workers` threads; returns the keys of sources that failed (and were skipped, if the
    report's policy allows; otherwise the first failure stops the run). Threads, not processes: decoding,
    resizing and encoding run in OpenCV with the GIL released, so threads use every core without the second a
    worker process takes to start and import."""
    worker = functools.partial(render_job, root=str(root), quality=quality, preprocess=preprocess)
    failed = set()
    results = iter_parallel(
        worker, jobs, jobs=workers, prefer="threads", description=description, progress=progress, writes_into=root
    )
    try:
        for key, problem in results:
            if problem is not None:
                failed.add(key)
                with report.item():
                    raise ImageError(problem.message, file=problem.file, field=problem.field, code=problem.code)
    finally:
        results.close()
    return failed
