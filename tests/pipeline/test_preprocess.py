"""Pre-processing through the pipeline, end to end from the command line: the same bytes for the same image in
any split, any run and any command, names and boxes kept, the steps recorded, and a static crop that moves and cuts
boxes exactly (measured from the pixels with the colour oracle)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

import bboxaug
from bboxaug.cli.main import main
from bboxaug.commands.convert import save
from bboxaug.core.model import Dataset, ImageRecord
from bboxaug.io.pixels import encode_picture, read_picture
from bboxaug.pipeline.source import load
from tests.augmentation.oracle import COLOURS, Scene, ellipse_polygon, measured_box, scene_dataset
from tests.conftest import make_image

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "defects"
CLAHE = [{"clahe": {"clip": 2.0, "grid": [8, 8]}}]


def cli(*args: str | Path) -> str:
    result = CliRunner().invoke(main, [str(arg) for arg in args])
    assert result.exit_code == 0, result.output
    return result.output


TWIN = "twin.jpg"


@pytest.fixture(scope="module")
def samples_twice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The samples with their first train image also in val, as TWIN: the same pixels in two splits."""
    root = tmp_path_factory.mktemp("samples")
    dataset = load(SAMPLES)
    first = dataset.in_split("train")[0]
    twin = ImageRecord(TWIN, "val", first.width, first.height, first.boxes, first.source)
    save(Dataset(dataset.classes, (*dataset.images, twin)), root / "src", to="voc")
    return root


def images_of(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*.jpg"))}


def test_clahe_gives_every_split_the_same_bytes_and_keeps_names_and_boxes(samples_twice: Path) -> None:
    src = samples_twice / "src"
    for run in ("one", "two"):
        cli("convert", src, samples_twice / run, "--to", "coco", "--preprocess", "clahe", "-q")
    cli("convert", src, samples_twice / "plain", "--to", "coco", "-q")
    one, two = images_of(samples_twice / "one"), images_of(samples_twice / "two")
    assert one == two and len(one) == 49  # the same bytes in another run
    source = load(src)
    first = source.in_split("train")[0]
    written = {Path(name).name: data for name, data in one.items()}
    assert written[first.name] == written[TWIN]  # the same image gives the same bytes in train and in val

    expected = {}
    for image in source.images:  # what inference gets from the public function, encoded as the run encodes
        picture = read_picture(image.source)
        pixels = bboxaug.preprocess(picture.pixels, CLAHE)
        assert not np.array_equal(pixels, picture.pixels)  # every image of every split changed
        expected[image.name] = encode_picture(pixels, "JPEG", 95)
    assert written == expected

    made, plain = load(samples_twice / "one"), load(samples_twice / "plain")
    assert [image.key for image in made.images] == [image.key for image in plain.images]  # names kept
    for image, before in zip(made.images, plain.images, strict=True):
        assert (image.width, image.height) == (before.width, before.height)
        assert np.array_equal(image.boxes.xyxy, before.boxes.xyxy)  # boxes kept, coordinate for coordinate
        assert np.array_equal(image.boxes.labels, before.boxes.labels)
    manifest = json.loads((samples_twice / "one" / "convert.json").read_text())
    assert manifest["preprocess"] == CLAHE
    assert json.loads((samples_twice / "plain" / "convert.json").read_text())["preprocess"] == []


def test_augment_preprocesses_originals_of_every_split_as_convert_does(samples_twice: Path) -> None:
    src, dst = samples_twice / "src", samples_twice / "augmented"
    output = cli("augment", src, dst, "--copies", "1", "--policy", "light", "--preprocess", "clahe", "-j", "1")
    assert "preprocess clahe:clip=2,grid=8x8" in output
    if not (samples_twice / "one").is_dir():
        cli("convert", src, samples_twice / "one", "--to", "coco", "--preprocess", "clahe", "-q")
    converted = {Path(name).name: data for name, data in images_of(samples_twice / "one").items()}
    augmented = {Path(name).name: data for name, data in images_of(dst).items()}
    originals = {name: data for name, data in augmented.items() if "_aug" not in name}
    assert originals == converted  # val's originals too: the same bytes as convert writes
    assert any("_aug" in name for name in augmented)
    manifest = json.loads((dst / "augment.json").read_text())
    assert manifest["preprocess"] == CLAHE


def oracle_scenes() -> list[Scene]:
    return [
        Scene(
            "a.png",
            200,
            150,
            (
                ("rect", 0, (40.0, 30.0, 80.0, 60.0)),  # inside the crop
                ("rect", 1, (5.0, 50.0, 35.0, 90.0)),  # cut by the crop's left side (x0 = 20)
                ("rect", 2, (150.0, 100.0, 190.0, 140.0)),  # cut by the right and bottom (x1 = 170, y1 = 120)
                ("rect", 3, (175.0, 10.0, 195.0, 30.0)),  # outside: dropped
                ("ellipse", 4, (90.0, 0.0, 150.0, 14.0)),  # cut by the top (y0 = 10) below its widest row
                ("ellipse", 5, (60.0, 70.0, 120.0, 110.0)),  # inside
            ),
        ),
        Scene("b.png", 160, 110, (("rect", 6, (100.0, 80.0, 150.0, 105.0)), ("ellipse", 7, (0.0, 0.0, 30.0, 30.0)))),
    ]


def check_with_the_oracle(dst: Path, tolerance: dict[str, float]) -> int:
    """Every written box against the box of its colour measured on the written pixels; returns the boxes seen."""
    dataset = load(dst)
    kinds = {colour: kind for scene in oracle_scenes() for kind, colour, _ in scene.objects}
    seen = 0
    for image in dataset.images:
        pixels = cv2.cvtColor(cv2.imread(str(image.source)), cv2.COLOR_BGR2RGB)
        assert (pixels.shape[1], pixels.shape[0]) == (image.width, image.height)
        for box, label in zip(image.boxes.xyxy.tolist(), image.boxes.labels.tolist(), strict=True):
            found, _ = measured_box(pixels, label)
            assert found is not None, (image.key, label)
            assert np.abs(np.subtract(box, found)).max() <= tolerance[kinds[label]], (image.key, label, box, found)
            seen += 1
        present = {label for label in range(len(COLOURS)) if measured_box(pixels, label, tolerance=20)[1] > 4}
        assert present == set(image.boxes.labels.tolist())  # no object shown without its box
    return seen


def test_a_static_crop_moves_and_cuts_boxes_exactly(tmp_path: Path) -> None:
    save(scene_dataset(oracle_scenes(), tmp_path / "pixels"), tmp_path / "src", to="coco")
    cli("convert", tmp_path / "src", tmp_path / "crop", "--to", "coco", "--preprocess", "crop:20,10,170,120", "-q")
    assert check_with_the_oracle(tmp_path / "crop", {"rect": 0.0, "ellipse": 2.5}) == 7  # 8 objects, 1 outside
    written = {image.name: image for image in load(tmp_path / "crop").images}
    assert (written["a.png"].width, written["a.png"].height) == (150, 110)
    assert (written["b.png"].width, written["b.png"].height) == (140, 100)  # the crop cut to the smaller image
    assert written["a.png"].boxes.xyxy.tolist()[:3] == [[20, 20, 60, 50], [0, 40, 15, 80], [130, 90, 150, 110]]
    x0, y0, x1, y1 = written["a.png"].boxes.xyxy.tolist()[3]
    outline = np.array(ellipse_polygon((90.0, 0.0, 150.0, 14.0))).reshape(-1, 2)
    shown = outline[outline[:, 1] >= 10]  # the outline's vertices below the cut
    assert (y0, y1) == (0, 4)
    assert x0 <= shown[:, 0].min() - 20 and x1 >= shown[:, 0].max() - 20  # holds what shows of the ellipse
    assert x0 > 72 and x1 < 128  # narrower than its box cut to the crop (70, 130): the polygon's envelope
    report = json.loads((tmp_path / "crop" / "convert.json").read_text())
    assert report["counts"]["preprocess_boxes_dropped"] == 1
    assert report["counts"]["preprocess_boxes_cut"] == 4  # a: two rectangles and the top ellipse; b: the ellipse
    assert report["preprocess"] == [{"crop": {"x0": 20, "y0": 10, "x1": 170, "y1": 120}}]


def test_a_crop_then_a_letterbox_keeps_boxes_on_their_objects(tmp_path: Path) -> None:
    save(scene_dataset(oracle_scenes(), tmp_path / "pixels"), tmp_path / "src", to="coco")
    steps = "crop:20,10,170,120;letterbox:300"
    cli("convert", tmp_path / "src", tmp_path / "boxed", "--to", "coco", "--preprocess", steps, "-q")
    # the crop is scaled by 2: the rasterising error of the cut ellipse doubles, and resampled edges blur a pixel
    assert check_with_the_oracle(tmp_path / "boxed", {"rect": 1.0, "ellipse": 2 * 2.5 + 1}) == 7
    sizes = {(image.width, image.height) for image in load(tmp_path / "boxed").images}
    assert sizes == {(300, 300)}


def test_an_image_the_crop_does_not_reach_is_skipped_by_its_code(tmp_path: Path) -> None:
    save(scene_dataset(oracle_scenes(), tmp_path / "pixels"), tmp_path / "src", to="coco")
    steps = ["--preprocess", "crop:165,0,200,150", "--on-error", "skip", "-q"]
    result = CliRunner().invoke(main, ["convert", str(tmp_path / "src"), str(tmp_path / "out"), "--to", "voc", *steps])
    assert result.exit_code == 1, result.output
    report = json.loads((tmp_path / "out" / "convert.json").read_text())
    assert [(item["file"], item["code"]) for item in report["skipped"]] == [("train/b.png", "crop_outside_image")]
    assert [image.name for image in load(tmp_path / "out").images] == ["a.png"]


def test_an_image_opencv_cannot_write_becomes_png_beside_one_whose_name_it_would_take(tmp_path: Path) -> None:
    root = tmp_path / "src"
    for name, colour in (("a.gif", (200, 30, 30)), ("a.png", (30, 200, 30))):
        make_image(root / "images" / "train" / name, 16, 12, color=colour)
        (root / "labels" / "train").mkdir(parents=True, exist_ok=True)
    (root / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nnames: [spot]\n")
    cli("convert", root, tmp_path / "out", "--to", "coco", "--preprocess", "grayscale:1", "-q")
    written = {image.name: image for image in load(tmp_path / "out").images}
    assert sorted(written) == ["a.png", "a_1.png"]
    greys = [cv2.imread(str(image.source), cv2.IMREAD_UNCHANGED) for image in written.values()]
    assert all(grey.ndim == 2 for grey in greys)
    luma = [round(0.299 * r + 0.587 * g + 0.114 * b) for r, g, b in ((200, 30, 30), (30, 200, 30))]
    assert sorted(int(grey[0, 0]) for grey in greys) == sorted(luma)


def test_a_crop_and_letterbox_of_real_polygons_match_an_independent_clip(corpus: Path, tmp_path: Path) -> None:
    """The wagon photos (640x640, polygon annotations) cropped to 480x480 at (80, 80) and letterboxed to 320: each
    written box against the annotation clipped by shapely and scaled by 2/3, read from the COCO file by hand."""
    shapely = pytest.importorskip("shapely")
    src = corpus / "wagon_defect_coco_test" / "test"
    cli("convert", src, tmp_path / "out", "--to", "coco", "--preprocess", "crop:80,80,560,560;letterbox:320", "-q")
    document = json.loads((src / "_annotations.coco.json").read_text())
    names = {image["id"]: image["file_name"] for image in document["images"]}
    classes = {category["id"]: category["name"] for category in document["categories"]}
    expected: dict[str, list[tuple[str, list[float]]]] = {name: [] for name in names.values()}
    dropped = 0
    for annotation in document["annotations"]:
        x, y, w, h = annotation["bbox"]
        box = [max(x, 80), max(y, 80), min(x + w, 560), min(y + h, 560)]
        if box[2] <= box[0] or box[3] <= box[1]:
            dropped += 1
            continue
        if box != [x, y, x + w, y + h] and annotation.get("segmentation"):
            parts = [shapely.Polygon(np.reshape(part, (-1, 2))) for part in annotation["segmentation"]]
            shown = shapely.clip_by_rect(shapely.MultiPolygon(parts), 80, 80, 560, 560)
            if shown.is_empty:
                dropped += 1
                continue
            left, top, right, bottom = shown.bounds
            box = [max(box[0], left), max(box[1], top), min(box[2], right), min(box[3], bottom)]
        scaled = [(value - 80) * 320 / 480 for value in box]
        expected[names[annotation["image_id"]]].append((classes[annotation["category_id"]], scaled))
    written = load(tmp_path / "out")
    assert len(written.images) == len(names) and {image.width for image in written.images} == {320}
    for image in written.images:
        labels = [written.classes[k].name for k in image.boxes.labels]
        found = sorted(zip(labels, image.boxes.xyxy.tolist(), strict=True))
        wanted = sorted(expected[image.name])
        assert [name for name, _ in found] == [name for name, _ in wanted], image.name
        assert np.allclose([box for _, box in found], [box for _, box in wanted], atol=1e-6), image.name
    report = json.loads((tmp_path / "out" / "convert.json").read_text())
    assert report["counts"].get("preprocess_boxes_dropped", 0) == dropped
    assert report["counts"]["preprocess_boxes_cut"] > 0
