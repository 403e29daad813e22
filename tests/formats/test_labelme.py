"""Labelme JSON adapter: pure shape parsing and formatting, reading realistic Labelme folders built here (all shape
types, backslash and `../` image paths, embedded images, EXIF sizes), writing, detection, and the real corpus.

Expected coordinates are computed by hand in each test (Labelme points are already model coordinates: continuous,
origin at the image's top-left corner), never by the adapter.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import sys
import warnings
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pycocotools import mask as mask_utils

from bboxaug.core.errors import AnnotationError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, EmbeddedImage, ImageRecord
from bboxaug.core.report import Report
from bboxaug.formats import labelme
from bboxaug.formats.labelme import (
    FORMAT,
    declared_size,
    detect,
    format_document,
    format_shape,
    parse_labels,
    parse_shape,
    read,
    write,
)
from bboxaug.formats.layout import ImageIndex
from tests.conftest import CORPUS, make_image

# ------------------------------------------------------------------------------------------------ builders


def png_base64(width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (1, 2, 3)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def mask_base64(rows: list[list[int]]) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.array(rows, dtype=bool)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def shape(label: str, points: list, shape_type: str = "rectangle", **extra: Any) -> dict:
    return {
        "label": label,
        "points": points,
        "group_id": None,
        "description": "",
        "shape_type": shape_type,
        "flags": {},
        "mask": None,
        **extra,
    }


def document(
    shapes: list[dict], image_path: str | None, width: int | None = 8, height: int | None = 6, **extra: Any
) -> dict:
    return {
        "version": "5.5.0",
        "flags": {},
        "shapes": shapes,
        "imagePath": image_path,
        "imageData": None,
        "imageHeight": height,
        "imageWidth": width,
        **extra,
    }


def put_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def decode_rle(rle: dict) -> np.ndarray:
    """pycocotools' own decoder (numpy 2 makes its Cython layer emit a DeprecationWarning, harmless here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")})


def by_name(dataset: Dataset) -> dict[str, ImageRecord]:
    return {image.name: image for image in dataset.images}


# ------------------------------------------------------------------------------------------ pure: shapes


def test_rectangle_corners_in_either_order_give_min_max() -> None:
    for points in ([[6.5, 5], [2, 1.25]], [[2, 5], [6.5, 1.25]], [[2, 1.25], [6.5, 5]]):
        parsed = parse_shape(shape("a", points), size=(8, 6), file="f", field="shapes[0]")
        assert parsed.xyxy == (2, 1.25, 6.5, 5)
        assert parsed.segmentation is None
        assert parsed.shape == {"shape_type": "rectangle", "points": [[float(x), float(y)] for x, y in points]}


def test_polygon_box_is_its_envelope_and_the_polygon_is_kept() -> None:
    parsed = parse_shape(
        shape(
            "dent",
            [[3, 1], [7.5, 2], [6, 5.5], [1, 4]],
            "polygon",
            group_id=2,
            description="deep",
            flags={"ok": True},
            score=0.9,
        ),
        size=None,
        file="f",
        field="s",
    )
    assert parsed.label == "dent"
    assert parsed.xyxy == (1, 1, 7.5, 5.5)
    assert parsed.segmentation == [[3, 1, 7.5, 2, 6, 5.5, 1, 4]]
    assert parsed.attributes == {"group_id": 2, "description": "deep", "flags": {"ok": True}, "score": 0.9}


def test_oriented_rectangle_and_rotation_are_read_as_oriented_boxes_with_their_envelope() -> None:
    corners = [[4, 0], [8, 4], [4, 8], [0, 4]]  # a square turned 45 degrees, clockwise on the image
    for shape_type in ("oriented_rectangle", "rotation"):
        parsed = parse_shape(shape("tag", corners, shape_type), size=None, file="f", field="s")
        assert parsed.xyxy == (0, 0, 8, 8)
        assert parsed.obb == (4, 0, 8, 4, 4, 8, 0, 4)
        assert parsed.segmentation is None
        assert parsed.shape["shape_type"] == shape_type
    counter_clockwise = parse_shape(shape("tag", corners[::-1], "oriented_rectangle"), size=None, file="f", field="s")
    assert counter_clockwise.obb == (4, 8, 0, 4, 4, 0, 8, 4)
    with pytest.raises(AnnotationError, match="needs 4 points, found 5"):
        parse_shape(shape("tag", [*corners, [1, 1]], "oriented_rectangle"), size=None, file="f", field="s")


def test_an_oriented_box_is_written_as_an_oriented_rectangle_of_its_corners() -> None:
    written = format_shape("tag", [0, 0, 8, 8], None, {}, None, (4, 0, 8, 4, 4, 8, 0, 4))
    assert written["shape_type"] == "oriented_rectangle"
    assert written["points"] == [[4, 0], [8, 4], [4, 8], [0, 4]]
    stale = {"shape_type": "oriented_rectangle", "points": [[4, 0], [8, 4], [4, 8], [0, 4]]}
    moved = format_shape("tag", [0, 0, 8, 8], None, {}, stale, (0, 4, 4, 0, 8, 4, 4, 8))
    assert moved["points"] == [[0, 4], [4, 0], [8, 4], [4, 8]]


def test_shape_without_shape_type_is_a_polygon_as_in_labelme_3() -> None:
    raw = {"label": "a", "points": [[0, 0], [4, 0], [2, 3]]}
    assert parse_shape(raw, size=None, file="f", field="s").xyxy == (0, 0, 4, 3)


def test_circle_box_is_centre_plus_minus_radius_and_segmentation_an_inscribed_32_gon() -> None:
    # centre (10, 5), point on the circle (13, 9): radius sqrt(3^2 + 4^2) = 5
    parsed = parse_shape(shape("hole", [[10, 5], [13, 9]], "circle"), size=None, file="f", field="s")
    assert parsed.xyxy == (5, 0, 15, 10)
    (flat,) = parsed.segmentation
    vertices = np.array(flat).reshape(-1, 2)
    assert len(vertices) == 32
    np.testing.assert_allclose(np.hypot(vertices[:, 0] - 10, vertices[:, 1] - 5), 5, atol=1e-12)
    # the envelope of the polygon is exactly the box, so a box taken from the transformed polygon stays right
    assert (vertices[:, 0].min(), vertices[:, 1].min(), vertices[:, 0].max(), vertices[:, 1].max()) == (5, 0, 15, 10)


def test_mask_box_is_the_set_pixels_placed_at_the_box_origin_and_segmentation_full_size_rle() -> None:
    rows = [[0, 0, 0, 0], [0, 1, 1, 1], [0, 0, 1, 0]]
    raw = shape("stain", [[2, 3], [5, 5]], "mask", mask=mask_base64(rows))
    parsed = parse_shape(raw, size=(9, 7), file="f", field="s")
    # set pixels: patch columns 1..3, rows 1..2 -> image pixels x 3..5, y 4..5 -> [3, 4, 6, 6]
    assert parsed.xyxy == (3, 4, 6, 6)
    rle = parsed.segmentation
    assert rle["size"] == [7, 9] and isinstance(rle["counts"], str)
    json.dumps(rle)  # JSON-serialisable
    expected = np.zeros((7, 9), dtype=np.uint8)
    expected[4, 3:6] = 1
    expected[5, 4] = 1
    decoded = decode_rle(rle)
    np.testing.assert_array_equal(decoded, expected)
    assert parsed.shape == {"shape_type": "mask", "points": [[2.0, 3.0], [5.0, 5.0]], "mask": raw["mask"]}


def test_mask_reaching_past_the_image_is_cropped_in_the_rle_but_not_in_the_box() -> None:
    raw = shape("stain", [[6, 5], [8, 6]], "mask", mask=mask_base64([[1, 1, 1], [1, 1, 1]]))
    parsed = parse_shape(raw, size=(8, 6), file="f", field="s")
    assert parsed.xyxy == (6, 5, 9, 7)
    decoded = decode_rle(parsed.segmentation)
    assert parsed.segmentation["size"] == [6, 8]
    assert decoded.sum() == 2 and decoded[5, 6] == decoded[5, 7] == 1


def test_mask_without_a_known_image_size_has_no_segmentation_and_empty_mask_is_skipped() -> None:
    raw = shape("stain", [[0, 0], [1, 1]], "mask", mask=mask_base64([[0, 1], [0, 0]]))
    parsed = parse_shape(raw, size=None, file="f", field="s")
    assert parsed.xyxy == (1, 0, 2, 1) and parsed.segmentation is None
    empty = shape("stain", [[0, 0], [1, 1]], "mask", mask=mask_base64([[0, 0], [0, 0]]))
    assert parse_shape(empty, size=(4, 4), file="f", field="s") == "empty_mask"


@pytest.mark.parametrize(
    "shape_type, points",
    [("point", [[1, 1]]), ("line", [[0, 0], [3, 3]]), ("linestrip", [[0, 0], [3, 3], [5, 1]]), ("cuboid", [[0, 0]])],
)
def test_shapes_without_area_and_unknown_types_are_named_for_skipping(shape_type: str, points: list) -> None:
    assert parse_shape(shape("x", points, shape_type), size=None, file="f", field="s") == shape_type


@pytest.mark.parametrize(
    "raw, field",
    [
        (shape("a", [[1, 1]]), "shapes[3].points"),  # rectangle with one point
        (shape("a", [[0, 0], [1, 1]], "polygon"), "shapes[3].points"),  # polygon with two points
        (shape("a", [[0, 0], [1, 1], [2, 2]], "circle"), "shapes[3].points"),  # circle with three points
        (shape("a", [[0, "1"], [2, 2]]), "shapes[3].points"),  # a string coordinate
        (shape("a", [[0, float("nan")], [2, 2]]), "shapes[3].points"),
        (shape("a", "0,0,1,1"), "shapes[3].points"),
        (shape(None, [[0, 0], [1, 1]]), "shapes[3].label"),
        (shape("", [[0, 0], [1, 1]]), "shapes[3].label"),
        (shape("a", [[0, 0], [1, 1]], "mask", mask="not base64 png"), "shapes[3].mask"),
        (shape("a", [[0, 0], [1, 1]], "mask"), "shapes[3].mask"),  # mask shape with mask null
        (shape("a", [[0, 0], [1, 1]], 7), "shapes[3].shape_type"),
        ([[0, 0], [1, 1]], "shapes[3]"),
    ],
)
def test_malformed_shapes_are_errors_naming_file_and_field(raw: Any, field: str) -> None:
    with pytest.raises(AnnotationError) as caught:
        parse_shape(raw, size=(8, 6), file="ann.json", field="shapes[3]")
    assert caught.value.file == "ann.json"
    assert caught.value.field == field


def test_declared_size_needs_both_positive_whole_numbers() -> None:
    assert declared_size({"imageWidth": 8, "imageHeight": 6}, file="f") == (8, 6)
    assert declared_size({"imageWidth": 8.0, "imageHeight": 6}, file="f") == (8, 6)
    assert declared_size({"imageWidth": 8}, file="f") is None
    assert declared_size({"imageWidth": None, "imageHeight": None}, file="f") is None
    for bad in (0, -3, 6.5, True, "6"):
        with pytest.raises(AnnotationError) as caught:
            declared_size({"imageWidth": 8, "imageHeight": bad}, file="f")
        assert caught.value.field == "imageHeight"


def test_labels_txt_skips_labelme_reserved_lines_and_blanks() -> None:
    assert parse_labels("__ignore__\n_background_\n\ncat \r\ndog\n") == ["cat", "dog"]


# --------------------------------------------------------------------------------------------- pure: write


def test_stored_shape_is_given_back_while_the_box_is_unchanged() -> None:
    stored = {"shape_type": "circle", "points": [[10.0, 5.0], [13.0, 9.0]]}
    attributes = {"group_id": 4, "description": "d", "flags": {"x": False}, "score": 0.5}
    written = format_shape("hole", [5, 0, 15 + 5e-7, 10], None, attributes, stored)
    assert list(written) == ["score", "label", "points", "group_id", "description", "shape_type", "flags", "mask"]
    assert written == {
        "score": 0.5,
        "label": "hole",
        "points": [[10, 5], [13, 9]],
        "group_id": 4,
        "description": "d",
        "shape_type": "circle",
        "flags": {"x": False},
        "mask": None,
    }
    moved = format_shape("hole", [5, 0, 14, 10], None, attributes, stored)
    assert moved["shape_type"] == "rectangle" and moved["points"] == [[5, 0], [14, 10]]


def test_reversed_rectangle_corners_are_written_back_as_they_were() -> None:
    stored = {"shape_type": "rectangle", "points": [[6.0, 5.0], [2.0, 1.0]]}
    assert format_shape("a", [2, 1, 6, 5], None, None, stored)["points"] == [[6, 5], [2, 1]]


def test_polygon_with_the_same_box_but_moved_vertices_becomes_a_rectangle() -> None:
    # a horizontal flip about x = 4 keeps this polygon's box [2, 0, 6, 4] but moves its vertices
    stored = {"shape_type": "polygon", "points": [[2.0, 0.0], [6.0, 2.0], [3.0, 4.0]]}
    same = format_shape("a", [2, 0, 6, 4], [[2, 0, 6, 2, 3, 4]], None, stored)
    assert same["shape_type"] == "polygon"
    flipped = format_shape("a", [2, 0, 6, 4], [[6, 0, 2, 2, 5, 4]], None, stored)
    assert flipped["shape_type"] == "rectangle" and flipped["points"] == [[2, 0], [6, 4]]


def test_mask_shape_is_given_back_with_its_mask() -> None:
    mask = mask_base64([[0, 1], [1, 1]])
    stored = {"shape_type": "mask", "points": [[3.0, 2.0], [4.0, 3.0]], "mask": mask}
    written = format_shape("m", [3, 2, 5, 4], {"size": [6, 8], "counts": "x"}, {}, stored)
    assert (written["shape_type"], written["mask"], written["points"]) == ("mask", mask, [[3, 2], [4, 3]])


def test_foreign_boxes_become_rectangles_with_labelme_defaults() -> None:
    written = format_shape("a", [0.5, 1, 3.25, 4], None, None, None)
    assert written == {
        "label": "a",
        "points": [[0.5, 1], [3.25, 4]],
        "group_id": None,
        "description": "",
        "shape_type": "rectangle",
        "flags": {},
        "mask": None,
    }


def test_document_keeps_labelme_key_order_flags_and_unknown_keys() -> None:
    image = ImageRecord(
        "sub/a.jpg",
        "train",
        8,
        6,
        Boxes([[1, 2, 3, 4]], [1]),
        attributes={"version": "4.5.6", "flags": {"blurry": True}, "reviewer": "qa"},
    )
    written = format_document(image, ["x", "y"])
    assert list(written) == [
        "version",
        "flags",
        "shapes",
        "imagePath",
        "imageData",
        "imageHeight",
        "imageWidth",
        "reviewer",
    ]
    assert written["version"] == "5.5.0" and written["flags"] == {"blurry": True} and written["reviewer"] == "qa"
    assert (written["imagePath"], written["imageData"], written["imageHeight"], written["imageWidth"]) == (
        "a.jpg",
        None,
        6,
        8,
    )
    assert written["shapes"][0]["label"] == "y" and written["shapes"][0]["points"] == [[1, 2], [3, 4]]


def test_layout_functions() -> None:
    assert FORMAT.image_path("train", "sub/a.b.png") == "train/sub/a.b.png"
    assert FORMAT.annotation_key("train", "sub/a.b.png") == "train/sub/a.b"
    assert FORMAT.annotation_key("val", "noext") == "val/noext"
    assert FORMAT.tolerance(ImageRecord("a.png", "train", 8, 6)) == 1e-6
    assert FORMAT.keeps_crowd is False


# ------------------------------------------------------------------------------------------------ reading


@pytest.fixture
def realistic(tmp_path: Path) -> Path:
    """A Labelme folder as people have them: train/val splits, every shape type, Windows paths, a sibling image
    folder, an image only embedded, a negative, and labels.txt."""
    root = tmp_path / "ds"
    (root / "labels.txt").parent.mkdir(parents=True)
    (root / "labels.txt").write_text("__ignore__\n_background_\nrust\nscratch\n", encoding="utf-8")
    make_image(root / "train" / "a.jpg", 40, 30)
    put_json(
        root / "train" / "a.json",
        document(
            [
                shape("scratch", [[30.5, 20], [10, 5.25]]),
                shape("dent", [[1, 2], [9, 3], [5, 12.5]], "polygon", group_id=7, description="near weld"),
                shape("hole", [[20, 15], [20, 18]], "circle"),
                shape("stain", [[4, 25], [6, 26]], "mask", mask=mask_base64([[1, 1, 0], [0, 1, 0]])),
                shape("tip", [[3, 3]], "point"),
                shape("seam", [[0, 0], [39, 29]], "line"),
                shape("seam", [[0, 0], [5, 5], [9, 0]], "linestrip"),
            ],
            "a.jpg",
            40,
            30,
            flags={"blurry": False},
            reviewer="qa",
        ),
    )
    make_image(root / "train" / "line 2" / "images" / "b.png", 16, 12)
    put_json(
        root / "train" / "line 2" / "json" / "b.json",
        document([shape("dent", [[0, 0], [16, 12]])], "..\\images\\b.png", 16, 12),
    )
    put_json(
        root / "val" / "c.json",
        {**document([shape("scratch", [[1, 1], [2, 3]])], "c.png", None, None), "imageData": png_base64(10, 7)},
    )
    make_image(root / "val" / "neg.png", 5, 4)
    put_json(root / "val" / "neg.json", document([], "neg.png", 5, 4))
    return root


def test_reads_a_realistic_folder(realistic: Path) -> None:
    report = Report()
    dataset = read(realistic, report=report)
    assert dataset.class_names == ["rust", "scratch", "dent", "hole", "stain"]
    assert all(c.id is None for c in dataset.classes)
    assert [(image.split, image.name) for image in dataset.images] == [
        ("train", "a.jpg"),
        ("train", "line 2/images/b.png"),
        ("val", "c.png"),
        ("val", "neg.png"),
    ]
    images = by_name(dataset)

    a = images["a.jpg"]
    assert (a.width, a.height, a.source) == (40, 30, realistic / "train" / "a.jpg")
    np.testing.assert_allclose(
        a.boxes.xyxy,
        [
            [10, 5.25, 30.5, 20],  # rectangle, corners reversed
            [1, 2, 9, 12.5],  # polygon envelope
            [17, 12, 23, 18],  # circle: centre (20, 15), radius 3
            [4, 25, 6, 27],  # mask: set pixels (0,0) (1,0) (1,1) of the patch at (4, 25)
        ],
        rtol=0,
        atol=1e-12,
    )
    assert [dataset.class_names[i] for i in a.boxes.labels] == ["scratch", "dent", "hole", "stain"]
    assert a.boxes.column("attributes")[1] == {"group_id": 7, "description": "near weld", "flags": {}}
    assert a.boxes.column("segmentation")[1] == [[1, 2, 9, 3, 5, 12.5]]
    assert a.attributes == {"version": "5.5.0", "flags": {"blurry": False}, "reviewer": "qa"}
    assert report.counts["skipped_shapes:point"] == 1
    assert report.counts["skipped_shapes:line"] == 1
    assert report.counts["skipped_shapes:linestrip"] == 1

    b = images["line 2/images/b.png"]
    assert b.source == realistic / "train" / "line 2" / "images" / "b.png"
    np.testing.assert_array_equal(b.boxes.xyxy, [[0, 0, 16, 12]])

    c = images["c.png"]
    assert c.source == EmbeddedImage(realistic / "val" / "c.json")
    assert (c.width, c.height) == (10, 7)

    neg = images["neg.png"]
    assert len(neg.boxes) == 0 and (neg.width, neg.height) == (5, 4)
    assert not report.skipped and not report.warnings


def test_read_names_are_not_interned_strings(realistic: Path) -> None:
    """Names made with pathlib are its interned parts, which CPython's table of interned strings then holds for as
    long as the dataset lives; the names a read keeps are new strings."""
    names = [image.name for image in read(realistic, report=Report()).images]
    assert len(names) == 4
    assert all(sys.intern("".join(list(name))) is not name for name in names)


def test_image_outside_the_split_folder_is_named_after_the_json(tmp_path: Path) -> None:
    make_image(tmp_path / "ds" / "pool" / "shot.png", 8, 6)
    put_json(
        tmp_path / "ds" / "train" / "cam1" / "x.json",
        document([shape("a", [[1, 1], [2, 2]])], "..\\..\\pool\\shot.png"),
    )
    dataset = read(tmp_path / "ds", report=Report())
    (image,) = dataset.images
    assert (image.split, image.name, image.source) == ("train", "cam1/x.png", tmp_path / "ds" / "pool" / "shot.png")


def test_images_are_found_by_name_when_imagepath_is_stale(tmp_path: Path) -> None:
    make_image(tmp_path / "ds" / "imgs" / "IMG_1.JPG", 8, 6)
    make_image(tmp_path / "ds" / "anns" / "sub" / "f7.png", 8, 6)
    put_json(
        tmp_path / "ds" / "anns" / "IMG_1.json",
        document([shape("a", [[1, 1], [2, 2]])], "C:\\Users\\someone\\data\\img_1.jpg"),
    )
    put_json(tmp_path / "ds" / "anns" / "sub" / "f7.json", document([], None))
    images = by_name(read(tmp_path / "ds", report=Report()))
    assert images["imgs/IMG_1.JPG"].source == tmp_path / "ds" / "imgs" / "IMG_1.JPG"  # by file name, any case
    # imagePath null: the image is found by the JSON's own name
    assert images["anns/sub/f7.png"].source == tmp_path / "ds" / "anns" / "sub" / "f7.png"
    assert sorted(images) == ["anns/sub/f7.png", "imgs/IMG_1.JPG"]


@pytest.mark.parametrize(
    "image_path, name",
    [
        ("x.png", "s/x.png"),
        ("..\\y\\z.jpg", "y/z.jpg"),
        ("./deep/q.PNG", "s/deep/q.PNG"),
        ("..\\..\\elsewhere\\x.tif", "s/a.tif"),  # outside the split folder: the JSON's name, the image's extension
        ("", "s/a.png"),
        ("./", "s/a.png"),
        ("a/..", "s/a.png"),
        (None, "s/a.png"),
        ("noext", "s/noext"),
    ],
)
def test_record_names_from_imagepath_when_no_image_exists(tmp_path: Path, image_path: Any, name: str) -> None:
    split = tmp_path / "train"
    found, got = labelme.locate_image(split / "s" / "a.json", image_path, split, ImageIndex(split))
    assert (found, got) == (None, name)


def test_image_dir_holds_the_images(tmp_path: Path) -> None:
    make_image(tmp_path / "pixels" / "train" / "sub" / "a.png", 8, 6)
    put_json(tmp_path / "ann" / "train" / "sub" / "a.json", document([shape("a", [[1, 1], [2, 2]])], "a.png"))
    dataset = read(tmp_path / "ann", report=Report(), image_dir=tmp_path / "pixels")
    (image,) = dataset.images
    assert (image.name, image.source) == ("sub/a.png", tmp_path / "pixels" / "train" / "sub" / "a.png")


def test_declared_size_that_disagrees_with_the_exif_oriented_header_loses(tmp_path: Path) -> None:
    make_image(tmp_path / "ds" / "r.jpg", 8, 6, orientation=6)  # stored 8x6, shown rotated: 6 wide, 8 high
    put_json(tmp_path / "ds" / "r.json", document([shape("a", [[1, 1], [2, 2]])], "r.jpg", 8, 6))
    report = Report()
    (image,) = read(tmp_path / "ds", report=report).images
    assert (image.width, image.height) == (6, 8)
    assert report.counts["size_mismatch"] == 1
    assert report.warnings[0].file.endswith("r.json") and "6x8" in report.warnings[0].message


def test_missing_image_keeps_declared_size_or_has_none(tmp_path: Path) -> None:
    put_json(tmp_path / "ds" / "a.json", document([shape("a", [[1, 1], [2, 2]])], "a.png", 30, 20))
    put_json(tmp_path / "ds" / "b.json", document([], "b.png", None, None))
    put_json(tmp_path / "ds" / "c.json", {**document([], "c.png", 11, 9), "imageData": png_base64(4, 3)})
    report = Report()
    images = by_name(read(tmp_path / "ds", report=report))
    assert (images["a.png"].source, images["a.png"].width, images["a.png"].height) == (None, 30, 20)
    assert (images["b.png"].source, images["b.png"].width, images["b.png"].height) == (None, None, None)
    # embedded pixels: a declared size is taken as declared (the embedded header is read only when none is)
    assert (images["c.png"].width, images["c.png"].height) == (11, 9)
    assert report.counts["missing_images"] == 2


def test_single_json_file_is_a_one_image_dataset(tmp_path: Path) -> None:
    make_image(tmp_path / "x" / "a.png", 8, 6)
    path = put_json(tmp_path / "x" / "a.json", document([shape("cat", [[0, 0], [8, 6]])], "a.png"))
    assert detect(path)
    dataset = read(path, report=Report())
    assert [(image.split, image.name, image.width) for image in dataset.images] == [("default", "a.png", 8)]
    assert dataset.class_names == ["cat"]


def test_unreadable_files_fail_or_are_skipped_by_policy(tmp_path: Path) -> None:
    put_json(tmp_path / "ds" / "a.json", document([shape("a", [[1, 1]])], "a.png"))  # one-point rectangle
    (tmp_path / "ds" / "b.json").write_text("{not json", encoding="utf-8")
    put_json(tmp_path / "ds" / "c.json", document([shape("ok", [[1, 1], [3, 3]])], "c.png"))
    put_json(tmp_path / "ds" / "meta.json", {"classes": ["a"]})
    with pytest.raises(AnnotationError) as caught:
        read(tmp_path / "ds", report=Report())
    assert caught.value.file.endswith("a.json") and caught.value.field == "shapes[0].points"
    report = Report(on_error="skip")
    dataset = read(tmp_path / "ds", report=report)
    assert [image.name for image in dataset.images] == ["c.png"]
    assert dataset.class_names == ["ok"]  # the skipped file's classes are not registered
    assert report.counts["skipped_items"] == 2
    assert report.counts["skipped_files:not_labelme"] == 1


def test_two_jsons_for_one_image_are_an_error(tmp_path: Path) -> None:
    make_image(tmp_path / "ds" / "a.png", 8, 6)
    put_json(tmp_path / "ds" / "a.json", document([], "a.png"))
    put_json(tmp_path / "ds" / "copy.json", document([], "a.png"))
    with pytest.raises(AnnotationError, match="already annotated"):
        read(tmp_path / "ds", report=Report())


def test_json_beside_split_folders_is_counted_not_read(tmp_path: Path) -> None:
    put_json(tmp_path / "ds" / "train" / "a.json", document([], "a.png"))
    put_json(tmp_path / "ds" / "stray.json", document([], "stray.png"))
    put_json(tmp_path / "ds" / "convert.json", {"images": 1, "from": "voc"})  # not Labelme's: not counted
    report = Report()
    dataset = read(tmp_path / "ds", report=report)
    assert [image.name for image in dataset.images] == ["a.png"]
    assert report.counts["skipped_files:outside_splits"] == 1
    assert ["outside the split folders" in w.message for w in report.warnings] == [True, False]  # + missing a.png


# ------------------------------------------------------------------------------------------------ writing


def test_write_then_read_gives_back_shapes_boxes_and_classes(realistic: Path, tmp_path: Path) -> None:
    dataset = read(realistic, report=Report())
    out = tmp_path / "out"
    write(dataset, out, report=Report())
    assert (out / "labels.txt").read_text() == "__ignore__\n_background_\nrust\nscratch\ndent\nhole\nstain\n"
    a = json.loads((out / "train" / "a.json").read_text())
    source = json.loads((realistic / "train" / "a.json").read_text())
    assert a["shapes"] == source["shapes"][:4]  # every box shape as it was; point/line/linestrip are gone
    assert (a["flags"], a["reviewer"], a["imagePath"], a["imageData"]) == ({"blurry": False}, "qa", "a.jpg", None)
    b = json.loads((out / "train" / "line 2" / "images" / "b.json").read_text())
    assert b["imagePath"] == "b.png"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json")) == [
        "train/a.json",
        "train/line 2/images/b.json",
        "val/c.json",
        "val/neg.json",
    ]
    # put the images where the layout says, then read back
    for image in dataset.images:
        target = out / FORMAT.image_path(image.split, image.name)
        if isinstance(image.source, Path):
            shutil.copyfile(image.source, target)
    back = read(out, report=Report())
    assert back.class_names == dataset.class_names
    for before, after in zip(dataset.images, back.images, strict=True):
        assert (before.split, before.name, before.width, before.height) == (
            after.split,
            after.name,
            after.width,
            after.height,
        )
        np.testing.assert_allclose(after.boxes.xyxy, before.boxes.xyxy, rtol=0, atol=1e-6)
        assert list(after.boxes.column("attributes")) == list(before.boxes.column("attributes"))


def test_write_is_deterministic_and_leaves_its_input_alone(realistic: Path, tmp_path: Path) -> None:
    dataset = read(realistic, report=Report())
    snapshot = [
        (dict(i.attributes), list(i.boxes.column("attributes")), list(i.boxes.column("shape"))) for i in dataset.images
    ]
    write(dataset, tmp_path / "one", report=Report())
    write(dataset, tmp_path / "two", report=Report())
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    for relative in files:
        assert (tmp_path / "one" / relative).read_bytes() == (tmp_path / "two" / relative).read_bytes()
    assert snapshot == [
        (dict(i.attributes), list(i.boxes.column("attributes")), list(i.boxes.column("shape"))) for i in dataset.images
    ]
    text = (tmp_path / "one" / "train" / "a.json").read_text()
    assert text.startswith('{\n  "version": "5.5.0",\n  "flags": {') and text.endswith("}\n")


def test_unwritable_attribute_is_an_error_for_that_image(tmp_path: Path) -> None:
    dataset = Dataset(
        (ClassInfo(None, "a"),),
        (
            ImageRecord("bad.png", "train", 8, 6, attributes={"when": object()}),
            ImageRecord("good.png", "train", 8, 6, Boxes([[float("inf"), 0, 1, 1]], [0])),
            ImageRecord("fine.png", "train", 8, 6),
        ),
    )
    report = Report(on_error="skip")
    write(dataset, tmp_path, report=report)
    assert report.counts["skipped_items"] == 2
    assert sorted(p.name for p in tmp_path.rglob("*.json")) == ["fine.json"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 500, allow_subnormal=False),
            st.floats(0, 500, allow_subnormal=False),
            st.floats(0.01, 100),
            st.floats(0.01, 100),
        ),
        max_size=5,
    )
)
def test_any_box_survives_format_then_parse(boxes: list[tuple[float, float, float, float]]) -> None:
    xyxy = np.array([[x, y, x + w, y + h] for x, y, w, h in boxes]).reshape(-1, 4)
    image = ImageRecord("a.png", "train", 640, 640, Boxes(xyxy, [0] * len(boxes)))
    shapes = json.loads(json.dumps(format_document(image, ["a"])))["shapes"]
    parsed = [parse_shape(s, size=(640, 640), file="f", field="s").xyxy for s in shapes]
    np.testing.assert_allclose(np.array(parsed).reshape(-1, 4), xyxy, rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------------------------- detection


def test_detect_labelme_folders_and_files_only(realistic: Path, tmp_path: Path) -> None:
    assert detect(realistic)
    assert detect(realistic / "train" / "a.json")
    coco = put_json(tmp_path / "coco" / "instances.json", {"images": [], "annotations": [], "categories": []})
    assert not detect(coco) and not detect(coco.parent)
    (tmp_path / "empty").mkdir()
    assert not detect(tmp_path / "empty")
    assert not detect(realistic / "train" / "a.jpg")
    assert not detect(tmp_path / "missing")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.json").write_text("[1, 2", encoding="utf-8")
    assert not detect(tmp_path / "broken")


def test_detect_peeks_at_a_few_files_only(tmp_path: Path) -> None:
    for index in range(labelme.DETECT_PEEK):
        put_json(tmp_path / f"{index}_meta.json", {"other": index})
    put_json(tmp_path / "z.json", document([], "z.png"))
    assert not detect(tmp_path)
    (tmp_path / "0_meta.json").unlink()
    assert detect(tmp_path)


# ------------------------------------------------------------------------------------------------- corpus


@pytest.fixture
def real_corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"real corpus not found at {CORPUS}")
    return CORPUS


def test_mit_labelme_xml_is_not_labelme_json(real_corpus: Path) -> None:
    xml_dataset = real_corpus / "datumaro_assets" / "tests" / "assets" / "labelme_dataset"
    assert xml_dataset.is_dir()
    assert not detect(xml_dataset)
    for folder in sorted(real_corpus.iterdir()):
        if folder.is_dir():
            assert not detect(folder), folder


def test_labelme_json_for_real_photos_reads_their_sizes_and_boxes(real_corpus: Path, tmp_path: Path) -> None:
    """Labelme JSON written here for the real card photos (VOC boxes converted by hand: xmin - 1, xmax), pointing
    at the photos by absolute paths written with backslashes, gives back the VOC sizes from the JPEG headers and
    the boxes."""
    cards = real_corpus / "cards_voc_subset" / "images" / "test"
    truth = {}
    for xml in sorted(cards.glob("*.xml")):
        root = ElementTree.parse(xml).getroot()
        file_name = root.findtext("filename")
        boxes = [
            [float(o.findtext(f"bndbox/{k}")) - d for k, d in (("xmin", 1), ("ymin", 1), ("xmax", 0), ("ymax", 0))]
            for o in root.iter("object")
        ]
        labels = [o.findtext("name") for o in root.iter("object")]
        size = (int(root.findtext("size/width")), int(root.findtext("size/height")))
        truth[file_name] = (size, boxes, labels)
        shapes = [shape(label, [[x2, y2], [x1, y1]]) for label, (x1, y1, x2, y2) in zip(labels, boxes, strict=True)]
        windows_path = str(cards / file_name).replace("/", "\\")
        put_json(
            tmp_path / "work" / "json" / f"{Path(file_name).stem}.json", document(shapes, windows_path, None, None)
        )
    dataset = read(tmp_path / "work", report=Report())
    assert len(dataset.images) == len(truth)
    for image in dataset.images:
        size, boxes, labels = truth[image.source.name]
        assert (image.width, image.height) == size
        assert image.name == f"json/{image.source.stem}{image.source.suffix}"
        np.testing.assert_allclose(image.boxes.xyxy, boxes, rtol=0, atol=1e-9)
        assert [dataset.class_names[i] for i in image.boxes.labels] == labels
