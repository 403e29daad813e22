from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bboxaug.core.errors import AnnotationError
from bboxaug.core.model import Boxes, object_column
from bboxaug.core.report import Report
from bboxaug.formats import dota, yolo
from tests.conftest import make_image


def test_lines_headers_and_difficult_flags_are_parsed() -> None:
    objects = dota.parse_labels(
        "imagesource:GoogleEarth\ngsd:0.146\n\n1 2 3 2 3 4 1 4 plane 1\n1.5 2 1.5 4 3 4 3 2 small-vehicle\n"
    )
    assert objects.header == {"imagesource": "GoogleEarth", "gsd": "0.146"}
    assert objects.names == ["plane", "small-vehicle"]
    assert objects.difficult == [True, False]
    assert objects.quads == [(1, 2, 3, 2, 3, 4, 1, 4), (1.5, 4, 1.5, 2, 3, 2, 3, 4)]  # the second made clockwise


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1 2 3 2 3 4 1 plane 0", "expected `x1 y1"),
        ("1 2 3 2 3 4 1 x plane 0", "expected `x1 y1"),
        ("1 2 3 2 3 4 1 4 plane 2", "difficult must be 0 or 1"),
        ("1 2 3 2 3 4 1 4 plane 0 extra", "expected `x1 y1"),
    ],
)
def test_bad_lines_name_the_file_and_line(line: str, message: str) -> None:
    with pytest.raises(AnnotationError, match=message) as error:
        dota.parse_labels(f"gsd:1\n{line}\n", file="a.txt")
    assert (error.value.file, error.value.field) == ("a.txt", "line 2")


def test_a_line_is_written_with_six_decimals_at_most_and_a_box_without_a_quad_as_its_corners() -> None:
    boxes = Boxes(
        [[1, 2, 3, 4], [0, 0, 2, 1]],
        [1, 0],
        {"obb": object_column([(1.25, 2, 3.1234567, 2, 3, 4, 1, 4), None]), "difficult": [True, False]},
    )
    text = dota.format_labels(boxes, ["a", "b"], {"gsd": "0.5", "other": "x"})
    assert text == "gsd:0.5\n1.25 2 3.123457 2 3 4 1 4 b 1\n0 0 2 0 2 1 0 1 a 0\n"


def test_a_label_without_an_image_is_skipped_and_an_image_without_a_label_is_a_negative(tmp_path: Path) -> None:
    make_image(tmp_path / "images/a.png", 10, 10)
    make_image(tmp_path / "images/b.png", 10, 10)
    (tmp_path / "labelTxt").mkdir()
    (tmp_path / "labelTxt/a.txt").write_text("1 1 5 1 5 5 1 5 ship 0\n")
    (tmp_path / "labelTxt/lost.txt").write_text("1 1 5 1 5 5 1 5 ship 0\n")
    (tmp_path / "classes.txt").write_text("plane\nship\n")
    assert dota.detect(tmp_path)
    report = Report(on_error="skip")
    dataset = dota.read(tmp_path, report=report)
    assert dataset.class_names == ["plane", "ship"]
    assert [(image.split, image.name, len(image.boxes)) for image in dataset.images] == [
        ("default", "a.png", 1),
        ("default", "b.png", 0),
    ]
    assert report.skipped[0].code == "missing_image" and report.skipped[0].file.endswith("lost.txt")
    assert dota.image_path("default", "a.png") == "images/a.png"
    assert dota.image_path("train", "a.png") == "train/images/a.png"


def test_a_folder_of_yolo_labels_is_not_dota(tmp_path: Path) -> None:
    (tmp_path / "train/labelTxt").mkdir(parents=True)
    (tmp_path / "train/labelTxt/a.txt").write_text("0 0.1 0.1 0.9 0.1 0.9 0.9 0.1 0.9\n")
    assert not dota.detect(tmp_path)
    (tmp_path / "train/labelTxt/a.txt").write_text("1 1 5 1 5 5 1 5 ship\n")
    assert dota.detect(tmp_path)


def test_roboflow_dota_export_reads_with_its_data_yaml_classes(corpus: Path) -> None:
    source = corpus / "datumaro_assets/tests/assets/roboflow_dataset/yolo_obb"
    assert dota.detect(source) and yolo.detect(source)  # both: the user says --from dota
    dataset = dota.read(source, report=Report())
    assert dataset.class_names == ["label_0", "label_1"]
    val = next(image for image in dataset.images if image.split == "val")
    np.testing.assert_allclose(val.boxes.xyxy, [[0, 0, 1, 1], [1, 2, 10, 5]])
    # `1 2 1 5 10 5 10 2` goes counter-clockwise on the image: made clockwise, first edge kept
    assert val.boxes.column("obb")[1] == (1, 5, 1, 2, 10, 2, 10, 5)
