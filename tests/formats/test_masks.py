"""The masks format: pixel masks in, one instance per connected component; indexed masks out.

Expected instances are found independently of the code under test: components by scipy's `ndimage.label`, bounds
from their pixel indices, COCO output read back with pycocotools; masks are drawn with OpenCV into tmp_path.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from bboxaug.cli.main import main
from bboxaug.commands.convert import convert
from bboxaug.core import codes
from bboxaug.core.errors import AnnotationError, UsageError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord
from bboxaug.core.report import Report
from bboxaug.formats import FORMATS, detect_format
from bboxaug.formats.mask_pixels import find_instances, paint, rings
from bboxaug.formats.masks import CLASS_TABLE, MIN_MASKS_FOR_WORKERS, MaskOptions, parse_class_table
from bboxaug.pipeline.source import load
from tests.conftest import GOLDEN

ndimage = pytest.importorskip("scipy.ndimage", reason="scipy labels the expected components independently")

EIGHT = np.ones((3, 3), dtype=bool)
FOUR = ndimage.generate_binary_structure(2, 1)


def components(foreground: np.ndarray, connectivity: int = 8) -> list[np.ndarray]:
    """Each connected component of a boolean mask as its own boolean mask, found by scipy."""
    labels, count = ndimage.label(foreground, structure=EIGHT if connectivity == 8 else FOUR)
    return [labels == k for k in range(1, count + 1)]


def bounds(component: np.ndarray) -> list[float]:
    """`[x0, y0, x1 + 1, y1 + 1]` of a component's pixels: the model's box of pixel columns x0..x1."""
    ys, xs = np.nonzero(component)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def save_png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def blobs(rng: np.random.Generator, height: int, width: int, count: int, *, holes: bool = False) -> np.ndarray:
    """A mask of random filled circles, ellipses and polygons (some touching; with `holes`, some ellipses with a
    hole punched in)."""
    mask = np.zeros((height, width), np.uint8)
    for _ in range(count):
        kind = rng.integers(3)
        cx, cy = int(rng.integers(4, width - 4)), int(rng.integers(4, height - 4))
        if kind == 0:
            cv2.circle(mask, (cx, cy), int(rng.integers(2, 12)), 255, -1)
        elif kind == 1:
            axes = (int(rng.integers(3, 16)), int(rng.integers(2, 8)))
            cv2.ellipse(mask, (cx, cy), axes, float(rng.integers(180)), 0, 360, 255, -1)
            if holes and rng.random() < 0.5:
                cv2.circle(mask, (cx, cy), 1, 0, -1)
        else:
            points = rng.integers(-10, 11, (5, 2)) + np.array([cx, cy])
            cv2.fillPoly(mask, [points.astype(np.int32)], 255)
    return mask


def mvtec(root: Path, seed: int = 0, size: tuple[int, int] = (96, 80)) -> dict[tuple[str, str], np.ndarray]:
    """An MVTec AD category: good train and test images, three defect types with blob masks (one of them all
    background). Returns each test image's mask by (split, name)."""
    rng = np.random.default_rng(seed)
    width, height = size
    masks = {}
    kinds = [("train", "good", 3), ("test", "good", 2), ("test", "crack", 4), ("test", "scratch", 3)]
    for split, defect, count in [*kinds, ("test", "contamination", 3)]:
        for number in range(count):
            name = f"{number:03d}.png"
            save_png(root / split / defect / name, rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
            if defect != "good":
                mask = (
                    blobs(rng, height, width, int(rng.integers(1, 6)), holes=True)
                    if number or defect != "crack"
                    else None
                )
                mask = np.zeros((height, width), np.uint8) if mask is None else mask
                save_png(root / "ground_truth" / defect / f"{number:03d}_mask.png", mask)
                masks[split, f"{defect}/{name}"] = mask
    return masks


# --- pixels -> instances ------------------------------------------------------------------------------------


def shoelace(flat: list[float]) -> float:
    points = np.array(flat).reshape(-1, 2)
    x, y = points[:, 0], points[:, 1]
    return abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))) / 2


def test_outline_of_one_pixel_is_its_square() -> None:
    outer, holes = rings(np.ones((1, 1), bool), 5, 7)
    assert outer.tolist() == [[5, 7], [5, 8], [6, 8], [6, 7]]
    assert holes == []


def test_pixels_touching_at_a_corner_are_one_instance_with_8_and_two_with_4() -> None:
    values = np.zeros((4, 4), np.int32)
    values[0, 0] = values[1, 1] = 1
    eight = find_instances(values, 8).instances
    assert [i.xyxy for i in eight] == [(0.0, 0.0, 2.0, 2.0)]
    assert eight[0].area == 2
    assert shoelace(eight[0].polygon) == 2  # the two squares, not their hull
    four = find_instances(values, 4).instances
    assert [i.xyxy for i in four] == [(0.0, 0.0, 1.0, 1.0), (1.0, 1.0, 2.0, 2.0)]


def test_a_ring_keeps_its_hole_in_its_polygon() -> None:
    from pycocotools import mask as mask_utils

    values = np.zeros((7, 7), np.int32)
    values[1:6, 1:6] = 2
    values[2:4, 2:4] = 0  # two holes
    values[4, 4] = 0
    (ring,) = find_instances(values).instances
    assert ring.value == 2 and ring.area == 20 and ring.xyxy == (1.0, 1.0, 6.0, 6.0)
    assert shoelace(ring.polygon) == 20
    drawn = mask_utils.decode(mask_utils.frPyObjects([ring.polygon], 7, 7)[0]).astype(bool)
    np.testing.assert_array_equal(drawn, values == 2)
    big = np.zeros((60, 60), np.int32)
    big[5:55, 5:55] = 1
    big[20:40, 20:40] = 0
    (square,) = find_instances(big).instances
    filled = np.zeros((60, 60), np.uint8)
    cv2.fillPoly(filled, [np.array(square.polygon).reshape(-1, 2).astype(np.int32)], 1)
    assert not filled[21:39, 21:39].any() and filled[6:54, 6:19].all()  # OpenCV's fill (Ultralytics') too
    painted = paint(7, 7, [(2, [ring.polygon], ring.xyxy)])
    np.testing.assert_array_equal(painted.values, values)


def test_min_area_drops_and_counts_small_components() -> None:
    values = np.zeros((10, 10), np.int32)
    values[0, 0] = 1  # 1 px
    values[5:7, 5:7] = 1  # 4 px
    values[0:3, 7:10] = 3  # 9 px
    found = find_instances(values, min_area=4)
    assert found.dropped == 1
    assert [(i.value, i.area) for i in found.instances] == [(1, 4), (3, 9)]


@pytest.mark.parametrize("connectivity", [4, 8])
def test_random_masks_give_every_component_with_exact_bounds_and_outline(connectivity: int) -> None:
    """Random noise and blobs with holes: one instance per scipy component, its box the pixel bounds, its
    polygon rasterised by pycocotools the component itself, holes included."""
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(connectivity)
    checked = 0
    for trial in range(40):
        if trial % 2:
            foreground = rng.random((int(rng.integers(8, 48)), int(rng.integers(8, 48)))) < rng.uniform(0.1, 0.6)
        else:
            foreground = blobs(rng, 64, 64, 6, holes=True) > 0
        height, width = foreground.shape
        found = find_instances(foreground.astype(np.int32), connectivity).instances
        expected = components(foreground, connectivity)
        assert len(found) == len(expected)
        by_bounds = {tuple(bounds(c)): c for c in expected}
        for instance in found:
            component = by_bounds[instance.xyxy]
            assert instance.area == component.sum()
            rle = mask_utils.frPyObjects([instance.polygon], height, width)
            drawn = mask_utils.decode(mask_utils.merge(rle)).astype(bool)
            np.testing.assert_array_equal(drawn, component)
            checked += 1
    assert checked > 200


# --- class tables ------------------------------------------------------------------------------------------


def test_class_table_of_values_and_of_colours() -> None:
    index = parse_class_table({0: "background", 1: "crack", 2: "dent", 3: "crack"}, file="t.yaml")
    assert index.kind == "index" and index.names == ("crack", "dent")
    assert dict(index.positions) == {1: 0, 2: 1, 3: 0}
    colour = parse_class_table({"#000000": "bg", "#FF0000": "crack", "#00ff00": "stain"}, file="t.yaml")
    assert colour.kind == "colour" and colour.names == ("crack", "stain")
    assert dict(colour.positions) == {0xFF0000: 0, 0x00FF00: 1}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({1: "a", "#ff0000": "b"}, "mixes pixel values and colours"),
        ({"red": "a"}, "expected a pixel value"),
        ({1: ""}, "expected a class name"),
        ({0: "background"}, "names no class"),
        (["a", "b"], "expected a mapping"),
    ],
)
def test_bad_class_tables_say_what_is_wrong(data: object, message: str) -> None:
    with pytest.raises(AnnotationError, match=message) as raised:
        parse_class_table(data, file="t.yaml")
    assert raised.value.file == "t.yaml"


# --- the golden cases' pixels ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted((GOLDEN / "masks" / "cases").iterdir()), ids=lambda path: path.name)
def test_golden_masks_are_written_pixel_for_pixel(case: Path, tmp_path: Path) -> None:
    dataset = load(case / "input", fmt="masks")
    FORMATS["masks"].write(dataset, tmp_path, report=Report())
    golden = sorted(path.relative_to(case / "output") for path in (case / "output").rglob("*.png"))
    assert sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*.png")) == golden
    for relative in golden:
        want = np.asarray(Image.open(case / "output" / relative))
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / relative)), want, err_msg=str(relative))


# --- MVTec AD -> COCO: the measure ----------------------------------------------------------------


def test_mvtec_to_coco_gives_one_annotation_per_component(tmp_path: Path) -> None:
    masks = mvtec(tmp_path / "bottle")
    assert detect_format(tmp_path / "bottle").name == "masks"
    result = convert(tmp_path / "bottle", tmp_path / "coco", to="coco")
    assert result.source_format == "masks"
    assert [c.name for c in result.dataset.classes] == ["contamination", "crack", "scratch"]

    coco = COCO(str(tmp_path / "coco" / "annotations" / "instances_test.json"))
    by_name = {image["file_name"]: image["id"] for image in coco.dataset["images"]}
    categories = {c["id"]: c["name"] for c in coco.dataset["categories"]}
    ious, instances = [], 0
    for (_, name), mask in masks.items():
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=[by_name[name]]))
        expected = components(mask >= 128)
        assert len(annotations) == len(expected), name
        by_bounds = {tuple(bounds(c)): c for c in expected}
        for annotation in annotations:
            x, y, w, h = annotation["bbox"]
            component = by_bounds[(x, y, x + w, y + h)]  # the box is the pixel bounds exactly (0 px)
            assert categories[annotation["category_id"]] == name.split("/")[0]
            assert annotation["area"] == component.sum()
            ious.append(iou(coco.annToMask(annotation).astype(bool), component))
            instances += 1
    assert instances >= 20
    assert min(ious) >= 0.95, min(ious)
    good = [image["id"] for image in coco.dataset["images"] if image["file_name"].startswith("good/")]
    assert len(good) == 2 and not coco.getAnnIds(imgIds=good)
    train = json.loads((tmp_path / "coco" / "annotations" / "instances_train.json").read_text())
    assert len(train["images"]) == 3 and train["annotations"] == []


def test_mvtec_to_yolo_segment_gives_one_polygon_line_per_component(tmp_path: Path) -> None:
    """Each label line, read as Ultralytics does (class, then normalised x y pairs), is one component: its
    polygon's envelope is the component's pixel bounds (to YOLO's 6 decimals) and pycocotools' raster of it
    overlaps the component with IoU >= 0.95."""
    masks = mvtec(tmp_path / "bottle", seed=3)
    convert(tmp_path / "bottle", tmp_path / "yolo", to="yolo", task="segment")
    names = ["contamination", "crack", "scratch"]
    width, height = 96, 80
    ious, instances = [], 0
    for (split, name), mask in masks.items():
        label = (tmp_path / "yolo" / "labels" / split / name).with_suffix(".txt")
        lines = label.read_text().splitlines() if label.exists() else []
        expected = components(mask >= 128)
        assert len(lines) == len(expected), name
        by_bounds = {tuple(bounds(c)): c for c in expected}
        for line in lines:
            class_id, *numbers = line.split()
            assert names[int(class_id)] == name.split("/")[0]
            points = np.array(numbers, dtype=float).reshape(-1, 2) * [width, height]
            envelope = [*points.min(axis=0), *points.max(axis=0)]
            assert np.allclose(envelope, np.round(envelope), atol=1e-6 * width), envelope
            component = by_bounds[tuple(float(v) for v in np.round(envelope))]
            rle = mask_utils.frPyObjects([points.ravel().tolist()], height, width)
            ious.append(iou(mask_utils.decode(mask_utils.merge(rle)).astype(bool), component))
            instances += 1
    assert instances >= 20
    assert min(ious) >= 0.95, min(ious)
    train_labels = tmp_path / "yolo" / "labels" / "train"
    assert not train_labels.exists() or all(not f.read_text() for f in train_labels.rglob("*.txt"))


def test_mvtec_defect_image_without_its_mask_is_an_error_naming_the_mask(tmp_path: Path) -> None:
    mvtec(tmp_path / "cat")
    (tmp_path / "cat" / "ground_truth" / "scratch" / "001_mask.png").unlink()
    with pytest.raises(AnnotationError, match="has no mask") as raised:
        load(tmp_path / "cat")
    assert raised.value.file and raised.value.file.endswith("001_mask.png")
    report = Report(on_error="skip")
    dataset = load(tmp_path / "cat", report=report)
    assert [p.code for p in report.skipped] == [codes.MASK_MISSING.name]
    assert len(dataset.images) == 14


# --- flat layouts: binary, indexed, colour ------------------------------------------------------------------


def test_binary_masks_with_anti_aliased_edges_follow_the_threshold(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    masks = {}
    for number in range(4):
        mask = np.zeros((70, 90), np.uint8)
        for _ in range(4):
            centre = (int(rng.integers(8, 82)), int(rng.integers(8, 62)))
            cv2.circle(mask, centre, int(rng.integers(3, 9)), 255, -1, lineType=cv2.LINE_AA)
        masks[f"{number}.png"] = mask
        save_png(tmp_path / "set" / "images" / f"{number}.png", np.full((70, 90, 3), 90, np.uint8))
        save_png(tmp_path / "set" / "masks" / f"{number}_mask.png", mask)
    assert len(np.unique(np.concatenate(list(masks.values())))) > 10  # the edges are grey
    for threshold in (128, 40, 230):
        dataset = load(tmp_path / "set", read_options={"class_name": "pit", "threshold": threshold})
        assert dataset.class_names == ["pit"]
        for image in dataset.images:
            expected = components(masks[image.name] >= threshold)
            assert sorted(map(tuple, image.boxes.xyxy.tolist())) == sorted(tuple(bounds(c)) for c in expected)


def test_indexed_and_colour_masks_give_each_class_its_components(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    colours = {1: (255, 0, 0), 2: (0, 0, 255), 3: (255, 255, 0)}
    names = {1: "crack", 2: "dent", 3: "stain"}
    truth = {}
    for number in range(3):
        values = np.zeros((64, 64), np.uint8)
        for value in (1, 2, 3):
            values[blobs(rng, 64, 64, 3) > 0] = value
        truth[f"m{number}.png"] = values
        for kind in ("indexed", "colour"):
            save_png(tmp_path / kind / "images" / f"m{number}.png", np.zeros((64, 64, 3), np.uint8))
        save_png(tmp_path / "indexed" / "masks" / f"m{number}.png", values)
        painted = np.zeros((64, 64, 3), np.uint8)
        for value, rgb in colours.items():
            painted[values == value] = rgb
        save_png(tmp_path / "colour" / "masks" / f"m{number}.png", painted)
    (tmp_path / "indexed.yaml").write_text("".join(f"{v}: {n}\n" for v, n in names.items()))
    (tmp_path / "colour.yaml").write_text(
        "".join(f'"#{r:02x}{g:02x}{b:02x}": {names[v]}\n' for v, (r, g, b) in colours.items())
    )
    for kind in ("indexed", "colour"):
        dataset = load(tmp_path / kind, fmt="masks", read_options={"mask_classes": tmp_path / f"{kind}.yaml"})
        assert dataset.class_names == ["crack", "dent", "stain"]
        for image in dataset.images:
            got = sorted(
                (int(label), *xyxy) for label, xyxy in zip(image.boxes.labels, image.boxes.xyxy.tolist(), strict=True)
            )
            want = sorted(
                (value - 1, *bounds(c)) for value in (1, 2, 3) for c in components(truth[image.name] == value)
            )
            assert got == want, (kind, image.name)


def test_negatives_missing_masks_and_orphans(tmp_path: Path) -> None:
    root = tmp_path / "set"
    for name in ("empty", "lost"):
        save_png(root / "images" / f"{name}.png", np.zeros((8, 8, 3), np.uint8))
    save_png(root / "masks" / "empty.png", np.zeros((8, 8), np.uint8))
    save_png(root / "masks" / "nobody.png", np.full((8, 8), 255, np.uint8))
    report = Report()
    dataset = load(root, report=report)
    assert [(image.name, len(image.boxes)) for image in dataset.images] == [("empty.png", 0), ("lost.png", 0)]
    assert report.counts[codes.IMAGES_WITHOUT_MASK.name] == 1
    assert report.counts[codes.MASKS_WITHOUT_IMAGE.name] == 1
    assert any(w.file and w.file.endswith("lost.png") for w in report.warnings)


def test_masks_of_zeros_and_ones_are_warned_below_the_threshold(tmp_path: Path) -> None:
    save_png(tmp_path / "images" / "a.png", np.zeros((6, 6, 3), np.uint8))
    ones = np.zeros((6, 6), np.uint8)
    ones[1:3, 1:3] = 1
    save_png(tmp_path / "masks" / "a.png", ones)
    report = Report()
    assert load(tmp_path, report=report).box_count == 0
    assert report.counts[codes.MASK_BELOW_THRESHOLD.name] == 1
    assert load(tmp_path, read_options={"threshold": 1}).images[0].boxes.xyxy.tolist() == [[1, 1, 3, 3]]


def test_a_mask_of_another_size_or_unreadable_is_an_error_naming_it(tmp_path: Path) -> None:
    save_png(tmp_path / "images" / "a.png", np.zeros((6, 8, 3), np.uint8))
    save_png(tmp_path / "masks" / "a.png", np.zeros((6, 6), np.uint8))
    with pytest.raises(AnnotationError, match=r"mask is 6x6 but its image a.png is 8x6") as raised:
        load(tmp_path, fmt="masks")
    assert raised.value.file == str(tmp_path / "masks" / "a.png")
    assert raised.value.code == codes.MASK_SIZE_MISMATCH.name
    (tmp_path / "masks" / "a.png").write_bytes(b"not a png")
    with pytest.raises(AnnotationError, match="unreadable mask") as raised:
        load(tmp_path, fmt="masks")
    assert raised.value.file == str(tmp_path / "masks" / "a.png")


# --- writing ------------------------------------------------------------------------------------------------


def test_masks_to_masks_keeps_every_pixel_holes_and_nested_classes_included(tmp_path: Path) -> None:
    values = np.zeros((40, 50), np.uint8)
    values[5:30, 5:35] = 1
    values[10:20, 10:20] = 0  # a hole ...
    values[12:16, 12:16] = 2  # ... holding an object of another class
    values[32:38, 40:48] = 2
    values[0, 49] = 1
    save_png(tmp_path / "a" / "images" / "x.png", np.zeros((40, 50, 3), np.uint8))
    save_png(tmp_path / "a" / "masks" / "x.png", values)
    (tmp_path / "a" / CLASS_TABLE).write_text("1: rim\n2: chip\n")
    convert(tmp_path / "a", tmp_path / "b", to="masks")
    convert(tmp_path / "b", tmp_path / "c", to="masks")
    for out in ("b", "c"):
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / out / "default" / "masks" / "x.png")), values)
        assert (tmp_path / out / CLASS_TABLE).read_text() == "1: rim\n2: chip\n"


def test_writing_polygons_boxes_and_overlaps(tmp_path: Path) -> None:
    boxes = Boxes(
        [[0, 0, 10, 10], [2, 2, 6, 6], [12, 1, 15, 4]],
        [0, 1, 1],
        {"segmentation": [[[0, 0, 10, 0, 10, 10, 0, 10]], [[2, 2, 6, 2, 6, 6, 2, 6]], None]},
    )
    image = ImageRecord("p.png", "train", 16, 12, boxes)
    dataset = Dataset((ClassInfo(1, "plate"), ClassInfo(2, "dot")), (image,))
    report = Report()
    FORMATS["masks"].write(dataset, tmp_path, report=report)
    written = np.asarray(Image.open(tmp_path / "train" / "masks" / "p.png"))
    expected = np.zeros((12, 16), np.uint8)
    expected[0:10, 0:10] = 1
    expected[2:6, 2:6] = 2  # the smaller shape painted over the larger one
    expected[1:4, 12:15] = 2  # a box without a shape, filled
    np.testing.assert_array_equal(written, expected)
    assert report.counts[codes.MASK_FILLED_BOXES.name] == 1
    assert report.counts[codes.MASK_OVERLAPS.name] == 1


# --- options ------------------------------------------------------------------------------------------------


def test_options_are_checked_and_refused_where_they_do_not_apply(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="connectivity must be 4 or 8"):
        MaskOptions.of({"connectivity": 6})
    with pytest.raises(UsageError, match="--mask-classes must name a file"):
        MaskOptions.of({"mask_classes": 3})
    with pytest.raises(UsageError, match="unknown masks reader option"):
        MaskOptions.of({"colour": 1})
    with pytest.raises(UsageError, match="do not apply to the coco format"):
        FORMATS["coco"].reader({"threshold": 10})
    assert FORMATS["coco"].reader({"threshold": None}) is FORMATS["coco"].read
    mvtec(tmp_path / "cat")
    (tmp_path / "t.yaml").write_text("1: a\n")
    with pytest.raises(UsageError, match="does not apply to MVTec"):
        load(tmp_path / "cat", read_options={"mask_classes": tmp_path / "t.yaml"})


def test_cli_reads_binary_masks_with_its_options(tmp_path: Path) -> None:
    mask = np.zeros((30, 30), np.uint8)
    mask[2:12, 2:12] = 255
    mask[20, 20] = 255
    mask[25:27, 25:27] = 150
    save_png(tmp_path / "set" / "images" / "a.png", np.zeros((30, 30, 3), np.uint8))
    save_png(tmp_path / "set" / "masks" / "a.png", mask)
    args = ["convert", str(tmp_path / "set"), str(tmp_path / "out"), "--to", "coco", "--class", "pore"]
    result = CliRunner().invoke(main, [*args, "--threshold", "200", "--min-area", "2", "--connectivity", "4"])
    assert result.exit_code == 0, result.output
    assert "1  mask components dropped: fewer pixels than --min-area" in result.output
    data = json.loads((tmp_path / "out" / "annotations" / "instances_default.json").read_text())
    assert [c["name"] for c in data["categories"]] == ["pore"]
    assert [a["bbox"] for a in data["annotations"]] == [[2, 2, 10, 10]]
    manifest = json.loads((tmp_path / "out" / "convert.json").read_text())
    assert manifest["read_options"] == {"class_name": "pore", "threshold": 200, "connectivity": 4, "min_area": 2}
    refused = CliRunner().invoke(
        main, [*args[:2], str(tmp_path / "coco"), *args[3:5], "--from", "coco", "--threshold", "9"]
    )
    assert refused.exit_code == 2 and "do not apply to the coco format" in refused.output


def test_reading_on_workers_gives_the_same_dataset_and_report(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    for number in range(MIN_MASKS_FOR_WORKERS + 6):
        save_png(tmp_path / "images" / f"{number:03d}.png", np.zeros((24, 24, 3), np.uint8))
        if number % 7:  # every seventh image has no mask (a warning each)
            save_png(tmp_path / "masks" / f"{number:03d}.png", blobs(rng, 24, 24, 2, holes=True))
    save_png(tmp_path / "masks" / "005.png", np.zeros((10, 10), np.uint8))  # another size: skipped

    def read(jobs: int) -> tuple[Dataset, Report]:
        report = Report(on_error="skip")
        return load(tmp_path, report=report, jobs=jobs), report

    (alone, alone_report), (shared, shared_report) = read(1), read(2)
    assert [(i.name, i.boxes.xyxy.tolist(), i.boxes.column("segmentation").tolist()) for i in alone.images] == [
        (i.name, i.boxes.xyxy.tolist(), i.boxes.column("segmentation").tolist()) for i in shared.images
    ]
    assert alone.box_count > 50
    assert alone_report.to_json() == shared_report.to_json()
    assert alone_report.counts[codes.IMAGES_WITHOUT_MASK.name] == 10
    assert [p.code for p in alone_report.skipped] == [codes.MASK_SIZE_MISMATCH.name]
    with pytest.raises(AnnotationError, match="mask is 10x10"):
        load(tmp_path, jobs=2)


def test_real_polygons_written_as_masks_keep_each_class_where_pycocotools_puts_it(corpus: Path, tmp_path: Path) -> None:
    """Wagon defects (human-drawn COCO polygons) to masks: a pixel gets a class only inside one of that class's
    polygons, and a pixel inside polygons of one class only gets that class; reading the masks back gives boxes
    inside the image around painted pixels."""
    source = corpus / "wagon_defect_coco_test" / "test" / "_annotations.coco.json"
    result = convert(source, tmp_path / "masks", to="masks")
    coco = COCO(str(source))
    names = {c["id"]: c["name"] for c in coco.dataset["categories"]}
    written_names = result.dataset.class_names
    checked = 0
    for image in coco.dataset["images"]:
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
        mask = np.asarray(Image.open(tmp_path / "masks" / "test" / "masks" / f"{Path(image['file_name']).stem}.png"))
        inside: dict[str, np.ndarray] = {}
        for annotation in annotations:
            name = names[annotation["category_id"]]
            inside[name] = inside.get(name, np.zeros(mask.shape, bool)) | coco.annToMask(annotation).astype(bool)
        for name, pixels in inside.items():
            value = written_names.index(name) + 1
            others = np.zeros(mask.shape, bool)
            for other, other_pixels in inside.items():
                if other != name:
                    others |= other_pixels
            assert not ((mask == value) & ~pixels).any(), (image["file_name"], name)
            np.testing.assert_array_equal(mask[pixels & ~others] == value, True)
            checked += int(pixels.sum())
    assert checked > 10_000
    assert result.report.counts[codes.MASK_FILLED_BOXES.name] == 0
    back = load(tmp_path / "masks")
    assert back.class_names == written_names and back.box_count > 0
