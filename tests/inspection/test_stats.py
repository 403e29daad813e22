"""`bboxaug stats`: counts on the real corpus against counts made here with the standard library, exact figures
on a built dataset (size-group boundaries, per-class images, negatives, unknown sizes), anchors that find planted
box shapes, the terminal table, the JSON and the plot."""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from bboxaug.cli.main import main
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord, object_column
from bboxaug.core.report import Report
from bboxaug.inspection.drawing import class_colour
from bboxaug.inspection.plot import render_stats_plot
from bboxaug.inspection.stats import compute_stats, format_stats, kmeans_anchors, stats_for
from bboxaug.pipeline.prepare import fill_sizes
from bboxaug.pipeline.source import load
from tests.conftest import make_image

# --- independent counts with the standard library --------------------------------------------------------------

Box = tuple[str, float, float]  # class name, width, height


def expected(images: dict[str, tuple[str, list[Box]]], class_order: list[str]) -> dict:
    """Per split and overall: images, negatives, boxes, per-class images/boxes, size groups, width/height extremes."""

    def figures(selected: list[list[Box]]) -> dict:
        boxes = [box for image in selected for box in image]
        areas = [w * h for _, w, h in boxes]
        return {
            "images": len(selected),
            "negatives": sum(1 for image in selected if not image),
            "boxes": len(boxes),
            "classes": {
                name: {
                    "images": sum(1 for image in selected if any(b[0] == name for b in image)),
                    "boxes": sum(1 for b in boxes if b[0] == name),
                }
                for name in class_order
            },
            "size_groups": {
                "small": sum(a < 32**2 for a in areas),
                "medium": sum(32**2 <= a < 96**2 for a in areas),
                "large": sum(a >= 96**2 for a in areas),
            },
            "widths": (
                min(w for _, w, _ in boxes),
                statistics.median(w for _, w, _ in boxes),
                max(w for _, w, _ in boxes),
            ),
            "heights": (
                min(h for _, _, h in boxes),
                statistics.median(h for _, _, h in boxes),
                max(h for _, _, h in boxes),
            ),
        }

    by_split: dict[str, list[list[Box]]] = defaultdict(list)
    for split, boxes in images.values():
        by_split[split].append(boxes)
    return {
        "all": figures([boxes for _, boxes in images.values()]),
        "splits": {split: figures(selected) for split, selected in by_split.items()},
    }


def voc_boxes(xml_file: Path) -> list[Box]:
    """Boxes of a VOC file: 1-based inclusive corners, so a side is `max - min + 1`; equal corners are nothing."""
    boxes = []
    for obj in ElementTree.parse(xml_file).getroot().iter("object"):
        corners = {tag: float(obj.find(f"bndbox/{tag}").text) for tag in ("xmin", "ymin", "xmax", "ymax")}
        width = corners["xmax"] - corners["xmin"] + 1 if corners["xmax"] > corners["xmin"] else 0.0
        height = corners["ymax"] - corners["ymin"] + 1 if corners["ymax"] > corners["ymin"] else 0.0
        boxes.append((obj.find("name").text.strip(), width, height))
    return boxes


def coco_images(json_file: Path, split: str) -> tuple[dict[str, tuple[str, list[Box]]], list[str]]:
    data = json.loads(json_file.read_text(encoding="utf-8"))
    names = {c["id"]: c["name"] for c in data["categories"]}
    images: dict[str, tuple[str, list[Box]]] = {str(i["id"]): (split, []) for i in data["images"]}
    for a in data["annotations"]:
        images[str(a["image_id"])][1].append((names[a["category_id"]], a["bbox"][2], a["bbox"][3]))
    return images, [c["name"] for c in data["categories"]]


def bccd(root: Path) -> tuple[dict[str, tuple[str, list[Box]]], list[str]]:
    images = {}
    for split in ("train", "val", "test"):
        for stem in (root / "ImageSets" / "Main" / f"{split}.txt").read_text().split():
            assert stem not in images, "the lists overlap; this count assumes they do not"
            images[stem] = (split, voc_boxes(root / "Annotations" / f"{stem}.xml"))
    return images, []


def cards(root: Path) -> tuple[dict[str, tuple[str, list[Box]]], list[str]]:
    return {xml.stem: ("test", voc_boxes(xml)) for xml in sorted((root / "test").glob("*.xml"))}, []


CORPUS_SETS = {
    "bccd": ("bccd_voc/BCCD", bccd),
    "chess": ("chess_coco_test/test/_annotations.coco.json", lambda p: coco_images(p, "test")),
    "cards": ("cards_voc_subset/images", cards),
    "wagon": ("wagon_defect_coco_test/test/_annotations.coco.json", lambda p: coco_images(p, "test")),
}


@pytest.mark.parametrize("name", sorted(CORPUS_SETS))
def test_corpus_counts_equal_independent_counts(name: str, corpus: Path) -> None:
    path, count = CORPUS_SETS[name]
    images, categories = count(corpus / path)
    dataset = load(corpus / path)
    order = categories or dataset.class_names  # VOC names come in order of first use: any order will do
    want = expected(images, order)
    got = compute_stats(dataset)
    for part_want, part_got in [(want["all"], got), *((want["splits"][s], got["splits"][s]) for s in want["splits"])]:
        for key in ("images", "negatives", "boxes", "classes", "size_groups"):
            assert part_got[key] == part_want[key], (name, key)
        for key, (low, median, high) in (("box_width", part_want["widths"]), ("box_height", part_want["heights"])):
            assert part_got[key]["min"] == pytest.approx(low, abs=1e-3)
            assert part_got[key]["median"] == pytest.approx(median, abs=1e-3)
            assert part_got[key]["max"] == pytest.approx(high, abs=1e-3)
    assert sorted(got["splits"]) == sorted(want["splits"])
    assert sorted(got["classes"]) == sorted(order)


def test_corpus_image_sizes_come_from_the_annotations(corpus: Path) -> None:
    data = json.loads((corpus / CORPUS_SETS["chess"][0]).read_text(encoding="utf-8"))
    sizes = Counter((i["width"], i["height"]) for i in data["images"])
    got = compute_stats(load(corpus / CORPUS_SETS["chess"][0]))["image_sizes"]["most_common"]
    assert [(s["width"], s["height"], s["images"]) for s in got] == [(w, h, n) for (w, h), n in sizes.most_common()]


# --- exact figures on a built dataset ------------------------------------------------------------------------


def record(
    name: str,
    split: str,
    size: tuple[int, int] | None,
    boxes: list[list[float]],
    labels: list[int],
    source: Path | None = None,
) -> ImageRecord:
    table = Boxes(np.array(boxes, dtype=float).reshape(-1, 4), labels) if boxes else Boxes.empty()
    width, height = size if size else (None, None)
    return ImageRecord(name, split, width, height, table, source=source)


def built() -> Dataset:
    classes = (ClassInfo(1, "scratch"), ClassInfo(2, "spot"), ClassInfo(3, "ghost"))
    return Dataset(
        classes,
        (
            # areas: 31*33 = 1023 (small), 32*32 = 1024 (medium), 96*96 - 1 = 9215 (medium), 96*96 (large)
            record("a.png", "train", (200, 100), [[0, 0, 31, 33], [10, 10, 42, 42], [0, 0, 95, 97]], [0, 0, 1]),
            record("b.png", "train", (200, 100), [[0, 0, 96, 96]], [1]),
            record("c.png", "train", (200, 100), [], []),
            record("d.png", "val", None, [[5, 5, 5, 25], [0, 0, 40, 10]], [0, 0]),
        ),
    )


def test_built_dataset_figures() -> None:
    stats = compute_stats(built(), anchors=0)
    assert (stats["images"], stats["boxes"], stats["negatives"]) == (4, 6, 1)
    assert stats["classes"] == {
        "scratch": {"images": 2, "boxes": 4},
        "spot": {"images": 2, "boxes": 2},
        "ghost": {"images": 0, "boxes": 0},
    }
    assert stats["size_groups"] == {"small": 3, "medium": 2, "large": 1}  # the zero-area box is small
    assert stats["degenerate"] == 1
    assert stats["boxes_per_image"] == {"min": 0, "median": 1.5, "max": 3, "mean": 1.5}
    assert stats["box_width"]["min"] == 0 and stats["box_width"]["max"] == 96
    assert stats["aspect_ratio"]["max"] == 4.0 and stats["aspect_ratio"]["min"] == pytest.approx(31 / 33, abs=1e-3)
    assert stats["image_sizes"]["most_common"] == [{"width": 200, "height": 100, "images": 3}]
    assert stats["image_sizes"]["unknown"] == 1
    train, val = stats["splits"]["train"], stats["splits"]["val"]
    assert (train["images"], train["boxes"], train["negatives"]) == (3, 4, 1)
    assert train["classes"]["scratch"] == {"images": 1, "boxes": 2}
    assert val["classes"]["scratch"] == {"images": 1, "boxes": 2} and val["classes"]["spot"]["boxes"] == 0
    assert val["size_groups"] == {"small": 2, "medium": 0, "large": 0}
    assert "anchors" not in stats


def test_sizes_from_headers_and_unknown_sizes_kept(tmp_path: Path) -> None:
    garbage = tmp_path / "bad.png"
    garbage.write_bytes(b"not an image")
    dataset = Dataset(
        (ClassInfo(None, "a"),),
        (
            record("ok.png", "train", None, [[0, 0, 4, 4]], [0], source=make_image(tmp_path / "ok.png", 30, 20)),
            record("bad.png", "train", None, [[0, 0, 4, 4]], [0], source=garbage),
        ),
    )
    filled = fill_sizes(dataset, Report(), unknown="keep")
    assert [(i.width, i.height) for i in filled.images] == [(30, 20), (None, None)]
    assert compute_stats(filled)["image_sizes"]["unknown"] == 1


# --- anchors -------------------------------------------------------------------------------------------------


def test_anchors_find_planted_shapes_sorted_by_area() -> None:
    rng = np.random.default_rng(1)
    planted = np.array([[100.0, 200.0], [10.0, 10.0], [50.0, 20.0]])
    shapes = np.repeat(planted, 300, axis=0) * rng.uniform(0.98, 1.02, (900, 2))
    anchors, best = kmeans_anchors(shapes, 3, seed=5)
    np.testing.assert_allclose(anchors, planted[[1, 2, 0]], rtol=0.01)
    assert best > 0.95
    again, _ = kmeans_anchors(shapes, 3, seed=5)
    np.testing.assert_array_equal(anchors, again)


def test_anchors_are_letterboxed_to_the_training_size() -> None:
    dataset = Dataset(
        (ClassInfo(None, "a"),),
        (
            record("wide.png", "train", (1280, 640), [[0, 0, 128, 64]], [0]),  # scale 0.5: 64 x 32
            record("tall.png", "train", (320, 640), [[10, 10, 74, 42]], [0]),  # scale 1.0: 64 x 32
            record("empty.png", "train", (100, 100), [[5, 5, 5, 9]], [0]),  # no area: left out
        ),
    )
    anchors = compute_stats(dataset, anchors=9, img_size=640)["anchors"]
    assert anchors == {"img_size": 640, "k": 1, "seed": 0, "shapes": [[64.0, 32.0]], "mean_best_iou": 1.0}


def test_no_boxes_no_anchors() -> None:
    dataset = Dataset((ClassInfo(None, "a"),), (record("e.png", "train", (10, 10), [], []),))
    stats = compute_stats(dataset)
    assert stats["anchors"]["shapes"] == [] and stats["anchors"]["mean_best_iou"] is None
    assert stats["box_width"]["count"] == 0 and stats["boxes_per_image"]["max"] == 0


# --- the terminal table, the JSON and the plot ----------------------------------------------------------------


def test_table_columns_are_aligned() -> None:
    text = format_stats(compute_stats(built()))
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("class "))
    rows = lines[lines.index(header) + 1 : lines.index(header) + 4]
    assert [row.split()[0] for row in rows] == ["scratch", "spot", "ghost"]
    end = header.index("boxes") + len("boxes")  # right-aligned under their header
    assert [row[end - 1] for row in rows] == ["4", "2", "0"]
    assert "COCO sizes: small 3 (50.0%)   medium 2 (33.3%)   large 1 (16.7%)" in text


def voc_dataset(root: Path) -> Path:
    """Two images in VOC: 3 scratches and 1 spot, one negative."""
    (root / "Annotations").mkdir(parents=True)
    make_image(root / "JPEGImages" / "a.png", 120, 80)
    make_image(root / "JPEGImages" / "b.png", 120, 80)
    objects = "".join(
        f"<object><name>{n}</name><bndbox><xmin>{x + 1}</xmin><ymin>11</ymin><xmax>{x + 20}</xmax>"
        f"<ymax>40</ymax></bndbox></object>"
        for n, x in (("scratch", 0), ("scratch", 30), ("scratch", 60), ("spot", 90))
    )
    (root / "Annotations" / "a.xml").write_text(f"<annotation><filename>a.png</filename>{objects}</annotation>")
    (root / "Annotations" / "b.xml").write_text("<annotation><filename>b.png</filename></annotation>")
    return root


def test_command_writes_json_and_plot(tmp_path: Path) -> None:
    src = voc_dataset(tmp_path / "voc")
    result = CliRunner().invoke(
        main,
        [
            "stats",
            str(src),
            "--json",
            str(tmp_path / "s.json"),
            "--plot",
            str(tmp_path / "s.png"),
            "--anchors",
            "2",
            "--img-size",
            "240",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "s.json").read_text())
    assert (data["images"], data["boxes"], data["negatives"]) == (2, 4, 1)
    assert data["classes"] == {"scratch": {"images": 1, "boxes": 3}, "spot": {"images": 1, "boxes": 1}}
    assert data["splits"]["default"]["boxes"] == 4
    # one shape only, letterboxed from 120 px wide to 240: twice the size
    assert data["anchors"]["shapes"] == [[40.0, 60.0]] and data["anchors"]["k"] == 1
    assert "scratch" in result.output and "anchors at 240 px" in result.output
    with Image.open(tmp_path / "s.png") as plot:
        pixels = np.asarray(plot.convert("RGB")).reshape(-1, 3)
    for position in (0, 1):  # both class bars are drawn in their class colours
        assert (pixels == class_colour(position)).all(axis=1).sum() > 50


def test_command_json_to_standard_output(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["stats", str(voc_dataset(tmp_path / "voc")), "--json", "-"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["boxes"] == 4


def test_plot_bars_are_proportional() -> None:
    picture = np.asarray(render_stats_plot(built()).convert("RGB"))
    lengths = [int((picture == class_colour(k)).all(axis=2).sum(axis=1).max()) for k in (0, 1)]
    assert lengths[0] == pytest.approx(2 * lengths[1], abs=2)  # 4 boxes against 2


def test_stats_for_reads_and_fills(tmp_path: Path) -> None:
    dataset, stats = stats_for(voc_dataset(tmp_path / "voc"), anchors=0)
    assert all(image.has_size for image in dataset.images)
    assert stats["image_sizes"]["most_common"] == [{"width": 120, "height": 80, "images": 2}]


def test_oriented_boxes_get_angle_and_aspect_distributions_in_json_and_text() -> None:
    quads = [
        (0, 0, 40, 0, 40, 10, 0, 10),  # 0 degrees, 4:1
        (10, 0, 20, 10, 10, 20, 0, 10),  # 45 degrees, square
        (0, 0, 10, 0, 10, 30, 0, 30),  # 90 degrees (the longer side is vertical), 3:1
        None,  # an upright box without a quad
    ]
    boxes = Boxes(
        [[0, 0, 40, 10], [0, 0, 20, 20], [0, 0, 10, 30], [5, 5, 9, 9]], [0, 0, 0, 0], {"obb": object_column(quads)}
    )
    dataset = Dataset((ClassInfo(0, "ship"),), (ImageRecord("a.png", "train", 100, 100, boxes),))
    stats = compute_stats(dataset, anchors=0)
    oriented = stats["oriented"]
    assert oriented["boxes"] == 3
    assert (oriented["angle"]["min"], oriented["angle"]["median"], oriented["angle"]["max"]) == (0, 45, 90)
    assert (oriented["aspect_ratio"]["min"], oriented["aspect_ratio"]["max"]) == (1, 4)
    assert oriented["angle_histogram"]["0-15"] == 1 and oriented["angle_histogram"]["45-60"] == 1
    assert oriented["angle_histogram"]["90-105"] == 1 and sum(oriented["angle_histogram"].values()) == 3
    assert stats["splits"]["train"]["oriented"]["boxes"] == 3
    json.dumps(stats)
    text = format_stats(stats)
    assert "oriented boxes 3 (75.0% of the boxes)" in text
    assert "aspect long/short" in text and "165-180" in text
    assert "oriented" not in compute_stats(built(), anchors=0)
