"""The augmentation engine's coordinator: N copies of every image, boxes following the pixels, on every core,
reproducibly.

Every output is a pure function of (input, policy, seed, image key, copy index): the seed of each copy is derived
from those alone, so the bytes written do not depend on the number of workers or how work is split. Workers
(`worker.make_copies`) build the pipeline once, decode one image at a time, write its copies atomically, and then
a small progress record, so `resume` can finish an interrupted run without redoing or trusting half-written work.
Only the coordinator writes annotation files and the manifest, once the copies are done, reading the copies back
from the progress records; the output folder appears only when complete.
"""

from __future__ import annotations

import functools
import itertools
import json
import pickle
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..convert import check_destination, dataset_counts, ensure_apart, place_images, prepare, publish, \
    rename_collisions
from ..dataset import Boxes, Dataset, ImageRecord, StoredImages
from ..errors import ImageError, UsageError
from ..formats import Format, detect_format, get_format
from ..io import atomic_text_file, atomic_write_text, remove_partial_writes
from ..parallel import iter_parallel
from ..report import OnError, Problem, Report
from .images import writable_name
from .policy import Policy, load_policy
from .worker import PROGRESS, CopyPlan, CopyResult, ImageJob, JobResult, derive_seed, make_copies, progress_file

MANIFEST = "augment.json"
RUN_FILE = "run.json"

def copy_name(name: str, index: int) -> str:
    """`<stem>_aug<k>.<ext>`, subfolders kept; sources in formats that cannot be written back become PNG."""
    return writable_name(name, f"_aug{index}")


def plan_jobs(dataset: Dataset, target: Format, copies: Mapping[str, int], originals: bool, report: Report,
              required: Mapping[str, frozenset[int]] | None = None) -> tuple[Dataset, list[ImageJob]]:
    """The originals to write and one job per image with copies; every output name is unique in the target
    layout (later names renamed, as conversion does)."""
    placeholders = []
    for image in dataset.images:
        key = f"{image.split}/{image.name}"
        placeholders += [image.replace(name=copy_name(image.name, k), boxes=Boxes.empty())
                         for k in range(1, copies.get(key, 0) + 1)]
    kept_originals = list(dataset.images) if originals else []
    named = rename_collisions(dataset.replace(images=(*kept_originals, *placeholders)), target, report).images
    copy_names = iter(named[len(kept_originals):])
    jobs = []
    for image in dataset.images:
        key = f"{image.split}/{image.name}"
        plans = tuple(CopyPlan(k, record.name, target.image_path(record.split, record.name))
                      for k, record in zip(range(1, copies.get(key, 0) + 1), copy_names))
        if plans:
            jobs.append(ImageJob(image, plans, None if required is None else required.get(key)))
    return dataset.replace(images=tuple(named[:len(kept_originals)])), jobs


@dataclass
class AugmentResult:
    """A finished run: what was written (images, boxes and negatives, overall and per split, as in the
    manifest) and what happened."""

    source_format: str
    target_format: str
    policy: Policy
    counts: dict[str, Any]
    report: Report


def _settings(src: Path, target: Format, policy: Policy, seed: int, originals: bool, quality: int,
              extra: Mapping[str, Any]) -> dict[str, Any]:
    return {"bboxaug": __version__, "source": str(src.resolve()), "to": target.name, "policy": policy.to_json(),
            "seed": seed, **extra, "originals": originals, "quality": quality}


def _open_staging(dst: Path, settings: dict[str, Any], resume: bool, overwrite: bool) -> Path:
    """The folder the run writes into before it becomes `dst`; on resume, the interrupted run's, if its settings
    are the same."""
    staging = dst.parent / f".{dst.name}.partial"
    run_file = staging / RUN_FILE
    if resume and run_file.is_file():
        previous = json.loads(run_file.read_text(encoding="utf-8"))
        changed = [key for key in settings if previous.get(key) != settings[key]]
        if changed:
            raise UsageError(f"cannot resume: the interrupted run used other {', '.join(changed)}; run without "
                             "--resume to start again", file=staging)
        remove_partial_writes(staging)  # files a killed worker was in the middle of writing
        return staging
    if resume and dst.is_dir() and not staging.exists():
        raise UsageError("nothing to resume: the output is complete", file=dst)
    check_destination(dst, overwrite)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    atomic_write_text(run_file, json.dumps(settings, indent=2, sort_keys=True))
    return staging


def run_jobs(jobs: list[ImageJob], staging: Path, policy: Policy, seed: int, quality: int, report: Report, *,
             workers: int, progress: bool) -> dict[str, Problem]:
    """Make every job's copies (skipping jobs an interrupted run finished), failing or skipping unreadable
    images as the report's policy says; returns the images that could not be read. What became of each copy
    stays in the jobs' progress files, so the coordinator holds nothing per copy."""
    todo = [job for job in jobs if not progress_file(staging, job.key).is_file()]
    worker = functools.partial(make_copies, policy_json=json.dumps(policy.to_json(), sort_keys=True), seed=seed,
                               root=str(staging), quality=quality)
    failed: dict[str, Problem] = {}
    results = iter_parallel(worker, todo, jobs=workers, prefer="processes", description="augmenting",
                            progress=progress, writes_into=staging)
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
                raise ImageError(error.message, file=error.file, field=error.field)
    return failed


def load_result(staging: Path, job: ImageJob) -> JobResult:
    """A finished job's result, from its progress file."""
    result: JobResult = pickle.loads(progress_file(staging, job.key).read_bytes())
    return result


def copy_record(job: ImageJob, copy: CopyResult, staging: Path) -> ImageRecord:
    """The written copy as a record of the output dataset."""
    return ImageRecord(copy.plan.name, job.image.split, copy.width, copy.height, copy.boxes,
                       staging / copy.plan.path)


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

    def __getitem__(self, index):  # type: ignore[no-untyped-def, override]
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


def collect(originals: Dataset, jobs: list[ImageJob], failed: Mapping[str, Problem], staging: Path,
            report: Report) -> Dataset:
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
                report.warn(job.key, f"copy {copy.plan.index}", copy.problem or "dropped")
                report.count("copies_dropped")
            else:
                copies_of.setdefault(job.key, []).append((job_index, position))
                report.count("copies_written")
    entries: list[ImageRecord | tuple[int, int]] = []
    originals_by_key = {f"{i.split}/{i.name}": i for i in originals.images}
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
            entry = {"image": f"{job.image.split}/{copy.plan.name}", "source": job.key, "copy": copy.plan.index,
                     "seed": copy.seed, "attempts": copy.attempts, "dropped_boxes": dict(copy.dropped)}
            if copy.boxes is None:
                entry["dropped"] = copy.problem
            yield entry


def write_manifest(path: Path, document: Mapping[str, Any], outputs: Iterable[dict[str, Any]]) -> None:
    """`document` with an `outputs` list written entry by entry, one line each, so the manifest of a large run
    is never held in memory whole."""
    with atomic_text_file(path) as handle:
        handle.write(json.dumps(document, indent=2, ensure_ascii=False)[:-2] + ',\n  "outputs": [')
        separator = "\n    "
        for entry in outputs:
            handle.write(separator + json.dumps(entry, ensure_ascii=False))
            separator = ",\n    "
        handle.write("\n  ]\n}\n")


@dataclass(frozen=True)
class Plan:
    """What a run makes of the prepared dataset: copies per image key ("split/name"), the labels each image's
    copies must keep (None: every label the image has), and anything the run's `finish` step needs."""

    copies: Mapping[str, int]
    required: Mapping[str, frozenset[int]] | None = None
    extra: Any = None


#: plan(prepared dataset, report) -> Plan
Planner = Callable[[Dataset, Report], Plan]
#: finish(prepared dataset, written dataset, plan, staging folder, target, report) -> (dataset to write, keys
#: added to the manifest, output entries added to the manifest); runs after the copies, before anything is written
Finisher = Callable[[Dataset, Dataset, Plan, Path, Format, Report], tuple[Dataset, dict[str, Any], list[dict]]]


def read_source(src: Path, *, to: str | None, fmt_from: str | None, image_dir: Path | str | None,
                on_error: OnError) -> tuple[Format, Format, Dataset, Report]:
    """The source format, the target format (the source's unless `to`), the dataset read, and its report."""
    source_format = get_format(fmt_from) if fmt_from else detect_format(src)
    target = get_format(to or source_format.name)
    report = Report(on_error=on_error)
    dataset = source_format.read(src, report=report, image_dir=None if image_dir is None else Path(image_dir))
    return source_format, target, dataset, report


def run_augmentation(src: Path, dst: Path, *, policy: Policy | None, plan: Planner, settings: Mapping[str, Any],
                     manifest: str = MANIFEST, finish: Finisher | None = None, to: str | None = None,
                     fmt_from: str | None = None, image_dir: Path | str | None = None, seed: int = 0, jobs: int = 1,
                     originals: bool = True, resume: bool = False, quality: int = 95, on_error: OnError = "fail",
                     overwrite: bool = False, progress: bool = False) -> AugmentResult:
    """The flow every augmenting command shares: read, prepare, plan, make the copies, place the originals,
    finish, write the annotations and the manifest, publish. `policy` None means `auto` (chosen by dataset size);
    `settings` are the command's own settings, recorded in the manifest and compared on resume."""
    if not 1 <= quality <= 100:
        raise UsageError(f"quality must be between 1 and 100, not {quality}")
    ensure_apart(src, dst)
    source_format, target, dataset, report = read_source(src, to=to, fmt_from=fmt_from, image_dir=image_dir,
                                                         on_error=on_error)
    chosen = policy or load_policy("auto", dataset_size=len(dataset.images))
    run_settings = _settings(src, target, chosen, seed, originals, quality, settings)
    # From here on, an interrupted or failed run leaves its staging folder for `resume`.
    staging = _open_staging(dst, run_settings, resume, overwrite)
    dataset = prepare(dataset, target, report, jobs=max(jobs, 1), progress=progress)
    chosen_plan = plan(dataset, report)
    kept, planned = plan_jobs(dataset, target, chosen_plan.copies, originals, report, chosen_plan.required)
    failed = run_jobs(planned, staging, chosen, seed, quality, report, workers=jobs, progress=progress)
    kept = place_images(kept, target, staging, "copy", report, jobs=max(jobs, 1), progress=progress)
    written = collect(kept, planned, failed, staging, report)
    extra: dict[str, Any] = {}
    more: list[dict[str, Any]] = []
    if finish is not None:
        written, extra, more = finish(dataset, written, chosen_plan, staging, target, report)
    target.write(written, staging, report=report)
    counts = dataset_counts(written)
    document = {**run_settings, "from": source_format.name, **counts, **extra, **report.to_json()}
    write_manifest(staging / manifest, document, itertools.chain(output_entries(planned, failed, staging), more))
    shutil.rmtree(staging / PROGRESS, ignore_errors=True)
    (staging / RUN_FILE).unlink()
    publish(staging, dst)
    return AugmentResult(source_format.name, target.name, chosen, counts, report)


def augment(src: Path | str, dst: Path | str, *, policy: str | Path | Mapping[str, Any] = "auto", copies: int = 1,
            to: str | None = None, fmt_from: str | None = None, image_dir: Path | str | None = None, seed: int = 0,
            jobs: int = 1, originals: bool = True, resume: bool = False, quality: int = 95,
            on_error: OnError = "fail", overwrite: bool = False, progress: bool = False) -> AugmentResult:
    """Write the dataset at `src` plus `copies` augmented copies of every image into the new folder `dst`.

    Copies are named `<stem>_aug<k>.<ext>` and stay in their source's split; the output is in `src`'s format
    unless `to` names another. `augment.json` in `dst` records the policy, the seed, and for every copy its source,
    seed and the boxes dropped with reasons.
    """
    if copies < 1:
        raise UsageError(f"copies must be at least 1, not {copies}")
    chosen = None if policy == "auto" else load_policy(policy)  # every policy mistake before any image is read

    def every_image(dataset: Dataset, report: Report) -> Plan:
        return Plan({f"{image.split}/{image.name}": copies for image in dataset.images})

    return run_augmentation(Path(src), Path(dst), policy=chosen, plan=every_image, settings={"copies": copies},
                            to=to, fmt_from=fmt_from, image_dir=image_dir, seed=seed, jobs=jobs,
                            originals=originals, resume=resume, quality=quality, on_error=on_error,
                            overwrite=overwrite, progress=progress)


__all__ = ["AugmentResult", "CopyPlan", "ImageJob", "Plan", "augment", "copy_name", "derive_seed", "make_copies",
           "plan_jobs", "read_source", "run_augmentation", "run_jobs"]
