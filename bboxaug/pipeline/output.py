"""The output folder: refused when it would overwrite something silently or touch the source, written in a
staging folder beside it (resumable for long runs), images placed into it, and published by renaming at the end.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bboxaug.core import codes
from bboxaug.core.errors import BboxaugError, ImageError, UsageError
from bboxaug.core.model import Dataset, EmbeddedImage, ImageRecord
from bboxaug.core.report import Problem, Report
from bboxaug.core.table import as_table
from bboxaug.formats.base import Format
from bboxaug.io.export import export_image
from bboxaug.io.files import ImageMode, atomic_write_bytes, atomic_write_text, remove_partial_writes, remove_tree
from bboxaug.io.headers import header_of
from bboxaug.io.names import format_of
from bboxaug.io.pixels import encode_picture
from bboxaug.preprocessing.pixels import read_preprocessed
from bboxaug.preprocessing.steps import NO_PREPROCESSING, Preprocessing
from bboxaug.runtime.parallel import iter_parallel


def check_destination(dst: Path, overwrite: bool) -> None:
    """Refuse an output that is a file, or a non-empty folder unless `overwrite`: nothing is replaced silently."""
    if dst.exists() and not dst.is_dir():
        raise UsageError("the output exists and is not a folder", file=dst)
    if dst.is_dir() and any(dst.iterdir()) and not overwrite:
        raise UsageError("the output folder is not empty; choose another or pass --overwrite", file=dst)


def write_preprocessed(
    source: Path | EmbeddedImage, target: Path, steps: Preprocessing, quality: int
) -> tuple[int, int, int]:
    """Decode an image upright, pre-process it and write it in the format `target`'s name says (JPEG/WebP at
    `quality`); its size once pre-processed, and the EXIF orientation that was applied."""
    orientation = header_of(source).orientation
    picture = read_preprocessed(source, steps, bgr=True)  # OpenCV's order in and out: two conversions fewer
    atomic_write_bytes(target, encode_picture(picture.pixels, format_of(target.name), quality, bgr=True))
    return picture.width, picture.height, orientation


def _place_image(job: tuple[ImageRecord, Path, ImageMode, Preprocessing, int]) -> tuple[Problem | None, int]:
    """Put one image into the output (pre-processed, when there are steps); returns a problem if it failed, and
    its EXIF orientation."""
    image, target, mode, steps, quality = job
    if image.source is None:
        return Problem(image.name, "image", "image file not found", codes.MISSING_IMAGE.name), 1
    try:
        if steps:
            width, height, orientation = write_preprocessed(image.source, target, steps, quality)
        else:
            header = export_image(image.source, target, mode, quality=quality)
            width, height, orientation = header.width, header.height, header.orientation
    except (ImageError, OSError) as error:
        problem = (
            Problem.from_error(error)
            if isinstance(error, ImageError)
            else Problem(
                str(image.source),
                "image",
                f"cannot write {target.name} ({error.strerror or error})",
                codes.UNWRITABLE_IMAGE.name,
            )
        )
        return problem, 1
    if (width, height) != (image.width, image.height):
        return (
            Problem(
                str(image.source),
                "size",
                f"declared {image.width}x{image.height}, upright image is {width}x{height}",
                codes.SIZE_MISMATCH.name,
            ),
            0,
        )
    return None, orientation


def place_images(
    dataset: Dataset,
    target: Format,
    root: Path,
    mode: ImageMode,
    report: Report,
    *,
    jobs: int = 1,
    progress: bool = False,
    preprocess: Preprocessing = NO_PREPROCESSING,
    quality: int = 95,
) -> Dataset:
    """Copy, link or re-encode (upright, at `quality`) every image into `root` where `target` puts it, or with
    `preprocess` steps, decode, pre-process and encode it (at `quality`); images that fail are skipped (or stop
    the run, as the report's policy says). Size mismatches are warned about, not fatal."""
    if mode == "none":
        return dataset
    if preprocess and mode != "copy":
        raise UsageError(f"pre-processed images are written anew: they cannot be {mode}ed, only copied")
    table = as_table(dataset.images)
    placements = (
        (image, root / target.image_path(image.split, image.name), mode, preprocess, quality) for image in table
    )
    results = iter_parallel(
        _place_image,
        placements,
        jobs=jobs,
        description="writing images",
        progress=progress,
        writes_into=root,
        total=len(table),
    )
    kept = np.ones(len(table), dtype=bool)
    try:
        for k, (problem, orientation) in enumerate(results):
            if problem is not None and problem.field == "size":
                report.warnings.append(problem)
                report.count("size_mismatch")
            elif problem is not None:
                kept[k] = False
                with report.item():
                    raise ImageError(problem.message, file=problem.file, field=problem.field, code=problem.code)
                continue
            if orientation > 1:
                report.count("exif_rotated")
    finally:
        results.close()  # stops the workers when an image fails the run
    return dataset.replace(images=table if kept.all() else table.subset(np.flatnonzero(kept)))


def publish(temp: Path, dst: Path) -> None:
    """Move the finished temporary folder to `dst`, replacing an old `dst` only once the new one is complete."""
    if not dst.exists():
        os.replace(temp, dst)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old.", dir=dst.parent))
    os.replace(dst, old / dst.name)
    os.replace(temp, dst)
    remove_tree(old)


def ensure_apart(src: Path, dst: Path) -> None:
    """Refuse an output that is, holds or lies inside the source: replacing it could destroy the source."""
    src_resolved, dst_resolved = src.resolve(), dst.resolve()
    if src_resolved == dst_resolved or dst_resolved in src_resolved.parents or src_resolved in dst_resolved.parents:
        raise UsageError(f"the output {dst} must not be, contain, or lie inside the source {src}")


RUN_FILE = "run.json"


def holds_work(staging: Path) -> bool:
    """Whether a resumable run's staging folder holds any file besides its settings: something to resume."""
    return any(path.is_file() and path.name != RUN_FILE for path in staging.rglob("*"))


class Staging:
    """The folder a run writes into beside `dst`, which becomes `dst` only when the run ends well.

    A resumable run stages in `.DST.partial` with its settings in `run.json`; when it fails after some work the
    folder stays (its error gets a hint saying where, and that `--resume` continues), and `resume` reuses it if
    the settings are the same (what a killed worker was writing is removed); when it fails before any work, the
    folder is removed. Any other run stages in a new hidden folder, removed when the run fails. `dst` is refused
    when it would replace something silently (a file, or a non-empty folder without `overwrite`). The `scratch`
    folders in it (work files of the run, such as progress records) are removed before it is published."""

    def __init__(
        self,
        dst: Path,
        settings: Mapping[str, Any],
        *,
        resumable: bool = False,
        resume: bool = False,
        overwrite: bool = False,
        scratch: Sequence[str] = (),
    ) -> None:
        self.dst, self.settings, self.resumable, self.scratch = dst, settings, resumable, tuple(scratch)
        self.resume, self.overwrite = resume and resumable, overwrite
        self.folder: Path | None = None

    def __enter__(self) -> Path:
        self.folder = self._open()
        return self.folder

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: object) -> None:
        folder = self.folder
        if folder is None:
            return
        if kind is not None:
            if not self.resumable or not holds_work(folder):
                remove_tree(folder)
            elif isinstance(error, BboxaugError):
                error.hint(
                    f"the work done so far is kept in {folder}: once the problem is fixed, the same command "
                    "with --resume continues it"
                )
            return
        for name in self.scratch:
            remove_tree(folder / name)
        if self.resumable:
            (folder / RUN_FILE).unlink()
        publish(folder, self.dst)

    def _open(self) -> Path:
        dst = self.dst
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not self.resumable:
            check_destination(dst, self.overwrite)
            return Path(tempfile.mkdtemp(prefix=f".{dst.name}.tmp.", dir=dst.parent))
        staging = dst.parent / f".{dst.name}.partial"
        run_file = staging / RUN_FILE
        if self.resume and run_file.is_file():
            previous = json.loads(run_file.read_text(encoding="utf-8"))
            changed = [key for key in self.settings if previous.get(key) != self.settings[key]]
            if changed:
                raise UsageError(
                    f"cannot resume: the interrupted run used other {', '.join(changed)}; run "
                    "without --resume to start again",
                    file=staging,
                )
            remove_partial_writes(staging)  # files a killed worker was in the middle of writing
            return staging
        if self.resume and dst.is_dir() and not staging.exists():
            raise UsageError("nothing to resume: the output is complete", file=dst)
        check_destination(dst, self.overwrite)
        remove_tree(staging)
        staging.mkdir(parents=True)
        atomic_write_text(run_file, json.dumps(self.settings, indent=2, sort_keys=True))
        return staging
