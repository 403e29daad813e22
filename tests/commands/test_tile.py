"""Tiling: the grid, the cut of every box checked against geometry computed here independently, the partial
policies, negatives by seed, mapping back, and whole runs on a generated 4000x3000 defect set and the chess photos.

Expected tile boxes are computed in this file with plain Python from the source annotation as written here (or,
for the corpus, as parsed here with `json`), and the output is read back with `json` too, so a mistake shared by
the tiler and bboxaug's readers cannot hide.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import shutil
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import bboxaug
from bboxaug.cli.main import main
from bboxaug.commands.tile import plan_tiles, tile
from bboxaug.core.errors import UsageError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord
from bboxaug.geometry.letterbox import PAD_VALUE, parse_size
from bboxaug.geometry.tiling import (
    TileSpec,
    axis_offsets,
    clip_to_window,
    cut_image,
    cut_tile,
    extra_window,
    sample_negatives,
    tile_to_source,
    tile_windows,
)
from bboxaug.io.masks import decode_rle, encode_rle
from bboxaug.io.names import tile_name
from bboxaug.pipeline.source import load

BACKGROUND = (60, 70, 80)  # RGB
CLASSES = ("scratch", "dent")
TOLERANCE = 1e-6

Truth = dict[str, dict]  # "split/name" -> {"size": (w, h), "boxes": [(label, (x0, y0, x1, y1))]}


# --- the generated defect set ---------------------------------------------------------------------------------


def make_defect_set(
    root: Path, *, count: int = 3, per_image: int = 40, seed: int = 7, width: int = 4000, height: int = 3000
) -> tuple[Path, Truth]:
    """`count` PNG images (solid background, `per_image` filled rectangles of 8-30 px in random colours, a few
    placed on tile borders by hand) in splits train and val, with a COCO file per split written here by hand."""
    rng = random.Random(seed)
    truth: Truth = {}
    files: dict[str, dict] = {}
    for index in range(count):
        split = "val" if index == 0 else "train"
        name = f"board{index}.png"
        pixels = np.empty((height, width, 3), np.uint8)
        pixels[:] = BACKGROUND
        boxes = (
            [
                ("scratch", (502, 40, 522, 60)),
                ("dent", (405, 100, 415, 120)),
                ("scratch", (3480, 1200, 3500, 1220)),
                ("dent", (width - 10, height - 12, width, height)),
            ]
            if index == 0
            else []
        )
        while len(boxes) < per_image:
            w, h = rng.randint(8, 30), rng.randint(8, 30)
            x, y = rng.randint(0, width - w), rng.randint(0, height - h)
            boxes.append((rng.choice(CLASSES), (x, y, x + w, y + h)))
        for _, (x0, y0, x1, y1) in boxes:
            pixels[y0:y1, x0:x1] = (rng.randint(130, 255), rng.randint(0, 50), rng.randint(130, 255))
        path = root / "images" / split / name
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
        truth[f"{split}/{name}"] = {"size": (width, height), "boxes": boxes}
        coco = files.setdefault(
            split,
            {"images": [], "annotations": [], "categories": [{"id": i + 1, "name": n} for i, n in enumerate(CLASSES)]},
        )
        image_id = len(coco["images"]) + 1
        coco["images"].append({"id": image_id, "file_name": name, "width": width, "height": height})
        for label, (x0, y0, x1, y1) in boxes:
            coco["annotations"].append(
                {
                    "id": len(coco["annotations"]) + 1,
                    "image_id": image_id,
                    "category_id": CLASSES.index(label) + 1,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": (x1 - x0) * (y1 - y0),
                    "iscrowd": 0,
                }
            )
    for split, coco in files.items():
        target = root / "annotations" / f"instances_{split}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(coco))
    return root, truth


def coco_truth(files: list[Path], images_of: str = "") -> Truth:
    """Boxes of COCO files as parsed here with `json`, keyed `split/file_name` (split: the Roboflow folder)."""
    truth: Truth = {}
    for file in files:
        data = json.loads(file.read_text())
        split = file.parent.name if file.name == "_annotations.coco.json" else file.stem.split("_", 1)[1]
        names = {c["id"]: c["name"] for c in data["categories"]}
        by_id = {}
        for image in data["images"]:
            by_id[image["id"]] = truth[f"{split}/{image['file_name']}"] = {
                "size": (image["width"], image["height"]),
                "boxes": [],
            }
        for ann in data["annotations"]:
            x, y, w, h = ann["bbox"]
            by_id[ann["image_id"]]["boxes"].append((names[ann["category_id"]], (x, y, x + w, y + h)))
    return truth


# --- geometry computed independently ------------------------------------------------------------------------------


def grid_starts(length: int, tile_size: int, overlap: float) -> list[int]:
    """Tile starts along an axis, by walking: step by the stride until a tile would pass the end, then one tile
    ending on the end."""
    if length <= tile_size:
        return [0]
    stride = tile_size - min(round(overlap * tile_size), tile_size - 1)
    starts = [0]
    while starts[-1] + tile_size < length:
        starts.append(min(starts[-1] + stride, length - tile_size))
    return starts


def expected_cut(boxes: list, window: tuple, min_visibility: float) -> tuple[list, int]:
    """The boxes a tile must hold (label, tile xyxy) and the number of visible boxes under `min_visibility`."""
    x0, y0, x1, y1 = window
    kept, partial = [], 0
    for label, (a, b, c, d) in boxes:
        cx0, cy0, cx1, cy1 = max(a, x0), max(b, y0), min(c, x1), min(d, y1)
        if cx1 <= cx0 or cy1 <= cy0:
            continue
        if (cx1 - cx0) * (cy1 - cy0) / ((c - a) * (d - b)) >= min_visibility:
            kept.append((label, (cx0 - x0, cy0 - y0, cx1 - x0, cy1 - y0)))
        else:
            partial += 1
    return kept, partial


def same_boxes(found: list, expected: list) -> bool:
    """Equal as multisets of (label, xyxy), coordinates within TOLERANCE."""
    if len(found) != len(expected):
        return False

    def key(item: tuple) -> tuple:
        return str(item[0]), [round(v, 3) for v in item[1]]

    return all(
        a[0] == b[0] and max(abs(p - q) for p, q in zip(a[1], b[1], strict=True)) <= TOLERANCE
        for a, b in zip(sorted(found, key=key), sorted(expected, key=key), strict=True)
    )


def written_tiles(dst: Path) -> tuple[dict, dict[str, list]]:
    """The manifest, and each written tile's boxes (class name, xyxy) read from the COCO output with `json`."""
    manifest = json.loads((dst / "tiles.json").read_text())
    boxes: dict[str, list] = {}
    for file in sorted((dst / "annotations").glob("instances_*.json")):
        data = json.loads(file.read_text())
        split = file.stem.removeprefix("instances_")
        names = {c["id"]: c["name"] for c in data["categories"]}
        by_id = {image["id"]: f"{split}/{image['file_name']}" for image in data["images"]}
        for key in by_id.values():
            boxes[key] = []
        for ann in data["annotations"]:
            x, y, w, h = ann["bbox"]
            boxes[by_id[ann["image_id"]]].append((names[ann["category_id"]], (x, y, x + w, y + h)))
    return manifest, boxes


def check_tiling(dst: Path, truth: Truth, size: tuple[int, int], min_visibility: float, *, reject: bool) -> dict:
    """Every written tile holds exactly the clipped source boxes (reject: and no visible box without a label);
    tile boxes map back to the source boxes cut to the tile, and whole ones to the source boxes exactly; the counts
    add up. Returns the counts and the source boxes lying whole in no written tile."""
    manifest, boxes = written_tiles(dst)
    assert sorted(boxes) == sorted(entry["image"] for entry in manifest["tiles"])
    grid_tiles, visible_pairs, whole = 0, 0, Counter()
    for source in truth.values():
        width, height = source["size"]
        grid_tiles += len(grid_starts(width, size[0], 0.2)) * len(grid_starts(height, size[1], 0.2))
    for entry in manifest["tiles"]:
        source = truth[entry["source"]]
        width, height = source["size"]
        x, y = entry["offset"]
        window = (x, y, min(x + size[0], width), min(y + size[1], height))
        assert entry["padding"] == [0, 0, x + size[0] - window[2], y + size[1] - window[3]]
        if not entry["extra"]:
            assert x in grid_starts(width, size[0], 0.2) and y in grid_starts(height, size[1], 0.2)
        stem, extension = entry["source"].split("/", 1)[1].rsplit(".", 1)
        assert entry["image"].split("/", 1)[1] == f"{stem}_{x}_{y}.{extension}"
        expected, partial = expected_cut(source["boxes"], window, min_visibility)
        if reject:
            assert partial == 0, f"{entry['image']} shows {partial} visible boxes without a label"
        assert same_boxes(boxes[entry["image"]], expected), entry["image"]
        for label, (a, b, c, d) in source["boxes"]:  # reproject every source box onto the tile
            visible = min(c, window[2]) > max(a, window[0]) and min(d, window[3]) > max(b, window[1])
            if visible and reject:
                clipped = (max(a, window[0]) - x, max(b, window[1]) - y, min(c, window[2]) - x, min(d, window[3]) - y)
                assert any(same_boxes([found], [(label, clipped)]) for found in boxes[entry["image"]])
            if window[0] <= a and window[1] <= b and c <= window[2] and d <= window[3]:
                back = tile_to_source([[a - x, b - y, c - x, d - y]], (x, y))[0]
                assert np.allclose(back, (a, b, c, d), atol=TOLERANCE, rtol=0)
                whole[entry["source"], (label, (a, b, c, d))] += 1
        for label, xyxy in boxes[entry["image"]]:  # and every tile box maps back into its source box
            back = tile_to_source([xyxy], (x, y), (width, height))[0]
            assert any(
                np.allclose(
                    back,
                    (max(a, window[0]), max(b, window[1]), min(c, window[2]), min(d, window[3])),
                    atol=TOLERANCE,
                    rtol=0,
                )
                for name, (a, b, c, d) in source["boxes"]
                if name == label
            )
    not_whole = [(key, box) for key, source in truth.items() for box in source["boxes"] if not whole[key, box]]
    assert manifest["source_boxes"]["whole_in_no_tile"] == len(not_whole)
    assert manifest["source_boxes"]["whole_in_a_tile"] == sum(len(s["boxes"]) for s in truth.values()) - len(not_whole)
    planned = manifest["tile_counts"]
    assert planned["planned"] == grid_tiles + planned["extra"]
    assert (
        planned["planned"]
        == planned["written"] + planned["rejected"] + planned["negatives_skipped"] + planned["failed"]
    )
    assert planned["written"] == len(manifest["tiles"])
    counts = manifest["box_counts"]
    assert counts["visible"] == counts["kept"] + counts["kept_partial"] + counts["dropped"] + counts["rejected"]
    assert counts["kept"] + counts["kept_partial"] == sum(map(len, boxes.values()))
    for entry in manifest["tiles"] + manifest["rejected"]:
        source = truth[entry["source"]]
        x, y = entry["offset"]
        window = (x, y, min(x + size[0], source["size"][0]), min(y + size[1], source["size"][1]))
        visible_pairs += sum(
            1
            for _, (a, b, c, d) in source["boxes"]
            if min(c, window[2]) > max(a, window[0]) and min(d, window[3]) > max(b, window[1])
        )
    assert counts["visible"] == visible_pairs
    return {"tiles": planned, "boxes": counts, "not_whole": not_whole}


# --- pure geometry ----------------------------------------------------------------------------------------------


def test_grid_shifts_the_last_tile_back_and_keeps_small_axes_whole() -> None:
    assert TileSpec(512, 512).stride == (410, 410) and TileSpec(512, 512).overlap_px == (102, 102)
    assert axis_offsets(4000, 512, 410) == [0, 410, 820, 1230, 1640, 2050, 2460, 2870, 3280, 3488]
    assert axis_offsets(1371, 1024, 819) == [0, 347]
    assert axis_offsets(512, 512, 410) == [0] and axis_offsets(300, 512, 410) == [0]
    assert tile_windows(300, 700, TileSpec(512, 512)) == [(0, 0, 300, 512), (0, 188, 300, 700)]
    assert parse_size("640x480") == (640, 480) and parse_size("512") == (512, 512)
    for bad in ("0", "12x", "x5", "-3", "1.5"):
        with pytest.raises(UsageError):
            parse_size(bad)
    with pytest.raises(UsageError):
        TileSpec(512, 512, 1.0)


@given(
    length=st.integers(1, 5000),
    tile_size=st.integers(1, 900),
    overlap=st.floats(0, 0.9),
    start=st.floats(0, 1),
    extent=st.floats(0, 1),
)
def test_every_interval_no_longer_than_the_overlap_lies_whole_in_a_tile(
    length: int, tile_size: int, overlap: float, start: float, extent: float
) -> None:
    spec = TileSpec(tile_size, tile_size, overlap)
    starts = axis_offsets(length, tile_size, spec.stride[0])
    assert starts == grid_starts(length, tile_size, overlap)
    assert starts[0] == 0 and (starts[-1] + tile_size == length or length <= tile_size)
    assert all(b - a <= spec.stride[0] for a, b in itertools.pairwise(starts))
    low = start * length
    high = min(length, low + extent * spec.overlap_px[0])
    assert any(s <= low and high <= s + tile_size for s in starts)


def test_clip_measures_the_visible_share() -> None:
    clipped, fraction = clip_to_window(
        np.array([[400, 40, 420, 60], [0, 0, 10, 10], [405, 0, 410, 5]]), (410, 0, 922, 512)
    )
    assert clipped[0].tolist() == [410, 40, 420, 60] and fraction.tolist() == [0.5, 0.0, 0.0]


def boxes_fixture() -> Boxes:
    return Boxes(
        [[400, 40, 420, 60], [100, 100, 130, 120], [402, 200, 412, 210]],
        [0, 1, 0],
        {
            "difficult": [False, True, False],
            "area": [400.0, 600.0, 200.0],
            "source_id": [7, 8, 9],
            "segmentation": [[[400, 40, 420, 40, 420, 60, 400, 60]], None, {"size": [1, 1], "counts": "x"}],
        },
    )


@pytest.mark.parametrize(
    "partial, rows, rejected", [("drop", [0], False), ("keep", [0, 2], False), ("reject", [0], True)]
)
def test_partial_policies_decide_on_boxes_under_min_visibility(partial: str, rows: list[int], rejected: bool) -> None:
    cut = cut_tile(boxes_fixture(), (410, 0, 922, 512), 0.5, partial)  # type: ignore[arg-type]
    assert (cut.visible, cut.partial, cut.rejected) == (2, 1, rejected)
    expected = {0: [0, 40, 10, 60], 2: [0, 200, 2, 210]}
    assert cut.boxes.xyxy.tolist() == [expected[row] for row in rows]
    assert cut.boxes.labels.tolist() == [0] * len(rows)
    assert cut.boxes.columns["truncated"].tolist() == [True] * len(rows)
    assert cut.boxes.columns["difficult"].tolist() == [False] * len(rows)
    assert "area" not in cut.boxes.columns and "source_id" not in cut.boxes.columns
    assert cut.boxes.columns["segmentation"][0] == [[0, 40, 10, 40, 10, 60, 0, 60]]
    assert cut.whole == frozenset()


def test_a_box_inside_a_tile_keeps_its_exact_coordinates_and_maps_back() -> None:
    boxes = Boxes([[1230.25, 900.5, 1250.75, 921.125]], [1])
    cut = cut_tile(boxes, (1230, 820, 1742, 1332), 0.5, "reject")
    assert cut.boxes.xyxy.tolist() == [[0.25, 80.5, 20.75, 101.125]] and cut.whole == {0}
    assert "truncated" not in cut.boxes.columns
    assert tile_to_source(cut.boxes.xyxy, cut.offset).tolist() == boxes.xyxy.tolist()
    assert tile_to_source([[500, 500, 530, 520]], (3488, 2488), (4000, 3000)).tolist() == [[3988, 2988, 4000, 3000]]


def test_an_extra_tile_holds_a_box_whose_grid_tiles_were_rejected() -> None:
    # Box 0 lies whole only in tile x=0 (it crosses x=410), which box 1 (4/11 visible there) gets rejected.
    boxes = Boxes([[400, 40, 430, 60], [508, 300, 519, 320]], [0, 0])
    image = ImageRecord("a.png", "train", 922, 512, boxes)
    spec = TileSpec(512, 512)
    cuts = [cut_tile(boxes, window, 0.5, "reject") for window in tile_windows(922, 512, spec)]
    assert [(c.offset, c.rejected, sorted(c.whole)) for c in cuts] == [((0, 0), True, [0]), ((410, 0), False, [1])]
    window = extra_window(boxes, 0, 922, 512, spec, 0.5, "reject")
    assert window is not None and window[0] <= 400 and window[2] >= 430
    extra = cut_tile(boxes, window, 0.5, "reject")
    assert not extra.rejected and 0 in extra.whole
    plan = plan_tiles(
        Dataset((ClassInfo(None, "a"),), (image,)), spec, min_visibility=0.5, partial="reject", negatives=1.0, seed=0
    )
    assert [cut.extra for _, cut in plan.tiles] == [False, True]
    assert extra_window(Boxes([[0, 0, 600, 10]], [0]), 0, 922, 512, spec, 0.5, "reject") is None  # wider than a tile


def test_negatives_are_sampled_by_seed_to_the_exact_share() -> None:
    keys = [f"train/a.png@{i},0" for i in range(50)]
    chosen = sample_negatives(keys, 0.3, seed=1)
    assert len(chosen) == 15 and chosen == sample_negatives(list(reversed(keys)), 0.3, seed=1)
    assert chosen != sample_negatives(keys, 0.3, seed=2)
    assert sample_negatives(keys, 0.0, 1) == set() and sample_negatives(keys, 1.0, 1) == set(keys)
    assert tile_name("sub/a.JPG", 3, 4) == "sub/a_3_4.JPG" and tile_name("b.gif", 0, 0) == "b_0_0.png"


# --- whole runs ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def defects(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    return make_defect_set(tmp_path_factory.mktemp("defects"))


@pytest.fixture(scope="module")
def tiled(defects: tuple[Path, Truth], tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = tmp_path_factory.mktemp("tiled") / "out"
    tile(defects[0], dst, size=512, jobs=2)
    return dst


def test_defect_tiles_hold_the_clipped_boxes_and_no_unlabelled_defect(defects: tuple[Path, Truth], tiled: Path) -> None:
    numbers = check_tiling(tiled, defects[1], (512, 512), 0.5, reject=True)
    assert numbers["not_whole"] == []  # every defect lies whole in some written tile
    assert numbers["tiles"]["rejected"] > 0 and numbers["tiles"]["extra"] > 0  # the policy and the rescue ran
    assert numbers["tiles"]["planned"] == 3 * 80 + numbers["tiles"]["extra"]


def test_defect_tile_pixels_are_the_source_crop_and_defects_all_carry_labels(
    defects: tuple[Path, Truth], tiled: Path
) -> None:
    manifest, boxes = written_tiles(tiled)
    sources = {key: cv2.imread(str(defects[0] / "images" / key)) for key in defects[1]}
    background = np.array(BACKGROUND[::-1], np.uint8)
    for entry in manifest["tiles"]:
        x, y = entry["offset"]
        pixels = cv2.imread(str(tiled / entry["path"]))
        assert np.array_equal(pixels, sources[entry["source"]][y : y + 512, x : x + 512])
        unlabelled = (pixels != background).any(axis=2)
        for _, (x0, y0, x1, y1) in boxes[entry["image"]]:
            unlabelled[math.floor(y0) : math.ceil(y1), math.floor(x0) : math.ceil(x1)] = False
        assert not unlabelled.any(), f"{entry['image']}: defect pixels without a label"


def test_tiles_load_back_with_their_splits(defects: tuple[Path, Truth], tiled: Path) -> None:
    dataset = load(tiled)
    manifest = json.loads((tiled / "tiles.json").read_text())
    assert {image.split for image in dataset.images} == {"train", "val"}
    assert len(dataset.images) == manifest["images"] == manifest["tile_counts"]["written"]
    sources = {entry["image"]: entry["source"].split("/")[0] for entry in manifest["tiles"]}
    assert all(sources[f"{image.split}/{image.name}"] == image.split for image in dataset.images)
    assert dataset.class_names == list(CLASSES)
    assert all((image.width, image.height) == (512, 512) for image in dataset.images)


@pytest.mark.parametrize("fmt", ["yolo", "voc", "labelme"])
def test_tiles_are_written_in_every_format(defects: tuple[Path, Truth], tmp_path: Path, fmt: str) -> None:
    result = tile(defects[0], tmp_path / fmt, size=2048, to=fmt, negatives=0.5, seed=1)
    written = {f"{image.split}/{image.name}": image for image in result.dataset.images}
    loaded = load(tmp_path / fmt)
    assert sorted(f"{image.split}/{image.name}" for image in loaded.images) == sorted(written)
    assert {image.split for image in loaded.images} == {"train", "val"}
    for image in loaded.images:
        expected = written[f"{image.split}/{image.name}"]
        assert (image.width, image.height) == (2048, 2048)
        found = [
            (loaded.class_names[k], tuple(xyxy))
            for k, xyxy in zip(image.boxes.labels, image.boxes.xyxy.round(2).tolist(), strict=True)
        ]
        assert sorted(found) == sorted(
            (result.dataset.class_names[k], tuple(xyxy))
            for k, xyxy in zip(expected.boxes.labels, expected.boxes.xyxy.round(2).tolist(), strict=True)
        )


def test_same_bytes_for_one_or_two_workers(defects: tuple[Path, Truth], tmp_path: Path) -> None:
    for jobs in (1, 2):
        tile(defects[0], tmp_path / str(jobs), size=2048, negatives=0.5, seed=3, jobs=jobs)
    trees = [
        {
            p.relative_to(tmp_path / str(j)).as_posix(): p.read_bytes()
            for p in (tmp_path / str(j)).rglob("*")
            if p.is_file()
        }
        for j in (1, 2)
    ]
    assert trees[0] == trees[1] and len(trees[0]) > 10


def test_drop_and_keep_write_every_grid_tile_and_count_what_they_did(defects: tuple[Path, Truth]) -> None:
    dataset = load(defects[0])
    spec = TileSpec(512, 512)
    drop = plan_tiles(dataset, spec, min_visibility=0.5, partial="drop", negatives=1.0, seed=0)
    keep = plan_tiles(dataset, spec, min_visibility=0.5, partial="keep", negatives=1.0, seed=0)
    reject = plan_tiles(dataset, spec, min_visibility=0.5, partial="reject", negatives=1.0, seed=0)
    for plan in (drop, keep):
        assert plan.tile_counts["rejected"] == 0 and plan.tile_counts["extra"] == 0
        assert len(plan.tiles) == 240
    assert drop.box_counts["dropped"] == keep.box_counts["kept_partial"] > 0
    assert reject.tile_counts["rejected"] == sum(1 for _, cut in keep.tiles if cut.partial) > 0
    assert keep.box_counts["visible"] == keep.box_counts["kept"] + keep.box_counts["kept_partial"]
    truth = defects[1]
    for image, cut in keep.tiles:
        expected, _ = expected_cut(truth[f"{image.split}/{image.name}"]["boxes"], cut.window, 0.0)
        found = [
            (dataset.class_names[label], xyxy)
            for label, xyxy in zip(cut.boxes.labels, cut.boxes.xyxy.tolist(), strict=True)
        ]
        assert same_boxes(found, expected)


def test_negative_tiles_are_kept_by_share_and_seed(defects: tuple[Path, Truth]) -> None:
    dataset = load(defects[0])
    spec = TileSpec(512, 512)
    every = plan_tiles(dataset, spec, min_visibility=0.5, partial="reject", negatives=1.0, seed=0)
    negatives = Counter(image.split for image, cut in every.tiles if not len(cut.boxes))
    some = plan_tiles(dataset, spec, min_visibility=0.5, partial="reject", negatives=0.25, seed=3)
    again = plan_tiles(dataset, spec, min_visibility=0.5, partial="reject", negatives=0.25, seed=3)
    other = plan_tiles(dataset, spec, min_visibility=0.5, partial="reject", negatives=0.25, seed=4)
    kept = Counter(image.split for image, cut in some.tiles if not len(cut.boxes))
    assert kept == {split: math.floor(0.25 * n + 0.5) for split, n in negatives.items()}
    assert some.tile_counts["negatives_skipped"] == sum(negatives.values()) - sum(kept.values())
    offsets = [(image.name, cut.offset) for image, cut in some.tiles]
    assert offsets == [(image.name, cut.offset) for image, cut in again.tiles]
    assert offsets != [(image.name, cut.offset) for image, cut in other.tiles]
    assert sum(1 for _, cut in some.tiles if len(cut.boxes)) == sum(1 for _, cut in every.tiles if len(cut.boxes))


def no_place_holds_whole(
    boxes: np.ndarray, row: int, size: tuple[int, int], tile_size: int, min_visibility: float
) -> bool:
    """Brute force: no tile position on whole pixels holds box `row` whole without showing another box under
    `min_visibility` of its area."""
    width, height = size
    x0, y0, x1, y1 = boxes[row]
    xs = np.arange(max(0, math.ceil(x1) - tile_size), min(math.floor(x0), width - tile_size) + 1)
    ys = np.arange(max(0, math.ceil(y1) - tile_size), min(math.floor(y0), height - tile_size) + 1)
    for y in ys:
        seen_x = np.clip(
            np.minimum(boxes[:, 2], xs[:, None] + tile_size) - np.maximum(boxes[:, 0], xs[:, None]), 0, None
        )
        seen_y = np.clip(np.minimum(boxes[:, 3], y + tile_size) - np.maximum(boxes[:, 1], y), 0, None)
        share = seen_x * seen_y / ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
        if (~((share > 0) & (share < min_visibility))).all(axis=1).any():
            return False
    return True


@pytest.mark.parametrize("partial", ["reject", "keep"])
def test_chess_photos_tile_exactly(corpus: Path, tmp_path: Path, partial: str) -> None:
    files = [corpus / "chess_coco_test" / "test" / "_annotations.coco.json"]
    truth = coco_truth(files)
    sides = np.array([(c - a, d - b) for source in truth.values() for _, (a, b, c, d) in source["boxes"]])
    assert len(truth) == 29 and len(sides) == 376
    assert sides[:, 0].max() <= TileSpec(1024, 1024).overlap_px[0]  # every box fits the default overlap
    dst = tmp_path / "chess"
    result = tile(files[0].parent, dst, size=1024, partial=partial, to="coco", jobs=2)  # type: ignore[arg-type]
    numbers = check_tiling(dst, truth, (1024, 1024), 0.5 if partial == "reject" else 0.0, reject=partial == "reject")
    assert numbers["tiles"]["planned"] == 29 * 6 + numbers["tiles"]["extra"]
    assert {image.split for image in load(dst).images} == {"test"}
    if partial == "keep":
        assert numbers["not_whole"] == [] and numbers["tiles"]["written"] == 29 * 6
        assert numbers["boxes"]["kept_partial"] > 0
    else:  # a dense board: where no tile holds a piece whole without cutting another, it is counted and warned
        assert 0 < len(numbers["not_whole"]) == result.report.counts["boxes_whole_in_no_tile"] < 376 // 10
        for key, box in numbers["not_whole"]:
            boxes = np.array([xyxy for _, xyxy in truth[key]["boxes"]], dtype=np.float64)
            row = [xyxy for _, xyxy in truth[key]["boxes"]].index(box[1])
            assert no_place_holds_whole(boxes, row, truth[key]["size"], 1024, 0.5), (key, box)


def test_chess_at_640_holds_every_box_whole_in_a_tile_where_one_can(corpus: Path) -> None:
    src = corpus / "chess_coco_test" / "test"
    dataset = load(src)
    spec = TileSpec(640, 640)
    for partial in ("drop", "keep", "reject"):
        plan = plan_tiles(dataset, spec, min_visibility=0.5, partial=partial, negatives=1.0, seed=0)  # type: ignore[arg-type]
        counts = plan.tile_counts
        assert counts["planned"] == 29 * 4 * 3 + counts["extra"] == len(plan.tiles) + counts["rejected"]
        for image in dataset.images:
            grid = tile_windows(image.width, image.height, spec)
            cuts = [cut for source, cut in plan.tiles if source.key == image.key]  # records are views: compare keys
            for row, (a, b, c, d) in enumerate(image.boxes.xyxy.tolist()):
                if c - a <= spec.overlap_px[0] and d - b <= spec.overlap_px[1]:
                    assert any(w[0] <= a and w[1] <= b and c <= w[2] and d <= w[3] for w in grid)
                if not any(row in cut.whole for cut in cuts):  # only where no tile can do it
                    assert partial == "reject" and no_place_holds_whole(
                        image.boxes.xyxy, row, (image.width, image.height), 640, 0.5
                    ), (image.name, row, partial)


def test_small_images_are_padded_and_the_padding_recorded(tmp_path: Path) -> None:
    pixels = np.full((200, 300), 40, np.uint8)
    pixels[50:80, 100:140] = 250
    (tmp_path / "src" / "images" / "train").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "src" / "images" / "train" / "grey.png"), pixels)
    (tmp_path / "src" / "data.yaml").write_text("path: .\ntrain: images/train\nnames:\n  0: blob\n")
    (tmp_path / "src" / "labels" / "train").mkdir(parents=True)
    (tmp_path / "src" / "labels" / "train" / "grey.txt").write_text("0 0.4 0.325 0.133333333 0.15\n")
    result = CliRunner().invoke(
        main, ["tile", str(tmp_path / "src"), str(tmp_path / "out"), "--size", "512", "--to", "coco", "-q"]
    )
    assert result.exit_code == 0, result.output
    manifest, boxes = written_tiles(tmp_path / "out")
    (entry,) = manifest["tiles"]
    assert entry["padding"] == [0, 0, 212, 312] and entry["offset"] == [0, 0] and entry["size"] == [512, 512]
    written = cv2.imread(str(tmp_path / "out" / entry["path"]), cv2.IMREAD_UNCHANGED)
    assert written.shape == (512, 512)
    assert np.array_equal(written[:200, :300], pixels) and (written[200:] == PAD_VALUE).all()
    assert (written[:, 300:] == PAD_VALUE).all()
    ((label, xyxy),) = boxes[entry["image"]]
    assert label == "blob" and np.allclose(xyxy, (100, 50, 140, 80), atol=1e-4)


def test_a_box_no_tile_can_hold_whole_without_a_rejection_is_counted_and_warned(tmp_path: Path) -> None:
    # The corner box fits only the corner tile (488, 88), which the other box (0.36 visible there) rejects.
    pixels = np.zeros((600, 1000, 3), np.uint8)
    (tmp_path / "src").mkdir()
    cv2.imwrite(str(tmp_path / "src" / "corner.png"), pixels)
    coco = {
        "images": [{"id": 1, "file_name": "corner.png", "width": 1000, "height": 600}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [480, 80, 20, 20]},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [990, 590, 10, 10]},
        ],
        "categories": [{"id": 1, "name": "dent"}],
    }
    (tmp_path / "src" / "_annotations.coco.json").write_text(json.dumps(coco))
    result = CliRunner().invoke(main, ["tile", str(tmp_path / "src"), str(tmp_path / "out"), "--size", "512"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "tiles.json").read_text())
    assert [(entry["offset"], entry["partial_boxes"]) for entry in manifest["rejected"]] == [([488, 88], 1)]
    assert manifest["source_boxes"]["whole_in_no_tile"] == 1 and manifest["counts"]["boxes_whole_in_no_tile"] == 1
    assert [(warning["code"], warning["file"]) for warning in manifest["warnings"]] == [
        ("boxes_whole_in_no_tile", "src/corner.png")
    ]
    assert "lie whole in no written tile" in result.output and "1 box(es)" in result.output
    keep = CliRunner().invoke(
        main, ["tile", str(tmp_path / "src"), str(tmp_path / "keep"), "--size", "512", "--partial", "keep", "-q"]
    )
    assert keep.exit_code == 0
    assert json.loads((tmp_path / "keep" / "tiles.json").read_text())["source_boxes"]["whole_in_no_tile"] == 0


def test_exif_rotated_sources_are_tiled_upright(tmp_path: Path) -> None:
    stored = np.zeros((200, 300, 3), np.uint8)
    stored[:, :, 0] = np.linspace(0, 255, 300, dtype=np.uint8)[None, :]  # red grows along the stored rows
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter clockwise: 200 wide, 300 high
    (tmp_path / "src").mkdir()
    Image.fromarray(stored).save(tmp_path / "src" / "turned.jpg", quality=98, exif=exif.tobytes())
    coco = {
        "images": [{"id": 1, "file_name": "turned.jpg", "width": 200, "height": 300}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 50]}],
        "categories": [{"id": 1, "name": "dent"}],
    }
    (tmp_path / "src" / "_annotations.coco.json").write_text(json.dumps(coco))
    tile(tmp_path / "src", tmp_path / "out", size=128)
    manifest = json.loads((tmp_path / "out" / "tiles.json").read_text())
    assert sorted(tuple(entry["offset"]) for entry in manifest["tiles"]) == [
        (x, y) for x in (0, 72) for y in (0, 102, 172)
    ]
    upright = np.rot90(stored, -1)
    for entry in manifest["tiles"]:
        x, y = entry["offset"]
        with Image.open(tmp_path / "out" / entry["path"]) as written:
            assert written.getexif().get(0x0112, 1) == 1
            pixels = np.asarray(written.convert("RGB"), dtype=np.float64)
        assert np.abs(pixels - upright[y : y + 128, x : x + 128]).mean() < 3.0


def test_cli_runs_and_refuses_bad_options(defects: tuple[Path, Truth], tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(main, ["tile", str(defects[0]), str(tmp_path / "x"), "--size", "512", "--partial", "some"])
    assert bad.exit_code == 2 and not (tmp_path / "x").exists()
    bad = runner.invoke(main, ["tile", str(defects[0]), str(tmp_path / "x"), "--size", "512", "--overlap", "1"])
    assert bad.exit_code == 2


def test_an_unreadable_image_is_skipped_with_its_tiles_counted(defects: tuple[Path, Truth], tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(defects[0], src)
    (src / "images" / "val" / "board0.png").write_bytes(b"not a png")
    result = CliRunner().invoke(main, ["tile", str(src), str(tmp_path / "out"), "--size", "2048", "--on-error", "skip"])
    assert result.exit_code == 1, result.output
    assert "board0.png" in result.output
    manifest = json.loads((tmp_path / "out" / "tiles.json").read_text())
    counts = manifest["tile_counts"]
    assert counts["planned"] == 3 * 6 + counts["extra"] and counts["written"] > 0
    assert counts["failed"] > 0
    assert counts["planned"] == counts["written"] + counts["rejected"] + counts["negatives_skipped"] + counts["failed"]
    assert {entry["source"] for entry in manifest["tiles"]} == {"train/board1.png", "train/board2.png"}
    assert manifest["source_boxes"]["in_failed_images"] == 40
    assert {(Path(problem["file"]).name, problem["code"]) for problem in manifest["skipped"]} == {
        ("board0.png", "unreadable_image")
    }
    failing = CliRunner().invoke(main, ["tile", str(src), str(tmp_path / "again"), "--size", "2048"])
    assert failing.exit_code == 1 and not (tmp_path / "again").exists()
    assert not list(tmp_path.glob(".again*"))


def test_tiles_are_cut_from_the_preprocessed_sources(tmp_path: Path) -> None:
    src, _ = make_defect_set(tmp_path / "src", count=2, per_image=12, width=600, height=400)
    steps = "crop:40,0,560,400;grayscale:1"
    result = tile(src / "annotations" / "instances_train.json", tmp_path / "out", size=256, preprocess=steps)
    assert result.manifest["preprocess"] == [
        {"crop": {"x0": 40, "y0": 0, "x1": 560, "y1": 400}},
        {"grayscale": {"channels": 1}},
    ]
    sources = {image.key: image for image in load(src / "annotations" / "instances_train.json").images}
    assert result.manifest["tiles"]
    for entry in result.manifest["tiles"]:
        assert entry["source_size"] == [520, 400]
        source = sources[entry["source"]]
        whole = bboxaug.preprocess(cv2.cvtColor(cv2.imread(str(source.source)), cv2.COLOR_BGR2RGB), steps)
        written = cv2.imread(str(tmp_path / "out" / entry["path"]), cv2.IMREAD_UNCHANGED)
        x, y = entry["offset"]
        assert written.ndim == 2 and np.array_equal(written[:256, :256], whole[y : y + 256, x : x + 256])


#: A lower-left triangle (y >= x) in a 200 x 200 image: its box [10, 10, 190, 190] covers a quarter of the
#: top-right tile (x 100..200, y 0..100), where the triangle itself has no area (it touches the corner only).
TRIANGLE = [10.0, 10.0, 10.0, 190.0, 190.0, 190.0]


def triangle_mask() -> np.ndarray:
    """The triangle's pixels: centres (c + 0.5, r + 0.5) inside it, found without bboxaug."""
    rows, columns = np.mgrid[0:200, 0:200] + 0.5
    return (columns >= 10) & (rows <= 190) & (rows >= columns)


@pytest.mark.parametrize("shape", ["polygon", "mask"])
def test_a_tile_judges_a_box_by_its_shape_not_its_box(shape: str) -> None:
    segmentation = [TRIANGLE] if shape == "polygon" else encode_rle(triangle_mask())
    boxes = Boxes([[10, 10, 190, 190]], [0], {"segmentation": [segmentation]})
    image = ImageRecord("t.png", "train", 200, 200, boxes)
    cuts = {cut.offset: cut for cut in cut_image(image, TileSpec(100, 100, 0.0), 0.2, "keep")}
    assert not len(cuts[(100, 0)].boxes) and cuts[(100, 0)].visible == 0  # the box alone would show there (0.25)
    # Where the triangle is: its visible part's envelope, in tile pixels; each share measured on the shape.
    expected = {(0, 0): [10, 10, 100, 100], (0, 100): [10, 0, 100, 90], (100, 100): [0, 0, 90, 90]}
    for offset, xyxy in expected.items():
        np.testing.assert_allclose(cuts[offset].boxes.xyxy, [xyxy], atol=0.5 if shape == "mask" else 1e-9)
        assert cuts[offset].boxes.columns["truncated"].tolist() == [True]
    if shape == "polygon":
        corners = np.array(cuts[(0, 100)].boxes.columns["segmentation"][0][0]).reshape(-1, 2)
        assert sorted(set(map(tuple, corners.tolist()))) == [(10, 0), (10, 90), (100, 0), (100, 90)]
    else:
        np.testing.assert_array_equal(
            decode_rle(cuts[(0, 100)].boxes.columns["segmentation"][0]), triangle_mask()[100:, :100]
        )
