"""`bboxaug split`: ratios of images and of every class's boxes, images and boxes unchanged, groups that never
straddle splits (the outputs of augment and tile, their chain, a name pattern, same bytes, near-duplicates),
kept splits, the seed, the warnings and the usage errors.

The outputs are read back here with `json`, the standard library's XML parser and folder listings, not with
bboxaug's readers, so a mistake shared by the planner and a reader cannot hide.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import bboxaug
from bboxaug.cli.main import main
from bboxaug.commands.augment import augment
from bboxaug.commands.convert import save
from bboxaug.commands.split import split
from bboxaug.commands.tile import tile
from bboxaug.core.errors import UsageError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord
from tests.conftest import REPO, voc_objects
from tests.inspection.test_near_duplicates import scene

SAMPLES = REPO / "samples" / "defects"
CLASSES = (ClassInfo(0, "scratch"), ClassInfo(1, "spot"), ClassInfo(2, "crack"))


def textured(path: Path, seed: int, width: int = 96, height: int = 72) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def make_set(root: Path, names: list[str], *, fmt: str = "yolo", split_of: dict[str, str] | None = None) -> Path:
    """A dataset of textured PNGs named `names`, image k with k % 3 + 1 boxes of classes cycling through three."""
    images = []
    for k, name in enumerate(names):
        path = textured(root / "pixels" / name, k)
        boxes = [[4.0 + 20 * j, 6.0, 20.0 + 20 * j, 30.0] for j in range(k % 3 + 1)]
        labels = [(k + j) % 3 for j in range(len(boxes))]
        split_name = (split_of or {}).get(name, "train")
        images.append(ImageRecord(name, split_name, 96, 72, Boxes(boxes, labels), path))
    save(Dataset(CLASSES, tuple(images)), root / fmt, to=fmt)
    return root / fmt


def yolo_splits(root: Path) -> dict[str, str]:
    """Each image file name of a YOLO output with the split folder it is in."""
    return {
        path.name: path.parent.name for path in sorted((root / "images").glob("*/*")) if path.suffix in (".png", ".jpg")
    }


def coco_splits(root: Path) -> dict[str, str]:
    """Each image file name of a COCO output with the split whose annotation file lists it."""
    return {
        image["file_name"]: listing.stem.removeprefix("instances_")
        for listing in sorted((root / "annotations").glob("instances_*.json"))
        for image in json.loads(listing.read_text())["images"]
    }


def voc_splits(root: Path) -> dict[str, str]:
    """Each image id of a VOC output with the split list that names it (each id in exactly one list)."""
    found: dict[str, str] = {}
    for listing in sorted((root / "ImageSets" / "Main").glob("*.txt")):
        for line in listing.read_text().split():
            assert line not in found, f"{line} is in two split lists"
            found[line] = listing.stem
    return found


# --- the sample set -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = tmp_path_factory.mktemp("split") / "defects"
    split(SAMPLES, dst, ratios=(0.8, 0.1, 0.1), seed=3)
    return dst


def test_every_image_and_box_is_kept_and_copied_byte_for_byte(sample_split: Path) -> None:
    source_ids = sorted(path.stem for path in (SAMPLES / "Annotations").glob("*.xml"))
    splits = voc_splits(sample_split)
    assert sorted(splits) == source_ids
    for image_id in source_ids:
        assert (sample_split / "JPEGImages" / f"{image_id}.jpg").read_bytes() == (
            SAMPLES / "JPEGImages" / f"{image_id}.jpg"
        ).read_bytes()
        expected = voc_objects(SAMPLES / "Annotations" / f"{image_id}.xml")
        assert voc_objects(sample_split / "Annotations" / f"{image_id}.xml") == expected


def test_images_and_every_class_follow_the_ratios(sample_split: Path) -> None:
    splits = voc_splits(sample_split)
    per_split: dict[str, Counter[str]] = {name: Counter() for name in ("train", "val", "test")}
    for image_id, split_name in splits.items():
        per_split[split_name].update(name for name, *_ in voc_objects(SAMPLES / "Annotations" / f"{image_id}.xml"))
    images = Counter(splits.values())
    for name, ratio in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        assert abs(images[name] - ratio * len(splits)) < 1  # 48 images: 38.4, 4.8, 4.8
    totals = sum(per_split.values(), Counter())
    assert set(totals) == {"scratch", "spot", "crack", "inclusion"}
    for name, ratio in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        for label, total in totals.items():
            assert per_split[name][label] >= 1, (name, label)  # every class reaches every split
            assert abs(per_split[name][label] / total - ratio) <= 0.05 + 1e-9, (name, label)  # inclusion: 6/1/1 of 8
    manifest = json.loads((sample_split / "split.json").read_text())
    for name, counts in per_split.items():
        assert manifest["planned"][name]["boxes"] == {
            label: counts[label] for label in manifest["planned"][name]["boxes"]
        }
        assert manifest["planned"][name]["images"] == images[name]
        for label, deviation in manifest["planned"][name]["deviation"].items():
            share = counts[label] / totals[label]
            assert deviation == pytest.approx(share - {"train": 0.8, "val": 0.1, "test": 0.1}[name], abs=1e-6)


def test_the_same_seed_gives_the_same_splits_and_another_seed_others(sample_split: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    split(SAMPLES, again, seed=3, jobs=2)
    other = tmp_path / "other"
    split(SAMPLES, other, seed=4)
    assert voc_splits(again) == voc_splits(sample_split)
    assert voc_splits(other) != voc_splits(sample_split)


def test_random_split_keeps_image_counts_and_groups(tmp_path: Path) -> None:
    result = split(SAMPLES, tmp_path / "random", method="random", seed=1, ratios=(0.5, 0.5), images="none")
    assert Counter(voc_splits(tmp_path / "random").values()) == {"train": 24, "val": 24}
    assert result.manifest["split"]["method"] == "random"
    assert not list((tmp_path / "random" / "JPEGImages").glob("*"))  # --images none


# --- groups -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "read_splits"), [("yolo", yolo_splits), ("coco", coco_splits)])
def test_augmented_copies_go_with_their_source(
    fmt: str, read_splits: Callable[[Path], dict[str, str]], tmp_path: Path
) -> None:
    small_set = make_set(tmp_path / "small", [f"img{k:02d}.png" for k in range(12)], fmt=fmt)
    augmented = tmp_path / "augmented"
    augment(small_set, augmented, policy="light", copies=2, seed=1)
    copies = json.loads((augmented / "augment.json").read_text())["outputs"]
    assert len(copies) == 24
    dst = tmp_path / "split"
    result = CliRunner().invoke(
        main, ["split", str(augmented), str(dst), "--ratios", "0.5,0.25,0.25", "--group-by", "source", "-q"]
    )
    assert result.exit_code == 0, result.output
    splits = read_splits(dst)
    assert len(splits) == 36
    for entry in copies:
        copy_name, source_name = entry["image"].split("/", 1)[1], entry["source"].split("/", 1)[1]
        assert splits[copy_name] == splits[source_name], entry
    assert sorted(Counter(splits.values()).values()) == [9, 9, 18]  # whole groups of 3: 6, 3, 3 sources
    assert json.loads((dst / "split.json").read_text())["groups"]["count"] == 12


def test_tiles_of_one_image_go_together_and_so_do_tiles_augmented_later(tmp_path: Path) -> None:
    root = make_set(tmp_path / "big", [f"board{k}.png" for k in range(8)])
    for seed, path in enumerate(sorted((root / "images" / "train").glob("*.png"))):  # four 96x72 tiles each
        textured(path, 100 + seed, 192, 144)
    labels = root / "labels" / "train"
    for path in labels.glob("*.txt"):
        path.write_text("0 0.1 0.1 0.05 0.05\n1 0.9 0.9 0.05 0.05\n")
    tiles = tmp_path / "tiles"
    tile(root, tiles, size=(96, 72), overlap=0.0)
    entries = json.loads((tiles / "tiles.json").read_text())["tiles"]
    assert len(entries) == 32
    augmented = tmp_path / "tiles_augmented"
    augment(tiles, augmented, policy="light", copies=1, seed=2)
    copies = json.loads((augmented / "augment.json").read_text())["outputs"]
    for source, dst in ((tiles, tmp_path / "split_tiles"), (augmented, tmp_path / "split_augmented")):
        split(source, dst, ratios=(0.5, 0.5), seed=5)
        splits = yolo_splits(dst)
        board_of = {e["image"].split("/", 1)[1]: e["source"].split("/", 1)[1] for e in entries}
        board_of.update({c["image"].split("/", 1)[1]: board_of[c["source"].split("/", 1)[1]] for c in copies})
        by_board: dict[str, set[str]] = {}
        for name, split_name in splits.items():
            by_board.setdefault(board_of[name], set()).add(split_name)
        assert len(by_board) == 8
        assert all(len(found) == 1 for found in by_board.values()), by_board
        assert Counter(next(iter(found)) for found in by_board.values()) == {"train": 4, "val": 4}


def test_a_name_pattern_groups_images_by_its_first_capture(tmp_path: Path) -> None:
    names = [f"part{serial}_view{view}.png" for serial in range(6) for view in range(3)] + ["loose.png"]
    root = make_set(tmp_path, names)
    result = split(root, tmp_path / "out", ratios=(0.5, 0.5), group_by=[r"part(\d+)_"], seed=2)
    splits = yolo_splits(tmp_path / "out")
    for serial in range(6):
        assert len({splits[f"part{serial}_view{view}.png"] for view in range(3)}) == 1, serial
    assert result.report.counts["group_pattern_unmatched"] == 1
    assert result.manifest["groups"]["count"] == 7
    # no capture group: the whole match is the key (views 0 and 1 of every part share "view0"/"view1" keys)
    split(root, tmp_path / "whole", ratios=(0.5, 0.5), group_by=[r"view[01]"], seed=2)
    by_view = yolo_splits(tmp_path / "whole")
    assert len({by_view[f"part{s}_view0.png"] for s in range(6)}) == 1
    assert len({by_view[f"part{s}_view1.png"] for s in range(6)}) == 1


def test_files_with_the_same_bytes_go_together(tmp_path: Path) -> None:
    root = make_set(tmp_path, [f"img{k}.png" for k in range(10)])
    images = root / "images" / "train"
    shutil.copyfile(images / "img0.png", images / "zcopy.png")
    shutil.copyfile(root / "labels" / "train" / "img0.txt", root / "labels" / "train" / "zcopy.txt")
    for seed in range(4):
        split(root, tmp_path / f"out{seed}", ratios=(0.5, 0.5), seed=seed)
        splits = yolo_splits(tmp_path / f"out{seed}")
        assert splits["zcopy.png"] == splits["img0.png"]


def test_near_duplicates_go_together_when_asked(tmp_path: Path) -> None:
    records = []
    for k in range(8):
        path = tmp_path / "pixels" / f"scene{k}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(scene(k)).save(path)
        records.append(ImageRecord(path.name, "train", 320, 240, Boxes([[40, 50, 120, 110]], [k % 3]), path))
    small = tmp_path / "pixels" / "small.png"
    Image.fromarray(scene(0)).resize((160, 120), Image.BILINEAR).save(small)
    records.append(ImageRecord("small.png", "train", 160, 120, Boxes([[20, 25, 60, 55]], [0]), small))
    save(Dataset(CLASSES, tuple(records)), tmp_path / "set", to="yolo")
    apart = 0
    for seed in range(6):
        split(tmp_path / "set", tmp_path / f"near{seed}", ratios=(0.5, 0.5), seed=seed, group_by=["near-duplicates"])
        splits = yolo_splits(tmp_path / f"near{seed}")
        assert splits["small.png"] == splits["scene0.png"]
        split(tmp_path / "set", tmp_path / f"plain{seed}", ratios=(0.5, 0.5), seed=seed)
        plain = yolo_splits(tmp_path / f"plain{seed}")
        apart += plain["small.png"] != plain["scene0.png"]
    assert apart  # without the grouping, some seed parts them


def test_keep_leaves_val_and_test_alone_and_shares_out_the_rest(tmp_path: Path) -> None:
    names = [f"img{k:02d}.png" for k in range(40)]
    split_of = dict.fromkeys(names[:2], "val") | {names[2]: "test"} | dict.fromkeys(names[3:8], "default")
    root = make_set(tmp_path, names, fmt="yolo", split_of=split_of)
    result = split(root, tmp_path / "out", from_splits="keep", seed=1)
    splits = yolo_splits(tmp_path / "out")
    assert [splits[name] for name in names[:3]] == ["val", "val", "test"]
    assert Counter(splits.values()) == {"train": 32, "val": 4, "test": 4}
    assert result.manifest["split"]["from_splits"] == "keep"


def test_a_class_too_rare_for_every_split_is_warned_about(tmp_path: Path) -> None:
    root = make_set(tmp_path, [f"img{k}.png" for k in range(9)])
    labels = root / "labels" / "train"
    for path in labels.glob("*.txt"):
        path.write_text("0 0.5 0.5 0.2 0.2\n")
    (labels / "img3.txt").write_text("0 0.5 0.5 0.2 0.2\n2 0.2 0.2 0.1 0.1\n")  # crack: one box
    result = split(root, tmp_path / "out", seed=0)
    holder = yolo_splits(tmp_path / "out")["img3.png"]
    short = sorted((w.file, w.field) for w in result.report.warnings if w.code == "class_short_in_split")
    # spot has no box at all (nothing to share out); crack's one box can reach only one split
    assert short == sorted((name, "crack") for name in ("train", "val", "test") if name != holder)


# --- the command line -------------------------------------------------------------------------------------------


def test_the_summary_shows_the_split_and_class_tables(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["split", str(SAMPLES), str(tmp_path / "out"), "--seed", "3", "-j", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("split voc -> voc (stratified, seed 3)")
    header = next(line for line in lines if line.split()[:2] == ["class", "boxes"])
    assert header.split() == ["class", "boxes", "train", "val", "test"]
    crack = next(line for line in lines if line.split()[:1] == ["crack"])
    manifest = json.loads((tmp_path / "out" / "split.json").read_text())
    assert crack.split()[1] == str(sum(s["boxes"]["crack"] for s in manifest["planned"].values()))
    assert "worst class share off its ratio" in result.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--ratios", "0.8,0.3"], "add up to 1"),
        (["--ratios", "0.8,x"], "numbers separated by commas"),
        (["--ratios", "0.5,0.3,0.1,0.1"], "name the 4 splits"),
        (["--ratios", "0.5,0.5", "--names", "a,a"], "distinct name"),
        (["--group-by", "part(\\d+"], "not a regular expression"),
    ],
)
def test_usage_mistakes_exit_2_and_write_nothing(arguments: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["split", str(SAMPLES), str(tmp_path / "out"), *arguments])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_the_package_is_the_function(tmp_path: Path) -> None:
    assert bboxaug.split is split
    with pytest.raises(UsageError, match="one distinct name per ratio"):
        split(SAMPLES, tmp_path / "out", ratios=(0.5, 0.5), names=("train",))
