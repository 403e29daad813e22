"""The balancing plan: how many augmented copies (and, with copy-paste, paste images) each image gets so rare
classes reach a target while common classes grow as little as possible.

The plan is a greedy covering over each balanced split's images, all of whose classes grow together when an image
is copied. A class is short while it has fewer instances than its level: `target` instances (`"max"`: as many as
the largest class had before), and with `ratio` at least the largest class's planned count divided by `ratio`.
Each step makes the new image (a copy, or with paste an image with rare objects pasted in) with the best score:
instances gained by short classes, each weighted by how far behind its class is, over one plus the instances it
adds to classes already at their level. Copies that add only to short classes come first. A new image that adds to
classes at their level is made only if it does not worsen the imbalance the user asked to reduce (`Goal.imbalance`):
the max/min ratio of the class counts for `target="max"` or a ratio alone, the distance to the target (the sum of
each class's distance to it) for a target count. For the ratio the plan runs in two passes. The first measures
the largest class over a soft minimum of the short classes (see SOFT_MIN_POWER): with two classes equally short,
a copy of either leaves the hard minimum where it is, and only the two copies together lower the ratio. When the
first pass can add nothing more, the second adds every new image that does not raise the max/min ratio itself.
No image gets more than `max_copies` new images. The plan stops when every class is at its level or no new image
is allowed; what it left unmet is reported with what stopped it, and the reason given is true of the plan: one
more copy of any image holding the class, still below the cap, would worsen that imbalance. Nothing crosses
splits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from bboxaug.balancing.paste import Paster
from bboxaug.core.model import Dataset, ImageRecord
from bboxaug.core.splits import select_splits

FEW_INSTANCES = 20


MAX_COPIES = 10


PASTES_PER_IMAGE = 4


_EPSILON = 1e-9


#: The soft minimum of the classes still short is their power mean with this exponent: close to the smallest,
#: but it still rises when one of two equally small classes grows (a hard minimum would not, and stall).
SOFT_MIN_POWER = -8.0


#: paste(host index, classes wanted in slot order) -> the classes actually placed
PasteFunction = Callable[[int, list[int]], list[int]]


@dataclass(frozen=True)
class Goal:
    """What every class should reach: `target` instances (None: no count target) and, with `ratio`, at least the
    largest class's count divided by `ratio`; and what measures the imbalance the plan reduces: the max/min ratio
    (`by_ratio`: for `target="max"`, the largest class's count, or a ratio alone), else the distance to `target`."""

    target: int | None
    ratio: float | None
    by_ratio: bool = True

    def level(self, counts: np.ndarray) -> float:
        """The count every class should reach, given the classes' current counts (those present)."""
        level = float(self.target or 0)
        if self.ratio is not None:
            level = max(level, math.ceil(counts.max() / self.ratio - _EPSILON))
        return level

    def imbalance(self, counts: np.ndarray, present: np.ndarray) -> np.ndarray:
        """For each row of class counts, the imbalance among the classes present: the largest count over the
        smallest, or the sum of each count's distance to its level."""
        counts = counts[:, present].astype(np.float64)
        if self.by_ratio:
            return np.asarray(counts.max(axis=1) / counts.min(axis=1))
        levels = np.array([self.level(row) for row in counts])
        return np.asarray(np.abs(counts - levels[:, None]).sum(axis=1))

    def allows(
        self, before: np.ndarray, after: np.ndarray, present: np.ndarray, short: np.ndarray, soft: bool
    ) -> np.ndarray:
        """Which rows of class counts `after` (one per candidate new image) do not worsen the imbalance of
        `before`: measured as the user asked, or with `soft` for the ratio, with a soft minimum of the `short`
        classes."""
        if soft and self.by_ratio:
            return np.asarray(
                soft_ratio(after, present, short) <= soft_ratio(before[None], present, short)[0] + _EPSILON
            )
        return np.asarray(self.imbalance(after, present) <= self.imbalance(before[None], present)[0] + _EPSILON)

    def worsens(self, counts: np.ndarray) -> str:
        """What one more copy would do to `counts` when it is refused, in words."""
        if self.by_ratio:
            return f"raise the max/min ratio above {max_min_ratio(counts):.3g}"
        return "take the counts further from the target (it adds more above it than it brings below it)"


def max_min_ratio(counts: np.ndarray) -> float:
    """Largest over smallest count among the classes present (inf when none is present)."""
    present = counts[counts > 0]
    return float(present.max() / present.min()) if len(present) else math.inf


@dataclass
class Allocation:
    """The greedy's answer for one split: copies and paste images per image, the planned counts, the classes that
    were short at some point (the labels copies are made for), and how many objects a paste into each image was
    last able to place (0: no free place)."""

    copies: np.ndarray
    pastes: np.ndarray
    counts: np.ndarray
    wanted: np.ndarray
    room_to_paste: np.ndarray


def water_fill(deficits: np.ndarray, pastable: np.ndarray, slots: int) -> list[int]:
    """Classes for up to `slots` pasted objects: each to the pastable class with the largest remaining deficit."""
    remaining = np.where(pastable, deficits, 0).astype(np.float64)
    chosen = []
    for _ in range(slots):
        k = int(np.argmax(remaining))
        if remaining[k] <= 0:
            break
        chosen.append(k)
        remaining[k] -= 1
    return chosen


def soft_ratio(counts: np.ndarray, present: np.ndarray, short: np.ndarray) -> np.ndarray:
    """For each row of class counts, the largest present class over the soft minimum of the short classes."""
    counts = counts.astype(np.float64)
    soft = np.mean(counts[:, short] ** SOFT_MIN_POWER, axis=1) ** (1 / SOFT_MIN_POWER)
    return np.asarray(counts[:, present].max(axis=1) / soft)


def _pick(score: np.ndarray, used: np.ndarray) -> int:
    """The best score; among equals the image with the fewest new images so far, then the first."""
    best = score.max()
    return int(np.argmin(np.where(score >= best - _EPSILON, used, np.iinfo(np.int64).max)))


@dataclass(frozen=True)
class _Shortfall:
    """Where one planning step starts: the goal, the instances so far (`n`), the classes present and short, how
    far short (`deficit`, and `weight`: the deficit relative to the level), and whether the imbalance is measured
    with the soft minimum (the first pass)."""

    goal: Goal
    n: np.ndarray
    present: np.ndarray
    short: np.ndarray
    deficit: np.ndarray
    weight: np.ndarray
    soft: bool

    def score(self, added: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each candidate's score (-1 where it is not allowed) and surplus (instances it adds to classes already at
        their level), for candidates adding `added` (candidates x classes) instances."""
        gain = (np.minimum(added, self.deficit) * self.weight)[:, self.short].sum(axis=1)
        surplus = added[:, ~self.short].sum(axis=1) + np.maximum(added - self.deficit, 0)[:, self.short].sum(axis=1)
        balanced = self.goal.allows(self.n, self.n + added, self.present, self.short, self.soft)
        allowed = (gain > 0) & ((surplus == 0) | balanced)
        return np.where(allowed, gain / (1 + surplus), -1.0), surplus


def allocate(
    counts: np.ndarray,
    goal: Goal,
    max_copies: int,
    paste: PasteFunction | None = None,
    pastable: np.ndarray | None = None,
    pastes_per_image: int = PASTES_PER_IMAGE,
) -> Allocation:
    """Plan the new images of one split whose images hold `counts` (images x classes) instances.

    `paste(host, classes)` places objects of those classes in a new image made from image `host` and returns the
    classes it placed; `pastable` says which classes have objects to paste."""
    counts = np.asarray(counts, np.int64)
    images, classes = counts.shape
    copies = np.zeros(images, np.int64)
    pastes = np.zeros(images, np.int64)
    room_to_paste = np.full(images, pastes_per_image if paste is not None else 0, np.int64)
    pastable = np.zeros(classes, bool) if pastable is None else np.asarray(pastable, bool)
    n = counts.sum(axis=0)
    present = n > 0
    wanted = np.zeros(classes, bool)
    soft = goal.by_ratio  # the first pass, for the ratio
    while present.any():
        level = goal.level(n[present])
        deficit = np.where(present, np.maximum(level - n, 0), 0)
        short = deficit > 0
        if not short.any():
            break
        wanted |= short
        step = _Shortfall(goal, n, present, short, deficit, deficit / max(level, 1.0), soft)
        used = copies + pastes
        copy_score, surplus = step.score(counts)
        copy_score[used >= max_copies] = -1.0
        free = (copy_score > 0) & (surplus == 0)
        if not free.any() and paste is not None:
            slots = [water_fill(deficit, pastable, e) for e in range(pastes_per_image + 1)]
            extra = np.array([np.bincount(chosen, minlength=classes) for chosen in slots])[room_to_paste]
            paste_score, _ = step.score(counts + extra)
            paste_score[(used >= max_copies) | (extra.sum(axis=1) == 0)] = -1.0
            host = _pick(paste_score, used)
            if paste_score[host] > max(copy_score.max(), 0.0):
                placed = paste(host, slots[room_to_paste[host]])
                room_to_paste[host] = len(placed)
                if placed:
                    pastes[host] += 1
                    n = n + counts[host] + np.bincount(placed, minlength=classes)
                continue
        if copy_score.max() <= 0:
            if not soft:
                break
            soft = False  # the second pass: whatever does not raise the max/min ratio itself
            continue
        image = _pick(np.where(free, copy_score, -1.0) if free.any() else copy_score, used)
        copies[image] += 1
        n = n + counts[image]
    return Allocation(copies, pastes, n, wanted, room_to_paste)


@dataclass
class ClassRow:
    """One class of one balanced split: instances and images before, the target, what the plan adds, and the
    instances written (None until the run is done)."""

    name: str
    before: int
    images: int
    target: int | None
    planned: int
    from_copies: int
    pasted: int
    after: int | None = None


@dataclass
class SplitPlan:
    """The plan of one balanced split, with what it leaves unmet and the warnings it owes the user."""

    split: str
    rule: str
    max_copies: int
    images: int
    copies: int
    paste_images: int
    rows: list[ClassRow]
    unmet: list[dict[str, Any]] = field(default_factory=list)
    few: list[dict[str, Any]] = field(default_factory=list)

    def ratios(self) -> dict[str, float | None]:
        def ratio(values: list[int | None]) -> float | None:
            if any(v is None for v in values):
                return None
            found = max_min_ratio(np.array(values, np.float64))
            return None if math.isinf(found) else round(found, 3)

        return {
            "before": ratio([r.before for r in self.rows]),
            "planned": ratio([r.planned for r in self.rows]),
            "after": ratio([r.after for r in self.rows]),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "rule": self.rule,
            "max_copies": self.max_copies,
            "images": self.images,
            "copies": self.copies,
            "paste_images": self.paste_images,
            "max_min_ratio": self.ratios(),
            "classes": [vars(row) for row in self.rows],
            "unmet": self.unmet,
            "few_instances": self.few,
        }


@dataclass
class BalancePlan:
    """Every balanced split's plan, the copies per image key and the labels they are made for, and the paste
    images (host, index among the host's paste images, placements)."""

    splits: list[SplitPlan]
    copies: dict[str, int]
    required: dict[str, frozenset[int]]
    pastes: list[tuple[ImageRecord, int, list[Any]]]

    def measure(self, written: Dataset) -> None:
        """Fill each row's `after` with the instances in the written dataset."""
        for split in self.splits:
            counts = class_counts(written.in_split(split.split), len(split.rows))
            for row, count in zip(split.rows, counts.sum(axis=0).tolist(), strict=True):
                row.after = int(count)

    def to_json(self) -> dict[str, Any]:
        return {"splits": [split.to_json() for split in self.splits]}


def class_counts(images: Sequence[ImageRecord], classes: int) -> np.ndarray:
    """Instances of each class in each image: (images, classes)."""
    return np.array([np.bincount(image.boxes.labels, minlength=classes) for image in images], np.int64).reshape(
        len(images), classes
    )


def _rule(target: int | Literal["max"] | None, ratio: float | None, largest: str, most: int) -> str:
    parts = []
    if target == "max":
        parts.append(f"{most} (as many as {largest} had)")
    elif target is not None:
        parts.append(str(target))
    if ratio is not None:
        parts.append(f"max/min ratio at most {ratio:g}")
    return ", ".join(parts)


def _unmet(
    name: str,
    k: int,
    counts: np.ndarray,
    planned: int,
    level: int,
    allocation: Allocation,
    short: np.ndarray,
    names: list[str],
    max_copies: int,
    paste: bool,
    goal: Goal,
) -> dict[str, Any]:
    """What stopped class `k` short of its level, by name (`stopped_by`), in numbers (`limits`) and in words:
    the images holding it that reached --max-copies, the others (one more copy of any would worsen the imbalance
    the goal measures, because of the classes at their level they also hold), and what stopped copy-paste."""
    used = allocation.copies + allocation.pastes
    holders = counts[:, k] > 0
    capped = int((holders & (used >= max_copies)).sum())
    others = holders & (used < max_copies)
    common = [names[j] for j in np.flatnonzero(counts[others].sum(axis=0) > 0) if not short[j]]
    limits: dict[str, Any] = {
        "images_holding_it": int(holders.sum()),
        "at_max_copies": capped,
        "would_worsen_balance": int(others.sum()),
    }
    reasons: list[tuple[str, str]] = []
    if capped:
        reasons.append(
            (
                "--max-copies",
                f"--max-copies {max_copies}: {capped} of the {_images(int(holders.sum()))} "
                f"holding it have {max_copies} new images each",
            )
        )
    if others.any():
        verb = "holds" if others.sum() == 1 else "hold"
        reasons.append(
            (
                "co-occurrence",
                f"the {_images(int(others.sum()), 'other')} holding it also {verb} "
                f"{', '.join(common) or 'classes at target'}, so one more copy of any "
                f"would {goal.worsens(allocation.counts)}",
            )
        )
    if not paste:
        reasons.append(("paste off", "copy-paste is off (--paste pastes its objects into other images)"))
        limits["paste"] = "off"
    else:
        full = int((used >= max_copies).sum())
        crowded = int(((used < max_copies) & (allocation.room_to_paste == 0)).sum())
        rest = len(used) - full - crowded
        limits["paste"] = {
            "hosts_at_max_copies": full,
            "hosts_without_free_place": crowded,
            "hosts_that_would_worsen_balance": rest,
        }
        reasons.append(
            (
                "paste",
                f"copy-paste: {_images(full)} have {max_copies} new images, {_images(crowded)} "
                f"have no free place left, pasting into the other {_images(rest)} would worsen the "
                "balance",
            )
        )
    return {
        "class": name,
        "target": level,
        "planned": planned,
        "short": level - planned,
        "stopped_by": [token for token, _ in reasons],
        "limits": limits,
        "message": f"{name}: {planned} of {level} planned, {level - planned} short. "
        + "; ".join(text for _, text in reasons),
    }


def _images(count: int, word: str = "") -> str:
    return f"{count} {word + ' ' if word else ''}image{'' if count == 1 else 's'}"


def plan_balance(
    dataset: Dataset,
    *,
    target: int | Literal["max"] | None = "max",
    ratio: float | None = None,
    max_copies: int = MAX_COPIES,
    splits: str | Sequence[str] = "train",
    paste: bool = False,
    seed: int = 0,
    pastes_per_image: int = PASTES_PER_IMAGE,
) -> BalancePlan:
    """The balancing plan of a prepared dataset: for each split `splits` names (see
    `bboxaug.core.splits.select_splits`), on its own."""
    names, plans, copies, required, pastes = dataset.class_names, [], {}, {}, []
    for split in select_splits(splits, dataset.splits):
        images = dataset.in_split(split)
        counts = class_counts(images, len(names))
        before = counts.sum(axis=0)
        goal = Goal(int(before.max()) if target == "max" else target, ratio, by_ratio=not isinstance(target, int))
        paster = Paster(images, len(names), seed) if paste else None
        allocation = allocate(
            counts, goal, max_copies, paster, None if paster is None else paster.pastable, pastes_per_image
        )
        pasted = np.zeros(len(names), np.int64)
        for host, index, placements in paster.jobs if paster else []:
            pasted += np.bincount([p.cutout.label for p in placements], minlength=len(names))
            pastes.append((images[host], index, placements))
        present = before > 0
        level = int(goal.level(allocation.counts[present])) if present.any() else goal.target or 0
        short = allocation.counts < level
        rows = [
            ClassRow(
                name,
                int(before[k]),
                int((counts[:, k] > 0).sum()),
                level if present[k] else None,
                int(allocation.counts[k]),
                int(allocation.copies @ counts[:, k]),
                int(pasted[k]),
            )
            for k, name in enumerate(names)
        ]
        unmet = [
            _unmet(name, k, counts, int(allocation.counts[k]), level, allocation, short, names, max_copies, paste, goal)
            for k, name in enumerate(names)
            if present[k] and short[k]
        ]
        unmet += [
            {
                "class": name,
                "target": level,
                "planned": 0,
                "short": level,
                "stopped_by": ["no instance"],
                "limits": {},
                "message": f"{name}: no instance in {split}, so nothing to copy or paste",
            }
            for k, name in enumerate(names)
            if not present[k] and level > 0
        ]
        few = [
            {
                "class": name,
                "instances": int(before[k]),
                "message": f"{name} has only {int(before[k])} distinct instances in {split}: balancing repeats "
                f"these same objects (planned {int(allocation.counts[k])}), which a model can memorise "
                "instead of learning the class. More real examples, or a different approach, may be "
                "needed.",
            }
            for k, name in enumerate(names)
            if 0 < before[k] < FEW_INSTANCES
        ]
        largest = names[int(np.argmax(before))] if present.any() else "-"
        plans.append(
            SplitPlan(
                split,
                _rule(target, ratio, largest, int(before.max())),
                max_copies,
                len(images),
                int(allocation.copies.sum()),
                int(allocation.pastes.sum()),
                rows,
                unmet,
                few,
            )
        )
        for image, n, held in zip(images, allocation.copies.tolist(), counts > 0, strict=True):
            if n:
                key = image.key
                copies[key] = n
                required[key] = frozenset(np.flatnonzero(held & allocation.wanted).tolist())
    return BalancePlan(plans, copies, required, pastes)
