"""Balancing: the planner on small hand-checked cases and against repeat-factor sampling, then whole runs on the
samples, on BCCD and on oracle scenes: the balance reached (or the cap that stopped it, recounted from the files
written), every class kept, the other splits untouched, every box where its pixels are, and dry runs that write
nothing."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from bboxaug.augmentation.backends import get_backend
from bboxaug.augmentation.policy import load_policy
from bboxaug.balancing.paste import MAX_COVER
from bboxaug.balancing.plan import Goal, allocate, max_min_ratio, plan_balance
from bboxaug.cli.balance import format_plan
from bboxaug.cli.main import main
from bboxaug.commands.balance import balance
from bboxaug.core.errors import UsageError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord
from bboxaug.core.report import Report
from bboxaug.formats import get_format
from bboxaug.geometry.shapes import box_shapes, pack
from bboxaug.io.masks import decode_rle
from bboxaug.io.pixels import read_picture
from bboxaug.pipeline.prepare import prepare
from bboxaug.pipeline.source import load
from tests.augmentation.oracle import COLOURS, Scene, iou, replayed_envelopes, scene_dataset
from tests.commands.untouched import check_untouched
from tests.conftest import CORPUS, REPO

SAMPLES = REPO / "samples" / "defects"
BCCD = CORPUS / "bccd_voc" / "BCCD"
RUN = {"policy": "light", "jobs": 2, "quality": 90}


# --- helpers ---------------------------------------------------------------------------------------------------


def counts_of(dataset: Dataset, split: str) -> np.ndarray:
    """Instances per class in one split, counted here from the dataset read back."""
    found = Counter(label for image in dataset.in_split(split) for label in image.boxes.labels.tolist())
    return np.array([found[k] for k in range(len(dataset.classes))])


def per_image(dataset: Dataset, split: str) -> np.ndarray:
    return np.array(
        [np.bincount(image.boxes.labels, minlength=len(dataset.classes)) for image in dataset.in_split(split)]
    )


def repeat_factor_copies(counts: np.ndarray, threshold: float) -> np.ndarray:
    """Detectron2's repeat-factor sampling made offline: r(c) = max(1, sqrt(t / f(c))) with f(c) the share of
    images holding c, an image's factor the largest of its classes', and round(r) - 1 copies (half rounds up)."""
    share = (counts > 0).mean(axis=0)
    factor = np.where(share > 0, np.maximum(1.0, np.sqrt(threshold / np.where(share > 0, share, 1))), 1.0)
    image_factor = np.array([factor[row > 0].max() if (row > 0).any() else 1.0 for row in counts])
    return np.floor(image_factor + 0.5).astype(int) - 1


def synthetic_counts(seed: int) -> np.ndarray:
    """300 images: a common class in almost every image, four rarer ones that share images with it."""
    rng = np.random.default_rng(seed)
    counts = np.zeros((300, 5), int)
    counts[:, 0] = rng.poisson(4, 300)
    for k, p in zip(range(1, 5), (0.4, 0.2, 0.08, 0.03), strict=True):
        counts[:, k] = rng.binomial(2, p, 300) * (rng.random(300) < 0.7)
    return counts


def dataset_of(counts: list[list[int]], names: tuple[str, ...] = ("c0", "c1")) -> Dataset:
    """A dataset (no pixels needed to plan) whose train images hold `counts` boxes per class."""
    images = []
    for i, row in enumerate(counts):
        labels = [k for k, n in enumerate(row) for _ in range(n)]
        xyxy = [[10 * j, 0, 10 * j + 5, 5] for j in range(len(labels))]
        images.append(ImageRecord(f"{i}.png", "train", 400, 100, Boxes(np.array(xyxy).reshape(-1, 4), labels)))
    return Dataset(tuple(ClassInfo(None, name) for name in names), tuple(images))


def new_images_per_source(dataset: Dataset, split: str) -> Counter[str]:
    """How many `<stem>_aug<k>` and `<stem>_paste<k>` images each source stem got, from the names written."""
    made: Counter[str] = Counter()
    for image in dataset.in_split(split):
        for tag in ("_aug", "_paste"):
            if tag in image.name:
                made[image.name.rsplit(tag, 1)[0]] += 1
    return made


def check_balanced(src_counts: np.ndarray, out: Dataset, split: str, report: dict, max_copies: int) -> float:
    """The Done-means checks on one written split: the max/min ratio is at most 1.5, or every class short of its
    level names what stopped it with numbers that match the files; the common class grows by a smaller factor
    than every rare class; no class disappears. Returns the ratio written."""
    after = counts_of(out, split)
    present = src_counts > 0
    ratio = max_min_ratio(after[present])
    assert (after[present] >= src_counts[present]).all(), f"a class lost instances: {src_counts} -> {after}"
    growth = after[present] / src_counts[present]
    common = int(np.argmax(src_counts[present]))
    assert all(growth[common] < g for k, g in enumerate(growth) if k != common), growth
    if ratio > 1.5:
        assert report["unmet"], f"ratio {ratio:.2f} > 1.5 and nothing reported unmet"
        made = new_images_per_source(out, split)
        holders_by_class = {}
        for image in out.in_split(split):
            if "_aug" not in image.name and "_paste" not in image.name:
                for label in set(image.boxes.labels.tolist()):
                    holders_by_class.setdefault(label, []).append(image.name.rsplit(".", 1)[0])
        names = out.class_names
        for unmet in report["unmet"]:
            holders = holders_by_class[names.index(unmet["class"])]
            assert unmet["limits"]["images_holding_it"] == len(holders)
            assert unmet["limits"]["at_max_copies"] == sum(made[stem] >= max_copies for stem in holders)
            assert unmet["stopped_by"], unmet
            if unmet["limits"]["at_max_copies"]:
                assert "--max-copies" in unmet["stopped_by"] and f"--max-copies {max_copies}" in unmet["message"]
    return ratio


def check_copies_follow_their_pixels(src: Path, dst: Path) -> int:
    """The oracle checks on real photos, through masks replayed with each copy's seed (`replayed_envelopes`):
    every box of every augmented copy matches the replayed mask of a source box of its class (IoU >= 0.9, or
    within a pixel on every side for boxes under 20 px, which VOC's whole pixels and the mask's pixel grid cannot
    resolve better), and every source box whose mask keeps half its pixels or more has its box. Returns the
    number of boxes checked."""
    manifest = json.loads((dst / "balance.json").read_text())
    policy = load_policy(manifest["policy"])
    pipeline = get_backend(policy.backend).build(policy)
    prepared = prepare(load(src, fmt="voc"), get_format("voc"), Report())
    sources = {f"{image.split}/{image.name}": image for image in prepared.images}
    written = {f"{image.split}/{image.name}": image for image in load(dst, fmt="voc").images}
    checked = 0
    for entry in manifest["outputs"]:
        if "copy" not in entry or "dropped" in entry:
            continue
        source, copy = sources[entry["source"]], written[entry["image"]]
        shape = read_picture(source.source).pixels.shape
        points, _ = pack(box_shapes(source.boxes, policy.boxes.box_shape))
        masks = replayed_envelopes(pipeline, shape, source.boxes, points, entry["seed"])
        matched = set()
        for xyxy, label in zip(copy.boxes.xyxy.tolist(), copy.boxes.labels.tolist(), strict=True):
            candidates = [
                (iou(tuple(xyxy), envelope), row)
                for row, ((envelope, _), own) in enumerate(zip(masks, source.boxes.labels.tolist(), strict=True))
                if own == label and envelope
            ]
            score, row = max(candidates, default=(0.0, -1))
            envelope = masks[row][0] if row >= 0 else None
            close = (
                envelope is not None
                and min(xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]) < 20
                and max(abs(a - b) for a, b in zip(xyxy, envelope, strict=True)) <= 1.0
            )
            assert score >= 0.9 or close, f"{entry['image']}: box {xyxy} vs its pixels {envelope}"
            matched.add(row)
            checked += 1
        for row, (x1, y1, x2, y2) in enumerate(source.boxes.xyxy.tolist()):
            area = (round(x2) - round(x1)) * (round(y2) - round(y1))
            if masks[row][1] >= 0.5 * area:
                assert row in matched, f"{entry['image']}: visible object {row} of {entry['source']} has no box"
    return checked


# --- the planner ---------------------------------------------------------------------------------------------------


def test_disjoint_classes_reach_the_target_and_copies_are_spread() -> None:
    allocation = allocate(np.array([[8, 0], [0, 1], [0, 1], [0, 1]]), Goal(8, None), 10)
    assert allocation.copies.tolist() == [0, 2, 2, 1] and allocation.counts.tolist() == [8, 8]


def test_a_copy_that_would_worsen_the_balance_is_not_made() -> None:
    plan = plan_balance(dataset_of([[4, 0], [0, 1], [0, 1], [9, 1]]), max_copies=2)
    split = plan.splits[0]
    # [0, 1] images: 2 copies each (the cap); the [9, 1] image would add 9 c0 for one c1: 22/8 is worse than 13/7
    assert plan.copies == {"train/1.png": 2, "train/2.png": 2}
    assert [row.planned for row in split.rows] == [13, 7] and split.rows[1].target == 13
    [unmet] = split.unmet
    assert unmet["class"] == "c1" and unmet["short"] == 6
    assert unmet["stopped_by"] == ["--max-copies", "co-occurrence", "paste off"]
    assert unmet["limits"]["at_max_copies"] == 2 and unmet["limits"]["would_worsen_balance"] == 1
    assert plan.required == {"train/1.png": frozenset({1}), "train/2.png": frozenset({1})}


def test_target_max_copies_while_a_copy_still_lowers_the_max_min_ratio() -> None:
    """c1 and c3 are short of 12; a copy of image 5 (one c1, one c2 already at 12) takes the max/min ratio from
    12/9 = 1.333 to 13/10 = 1.3, so the plan must not stop at 12:9:12:10 saying a copy would worsen it."""
    counts = [[3, 2, 0, 0], [0, 0, 2, 2], [0, 0, 3, 3], [0, 0, 3, 2], [0, 0, 2, 3], [0, 1, 1, 0], [0, 0, 1, 0]]
    plan = plan_balance(dataset_of(counts, ("c0", "c1", "c2", "c3")), max_copies=3)
    planned = np.array([row.planned for row in plan.splits[0].rows])
    assert max_min_ratio(planned) <= 13 / 10 + 1e-9
    assert_stop_reasons_are_true(np.array(counts), plan, max_copies=3)


def assert_stop_reasons_are_true(
    counts: np.ndarray, plan: object, *, max_copies: int, target: int | None = None
) -> None:
    """Recounted here from the plan's copies: every image holding a class left short that has fewer than
    `max_copies` copies would, copied once more, raise the max/min ratio (target max) or take the counts further
    from `target` (the sum of each class's distance to it), as the unmet message says."""
    [split] = plan.splits
    copies = np.array([plan.copies.get(f"train/{i}.png", 0) for i in range(len(counts))])
    final = counts.sum(axis=0) + copies @ counts
    assert final.tolist() == [row.planned for row in split.rows]

    def imbalance(n: np.ndarray) -> float:
        return max_min_ratio(n) if target is None else float(np.abs(n - target).sum())

    short = {row.name for row in split.rows if row.target is not None and row.planned < row.target}
    assert short == {unmet["class"] for unmet in split.unmet}
    for unmet in split.unmet:
        k = [row.name for row in split.rows].index(unmet["class"])
        for image in np.flatnonzero((counts[:, k] > 0) & (copies < max_copies)):
            assert imbalance(final + counts[image]) > imbalance(final) + 1e-12, (unmet["message"], image)
        if ((counts[:, k] > 0) & (copies < max_copies)).any():
            assert "co-occurrence" in unmet["stopped_by"]


@pytest.mark.parametrize("target", ["max", 9])
def test_the_reason_given_for_stopping_is_true_on_random_sets(target: str | int) -> None:
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(150):
        counts = np.zeros((int(rng.integers(4, 9)), 4), np.int64)
        for row in counts:
            chosen = rng.choice(4, int(rng.integers(1, 3)), replace=False)
            row[chosen] = rng.integers(1, 4, len(chosen))
        if (counts.sum(axis=0) == 0).any():
            continue
        max_copies = int(rng.integers(1, 4))
        plan = plan_balance(dataset_of(counts.tolist(), ("c0", "c1", "c2", "c3")), target=target, max_copies=max_copies)
        assert_stop_reasons_are_true(counts, plan, max_copies=max_copies, target=None if target == "max" else target)
        checked += bool(plan.splits[0].unmet)
    assert checked >= 30  # enough sets where the plan stops short for the check to mean something


def test_target_n_copies_only_while_short_classes_gain_as_much_as_the_others_overshoot() -> None:
    """--target 6: copies of the [1, 1] image bring c1 one instance for each c0 instance above 6 (the distance to
    the target stays the same); copies of the [2, 1] image would add two above it for one below, and are not made."""
    even = plan_balance(dataset_of([[6, 0], [1, 1]]), target=6, max_copies=10)
    assert even.copies == {"train/1.png": 5} and [row.planned for row in even.splits[0].rows] == [12, 6]
    uneven = plan_balance(dataset_of([[6, 0], [2, 1]]), target=6, max_copies=10)
    assert uneven.copies == {} and [row.planned for row in uneven.splits[0].rows] == [8, 1]
    [unmet] = uneven.splits[0].unmet
    assert unmet["stopped_by"] == ["co-occurrence", "paste off"]
    assert "further from the target" in unmet["message"]


def test_ratio_and_count_targets() -> None:
    assert allocate(np.array([[10, 0], [0, 1]]), Goal(None, 2.0), 10).counts.tolist() == [10, 5]
    assert allocate(np.array([[1, 0], [0, 1]]), Goal(3, None), 5).copies.tolist() == [2, 2]
    capped = allocate(np.array([[10, 0], [0, 1]]), Goal(10, None), 3)
    assert capped.copies.tolist() == [0, 3] and capped.counts.tolist() == [10, 4]


def test_a_class_without_instances_is_reported_not_balanced() -> None:
    plan = plan_balance(dataset_of([[3, 0, 0], [0, 1, 0]], ("a", "b", "never")), max_copies=5)
    split = plan.splits[0]
    assert [row.planned for row in split.rows] == [3, 3, 0] and split.rows[2].target is None
    assert [u["class"] for u in split.unmet] == ["never"] and split.unmet[0]["stopped_by"] == ["no instance"]
    assert split.ratios()["planned"] == 1.0


def test_unknown_split_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no split named val; the dataset has train"):
        plan_balance(dataset_of([[1, 0]]), splits=("val",))


def planner_versus_repeat_factor(counts: np.ndarray) -> list[tuple[float, int, float, int, float]]:
    """For thresholds where repeat-factor sampling copies at least 10 images: (t, its images, its ratio, the
    planner's images and ratio when asked for the same ratio under the same per-image cap)."""
    rows = []
    for threshold in (1, 2, 4, 8, 16):
        copies = repeat_factor_copies(counts, threshold)
        if copies.sum() < 10:
            continue
        ratio = max_min_ratio(counts.sum(axis=0) + copies @ counts)
        planned = allocate(counts, Goal(None, ratio), int(copies.max()))
        rows.append((threshold, int(copies.sum()), ratio, int(planned.copies.sum()), max_min_ratio(planned.counts)))
    return rows


@pytest.mark.parametrize("name", ["samples", "synthetic0", "synthetic1", "synthetic2", "bccd"])
def test_the_planner_beats_repeat_factor_sampling(name: str) -> None:
    if name == "bccd":
        if not BCCD.is_dir():
            pytest.skip(f"real corpus not found at {CORPUS}")
        counts = per_image(load(BCCD, fmt="voc"), "train")
    elif name == "samples":
        counts = per_image(load(SAMPLES, fmt="voc"), "train")
    else:
        counts = synthetic_counts(int(name[-1]))
    rows = planner_versus_repeat_factor(counts)
    assert rows
    for threshold, rfs_images, rfs_ratio, images, ratio in rows:
        assert ratio <= rfs_ratio + 1e-9 and images < rfs_images, (
            name,
            threshold,
            rfs_images,
            rfs_ratio,
            images,
            ratio,
        )


# --- whole runs ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def samples_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[object, Path]]:
    root = tmp_path_factory.mktemp("samples")
    return {
        kind: (balance(SAMPLES, root / kind, paste=kind == "paste", **RUN), root / kind) for kind in ("copies", "paste")
    }


@pytest.mark.parametrize("kind", ["copies", "paste"])
def test_samples_target_max(kind: str, samples_runs: dict, tmp_path: Path) -> None:
    result, dst = samples_runs[kind]
    source, out = load(SAMPLES, fmt="voc"), load(dst, fmt="voc")
    report = json.loads((dst / "balance.json").read_text())["balance"]["splits"][0]
    ratio = check_balanced(counts_of(source, "train"), out, "train", report, 10)
    assert counts_of(source, "train").tolist() == [61, 30, 16, 5]
    if kind == "paste":
        assert ratio <= 1.5
    else:  # copies alone cannot: every image with an inclusion has scratches too
        assert ratio > 1.5 and {u["class"] for u in report["unmet"]} >= {"inclusion"}
    assert [row["after"] for row in report["classes"]] == counts_of(out, "train").tolist()
    check_untouched(SAMPLES, dst, ["val"], ["train"], tmp_path, to="voc")
    assert check_copies_follow_their_pixels(SAMPLES, dst) >= 3 * len(new_images_per_source(out, "train"))
    for image in out.images:  # every box inside its image, with an area
        xyxy = image.boxes.xyxy
        assert (xyxy[:, :2] >= 0).all() and (xyxy[:, 2] <= image.width).all() and (xyxy[:, 3] <= image.height).all()
        assert ((xyxy[:, 2:] - xyxy[:, :2]) > 0).all()
    # each copy keeps a box of every class it was made for
    labels = {image.name: set(image.boxes.labels.tolist()) for image in out.images}
    for entry in json.loads((dst / "balance.json").read_text())["outputs"]:
        if "copy" in entry and "dropped" not in entry:
            made_for = result.plan.required[entry["source"]]
            assert made_for and made_for <= labels[entry["image"].split("/", 1)[1]], entry
    with Image.open(dst / "balance.png") as chart:
        assert chart.format == "PNG" and chart.width >= 420


def test_bccd_target_max(corpus: Path, tmp_path: Path) -> None:
    src = corpus / "bccd_voc" / "BCCD"
    dst = tmp_path / "out"
    plain = balance(src, tmp_path / "never", dry_run=True)  # copies only: the plan and what stopped it
    assert not (tmp_path / "never").exists()
    copies_only = plain.plan.splits[0]
    assert copies_only.ratios()["planned"] > 1.5
    for unmet in copies_only.unmet:
        assert unmet["stopped_by"][:2] == ["--max-copies", "co-occurrence"] and "RBC" in unmet["message"]
    balance(src, dst, paste=True, **RUN)
    source, out = load(src, fmt="voc"), load(dst, fmt="voc")
    before = counts_of(source, "train")
    assert before.tolist() == [214, 2382, 209]  # WBC, RBC, Platelets as read (one RBC box has no area: the plan
    # counts 2381, and it is dropped on writing)
    report = json.loads((dst / "balance.json").read_text())["balance"]["splits"][0]
    ratio = check_balanced(before, out, "train", report, 10)
    assert ratio < max_min_ratio(before) / 1.8
    check_untouched(src, dst, ["val", "test"], ["train"], tmp_path, to="voc")
    assert check_copies_follow_their_pixels(src, dst) >= 1000


# --- oracle scenes ---------------------------------------------------------------------------------------------------

TRAIN = [
    Scene(
        "a.png",
        200,
        150,
        (
            ("rect", 0, (14, 14, 44, 40)),
            ("rect", 0, (60, 14, 92, 44)),
            ("rect", 0, (110, 16, 140, 46)),
            ("ellipse", 2, (40, 70, 100, 126)),
        ),
    ),
    Scene(
        "b.png",
        200,
        150,
        (
            ("rect", 0, (14, 14, 46, 44)),
            ("rect", 0, (70, 20, 100, 50)),
            ("rect", 0, (14, 90, 48, 126)),
            ("rect", 1, (130, 80, 180, 130)),
        ),
    ),
    Scene("c.png", 200, 150, (("rect", 0, (20, 20, 60, 50)), ("rect", 0, (120, 90, 170, 130)))),
    Scene(
        "d.png",
        200,
        150,
        (("rect", 0, (16, 80, 56, 120)), ("rect", 0, (140, 16, 180, 50)), ("rect", 1, (70, 40, 120, 90))),
    ),
    Scene("e.png", 200, 150, ()),
    Scene(
        "f.png",
        200,
        150,
        (("rect", 0, (14, 14, 44, 44)), ("rect", 0, (150, 100, 184, 134)), ("rect", 0, (80, 60, 110, 90))),
    ),
    Scene("x.png", 200, 150, (("rect", 1, (60, 50, 110, 100)),)),  # copies of it add only to a rare class
]
VAL = [
    Scene("g.png", 200, 150, (("rect", 0, (20, 20, 60, 60)), ("rect", 1, (100, 60, 150, 110)))),
    Scene("h.png", 200, 150, (("ellipse", 2, (50, 40, 120, 110)),)),
]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scenes")
    train, val = scene_dataset(TRAIN, root / "pixels"), scene_dataset(VAL, root / "pixels", split="val")
    from bboxaug.commands.convert import save

    save(train.replace(images=(*train.images, *val.images)), root / "coco", to="coco")
    return root / "coco"


def colour_pixels(pixels: np.ndarray, colour: int) -> np.ndarray:
    return np.abs(pixels.astype(np.int32) - np.array(COLOURS[colour])).max(axis=2) <= 60


def test_every_box_of_a_balanced_oracle_dataset_is_where_its_pixels_are(scenes: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out"
    result = balance(scenes, dst, paste=True, **RUN)
    out = load(dst, fmt="coco")
    manifest = json.loads((dst / "balance.json").read_text())
    pasted = {entry["image"]: entry for entry in manifest["outputs"] if "paste" in entry}
    assert pasted and result.report.counts["copies_written"] > 0
    report = manifest["balance"]["splits"][0]
    check_balanced(counts_of(load(scenes, fmt="coco"), "train"), out, "train", report, 10)
    by_key = {f"{image.split}/{image.name}": image for image in out.images}
    checked = occluded = 0
    for image in out.images:
        pixels = np.asarray(Image.open(dst / "images" / image.split / image.name).convert("RGB"))
        entry = pasted.get(f"{image.split}/{image.name}")
        host_rows = len(image.boxes) - (len(entry["objects"]) if entry else 0)
        if entry:  # the host's own boxes are the host's, and the pastes hide at most MAX_COVER of each
            host = by_key[entry["source"]]
            assert np.array_equal(image.boxes.xyxy[:host_rows], host.boxes.xyxy)
            host_pixels = np.asarray(Image.open(dst / "images" / host.split / host.name).convert("RGB"))
            changed = (pixels != host_pixels).any(axis=2)
            for x1, y1, x2, y2 in host.boxes.xyxy.astype(int):
                assert changed[y1:y2, x1:x2].mean() <= MAX_COVER
        for row, (xyxy, label) in enumerate(zip(image.boxes.xyxy, image.boxes.labels, strict=True)):
            if entry and row < host_rows:
                continue
            later = image.boxes.xyxy[row + 1 :] if entry else np.zeros((0, 4))
            if any(iou(tuple(xyxy), tuple(other)) > 0 for other in later):
                occluded += 1  # a later paste may hide part of it: only its pixels must stay inside the box
            x1, y1, x2, y2 = np.floor(xyxy[:2]).astype(int).tolist() + np.ceil(xyxy[2:]).astype(int).tolist()
            left, top = max(0, x1 - 3), max(0, y1 - 3)
            region = colour_pixels(pixels, int(label))[top : y2 + 3, left : x2 + 3].copy()
            own = np.zeros_like(region)
            own[y1 - top : y2 - top, x1 - left : x2 - left] = True
            # neighbours' pixels around it
            for other, other_label in zip(image.boxes.xyxy, image.boxes.labels, strict=True):
                if other_label == label and not np.array_equal(other, xyxy):
                    ox1, oy1, ox2, oy2 = (int(v) for v in other)
                    theirs = np.zeros_like(region)
                    theirs[max(0, oy1 - top) : max(0, oy2 - top), max(0, ox1 - left) : max(0, ox2 - left)] = True
                    region &= ~(theirs & ~own)
            ys, xs = np.nonzero(region)
            assert len(xs), f"{image.name}: no pixels of obj{label} at its box {xyxy}"
            measured = (left + xs.min(), top + ys.min(), left + xs.max() + 1, top + ys.max() + 1)
            inside = (
                measured[0] >= xyxy[0] - 1
                and measured[1] >= xyxy[1] - 1
                and measured[2] <= xyxy[2] + 1
                and measured[3] <= xyxy[3] + 1
            )  # the oracle's ellipses may reach a pixel past their polygon
            assert inside, f"{image.name}: obj{label} pixels {measured} outside box {xyxy}"
            if not any(iou(tuple(xyxy), tuple(other)) > 0 for other in later):
                assert iou(tuple(xyxy), measured) >= 0.9, f"{image.name}: box {xyxy} vs pixels {measured}"
                checked += 1
        for colour in range(3):  # every object visible lies in boxes of its class
            count, components = cv2.connectedComponents(colour_pixels(pixels, colour).astype(np.uint8))
            boxed = np.zeros(pixels.shape[:2], bool)
            for x1, y1, x2, y2 in image.boxes.xyxy[image.boxes.labels == colour]:
                boxed[max(0, int(y1) - 1) : int(np.ceil(y2)) + 1, max(0, int(x1) - 1) : int(np.ceil(x2)) + 1] = True
            for component in range(1, count):
                here = components == component
                if here.sum() >= 30:
                    assert boxed[here].all(), f"{image.name}: obj{colour} without a box"
    assert checked >= 30 and occluded <= 4, (checked, occluded)  # 42 boxes written: 20 originals, 10 copies, 12 pasted
    from pycocotools.coco import COCO

    masks = 0
    for split in ("train", "val"):
        coco = COCO(str(dst / "annotations" / f"instances_{split}.json"))
        for annotation in coco.loadAnns(coco.getAnnIds()):
            if isinstance(annotation["segmentation"], dict):  # a pasted mask: its box is its bounds
                mask = coco.annToMask(annotation)
                ys, xs = np.nonzero(mask)
                x, y, w, h = annotation["bbox"]
                assert (xs.min(), ys.min(), xs.max() + 1 - x, ys.max() + 1 - y) == (x, y, w, h)
                assert annotation["area"] == mask.sum()
                assert np.array_equal(mask, decode_rle(annotation["segmentation"]))
                masks += 1
    assert masks > 0


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_with_one_or_two_workers(scenes: Path, tmp_path: Path) -> None:
    balance(scenes, tmp_path / "one", paste=True, policy="light", jobs=1, seed=4)
    balance(scenes, tmp_path / "two", paste=True, policy="light", jobs=2, seed=4)
    one, two = tree_bytes(tmp_path / "one"), tree_bytes(tmp_path / "two")
    assert one == two and any("_paste" in name for name in one)
    balance(scenes, tmp_path / "other", paste=True, policy="light", jobs=2, seed=5)
    other = tree_bytes(tmp_path / "other")
    assert any(one[name] != other.get(name) for name in one if "_paste" in name)


# --- the command ---------------------------------------------------------------------------------------------------


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path) -> None:
    before = sorted(tmp_path.iterdir())
    result = CliRunner().invoke(main, ["balance", str(SAMPLES), str(tmp_path / "out"), "--dry-run", "--paste"])
    assert result.exit_code == 0, result.output
    assert sorted(tmp_path.iterdir()) == before  # no output, no staging folder
    plan = plan_balance(load(SAMPLES, fmt="voc"), paste=True)
    assert format_plan(plan) in result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines() if line.startswith("  ")}
    for row in plan.splits[0].rows:
        assert rows[row.name][1:5] == [str(row.before), str(row.images), str(row.target), str(row.planned)]
    assert "warning: inclusion has only 5 distinct instances in train" in result.output
    assert "nothing written" in result.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--target", "0"], "expected 'max' or a positive number"),
        (["--ratio", "0.5"], "0.5"),
        (["--splits", "nope"], "no split named nope; the dataset has train, val"),
    ],
)
def test_usage_errors_exit_2(arguments: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["balance", str(SAMPLES), str(tmp_path / "out"), *arguments])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "out").exists()


def test_every_image_written_originals_copies_and_paste_images_is_preprocessed(scenes: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out"
    result = balance(scenes, dst, paste=True, preprocess="grayscale:1", **RUN)
    manifest = json.loads((dst / "balance.json").read_text())
    assert manifest["preprocess"] == [{"grayscale": {"channels": 1}}]
    assert any("paste" in entry for entry in manifest["outputs"]) and result.report.counts["copies_written"] > 0
    written = load(dst, fmt="coco").images
    assert {image.split for image in written} == {"train", "val"}
    for image in written:
        assert cv2.imread(str(image.source), cv2.IMREAD_UNCHANGED).ndim == 2, image.key
