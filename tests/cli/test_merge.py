"""`bboxaug merge` from the command line: the summary (each source's classes and where they went, the duplicates
written once), merge.json, and the exit codes of a conflict (1) and of too few paths (2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from bboxaug.cli.main import main
from tests.commands.test_merge import coco_boxes, write_source


def test_merge_prints_the_class_mapping_and_writes_a_duplicate_once(tmp_path: Path) -> None:
    voc = write_source(tmp_path, "voc", ["scratch", "dent"], {"train/a.png": ((200, 0, 0), [("dent", 4, 6, 20, 30)])})
    yolo = write_source(
        tmp_path,
        "yolo",
        ["Scratch ", "DENT"],
        {"train/z.png": ((0, 9, 0), [("Scratch ", 0, 0, 16, 12)]), "val/a2.png": ((0, 0, 0), [])},
    )
    shutil.copyfile(tmp_path / "voc" / "JPEGImages" / "a.png", yolo / "images" / "val" / "a2.png")
    (yolo / "labels" / "val" / "a2.txt").write_text("1 0.1875 0.375 0.25 0.5\n")  # dent 4,6 - 20,30 of 64x48
    result = CliRunner().invoke(main, ["merge", str(voc), str(yolo), str(tmp_path / "out"), "--to", "coco", "-j", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"merged voc+yolo -> coco: {tmp_path / 'out'}"
    assert "    classes  'Scratch ' -> 'scratch', 'DENT' -> 'dent'" in lines
    assert "  images     2 (train 2)" in lines
    assert "  duplicate  val/a2.png (source 2) = train/a.png (source 1): written once" in lines
    assert any(line.split()[0] == "1" and "merged once" in line for line in lines)
    assert coco_boxes(tmp_path / "out") == {
        "train/a.png": [("dent", 4, 6, 20, 30)],
        "train/z.png": [("scratch", 0, 0, 16, 12)],
    }
    manifest = json.loads((tmp_path / "out" / "merge.json").read_text())
    assert manifest["source"] == [str(voc.resolve()), str(yolo.resolve())]
    assert manifest["merge"]["duplicates"] == [
        {"image": "train/a.png", "source": 1, "duplicate": "val/a2.png", "duplicate_source": 2}
    ]


def test_the_same_image_with_other_boxes_exits_1_naming_both_files(tmp_path: Path) -> None:
    first = write_source(tmp_path / "one", "voc", ["dent"], {"train/a.png": ((5, 5, 5), [("dent", 4, 6, 20, 30)])})
    second = write_source(tmp_path / "two", "voc", ["dent"], {"train/b.png": ((5, 5, 5), [("dent", 4, 6, 20, 31)])})
    result = CliRunner().invoke(main, ["merge", str(first), str(second), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert (
        str(first / "JPEGImages" / "a.png") in result.output and str(second / "JPEGImages" / "b.png") in result.output
    )
    assert not (tmp_path / "out").exists()


def test_one_source_or_a_missing_one_is_a_usage_error(tmp_path: Path) -> None:
    voc = write_source(tmp_path, "voc", ["dent"], {"train/a.png": ((5, 5, 5), [])})
    result = CliRunner().invoke(main, ["merge", str(voc), str(tmp_path / "out")])
    assert result.exit_code == 2 and "at least two sources" in result.output
    result = CliRunner().invoke(main, ["merge", str(voc), str(tmp_path / "nowhere"), str(tmp_path / "out")])
    assert result.exit_code == 2 and f"{tmp_path / 'nowhere'} does not exist" in result.output
    assert not (tmp_path / "out").exists()
