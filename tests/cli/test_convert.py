"""`bboxaug convert` and `bboxaug formats` from the command line, end to end: small VOC and YOLO datasets written
by hand, converted by the CLI, and the files written read back with plain parsers (not bboxaug's readers)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from bboxaug.cli.main import main
from bboxaug.formats import FORMATS
from tests.conftest import make_image, voc_objects

Box = tuple[str, float, float, float, float]  # class name, x1, y1, x2, y2 in pixels
Written = dict[tuple[str, str], list[Box]]  # (split, image name) -> its boxes, sorted


@dataclass(frozen=True)
class Picture:
    """One image of a hand-made dataset and the boxes it holds."""

    name: str
    split: str
    size: tuple[int, int]
    boxes: tuple[Box, ...]

    @property
    def stem(self) -> str:
        return Path(self.name).stem


CLASSES = ("scratch", "crack")
PICTURES = (
    Picture("a.png", "train", (64, 48), (("scratch", 4, 6, 20, 30), ("crack", 30, 10, 64, 47))),
    Picture("b.png", "train", (80, 40), ()),
    Picture("c.png", "val", (50, 50), (("crack", 0, 0, 25, 50),)),
)
SIZES = {picture.name: picture.size for picture in PICTURES}

# Where each target puts an image (README.md, "layout written").
IMAGE_PATHS = {
    "coco": "images/{split}/{name}",
    "voc": "JPEGImages/{name}",
    "yolo": "images/{split}/{name}",
    "labelme": "{split}/{name}",
}


def expected(pictures: tuple[Picture, ...] = PICTURES) -> Written:
    return {(picture.split, picture.name): sorted(picture.boxes) for picture in pictures}


# --- sources written by hand -------------------------------------------------------------------------------


def write_voc(root: Path, pictures: tuple[Picture, ...] = PICTURES) -> Path:
    """A Pascal VOC folder: JPEGImages, one XML per image (1-based inclusive corners), ImageSets and classes.txt."""
    (root / "Annotations").mkdir(parents=True)
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    for split in sorted({picture.split for picture in pictures}):
        stems = [picture.stem for picture in pictures if picture.split == split]
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(stems) + "\n")
    for picture in pictures:
        make_image(root / "JPEGImages" / picture.name, *picture.size)
        objects = "".join(
            f"<object><name>{name}</name><bndbox><xmin>{x1 + 1:g}</xmin><ymin>{y1 + 1:g}</ymin>"
            f"<xmax>{x2:g}</xmax><ymax>{y2:g}</ymax></bndbox></object>"
            for name, x1, y1, x2, y2 in picture.boxes
        )
        width, height = picture.size
        (root / "Annotations" / f"{picture.stem}.xml").write_text(
            f"<annotation><filename>{picture.name}</filename><size><width>{width}</width><height>{height}</height>"
            f"<depth>3</depth></size>{objects}</annotation>"
        )
    return root


def write_yolo(root: Path, pictures: tuple[Picture, ...] = PICTURES) -> Path:
    """An Ultralytics YOLO folder: data.yaml, images/<split>/ and labels/<split>/ with normalised centre boxes."""
    splits = sorted({picture.split for picture in pictures})
    data = {split: f"images/{split}" for split in splits} | {"names": dict(enumerate(CLASSES))}
    (root / "data.yaml").parent.mkdir(parents=True, exist_ok=True)
    (root / "data.yaml").write_text(yaml.safe_dump(data))
    for picture in pictures:
        make_image(root / "images" / picture.split / picture.name, *picture.size)
        width, height = picture.size
        lines = [
            f"{CLASSES.index(name)} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} "
            f"{(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}\n"
            for name, x1, y1, x2, y2 in picture.boxes
        ]
        label = root / "labels" / picture.split / f"{picture.stem}.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("".join(lines))
    return root


SOURCES: dict[str, Callable[..., Path]] = {"voc": write_voc, "yolo": write_yolo}


# --- targets read back with plain parsers --------------------------------------------------------------------


def read_coco(dst: Path) -> Written:
    written: Written = {}
    for file in sorted((dst / "annotations").glob("instances_*.json")):
        split = file.stem.removeprefix("instances_")
        data = json.loads(file.read_text())
        names = {category["id"]: category["name"] for category in data["categories"]}
        images = {image["id"]: image["file_name"] for image in data["images"]}
        for name in images.values():
            written[(split, name)] = []
        for annotation in data["annotations"]:
            x, y, w, h = annotation["bbox"]
            written[(split, images[annotation["image_id"]])].append(
                (names[annotation["category_id"]], x, y, x + w, y + h)
            )
    return {key: sorted(boxes) for key, boxes in written.items()}


def read_voc(dst: Path) -> Written:
    split_of = {
        stem: file.stem for file in (dst / "ImageSets" / "Main").glob("*.txt") for stem in file.read_text().split()
    }
    written: Written = {}
    for xml in sorted((dst / "Annotations").glob("*.xml")):
        name = re.search(r"<filename>(.*?)</filename>", xml.read_text()).group(1)
        written[(split_of[xml.stem], name)] = sorted(voc_objects(xml))
    return written


def read_yolo(dst: Path) -> Written:
    """Label files back in pixels; sizes come from the hand-made pictures (the images may not be written)."""
    data = yaml.safe_load((dst / "data.yaml").read_text())
    names = data["names"]
    written: Written = {}
    for label in sorted((dst / "labels").glob("*/*.txt")):
        name = next(picture.name for picture in PICTURES if picture.stem == label.stem)
        width, height = SIZES[name]
        boxes = []
        for line in label.read_text().splitlines():
            index, cx, cy, w, h = line.split()
            cx, w = float(cx) * width, float(w) * width
            cy, h = float(cy) * height, float(h) * height
            boxes.append((names[int(index)], cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
        written[(label.parent.name, name)] = sorted(boxes)
    return written


def read_labelme(dst: Path) -> Written:
    written: Written = {}
    for file in sorted(dst.glob("*/*.json")):
        data = json.loads(file.read_text())
        boxes = []
        for shape in data["shapes"]:
            (xa, ya), (xb, yb) = shape["points"]
            boxes.append((shape["label"], min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)))
        written[(file.parent.name, data["imagePath"])] = sorted(boxes)
    return written


READERS: dict[str, Callable[[Path], Written]] = {
    "coco": read_coco,
    "voc": read_voc,
    "yolo": read_yolo,
    "labelme": read_labelme,
}


def assert_same_boxes(written: Written, wanted: Written) -> None:
    assert written.keys() == wanted.keys()
    for key, boxes in wanted.items():
        assert [box[0] for box in written[key]] == [box[0] for box in boxes], key
        assert [box[1:] for box in written[key]] == [pytest.approx(box[1:], abs=1e-3) for box in boxes], key


def convert(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["convert", *map(str, args)])


def assert_usage_error(result: Result) -> str:
    """Exit code 2 with one error line and no traceback; returns that line."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.lower().startswith("error")]
    assert len(errors) == 1, result.output
    return errors[0]


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


# --- bboxaug formats ---------------------------------------------------------------------------------------


def test_formats_lists_every_registered_format_with_its_description() -> None:
    result = CliRunner().invoke(main, ["formats"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == len(FORMATS)
    for name, adapter in FORMATS.items():
        assert sum(line.split()[0] == name and adapter.description in line for line in lines) == 1, name


# --- bboxaug convert ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", sorted(READERS))
@pytest.mark.parametrize("source", sorted(SOURCES))
def test_convert_writes_every_box_and_image(source: str, target: str, tmp_path: Path) -> None:
    src = SOURCES[source](tmp_path / "src")
    dst = tmp_path / "out"
    result = convert(src, dst, "--to", target)
    assert result.exit_code == 0, result.output
    assert_same_boxes(READERS[target](dst), expected())
    for picture in PICTURES:
        image = dst / IMAGE_PATHS[target].format(split=picture.split, name=picture.name)
        original = src / IMAGE_PATHS[source].format(split=picture.split, name=picture.name)
        assert image.read_bytes() == original.read_bytes()
    report = json.loads((dst / "convert.json").read_text())
    assert (report["from"], report["to"], report["images"], report["boxes"]) == (source, target, 3, 3)


def test_convert_summary_names_what_was_written(tmp_path: Path) -> None:
    dst = tmp_path / "out"
    result = convert(write_voc(tmp_path / "src"), dst, "--to", "yolo")
    assert result.exit_code == 0, result.output
    output = result.output
    assert re.search(rf"^converted voc -> yolo: {re.escape(str(dst))}$", output, re.M), output
    assert re.search(r"^\s*images\s+3 \(train 2, val 1\)$", output, re.M), output
    assert re.search(r"^\s*boxes\s+3$", output, re.M), output
    assert re.search(r"^\s*negatives\s+1$", output, re.M), output
    assert re.search(r"^\s*classes\s+2: scratch=0, crack=1$", output, re.M), output
    assert re.search(rf"^\s*report\s+{re.escape(str(dst / 'convert.json'))}$", output, re.M), output


def test_quiet_convert_prints_nothing_and_still_writes(tmp_path: Path) -> None:
    dst = tmp_path / "out"
    result = convert(write_voc(tmp_path / "src"), dst, "--to", "coco", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert_same_boxes(read_coco(dst), expected())


def break_first_xmin(src: Path, stem: str) -> Path:
    xml = src / "Annotations" / f"{stem}.xml"
    xml.write_text(re.sub(r"<xmin>[^<]*</xmin>", "<xmin>abc</xmin>", xml.read_text(), count=1))
    return xml


def test_on_error_skip_writes_the_rest_lists_the_skip_and_exits_1(tmp_path: Path) -> None:
    src = write_voc(tmp_path / "src")
    broken = break_first_xmin(src, "a")
    dst = tmp_path / "out"
    result = convert(src, dst, "--to", "yolo", "--on-error", "skip")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert re.search(r"^\s*skipped\s+1$", result.output, re.M), result.output
    assert re.search(rf"^\s+{re.escape(str(broken))}: .*xmin.*'abc'", result.output, re.M), result.output
    assert_same_boxes(read_yolo(dst), expected(PICTURES[1:]))
    skipped = json.loads((dst / "convert.json").read_text())["skipped"]
    assert len(skipped) == 1
    assert skipped[0]["file"] == str(broken) and "xmin" in skipped[0]["field"]


def test_a_malformed_annotation_stops_the_run_with_one_line_naming_file_and_field(tmp_path: Path) -> None:
    src = write_voc(tmp_path / "src")
    broken = break_first_xmin(src, "a")
    dst = tmp_path / "out"
    result = convert(src, dst, "--to", "yolo")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {broken}: ") and "xmin" in lines[0], result.output
    assert not dst.exists()


def test_an_unknown_target_is_a_usage_error(tmp_path: Path) -> None:
    dst = tmp_path / "out"
    line = assert_usage_error(convert(write_voc(tmp_path / "src"), dst, "--to", "pascal"))
    assert "--to" in line and "pascal" in line
    assert not dst.exists()


def test_a_missing_source_is_a_usage_error(tmp_path: Path) -> None:
    dst = tmp_path / "out"
    line = assert_usage_error(convert(tmp_path / "nowhere", dst, "--to", "yolo"))
    assert "SRC" in line and "nowhere" in line
    assert not dst.exists()


def test_an_existing_destination_needs_overwrite_and_is_left_untouched(tmp_path: Path) -> None:
    src = write_voc(tmp_path / "src")
    dst = tmp_path / "out"
    (dst / "mine").mkdir(parents=True)
    (dst / "mine" / "notes.txt").write_text("keep me")
    before, beside = files_under(dst), sorted(tmp_path.iterdir())
    line = assert_usage_error(convert(src, dst, "--to", "yolo"))
    assert str(dst) in line and "--overwrite" in line
    assert files_under(dst) == before
    assert sorted(tmp_path.iterdir()) == beside  # no staging folder left beside it either
    result = convert(src, dst, "--to", "yolo", "--overwrite")
    assert result.exit_code == 0, result.output
    assert not (dst / "mine").exists()
    assert_same_boxes(read_yolo(dst), expected())


@pytest.mark.parametrize("target", sorted(READERS))
def test_images_none_writes_annotations_only(target: str, tmp_path: Path) -> None:
    dst = tmp_path / "out"
    result = convert(write_voc(tmp_path / "src"), dst, "--to", target, "--images", "none")
    assert result.exit_code == 0, result.output
    suffixes = {Path(name).suffix for name in files_under(dst)}
    assert suffixes <= {".json", ".xml", ".txt", ".yaml"}, suffixes
    assert_same_boxes(READERS[target](dst), expected())


@pytest.mark.parametrize(
    ("target", "class_map"), [("yolo", {"crack": 0, "scratch": 1}), ("coco", {"scratch": 7, "crack": 3})]
)
def test_class_map_renumbers_the_classes(target: str, class_map: dict[str, int], tmp_path: Path) -> None:
    map_file = tmp_path / "classes.yaml"
    map_file.write_text(yaml.safe_dump(class_map))
    dst = tmp_path / "out"
    result = convert(write_voc(tmp_path / "src"), dst, "--to", target, "--class-map", map_file)
    assert result.exit_code == 0, result.output
    if target == "yolo":
        ids = {name: index for index, name in yaml.safe_load((dst / "data.yaml").read_text())["names"].items()}
    else:
        categories = json.loads((dst / "annotations" / "instances_train.json").read_text())["categories"]
        ids = {category["name"]: category["id"] for category in categories}
    assert ids == class_map
    assert_same_boxes(READERS[target](dst), expected())  # the boxes keep their classes under the new ids
    report = json.loads((dst / "convert.json").read_text())
    assert {entry["name"]: entry["output_id"] for entry in report["classes"]} == class_map


def test_a_class_map_the_target_cannot_follow_is_a_usage_error_naming_the_file(tmp_path: Path) -> None:
    map_file = tmp_path / "classes.yaml"
    map_file.write_text(yaml.safe_dump({"scratch": 5, "crack": 9}))  # YOLO numbers classes by position
    dst = tmp_path / "out"
    line = assert_usage_error(convert(write_voc(tmp_path / "src"), dst, "--to", "yolo", "--class-map", map_file))
    assert line.startswith(f"error: {map_file}: ")
    assert not dst.exists()


# --- class operations and filters --------------------------------------------------------------------------


def test_a_class_map_merges_classes_into_one_written_with_every_box(tmp_path: Path) -> None:
    map_file = tmp_path / "map.yaml"
    map_file.write_text("scratch: damage\ncrack: damage\n")
    dst = tmp_path / "out"
    result = convert(write_voc(tmp_path / "src"), dst, "--to", "coco", "--class-map", map_file)
    assert result.exit_code == 0, result.output
    merged = {key: sorted(("damage", *box[1:]) for box in boxes) for key, boxes in expected().items()}
    assert_same_boxes(read_coco(dst), merged)
    report = json.loads((dst / "convert.json").read_text())
    assert report["classes"] == [{"name": "damage", "source_id": None, "output_id": 1}]
    assert report["class_map"] == [
        {"name": "scratch", "source_id": None, "to": "damage", "output_id": 1},
        {"name": "crack", "source_id": None, "to": "damage", "output_id": 1},
    ]
    assert "classes    1: damage=1" in result.output
    assert "class map  scratch -> damage, crack -> damage" in result.output
    assert report["class_ops"] == {
        "class_map": {"scratch": "damage", "crack": "damage"},
        "keep_classes": None,
        "drop_classes": [],
    }
    assert report["filters"] is None


def test_drop_classes_then_negatives_drop_leaves_only_images_with_boxes_and_says_so(tmp_path: Path) -> None:
    dst = tmp_path / "out"
    result = convert(write_voc(tmp_path / "src"), dst, "--to", "yolo", "--drop-classes", "crack", "--negatives", "drop")
    assert result.exit_code == 0, result.output
    assert_same_boxes(read_yolo(dst), {("train", "a.png"): [("scratch", 4, 6, 20, 30)]})
    assert yaml.safe_load((dst / "data.yaml").read_text())["names"] == {0: "scratch"}
    report = json.loads((dst / "convert.json").read_text())
    assert report["counts"]["boxes_dropped:class"] == 2
    assert report["counts"]["negatives_dropped"] == 2  # b.png was one; c.png lost its only box
    assert "        2  boxes dropped: their class was dropped" in result.output
    assert "        2  images without boxes dropped (--negatives)" in result.output


def test_min_box_size_and_drop_empty_classes_from_the_command_line(tmp_path: Path) -> None:
    dst = tmp_path / "out"
    # scratch is 16x24, the cracks 34x37 and 25x50: 20 px drops the scratch, and its class with it
    result = convert(
        write_voc(tmp_path / "src"), dst, "--to", "labelme", "--min-box-size", "20", "--drop-empty-classes"
    )
    assert result.exit_code == 0, result.output
    wanted = expected()
    wanted[("train", "a.png")] = [("crack", 30, 10, 64, 47)]
    assert_same_boxes(read_labelme(dst), wanted)
    report = json.loads((dst / "convert.json").read_text())
    assert report["counts"]["boxes_dropped:min_box_size"] == 1
    assert report["counts"]["classes_dropped:empty"] == 1
    assert report["filters"] == {
        "min_box_size": 20.0,
        "min_box_area": 0.0,
        "negatives": 1.0,
        "drop_empty_classes": True,
        "seed": 0,
    }
    assert [row["to"] for row in report["class_map"]] == [None, "crack"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--keep-classes", "dent"), "error: --keep-classes: unknown classes dent; known: scratch, crack"),
        (("--drop-classes", "scratch,dent"), "error: --drop-classes: unknown classes dent; known: scratch, crack"),
    ],
)
def test_an_unknown_class_name_is_a_one_line_usage_error_listing_the_classes(
    args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    dst = tmp_path / "out"
    assert assert_usage_error(convert(write_voc(tmp_path / "src"), dst, "--to", "coco", *args)) == message
    assert not dst.exists()


def test_an_unknown_class_in_a_class_map_names_the_file(tmp_path: Path) -> None:
    map_file = tmp_path / "map.yaml"
    map_file.write_text("scratch: damage\ncrak: damage\n")
    dst = tmp_path / "out"
    line = assert_usage_error(convert(write_voc(tmp_path / "src"), dst, "--to", "coco", "--class-map", map_file))
    assert line == f"error: {map_file}: unknown classes crak; known: scratch, crack"
    assert not dst.exists()


def test_a_bad_negatives_value_is_a_usage_error(tmp_path: Path) -> None:
    result = convert(write_voc(tmp_path / "src"), tmp_path / "out", "--to", "coco", "--negatives", "most")
    assert result.exit_code == 2
    assert "--negatives takes keep, drop or a share between 0 and 1, not 'most'" in result.output


# --- oriented boxes: --task ----------------------------------------------------------------------------------


def dota_source(root: Path) -> Path:
    make_image(root / "images/a.png", 100, 50)
    (root / "labelTxt").mkdir(parents=True)
    (root / "labelTxt/a.txt").write_text("10 5 30 5 30 15 10 15 plane 0\n20 10 25 20 15 25 10 15 ship 1\n")
    return root


def test_task_obb_writes_corner_lines_and_task_detect_counts_the_upright_boxes(tmp_path: Path) -> None:
    source = dota_source(tmp_path / "dota")
    result = CliRunner().invoke(main, ["convert", str(source), str(tmp_path / "obb"), "--to", "yolo", "--task", "obb"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "obb/labels/default/a.txt").read_text().splitlines() == [
        "0 0.100000 0.100000 0.300000 0.100000 0.300000 0.300000 0.100000 0.300000",
        "1 0.200000 0.200000 0.250000 0.400000 0.150000 0.500000 0.100000 0.300000",
    ]
    result = CliRunner().invoke(
        main, ["convert", str(source), str(tmp_path / "det"), "--to", "yolo", "--task", "detect"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "det/labels/default/a.txt").read_text().splitlines() == [
        "0 0.200000 0.200000 0.200000 0.200000",
        "1 0.175000 0.350000 0.150000 0.300000",
    ]
    assert re.search(r"2\s+oriented boxes written as their enclosing upright box", result.output)
    counts = json.loads((tmp_path / "det/convert.json").read_text())["counts"]
    assert counts["obb_written_upright"] == 2


def test_task_for_a_format_of_one_task_is_a_usage_error(tmp_path: Path) -> None:
    source = dota_source(tmp_path / "dota")
    result = CliRunner().invoke(main, ["convert", str(source), str(tmp_path / "out"), "--to", "coco", "--task", "obb"])
    assert result.exit_code == 2
    assert "the coco format has no task 'obb': it writes one kind of label" in result.output
    assert not (tmp_path / "out").exists()
