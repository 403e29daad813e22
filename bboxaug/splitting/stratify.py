"""Assign groups of images to splits so that every split gets its share of the images and of each class's boxes.

Detection data is multi-label and counted in boxes: an image holds several classes, several boxes of each, and
images that must stay together (an augmented copy and its source, two tiles of one photograph, duplicates) form
a group that goes to one split whole. `stratify` adapts iterative stratification (Sechidis, Tsoumakas and Vlahavas,
"On the stratification of multi-label data", 2011) to box counts and groups, then improves the result by local
search:

1. Targets. Split `s` should hold `ratios[s]` of the images and of every class's boxes. A class with at least
   `len(ratios) * min_per_class` boxes is promised `min_per_class` boxes in every split (its target is raised
   there and lowered, in proportion, in the splits above it), so rare classes reach every split.
2. Greedy pass (Sechidis). Take the class with the fewest boxes still unassigned; give each group holding it, in
   a seeded random order, to the split that needs that class most (then the one that needs images most, then a
   seeded coin). Repeat until every group with boxes is placed; groups without boxes go where images are needed.
3. Local search. Move single groups between splits while a move lowers the cost: the squared difference between
   each split's and its target's share of every class (each class weighs the same, however rare) plus the same
   for image counts (weighing as much as all classes together), plus a heavy penalty for each box a split lacks
   of its promised minimum. Each round prices every move and takes the best ones in turn, each priced again.
   When no single move helps, two groups of different splits are swapped if that helps (a group holding a class
   worst off, from a split with too many of it, against any group of a split with too few), which keeps the
   image counts; the search ends when neither helps or `MAX_MOVES` is reached.

Everything is numpy on a (groups x classes) count matrix. A round of the local search costs O(groups x classes x
splits); the greedy pass O(classes x groups). Randomness comes only from `numpy.random.default_rng(seed)`, ties go
to the first candidate, and no Python `hash()` or set order is involved, so a seed gives the same splits on any
machine. `shuffle_split` is the plain random split the stratified one is measured against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Moves of the local search at most.
MAX_MOVES = 200_000

#: Moves priced at once and then taken one by one, each priced again, in a round of the local search.
MOVES_PER_ROUND = 64

#: Weight of a missing box of a class's promised minimum, against a whole class's squared share deviation.
SHORTFALL_WEIGHT = 1_000.0

#: Classes, worst off first, whose groups the search tries to swap when no single move helps.
SWAP_CLASSES = 3

#: Groups of a class tried for a swap at most (those whose boxes of it come closest to the surplus).
SWAP_ROWS = 256

#: Best-looking swaps of a class checked against the whole cost (the promised minimums included).
SWAP_TRIES = 8

#: Moves that lower the cost by less than this are not taken (float noise).
TOLERANCE = 1e-12

#: No group is assigned yet / in `fixed`: the group is free to go anywhere.
FREE = -1


@dataclass(frozen=True)
class Targets:
    """What each split should hold: `boxes[s, k]` boxes of class k (floats), `images[s]` images, and the minimum
    of boxes of class k promised to every split, `floors[k]`."""

    boxes: np.ndarray
    images: np.ndarray
    floors: np.ndarray


def check_ratios(ratios: Sequence[float]) -> np.ndarray:
    """The ratios as an array, or ValueError unless there are at least two, each above 0, summing to 1."""
    values = np.asarray(ratios, dtype=np.float64)
    if values.ndim != 1 or len(values) < 2 or not np.isfinite(values).all() or (values <= 0).any():
        raise ValueError(f"ratios must be at least two numbers above 0, not {list(ratios)}")
    if abs(float(values.sum()) - 1.0) > 1e-6:
        raise ValueError(f"ratios must add up to 1, not {float(values.sum()):g}")
    return values


def targets(counts: np.ndarray, sizes: np.ndarray, ratios: np.ndarray, min_per_class: int) -> Targets:
    """Each split's share of every class's boxes and of the images; a class with enough boxes gets at least
    `min_per_class` in every split, taken from the splits above that in proportion to their surplus."""
    totals = counts.sum(axis=0).astype(np.float64)
    splits = len(ratios)
    floors = np.where(totals >= splits * min_per_class, min_per_class, 0).astype(np.float64)
    boxes = ratios[:, None] * totals[None, :]
    raised = np.maximum(boxes, floors[None, :])
    surplus = np.clip(boxes - floors[None, :], 0.0, None)
    extra = raised.sum(axis=0) - totals
    with np.errstate(invalid="ignore", divide="ignore"):
        cut = np.where(surplus.sum(axis=0) > 0, extra / surplus.sum(axis=0), 0.0)
    boxes = np.where(boxes > floors[None, :], raised - surplus * cut[None, :], raised)
    return Targets(boxes, ratios * float(sizes.sum()), floors.astype(np.int64))


class _State:
    """The running assignment: which split holds each group, and what each split holds."""

    def __init__(self, counts: np.ndarray, sizes: np.ndarray, splits: int, fixed: np.ndarray) -> None:
        self.counts, self.sizes = counts, sizes
        self.split = fixed.copy()
        self.boxes = np.zeros((splits, counts.shape[1]), dtype=np.int64)
        self.images = np.zeros(splits, dtype=np.int64)
        placed = np.flatnonzero(fixed != FREE)
        np.add.at(self.boxes, fixed[placed], counts[placed])
        np.add.at(self.images, fixed[placed], sizes[placed])

    def place(self, group: int, split: int) -> None:
        previous = int(self.split[group])
        if previous != FREE:
            self.boxes[previous] -= self.counts[group]
            self.images[previous] -= self.sizes[group]
        self.split[group] = split
        self.boxes[split] += self.counts[group]
        self.images[split] += self.sizes[group]


def _greedy(state: _State, goal: Targets, free: np.ndarray, rng: np.random.Generator) -> None:
    """Sechidis' pass: the rarest class still unassigned first; each of its groups (in seeded order) to the split
    that needs that class most, then images most, then a seeded coin."""
    counts = state.counts
    order = free[rng.permutation(len(free))]
    waiting = np.zeros(len(counts), dtype=bool)
    waiting[order] = True
    splits = len(goal.images)
    while True:
        left = counts[waiting].sum(axis=0)
        if not left.any():
            break
        label = int(np.argmin(np.where(left > 0, left, np.iinfo(np.int64).max)))
        for group in order[waiting[order] & (counts[order, label] > 0)].tolist():
            need = goal.boxes[:, label] - state.boxes[:, label]
            image_need = goal.images - state.images
            best = np.lexsort((rng.random(splits), -image_need, -need))[0]
            state.place(group, int(best))
            waiting[group] = False
    for group in order[waiting[order]].tolist():  # groups without boxes: where images are needed
        image_need = goal.images - state.images
        state.place(group, int(np.lexsort((rng.random(splits), -image_need))[0]))


def _weights(goal: Targets, images: int) -> tuple[np.ndarray, float]:
    """Each class's weight (1 / total^2: every class's share counts the same) and the image counts' weight."""
    totals = goal.boxes.sum(axis=0)
    class_weights = np.where(totals > 0, 1.0 / np.maximum(totals, 1.0) ** 2, 0.0)
    image_weight = max(int((totals > 0).sum()), 1) / max(images, 1) ** 2
    return class_weights, image_weight


def _shortfall(held: np.ndarray, floors: np.ndarray) -> np.ndarray:
    return np.clip(floors - held, 0, None).astype(np.float64) ** 2


def _move_costs(
    state: _State, goal: Targets, movable: np.ndarray, weights: tuple[np.ndarray, float], *, minimums: bool = True
) -> np.ndarray:
    """The change of cost for moving each movable group to each split (inf for its own split); without
    `minimums`, the penalty for boxes missing from the promised minimums left out."""
    class_weights, image_weight = weights
    counts = state.counts[movable].astype(np.float64)
    sizes = state.sizes[movable].astype(np.float64)
    here = state.split[movable]
    excess = state.boxes - goal.boxes
    weighted = counts * class_weights[None, :]
    # sum_k w_k ((e_ak - c_k)^2 - e_ak^2 + (e_bk + c_k)^2 - e_bk^2) = sum_k w_k (2 c_k^2 + 2 c_k (e_bk - e_ak))
    delta = 2.0 * (weighted * counts).sum(axis=1)[:, None] + 2.0 * weighted @ excess.T
    delta -= 2.0 * (weighted * excess[here]).sum(axis=1)[:, None]
    image_excess = (state.images - goal.images).astype(np.float64)
    delta += image_weight * (
        2.0 * sizes[:, None] ** 2 + 2.0 * sizes[:, None] * (image_excess[None, :] - image_excess[here][:, None])
    )
    short = np.flatnonzero(goal.floors > 0)
    if minimums and len(short):
        held, floors, moved = state.boxes[:, short], goal.floors[short], state.counts[movable][:, short]
        penalty = SHORTFALL_WEIGHT * class_weights[short]
        losing = (_shortfall(held[here] - moved, floors) - _shortfall(held[here], floors)) @ penalty
        gaining = np.stack(
            [(_shortfall(held[s] + moved, floors) - _shortfall(held[s], floors)) @ penalty for s in range(len(held))],
            axis=1,
        )
        delta += losing[:, None] + gaining
    delta[np.arange(len(movable)), here] = np.inf
    return delta


def _cost(state: _State, goal: Targets, weights: tuple[np.ndarray, float]) -> float:
    """The cost the local search lowers (see the module docstring)."""
    class_weights, image_weight = weights
    excess = state.boxes - goal.boxes
    shortfall = _shortfall(state.boxes, goal.floors[None, :]).sum(axis=0)
    return float(
        (class_weights * (excess**2).sum(axis=0)).sum()
        + image_weight * float(((state.images - goal.images) ** 2).sum())
        + SHORTFALL_WEIGHT * (class_weights * shortfall).sum()
    )


def _swap(state: _State, goal: Targets, movable: np.ndarray, weights: tuple[np.ndarray, float]) -> bool:
    """Swap two groups of different splits when that lowers the cost, trying the classes worst off first: a group
    holding the class in a split with too many of it against a group of a split with too few. This is what single
    moves cannot do without upsetting the image counts. Returns whether a swap was made."""
    class_weights, image_weight = weights
    excess = state.boxes - goal.boxes
    errors = class_weights * (excess**2).sum(axis=0)
    moves = _move_costs(state, goal, movable, weights, minimums=False)
    moves[~np.isfinite(moves)] = 0.0
    counts = state.counts[movable].astype(np.float64)
    sizes = state.sizes[movable].astype(np.float64)
    here = state.split[movable]
    before = _cost(state, goal, weights)
    for label in np.argsort(-errors, kind="stable")[:SWAP_CLASSES].tolist():
        if errors[label] <= 0:
            break
        over = excess[here, label]
        rows = np.flatnonzero((counts[:, label] > 0) & (over > 0))
        rows = rows[np.argsort(np.abs(counts[rows, label] - over[rows]), kind="stable")[:SWAP_ROWS]]
        partners = np.flatnonzero(over < 0)
        if not len(rows) or not len(partners):
            continue
        # g to h's split, then h to g's split: each move's own change, less what the first does to the second
        delta = moves[rows][:, here[partners]] + moves[partners][:, here[rows]].T
        delta -= 4.0 * (counts[rows] * class_weights) @ counts[partners].T
        delta -= 4.0 * image_weight * np.outer(sizes[rows], sizes[partners])
        delta[here[rows][:, None] == here[partners][None, :]] = np.inf
        tries = min(SWAP_TRIES, delta.size)
        best = np.argpartition(delta, tries - 1, axis=None)[:tries]
        for flat in best[np.argsort(delta.flat[best], kind="stable")].tolist():
            one, other = divmod(flat, len(partners))
            if not delta[one, other] < -TOLERANCE:
                break
            first, second = int(movable[rows[one]]), int(movable[partners[other]])
            split_first, split_second = int(state.split[first]), int(state.split[second])
            state.place(first, split_second)
            state.place(second, split_first)
            if _cost(state, goal, weights) < before - TOLERANCE:  # the promised minimums taken into account
                return True
            state.place(first, split_first)
            state.place(second, split_second)
    return False


def _improve(state: _State, goal: Targets, movable: np.ndarray) -> None:
    """Move groups while a move lowers the cost; swap a pair of groups when no single move helps, and go on.
    Each round prices every move at once, then takes the best `MOVES_PER_ROUND` of them in order, each priced
    again first (earlier moves of the round change what it is worth)."""
    if not len(movable):
        return
    weights = _weights(goal, int(state.sizes.sum()))
    moved = 0
    while moved < MAX_MOVES:
        delta = _move_costs(state, goal, movable, weights)
        best = delta.min(axis=1)
        candidates = np.argsort(best, kind="stable")[:MOVES_PER_ROUND]
        candidates = candidates[best[candidates] < -TOLERANCE]
        if not len(candidates):
            if not _swap(state, goal, movable, weights):
                break
            moved += 1
            continue
        for row in candidates.tolist():
            again = _move_costs(state, goal, movable[row : row + 1], weights)[0]
            split = int(np.argmin(again))
            if again[split] < -TOLERANCE:
                state.place(int(movable[row]), split)
                moved += 1


def stratify(
    counts: np.ndarray,
    sizes: np.ndarray,
    ratios: Sequence[float],
    *,
    seed: int = 0,
    min_per_class: int = 1,
    fixed: np.ndarray | None = None,
) -> np.ndarray:
    """The split of each group: `counts[g, k]` boxes of class k and `sizes[g]` images in group g; `fixed[g]` is a
    split the group must stay in, or `FREE`. Returns an int array of split positions (see the module docstring)."""
    shares = check_ratios(ratios)
    counts = np.asarray(counts, dtype=np.int64)
    sizes = np.asarray(sizes, dtype=np.int64)
    fixed = np.full(len(counts), FREE, dtype=np.int64) if fixed is None else np.asarray(fixed, dtype=np.int64)
    goal = targets(counts, sizes, shares, min_per_class)
    state = _State(counts, sizes, len(shares), fixed)
    free = np.flatnonzero(fixed == FREE)
    _greedy(state, goal, free, np.random.default_rng(seed))
    _improve(state, goal, free)
    return state.split


def shuffle_split(
    sizes: np.ndarray, ratios: Sequence[float], *, seed: int = 0, fixed: np.ndarray | None = None
) -> np.ndarray:
    """The plain random split: the free groups shuffled by `seed` and cut where the images reach each split's
    share (what the fixed groups already hold counted)."""
    shares = check_ratios(ratios)
    sizes = np.asarray(sizes, dtype=np.int64)
    fixed = np.full(len(sizes), FREE, dtype=np.int64) if fixed is None else np.asarray(fixed, dtype=np.int64)
    split = fixed.copy()
    free = np.flatnonzero(fixed == FREE)
    order = free[np.random.default_rng(seed).permutation(len(free))]
    held = np.bincount(fixed[fixed != FREE], weights=sizes[fixed != FREE], minlength=len(shares))
    wanted = np.clip(shares * float(sizes.sum()) - held, 0.0, None)
    bounds = np.cumsum(wanted) / max(float(wanted.sum()), 1e-12) * float(sizes[free].sum())
    middles = np.cumsum(sizes[order]) - sizes[order] / 2.0
    split[order] = np.minimum(np.searchsorted(bounds, middles, side="right"), len(shares) - 1)
    return split


def group_totals(image_counts: np.ndarray, group_of: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group: the boxes of each class (from per-image counts) and the number of images."""
    counts = np.zeros((groups, image_counts.shape[1]), dtype=np.int64)
    np.add.at(counts, group_of, image_counts)
    return counts, np.bincount(group_of, minlength=groups).astype(np.int64)


def share_deviation(counts: np.ndarray, assignment: np.ndarray, ratios: Sequence[float]) -> np.ndarray:
    """`deviation[s, k]`: split s's share of class k's boxes minus its ratio (NaN for a class without boxes);
    `counts` is per image or per group, `assignment` its split."""
    shares = np.asarray(ratios, dtype=np.float64)
    held = np.zeros((len(shares), counts.shape[1]), dtype=np.float64)
    np.add.at(held, assignment, counts)
    totals = held.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, held / totals, np.nan) - shares[:, None]
