"""The split planner: targets with promised minimums, iterative stratification against a shuffle on a generated
multi-label set, fixed groups, rare classes, and the same result in another process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bboxaug.splitting.stratify import (
    FREE,
    check_ratios,
    group_totals,
    share_deviation,
    shuffle_split,
    stratify,
    targets,
)
from tests.conftest import REPO

RATIOS = (0.8, 0.1, 0.1)


def generated_counts(seed: int = 3, images: int = 600, classes: int = 12) -> np.ndarray:
    """(images, classes) box counts: 1-15 boxes an image, each box's class drawn with a 100:1 range of
    frequencies, so images hold several classes."""
    rng = np.random.default_rng(seed)
    weights = 100.0 ** (-np.arange(classes) / (classes - 1))
    counts = np.zeros((images, classes), dtype=np.int64)
    for row in range(images):
        np.add.at(counts[row], rng.choice(classes, size=rng.integers(1, 16), p=weights / weights.sum()), 1)
    return counts


def held(counts: np.ndarray, assignment: np.ndarray, splits: int = 3) -> np.ndarray:
    totals = np.zeros((splits, counts.shape[1]), dtype=np.int64)
    for row, split in enumerate(assignment.tolist()):
        totals[split] += counts[row]
    return totals


def test_ratios_must_be_positive_and_add_up_to_one() -> None:
    assert check_ratios([0.7, 0.3]).tolist() == [0.7, 0.3]
    for bad, message in (([1.0], "at least two"), ([0.9, 0.2], "add up to 1"), ([1.1, -0.1], "above 0")):
        with pytest.raises(ValueError, match=message):
            check_ratios(bad)


def test_targets_raise_rare_classes_to_the_minimum_and_keep_each_class_total() -> None:
    # class 0: 100 boxes, plain shares; class 1: 5 boxes, 0.5 each in val and test raised to 1, train 4 -> 3;
    # class 2: 2 boxes, fewer than 3 splits x 1: no minimum, plain shares
    counts = np.array([[100, 5, 2]])
    goal = targets(counts, np.array([10]), np.array(RATIOS), min_per_class=1)
    assert goal.floors.tolist() == [1, 1, 0]
    np.testing.assert_allclose(goal.boxes[:, 0], [80, 10, 10])
    np.testing.assert_allclose(goal.boxes[:, 1], [3, 1, 1])
    np.testing.assert_allclose(goal.boxes[:, 2], [1.6, 0.2, 0.2])
    np.testing.assert_allclose(goal.images, [8, 1, 1])


def test_stratified_split_beats_a_shuffle_and_keeps_image_counts() -> None:
    counts = generated_counts()
    sizes = np.ones(len(counts), dtype=np.int64)
    stratified = stratify(counts, sizes, RATIOS, seed=1)
    shuffled = shuffle_split(sizes, RATIOS, seed=1)
    worst_stratified = np.nanmax(np.abs(share_deviation(counts, stratified, RATIOS)))
    worst_shuffled = np.nanmax(np.abs(share_deviation(counts, shuffled, RATIOS)))
    assert worst_stratified < worst_shuffled / 3
    for assignment in (stratified, shuffled):
        shares = np.bincount(assignment, minlength=3) / len(counts)
        assert np.abs(shares - RATIOS).max() <= 0.01
    assert (held(counts, stratified) > 0).all()  # every class in every split


def test_a_class_with_three_boxes_in_three_images_reaches_every_split() -> None:
    counts = np.zeros((40, 2), dtype=np.int64)
    counts[:, 0] = 2
    counts[[3, 17, 30], 1] = 1  # the rare class, where a greedy fill would put all three in train
    assignment = stratify(counts, np.ones(40, dtype=np.int64), RATIOS, seed=0)
    assert sorted(assignment[[3, 17, 30]].tolist()) == [0, 1, 2]


def test_groups_carry_their_images_and_fixed_groups_stay() -> None:
    counts = generated_counts(images=200, classes=5)
    group_of = np.arange(200) // 4  # 50 groups of 4 images
    group_counts, sizes = group_totals(counts, group_of, 50)
    assert sizes.tolist() == [4] * 50
    assert group_counts[7].tolist() == counts[28:32].sum(axis=0).tolist()
    fixed = np.full(50, FREE)
    fixed[[0, 1, 2]] = [2, 2, 1]
    assignment = stratify(group_counts, sizes, RATIOS, seed=4, fixed=fixed)
    assert assignment[[0, 1, 2]].tolist() == [2, 2, 1]
    images = np.bincount(assignment, weights=sizes, minlength=3)
    assert images.tolist() == [160, 20, 20]
    shuffled = shuffle_split(sizes, RATIOS, seed=4, fixed=fixed)
    assert shuffled[[0, 1, 2]].tolist() == [2, 2, 1]
    assert np.bincount(shuffled, weights=sizes, minlength=3).tolist() == [160, 20, 20]


def test_share_deviation_is_each_splits_share_less_its_ratio() -> None:
    counts = np.array([[4, 0], [1, 0], [5, 0]])
    deviation = share_deviation(counts, np.array([0, 1, 0]), (0.5, 0.5))
    np.testing.assert_allclose(deviation[:, 0], [0.9 - 0.5, 0.1 - 0.5])
    assert np.isnan(deviation[:, 1]).all()


def test_a_seed_gives_the_same_split_in_another_process_and_another_seed_another() -> None:
    program = (
        "import json, sys; sys.path.insert(0, '.'); from tests.splitting.test_stratify import generated_counts;"
        "import numpy as np; from bboxaug.splitting.stratify import stratify;"
        "c = generated_counts(images=150, classes=6); n = np.ones(150, dtype=np.int64);"
        "print(json.dumps([stratify(c, n, (0.7, 0.2, 0.1), seed=s).tolist() for s in (5, 6)]))"
    )
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", program],
                cwd=REPO,
                env={**os.environ, "PYTHONHASHSEED": hash_seed},
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for hash_seed in ("1", "2")
    ]
    here = stratify(generated_counts(images=150, classes=6), np.ones(150, dtype=np.int64), (0.7, 0.2, 0.1), seed=5)
    assert runs[0] == runs[1]
    assert runs[0][0] == here.tolist()
    assert runs[0][0] != runs[0][1]
