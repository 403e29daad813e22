"""The conversion rules every adapter keeps, checked for every target format on small built datasets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bboxaug.commands.convert import CONVERT_MANIFEST, convert, save
from bboxaug.core import codes
from bboxaug.core.errors import ImageError, UsageError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord
from bboxaug.core.report import Report
from bboxaug.formats import FORMATS
from bboxaug.pipeline.classes import ClassOps
from bboxaug.pipeline.manifest import dataset_counts
from bboxaug.pipeline.source import load
from tests.conftest import BOX_FORMATS, make_image

TARGETS = BOX_FORMATS


def record(
    tmp: Path,
    name: str,
    boxes: list[list[float]],
    labels: list[int],
    *,
    split: str = "train",
    size: tuple[int, int] = (64, 48),
    declare_size: bool = True,
    **columns: list,
) -> ImageRecord:
    source = make_image(tmp / "src" / split / name, *size)
    width, height = size if declare_size else (None, None)
    table = Boxes(np.array(boxes, dtype=float).reshape(-1, 4), labels, columns) if boxes else Boxes.empty()
    return ImageRecord(name=name, split=split, width=width, height=height, boxes=table, source=source)


def classes(*names: str) -> tuple[ClassInfo, ...]:
    return tuple(ClassInfo(index + 1, name) for index, name in enumerate(names))


def boxes_by_name(dataset: Dataset) -> dict[str, tuple[np.ndarray, list[str]]]:
    return {
        image.name: (image.boxes.xyxy, [dataset.class_names[label] for label in image.boxes.labels])
        for image in dataset.images
    }


@pytest.mark.parametrize("target", TARGETS)
def test_negatives_subfolders_and_boxes_survive(target: str, tmp_path: Path) -> None:
    dataset = Dataset(
        classes("scratch", "spot"),
        (
            record(tmp_path, "a.png", [[4, 5, 20, 30], [10, 10, 40, 44]], [0, 1]),
            record(tmp_path, "empty.png", [], []),
            record(tmp_path, "line2/b.png", [[0, 0, 64, 48]], [1]),
        ),
    )
    save(dataset, tmp_path / "out", to=target)
    back = load(tmp_path / "out", fmt=target)
    assert sorted(image.name for image in back.images) == ["a.png", "empty.png", "line2/b.png"]
    assert {image.split for image in back.images} == {"train"}
    got = boxes_by_name(back)
    tolerance = 0.5 if target == "voc" else 1e-4
    np.testing.assert_allclose(got["a.png"][0], [[4, 5, 20, 30], [10, 10, 40, 44]], atol=tolerance)
    assert got["a.png"][1] == ["scratch", "spot"]
    np.testing.assert_allclose(got["line2/b.png"][0], [[0, 0, 64, 48]], atol=tolerance)
    assert len(got["empty.png"][0]) == 0
    assert back.class_names == ["scratch", "spot"]


@pytest.mark.parametrize("target", TARGETS)
def test_out_of_image_boxes_are_clipped_and_degenerate_ones_dropped(target: str, tmp_path: Path) -> None:
    dataset = Dataset(
        classes("scratch"),
        (
            record(
                tmp_path, "a.png", [[-5, -3, 20, 30], [50, 40, 90, 70], [10, 10, 10, 20], [70, 5, 80, 9]], [0, 0, 0, 0]
            ),
        ),
    )
    report = Report()
    save(dataset, tmp_path / "out", to=target, report=report)
    assert report.counts["clipped"] == 2
    assert report.counts["dropped_degenerate"] == 2  # zero width, and entirely right of the image
    back = load(tmp_path / "out", fmt=target)
    tolerance = 0.5 if target == "voc" else 1e-4
    np.testing.assert_allclose(back.images[0].boxes.xyxy, [[0, 0, 20, 30], [50, 40, 64, 48]], atol=tolerance)


@pytest.mark.parametrize("target", TARGETS)
def test_crowd_regions_are_written_only_where_the_format_marks_them(target: str, tmp_path: Path) -> None:
    dataset = Dataset(
        classes("person"),
        (record(tmp_path, "a.png", [[1, 1, 10, 10], [20, 20, 60, 40]], [0, 0], iscrowd=[False, True]),),
    )
    report = Report()
    save(dataset, tmp_path / "dropped", to=target, report=report)
    expected = 2 if FORMATS[target].keeps_crowd else 1
    assert len(load(tmp_path / "dropped", fmt=target).images[0].boxes) == expected
    assert report.counts["dropped_crowd"] == 2 - expected
    save(dataset, tmp_path / "kept", to=target, keep_crowd=True)
    assert len(load(tmp_path / "kept", fmt=target).images[0].boxes) == 2


@pytest.mark.parametrize("target", TARGETS)
def test_names_that_would_share_an_annotation_file_are_renamed(target: str, tmp_path: Path) -> None:
    dataset = Dataset(
        classes("scratch"),
        (
            record(tmp_path, "a.png", [[1, 1, 10, 10]], [0]),
            record(tmp_path, "a.jpg", [[2, 2, 20, 20]], [0]),
            record(tmp_path, "a.jpg", [[3, 3, 30, 30]], [0], split="val"),
        ),
    )
    result = convert_dataset(dataset, tmp_path, target)
    report = json.loads((tmp_path / "out" / "convert.json").read_text())
    back = load(tmp_path / "out", fmt=target)
    written = {f"{image.split}/{image.name}": image for image in back.images}
    tolerance = 0.5 if target == "voc" else 1e-4
    # a.png keeps its name; a later image whose annotation file would be the same is renamed, never overwritten.
    np.testing.assert_allclose(written["train/a.png"].boxes.xyxy, [[1, 1, 10, 10]], atol=tolerance)
    for old, new in report["renamed"].items():
        assert old != new and new in written
    if target in ("yolo", "labelme", "voc"):
        assert "train/a.jpg" in report["renamed"]
    assert len(result.dataset.images) == len(back.images) == 3
    assert sorted(len(image.boxes) for image in back.images) == [1, 1, 1]
    widths = sorted(float(image.boxes.xyxy[0, 2]) for image in back.images)
    np.testing.assert_allclose(widths, [10, 20, 30], atol=tolerance)


def convert_dataset(dataset: Dataset, tmp_path: Path, target: str):
    """Save `dataset` as COCO, then run the full `convert` to `target` (which writes convert.json)."""
    save(dataset, tmp_path / "coco", to="coco")
    return convert(tmp_path / "coco", tmp_path / "out", to=target)


def test_class_ids_and_remap_are_written_down(tmp_path: Path) -> None:
    dataset = Dataset(
        (ClassInfo(0, "pieces"), ClassInfo(1, "bishop"), ClassInfo(5, "pawn")),
        (record(tmp_path, "a.png", [[1, 1, 10, 10]], [2]),),
    )
    save(dataset, tmp_path / "coco", to="coco")
    convert(tmp_path / "coco", tmp_path / "yolo", to="yolo")
    classes = json.loads((tmp_path / "yolo" / "convert.json").read_text())["classes"]
    assert [(c["name"], c["source_id"], c["output_id"]) for c in classes] == [
        ("pieces", 0, 0),
        ("bishop", 1, 1),
        ("pawn", 5, 2),
    ]
    yolo_line = (tmp_path / "yolo" / "labels" / "train" / "a.txt").read_text().split()
    assert yolo_line[0] == "2"

    class_map = tmp_path / "map.yaml"
    class_map.write_text("pawn: 0\npieces: 1\nbishop: 2\n")
    convert(tmp_path / "coco", tmp_path / "mapped", to="yolo", class_map=class_map)
    assert (tmp_path / "mapped" / "labels" / "train" / "a.txt").read_text().split()[0] == "0"
    mapped = load(tmp_path / "mapped", fmt="yolo")
    assert mapped.class_names == ["pawn", "pieces", "bishop"]


def test_a_class_map_giving_ids_must_give_every_class_one(tmp_path: Path) -> None:
    dataset = Dataset(classes("a", "b"), ())
    with pytest.raises(UsageError, match="classes without an id in the class map: b"):
        ClassOps({"a": 0}).apply(dataset, Report())


def test_sizes_come_from_headers_without_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dataset = Dataset(
        classes("scratch"), (record(tmp_path, "a.png", [[1, 2, 30, 40]], [0], size=(120, 90), declare_size=False),)
    )

    def refuse_decode(self: Image.Image, *args: object) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(Image.Image, "load", refuse_decode)
    result = save(dataset, tmp_path / "out", to="coco")
    image = result.dataset.images[0]
    assert (image.width, image.height) == (120, 90)


def test_exif_rotated_images_are_written_upright_without_the_tag(tmp_path: Path) -> None:
    source = make_image(tmp_path / "src" / "rot.jpg", 60, 40, orientation=6)  # stored 60x40, shown 40x60
    image = ImageRecord(
        name="rot.jpg", split="train", width=40, height=60, boxes=Boxes([[5, 10, 20, 50]], [0]), source=source
    )
    report = Report()
    save(Dataset(classes("scratch"), (image,)), tmp_path / "out", to="coco", report=report)
    assert report.counts["exif_rotated"] == 1
    with Image.open(tmp_path / "out" / "images" / "train" / "rot.jpg") as written:
        assert written.size == (40, 60)
        assert written.getexif().get(0x0112) in (None, 1)


def test_declared_size_that_disagrees_with_the_upright_image_is_reported(tmp_path: Path) -> None:
    source = make_image(tmp_path / "src" / "rot.jpg", 60, 40, orientation=6)
    image = ImageRecord(name="rot.jpg", split="train", width=60, height=40, boxes=Boxes.empty(), source=source)
    report = Report()
    save(Dataset(classes("scratch"), (image,)), tmp_path / "out", to="coco", report=report)
    assert report.counts["size_mismatch"] == 1
    assert "declared 60x40, upright image is 40x60" in str(report.warnings[0])


def test_missing_image_fails_or_is_skipped_and_reported(tmp_path: Path) -> None:
    present = record(tmp_path, "a.png", [[1, 1, 5, 5]], [0])
    missing = ImageRecord(name="gone.png", split="train", width=10, height=10, source=tmp_path / "nope.png")
    dataset = Dataset(classes("scratch"), (present, missing))
    with pytest.raises(ImageError, match=r"nope\.png"):
        save(dataset, tmp_path / "fail", to="yolo")
    assert not (tmp_path / "fail").exists(), "a failed save must leave no output behind"
    report = Report(on_error="skip")
    result = save(dataset, tmp_path / "skip", to="yolo", report=report)
    assert [image.name for image in result.dataset.images] == ["a.png"]
    assert report.counts["skipped_items"] == 1 and "nope.png" in str(report.skipped[0])


def test_convert_json_gives_every_problem_its_code_and_describes_the_codes(tmp_path: Path) -> None:
    src = tmp_path / "voc"
    make_image(src / "JPEGImages" / "a.png", 64, 48)
    (src / "Annotations").mkdir()
    box = (
        "<object><name>dent</name><bndbox><xmin>50</xmin><ymin>2</ymin><xmax>90</xmax><ymax>9</ymax></bndbox></object>"
    )
    (src / "Annotations" / "a.xml").write_text(  # declares 80x48; its box reaches past the real 64 px
        f"<annotation><filename>a.png</filename><size><width>80</width><height>48</height></size>{box}</annotation>"
    )
    (src / "Annotations" / "b.xml").write_text(f"<annotation><filename>b.png</filename>{box}</annotation>")
    convert(src, tmp_path / "out", to="yolo", fmt_from="voc", on_error="skip")
    report = json.loads((tmp_path / "out" / CONVERT_MANIFEST).read_text())
    assert [(Path(p["file"]).name, p["field"], p["code"]) for p in report["skipped"]] == [
        ("b.xml", "size", "unknown_size")
    ]
    assert [(Path(p["file"]).name, p["code"]) for p in report["warnings"]] == [("a.xml", "size_mismatch")]
    assert report["counts"]["clipped"] == 1
    assert set(report["codes"]) == {*report["counts"], "unknown_size", "size_mismatch"}
    for name, description in report["codes"].items():
        code = codes.lookup(name)
        assert description == {"severity": code.severity, "label": code.label}, name
    assert report["codes"]["unknown_size"]["severity"] == "error" and report["codes"]["clipped"]["severity"] is None


def test_output_folder_is_never_overwritten_silently(tmp_path: Path) -> None:
    dataset = Dataset(classes("scratch"), (record(tmp_path, "a.png", [[1, 1, 5, 5]], [0]),))
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        save(dataset, out, to="coco")
    assert (out / "keep.txt").read_text() == "mine"
    save(dataset, out, to="coco", overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "annotations" / "instances_train.json").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "temporary folders left behind"


def test_output_inside_the_source_is_refused(tmp_path: Path) -> None:
    dataset = Dataset(classes("scratch"), (record(tmp_path, "a.png", [[1, 1, 5, 5]], [0]),))
    save(dataset, tmp_path / "coco", to="coco")
    with pytest.raises(UsageError, match="must not be"):
        convert(tmp_path / "coco", tmp_path / "coco" / "yolo", to="yolo")


def test_counts_per_split_in_order_of_appearance(tmp_path: Path) -> None:
    dataset = Dataset(
        classes("scratch"),
        (
            record(tmp_path, "a.png", [[1, 1, 5, 5], [2, 2, 6, 6]], [0, 0], split="val"),
            record(tmp_path, "b.png", [], [], split="train"),
            record(tmp_path, "c.png", [[1, 1, 5, 5]], [0], split="val"),
        ),
    )
    assert dataset_counts(dataset) == {
        "images": 3,
        "boxes": 3,
        "negatives": 1,
        "splits": {
            "val": {"images": 2, "boxes": 3, "negatives": 0},
            "train": {"images": 1, "boxes": 0, "negatives": 1},
        },
    }
    assert list(dataset_counts(dataset)["splits"]) == ["val", "train"]


@pytest.mark.parametrize("images", ["hardlink", "symlink"])
def test_preprocessed_images_cannot_be_links(images: str, tmp_path: Path) -> None:
    make_image(tmp_path / "src" / "images" / "train" / "a.jpg", 32, 24)
    (tmp_path / "src" / "labels" / "train").mkdir(parents=True)
    (tmp_path / "src" / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "src" / "data.yaml").write_text("path: .\ntrain: images/train\nnames: [spot]\n")
    with pytest.raises(UsageError, match=f"cannot be {images}ed, only copied"):
        convert(tmp_path / "src", tmp_path / "out", to="voc", images=images, preprocess="clahe")  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()
