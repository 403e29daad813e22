"""The committed sample dataset (samples/defects) is reproducible from samples/make_samples.py and its boxes are
exact."""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SCRIPT = SAMPLES / "make_samples.py"
COMMITTED = SAMPLES / "defects"


def _load_script():
    spec = importlib.util.spec_from_file_location("make_samples", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_samples"] = module  # dataclasses look the module up while the class bodies run
    before, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no samples/__pycache__ next to the data
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = before
    return module


ms = _load_script()


@pytest.fixture(scope="module")
def samples():
    return ms.generate()


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _parse(xml: bytes) -> dict:
    root = ET.fromstring(xml)
    objects = []
    for o in root.findall("object"):
        b = o.find("bndbox")
        objects.append(
            {
                "name": o.findtext("name"),
                "pose": o.findtext("pose"),
                "truncated": int(o.findtext("truncated")),
                "difficult": int(o.findtext("difficult")),
                "box": tuple(int(b.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")),
            }
        )
    size = root.find("size")
    return {
        "folder": root.findtext("folder"),
        "filename": root.findtext("filename"),
        "size": tuple(int(size.findtext(k)) for k in ("width", "height", "depth")),
        "segmented": root.findtext("segmented"),
        "objects": objects,
    }


@pytest.fixture(scope="module")
def committed() -> dict[str, bytes]:
    return _tree(COMMITTED)


@pytest.fixture(scope="module")
def annotations(committed) -> dict[str, dict]:
    return {Path(rel).stem: _parse(data) for rel, data in committed.items() if rel.startswith("Annotations/")}


def test_regeneration_is_byte_identical_and_matches_committed_copy(tmp_path, committed):
    # One run in a fresh interpreter through the CLI, one in this process: catches any hidden state or ordering.
    a, b = tmp_path / "a", tmp_path / "b"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", str(a)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ms.write(b, ms.generate())
    first, second = _tree(a), _tree(b)
    assert len(first) == 2 * ms.N_IMAGES + 3
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []
    assert committed.keys() == first.keys(), "samples/defects holds files the script does not generate, or misses some"
    # Annotations must match to the byte. JPEG bytes depend on the JPEG library inside the installed Pillow, so the
    # committed images are compared by their decoded pixels: a newer Pillow must not fail CI over encoder details.
    stale = [k for k in first if not k.endswith(".jpg") and first[k] != committed[k]]
    assert stale == [], f"committed samples differ from the script output, rerun make_samples.py --force: {stale}"
    for name in (k for k in first if k.endswith(".jpg")):
        fresh, kept = (
            np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)
            for data in (first[name], committed[name])
        )
        assert np.abs(fresh - kept).mean() < 1.0, f"{name}: committed image differs from the script's output"


def test_cli_refuses_non_empty_dir_unless_forced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    keep = out / "keep.txt"
    keep.write_text("mine")
    assert ms.main(["--out", str(out)]) == 2
    assert sorted(out.iterdir()) == [keep]
    assert ms.main(["--out", str(keep)]) == 2  # a file, not a directory
    assert ms.main(["--out", str(out), "--force"]) == 0
    assert keep.read_text() == "mine"
    assert (out / "classes.txt").read_text() == "scratch\nspot\ncrack\ninclusion\n"


def test_class_counts_and_imbalance(committed, annotations):
    classes = committed["classes.txt"].decode().splitlines()
    assert classes == ["scratch", "spot", "crack", "inclusion"]
    counts = Counter(o["name"] for a in annotations.values() for o in a["objects"])
    assert set(counts) == set(classes)
    assert counts.most_common(1)[0][0] == "scratch"
    assert min(counts, key=counts.get) == "inclusion"
    ratio = max(counts.values()) / min(counts.values())
    assert 8 <= ratio <= 12, counts
    assert dict(counts) == ms.CLASS_COUNTS


def test_negatives_present(committed, annotations):
    negatives = [stem for stem, a in annotations.items() if not a["objects"]]
    assert 4 <= len(negatives) <= 6
    for stem in negatives:
        assert f"JPEGImages/{stem}.jpg" in committed


def test_xml_fields_and_jpegs(committed, annotations):
    assert len(annotations) == ms.N_IMAGES
    for stem, a in annotations.items():
        assert a["folder"] == "defects"
        assert a["filename"] == f"{stem}.jpg"
        assert a["segmented"] == "0"
        with Image.open(io.BytesIO(committed[f"JPEGImages/{stem}.jpg"])) as im:
            assert im.format == "JPEG" and im.mode == "RGB"
            assert a["size"] == (im.width, im.height, 3)
            assert not im.getexif()
            assert "exif" not in im.info
        for o in a["objects"]:
            assert o["pose"] == "Unspecified" and o["difficult"] == 0
            x0, y0, x1, y1 = o["box"]
            assert 1 <= x0 <= x1 <= a["size"][0] and 1 <= y0 <= y1 <= a["size"][1]


def test_boxes_are_the_bounds_of_the_drawn_pixels(samples, annotations):
    assert [s.stem for s in samples] == sorted(annotations)
    checked = 0
    for s in samples:
        objects = annotations[s.stem]["objects"]
        assert [o["name"] for o in objects] == [d.label for d in s.defects]
        changed = np.any(s.image != s.clean, axis=2)  # every pixel any defect altered
        covered = np.zeros_like(changed)
        for o, d in zip(objects, s.defects, strict=True):
            # VOC 1-based inclusive back to 0-based pixel columns/rows.
            x0, y0, x1, y1 = o["box"]
            c0, r0, c1, r1 = x0 - 1, y0 - 1, x1 - 1, y1 - 1
            rows = np.flatnonzero(d.mask.any(axis=1))
            cols = np.flatnonzero(d.mask.any(axis=0))
            assert (c0, r0, c1, r1) == (cols[0], rows[0], cols[-1], rows[-1]), (s.stem, o)
            assert np.array_equal(d.mask & changed, d.mask), f"{s.stem}: a masked pixel was not actually drawn"
            # Independently of the mask: the changed pixels inside the box reach all four sides of the box.
            region = changed[r0 : r1 + 1, c0 : c1 + 1]
            assert region[0].any() and region[-1].any() and region[:, 0].any() and region[:, -1].any(), (s.stem, o)
            covered[r0 : r1 + 1, c0 : c1 + 1] = True
            checked += 1
        assert not (changed & ~covered).any(), f"{s.stem}: drawn pixels outside every box"
    assert checked == sum(ms.CLASS_COUNTS.values())


def test_jpeg_is_close_to_the_rendered_image(samples, committed):
    for s in samples:
        with Image.open(io.BytesIO(committed[f"JPEGImages/{s.stem}.jpg"])) as im:
            decoded = np.asarray(im.convert("RGB"), dtype=np.int16)
        assert np.abs(decoded - s.image.astype(np.int16)).mean() < 4.0, s.stem


def test_truncated_exactly_when_cut_by_the_border(annotations):
    truncated = 0
    for a in annotations.values():
        w, h, _ = a["size"]
        for o in a["objects"]:
            x0, y0, x1, y1 = o["box"]
            touches = x0 == 1 or y0 == 1 or x1 == w or y1 == h
            assert bool(o["truncated"]) == touches, o
            truncated += o["truncated"]
    assert 2 <= truncated <= 6


def test_split_is_about_80_20_and_covers_every_class(committed, annotations):
    train = committed["ImageSets/Main/train.txt"].decode().splitlines()
    val = committed["ImageSets/Main/val.txt"].decode().splitlines()
    assert not set(train) & set(val)
    assert sorted(train + val) == sorted(annotations)
    assert 0.15 <= len(val) / len(annotations) <= 0.25
    classes = committed["classes.txt"].decode().splitlines()
    for split in (train, val):
        present = {o["name"] for stem in split for o in annotations[stem]["objects"]}
        assert present == set(classes)
        assert any(not annotations[stem]["objects"] for stem in split)


def test_folder_is_small(committed):
    assert sum(len(v) for v in committed.values()) < 1_500_000
