"""Making augmented copies: the coordinator's side of the augmentation engine.

Every output is a pure function of (input, policy, seed, image key, copy index): the seed of each copy is derived
from those alone, so the bytes written do not depend on the number of workers or how work is split. Workers
(`bboxaug.augmentation.worker.make_copies`) build the pipeline once, decode one image at a time, write its copies
atomically, and then a small progress record, so `resume` can finish an interrupted run without redoing or
trusting half-written work. Only the coordinator writes annotation files and the manifest, once the copies are
done, reading the copies back from the progress records; the output folder appears only when complete.
"""

from __future__ import annotations

import contextlib
import functools
import json
import pickle
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np

from bboxaug.augmentation.spec import Policy
from bboxaug.augmentation.worker import CopyPlan, CopyResult, ImageJob, JobResult, make_copies, progress_file
from bboxaug.core import codes
from bboxaug.core.errors import ImageError
from bboxaug.core.model import Dataset, ImageRecord, StoredImages, image_key, text_column
from bboxaug.core.report import Problem, Report
from bboxaug.core.table import ImageTable, as_table, positions_in_appearance_order
from bboxaug.formats.base import Format
from bboxaug.io.names import copy_name
from bboxaug.pipeline.output import place_images
from bboxaug.pipeline.prepare import OutputNames, names_free
from bboxaug.pipeline.run import Context
from bboxaug.preprocessing.steps import NO_PREPROCESSING, Preprocessing
from bboxaug.runtime.memory import image_work_memory, trimmed
from bboxaug.runtime.parallel import iter_parallel

AUGMENT_MANIFEST = "augment.json"


class PlannedJobs(Sequence[ImageJob]):
    """The jobs of a run, one per image that gets copies, each built when asked for from the source images'
    table: the coordinator holds a row and a count per job, and the names of the few copies that were renamed."""

    def __init__(
        self,
        images: ImageTable,
        rows: np.ndarray,
        counts: np.ndarray,
        image_path: Callable[[str, str], str],
        renamed: Mapping[tuple[int, int], str] | None = None,
        required: Sequence[frozenset[int] | None] | None = None,
    ) -> None:
        self._images, self._rows, self._counts, self._image_path = images, rows, counts, image_path
        self._renamed, self._required = renamed or {}, required

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> ImageJob: ...

    @overload
    def __getitem__(self, index: slice) -> list[ImageJob]: ...

    def __getitem__(self, index: int | slice) -> ImageJob | list[ImageJob]:
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(len(self)))]
        row = int(self._rows[index])
        image = self._images[row]
        required = None if self._required is None else self._required[row]
        return ImageJob(image, tuple(self._plans(index, image.split, image.name)), required)

    def _plans(self, index: int, split: str, name: str) -> Iterator[CopyPlan]:
        for k in range(1, int(self._counts[index]) + 1):
            copy = self._renamed.get((index, k)) or copy_name(name, k)
            yield CopyPlan(k, copy, self._image_path(split, copy))

    @property
    def rows(self) -> np.ndarray:
        """Each job's image, as its row in the source table."""
        return self._rows

    def key(self, index: int) -> str:
        """The key of job `index`'s image, without building the job."""
        return self._images.key_of(int(self._rows[index]))

    def split(self, index: int) -> str:
        return self._images.split_of(int(self._rows[index]))

    def split_codes(self) -> tuple[tuple[str, ...], np.ndarray]:
        """The split names and each job's split, as a position among them."""
        return self._images.split_names, self._images.split_codes[self._rows]

    def copy_count(self) -> int:
        """How many copies the jobs make in all."""
        return int(self._counts.sum())

    def mean_pixels(self) -> float | None:
        """The mean area of the jobs' images whose size is known; None when none is."""
        widths, heights = self._images.widths[self._rows], self._images.heights[self._rows]
        known = (widths > 0) & (heights > 0)
        return float((widths[known] * heights[known]).mean()) if known.any() else None


#: Mean image area (pixels) from which copies are made on threads rather than worker processes (see `workers_for`).
THREADS_FROM_PIXELS = 128 * 128


def workers_for(jobs: PlannedJobs) -> Literal["threads", "processes"]:
    """Threads where the pixel work dominates a copy, processes where the Python work does.

    Decoding, warping, the pixel work and encoding run in OpenCV and NumPy with the GIL released, and a worker
    process first spends about 0.7 s of CPU importing albumentations: on 1280x720 images threads made 137 copies/s
    against 106-117 for processes (the augment benchmark, 2 cores), and from 128x72 up they were 1-11 % faster in
    longer runs too (10 copies of 200 images). On tiny images a copy is mostly Python (sampling the policy, moving
    the boxes, the progress record), which threads would take turns at: 20,000 64x64 PNGs took 55.6 s on threads,
    41.6 s on processes."""
    pixels = jobs.mean_pixels()
    return "threads" if pixels is not None and pixels >= THREADS_FROM_PIXELS else "processes"


def original_rows(dataset: Dataset, without_originals: Collection[str]) -> np.ndarray:
    """The rows of the images whose originals are written: those of every split but `without_originals`."""
    table = as_table(dataset.images)
    kept = [code for code, split in enumerate(table.split_names) if split not in without_originals]
    return np.flatnonzero(np.isin(table.split_codes, kept))


def plan_jobs(
    dataset: Dataset, target: Format, counts: CopyCounts, originals: np.ndarray, report: Report
) -> tuple[Dataset, PlannedJobs]:
    """The originals to write (the images of rows `originals`) and one job per image with copies; every output
    name is unique in the target layout (later names renamed, as conversion does: the originals first, then the
    copies in image order)."""
    table = as_table(dataset.images)
    rows = np.flatnonzero(counts.copies)
    copies = counts.copies[rows]
    wanted = _wanted_names(table, originals, rows, copies)
    kept = table if len(originals) == len(table) else table.subset(originals)
    count = len(originals) + int(copies.sum())
    if names_free(((split, name) for _, _, split, name in wanted()), target, count):  # usual: none claimed
        return dataset.replace(images=kept), PlannedJobs(table, rows, copies, target.image_path, None, counts.required)
    names = OutputNames(target, report)
    renamed: dict[tuple[int, int], str] = {}
    claimed: list[str] = []
    for job, k, split, name in wanted():
        free = names.claim_name(split, name)
        if job < 0:
            claimed.append(free)
        elif free != name:
            renamed[job, k] = free
    kept = kept.with_columns(names=text_column(claimed))
    return dataset.replace(images=kept), PlannedJobs(table, rows, copies, target.image_path, renamed, counts.required)


def _wanted_names(
    table: ImageTable, originals: np.ndarray, rows: np.ndarray, copies: np.ndarray
) -> Callable[[], Iterator[tuple[int, int, str, str]]]:
    """The names the run writes, in the order they are claimed, as (job, copy index, split, name): the originals
    of rows `originals` first (job -1), then the copies of each job (an image of `rows`, `copies` of it). A
    function, so the names can be made again rather than held."""

    def wanted() -> Iterator[tuple[int, int, str, str]]:
        yield from ((-1, 0, split, name) for split, name in table.split_name_pairs(originals))
        jobs = zip(table.split_name_pairs(rows), _each(copies), strict=True)
        for job, ((split, name), count) in enumerate(jobs):
            yield from ((job, k, split, copy_name(name, k)) for k in range(1, count + 1))

    return wanted


def _each(values: np.ndarray, chunk: int = 4096) -> Iterator[int]:
    """The values as Python ints, a chunk at a time: a list of all of them costs 36 bytes a value (7 MB for the
    rows of 200,000 images), on top of the array."""
    for start in range(0, len(values), chunk):
        yield from values[start : start + chunk].tolist()


def run_jobs(
    jobs: PlannedJobs,
    staging: Path,
    policy: Policy,
    seed: int,
    quality: int,
    report: Report,
    *,
    workers: int,
    progress: bool,
    preprocess: Preprocessing = NO_PREPROCESSING,
) -> dict[str, Problem]:
    """Make every job's copies (skipping jobs an interrupted run finished) from the images `preprocess` makes,
    failing or skipping unreadable images as the report's policy says; returns the images that could not be
    read. What became of each copy stays in the jobs' progress files, so the coordinator holds nothing per copy.
    The workers are threads or processes as `workers_for` chooses."""
    todo = np.fromiter((k for k in range(len(jobs)) if not progress_file(staging, jobs.key(k)).is_file()), np.int64)
    worker = functools.partial(
        make_copies,
        policy_json=json.dumps(policy.to_json(), sort_keys=True),
        seed=seed,
        root=str(staging),
        quality=quality,
        preprocess=preprocess,
    )
    failed: dict[str, Problem] = {}
    prefer = workers_for(jobs)
    results = iter_parallel(
        worker,
        (jobs[int(k)] for k in todo),
        jobs=workers,
        prefer=prefer,
        description="augmenting",
        progress=progress,
        writes_into=staging,
        total=len(todo),
    )
    # image buffers are kept for reuse only where the images are made, on this process's threads
    with image_work_memory() if prefer == "threads" else contextlib.nullcontext():
        try:
            for result in results:
                if result.error is not None:
                    failed[result.key] = result.error
        finally:
            results.close()
    for error in (failed.get(jobs.key(k)) for k in range(len(jobs))):
        if error is not None:
            with report.item():
                raise ImageError(error.message, file=error.file, field=error.field, code=error.code)
    return failed


def load_result(staging: Path, key: str) -> JobResult:
    """The result of the finished job of image `key`, from its progress file."""
    result: JobResult = pickle.loads(progress_file(staging, key).read_bytes())
    return result


def copy_record(job: ImageJob, copy: CopyResult, staging: Path) -> ImageRecord:
    """The written copy as a record of the output dataset."""
    if copy.boxes is None:  # collect() lists written copies only
        raise ImageError(f"copy {copy.plan.index} was dropped", file=job.key)
    return ImageRecord(copy.plan.name, job.image.split, copy.width, copy.height, copy.boxes, staging / copy.plan.path)


#: Where a written record comes from, in `WrittenImages`'s order: (ORIGINAL, row of the originals' table),
#: (job, position among its copies), or (EXTRA, position among the records appended after the copies).
ORIGINAL, EXTRA = -1, -2

#: The type of those pairs: 2**31 images are more than a coordinator holds, and 8 bytes an image fewer than int64.
ORDER_TYPE = np.int32


class WrittenImages(StoredImages):
    """The written dataset's records in order, each original followed by its copies. An original comes from the
    originals' table and a copy's record from its job's progress file, when asked for: writing 10x more copies
    needs no more memory, and the coordinator holds two integers per written image."""

    def __init__(
        self,
        order: np.ndarray,
        originals: ImageTable,
        jobs: PlannedJobs,
        staging: Path,
        extra: tuple[ImageRecord, ...] = (),
    ) -> None:
        self._order = order.reshape(-1, 2)
        self._originals, self._jobs, self._staging, self._extra = originals, jobs, staging, extra
        self._loaded: tuple[int, JobResult] | None = None  # copies of one job are read together

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, index: int) -> ImageRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[ImageRecord]: ...

    def __getitem__(self, index: int | slice) -> ImageRecord | list[ImageRecord]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        source, position = self._order[index].tolist()
        if source == ORIGINAL:
            return self._originals[position]
        if source == EXTRA:
            return self._extra[position]
        return copy_record(self._jobs[source], self._copy(source, position), self._staging)

    def _copy(self, job: int, position: int) -> CopyResult:
        """Copy `position` of job `job`; the job's progress record is read once for all its copies."""
        if self._loaded is None or self._loaded[0] != job:
            self._loaded = (job, load_result(self._staging, self._jobs.key(job)))
        return self._loaded[1].copies[position]

    def split_of(self, index: int) -> str:
        source, position = self._order[index].tolist()
        if source == ORIGINAL:
            return self._originals.split_of(position)
        return self._extra[position].split if source == EXTRA else self._jobs.split(source)

    def split_positions(self) -> tuple[list[str], np.ndarray]:
        """From the columns: an original's split is its row's in the originals' table, a copy's its job's."""
        kinds, positions = self._order[:, 0], self._order[:, 1]
        originals, extra = kinds == ORIGINAL, kinds == EXTRA
        copies = ~(originals | extra)
        known: dict[str, int] = {}
        codes = np.empty(len(kinds), dtype=np.int32)
        table = self._originals
        codes[originals] = _codes_among(table.split_names, known)[table.split_codes[positions[originals]]]
        job_splits, job_codes = self._jobs.split_codes()
        codes[copies] = _codes_among(job_splits, known)[job_codes[kinds[copies]]]
        codes[extra] = _codes_among([self._extra[k].split for k in positions[extra].tolist()], known)
        return positions_in_appearance_order(codes, list(known))

    def box_counts(self) -> np.ndarray:
        """The originals' from their table; the copies' from their progress records, a job at a time."""
        kinds, positions = self._order[:, 0], self._order[:, 1]
        counts = np.zeros(len(kinds), dtype=np.int64)
        originals = kinds == ORIGINAL
        counts[originals] = self._originals.box_counts()[positions[originals]]
        for row in trimmed(_each(np.flatnonzero(kinds >= 0))):
            boxes = self._copy(int(kinds[row]), int(positions[row])).boxes
            counts[row] = 0 if boxes is None else len(boxes)
        for row in np.flatnonzero(kinds == EXTRA).tolist():
            counts[row] = len(self._extra[positions[row]].boxes)
        return counts

    def subset(self, indices: Sequence[int]) -> WrittenImages:
        rows = np.asarray(indices, dtype=np.int64)
        return WrittenImages(self._order[rows], self._originals, self._jobs, self._staging, self._extra)

    def extended(self, records: Sequence[ImageRecord]) -> WrittenImages:
        """These records followed by `records` (images made after the copies, such as paste images)."""
        added = [(EXTRA, len(self._extra) + k) for k in range(len(records))]
        order = np.concatenate([self._order, np.array(added, dtype=self._order.dtype).reshape(-1, 2)])
        return WrittenImages(order, self._originals, self._jobs, self._staging, (*self._extra, *records))


def collect(
    originals: Dataset,
    planned: ImageTable,
    source_rows: np.ndarray,
    jobs: PlannedJobs,
    failed: Mapping[str, Problem],
    staging: Path,
    report: Report,
) -> Dataset:
    """The written dataset, each original (of those `planned`, the images of `source_rows`, as placed) followed by
    its copies, counting and warning about dropped boxes and copies on the way."""
    # (job, position) of every written copy, in job order: filled in place, as an array grown copy by copy was
    # moved about the heap as it grew and left its old places behind (tens of MB at 200,000 copies).
    copies = np.empty((jobs.copy_count(), 2), dtype=ORDER_TYPE)
    written = 0
    names = originals.class_names
    for job_index in trimmed(range(len(jobs))):
        key = jobs.key(job_index)
        if key in failed:
            continue
        for position, copy in enumerate(load_result(staging, key).copies):
            for reason, count in copy.dropped.items():
                report.count(f"boxes_dropped:{reason}", count)
            if copy.boxes is None:
                report.warn(key, f"copy {copy.plan.index}", dropped_reason(copy, names), codes.COPIES_DROPPED)
                report.count("copies_dropped")
            else:
                copies[written] = job_index, position
                written += 1
                report.count("copies_written")
    copies = copies[:written]
    table = as_table(originals.images)
    order = _written_order(source_rows[_planned_rows(table, planned)], jobs.rows[copies[:, 0]], copies)
    return originals.replace(images=WrittenImages(order, table, jobs, staging))


def _written_order(original_rows: np.ndarray, copy_rows: np.ndarray, copies: np.ndarray) -> np.ndarray:
    """The (source, position) of every written record: each original (ORIGINAL, its row among the originals)
    followed by its image's `copies`. `original_rows` and `copy_rows` are the originals' and the copies' rows in
    the source table, each in row order (as `original_rows` and `plan_jobs` take them), so a record's place is
    its own position plus the number of the other kind before it: the two runs are merged without sorting, and
    the order is the only array of the whole size made (at 200,000 copies: 9.6 MB made, against 19 MB to sort)."""
    order = np.empty((len(original_rows) + len(copy_rows), 2), dtype=ORDER_TYPE)
    places = np.searchsorted(copy_rows, original_rows, side="left")
    places += np.arange(len(original_rows))
    order[places, 0] = ORIGINAL
    order[places, 1] = np.arange(len(original_rows))
    places = np.searchsorted(original_rows, copy_rows, side="right")
    places += np.arange(len(copy_rows))
    order[places] = copies
    return order


def _planned_rows(placed: ImageTable, planned: ImageTable) -> np.ndarray:
    """The row of each placed original among the planned ones (names claimed): the same rows unless an image
    failed to be placed and was left out."""
    if len(placed) == len(planned):
        return np.arange(len(placed))
    rows = {planned.key_of(row): row for row in range(len(planned))}
    return np.array([rows[placed.key_of(row)] for row in range(len(placed))], dtype=np.int64)


def _codes_among(splits: Sequence[str], known: dict[str, int]) -> np.ndarray:
    """Each of `splits` as its position in `known`, where a split not yet known is added."""
    return np.array([known.setdefault(split, len(known)) for split in splits], dtype=np.int32)


def dropped_reason(copy: CopyResult, class_names: Sequence[str]) -> str:
    """Why a copy was given up, the classes it lost named."""
    lost = ", ".join(class_names[label] for label in copy.lost)
    return f"every box of {lost} was lost in {copy.attempts} attempts; copy dropped"


def output_entries(
    jobs: PlannedJobs, failed: Mapping[str, Problem], staging: Path, class_names: Sequence[str]
) -> Iterator[dict[str, Any]]:
    """The manifest's entry for every planned copy: its source, seed, attempts and dropped boxes (and, for a copy
    given up, why), read back from the progress files one job at a time."""
    for k in trimmed(range(len(jobs))):
        key = jobs.key(k)
        if key in failed:
            continue
        for copy in load_result(staging, key).copies:
            entry = {
                "image": image_key(jobs.split(k), copy.plan.name),
                "source": key,
                "copy": copy.plan.index,
                "seed": copy.seed,
                "attempts": copy.attempts,
                "dropped_boxes": dict(copy.dropped),
            }
            if copy.boxes is None:
                entry["dropped"] = dropped_reason(copy, class_names)
            yield entry


@dataclass(frozen=True)
class CopyCounts:
    """How many copies each image gets (one count per image of the dataset, in order) and the labels each
    image's copies must keep (None: every label the image has; else one entry per image)."""

    copies: np.ndarray
    required: Sequence[frozenset[int] | None] | None = None

    @classmethod
    def by_key(
        cls, dataset: Dataset, copies: Mapping[str, int], required: Mapping[str, frozenset[int]] | None = None
    ) -> CopyCounts:
        """Counts given by image key ("split/name"); images not named get none."""
        table = as_table(dataset.images)
        keys = [table.key_of(row) for row in range(len(table))]
        return cls(
            np.array([copies.get(key, 0) for key in keys], dtype=np.int64),
            None if required is None else [required.get(key) for key in keys],
        )


def make_all_copies(
    dataset: Dataset,
    counts: CopyCounts,
    policy: Policy,
    context: Context,
    *,
    seed: int,
    without_originals: Collection[str] = (),
) -> tuple[Dataset, Iterator[dict[str, Any]]]:
    """Make every planned copy into the staging folder (finishing an interrupted run's work when resuming) and
    place the originals (but those of the splits `without_originals`) beside them, all pre-processed as the run
    says; returns the written dataset, each original followed by its copies, and the manifest entries of the
    copies (read back from the progress files as they are iterated)."""
    output, report, staging = context.output, context.report, context.root
    originals = original_rows(dataset, without_originals)
    originals_planned, jobs = plan_jobs(dataset, context.target, counts, originals, report)
    failed = run_jobs(
        jobs,
        staging,
        policy,
        seed,
        output.quality,
        report,
        workers=output.jobs,
        progress=output.progress,
        preprocess=output.preprocess,
    )
    placed = place_images(
        originals_planned,
        context.target,
        staging,
        "copy",
        report,
        jobs=max(output.jobs, 1),
        progress=output.progress,
        preprocess=output.preprocess,
        quality=output.quality,
    )
    written = collect(placed, as_table(originals_planned.images), originals, jobs, failed, staging, report)
    return written, output_entries(jobs, failed, staging, dataset.class_names)
