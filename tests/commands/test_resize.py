"""Resizing: placements by hand, exact box scaling checked against the pixels, tiny boxes counted, and the round
trip (resize, write, read back with a parser written here, map back) within half a pixel at the source scale on
the generated 4000x3000 defect set and the chess photos."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import bboxaug
from bboxaug.cli.main import main
from bboxaug.commands.resize import resize
from bboxaug.core.errors import UsageError
from bboxaug.core.model import Boxes, object_column
from bboxaug.geometry.letterbox import (
    Scaling,
    parse_sizes,
    resize_boxes,
    resized_to_source,
    scaling,
    size_folder,
    to_resized,
)
from bboxaug.pipeline.source import load
from tests.commands.test_tile import Truth, coco_truth, make_defect_set

HALF_PIXEL = 0.5


def test_placements_by_hand() -> None:
    assert scaling(4000, 3000, (640, 640), "letterbox") == Scaling(640, 640, (0.16, 0.16), (0, 80, 0, 80))
    assert scaling(4000, 3000, (640, 640), "fit") == Scaling(640, 480, (0.16, 0.16))
    assert scaling(4000, 3000, (640, 640), "stretch") == Scaling(640, 640, (0.16, 640 / 3000))
    assert scaling(1371, 2048, (640, 640), "letterbox") == Scaling(640, 640, (428 / 1371, 0.3125), (106, 0, 106, 0))
    assert scaling(2048, 1371, (1024, 768), "letterbox") == Scaling(1024, 768, (0.5, 686 / 1371), (0, 41, 0, 41))
    assert scaling(300, 200, (640, 640), "letterbox") == Scaling(640, 640, (640 / 300, 427 / 200), (0, 106, 0, 107))
    assert parse_sizes("640,1024x768") == [(640, 640), (1024, 768)]
    assert [size_folder(size) for size in [(640, 640), (1024, 768)]] == ["640", "1024x768"]
    for bad in ("640,640", "640,", "0"):
        with pytest.raises(UsageError):
            parse_sizes(bad)
    with pytest.raises(UsageError):
        scaling(10, 10, (5, 5), "squash")  # type: ignore[arg-type]


@given(
    width=st.integers(1, 5000),
    height=st.integers(1, 5000),
    target=st.integers(1, 2000),
    mode=st.sampled_from(["letterbox", "fit", "stretch"]),
    corners=st.lists(st.floats(0, 1), min_size=4, max_size=4),
)
def test_boxes_map_there_and_back(width: int, height: int, target: int, mode: str, corners: list[float]) -> None:
    where = scaling(width, height, (target, target), mode)  # type: ignore[arg-type]
    a, b, c, d = corners
    box = np.array([[min(a, c) * width, min(b, d) * height, max(a, c) * width, max(b, d) * height]])
    moved = to_resized(box, where)
    assert (moved[:, :2] >= 0).all() and (moved[:, 2] <= where.width).all() and (moved[:, 3] <= where.height).all()
    back = resized_to_source(moved, where.scale, where.padding)
    assert np.allclose(back, box, atol=1e-6 * max(width, height), rtol=0)


def test_boxes_match_the_resized_pixels(tmp_path: Path) -> None:
    pixels = np.zeros((300, 400, 3), np.uint8)
    pixels[60:140, 100:180] = 255
    root = tmp_path / "src"
    (root / "images" / "train").mkdir(parents=True)
    cv2.imwrite(str(root / "images" / "train" / "square.png"), pixels)
    coco = {
        "images": [{"id": 1, "file_name": "square.png", "width": 400, "height": 300}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [100, 60, 80, 80]}],
        "categories": [{"id": 1, "name": "spot"}],
    }
    (root / "annotations").mkdir()
    (root / "annotations" / "instances_train.json").write_text(json.dumps(coco))
    for mode, size, expected in (
        ("letterbox", 320, [80, 88, 144, 152]),
        ("stretch", 200, [50, 40, 90, 280 / 3]),
        ("fit", 1000, [250, 150, 450, 350]),
    ):
        result = resize(root, tmp_path / mode, sizes=[size], mode=mode)  # type: ignore[arg-type]
        folder = str(size)
        (image,) = result.datasets[folder].images
        assert np.allclose(image.boxes.xyxy, [expected], atol=1e-9)
        written = cv2.imread(str(tmp_path / mode / folder / "images" / "train" / "square.png"), cv2.IMREAD_GRAYSCALE)
        assert written.shape == (image.height, image.width)
        rows, columns = np.nonzero(written > 127)
        measured = [columns.min(), rows.min(), columns.max() + 1, rows.max() + 1]
        assert np.abs(np.array(measured) - expected).max() <= 1.0, (mode, measured)
        if mode == "letterbox":
            assert (written[:40] == 114).all() and (written[280:] == 114).all()


def test_columns_follow_and_tiny_boxes_are_dropped_and_counted() -> None:
    boxes = Boxes(
        [[0, 0, 100, 50], [10, 10, 20, 12], [200, 100, 300, 400]],
        [0, 1, 0],
        {
            "difficult": [True, False, False],
            "area": [5000.0, 20.0, 30000.0],
            "source_id": [1, 2, 3],
            "segmentation": [[[0, 0, 100, 0, 100, 50]], None, {"size": [1, 1], "counts": "a"}],
        },
    )
    where = Scaling(640, 640, (0.1, 0.2), (0, 80, 0, 80))
    moved, dropped = resize_boxes(boxes, where, 2.0)
    assert dropped == 1  # 1 x 0.4 px
    assert np.allclose(moved.xyxy, [[0, 80, 10, 90], [20, 100, 30, 160]], atol=1e-12)
    assert moved.columns["difficult"].tolist() == [True, False] and moved.columns["source_id"].tolist() == [1, 3]
    assert "area" not in moved.columns
    assert np.allclose(moved.columns["segmentation"][0], [[0, 80, 10, 80, 10, 90]], atol=1e-12)
    assert moved.columns["segmentation"][1] is None


# --- round trips ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def defects(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    return make_defect_set(tmp_path_factory.mktemp("defects"))


def read_yolo(folder: Path) -> dict[str, list]:
    """Boxes of a YOLO output in pixels of its images, parsed here: `split/name` -> [(class name, xyxy)]."""
    names = yaml.safe_load((folder / "data.yaml").read_text())["names"]
    names = [names[i] for i in range(len(names))] if isinstance(names, dict) else names
    manifest = json.loads((folder / "resize.json").read_text())
    boxes: dict[str, list] = {}
    for entry in manifest["outputs"]:
        width, height = entry["size"]
        labels = folder / entry["path"].replace("images/", "labels/", 1)
        rows = [line.split() for line in labels.with_suffix(".txt").read_text().splitlines() if line.strip()]
        boxes[entry["image"]] = [
            (
                names[int(k)],
                (
                    (float(cx) - float(w) / 2) * width,
                    (float(cy) - float(h) / 2) * height,
                    (float(cx) + float(w) / 2) * width,
                    (float(cy) + float(h) / 2) * height,
                ),
            )
            for k, cx, cy, w, h in rows
        ]
    return boxes


def read_coco(folder: Path) -> dict[str, list]:
    return {key: value["boxes"] for key, value in coco_truth(sorted((folder / "annotations").glob("*.json"))).items()}


def check_round_trip(folder: Path, truth: Truth, written: dict[str, list], min_box_size: float) -> float:
    """Every written box maps back onto its source box within half a pixel, the boxes under `min_box_size` are
    the ones missing, and the counts say so. Returns the largest error in source pixels."""
    manifest = json.loads((folder / "resize.json").read_text())
    worst, tiny = 0.0, 0
    for entry in manifest["outputs"]:
        source = truth[entry["source"]]
        assert entry["source_size"] == list(source["size"])
        image = cv2.imread(str(folder / entry["path"]), cv2.IMREAD_UNCHANGED)
        assert [image.shape[1], image.shape[0]] == entry["size"]
        sx, sy = entry["scale"]
        expected = [
            (label, box)
            for label, box in source["boxes"]
            if min((box[2] - box[0]) * sx, (box[3] - box[1]) * sy) >= min_box_size
        ]
        assert entry["tiny_boxes_dropped"] == len(source["boxes"]) - len(expected)
        tiny += entry["tiny_boxes_dropped"]
        found = written[entry["image"]]
        assert len(found) == len(expected)
        back = resized_to_source([xyxy for _, xyxy in found], entry["scale"], entry["padding"])
        left = list(expected)
        for (label, _), xyxy in zip(found, back, strict=True):
            errors = [np.abs(xyxy - np.array(box)).max() if name == label else np.inf for name, box in left]
            best = int(np.argmin(errors))
            assert errors[best] <= HALF_PIXEL, (entry["image"], label, xyxy)
            worst = max(worst, errors[best])
            del left[best]
    assert manifest["tiny_boxes_dropped"] == tiny
    return worst


@pytest.mark.parametrize("mode", ["letterbox", "fit", "stretch"])
def test_defects_round_trip_through_yolo(defects: tuple[Path, Truth], tmp_path: Path, mode: str) -> None:
    result = resize(
        defects[0],
        tmp_path / "out",
        sizes="640,1024x768",
        mode=mode,
        to="yolo",  # type: ignore[arg-type]
        jobs=2,
    )
    assert set(result.datasets) == {"640", "1024x768"}
    for folder in ("640", "1024x768"):
        check_round_trip(tmp_path / "out" / folder, defects[1], read_yolo(tmp_path / "out" / folder), 2.0)
        dataset = load(tmp_path / "out" / folder)
        assert {image.split for image in dataset.images} == {"train", "val"}
    assert result.manifests["640"]["tiny_boxes_dropped"] > 0  # 8 px defects fall under 2 px at 640


def test_chess_round_trips_through_coco(corpus: Path, tmp_path: Path) -> None:
    src = corpus / "chess_coco_test" / "test"
    truth = coco_truth([src / "_annotations.coco.json"])
    result = resize(src, tmp_path / "out", sizes=[640, (1024, 768)], to="coco", jobs=2)
    for folder in ("640", "1024x768"):
        check_round_trip(tmp_path / "out" / folder, truth, read_coco(tmp_path / "out" / folder), 2.0)
        dataset = load(tmp_path / "out" / folder)
        assert len(dataset.images) == 29 and {image.split for image in dataset.images} == {"test"}
        assert dataset.box_count == 376  # no chess piece is under 2 px at these sizes
    assert result.manifests["640"]["outputs"][0]["padding"] == [0, 106, 0, 106]  # 2048x1371 -> 640x428


def test_cli_writes_one_folder_per_size(defects: tuple[Path, Truth], tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "resize",
            str(defects[0]),
            str(tmp_path / "out"),
            "--size",
            "320,512x384",
            "--mode",
            "fit",
            "--min-box-size",
            "0",
            "--to",
            "voc",
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["320", "512x384"]
    assert "320        3 images, 120 boxes, 0 boxes under 0 px dropped" in result.output
    manifest = json.loads((tmp_path / "out" / "320" / "resize.json").read_text())
    assert manifest["resize"]["mode"] == "fit" and manifest["outputs"][0]["size"] == [320, 240]
    bad = runner.invoke(main, ["resize", str(defects[0]), str(tmp_path / "bad"), "--size", "320,320"])
    assert bad.exit_code == 2 and not (tmp_path / "bad").exists()


def test_preprocessed_sources_are_resized_as_the_preprocess_function_makes_them(tmp_path: Path) -> None:
    pixels = np.zeros((300, 400, 3), np.uint8)
    pixels[60:140, 100:180] = (40, 200, 90)
    root = tmp_path / "src"
    (root / "images" / "train").mkdir(parents=True)
    cv2.imwrite(str(root / "images" / "train" / "square.png"), pixels)
    coco = {
        "images": [{"id": 1, "file_name": "square.png", "width": 400, "height": 300}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [100, 60, 80, 80]}],
        "categories": [{"id": 1, "name": "spot"}],
    }
    (root / "annotations").mkdir()
    (root / "annotations" / "instances_train.json").write_text(json.dumps(coco))
    steps = "crop:100,60,300,260;grayscale:1"
    result = resize(root, tmp_path / "out", sizes=[100], preprocess=steps)
    (image,) = result.datasets["100"].images
    assert image.boxes.xyxy.tolist() == [[0, 0, 40, 40]]  # cropped to 200x200 at (100, 60), then halved
    assert result.manifests["100"]["outputs"][0]["source_size"] == [200, 200]
    assert result.manifests["100"]["preprocess"] == [
        {"crop": {"x0": 100, "y0": 60, "x1": 300, "y1": 260}},
        {"grayscale": {"channels": 1}},
    ]
    written = cv2.imread(str(tmp_path / "out" / "100" / "images" / "train" / "square.png"), cv2.IMREAD_UNCHANGED)
    rgb = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    assert np.array_equal(written, bboxaug.preprocess(rgb, steps + ";letterbox:100"))  # one rendering, two ways in


def test_oriented_boxes_are_scaled_and_shifted_with_the_letterbox() -> None:
    quad = (2000.0, 500.0, 3000.0, 1500.0, 2000.0, 2500.0, 1000.0, 1500.0)
    boxes = Boxes([[1000, 500, 3000, 2500]], [0], {"obb": object_column([quad])})
    moved, dropped = resize_boxes(boxes, scaling(4000, 3000, (640, 640), "letterbox"), 2.0)
    assert dropped == 0
    np.testing.assert_allclose(moved.column("obb")[0], [320, 160, 480, 320, 320, 480, 160, 320], atol=1e-9)
    np.testing.assert_allclose(moved.xyxy[0], [160, 160, 480, 480], atol=1e-9)
