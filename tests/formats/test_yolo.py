"""The YOLO adapter: label lines <-> boxes, data.yaml, every layout it reads, its writer, and real data.

Coordinates are checked against values computed here independently (plain Python from the label text and the
image size), never only counted.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from bboxaug.core.errors import AnnotationError, FormatError, ImageError, UsageError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord
from bboxaug.core.report import Report
from bboxaug.core.table import ImageTable
from bboxaug.formats import FORMATS, yolo
from bboxaug.formats.yolo_obb import quads_to_obbs
from tests.conftest import GOLDEN, make_image

POSITIONS = {0: 0, 1: 1, 2: 2}


def parse(text: str, width: int = 100, height: int = 50, positions: dict | None = None, **options) -> Boxes:
    return yolo.parse_labels(
        text, width, height, POSITIONS if positions is None else positions, file="a.txt", **options
    )


def independent_boxes(text: str, width: int, height: int) -> list[list[float]]:
    """`class cx cy w h` lines to absolute xyxy, written here without the adapter."""
    boxes = []
    for line in text.splitlines():
        if line.strip():
            _, cx, cy, w, h = (float(v) for v in line.split())
            boxes.append([(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height])
    return boxes


# --- label lines ----------------------------------------------------------------------------------------------


def test_box_line_is_centre_and_size_normalised_by_the_image() -> None:
    boxes = parse("1 0.5 0.5 0.2 0.4\n2 0.1 0.9 0.2 0.2\n")
    np.testing.assert_allclose(boxes.xyxy, [[40, 15, 60, 35], [0, 40, 20, 50]], atol=1e-12)
    assert boxes.labels.tolist() == [1, 2]
    assert "segmentation" not in boxes.columns


def test_blank_and_empty_files_are_negatives() -> None:
    assert len(parse("")) == 0
    assert len(parse("\n  \n\t\n")) == 0


def test_polygon_line_gives_its_envelope_and_keeps_the_polygon_in_pixels() -> None:
    boxes = parse("0 0.1 0.2 0.5 0.1 0.3 0.8\n1 0.5 0.5 0.2 0.2\n")
    np.testing.assert_allclose(boxes.xyxy[0], [10, 5, 50, 40], atol=1e-9)
    np.testing.assert_allclose(boxes.column("segmentation")[0][0], [10, 10, 50, 5, 30, 40], atol=1e-9)
    assert boxes.column("segmentation")[1] is None


def test_eight_values_are_a_polygon_in_a_detection_dataset_and_an_oriented_box_in_an_oriented_one() -> None:
    line = "0 0.1 0.1 0.5 0.2 0.4 0.6 0.0 0.5\n1 0.5 0.5 0.2 0.2\n"
    polygon = parse(line)
    np.testing.assert_allclose(polygon.xyxy[0], [0, 5, 50, 30], atol=1e-9)
    np.testing.assert_allclose(polygon.column("segmentation")[0][0], [10, 5, 50, 10, 40, 30, 0, 25], atol=1e-9)
    oriented = quads_to_obbs(polygon)
    np.testing.assert_allclose(oriented.xyxy, polygon.xyxy)
    np.testing.assert_allclose(oriented.column("obb")[0], [10, 5, 50, 10, 40, 30, 0, 25], atol=1e-9)
    assert oriented.column("obb")[1] is None and "segmentation" not in oriented.columns


@pytest.mark.parametrize(
    "line", ["10 10 20 10 20 20 10 20 plane 0", "10 10 20 10 20 20 10 20 ship", "imagesource:GoogleEarth"]
)
def test_dota_lines_are_always_refused(line: str) -> None:
    with pytest.raises(AnnotationError, match="read DOTA with --from dota"):
        parse(f"0 0.5 0.5 0.1 0.1\n{line}\n")


def test_values_out_of_range_by_rounding_are_snapped_silently() -> None:
    boxes = parse("0 0.5 0.5 1.0000001 1.0000004\n0 0.125 0.5 0.2500004 0.5\n", width=8, height=6)
    assert boxes.xyxy[0].tolist() == [0.0, 0.0, 8.0, 6.0]
    assert boxes.xyxy[1][0] == 0.0
    assert boxes.xyxy[1][2] == pytest.approx(2.0000016, abs=1e-12)


def test_values_clearly_out_of_range_are_read_as_they_are() -> None:
    boxes = parse("0 0.95 0.5 0.2 0.2\n", width=100, height=50)
    np.testing.assert_allclose(boxes.xyxy[0], [85, 20, 105, 30], atol=1e-9)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 0.5 0.5 0.1 0.1\n\n0 0.5 0.5 0.1\n", "expected 4"),
        ("0 0.5 0.5 0.1 0.1\n\n0 0.5 0.5 0.1 0.1 0.2\n", "found 5"),
        ("0 0.5 0.5 0.1 0.1\n\n0 0.5 0.5 0.1 0.1 0.2 0.3 0.4\n", "found 7"),
        ("0 0.5 0.5 0.1 0.1\n\n0 0.5 abc 0.1 0.1\n", "non-numeric value 'abc'"),
        ("0 0.5 0.5 0.1 0.1\n\n0 0.5 nan 0.1 0.1\n", "non-numeric"),
        ("0 0.5 0.5 0.1 0.1\n\n7 0.5 0.5 0.1 0.1\n", "class index 7 is not in the class list"),
        ("0 0.5 0.5 0.1 0.1\n\n1.5 0.5 0.5 0.1 0.1\n", "not an integer"),
        ("0 0.5 0.5 0.1 0.1\n\n0 0.5 0.5 -0.1 0.1\n", "negative width"),
        ("0 0.5 0.5 0.1 0.1\n\n0 0.5 0.5 0.1 -0.2\n", "negative height"),
    ],
)
def test_malformed_lines_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(AnnotationError, match=message) as error:
        parse(text)
    assert (error.value.file, error.value.field) == ("a.txt", "line 3")


def test_integral_float_class_and_zero_size_are_accepted() -> None:
    boxes = parse("2.0 0.5 0.5 0 0\n")
    assert boxes.labels.tolist() == [2]
    np.testing.assert_allclose(boxes.xyxy[0], [50, 25, 50, 25])


def test_class_ids_map_to_positions() -> None:
    boxes = parse("5 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2 0.2\n", positions={0: 0, 2: 1, 5: 2})
    assert boxes.labels.tolist() == [2, 0]
    with pytest.raises(AnnotationError, match="class index 1 is not in the class list"):
        parse("1 0.5 0.5 0.2 0.2\n", positions={0: 0, 2: 1, 5: 2})


def test_keypoint_lines_keep_their_box() -> None:
    boxes = parse("0 0.5 0.5 0.2 0.4 0.1 0.2 2 0.3 0.4 1\n", keypoint_values=6)
    np.testing.assert_allclose(boxes.xyxy[0], [40, 15, 60, 35], atol=1e-9)
    np.testing.assert_allclose(parse("0 0.5 0.5 0.2 0.4\n", keypoint_values=6).xyxy[0], [40, 15, 60, 35])
    with pytest.raises(AnnotationError, match="4 \\+ 6 keypoint values"):
        parse("0 0.5 0.5 0.2 0.4 0.1 0.2 2\n", keypoint_values=6)


# --- writing lines ----------------------------------------------------------------------------------------------


def test_format_labels_six_decimals_clamped_and_never_negative_zero() -> None:
    boxes = Boxes([[1, 1, 2, 2], [-0.0000001, 0, 8, 6.0000001], [0, 0, 1e-9, 1e-9]], [0, 1, 2])
    text = yolo.format_labels(boxes, 8, 6)
    assert text == (
        "0 0.187500 0.250000 0.125000 0.166667\n"
        "1 0.500000 0.500000 1.000000 1.000000\n"
        "2 0.000000 0.000000 0.000000 0.000000\n"
    )
    assert yolo.format_labels(Boxes.empty(), 8, 6) == ""


def test_batch_formatting_equals_one_image_at_a_time() -> None:
    rng = np.random.default_rng(1)
    images = []
    for index in range(30):
        count = int(rng.integers(0, 5))
        xy = rng.uniform(0, 38, (count, 2))
        images.append(
            ImageRecord(
                f"{index}.png",
                "train",
                64 + index,
                48,
                Boxes(np.hstack([xy, xy + rng.uniform(0, 10, (count, 2))]), rng.integers(0, 3, count)),
            )
        )
    table = ImageTable.from_records(images)
    batch = yolo.label_texts(table.boxes.xyxy, table.boxes.labels, table.sizes(), table.box_counts().tolist())
    assert batch == [yolo.format_labels(image.boxes, image.width, image.height) for image in images]
    for image, text in zip(images, batch, strict=True):
        np.testing.assert_allclose(
            independent_boxes(text, image.width, image.height) or np.zeros((0, 4)),
            image.boxes.xyxy,
            atol=yolo.tolerance(image),
        )


def test_tolerance_covers_the_worst_rounding_and_half_a_micro_unit_does_not() -> None:
    """x1 = (cx - w/2) * W with cx and w each rounded to 6 decimals: up to 0.75e-6 * W, not 0.5e-6 * W."""
    width = height = 1000
    image = ImageRecord("a.png", "train", width, height)
    # cx = 0.0100004999 rounds down by ~0.5e-6 and w = 0.0100005001 rounds up, moving -w/2 down by ~0.25e-6
    box = Boxes([[5.00024985, 5.00024985, 15.00074995, 15.00074995]], [0])
    back = independent_boxes(yolo.format_labels(box, width, height), width, height)[0]
    error = abs(back[0] - box.xyxy[0][0])
    assert error > 0.5e-6 * width
    assert error <= yolo.tolerance(image)
    rng = np.random.default_rng(2)
    xy = rng.uniform(0, 900, (5000, 2))
    boxes = Boxes(np.hstack([xy, xy + rng.uniform(0, 100, (5000, 2))]), np.zeros(5000))
    back_all = np.array(independent_boxes(yolo.format_labels(boxes, width, height), width, height))
    assert np.abs(back_all - boxes.xyxy).max() <= yolo.tolerance(image)


# --- data.yaml --------------------------------------------------------------------------------------------------


def check_det_dataset_rules(text: str, root: Path) -> dict:
    """What ultralytics/data/utils.py check_det_dataset requires: `train` and `val` keys, `names` (or `nc`) with
    `nc == len(names)`, names keys 0..n-1 (check_class_names), the root the yaml's folder when `path` is absent,
    and every split path existing below the root."""
    data = yaml.safe_load(text)
    assert "train" in data and "val" in data
    names = data["names"]
    names = dict(enumerate(names)) if isinstance(names, list) else {int(k): str(v) for k, v in names.items()}
    assert data["nc"] == len(names)
    assert sorted(names) == list(range(len(names)))
    assert "path" not in data
    for key in ("train", "val", "test"):
        if key in data:
            assert (root / data[key]).is_dir(), key
    return data


def test_data_yaml_standard_splits() -> None:
    text = yolo.data_yaml(["scratch", "dent"], ["val", "train", "test"])
    data = yaml.safe_load(text)
    assert list(data) == ["train", "val", "test", "nc", "names"]
    assert data == {
        "train": "images/train",
        "val": "images/val",
        "test": "images/test",
        "nc": 2,
        "names": {0: "scratch", 1: "dent"},
    }


def test_data_yaml_points_missing_train_and_val_at_the_first_split_with_a_comment() -> None:
    text = yolo.data_yaml(["a"], ["default"])
    data = yaml.safe_load(text)
    assert list(data)[:3] == ["default", "train", "val"]
    assert data["train"] == data["val"] == data["default"] == "images/default"
    assert "# no train split: train points at images/default" in text
    assert "# no val split" in text


def test_data_yaml_valid_split_goes_under_val_and_odd_names_are_quoted() -> None:
    names = ["yes", "1", "a: b", "#x", "ünï"]
    text = yolo.data_yaml(names, ["train", "valid", "names"])
    data = yaml.safe_load(text)
    assert data["val"] == "images/valid"
    assert data["split_names"] == "images/names"
    assert data["names"] == dict(enumerate(names))


def test_written_dataset_passes_the_ultralytics_checks_and_reads_back(tmp_path: Path) -> None:
    records = []
    for split, name, boxes in [
        ("train", "a.jpg", [[1, 2, 30, 40]]),
        ("valid", "sub/b.png", []),
        ("test", "c.png", [[0, 0, 64, 48], [10.5, 3.25, 11, 4]]),
    ]:
        source = make_image(tmp_path / "src" / name, 64, 48)
        records.append(
            ImageRecord(name, split, 64, 48, Boxes(np.array(boxes, float).reshape(-1, 4), [1] * len(boxes)), source)
        )
    dataset = Dataset((ClassInfo(0, "x"), ClassInfo(7, "y")), tuple(records))
    out = tmp_path / "out"
    FORMATS["yolo"].write(dataset, out, report=Report())
    for record in records:
        make_image(out / yolo.FORMAT.image_path(record.split, record.name), 64, 48)
    data = check_det_dataset_rules((out / "data.yaml").read_text(), out)
    assert data["val"] == "images/valid"
    assert (out / "labels/valid/sub/b.txt").read_text() == ""
    back = yolo.read(out, report=Report())
    assert [(c.id, c.name) for c in back.classes] == [(0, "x"), (1, "y")]
    got = {(image.split, image.name): image for image in back.images}
    assert sorted(got) == [("test", "c.png"), ("train", "a.jpg"), ("val", "sub/b.png")]
    np.testing.assert_allclose(got[("test", "c.png")].boxes.xyxy, records[2].boxes.xyxy, atol=1e-4)
    assert got[("test", "c.png")].boxes.labels.tolist() == [1, 1]


def test_writer_keys_and_paths() -> None:
    fmt = FORMATS["yolo"]
    assert fmt.image_path("train", "sub/a.jpg") == "images/train/sub/a.jpg"
    assert fmt.annotation_key("train", "sub/a.jpg") == fmt.annotation_key("train", "sub/a.png") == "train/sub/a"
    assert fmt.annotation_key("train", "a.b.jpg") == "train/a.b"
    assert fmt.class_ids((ClassInfo(3, "a"), ClassInfo(9, "b"))) == [0, 1]
    assert fmt.keeps_crowd is False
    assert fmt.tolerance(ImageRecord("a", "t", 1000, 2000)) == pytest.approx(1.5e-3 + 1e-9)


def test_writer_refuses_a_split_name_leaving_the_folder(tmp_path: Path) -> None:
    dataset = Dataset((ClassInfo(0, "a"),), (ImageRecord("a.png", "../x", 4, 4),))
    with pytest.raises(AnnotationError):
        yolo.write(dataset, tmp_path, report=Report())
    assert not (tmp_path.parent / "x").exists()


# --- layouts read ----------------------------------------------------------------------------------------------


def write_files(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_path_list_files_and_folder_lists(tmp_path: Path) -> None:
    """`path` relative to the yaml; a split as a .txt list (./ relative to the list) and as a list of folders."""
    root = tmp_path / "ds"
    for name in ("images/a/1.png", "images/a/2.png", "images/b/3.png", "images/c/4.png"):
        make_image(root / name, 20, 10)
    write_files(
        root,
        {
            "labels/a/1.txt": "0 0.5 0.5 0.5 0.5\n",
            "labels/b/3.txt": "1 0.25 0.5 0.5 1\n",
            "train.txt": "./images/a/1.png\nimages/a/2.png\n\n",
            "cfg/data.yaml": "path: ..\ntrain: train.txt\nval: [images/b, images/c]\nnames: [p, q]\n",
        },
    )
    dataset = yolo.read(root / "cfg" / "data.yaml", report=Report())
    assert [(i.split, i.name) for i in dataset.images] == [
        ("train", "1.png"),
        ("train", "2.png"),
        ("val", "b/3.png"),
        ("val", "c/4.png"),
    ]
    np.testing.assert_allclose(dataset.images[0].boxes.xyxy, [[5, 2.5, 15, 7.5]])
    np.testing.assert_allclose(dataset.images[2].boxes.xyxy, [[0, 0, 10, 10]])
    assert dataset.images[2].source == root / "images/b/3.png"


def test_missing_listed_image_is_an_image_error_for_that_line(tmp_path: Path) -> None:
    make_image(tmp_path / "images/1.png", 4, 4)
    write_files(
        tmp_path,
        {"train.txt": "images/1.png\nimages/gone.png\n", "data.yaml": "train: train.txt\nval: train.txt\nnames: [a]\n"},
    )
    with pytest.raises(ImageError) as error:
        yolo.read(tmp_path, report=Report())
    assert error.value.field == "line 2" and error.value.file.endswith("train.txt")
    report = Report(on_error="skip")
    assert [i.name for i in yolo.read(tmp_path, report=report).images] == ["1.png"]
    assert report.counts["skipped_items"] == 1


def test_bad_line_or_unreadable_image_skips_only_that_image(tmp_path: Path) -> None:
    for name in ("a.png", "b.png"):
        make_image(tmp_path / "images/train" / name, 4, 4)
    (tmp_path / "images/train/c.png").write_bytes(b"not an image")
    write_files(
        tmp_path,
        {
            "labels/train/a.txt": "0 0.5 0.5 0.5 0.5\n0 0.5\n",
            "labels/train/b.txt": "0 .5 .5 1 1",
            "labels/train/c.txt": "",
            "data.yaml": "train: images/train\nval: images/train\nnc: 1\n",
        },
    )
    with pytest.raises(AnnotationError) as error:
        yolo.read(tmp_path, report=Report())
    assert error.value.field == "line 2" and error.value.file.endswith("a.txt")
    report = Report(on_error="skip")
    dataset = yolo.read(tmp_path, report=report)
    assert [i.name for i in dataset.images] == ["b.png"]
    assert dataset.class_names == ["class_0"]
    assert report.counts["skipped_items"] == 2
    assert {p.file.rsplit("/", 1)[1] for p in report.skipped} == {"a.txt", "c.png"}


def test_orphans_duplicates_missing_splits_and_nc_mismatch_are_reported(tmp_path: Path) -> None:
    make_image(tmp_path / "images/train/a.png", 4, 4)
    write_files(
        tmp_path,
        {
            "labels/train/a.txt": "",
            "labels/train/lost.txt": "0 0.5 0.5 1 1\n",
            "val.txt": "images/train/a.png\n",
            "data.yaml": "train: images/train\nval: val.txt\ntest: ../gone/images\n"
            "nc: 3\nnames: [a, b]\nlicense: CC BY 4.0\n",
        },
    )
    report = Report()
    dataset = yolo.read(tmp_path, report=report)
    assert [(i.split, i.name) for i in dataset.images] == [("train", "a.png")]
    assert report.counts == {"orphan_label": 1, "duplicate_image": 1, "missing_split": 1}
    assert any(w.field == "nc" for w in report.warnings)
    assert any(w.file.endswith("lost.txt") for w in report.warnings)


def test_oriented_dataset_by_task_label_folder_or_nine_fields_reads_oriented_boxes(tmp_path: Path) -> None:
    make_image(tmp_path / "images/train/a.png", 10, 20)
    write_files(
        tmp_path,
        {
            "labels/train/a.txt": "0 0.1 0.1 0.9 0.1 0.9 0.9 0.1 0.9\n0 0.5 0.5 0.2 0.2\n",
            "data.yaml": "task: obb\ntrain: images/train\nval: images/train\nnames: [a]\n",
        },
    )
    boxes = yolo.read(tmp_path, report=Report()).images[0].boxes
    np.testing.assert_allclose(boxes.column("obb")[0], [1, 2, 9, 2, 9, 18, 1, 18], atol=1e-9)
    assert boxes.column("obb")[1] is None
    other = tmp_path / "dota"
    make_image(other / "train/images/a.png", 10, 20)
    write_files(
        other,
        {
            "train/labelTxt/a.txt": "0 0.1 0.1 0.1 0.9 0.9 0.9 0.9 0.1\n",
            "data.yaml": "train: train/images\nval: train/images\nnames: [a]\n",
        },
    )
    counter_clockwise = yolo.read(other, report=Report()).images[0].boxes
    np.testing.assert_allclose(counter_clockwise.column("obb")[0], [1, 18, 1, 2, 9, 2, 9, 18], atol=1e-9)
    (tmp_path / "data.yaml").write_text("train: images/train\nval: images/train\nnames: [a]\n")
    (tmp_path / "labels/train/a.txt").write_text("0 0.1 0.1 0.9 0.1 0.9 0.9 0.1 0.9\n")
    nine_fields = yolo.read(tmp_path, report=Report()).images[0].boxes
    np.testing.assert_allclose(nine_fields.column("obb")[0], [1, 2, 9, 2, 9, 18, 1, 18], atol=1e-9)
    (tmp_path / "labels/train/a.txt").write_text("0 0.1 0.1 0.9 0.1 0.9 0.9 0.1 0.9\n0 0.5 0.5 0.2 0.2\n")
    mixed = yolo.read(tmp_path, report=Report()).images[0].boxes
    assert "obb" not in mixed.columns and mixed.column("segmentation")[0] is not None


def test_pose_dataset_keeps_boxes_and_counts_dropped_keypoints(tmp_path: Path) -> None:
    make_image(tmp_path / "images/train/a.png", 10, 10)
    write_files(
        tmp_path,
        {
            "labels/train/a.txt": "0 0.5 0.5 0.2 0.2 0.1 0.1 2 0.2 0.2 2 0.3 0.3 1\n",
            "data.yaml": "kpt_shape: [3, 3]\ntrain: images/train\nval: images/train\nnames: [a]\n",
        },
    )
    report = Report()
    dataset = yolo.read(tmp_path, report=report)
    np.testing.assert_allclose(dataset.images[0].boxes.xyxy, [[4, 4, 6, 6]])
    assert report.counts["keypoints_dropped"] == 1


def test_exif_rotated_image_gives_its_upright_size(tmp_path: Path) -> None:
    make_image(tmp_path / "images/train/a.jpg", 40, 20, orientation=6)
    write_files(tmp_path, {"labels/train/a.txt": "0 0.5 0.5 0.5 0.5\n", "classes.txt": "a\n"})
    image = yolo.read(tmp_path, report=Report()).images[0]
    assert (image.width, image.height) == (20, 40)
    np.testing.assert_allclose(image.boxes.xyxy, [[5, 10, 15, 30]])


def test_bare_folders_with_image_dir_and_without_class_list(tmp_path: Path) -> None:
    make_image(tmp_path / "pixels/train/a.png", 10, 10)
    write_files(tmp_path / "ds", {"labels/train/a.txt": "0 0.5 0.5 1 1\n", "classes.txt": "only\n"})
    dataset = yolo.read(tmp_path / "ds", report=Report(), image_dir=tmp_path / "pixels")
    assert [(i.split, i.name, i.boxes.xyxy.tolist()) for i in dataset.images] == [("train", "a.png", [[0, 0, 10, 10]])]
    (tmp_path / "ds/classes.txt").unlink()
    with pytest.raises(FormatError, match="no class list"):
        yolo.read(tmp_path / "ds", report=Report(), image_dir=tmp_path / "pixels")
    write_files(tmp_path / "y", {"data.yaml": "train: a\nval: a\nnames: [x]\n"})
    with pytest.raises(UsageError):
        yolo.read(tmp_path / "y", report=Report(), image_dir=tmp_path / "pixels")


def test_detect(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "y/data.yaml": "train: images/train\nval: images/val\nnames: [a]\n",
            "y/other.yaml": "just: text\n",
            "d/obj.data": "train = train.txt\nnames = obj.names\n",
            "n/obj.names": "a\n",
            "f/images/train/x.txt": "",
            "f/labels/train/x.txt": "0 .5 .5 .1 .1\n",
            "v/Annotations/a.xml": "<annotation/>",
            "v/images/a.txt": "",
            "c/images/readme.txt": "",
            "c/labels/readme.txt": "see the wiki\n",
        },
    )
    assert yolo.detect(tmp_path / "y") and yolo.detect(tmp_path / "y/data.yaml")
    assert not yolo.detect(tmp_path / "y/other.yaml")
    assert yolo.detect(tmp_path / "d") and yolo.detect(tmp_path / "d/obj.data")
    assert yolo.detect(tmp_path / "n") and yolo.detect(tmp_path / "f")
    assert not yolo.detect(tmp_path / "v") and not yolo.detect(tmp_path / "c")
    assert not yolo.detect(tmp_path / "missing")


def test_golden_cases_exist_with_every_layout() -> None:
    cases = {path.name for path in (GOLDEN / "yolo" / "cases").iterdir()}
    assert {"basic", "darknet", "names_gaps", "edge_lines"} <= cases
    edge = json.loads((GOLDEN / "yolo/cases/edge_lines/expected.json").read_text())
    dataset = yolo.read(GOLDEN / "yolo/cases/edge_lines/input", report=Report())
    assert dataset.images[0].boxes.column("segmentation")[0] == [[2.0, 3.0, 6.0, 3.0, 4.0, 6.0]]
    assert len(dataset.images) == len(edge["images"])


# --- real data --------------------------------------------------------------------------------------------------


def compare_with_independent_parse(dataset: Dataset, label_of, report: Report) -> int:
    """Every image's boxes against the label file parsed here, with the size from PIL; returns the box count."""
    total = 0
    for image in dataset.images:
        with Image.open(image.source) as pixels:
            width, height = pixels.size
        assert (image.width, image.height) == (width, height)
        label = label_of(image.source)
        text = label.read_text() if label.is_file() else ""
        want = independent_boxes(text, width, height)
        snap = yolo.ROUNDING * max(width, height)  # edges outside [0, 1] by rounding noise are snapped
        np.testing.assert_allclose(image.boxes.xyxy, np.array(want).reshape(-1, 4), atol=snap)
        assert image.boxes.labels.tolist() == [int(line.split()[0]) for line in text.splitlines() if line.strip()]
        total += len(want)
    assert not report.skipped
    return total


def test_datumaro_yolo_layouts(corpus: Path) -> None:
    assets = corpus / "datumaro_assets/tests/assets"
    expected = {
        "strict": ([("train", "1.jpg")], lambda p: p.with_suffix(".txt")),
        "annotations": ([("default", "1.jpg")], lambda p: p.parents[1] / "Annotations" / f"{p.stem}.txt"),
        "labels": (
            [("train", "1.jpg"), ("val", "1.jpg")],
            lambda p: p.parents[2] / "labels" / p.parent.name / f"{p.stem}.txt",
        ),
    }
    for layout, (images, label_of) in expected.items():
        source = assets / "yolo_dataset" / layout
        assert yolo.detect(source), layout
        report = Report()
        dataset = yolo.read(source, report=report)
        assert dataset.class_names == [f"label_{i}" for i in range(10)]
        assert [(i.split, i.name) for i in dataset.images] == images, layout
        assert compare_with_independent_parse(dataset, label_of, report) == 2 * len(images)


def test_roboflow_yolo_with_valid_folder_named_val(corpus: Path) -> None:
    source = corpus / "datumaro_assets/tests/assets/roboflow_dataset/yolo"
    report = Report()
    dataset = yolo.read(source, report=report)
    assert dataset.class_names == ["label_0", "label_1"]
    assert [(i.split, i.name) for i in dataset.images] == [
        ("train", "train_001.jpg"),
        ("train", "train_002.jpg"),
        ("val", "val_001.jpg"),
    ]
    label_of = lambda p: p.parents[1] / "labels" / f"{p.stem}.txt"  # noqa: E731
    assert compare_with_independent_parse(dataset, label_of, report) == 4
    assert not report.warnings


def test_roboflow_obb_in_dota_lines_is_refused_never_misread(corpus: Path) -> None:
    source = corpus / "datumaro_assets/tests/assets/roboflow_dataset/yolo_obb"
    assert yolo.detect(source)
    with pytest.raises(AnnotationError, match="read DOTA with --from dota") as error:
        yolo.read(source, report=Report())
    assert error.value.field == "line 1" and "labelTxt" in error.value.file
    report = Report(on_error="skip")
    assert yolo.read(source, report=report).images == ()
    assert report.counts["skipped_items"] == 3


def test_bccd_written_by_an_independent_writer_reads_back(corpus: Path, tmp_path: Path) -> None:
    """BCCD (VOC) turned into Ultralytics YOLO here, with plain Python, and read back by the adapter."""
    bccd = corpus / "bccd_voc/BCCD"
    names = ["RBC", "WBC", "Platelets"]
    want: dict[tuple[str, str], list[tuple[int, list[float]]]] = {}
    for split in ("train", "val", "test"):
        for stem in (bccd / f"ImageSets/Main/{split}.txt").read_text().split():
            root = ET.parse(bccd / "Annotations" / f"{stem}.xml").getroot()
            width, height = int(root.findtext("size/width")), int(root.findtext("size/height"))
            lines, boxes = [], []
            for obj in root.iter("object"):
                box = obj.find("bndbox")
                x1, y1, x2, y2 = (float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
                x1, y1 = x1 - 1, y1 - 1  # VOC 1-based inclusive -> continuous
                label = names.index(obj.findtext("name"))
                lines.append(
                    f"{label} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} "
                    f"{(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}"
                )
                boxes.append((label, [x1, y1, x2, y2]))
            (tmp_path / "images" / split).mkdir(parents=True, exist_ok=True)
            (tmp_path / "labels" / split).mkdir(parents=True, exist_ok=True)
            (tmp_path / "images" / split / f"{stem}.jpg").symlink_to(bccd / "JPEGImages" / f"{stem}.jpg")
            (tmp_path / "labels" / split / f"{stem}.txt").write_text("\n".join(lines) + "\n")
            want[(split, f"{stem}.jpg")] = boxes
    (tmp_path / "data.yaml").write_text(f"train: images/train\nval: images/val\ntest: images/test\nnames: {names}\n")
    report = Report()
    dataset = yolo.read(tmp_path, report=report)
    assert not report.skipped and not report.counts
    assert len(dataset.images) == 364 and dataset.box_count == 4888
    for image in dataset.images:
        boxes = want[(image.split, image.name)]
        assert image.source == tmp_path / "images" / image.split / image.name
        assert [names[label] for label in image.boxes.labels] == [names[label] for label, _ in boxes]
        np.testing.assert_allclose(
            image.boxes.xyxy, np.array([b for _, b in boxes]).reshape(-1, 4), atol=yolo.tolerance(image)
        )


def test_read_names_are_not_interned_strings(tmp_path: Path) -> None:
    """The names a read keeps are not interned: pathlib interns a part given alone, and CPython's table of interned
    strings then grows with the dataset (14.7 MB at 200,000 images) for as long as the names live."""
    dataset = yolo.read(GOLDEN / "yolo" / "cases" / "basic" / "input", report=Report())
    names = [image.name for image in dataset.images]
    assert names
    assert all(sys.intern("".join(list(name))) is not name for name in names)
