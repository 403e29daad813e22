"""`bboxaug validate`: one of each problem planted in small datasets built here yields exactly those codes, at the
right image and box; clean datasets yield none; every reader's way of reporting a problem maps to its code."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from bboxaug.cli.main import main
from bboxaug.core import codes
from bboxaug.core.errors import BboxaugError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord
from bboxaug.core.report import Report
from bboxaug.inspection.validate import CODES, ERROR, WARNING, box_findings, check_dataset, summarize, validate
from tests.conftest import REPO, make_image

ISSUE_CODES = {
    "missing_image",
    "unreadable_image",
    "size_mismatch",
    "out_of_bounds",
    "degenerate_box",
    "duplicate_box",
    "duplicate_image",
    "unknown_class",
    "unused_class",
    "orphan_label",
}


def noise(path: Path, width: int, height: int, seed: int) -> Path:
    """An image of random pixels: no two seeds share pixels, so nothing is a duplicate by accident."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def truncated_jpeg(path: Path, seed: int) -> Path:
    """A JPEG whose header reads but whose pixels stop half-way."""
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(buffer, "JPEG")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    return path


def coco_split(root: Path, split: str, images: list[dict[str, Any]], categories: list[str]) -> None:
    """annotations/instances_<split>.json; each image entry is {"file": name, "boxes": [(category_id, xywh)]}."""
    entries, annotations = [], []
    for image_id, image in enumerate(images, start=1):
        entries.append(
            {
                "id": image_id,
                "file_name": image["file"],
                "width": image.get("width", 64),
                "height": image.get("height", 48),
            }
        )
        for category_id, bbox in image.get("boxes", []):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category_id,
                    "bbox": bbox,
                    "area": bbox[2] * bbox[3],
                    "iscrowd": 0,
                }
            )
    data = {
        "images": entries,
        "annotations": annotations,
        "categories": [{"id": k, "name": name} for k, name in enumerate(categories, start=1)],
    }
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(data))


def planted_coco(root: Path, *, clean: bool = False) -> Path:
    """Two COCO splits with one of each problem COCO can hold (none when `clean`)."""
    train = root / "images" / "train"
    val = root / "images" / "val"
    noise(train / "a.png", 64, 48, 1)
    noise(val / "v.png", 64, 48, 2)
    train_images: list[dict[str, Any]] = [{"file": "a.png", "boxes": [(1, [4, 4, 16, 16]), (2, [30, 4, 10, 10])]}]
    val_images: list[dict[str, Any]] = [{"file": "v.png", "boxes": [(2, [5, 5, 20, 20])]}]
    categories = ["scratch", "spot"]
    if not clean:
        for seed, name in enumerate("bcdef", start=3):
            noise(train / f"{name}.png", 64, 48, seed)
        noise(train / "f.png", 60, 48, 9)  # size_mismatch: declared 64x48
        truncated_jpeg(train / "h.jpg", 10)  # unreadable_image (pixels)
        noise(train / "dup.png", 64, 48, 11)
        noise(val / "dup_copy.png", 64, 48, 11)  # duplicate_image across splits: leakage
        categories.append("ghost")  # unused_class
        train_images += [
            {"file": "b.png", "boxes": [(1, [2, 2, 10, 10]), (1, [50, 10, 20, 20])]},  # out_of_bounds: box 1
            {"file": "c.png", "boxes": [(2, [10, 10, 0, 5])]},  # degenerate_box: box 0
            {"file": "d.png", "boxes": [(1, [5, 5, 15, 15]), (1, [5, 5, 15, 15])]},  # duplicate_box: box 1
            {"file": "e.png", "boxes": [(99, [5, 5, 15, 15])]},  # unknown_class
            {"file": "f.png"},
            {"file": "g.png"},  # missing_image
            {"file": "h.jpg"},
            {"file": "dup.png"},
        ]
        val_images.append({"file": "dup_copy.png"})
    coco_split(root, "train", train_images, categories)
    coco_split(root, "val", val_images, categories)
    return root


def planted_yolo(root: Path, *, clean: bool = False) -> Path:
    """A YOLO dataset whose only problem is a label file without an image (none when `clean`)."""
    noise(root / "images" / "train" / "x.png", 64, 48, 20)
    noise(root / "images" / "train" / "y.png", 64, 48, 21)
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "train" / "x.txt").write_text("0 0.5 0.5 0.25 0.25\n")
    (root / "labels" / "train" / "y.txt").write_text("0 0.25 0.25 0.25 0.25\n")
    if not clean:
        (root / "labels" / "train" / "orphan.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/train\nnames: [scratch]\n")
    return root / "data.yaml"


def by_code(findings: list) -> dict[str, Any]:
    assert all(count == 1 for count in Counter(f.code for f in findings).values()), findings
    return {f.code: f for f in findings}


def test_one_of_each_problem_yields_exactly_those_codes(tmp_path: Path) -> None:
    findings = validate(planted_coco(tmp_path / "coco"), deep=True) + validate(
        planted_yolo(tmp_path / "yolo"), deep=True
    )
    found = by_code(findings)
    assert set(found) == ISSUE_CODES
    expected_places = {
        "out_of_bounds": ("train/b.png", 1),
        "degenerate_box": ("train/c.png", 0),
        "duplicate_box": ("train/d.png", 1),
        "size_mismatch": ("train/f.png", None),
        "missing_image": ("train/g.png", None),
        "unreadable_image": ("train/h.jpg", None),
        "duplicate_image": ("val/dup_copy.png", None),
    }
    for code, (image, box) in expected_places.items():
        assert (found[code].image, found[code].box) == (image, box), code
    assert found["duplicate_image"].details == {"other": "train/dup.png", "leakage": True}
    assert found["duplicate_image"].severity == ERROR
    assert "declared 64x48" in found["size_mismatch"].message and "60x48" in found["size_mismatch"].message
    assert "99" in found["unknown_class"].message and found["unknown_class"].field.endswith("category_id")
    assert "ghost" in found["unused_class"].message
    assert found["orphan_label"].file.endswith("orphan.txt")
    assert {f.code for f in findings if f.severity == WARNING} == {"duplicate_box", "unused_class"}


def test_without_deep_pixels_are_not_decoded(tmp_path: Path) -> None:
    findings = validate(planted_coco(tmp_path / "coco"))
    assert set(by_code(findings)) == ISSUE_CODES - {"unreadable_image", "duplicate_image", "orphan_label"}


@pytest.mark.parametrize("deep", [False, True])
def test_clean_datasets_yield_nothing(tmp_path: Path, deep: bool) -> None:
    assert validate(planted_coco(tmp_path / "coco", clean=True), deep=deep) == []
    assert validate(planted_yolo(tmp_path / "yolo", clean=True), deep=deep) == []


def test_duplicates_within_a_split_are_warnings(tmp_path: Path) -> None:
    first = noise(tmp_path / "one.png", 20, 10, 1)
    second = noise(tmp_path / "two.png", 20, 10, 1)
    dataset = Dataset(
        (ClassInfo(None, "a"),),
        (
            ImageRecord("one.png", "train", 20, 10, Boxes([[0, 0, 5, 5]], [0]), source=first),
            ImageRecord("two.png", "train", 20, 10, source=second),
            ImageRecord("again.png", "train", 20, 10, source=first),  # the same file under a second name
        ),
    )
    headers_only = check_dataset(dataset)
    assert [(f.code, f.image, f.severity) for f in headers_only] == [("duplicate_image", "train/again.png", WARNING)]
    deep = check_dataset(dataset, deep=True)
    assert [(f.image, f.details["other"]) for f in deep] == [
        ("train/two.png", "train/one.png"),
        ("train/again.png", "train/one.png"),
    ]


def test_an_image_listed_in_two_yolo_splits_is_leakage(tmp_path: Path) -> None:
    for seed, name in enumerate("ab"):
        noise(tmp_path / "images" / f"{name}.png", 30, 20, seed)
        (tmp_path / "labels").mkdir(exist_ok=True)
        (tmp_path / "labels" / f"{name}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "train.txt").write_text("images/a.png\nimages/b.png\n")
    (tmp_path / "val.txt").write_text("images/b.png\n")
    (tmp_path / "data.yaml").write_text("path: .\ntrain: train.txt\nval: val.txt\nnames: [x]\n")
    [found] = validate(tmp_path / "data.yaml")
    assert (found.code, found.severity, found.image) == ("duplicate_image", ERROR, "train/b.png")
    assert found.details == {"other": "val/b.png", "leakage": True}


def test_box_checks_on_the_model() -> None:
    dataset = Dataset(
        (ClassInfo(None, "a"), ClassInfo(None, "b")),
        (
            ImageRecord(
                "x.png",
                "s",
                100,
                50,
                Boxes(
                    [
                        [0, 0, 100, 50],  # exactly the image: fine
                        [-0.5, 0, 10, 10],  # out of bounds
                        [0, 0, 10, np.nan],  # degenerate (not finite)
                        [10, 10, 30, 30],
                        [10, 10, 30, 30.1],  # IoU 0.995 with box 3, same class: duplicate
                        [10, 10, 30, 30],
                    ],  # same place, other class: fine
                    [0, 0, 0, 0, 0, 1],
                ),
            ),
            ImageRecord("y.png", "s", 10, 10, Boxes([[1, 1, 4, 4]], [5])),
        ),
    )  # unknown class index
    found = [(f.code, f.image, f.box) for f in box_findings(dataset)]
    assert found == [
        ("out_of_bounds", "s/x.png", 1),
        ("degenerate_box", "s/x.png", 2),
        ("unknown_class", "s/y.png", 0),
        ("duplicate_box", "s/x.png", 4),
    ]


def naive_duplicates(image: ImageRecord) -> list[tuple[int, int]]:
    """(box, first earlier box of its class it duplicates): every pair compared, one image at a time."""
    found = []
    xyxy, labels = image.boxes.xyxy.tolist(), image.boxes.labels.tolist()
    for later in range(len(xyxy)):
        for earlier in range(later):
            a, b = xyxy[earlier], xyxy[later]
            inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
            union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
            if labels[earlier] == labels[later] and (a == b or (union > 0 and inter / union > 0.99)):
                found.append((later, earlier))
                break
    return found


def test_duplicate_boxes_over_many_images_match_comparing_every_pair() -> None:
    rng = np.random.default_rng(3)
    images = []
    for k in range(300):
        count = int(rng.integers(0, 12))
        corners = rng.integers(0, 4, (count, 2)).astype(float)
        xyxy = np.hstack([corners, corners + rng.integers(1, 3, (count, 2))])
        xyxy[rng.random(count) < 0.2] += 0.001  # near, not equal: IoU above 0.99 or not
        images.append(ImageRecord(f"{k}.png", "s", 10, 10, Boxes(xyxy, rng.integers(0, 3, count))))
    dataset = Dataset((ClassInfo(0, "a"), ClassInfo(1, "b"), ClassInfo(2, "c")), tuple(images))
    found = [(f.image, f.box, f.details["same_as"]) for f in box_findings(dataset) if f.code == "duplicate_box"]
    expected = [(image.key, later, earlier) for image in images for later, earlier in naive_duplicates(image)]
    assert found == expected and len(expected) > 40


# --- every reader's way of reporting -------------------------------------------------------------------------


def voc(root: Path, *, declared: tuple[int, int], image: bool) -> Path:
    if image:
        noise(root / "JPEGImages" / "a.png", 64, 48, 1)
    else:
        (root / "JPEGImages").mkdir(parents=True)
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "a.xml").write_text(
        f"<annotation><filename>a.png</filename><size><width>{declared[0]}</width><height>{declared[1]}</height>"
        "</size><object><name>a</name><bndbox><xmin>2</xmin><ymin>2</ymin><xmax>9</xmax><ymax>9</ymax></bndbox>"
        "</object></annotation>"
    )
    return root


def labelme(root: Path, *, image: bool, declared: tuple[int, int] = (64, 48)) -> Path:
    if image:
        noise(root / "a.png", 64, 48, 1)
    root.mkdir(parents=True, exist_ok=True)
    (root / "a.json").write_text(
        json.dumps(
            {
                "version": "5.5.0",
                "flags": {},
                "imagePath": "a.png",
                "imageData": None,
                "imageWidth": declared[0],
                "imageHeight": declared[1],
                "shapes": [
                    {"label": "a", "points": [[1, 1], [9, 9]], "group_id": None, "shape_type": "rectangle", "flags": {}}
                ],
            }
        )
    )
    return root


def yolo_lists(root: Path) -> Path:
    """A YOLO dataset read from list files: `b.png` in train and val (leakage), a listed image that does not
    exist, and a label line whose class is not in the list."""
    for seed, name in enumerate("ab"):
        noise(root / "images" / f"{name}.png", 30, 20, seed)
    (root / "labels").mkdir()
    (root / "labels" / "a.txt").write_text("5 0.5 0.5 0.2 0.2\n")
    (root / "labels" / "b.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "train.txt").write_text("images/a.png\nimages/b.png\nimages/gone.png\n")
    (root / "val.txt").write_text("images/b.png\n")
    (root / "data.yaml").write_text("path: .\ntrain: train.txt\nval: val.txt\nnames: [x]\n")
    return root / "data.yaml"


def coco_without_size(root: Path) -> Path:
    """A COCO image with no width and no file to read it from."""
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "instances_train.json").write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "gone.png", "height": 48}],
                "annotations": [],
                "categories": [{"id": 1, "name": "a"}],
            }
        )
    )
    return root


@pytest.mark.parametrize(
    "case, expected",
    [
        ("voc_size", [("size_mismatch", ERROR)]),
        ("voc_missing", [("missing_image", ERROR)]),
        ("labelme_size", [("size_mismatch", ERROR)]),
        ("labelme_missing", [("missing_image", ERROR)]),
        ("yolo_unknown_class", [("unknown_class", ERROR)]),
        ("yolo_malformed", [("unreadable_annotation", ERROR)]),
    ],
)
def test_reader_reports_map_to_codes(case: str, expected: list, tmp_path: Path) -> None:
    root = tmp_path / case
    if case == "voc_size":
        src, fmt = voc(root, declared=(80, 48), image=True), "voc"
    elif case == "voc_missing":
        src, fmt = voc(root, declared=(64, 48), image=False), "voc"
    elif case == "labelme_size":
        src, fmt = labelme(root, image=True, declared=(48, 64)), "labelme"
    elif case == "labelme_missing":
        src, fmt = labelme(root, image=False), "labelme"
    else:
        src, fmt = planted_yolo(root, clean=True), "yolo"
        line = "5 0.5 0.5 0.2 0.2\n" if case == "yolo_unknown_class" else "0 0.5 zero 0.2 0.2\n"
        (root / "labels" / "train" / "x.txt").write_text(line)
    findings = validate(src, fmt=fmt)
    assert [(f.code, f.severity) for f in findings] == expected


def test_reader_codes_more_precise_than_a_finding_map_to_it(tmp_path: Path) -> None:
    found = [(f.code, f.severity, f.image, f.field) for f in validate(yolo_lists(tmp_path / "yolo"))]
    assert found == [
        ("missing_image", ERROR, None, "line 3"),
        ("unknown_class", ERROR, None, "line 1"),
        ("duplicate_image", ERROR, "train/b.png", "val"),
    ]
    found = [(f.code, f.field) for f in validate(coco_without_size(tmp_path / "coco"))]
    assert found == [("missing_image", "images[0].width"), ("unused_class", "classes[0]")]


def reword_reader_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on every message a reader warns with or raises is replaced by one sharing no word with it."""
    warn, init = Report.warn, BboxaugError.__init__

    def reworded_warn(self: Report, file: object, field: str | None, message: str, code: Any) -> None:
        warn(self, file, field, f"reworded note of {len(message)} characters", code)

    def reworded_init(self: BboxaugError, message: str, **where: Any) -> None:
        init(self, f"reworded error of {len(message)} characters", **where)

    monkeypatch.setattr(Report, "warn", reworded_warn)
    monkeypatch.setattr(BboxaugError, "__init__", reworded_init)


def test_rewording_reader_messages_leaves_the_report_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sources = [
        (planted_coco(tmp_path / "coco"), None, True),
        (planted_yolo(tmp_path / "orphan"), None, False),
        (yolo_lists(tmp_path / "lists"), None, False),
        (coco_without_size(tmp_path / "sizeless"), None, False),
        (voc(tmp_path / "voc", declared=(80, 48), image=True), "voc", False),
        (labelme(tmp_path / "labelme", image=False), "labelme", False),
    ]

    def run() -> tuple[dict[str, Any], list[str]]:
        """The JSON report of every source, its findings without their messages; and the messages."""
        findings = [f for src, fmt, deep in sources for f in validate(src, fmt=fmt, deep=deep)]
        summary = summarize(findings)
        messages = [finding.pop("message") for finding in summary["findings"]]
        return summary, messages

    before, messages_before = run()
    reword_reader_messages(monkeypatch)
    after, messages_after = run()
    assert after == before  # codes, severities, counts, images, boxes, files, fields, details
    reader_problems = {f["code"] for f in before["findings"] if f["file"] is not None}
    assert {"orphan_label", "missing_image", "unknown_class", "duplicate_image", "size_mismatch"} <= reader_problems
    reworded = [
        (old, new) for old, new in zip(messages_before, messages_after, strict=True) if new.startswith("reworded")
    ]
    assert len(reworded) >= len(reader_problems) and all(old != new for old, new in reworded)


def test_every_code_is_documented_with_a_severity() -> None:
    assert set(CODES) >= ISSUE_CODES
    assert all(code.severity in (ERROR, WARNING) and code.label for code in CODES.values())
    assert all(codes.lookup(name) is code for name, code in CODES.items())


def test_the_readme_table_lists_the_registry() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `") and line.split("`")[1] in CODES]
    assert [row.split("`")[1] for row in rows] == list(CODES)
    for row, code in zip(rows, CODES.values(), strict=True):
        assert code.label in row and code.severity in row, row


# --- the command -------------------------------------------------------------------------------------------


def test_command_exit_codes_and_json(tmp_path: Path) -> None:
    runner = CliRunner()
    src = planted_coco(tmp_path / "coco")
    result = runner.invoke(main, ["validate", str(src), "--deep", "--json", str(tmp_path / "v.json")])
    assert result.exit_code == 1, result.output
    data = json.loads((tmp_path / "v.json").read_text())
    assert data["counts"] == dict.fromkeys(ISSUE_CODES - {"orphan_label"}, 1)
    assert (data["errors"], data["warnings"]) == (7, 2)
    assert "error    out_of_bounds" in result.output and "7 errors, 2 warnings" in result.output
    clean = planted_coco(tmp_path / "clean", clean=True)
    result = runner.invoke(main, ["validate", str(clean)])
    assert result.exit_code == 0 and "no problems found" in result.output
    warnings_only = make_image(tmp_path / "w" / "images" / "train" / "a.png", 64, 48)
    coco_split(warnings_only.parents[2], "train", [{"file": "a.png", "boxes": [(1, [1, 1, 5, 5])]}], ["a", "b"])
    result = runner.invoke(main, ["validate", str(warnings_only.parents[2])])
    assert result.exit_code == 0 and "0 errors, 1 warnings" in result.output
