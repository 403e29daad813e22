"""`bboxaug.merge`: datasets in different formats written to disk, merged, and the output read back with plain
JSON parsing and pycocotools (not bboxaug's readers): classes, COCO ids, the class map, boxes and image files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from bboxaug.commands.convert import save
from bboxaug.commands.merge import merge
from bboxaug.core.errors import UsageError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord
from bboxaug.formats import detect_format
from tests.conftest import make_image

Box = tuple[str, float, float, float, float]  # class name, x1, y1, x2, y2


def write_source(
    root: Path,
    fmt: str,
    classes: list[str],
    images: dict[str, tuple[tuple[int, int, int], list[Box]]],
    *,
    ids: list[int] | None = None,
    images_mode: str = "copy",
) -> Path:
    """A dataset in format `fmt` at `root / fmt`: each image `split/name` a 64x48 picture of one colour (no file
    when `images_mode` is none) with its boxes."""
    records = []
    for key, (color, boxes) in images.items():
        split, name = key.split("/")
        picture = None if images_mode == "none" else make_image(root / "pictures" / fmt / key, 64, 48, color=color)
        xyxy = np.array([box[1:] for box in boxes], dtype=np.float64).reshape(-1, 4)
        labels = [classes.index(box[0]) for box in boxes]
        records.append(ImageRecord(name, split, 64, 48, Boxes(xyxy, labels), picture))
    infos = tuple(ClassInfo(None if ids is None else ids[k], name) for k, name in enumerate(classes))
    save(Dataset(infos, tuple(records)), root / fmt, to=fmt, images=images_mode)  # type: ignore[arg-type]
    return root / fmt


def coco_boxes(out: Path) -> dict[str, list[Box]]:
    """Every image of a COCO output (`split/file_name`) with its boxes by category name, read with json."""
    found: dict[str, list[Box]] = {}
    for path in sorted((out / "annotations").glob("instances_*.json")):
        split = path.stem.removeprefix("instances_")
        document = json.loads(path.read_text())
        names = {c["id"]: c["name"] for c in document["categories"]}
        files = {image["id"]: f"{split}/{image['file_name']}" for image in document["images"]}
        found.update({key: [] for key in files.values()})
        for a in document["annotations"]:
            x, y, w, h = a["bbox"]
            found[files[a["image_id"]]].append((names[a["category_id"]], x, y, x + w, y + h))
    return {key: sorted(boxes) for key, boxes in found.items()}


def categories(out: Path, split: str) -> list[tuple[int, str]]:
    document = json.loads((out / "annotations" / f"instances_{split}.json").read_text())
    return [(c["id"], c["name"]) for c in document["categories"]]


def test_voc_yolo_and_coco_sources_become_one_coco_dataset(tmp_path: Path) -> None:
    voc = write_source(tmp_path, "voc", ["Car", "truck"], {"train/a.png": ((200, 0, 0), [("Car", 4, 6, 20, 30)])})
    yolo = write_source(
        tmp_path,
        "yolo",
        ["car ", "bus"],
        {"train/b.png": ((0, 200, 0), [("bus", 8, 8, 40, 40), ("car ", 0, 0, 16, 12)]), "val/c.png": ((9, 9, 9), [])},
    )
    coco = write_source(tmp_path, "coco", [" CAR", "van"], {"test/d.png": ((0, 0, 200), [("van", 1.5, 2, 30, 47)])})
    result = merge([voc, yolo, coco], tmp_path / "out", to="coco")
    assert result.source_format == "voc+yolo+coco" and result.target_format == "coco"
    written = coco_boxes(tmp_path / "out")
    assert written.keys() == {"train/a.png", "train/b.png", "val/c.png", "test/d.png"}
    assert written["train/a.png"] == [("Car", 4, 6, 20, 30)]
    assert [box[0] for box in written["train/b.png"]] == ["Car", "bus"]  # `car ` joined `Car`
    np.testing.assert_allclose(
        [box[1:] for box in written["train/b.png"]], [[0, 0, 16, 12], [8, 8, 40, 40]], atol=1e-3
    )  # YOLO keeps six decimals of the normalised corners
    assert written["val/c.png"] == [] and written["test/d.png"] == [("van", 1.5, 2, 30, 47)]
    # The first source (VOC) numbers no class: COCO numbers them 1.. in the joined order.
    assert categories(tmp_path / "out", "train") == [(1, "Car"), (2, "truck"), (3, "bus"), (4, "van")]
    for key, color in (("train/a.png", (200, 0, 0)), ("test/d.png", (0, 0, 200))):
        with Image.open(tmp_path / "out" / "images" / key) as image:
            assert image.getpixel((5, 5)) == color  # each image copied from its own source's folder
    mapping = [{c["name"]: c["as"] for c in source["classes"]} for source in result.record["sources"]]
    assert mapping == [{"Car": "Car", "truck": "truck"}, {"car ": "Car", "bus": "bus"}, {" CAR": "Car", "van": "van"}]


def test_coco_ids_of_the_first_source_are_kept_and_new_classes_follow_the_largest(tmp_path: Path) -> None:
    coco = write_source(
        tmp_path, "coco", ["car", "truck"], {"train/a.png": ((1, 2, 3), [("truck", 1, 1, 9, 9)])}, ids=[5, 9]
    )
    voc = write_source(
        tmp_path, "voc", ["CAR", "bus"], {"train/b.png": ((3, 2, 1), [("CAR", 2, 2, 8, 8), ("bus", 3, 3, 30, 30)])}
    )
    result = merge([coco, voc], tmp_path / "out")
    assert result.target_format == "coco"  # the first source's format
    loaded = COCO(str(tmp_path / "out" / "annotations" / "instances_train.json"))
    assert sorted((c["id"], c["name"]) for c in loaded.loadCats(loaded.getCatIds())) == [
        (5, "car"),
        (9, "truck"),
        (10, "bus"),
    ]
    b = next(image for image in loaded.loadImgs(loaded.getImgIds()) if image["file_name"] == "b.png")
    annotations = loaded.loadAnns(loaded.getAnnIds(imgIds=b["id"]))
    assert sorted((a["category_id"], *a["bbox"]) for a in annotations) == [(5, 2, 2, 6, 6), (10, 3, 3, 27, 27)]
    assert [entry["output_id"] for entry in result.classes] == [5, 9, 10]


def test_the_class_map_renumbers_the_aligned_classes_by_their_output_names(tmp_path: Path) -> None:
    coco = write_source(tmp_path, "coco", ["car"], {"train/a.png": ((1, 2, 3), [("car", 1, 1, 9, 9)])}, ids=[5])
    voc = write_source(tmp_path, "voc", ["Car ", "bus"], {"train/b.png": ((3, 2, 1), [("bus", 3, 3, 30, 30)])})
    merge([coco, voc], tmp_path / "out", class_map={"bus": 1, "car": 2})
    assert categories(tmp_path / "out", "train") == [(1, "bus"), (2, "car")]
    assert coco_boxes(tmp_path / "out") == {
        "train/a.png": [("car", 1, 1, 9, 9)],
        "train/b.png": [("bus", 3, 3, 30, 30)],
    }
    with pytest.raises(UsageError, match="without an id in the class map: car"):
        merge(
            [coco, voc], tmp_path / "other", class_map={"bus": 1, "Car ": 2}
        )  # a source's spelling is not the output's


def test_annotation_only_sources_merge_without_images_and_a_clash_is_renamed(tmp_path: Path) -> None:
    first = write_source(
        tmp_path / "one", "coco", ["crack"], {"train/a.jpg": ((0, 0, 0), [("crack", 1, 2, 3, 4)])}, images_mode="none"
    )
    second = write_source(
        tmp_path / "two", "coco", ["Crack"], {"train/a.jpg": ((0, 0, 0), [("Crack", 5, 6, 7, 8)])}, images_mode="none"
    )
    result = merge([first, second], tmp_path / "out", images="none")
    assert coco_boxes(tmp_path / "out") == {
        "train/a.jpg": [("crack", 1, 2, 3, 4)],
        "train/a_src2.jpg": [("crack", 5, 6, 7, 8)],
    }
    assert not (tmp_path / "out" / "images").exists()
    manifest = json.loads((tmp_path / "out" / "merge.json").read_text())
    assert manifest["merge"]["renamed"] == [{"source": 2, "image": "train/a.jpg", "as": "train/a_src2.jpg"}]
    assert manifest["counts"]["merge_renamed"] == 1 and result.report.counts["merge_classes_aligned"] == 1


def test_the_output_defaults_to_the_first_sources_format_and_must_stay_apart_from_every_source(
    tmp_path: Path,
) -> None:
    voc = write_source(tmp_path, "voc", ["car"], {"train/a.png": ((1, 1, 1), [("car", 1, 1, 5, 5)])})
    yolo = write_source(tmp_path, "yolo", ["car"], {"val/b.png": ((2, 2, 2), [("car", 2, 2, 6, 6)])})
    merge([voc, yolo], tmp_path / "out")
    assert detect_format(tmp_path / "out").name == "voc"
    with pytest.raises(UsageError, match="must not be, contain, or lie inside the source"):
        merge([voc, yolo], yolo / "inside")


def test_a_formats_own_fields_are_kept_for_its_own_images_and_never_written_into_another_format(
    tmp_path: Path,
) -> None:
    labelme = write_source(tmp_path, "labelme", ["car"], {"train/a.png": ((1, 2, 3), [("car", 1, 1, 9, 9)])})
    document = json.loads((labelme / "train" / "a.json").read_text())
    document["flags"] = {"blurry": True}
    document["shapes"][0]["description"] = "scratched door"
    (labelme / "train" / "a.json").write_text(json.dumps(document))
    coco = write_source(tmp_path, "coco", ["car"], {"train/b.png": ((3, 2, 1), [("car", 2, 2, 9, 9)])})

    merge([labelme, coco], tmp_path / "as-labelme")
    written = json.loads((tmp_path / "as-labelme" / "train" / "a.json").read_text())
    assert written["flags"] == {"blurry": True} and written["shapes"][0]["description"] == "scratched door"

    merge([coco, labelme], tmp_path / "as-coco")
    document = json.loads((tmp_path / "as-coco" / "annotations" / "instances_train.json").read_text())
    assert [sorted(image) for image in document["images"]] == [["file_name", "height", "id", "width"]] * 2
    assert {key for a in document["annotations"] for key in a} == {
        "id",
        "image_id",
        "category_id",
        "bbox",
        "area",
        "segmentation",
        "iscrowd",
    }
