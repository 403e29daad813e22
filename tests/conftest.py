"""Shared fixtures: where the golden cases and the real corpus live, a tiny image maker, and a plain VOC reader."""

from __future__ import annotations

import os
from pathlib import Path
from xml.etree import ElementTree

import pytest
from PIL import Image

from bboxaug.formats import FORMATS

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "formats"
#: Beside the checkout, or where BBOXAUG_CORPUS says (a worktree of the checkout has no corpus beside it).
CORPUS = Path(os.environ.get("BBOXAUG_CORPUS") or REPO.parent / "shared" / "corpus")
#: The formats that give back the boxes written to them. The masks format keeps pixels: overlapping boxes of one
#: class come back as one component, and boxes without a shape as filled rectangles (formats/masks.md); its
#: round trips are tested in tests/formats/test_masks.py.
BOX_FORMATS = sorted(name for name in FORMATS if name != "masks")


@pytest.fixture
def corpus() -> Path:
    """The real datasets beside the checkout; tests that need them skip where a clone has none."""
    if not CORPUS.is_dir():
        pytest.skip(f"real corpus not found at {CORPUS} (it sits beside the checkout in CI)")
    return CORPUS


def make_image(
    path: Path, width: int, height: int, *, color: tuple[int, int, int] = (90, 120, 150), orientation: int | None = None
) -> Path:
    """Write a small solid image (JPEG or PNG by extension), optionally with an EXIF orientation tag."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (width, height), color)
    options = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    image.save(path, **options)
    return path


def voc_objects(xml_file: Path) -> list[tuple[str, float, float, float, float]]:
    """Each object of a VOC XML file as (class name, x1, y1, x2, y2), read with the standard library (not bboxaug's
    reader) and moved from VOC's 1-based inclusive corners to continuous pixels (x1 = xmin - 1, x2 = xmax)."""
    objects = []
    for element in ElementTree.parse(xml_file).getroot().iter("object"):
        corners = [float(element.findtext(f"bndbox/{tag}")) for tag in ("xmin", "ymin", "xmax", "ymax")]
        objects.append((element.findtext("name"), corners[0] - 1, corners[1] - 1, corners[2], corners[3]))
    return objects
