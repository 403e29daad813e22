"""Thumbnails: the size fitted to the side, the picture's own pixels (a left-red, right-blue image stays so), JPEGs
decoded at a reduced scale, EXIF orientation applied, and None for a missing file."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from bboxaug.core.model import Boxes, ImageRecord
from bboxaug.inspection.thumbnails import thumbnail, thumbnails
from tests.conftest import make_image


def record(path: Path, width: int, height: int) -> ImageRecord:
    return ImageRecord(path.name, "train", width, height, Boxes.empty(), path)


def decoded(uri: str) -> Image.Image:
    assert uri.startswith("data:image/webp;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB")


def test_halves_of_two_colours_stay_where_they_are(tmp_path: Path) -> None:
    pixels = np.zeros((720, 1280, 3), np.uint8)
    pixels[:, :640] = (220, 30, 30)
    pixels[:, 640:] = (30, 30, 220)
    Image.fromarray(pixels).save(tmp_path / "halves.png")
    made = thumbnail((record(tmp_path / "halves.png", 1280, 720), 384))
    assert made is not None and (made.width, made.height) == (384, 216)
    picture = np.asarray(decoded(made.uri)).astype(int)
    assert picture.shape == (216, 384, 3)
    assert np.abs(picture[108, 90] - (220, 30, 30)).max() < 25
    assert np.abs(picture[108, 290] - (30, 30, 220)).max() < 25


def test_a_small_image_is_not_enlarged(tmp_path: Path) -> None:
    source = make_image(tmp_path / "small.jpg", 200, 100)
    made = thumbnail((record(source, 200, 100), 384))
    assert made is not None and (made.width, made.height) == (200, 100)


def test_jpegs_are_decoded_at_a_reduced_scale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1280x720 JPEG for a 384x216 thumbnail is decoded at half size (640x360, still larger than needed), and
    a portrait one the same way."""
    drafted: list[tuple[int, int]] = []
    draft = JpegImagePlugin.JpegImageFile.draft

    def recording(self: JpegImagePlugin.JpegImageFile, mode: str | None, size: tuple[int, int] | None) -> object:
        result = draft(self, mode, size)
        drafted.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", recording)
    wide = make_image(tmp_path / "wide.jpg", 1280, 720)
    tall = make_image(tmp_path / "tall.jpg", 720, 1280)
    made = thumbnails([record(wide, 1280, 720), record(tall, 720, 1280)], side=384)
    assert [(m.width, m.height) for m in made if m is not None] == [(384, 216), (216, 384)]
    assert drafted == [(640, 360), (360, 640)]


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    source = make_image(tmp_path / "turned.jpg", 400, 200, orientation=6)  # stored 400x200, shown 200x400
    made = thumbnail((record(source, 200, 400), 384))
    assert made is not None and (made.width, made.height) == (192, 384)
    assert decoded(made.uri).size == (192, 384)


def test_a_missing_file_has_no_thumbnail(tmp_path: Path) -> None:
    assert thumbnail((record(tmp_path / "gone.jpg", 640, 480), 384)) is None
