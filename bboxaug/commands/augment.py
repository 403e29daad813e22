"""`bboxaug augment`: the dataset plus N augmented copies of every image."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bboxaug.augmentation.policy import load_policy
from bboxaug.core.errors import UsageError
from bboxaug.core.model import Dataset
from bboxaug.core.report import OnError, Report
from bboxaug.pipeline.copies import AugmentResult, Plan, run_augmentation


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
