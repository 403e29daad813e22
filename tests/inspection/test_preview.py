"""`bboxaug preview`: the grid's size, boxes drawn where the boxes are (pixels of an edge read back), EXIF
orientation applied, rare classes first, the class filter, and images paired with their augmented copies."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from bboxaug.cli.main import main
from bboxaug.commands.augment import augment
from bboxaug.core.errors import UsageError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord, object_column
from bboxaug.inspection.drawing import class_colour
from bboxaug.inspection.preview import CAPTION, GAP, LINE, TILE_BACKGROUND, choose_images, load_copies, render_preview
from bboxaug.pipeline.source import load
from tests.conftest import make_image

GREY = (90, 120, 150)  # make_image's colour


def grid_size(columns: int, rows: int, cell: int) -> tuple[int, int]:
    return columns * (cell + GAP) + GAP, rows * (cell + CAPTION + GAP) + GAP


def placement(width: int, height: int, cell: int, row: int = 0, column: int = 0) -> tuple[float, float, int, int]:
    """Scale and top-left corner of an image in its cell, as the module's docstring lays it out."""
    scale = min(cell / width, cell / height)
    fitted = round(width * scale), round(height * scale)
    left = GAP + column * (cell + GAP) + (cell - fitted[0]) // 2
    top = GAP + row * (cell + CAPTION + GAP) + (cell - fitted[1]) // 2
    return fitted[0] / width, fitted[1] / height, left, top


def edges(xyxy: list[float], scale_x: float, scale_y: float, left: int, top: int) -> tuple[int, int, int, int]:
    """Outer pixel columns and rows of a drawn box."""
    return (
        left + round(xyxy[0] * scale_x),
        top + round(xyxy[1] * scale_y),
        left + round(xyxy[2] * scale_x) - 1,
        top + round(xyxy[3] * scale_y) - 1,
    )


def pixel(picture: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    return tuple(int(v) for v in np.asarray(picture.convert("RGB"))[y, x])


def dataset_of(
    tmp: Path,
    specs: list[tuple[str, tuple[int, int], list[list[float]], list[int]]],
    classes: tuple[str, ...] = ("scratch", "spot", "crack"),
) -> Dataset:
    images = []
    for name, (width, height), boxes, labels in specs:
        source = make_image(tmp / name, width, height)
        table = Boxes(boxes, labels) if boxes else Boxes.empty()
        images.append(ImageRecord(name, "train", width, height, table, source=source))
    return Dataset(tuple(ClassInfo(None, c) for c in classes), tuple(images))


def test_grid_size_and_box_edges_in_the_class_colour(tmp_path: Path) -> None:
    box = [30.0, 24.0, 150.0, 96.0]
    dataset = dataset_of(
        tmp_path, [("a.png", (200, 120), [box], [1])] + [(f"n{k}.png", (40, 40), [], []) for k in range(4)]
    )
    cell = 100
    picture = render_preview(dataset, n=5, cell=cell)
    columns = math.ceil(math.sqrt(5))
    assert picture.size == grid_size(columns, 2, cell)
    assert choose_images(dataset, 5)[0].name == "a.png"  # the only image with a box comes first
    x1, y1, x2, y2 = edges(box, *placement(200, 120, cell))
    middle_y, middle_x = (y1 + y2) // 2, (x1 + x2) // 2
    colour = class_colour(1)
    for x in (x1, x1 + LINE - 1, x2 - LINE + 1, x2):
        assert pixel(picture, x, middle_y) == colour, x
    for y in (y2 - LINE + 1, y2):
        assert pixel(picture, middle_x, y) == colour, y
    for x in (x1 - 1, x1 + LINE, x2 - LINE, x2 + 1):  # just outside and just inside the outline: the image
        assert pixel(picture, x, middle_y) == GREY, x


def test_boxes_are_drawn_on_the_upright_picture(tmp_path: Path) -> None:
    stored = Image.new("RGB", (60, 120), (255, 0, 0))
    stored.paste((0, 0, 255), (0, 60, 60, 120))  # stored: red top, blue bottom
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90° clockwise: red on the right, blue on the left
    stored.save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=100)
    dataset = Dataset(
        (ClassInfo(None, "a"),),
        (ImageRecord("r.jpg", "train", 120, 60, Boxes([[70, 10, 110, 50]], [0]), source=tmp_path / "r.jpg"),),
    )
    cell = 120
    picture = render_preview(dataset, n=1, cell=cell)
    scale_x, scale_y, left, top = placement(120, 60, cell)
    assert pixel(picture, left + 10, top + 30)[2] > 200 and pixel(picture, left + 10, top + 30)[0] < 60
    assert pixel(picture, left + 90, top + 55)[0] > 200 and pixel(picture, left + 90, top + 55)[2] < 60
    assert pixel(picture, left + 5, top - 2) == TILE_BACKGROUND  # letterbox band above the picture
    _, y1, x2, y2 = edges([70, 10, 110, 50], scale_x, scale_y, left, top)
    assert pixel(picture, x2, (y1 + y2) // 2) == class_colour(0)


def test_rare_classes_come_first_and_the_filter(tmp_path: Path) -> None:
    specs = [(f"common{k}.png", (40, 30), [[1, 1, 9, 9]], [0]) for k in range(6)]
    specs += [
        ("both.png", (40, 30), [[1, 1, 9, 9], [10, 10, 20, 20]], [0, 1]),
        ("spot.png", (40, 30), [[2, 2, 8, 8]], [1]),
        ("rare.png", (40, 30), [[3, 3, 30, 25]], [2]),
        ("empty.png", (40, 30), [], []),
    ]
    dataset = dataset_of(tmp_path, specs)
    chosen = [image.name for image in choose_images(dataset, 3, seed=4)]
    assert chosen[0] == "rare.png" and chosen[1] in ("both.png", "spot.png")
    assert [i.name for i in choose_images(dataset, 3, seed=4)] == chosen  # same seed, same choice
    everything = [image.name for image in choose_images(dataset, 100, seed=4)]
    assert sorted(everything) == sorted(name for name, *_ in specs)  # negatives fill in at the end
    only_spot = {image.name for image in choose_images(dataset, 100, classes=["spot"])}
    assert only_spot == {"both.png", "spot.png"}
    with pytest.raises(UsageError, match="unknown classes: nope"):
        choose_images(dataset, 3, classes=["nope"])


def test_filtered_classes_hide_other_boxes(tmp_path: Path) -> None:
    dataset = dataset_of(tmp_path, [("both.png", (100, 100), [[10, 10, 40, 90], [60, 10, 90, 90]], [0, 1])])
    cell = 100
    shown = render_preview(dataset, n=1, cell=cell, classes=["spot"])
    scale_x, scale_y, left, top = placement(100, 100, cell)
    spot, scratch = (edges(b, scale_x, scale_y, left, top) for b in ([60, 10, 90, 90], [10, 10, 40, 90]))
    assert pixel(shown, spot[0], 50 + top) == class_colour(1)
    assert pixel(shown, scratch[0], 50 + top) == GREY


def voc_source(root: Path) -> Path:
    """Three 96x64 images in VOC with one box each, pixels that differ (so copies differ too)."""
    (root / "Annotations").mkdir(parents=True)
    for k, (name, box) in enumerate((("a", (11, 11, 40, 30)), ("b", (31, 21, 80, 60)), ("c", (5, 5, 50, 50)))):
        pixels = np.random.default_rng(k).integers(0, 255, (64, 96, 3), dtype=np.uint8)
        (root / "JPEGImages").mkdir(exist_ok=True)
        Image.fromarray(pixels).save(root / "JPEGImages" / f"{name}.png")
        (root / "Annotations" / f"{name}.xml").write_text(
            f"<annotation><filename>{name}.png</filename><object><name>{'spot' if k == 2 else 'scratch'}</name>"
            f"<bndbox><xmin>{box[0]}</xmin><ymin>{box[1]}</ymin><xmax>{box[2]}</xmax><ymax>{box[3]}</ymax>"
            "</bndbox></object></annotation>"
        )
    return root


@pytest.fixture
def augmented(tmp_path: Path) -> tuple[Path, Path]:
    src = voc_source(tmp_path / "src")
    policy = {"backend": "albumentations", "transforms": [{"HorizontalFlip": {"p": 1.0}}]}
    augment(src, tmp_path / "aug", policy=policy, copies=2, seed=3)
    return src, tmp_path / "aug"


def test_compare_pairs_each_image_with_its_copies(augmented: tuple[Path, Path]) -> None:
    src, other = augmented
    dataset = load(src)
    copies = load_copies(other)
    assert {key: [c.name for c in found] for key, found in copies.by_source.items()} == {
        f"default/{stem}.png": [f"{stem}_aug1.png", f"{stem}_aug2.png"] for stem in "abc"
    }
    cell = 96
    picture = render_preview(dataset, n=3, cell=cell, copies=copies)
    assert picture.size == grid_size(3, 3, cell)  # a row per image: the image, then its two copies
    first = choose_images(dataset, 3, among=dataset.images)[0]
    assert first.name == "c.png"  # 'spot' is the rarer class
    copy = copies.by_source["default/c.png"][0]
    flipped = copy.boxes.xyxy[0].tolist()
    assert flipped == pytest.approx([96 - 50, 4, 96 - 4, 50])  # the copy's box followed the flip
    x1, y1, x2, y2 = edges(flipped, *placement(96, 64, cell, row=0, column=1))
    for x in (x1, x2):
        assert pixel(picture, x, (y1 + y2) // 2) == class_colour(1)


def test_command_writes_the_png(augmented: tuple[Path, Path], tmp_path: Path) -> None:
    src, other = augmented
    runner = CliRunner()
    result = runner.invoke(main, ["preview", str(src), str(tmp_path / "p.png"), "--n", "2", "--cell", "64"])
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "p.png") as png:
        assert png.format == "PNG" and png.size == grid_size(2, 1, 64)
    result = runner.invoke(
        main,
        ["preview", str(src), str(tmp_path / "c.png"), "--compare", str(other), "--classes", "scratch", "--cell", "64"],
    )
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "c.png") as png:
        assert png.size == grid_size(3, 2, 64)  # only the two images with a scratch
    result = runner.invoke(main, ["preview", str(src), str(tmp_path / "x.png"), "--compare", str(src)])
    assert result.exit_code == 2 and "augment.json" in result.output


def test_an_oriented_box_is_drawn_as_its_quad_not_its_upright_box(tmp_path: Path) -> None:
    quad = (100.0, 10.0, 190.0, 60.0, 100.0, 110.0, 10.0, 60.0)  # a diamond inside the 200 x 120 image
    source = make_image(tmp_path / "a.png", 200, 120)
    boxes = Boxes([[10, 10, 190, 110]], [0], {"obb": object_column([quad])})
    dataset = Dataset((ClassInfo(None, "ship"),), (ImageRecord("a.png", "train", 200, 120, boxes, source=source),))
    cell = 200
    picture = render_preview(dataset, n=1, cell=cell)
    scale_x, scale_y, left, top = placement(200, 120, cell)
    colour = class_colour(0)

    def at(x: float, y: float) -> tuple[int, int, int]:
        return pixel(picture, round(left + x * scale_x), round(top + y * scale_y))

    assert at(55, 35) == colour  # the middle of the quad's upper-left edge
    assert at(145, 85) == colour  # and of its lower-right edge
    assert at(12, 100) == GREY  # the upright box's lower-left corner region is not outlined
    assert at(100, 60) == GREY  # inside the quad
