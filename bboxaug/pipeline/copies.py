"""Making augmented copies: the coordinator's side of the augmentation engine.

Every output is a pure function of (input, policy, seed, image key, copy index): the seed of each copy is derived
from those alone, so the bytes written do not depend on the number of workers or how work is split. Workers
(`bboxaug.augmentation.worker.make_copies`) build the pipeline once, decode one image at a time, write its copies
atomically, and then a small progress record, so `resume` can finish an interrupted run without redoing or
trusting half-written work. Only the coordinator writes annotation files and the manifest, once the copies are
done, reading the copies back from the progress records; the output folder appears only when complete.
"""

from __future__ import annotations

import functools
import json
import pickle
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from bboxaug.augmentation.spec import Policy
from bboxaug.augmentation.worker import CopyPlan, CopyResult, ImageJob, JobResult, make_copies, progress_file
from bboxaug.core import codes
from bboxaug.core.errors import ImageError
from bboxaug.core.model import Boxes, Dataset, ImageRecord, StoredImages, image_key
from bboxaug.core.report import Problem, Report
from bboxaug.formats.base import Format
from bboxaug.io.names import copy_name
from bboxaug.pipeline.output import place_images
from bboxaug.pipeline.prepare import rename_collisions
from bboxaug.pipeline.run import Context
from bboxaug.runtime.parallel import iter_parallel

AUGMENT_MANIFEST = "augment.json"


def plan_jobs(
    dataset: Dataset,
    target: Format,
    copies: Mapping[str, int],
    originals: bool,
    report: Report,
    required: Mapping[str, frozenset[int]] | None = None,
) -> tuple[Dataset, list[ImageJob]]:
    """The originals to write and one job per image with copies; every output name is unique in the target
    layout (later names renamed, as conversion does)."""
    placeholders = []
    for image in dataset.images:
        key = image.key
        placeholders += [
            image.replace(name=copy_name(image.name, k), boxes=Boxes.empty()) for k in range(1, copies.get(key, 0) + 1)
        ]
    kept_originals = list(dataset.images) if originals else []
    named = rename_collisions(dataset.replace(images=(*kept_originals, *placeholders)), target, report).images
    copy_names = iter(named[len(kept_originals) :])  # shared: each image takes its own copies' names from it
    jobs = []
    for image in dataset.images:
        key = image.key
        plans = tuple(
            CopyPlan(k, record.name, target.image_path(record.split, record.name))
            for k, record in zip(range(1, copies.get(key, 0) + 1), copy_names, strict=False)
        )
        if plans:
            jobs.append(ImageJob(image, plans, None if required is None else required.get(key)))
    return dataset.replace(images=tuple(named[: len(kept_originals)])), jobs


def run_jobs(
    jobs: list[ImageJob],
    staging: Path,
    policy: Policy,
    seed: int,
    quality: int,
    report: Report,
    *,
    workers: int,
    progress: bool,
) -> dict[str, Problem]:
    """Make every job's copies (skipping jobs an interrupted run finished), failing or skipping unreadable
    images as the report's policy says; returns the images that could not be read. What became of each copy
    stays in the jobs' progress files, so the coordinator holds nothing per copy."""
    todo = [job for job in jobs if not progress_file(staging, job.key).is_file()]
    worker = functools.partial(
        make_copies,
        policy_json=json.dumps(policy.to_json(), sort_keys=True),
        seed=seed,
        root=str(staging),
        quality=quality,
    )
    failed: dict[str, Problem] = {}
    results = iter_parallel(
        worker, todo, jobs=workers, prefer="processes", description="augmenting", progress=progress, writes_into=staging
    )
    try:
        for result in results:
            if result.error is not None:
                failed[result.key] = result.error
    finally:
        results.close()
    for job in jobs:
        error = failed.get(job.key)
        if error is not None:
            with report.item():
                raise ImageError(error.message, file=error.file, field=error.field, code=error.code)
    return failed


def load_result(staging: Path, job: ImageJob) -> JobResult:
    """A finished job's result, from its progress file."""
    result: JobResult = pickle.loads(progress_file(staging, job.key).read_bytes())
    return result


def copy_record(job: ImageJob, copy: CopyResult, staging: Path) -> ImageRecord:
    """The written copy as a record of the output dataset."""
    if copy.boxes is None:  # collect() lists written copies only
        raise ImageError(f"copy {copy.plan.index} was dropped: {copy.problem}", file=job.key)
    return ImageRecord(copy.plan.name, job.image.split, copy.width, copy.height, copy.boxes, staging / copy.plan.path)


class WrittenImages(StoredImages):
    """The written dataset's records in order, each original followed by its copies. A copy's record is built
    from its job's progress file when asked for, so writing 10x more copies needs no more memory."""

    def __init__(self, entries: list[ImageRecord | tuple[int, int]], jobs: list[ImageJob], staging: Path):
        self._entries = entries  # an original's record, or (job index, position among the job's copies)
        self._jobs = jobs
        self._staging = staging
        self._loaded: tuple[int, JobResult] | None = None  # copies of one job are read together

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def __getitem__(self, index: int) -> ImageRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[ImageRecord]: ...

    def __getitem__(self, index: int | slice) -> ImageRecord | list[ImageRecord]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        entry = self._entries[index]
        if isinstance(entry, ImageRecord):
            return entry
        job_index, position = entry
        if self._loaded is None or self._loaded[0] != job_index:
            self._loaded = (job_index, load_result(self._staging, self._jobs[job_index]))
        job = self._jobs[job_index]
        return copy_record(job, self._loaded[1].copies[position], self._staging)

    def split_of(self, index: int) -> str:
        entry = self._entries[index]
        return entry.split if isinstance(entry, ImageRecord) else self._jobs[entry[0]].image.split

    def subset(self, indices: Sequence[int]) -> WrittenImages:
        return WrittenImages([self._entries[i] for i in indices], self._jobs, self._staging)

    def extended(self, records: Sequence[ImageRecord]) -> WrittenImages:
        """These records followed by `records` (images made after the copies, such as paste images)."""
        return WrittenImages([*self._entries, *records], self._jobs, self._staging)


def collect(
    originals: Dataset, jobs: list[ImageJob], failed: Mapping[str, Problem], staging: Path, report: Report
) -> Dataset:
    """The written dataset, each original followed by its copies, counting and warning about dropped boxes and
    copies on the way."""
    copies_of: dict[str, list[tuple[int, int]]] = {}
    for job_index, job in enumerate(jobs):
        if job.key in failed:
            continue
        for position, copy in enumerate(load_result(staging, job).copies):
            for reason, count in copy.dropped.items():
                report.count(f"boxes_dropped:{reason}", count)
            if copy.boxes is None:
                report.warn(job.key, f"copy {copy.plan.index}", copy.problem or "dropped", codes.COPIES_DROPPED)
                report.count("copies_dropped")
            else:
                copies_of.setdefault(job.key, []).append((job_index, position))
                report.count("copies_written")
    entries: list[ImageRecord | tuple[int, int]] = []
    originals_by_key = {i.key: i for i in originals.images}
    for job_key in dict.fromkeys([*originals_by_key, *(job.key for job in jobs)]):
        if job_key in originals_by_key:
            entries.append(originals_by_key[job_key])
        entries += copies_of.get(job_key, [])
    return originals.replace(images=WrittenImages(entries, jobs, staging))


def output_entries(jobs: list[ImageJob], failed: Mapping[str, Problem], staging: Path) -> Iterator[dict[str, Any]]:
    """The manifest's entry for every planned copy: its source, seed, attempts and dropped boxes, read back from
    the progress files one job at a time."""
    for job in jobs:
        if job.key in failed:
            continue
        for copy in load_result(staging, job).copies:
            entry = {
                "image": image_key(job.image.split, copy.plan.name),
                "source": job.key,
                "copy": copy.plan.index,
                "seed": copy.seed,
                "attempts": copy.attempts,
                "dropped_boxes": dict(copy.dropped),
            }
            if copy.boxes is None:
                entry["dropped"] = copy.problem
            yield entry


@dataclass(frozen=True)
class CopyCounts:
    """How many copies each image gets, by image key ("split/name"), and the labels each image's copies must keep
    (None: every label the image has)."""

    copies: Mapping[str, int]
    required: Mapping[str, frozenset[int]] | None = None


def make_all_copies(
    dataset: Dataset, counts: CopyCounts, policy: Policy, context: Context, *, seed: int, originals: bool = True
) -> tuple[Dataset, Iterator[dict[str, Any]]]:
    """Make every planned copy into the staging folder (finishing an interrupted run's work when resuming) and
    place the originals beside them; returns the written dataset, each original followed by its copies, and the
    manifest entries of the copies (read back from the progress files as they are iterated)."""
    output, report, staging = context.output, context.report, context.root
    kept, planned = plan_jobs(dataset, context.target, counts.copies, originals, report, counts.required)
    failed = run_jobs(
        planned, staging, policy, seed, output.quality, report, workers=output.jobs, progress=output.progress
    )
    kept = place_images(
        kept, context.target, staging, "copy", report, jobs=max(output.jobs, 1), progress=output.progress
    )
    return collect(kept, planned, failed, staging, report), output_entries(planned, failed, staging)
