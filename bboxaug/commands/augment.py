"""`bboxaug augment`: the dataset plus N augmented copies of every image of the train split (or the splits named),
each a pure function of (image, policy, seed, image key, copy index), so the bytes do not depend on `jobs`;
resumable. The other splits are written as they are: augmenting validation or test data would bias them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bboxaug.augmentation.policy import load_policy
from bboxaug.augmentation.spec import Policy
from bboxaug.augmentation.worker import PROGRESS
from bboxaug.core.errors import UsageError
from bboxaug.core.model import Dataset
from bboxaug.core.report import OnError, Report
from bboxaug.core.splits import TRAIN, select_splits, split_names
from bboxaug.core.table import as_table
from bboxaug.pipeline.classes import ClassOps
from bboxaug.pipeline.copies import AUGMENT_MANIFEST, CopyCounts, make_all_copies
from bboxaug.pipeline.filters import Filters
from bboxaug.pipeline.run import Context, Output, RunResult, Written, run
from bboxaug.pipeline.source import Source
from bboxaug.preprocessing.steps import NO_PREPROCESSING, Preprocessing, PreprocessSpec

PolicySpec = str | Path | Mapping[str, Any]


def choose_policy(chosen: Policy | None, dataset: Dataset) -> Policy:
    """The policy checked up front, or, for `auto` (None), the preset the dataset's size calls for."""
    return chosen or load_policy("auto", dataset_size=len(dataset.images))


@dataclass(frozen=True)
class AugmentPlan:
    """The policy the copies are made with, how many copies each image gets, the splits augmented (the others
    are written as they are) and every split with its number of images."""

    policy: Policy
    counts: CopyCounts
    splits: tuple[str, ...]
    images: dict[str, int]


@dataclass(frozen=True)
class AugmentStep:
    """`copies` copies of every image of `splits` with `policy` (None: `auto`), their originals too unless told
    otherwise; the other splits as they are."""

    policy: Policy | None
    copies: int
    seed: int = 0
    originals: bool = True
    splits: tuple[str, ...] = (TRAIN,)
    manifest: str = AUGMENT_MANIFEST
    resumable: bool = True
    scratch: tuple[str, ...] = (PROGRESS,)

    def plan(self, dataset: Dataset, context: Context) -> AugmentPlan:
        splits = select_splits(self.splits, dataset.splits)
        table = as_table(dataset.images)
        augmented = np.isin(table.split_codes, [table.split_names.index(split) for split in splits])
        copies = np.where(augmented, self.copies, 0).astype(np.int64)
        per_split = np.bincount(table.split_codes, minlength=len(table.split_names)).tolist()
        images = {split: n for split, n in zip(table.split_names, per_split, strict=True) if n}
        return AugmentPlan(choose_policy(self.policy, dataset), CopyCounts(copies), splits, images)

    def settings(self, plan: AugmentPlan, context: Context) -> dict[str, Any]:
        return {
            "policy": plan.policy.to_json(),
            "seed": self.seed,
            "copies": self.copies,
            "originals": self.originals,
            "augmented_splits": list(plan.splits),
            "quality": context.output.quality,
        }

    def run(self, plan: AugmentPlan, dataset: Dataset, context: Context) -> list[Written]:
        without_originals = () if self.originals else plan.splits
        written, entries = make_all_copies(
            dataset, plan.counts, plan.policy, context, seed=self.seed, without_originals=without_originals
        )
        return [Written(written, entries=entries)]


@dataclass
class AugmentResult:
    """A finished run: what was written (images, boxes and negatives, overall and per split, as in the
    manifest), what happened, and the pre-processing every image got."""

    source_format: str | None
    target_format: str
    policy: Policy
    counts: dict[str, Any]
    report: Report
    splits: tuple[str, ...]
    preprocess: Preprocessing = NO_PREPROCESSING

    @classmethod
    def of(
        cls, result: RunResult[Any], policy: Policy, splits: Sequence[str], preprocess: Preprocessing
    ) -> AugmentResult:
        """The result of a run that made copies of the images of `splits` with `policy` from images pre-processed
        by `preprocess`."""
        counts = {key: result.manifests[0][key] for key in ("images", "boxes", "negatives", "splits")}
        return cls(result.source_format, result.target_format, policy, counts, result.report, tuple(splits), preprocess)


def preprocessing_for(given: PreprocessSpec, policy: Policy | None) -> Preprocessing:
    """The pre-processing of a run that makes copies: `given` (`--preprocess`) or the policy file's `preprocess`
    list; two different lists are refused, as neither could be said to win."""
    steps = Preprocessing.of(given)
    if policy is None or not policy.preprocess:
        return steps
    if steps and steps != policy.preprocess:
        raise UsageError(
            f"pre-processing is given twice, by --preprocess and by the policy's preprocess list ({policy.source});"
            " keep one"
        )
    return policy.preprocess


def augment(
    src: Path | str,
    dst: Path | str,
    *,
    policy: PolicySpec = "auto",
    copies: int = 1,
    to: str | None = None,
    task: str | None = None,
    fmt_from: str | None = None,
    image_dir: Path | str | None = None,
    read_options: Mapping[str, Any] | None = None,
    seed: int = 0,
    jobs: int = 1,
    splits: str | Sequence[str] = TRAIN,
    originals: bool = True,
    resume: bool = False,
    quality: int = 95,
    on_error: OnError = "fail",
    class_ops: ClassOps | None = None,
    filters: Filters | None = None,
    overwrite: bool = False,
    progress: bool = False,
    preprocess: PreprocessSpec = None,
) -> AugmentResult:
    """Write the dataset at `src` plus `copies` augmented copies of every image of `splits` into the new folder
    `dst`; the other splits are written as they are, as `convert` writes them.

    `splits` names splits (a list, or comma-separated) or is `all`; a dataset with one split only is its own train
    split. `originals=False` leaves out the originals of the augmented splits. Copies are named
    `<stem>_aug<k>.<ext>` and stay in their source's split; the output is in `src`'s format unless `to` names
    another. `augment.json` in `dst` records the policy, the seed, the splits augmented, and for every copy its
    source, seed and the boxes dropped with reasons. `preprocess` steps (or the policy's `preprocess` list) are
    applied to every image first, the originals written included, so every split gets the same pre-processing.
    `class_ops` and `filters` rename, merge and drop classes and filter boxes and images first.
    """
    step = augment_step(policy, copies, seed, originals, splits)
    steps = preprocessing_for(preprocess, step.policy)
    source = Source.at(src, fmt_from, image_dir, on_error, class_ops, filters=filters, read_options=read_options)
    output = Output(
        Path(dst),
        to,
        overwrite=overwrite,
        resume=resume,
        jobs=jobs,
        progress=progress,
        quality=quality,
        preprocess=steps,
        task=task,
    )
    result = run(step, source, output)
    return AugmentResult.of(result, result.plan.policy, result.plan.splits, steps)


def augment_step(
    policy: PolicySpec, copies: int, seed: int = 0, originals: bool = True, splits: str | Sequence[str] = TRAIN
) -> AugmentStep:
    """The step, its options checked (every policy mistake before any image is read)."""
    if copies < 1:
        raise UsageError(f"copies must be at least 1, not {copies}")
    chosen = split_names(splits)
    if not chosen:
        raise UsageError("name at least one split to augment, or 'all'")
    return AugmentStep(None if policy == "auto" else load_policy(policy), copies, seed, originals, chosen)


def plan_augment(
    src: Path | str,
    dst: Path | str,
    *,
    policy: PolicySpec = "auto",
    copies: int = 1,
    to: str | None = None,
    task: str | None = None,
    fmt_from: str | None = None,
    image_dir: Path | str | None = None,
    read_options: Mapping[str, Any] | None = None,
    on_error: OnError = "fail",
    class_ops: ClassOps | None = None,
    filters: Filters | None = None,
    jobs: int = 1,
    preprocess: PreprocessSpec = None,
    splits: str | Sequence[str] = TRAIN,
) -> AugmentPlan:
    """What `augment` would do with the dataset at `src` (the policy, `auto` resolved, the splits augmented and
    the copies per image), without writing anything."""
    step = augment_step(policy, copies, splits=splits)
    output = Output(Path(dst), to, jobs=jobs, preprocess=preprocessing_for(preprocess, step.policy), task=task)
    source = Source.at(src, fmt_from, image_dir, on_error, class_ops, filters=filters, read_options=read_options)
    return run(step, source, output, dry_run=True).plan
