"""`bboxaug split`: a dataset cut into train/val/test (or any named splits) by ratio, its images copied unchanged.

`split(src, dst, ratios=(0.8, 0.1, 0.1))` gives each split its ratio of the images and, by default, of every
class's boxes at once (`bboxaug.splitting.stratify`); `method="random"` shuffles and cuts instead. The rules:

- Groups never straddle splits. Always grouped: every image with the images bboxaug made from the same source
  (`augment.json`, `balance.json`, `tiles.json`, `resize.json` beside the dataset, followed back through the
  datasets they name: `bboxaug.commands.lineage`), and files with the same bytes. `group_by` adds more:
  "near-duplicates" (images that look the same, as `validate --near-duplicates` finds them) and regular
  expressions searched in each image's name (its path inside the split): the first capture group, or the whole
  match, is the group key; an image the pattern does not match is its own group (counted). "source" names the
  default grouping and adds nothing.
- `min_per_class` boxes of every class reach every split where the class has enough boxes (`len(ratios) *
  min_per_class`); each split still short of it is warned about (`class_short_in_split`).
- `from_splits="all"` splits every image anew. `"keep"` leaves in place every image whose split is one of
  `names` other than the first (by default `val` and `test`); every other image (`train`, `default`, or a split
  not among `names`) is unsplit and is shared out so that the whole dataset comes as near the ratios as it can,
  what the kept splits hold counting. A group with a kept image goes to that image's split; a group with kept
  images in two splits leaves them there, goes with the first, and is warned about (`kept_group_split`).
- The same seed gives the same splits on any machine: the order is the dataset's, the randomness numpy's seeded
  generator, and group keys are compared as strings, never hashed with Python's `hash()`.
- Images keep their names (two that meet in one split are renamed, recorded), and their bytes (`images`).

`split.json` holds, per split, the images, negatives, boxes per class and each class's share against the ratio;
per image, its key, the key it had, and its group.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bboxaug.commands.lineage import origins
from bboxaug.core import codes
from bboxaug.core.errors import ImageError, UsageError
from bboxaug.core.model import Dataset, EmbeddedImage
from bboxaug.core.report import OnError, Report
from bboxaug.core.table import ImageTable, as_table
from bboxaug.inspection.near_duplicates import find_near_duplicates
from bboxaug.io.digest import content_digest
from bboxaug.io.files import IMAGE_MODES, ImageMode
from bboxaug.pipeline.classes import ClassOps
from bboxaug.pipeline.filters import Filters
from bboxaug.pipeline.output import place_images
from bboxaug.pipeline.prepare import rename_collisions
from bboxaug.pipeline.run import Context, Output, Written, run
from bboxaug.pipeline.source import Source
from bboxaug.preprocessing.steps import Preprocessing, PreprocessSpec
from bboxaug.runtime.parallel import run_parallel
from bboxaug.splitting.groups import Groups
from bboxaug.splitting.stratify import FREE, check_ratios, group_totals, share_deviation, shuffle_split, stratify

SPLIT_MANIFEST = "split.json"

Method = Literal["stratify", "random"]
METHODS: tuple[Method, ...] = ("stratify", "random")
FromSplits = Literal["all", "keep"]
FROM_SPLITS: tuple[FromSplits, ...] = ("all", "keep")

#: The `group_by` words that are not regular expressions.
SOURCE, NEAR_DUPLICATES = "source", "near-duplicates"


def default_names(count: int) -> tuple[str, ...]:
    """The split names for `count` ratios: train, val, test for three, train, val for two."""
    if count in (2, 3):
        return ("train", "val", "test")[:count]
    raise UsageError(f"name the {count} splits (--names): only 2 or 3 have default names")


def name_pattern(text: str) -> re.Pattern[str]:
    """A `group_by` regular expression, compiled, or a usage error naming it."""
    try:
        return re.compile(text)
    except re.error as error:
        raise UsageError(f"--group-by {text!r} is not a regular expression ({error})") from None


@dataclass
class Grouping:
    """Each image's group, and how many joins each kind of link made (links that merged two groups)."""

    labels: np.ndarray
    joined: dict[str, int]


def image_groups(
    table: ImageTable,
    dataset: Dataset,
    context: Context,
    group_by: Sequence[str],
) -> Grouping:
    """The groups of `table`'s images: one source, the same bytes, and what `group_by` adds (module docstring)."""
    report, output = context.report, context.output
    groups = Groups(len(table))
    joined: dict[str, int] = {}
    keys = [table.key_of(k) for k in range(len(table))]
    if context.source.paths:
        renamed = report.renamed  # prepare may have renamed an image
        made_from = {
            renamed.get(image, image): source
            for path in context.source.paths
            for image, source in origins(path).items()
        }
        joined[SOURCE] = groups.join_equal([made_from.get(key, key) for key in keys])
    sources = [table.source_of(k) for k in range(len(table))]
    digests = run_parallel(
        _digest_or_none,
        [source for source in sources if source is not None],
        jobs=output.jobs,
        description="hashing files",
        progress=output.progress,
    )
    found = iter(digests)
    joined["duplicates"] = groups.join_equal([None if s is None else next(found) for s in sources])
    if NEAR_DUPLICATES in group_by:
        near = find_near_duplicates(dataset, jobs=output.jobs, progress=output.progress)
        joined[NEAR_DUPLICATES] = groups.join_pairs(zip(near.later.tolist(), near.earlier.tolist(), strict=True))
    names = table.names.tolist()
    for text in group_by:
        if text in (SOURCE, NEAR_DUPLICATES):
            continue
        pattern = name_pattern(text)
        matches = [pattern.search(name) for name in names]
        report.count(codes.GROUP_PATTERN_UNMATCHED, sum(match is None for match in matches))
        joined[text] = groups.join_equal(
            [None if m is None else m.group(1) if pattern.groups else m.group(0) for m in matches]
        )
    return Grouping(groups.labels(), joined)


def _digest_or_none(source: Path | EmbeddedImage) -> str | None:
    """The image's digest, or None when it cannot be read (copying it says why, as the report's policy wants)."""
    try:
        return content_digest(source)
    except ImageError:
        return None


def class_counts(table: ImageTable, classes: int) -> np.ndarray:
    """(images, classes): each image's boxes of each class."""
    counts = np.zeros((len(table), classes), dtype=np.int64)
    np.add.at(counts, (table.box_owners(), table.boxes.labels), 1)
    return counts


@dataclass(frozen=True)
class SplitPlan:
    """The dataset with its new splits (renamed where two names met), each image's old key and group, and the
    figures `split.json` and the summary show."""

    dataset: Dataset
    old_keys: list[str]
    groups: np.ndarray
    summary: dict[str, Any]


@dataclass(frozen=True)
class SplitStep:
    """The dataset cut into `names` by `ratios` (see the module docstring)."""

    ratios: tuple[float, ...]
    names: tuple[str, ...] = ()
    seed: int = 0
    method: Method = "stratify"
    group_by: tuple[str, ...] = ()
    min_per_class: int = 1
    from_splits: FromSplits = "all"
    images: ImageMode = "copy"
    manifest: str = SPLIT_MANIFEST
    resumable: bool = False
    scratch: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        try:
            check_ratios(self.ratios)
        except ValueError as error:
            raise UsageError(str(error)) from None
        if not self.names:
            object.__setattr__(self, "names", default_names(len(self.ratios)))
        if len(self.names) != len(self.ratios) or len(set(self.names)) != len(self.names):
            raise UsageError(f"give one distinct name per ratio: {list(self.names)} for {list(self.ratios)}")
        if any(not name or "/" in name or name != name.strip() for name in self.names):
            raise UsageError(f"split names must be plain words, not {list(self.names)}")
        for value, allowed, what in (
            (self.method, METHODS, "method"),
            (self.from_splits, FROM_SPLITS, "from_splits"),
            (self.images, IMAGE_MODES, "images"),
        ):
            if value not in allowed:
                raise UsageError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")
        if self.min_per_class < 0:
            raise UsageError(f"min_per_class must be at least 0, not {self.min_per_class}")
        for text in self.group_by:
            if text not in (SOURCE, NEAR_DUPLICATES):
                name_pattern(text)

    def plan(self, dataset: Dataset, context: Context) -> SplitPlan:
        table = as_table(dataset.images)
        grouping = image_groups(table, dataset, context, self.group_by)
        group_of, group_count = grouping.labels, int(grouping.labels.max(initial=-1)) + 1
        counts = class_counts(table, len(dataset.classes))
        kept = self._kept(table)
        fixed = self._group_splits(table, group_of, group_count, kept, context.report)
        box_counts, sizes = group_totals(counts, group_of, group_count)
        if self.method == "stratify":
            chosen = stratify(
                box_counts, sizes, self.ratios, seed=self.seed, min_per_class=self.min_per_class, fixed=fixed
            )
        else:
            chosen = shuffle_split(sizes, self.ratios, seed=self.seed, fixed=fixed)
        split_of = np.where(kept != FREE, kept, chosen[group_of])
        self._warn_short(counts, split_of, dataset, context.report)
        new = table.with_columns(split_codes=split_of.astype(np.int32), split_names=self.names)
        renamed = rename_collisions(dataset.replace(images=new), context.target, context.report)
        summary = self._summary(counts, split_of, dataset, grouping)
        return SplitPlan(renamed, [table.key_of(k) for k in range(len(table))], group_of, summary)

    def _kept(self, table: ImageTable) -> np.ndarray:
        """Each image's kept split (a position in `names`), or FREE (every image unless `keep`)."""
        kept = np.full(len(table), FREE, dtype=np.int64)
        if self.from_splits == "keep":
            positions = {name: k for k, name in enumerate(self.names) if k > 0}
            lookup = np.array([positions.get(name, FREE) for name in table.split_names], dtype=np.int64)
            kept = lookup[table.split_codes] if len(lookup) else kept
        return kept

    def _group_splits(
        self, table: ImageTable, group_of: np.ndarray, groups: int, kept: np.ndarray, report: Report
    ) -> np.ndarray:
        """Each group's fixed split: that of its first kept image (FREE when it has none); a group with kept
        images in two splits is warned about."""
        fixed = np.full(groups, FREE, dtype=np.int64)
        for image in np.flatnonzero(kept != FREE).tolist():
            group = int(group_of[image])
            if fixed[group] == FREE:
                fixed[group] = kept[image]
            elif fixed[group] != kept[image]:
                report.warn(
                    table.key_of(image),
                    "split",
                    f"kept in split '{self.names[kept[image]]}' while an image of its group is kept in "
                    f"'{self.names[fixed[group]]}'; the group's other images go to '{self.names[fixed[group]]}'",
                    codes.KEPT_GROUP_SPLIT,
                )
        return fixed

    def _warn_short(self, counts: np.ndarray, split_of: np.ndarray, dataset: Dataset, report: Report) -> None:
        held = np.zeros((len(self.names), counts.shape[1]), dtype=np.int64)
        np.add.at(held, split_of, counts)
        totals = counts.sum(axis=0)
        images_with = (counts > 0).sum(axis=0)
        for label, name in enumerate(dataset.class_names):
            for position, split in enumerate(self.names):
                if totals[label] and held[position, label] < self.min_per_class:
                    report.warn(
                        split,
                        name,
                        f"{held[position, label]} box(es) of class '{name}', fewer than {self.min_per_class} "
                        f"(the class has {totals[label]} in {images_with[label]} image(s))",
                        codes.CLASS_SHORT_IN_SPLIT,
                    )

    def _summary(
        self, counts: np.ndarray, split_of: np.ndarray, dataset: Dataset, grouping: Grouping
    ) -> dict[str, Any]:
        deviation = share_deviation(counts, split_of, self.ratios)
        images = np.bincount(split_of, minlength=len(self.names))
        negatives = np.bincount(split_of[counts.sum(axis=1) == 0], minlength=len(self.names))
        held = np.zeros((len(self.names), counts.shape[1]), dtype=np.int64)
        np.add.at(held, split_of, counts)
        classes = dataset.class_names
        splits = {
            split: {
                "ratio": ratio,
                "images": int(images[k]),
                "image_share": float(images[k] / max(len(split_of), 1)),
                "negatives": int(negatives[k]),
                "boxes": {name: int(held[k, c]) for c, name in enumerate(classes)},
                "deviation": {name: _rounded(deviation[k, c]) for c, name in enumerate(classes)},
            }
            for k, (split, ratio) in enumerate(zip(self.names, self.ratios, strict=True))
        }
        worst: dict[str, Any] | None = None
        if np.isfinite(deviation).any():
            position, label = np.unravel_index(np.nanargmax(np.abs(deviation)), deviation.shape)
            worst = {
                "class": classes[label],
                "split": self.names[position],
                "deviation": _rounded(deviation[position, label]),
            }
        group_sizes = np.bincount(grouping.labels)
        return {
            "groups": {
                "count": len(group_sizes),
                "images_grouped": int(group_sizes[group_sizes > 1].sum()),
                "joined_by": grouping.joined,
            },
            "planned": splits,
            "worst_deviation": worst,
        }

    def settings(self, plan: SplitPlan, context: Context) -> dict[str, Any]:
        return {
            "split": {
                "ratios": list(self.ratios),
                "names": list(self.names),
                "seed": self.seed,
                "method": self.method,
                "group_by": [SOURCE, "duplicates", *self.group_by],
                "min_per_class": self.min_per_class,
                "from_splits": self.from_splits,
                "images": self.images,
            }
        }

    def run(self, plan: SplitPlan, dataset: Dataset, context: Context) -> list[Written]:
        output = context.output
        placed = place_images(
            plan.dataset,
            context.target,
            context.root,
            self.images,
            context.report,
            jobs=output.jobs,
            progress=output.progress,
            preprocess=output.preprocess,
            quality=output.quality,
        )
        table = as_table(plan.dataset.images)
        entries = (
            {"image": table.key_of(k), "from": old, "group": int(group)}
            for k, (old, group) in enumerate(zip(plan.old_keys, plan.groups.tolist(), strict=True))
        )
        return [Written(placed, plan.summary, entries)]


def _rounded(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 6)


@dataclass
class SplitResult:
    """A finished run: the dataset as written, the report, and the manifest (`split.json`) content."""

    source_format: str | None
    target_format: str
    dataset: Dataset
    report: Report
    manifest: dict[str, Any]


def split(
    src: Path | str,
    dst: Path | str,
    *,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    names: Sequence[str] | None = None,
    seed: int = 0,
    method: Method = "stratify",
    group_by: Sequence[str] = (),
    min_per_class: int = 1,
    from_splits: FromSplits = "all",
    images: ImageMode = "copy",
    to: str | None = None,
    fmt_from: str | None = None,
    image_dir: Path | str | None = None,
    read_options: Mapping[str, Any] | None = None,
    jobs: int = 1,
    on_error: OnError = "fail",
    class_ops: ClassOps | None = None,
    filters: Filters | None = None,
    preprocess: PreprocessSpec = None,
    task: str | None = None,
    quality: int = 95,
    overwrite: bool = False,
    progress: bool = False,
) -> SplitResult:
    """Write the dataset at `src` cut into splits `names` (train, val, test for three ratios) by `ratios` into the
    new folder `dst`, in `src`'s format unless `to` names another; `split.json` in `dst` says what each split got.
    `class_ops` and `filters` apply before the split is planned, as in every command; with `preprocess` steps
    every image is decoded, pre-processed and encoded (JPEG/WebP at `quality`) instead of copied."""
    step = SplitStep(
        tuple(float(r) for r in ratios),
        tuple(names or ()),
        seed,
        method,
        tuple(group_by),
        min_per_class,
        from_splits,
        images,
    )
    source = Source.at(src, fmt_from, image_dir, on_error, class_ops, filters=filters, read_options=read_options)
    output = Output(
        Path(dst),
        to,
        overwrite=overwrite,
        jobs=jobs,
        progress=progress,
        quality=quality,
        preprocess=Preprocessing.of(preprocess),
        task=task,
    )
    result = run(step, source, output)
    return SplitResult(
        result.source_format, result.target_format, result.written[0].dataset, result.report, result.manifests[0]
    )
