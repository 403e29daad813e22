"""The engine: reproducible bytes for any number of workers, resume after a kill, formats and splits kept,
policy mistakes refused before any work, and a manifest that accounts for every copy."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import bboxaug
from bboxaug.augmentation import worker
from bboxaug.augmentation.seeds import derive_seed
from bboxaug.cli.main import main
from bboxaug.commands.augment import augment
from bboxaug.commands.convert import save
from bboxaug.core.errors import UsageError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord, StoredImages
from bboxaug.io.names import copy_name
from bboxaug.io.pixels import read_picture
from bboxaug.pipeline import copies as engine
from bboxaug.pipeline.source import load
from tests.commands.untouched import check_untouched
from tests.conftest import REPO

POLICY = {
    "backend": "albumentations",
    "boxes": {"min_visibility": 0.3, "min_area": 4, "min_size": 2},
    "transforms": [
        {"HorizontalFlip": {"p": 0.5}},
        {"Affine": {"rotate": [-20, 20], "scale": [0.9, 1.1], "p": 0.9}},
        {"RandomBrightnessContrast": {"p": 0.5}},
    ],
}


def textured(width: int, height: int, seed: int, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    shape = (height, width) if mode == "L" else (height, width, 3)
    return Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode=mode)


def make_source(root: Path, count: int = 6, *, fmt: str = "voc") -> Path:
    """A small dataset in two splits: JPEG and PNG, colour and greyscale, one negative."""
    images = []
    for index in range(count):
        extension = ".png" if index % 3 == 2 else ".jpg"
        mode = "L" if index % 3 == 1 else "RGB"
        path = root / "pixels" / f"img{index}{extension}"
        path.parent.mkdir(parents=True, exist_ok=True)
        textured(96, 72, index, mode).save(path)
        boxes = Boxes.empty() if index == count - 1 else Boxes([[10, 10, 40, 30], [50, 20, 90, 60]], [0, 1])
        images.append(ImageRecord(path.name, "train" if index % 2 else "val", 96, 72, boxes, path))
    dataset = Dataset((ClassInfo(1, "scratch"), ClassInfo(2, "spot")), tuple(images))
    save(dataset, root / "src", to=fmt)
    return root / "src"


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_source(tmp_path_factory.mktemp("engine"))


#: One warp per copy for three spatial transforms and a bbox-safe crop, pixel work after it (in BGR order).
FUSED_POLICY = {
    "backend": "albumentations",
    "boxes": {"min_visibility": 0.3},
    "transforms": [
        {"HorizontalFlip": {"p": 0.5}},
        {"Affine": {"rotate": [-30, 30], "scale": [0.9, 1.1], "border_mode": 0, "fill": 0, "p": 0.9}},
        {"Perspective": {"scale": [0.03, 0.06], "border_mode": 0, "fill": 0, "p": 0.7}},
        {"BBoxSafeRandomCrop": {"erosion_rate": 0.0, "p": 0.5}},
        {"HueSaturationValue": {"p": 0.5}},
        {"GaussianBlur": {"p": 0.5}},
    ],
}


@pytest.mark.parametrize("policy", [POLICY, FUSED_POLICY], ids=["flip-affine-brightness", "fused-perspective-crop"])
def test_same_seed_gives_identical_bytes_for_one_or_two_workers(
    source: Path, tmp_path: Path, policy: dict[str, Any]
) -> None:
    augment(source, tmp_path / "one", policy=policy, copies=3, seed=11, jobs=1, splits="all")
    augment(source, tmp_path / "two", policy=policy, copies=3, seed=11, jobs=2, splits="all")
    one, two = tree_bytes(tmp_path / "one"), tree_bytes(tmp_path / "two")
    assert sorted(one) == sorted(two)
    assert one == two
    assert sum(1 for name in one if "_aug" in name and name.startswith("JPEGImages")) == 18


def test_copies_differ_from_each_other_and_from_another_seed(source: Path, tmp_path: Path) -> None:
    augment(source, tmp_path / "a", policy=POLICY, copies=3, seed=1)
    augment(source, tmp_path / "b", policy=POLICY, copies=3, seed=2)
    a, b = tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "b")
    copies = [name for name in a if "_aug" in name and name.startswith("JPEGImages")]
    assert len({a[name] for name in copies}) == len(copies), "two copies came out identical"
    assert sum(a[name] != b[name] for name in copies) >= len(copies) - 1


def test_formats_modes_splits_and_names_are_kept(source: Path, tmp_path: Path) -> None:
    result = augment(source, tmp_path / "out", policy=POLICY, copies=2, seed=3, quality=80, splits=["train", "val"])
    out = tmp_path / "out"
    original = load(source, fmt="voc")
    written = load(out, fmt="voc")
    assert len(written.images) == 3 * len(original.images)
    splits = {image.name: image.split for image in original.images}
    for image in written.images:
        stem = image.name.split("_aug")[0] if "_aug" in image.name else image.name.rsplit(".", 1)[0]
        source_name = next(name for name in splits if name.startswith(stem + "."))
        assert image.split == splits[source_name]
        with (
            Image.open(out / "JPEGImages" / image.name) as picture,
            Image.open(source / "JPEGImages" / source_name) as before,
        ):
            assert picture.format == before.format
            assert picture.mode == before.mode
    assert copy_name("sub/a.JPG", 2) == "sub/a_aug2.JPG"
    assert copy_name("a.gif", 1) == "a_aug1.png"
    assert result.report.counts["copies_written"] == 2 * len(original.images)


def test_manifest_records_every_copy_with_a_seed_that_reproduces_it(source: Path, tmp_path: Path) -> None:
    augment(source, tmp_path / "out", policy=POLICY, copies=2, seed=5)
    manifest = json.loads((tmp_path / "out" / "augment.json").read_text())
    assert manifest["seed"] == 5 and manifest["policy"]["transforms"]
    assert manifest["augmented_splits"] == ["train"]
    assert len(manifest["outputs"]) == 2 * len(load(source, fmt="voc").in_split("train"))
    for entry in manifest["outputs"]:
        assert entry["seed"] == derive_seed(5, entry["source"], entry["copy"], entry["attempts"] - 1)
        assert (tmp_path / "out" / "JPEGImages" / entry["image"].split("/", 1)[1]).is_file()
    assert not (tmp_path / "out" / "run.json").exists() and not (tmp_path / "out" / ".progress").exists()


def test_copies_written_from_progress_files_land_beside_their_originals(source: Path, tmp_path: Path) -> None:
    """The coordinator hands writers the copies from the workers' progress files, split by split: each COCO file
    lists every original of its split followed by its own mirrored copies (val, not augmented, none), and the
    counts agree."""
    flip = {"transforms": [{"HorizontalFlip": {"p": 1}}]}
    result = augment(source, tmp_path / "out", policy=flip, copies=2, to="coco", seed=4, jobs=2)
    originals = load(source, fmt="voc")
    for split in ("train", "val"):
        document = json.loads((tmp_path / "out" / "annotations" / f"instances_{split}.json").read_text())
        boxes_of: dict[int, list[list[float]]] = {}
        for annotation in document["annotations"]:
            boxes_of.setdefault(annotation["image_id"], []).append(annotation["bbox"])
        listed = [(entry["file_name"], boxes_of.get(entry["id"], [])) for entry in document["images"]]
        expected = []
        for image in originals.in_split(split):
            mirrored = [[96 - x2, y1, x2 - x1, y2 - y1] for x1, y1, x2, y2 in image.boxes.xyxy.tolist()]
            expected += [(image.name, [[x1, y1, x2 - x1, y2 - y1] for x1, y1, x2, y2 in image.boxes.xyxy.tolist()])]
            expected += [(copy_name(image.name, k), mirrored) for k in (1, 2) if split == "train"]
        assert [name for name, _ in listed] == [name for name, _ in expected]
        for (name, found), (_, wanted) in zip(listed, expected, strict=True):
            assert np.allclose(sorted(found), sorted(wanted), atol=1e-6), name
        assert result.counts["splits"][split]["images"] == len(document["images"])
        assert result.counts["splits"][split]["boxes"] == len(document["annotations"])


@pytest.mark.parametrize("originals", [True, False])
def test_the_written_copies_are_counted_from_columns_as_record_by_record(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, originals: bool
) -> None:
    """The written dataset's split of every record and box counts, read from its columns and the progress
    records, are those of its records built one by one (the way any stored sequence counts them), compared
    while the progress records are there."""
    counted: list[tuple[Any, ...]] = []

    def collect_and_count(*args: Any) -> Dataset:
        written = collect(*args)
        images = written.images
        assert isinstance(images, engine.WrittenImages)
        splits, positions = images.split_positions()
        expected_splits, expected_positions = StoredImages.split_positions(images)
        counted.append((images.box_counts().tolist(), StoredImages.box_counts(images).tolist()))
        counted.append((splits, positions.tolist(), expected_splits, expected_positions.tolist()))
        return written

    collect = engine.collect
    monkeypatch.setattr(engine, "collect", collect_and_count)
    augment(source, tmp_path / "out", policy=POLICY, copies=2, splits="all", originals=originals, seed=3)
    (boxes, expected_boxes), (splits, positions, expected_splits, expected_positions) = counted
    assert boxes == expected_boxes and 0 in boxes  # the negative and its copies
    assert len(boxes) == 6 * (3 if originals else 2)
    assert splits == expected_splits == ["val", "train"]
    assert positions == expected_positions


def test_every_box_stays_inside_its_image_and_keeps_its_label(source: Path, tmp_path: Path) -> None:
    augment(source, tmp_path / "out", policy=POLICY, copies=3, seed=9)
    for image in load(tmp_path / "out", fmt="voc").images:
        xyxy = image.boxes.xyxy
        assert (xyxy[:, :2] >= 0).all() and (xyxy[:, 2] <= image.width).all() and (xyxy[:, 3] <= image.height).all()
        assert set(image.boxes.labels.tolist()) <= {0, 1}


@pytest.mark.parametrize(
    "mistake",
    [
        {"transforms": [{"NoSuchTransform": {}}]},
        {"transforms": [{"Affine": {"rotation": 10}}]},
        {"backend": "nope", "transforms": []},
        {"transforms": [{"HorizontalFlip": {"p": 0.5}}], "boxes": {"min_visibility": 2}},
    ],
)
def test_policy_mistakes_exit_2_before_any_image_is_read(
    mistake: dict, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("an image was read")

    monkeypatch.setattr(worker, "read_preprocessed", no_reading)
    monkeypatch.setattr(engine, "place_images", no_reading)
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(json.dumps(mistake))
    result = CliRunner().invoke(main, ["augment", str(source), str(tmp_path / "out"), "--policy", str(policy_file)])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and "policy.yaml" in result.output
    assert not (tmp_path / "out").exists()


def test_missing_policy_file_is_a_usage_error(source: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["augment", str(source), str(tmp_path / "o"), "--policy", "nofile.yaml"])
    assert result.exit_code == 2 and "nofile.yaml" in result.output


def test_sigkill_then_resume_gives_the_same_output(tmp_path: Path) -> None:
    source = make_source(tmp_path / "data", count=40)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(POLICY))
    command = [
        sys.executable,
        "-m",
        "bboxaug.cli",
        "augment",
        str(source),
        str(tmp_path / "killed"),
        "--policy",
        str(policy),
        "--copies",
        "3",
        "--seed",
        "4",
        "--jobs",
        "2",
        "--quiet",
    ]
    augment(source, tmp_path / "whole", policy=POLICY, copies=3, seed=4)

    process = subprocess.Popen(command, start_new_session=True)
    progress = tmp_path / ".killed.partial" / ".progress"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(progress.glob("*.pickle"))) < 5:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done = len(list(progress.glob("*.pickle")))
    assert 5 <= done < 40, f"the kill came at a useless moment ({done} images done)"
    assert not (tmp_path / "killed").exists()

    subprocess.run([*command, "--resume"], check=True)
    assert tree_bytes(tmp_path / "killed") == tree_bytes(tmp_path / "whole")
    assert not (tmp_path / ".killed.partial").exists()


def test_resume_refuses_other_settings(tmp_path: Path) -> None:
    source = make_source(tmp_path / "data", count=3)
    staging = tmp_path / ".out.partial"
    staging.mkdir()
    (staging / "run.json").write_text(json.dumps({"seed": 99}))
    result = CliRunner().invoke(main, ["augment", str(source), str(tmp_path / "out"), "--policy", "light", "--resume"])
    assert result.exit_code == 2 and "cannot resume" in result.output


def test_the_package_is_the_function(source: Path, tmp_path: Path) -> None:
    import bboxaug

    result = bboxaug.augment(source, tmp_path / "out", policy=POLICY, copies=1, seed=3)
    assert result.report.counts["copies_written"] == len(load(source, fmt="voc").in_split("train"))
    from bboxaug.augmentation.policy import load_policy

    assert load_policy("light").backend == "albumentations"


def test_a_policys_preprocess_list_reaches_every_original_and_is_recorded(tmp_path: Path) -> None:
    src = make_source(tmp_path)
    policy = {**POLICY, "preprocess": ["autocontrast:low=0,high=100"]}
    result = augment(src, tmp_path / "out", policy=policy, copies=1)
    recorded = [{"autocontrast": {"low": 0.0, "high": 100.0}}]
    manifest = json.loads((tmp_path / "out" / "augment.json").read_text())
    assert manifest["preprocess"] == recorded and manifest["policy"]["preprocess"] == recorded
    assert result.preprocess.to_json() == recorded
    for image in load(src).images:  # PNG originals are lossless: their pixels are the preprocess function's
        if image.name.endswith(".png"):
            (written,) = (tmp_path / "out").rglob(image.name)
            expected = bboxaug.preprocess(read_picture(image.source).pixels, recorded)
            assert np.array_equal(read_picture(written).pixels, expected)
            assert not np.array_equal(expected, read_picture(image.source).pixels)
    with pytest.raises(UsageError, match="pre-processing is given twice"):
        augment(src, tmp_path / "twice", policy=policy, copies=1, preprocess="clahe")
    assert not (tmp_path / "twice").exists()


# --- the splits augmented --------------------------------------------------------------------------------------

SAMPLES = REPO / "samples" / "defects"


def copies_by_split(manifest: dict) -> Counter[str]:
    return Counter(entry["source"].split("/", 1)[0] for entry in manifest["outputs"])


@pytest.mark.parametrize("to", ["voc", "coco", "yolo"])
def test_only_the_train_split_gets_copies_and_the_others_are_written_as_convert_writes_them(
    to: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = augment(SAMPLES, out, policy="light", copies=2, to=to, jobs=2)
    source = load(SAMPLES, fmt="voc")
    train, val = len(source.in_split("train")), len(source.in_split("val"))
    manifest = json.loads((out / "augment.json").read_text())
    assert result.splits == ("train",) and manifest["augmented_splits"] == ["train"]
    assert copies_by_split(manifest) == {"train": 2 * train}
    written = load(out, fmt=to)
    counts = result.report.counts
    assert counts["copies_written"] + counts.get("copies_dropped", 0) == 2 * train
    assert len(written.in_split("train")) == train + counts["copies_written"]
    assert len(written.in_split("val")) == val == 10
    check_untouched(SAMPLES, out, ["val"], ["train"], tmp_path, to=to)


def test_a_corpus_dataset_gets_copies_of_train_only_and_val_and_test_stay_as_they_are(
    corpus: Path, tmp_path: Path
) -> None:
    src, out = corpus / "bccd_voc" / "BCCD", tmp_path / "out"
    result = augment(src, out, policy="light", copies=1, jobs=2)
    manifest = json.loads((out / "augment.json").read_text())
    assert copies_by_split(manifest) == {"train": 205}
    assert result.counts["splits"]["val"]["images"] == 87 and result.counts["splits"]["test"]["images"] == 72
    check_untouched(src, out, ["val", "test"], ["train"], tmp_path, to="voc")


def test_splits_all_or_a_list_chooses_the_splits_augmented(source: Path, tmp_path: Path) -> None:
    original = load(source, fmt="voc")
    sizes = {split: len(original.in_split(split)) for split in ("train", "val")}
    for option, augmented in (("all", ["val", "train"]), ("val", ["val"]), ("val,train", ["val", "train"])):
        out = tmp_path / option
        result = CliRunner().invoke(main, ["augment", str(source), str(out), "-p", "light", "--splits", option])
        assert result.exit_code == 0, result.output
        manifest = json.loads((out / "augment.json").read_text())
        assert manifest["augmented_splits"] == augmented
        assert copies_by_split(manifest) == {split: sizes[split] for split in augmented}
        kept = [split for split in ("val", "train") if split not in augmented]
        line = f"  splits     {', '.join(augmented)} augmented" + (f"; {kept[0]} written as is" if kept else "")
        assert line in result.output.splitlines()


def test_no_originals_leaves_out_only_the_originals_of_the_augmented_splits(source: Path, tmp_path: Path) -> None:
    augment(source, tmp_path / "out", policy=POLICY, copies=1, originals=False)
    written = load(tmp_path / "out", fmt="voc")
    original = load(source, fmt="voc")
    assert sorted(image.name for image in written.in_split("val")) == sorted(
        image.name for image in original.in_split("val")
    )
    assert sorted(image.name for image in written.in_split("train")) == sorted(
        copy_name(image.name, 1) for image in original.in_split("train")
    )


def test_unknown_split_names_are_a_usage_error_listing_the_known_ones(source: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["augment", str(source), str(tmp_path / "out"), "--splits", "train,nope"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: no split named nope; the dataset has val, train (choose with --splits, or 'all')"
    )
    assert list(tmp_path.iterdir()) == []


def flat_voc(root: Path) -> Path:
    """A VOC folder with no ImageSets: images and XML files side by side, so its one split is `default`."""
    layered = make_source(root / "layered")
    flat = root / "flat"
    flat.mkdir()
    for file in [*(layered / "JPEGImages").iterdir(), *(layered / "Annotations").iterdir()]:
        shutil.copyfile(file, flat / file.name)
    return flat


@pytest.mark.parametrize("command", ["augment", "balance"])
def test_a_dataset_with_one_split_is_its_own_train_split(command: str, tmp_path: Path) -> None:
    flat = flat_voc(tmp_path / "data")
    assert load(flat, fmt="voc").splits == ["default"]
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [command, str(flat), str(out), "-p", "light", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / f"{command}.json").read_text())
    if command == "augment":
        assert manifest["augmented_splits"] == ["default"]
        assert copies_by_split(manifest) == {"default": 6}
        assert "  splits     default augmented" in result.output.splitlines()
    else:
        assert [split["split"] for split in manifest["balance"]["splits"]] == ["default"]


def test_a_dropped_copy_names_the_classes_it_lost(source: Path, tmp_path: Path) -> None:
    """Every box moved out of the picture: each copy is dropped, and the warning names the classes, not labels."""
    away = {"transforms": [{"Affine": {"translate_percent": [0.95, 0.95], "p": 1}}]}
    result = augment(source, tmp_path / "out", policy=away, copies=1)
    with_boxes = [image for image in load(source, fmt="voc").in_split("train") if image.boxes]
    assert result.report.counts["copies_dropped"] == len(with_boxes) == 2
    messages = [warning.message for warning in result.report.warnings]
    expected = "every box of scratch, spot was lost in 3 attempts; copy dropped"
    assert messages == [expected] * len(with_boxes)
    manifest = json.loads((tmp_path / "out" / "augment.json").read_text())
    assert [entry["dropped"] for entry in manifest["outputs"] if "dropped" in entry] == [expected] * len(with_boxes)


# --- a run that fails -------------------------------------------------------------------------------------------


def truncated_source(root: Path, good_train_images: int) -> Path:
    """A dataset whose first train image has a whole header but a truncated body (it fails only when decoded),
    `good_train_images` readable train images after it, and one val image."""
    images = []
    for index in range(good_train_images + 2):
        path = root / "pixels" / f"img{index}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        textured(96, 72, index).save(path, quality=90)
        boxes = Boxes([[10, 10, 40, 30]], [0])
        images.append(ImageRecord(path.name, "val" if index == 1 else "train", 96, 72, boxes, path))
    save(Dataset((ClassInfo(1, "scratch"),), tuple(images)), root / "src", to="voc")
    broken = root / "src" / "JPEGImages" / "img0.jpg"
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])
    return root / "src"


@pytest.mark.parametrize("command", ["augment", "balance"])
def test_a_run_that_fails_before_any_image_is_made_leaves_no_staging_folder(command: str, tmp_path: Path) -> None:
    src = truncated_source(tmp_path / "data", good_train_images=0)
    extra = ["--target", "3"] if command == "balance" else []
    result = CliRunner().invoke(main, [command, str(src), str(tmp_path / "out"), "-p", "light", "-j", "1", *extra])
    assert result.exit_code == 1, result.output
    assert "img0.jpg" in result.output and "--resume" not in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data"]  # no .out.partial, no out


@pytest.mark.parametrize("command", ["augment", "balance"])
def test_a_run_that_fails_after_some_work_says_where_it_is_and_how_to_continue(command: str, tmp_path: Path) -> None:
    src = truncated_source(tmp_path / "data", good_train_images=2)
    extra = ["--target", "6"] if command == "balance" else []
    arguments = [command, str(src), str(tmp_path / "out"), "-p", "light", "-j", "1", *extra]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 1, result.output
    staging = tmp_path / ".out.partial"
    assert len(list((staging / ".progress").iterdir())) == 2  # the two readable train images are done
    [line] = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert "img0.jpg" in line and str(staging) in line and "--resume" in line
    textured(96, 72, 0).save(src / "JPEGImages" / "img0.jpg", quality=90)  # the image mended
    resumed = CliRunner().invoke(main, [*arguments, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert not staging.exists() and (tmp_path / "out" / "JPEGImages" / copy_name("img0.jpg", 1)).is_file()


def test_dry_run_counts_the_originals_and_copies_of_the_splits_chosen(source: Path, tmp_path: Path) -> None:
    original = load(source, fmt="voc")
    train, val = len(original.in_split("train")), len(original.in_split("val"))
    for options, originals, copies, said in (
        ([], train + val, 2 * train, "train augmented; val written as is"),
        (["--no-originals"], val, 2 * train, "train augmented; val written as is"),
        (["--splits", "all", "--no-originals"], 0, 2 * (train + val), "val, train augmented"),
    ):
        result = CliRunner().invoke(
            main, ["augment", str(source), str(tmp_path / "out"), "-n", "2", "--dry-run", *options]
        )
        assert result.exit_code == 0, result.output
        wanted = f"would write {originals} originals and {copies} copies to {tmp_path / 'out'} ({said})"
        assert result.output.splitlines()[-1] == wanted
    assert not (tmp_path / "out").exists()


def test_dry_run_says_whether_a_copy_is_one_warp(source: Path, tmp_path: Path) -> None:
    chain = tmp_path / "chain.yaml"
    chain.write_text("transforms:\n  - Affine: {p: 0.5}\n  - GaussianBlur: {p: 0.5}\n  - HorizontalFlip: {p: 0.5}\n")
    said = {}
    for name, policy in (("fused", "medium"), ("chain", str(chain))):
        result = CliRunner().invoke(
            main, ["augment", str(source), str(tmp_path / "out"), "--policy", policy, "--dry-run"]
        )
        assert result.exit_code == 0, result.output
        said[name] = [line for line in result.output.splitlines() if line.startswith("geometry: ")]
    assert said["fused"] == ["geometry: one warp per copy (spatial transforms fused)"]
    assert said["chain"] == [
        "geometry: transform by transform (GaussianBlur sits between spatial transforms and is not a per-pixel "
        "colour change)"
    ]
