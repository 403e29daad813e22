"""Every piece of Python README.md shows works as shown. Each snippet is taken out of README.md (so a test breaks
when the README changes) and run, its paths under a folder laid out as the snippet expects, on the embedded sample
dataset (samples/defects, VOC) or on data the test writes; the results are checked against the sample read with
plain parsers."""

from __future__ import annotations

import ast
import contextlib
import functools
import io
import json
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from PIL import Image

import bboxaug
from tests.conftest import REPO, voc_objects

README = (REPO / "README.md").read_text()
SAMPLE = REPO / "samples" / "defects"

Box = tuple[str, float, float, float, float]  # class name, x1, y1, x2, y2 in pixels


# --- the snippets, as README.md shows them -------------------------------------------------------------------


def python_block(containing: str) -> str:
    """The ```python block of README.md that contains `containing`."""
    blocks = [block for block in re.findall(r"```python\n(.*?)```", README, re.S) if containing in block]
    assert len(blocks) == 1, f"README.md: {len(blocks)} python blocks contain {containing!r}, expected 1"
    return blocks[0]


def inline_code(starting: str) -> str:
    """The inline code span of README.md that starts with `starting`, its line breaks made spaces."""
    prose = re.sub(r"```.*?```", "", README, flags=re.S)
    spans = [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]
    found = [span for span in spans if span.startswith(starting)]
    assert found, f"README.md no longer shows `{starting}...`"
    return found[0]


def rooted(code: str, root: Path) -> str:
    """The snippet with its relative paths ("data/voc", "out/aug", ...) made absolute under `root`. Tests do not
    change folders: reused workers keep the folder they started in (tests/pipeline/test_relative_paths.py)."""
    return re.sub(r'"((?:data|out)/[^"]*)"', lambda path: repr(str(root / path.group(1))), code)


def run_inline(starting: str, root: Path | None = None, **names: Any) -> Any:
    """Evaluate README's inline expression that starts with `starting`, its paths under `root`, with `names` (and
    bboxaug) in scope."""
    code = inline_code(starting)
    return eval(code if root is None else rooted(code, root), {"bboxaug": bboxaug, **names})


def keywords(call: str) -> dict[str, Any]:
    """The keyword arguments of a call written in the README."""
    return {keyword.arg: ast.literal_eval(keyword.value) for keyword in ast.parse(call, mode="eval").body.keywords}


# --- the sample, read without bboxaug ------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleImage:
    name: str
    split: str
    size: tuple[int, int]
    boxes: tuple[Box, ...]


@functools.cache
def sample() -> dict[str, SampleImage]:
    """samples/defects by image name: split from ImageSets/Main, size and boxes from the XML files."""
    split_of = {
        stem: file.stem for file in (SAMPLE / "ImageSets" / "Main").glob("*.txt") for stem in file.read_text().split()
    }
    images = {}
    for xml in sorted((SAMPLE / "Annotations").glob("*.xml")):
        text = xml.read_text()
        name = re.search(r"<filename>(.*?)</filename>", text).group(1)
        size = tuple(int(re.search(rf"<{tag}>(\d+)</{tag}>", text).group(1)) for tag in ("width", "height"))
        images[name] = SampleImage(name, split_of[xml.stem], size, tuple(sorted(voc_objects(xml))))
    return images


def sample_classes() -> list[str]:
    return (SAMPLE / "classes.txt").read_text().split()


def class_counts(boxes: list[Box] | tuple[Box, ...]) -> Counter[str]:
    return Counter(box[0] for box in boxes)


def written_voc(root: Path) -> dict[str, tuple[str, list[Box]]]:
    """A VOC output by image name: (split, sorted boxes)."""
    split_of = {
        stem: file.stem for file in (root / "ImageSets" / "Main").glob("*.txt") for stem in file.read_text().split()
    }
    found = {}
    for xml in sorted((root / "Annotations").glob("*.xml")):
        name = re.search(r"<filename>(.*?)</filename>", xml.read_text()).group(1)
        found[name] = (split_of[xml.stem], sorted(voc_objects(xml)))
    return found


def assert_boxes_equal(
    got: list[Box] | tuple[Box, ...], wanted: list[Box] | tuple[Box, ...], *, tolerance: float = 0.0
) -> None:
    got, wanted = sorted(got), sorted(wanted)
    assert [box[0] for box in got] == [box[0] for box in wanted]
    np.testing.assert_allclose([box[1:] for box in got], [box[1:] for box in wanted], atol=tolerance)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder holding `data/voc`, a copy of the sample, as the README's snippets expect."""
    shutil.copytree(SAMPLE, tmp_path / "data" / "voc")
    return tmp_path


def write_coco_train_split(root: Path) -> Path:
    """The sample's train split as COCO (annotations/instances_train.json, images/train/), written by hand."""
    classes = sample_classes()
    images, annotations = [], []
    for image_id, image in enumerate((i for i in sample().values() if i.split == "train"), start=1):
        (root / "images" / "train").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SAMPLE / "JPEGImages" / image.name, root / "images" / "train" / image.name)
        images.append({"id": image_id, "file_name": image.name, "width": image.size[0], "height": image.size[1]})
        for name, x1, y1, x2, y2 in image.boxes:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": classes.index(name) + 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1),
                    "iscrowd": 0,
                }
            )
    categories = [{"id": k + 1, "name": name} for k, name in enumerate(classes)]
    path = root / "annotations" / "instances_train.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


def coco_boxes(root: Path) -> dict[str, list[Box]]:
    """A COCO output's boxes by `split/file name`."""
    found: dict[str, list[Box]] = {}
    for file in (root / "annotations").glob("instances_*.json"):
        split = file.stem.removeprefix("instances_")
        data = json.loads(file.read_text())
        names = {category["id"]: category["name"] for category in data["categories"]}
        keys = {image["id"]: f"{split}/{image['file_name']}" for image in data["images"]}
        for key in keys.values():
            found[key] = []
        for annotation in data["annotations"]:
            x, y, w, h = annotation["bbox"]
            found[keys[annotation["image_id"]]].append((names[annotation["category_id"]], x, y, x + w, y + h))
    return found


def yolo_boxes(dst: Path) -> dict[str, list[Box]]:
    """A YOLO output's labels by image name, in pixels of the sample's image sizes."""
    names = yaml.safe_load((dst / "data.yaml").read_text())["names"]
    found = {}
    for image in sample().values():
        width, height = image.size
        boxes = []
        for line in (dst / "labels" / image.split / f"{Path(image.name).stem}.txt").read_text().splitlines():
            index, cx, cy, w, h = line.split()
            cx, w, cy, h = float(cx) * width, float(w) * width, float(cy) * height, float(h) * height
            boxes.append((names[int(index)], cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
        found[image.name] = boxes
    return found


# --- Converting -------------------------------------------------------------------------------------------


def test_converting_block_loads_saves_and_converts(workdir: Path) -> None:
    write_coco_train_split(workdir / "data" / "coco")
    namespace: dict[str, Any] = {}
    exec(compile(rooted(python_block("bboxaug.save("), workdir), "README.md", "exec"), namespace)

    dataset = namespace["dataset"]
    train = {name: image for name, image in sample().items() if image.split == "train"}
    assert sorted(image.name for image in dataset.images) == sorted(train)
    for image in dataset.images:
        loaded = [
            (dataset.class_names[label], *map(float, xyxy))
            for label, xyxy in zip(image.boxes.labels, image.boxes.xyxy, strict=True)
        ]
        assert_boxes_equal(loaded, train[image.name].boxes)

    saved = written_voc(workdir / "out" / "voc")
    assert saved.keys() == train.keys()
    for name, (split, boxes) in saved.items():
        assert split == "train"
        assert_boxes_equal(boxes, train[name].boxes)

    converted = yolo_boxes(workdir / "out" / "yolo")
    assert len(converted) == len(sample()) == 48
    for name, boxes in converted.items():
        assert_boxes_equal(boxes, sample()[name].boxes, tolerance=1e-3)
        split = sample()[name].split
        assert (workdir / "out" / "yolo" / "images" / split / name).samefile(
            workdir / "data" / "voc" / "JPEGImages" / name
        )  # images="hardlink"


def test_instance_polygons_block_writes_segment_and_detect_lines(workdir: Path) -> None:
    write_coco_train_split(workdir / "data" / "coco")
    exec(compile(rooted(python_block('task="segment"'), workdir), "README.md", "exec"), {})
    train = {name: image for name, image in sample().items() if image.split == "train"}
    names = yaml.safe_load((workdir / "out" / "yolo-seg" / "data.yaml").read_text())["names"]
    for name, image in train.items():
        width, height = image.size
        lines = (workdir / "out" / "yolo-seg" / "labels" / "train" / f"{Path(name).stem}.txt").read_text().splitlines()
        corners = []
        for line in lines:
            index, *values = line.split()
            assert len(values) == 8  # the sample has no polygons: every box is written as its 4 corners
            xs, ys = np.array(values[0::2], float) * width, np.array(values[1::2], float) * height
            corners.append((names[int(index)], xs.min(), ys.min(), xs.max(), ys.max()))
        assert_boxes_equal(corners, image.boxes, tolerance=1e-3)
        detect = (workdir / "out" / "yolo-det" / "labels" / "train" / f"{Path(name).stem}.txt").read_text()
        assert all(len(line.split()) == 5 for line in detect.splitlines())


# --- Class operations and filters ------------------------------------------------------------------------


# --- Defect masks -----------------------------------------------------------------------------------------


def test_defect_masks_block_reads_with_its_options(workdir: Path) -> None:
    """An MVTec-style category (a 4 px speck and a 12 px blob) and a flat binary set with grey edges."""
    bottle, sheets = workdir / "data" / "bottle", workdir / "data" / "sheets"
    mask = np.zeros((20, 20), np.uint8)
    mask[1, 1:5] = 255
    mask[10:13, 10:14] = 255
    for path, array in [
        (bottle / "train" / "good" / "000.png", np.zeros((20, 20, 3), np.uint8)),
        (bottle / "test" / "dent" / "000.png", np.zeros((20, 20, 3), np.uint8)),
        (bottle / "ground_truth" / "dent" / "000_mask.png", mask),
        (sheets / "images" / "s.png", np.zeros((20, 20, 3), np.uint8)),
        (sheets / "masks" / "s_mask.png", np.where(mask > 0, 120, 0).astype(np.uint8)),
    ]:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(path)
    namespace: dict[str, Any] = {}
    exec(compile(rooted(python_block("read_options="), workdir), "README.md", "exec"), namespace)

    dataset = namespace["dataset"]
    assert dataset.class_names == ["dent"]
    boxes = {image.key: image.boxes.xyxy.tolist() for image in dataset.images}
    assert boxes == {"train/good/000.png": [], "test/dent/000.png": [[10, 10, 14, 13]]}  # the speck left out
    coco = json.loads((workdir / "out" / "sheets" / "annotations" / "instances_default.json").read_text())
    assert [c["name"] for c in coco["categories"]] == ["pit"]
    assert sorted(a["bbox"] for a in coco["annotations"]) == [[1, 1, 4, 1], [10, 10, 4, 3]]  # 120 >= 100


def test_class_operations_block_merges_drops_and_filters_the_sample(workdir: Path) -> None:
    exec(compile(rooted(python_block("class_ops="), workdir), "README.md", "exec"), {})
    out = workdir / "out" / "merged"
    rename = {"crack": "line", "scratch": "line", "inclusion": "inclusion"}
    wanted = {
        f"{image.split}/{name}": [
            (rename[box[0]], *box[1:])
            for box in image.boxes
            if box[0] != "spot" and min(box[3] - box[1], box[4] - box[2]) >= 8
        ]
        for name, image in sample().items()
    }
    written = coco_boxes(out)
    positives = {key: boxes for key, boxes in wanted.items() if boxes}
    assert {key: boxes for key, boxes in written.items() if boxes}.keys() == positives.keys()
    for key, boxes in positives.items():
        assert_boxes_equal(written[key], boxes)
    for split in ("train", "val"):
        negatives = [key for key, boxes in wanted.items() if not boxes and key.startswith(f"{split}/")]
        kept = [key for key, boxes in written.items() if not boxes and key.startswith(f"{split}/")]
        assert set(kept) <= set(negatives) and len(kept) == int(len(negatives) * 0.5 + 0.5), split
    categories = json.loads((out / "annotations" / "instances_train.json").read_text())["categories"]
    assert [(c["id"], c["name"]) for c in categories] == [(1, "line"), (2, "inclusion")]
    manifest = json.loads((out / "convert.json").read_text())
    assert {row["name"]: (row["to"], row["output_id"]) for row in manifest["class_map"]} == {
        "scratch": ("line", 1),
        "spot": (None, None),
        "crack": ("line", 1),
        "inclusion": ("inclusion", 2),
    }


# --- Merging ----------------------------------------------------------------------------------------------


def test_merge_call_writes_the_shared_train_split_once(workdir: Path) -> None:
    write_coco_train_split(workdir / "data" / "coco")
    namespace: dict[str, Any] = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(compile(rooted(python_block("bboxaug.merge("), workdir), "README.md", "exec"), namespace)

    merged = namespace["merged"]
    train = sorted(name for name, image in sample().items() if image.split == "train")
    assert sorted(d["duplicate"] for d in merged.record["duplicates"]) == [f"train/{name}" for name in train]
    assert printed.getvalue().startswith("{'image': 'train/")
    written = coco_boxes(workdir / "out" / "merged")
    assert written.keys() == {f"{image.split}/{name}" for name, image in sample().items()}
    for name, image in sample().items():
        assert_boxes_equal(written[f"{image.split}/{name}"], image.boxes)


# --- Augmenting -------------------------------------------------------------------------------------------


def test_augment_call_writes_the_copies_its_manifest_lists(workdir: Path) -> None:
    asked = keywords(inline_code("bboxaug.augment("))
    result = run_inline("bboxaug.augment(", workdir)
    copies = asked["copies"]
    out = workdir / "out" / "aug"
    manifest = json.loads((out / "augment.json").read_text())
    assert (manifest["copies"], manifest["seed"]) == (copies, asked["seed"])
    train = {name: image for name, image in sample().items() if image.split == "train"}
    expected_copies = {
        (f"train/{Path(name).stem}_aug{k}.jpg", f"train/{name}", k) for name in train for k in range(1, copies + 1)
    }
    # README: "N copies of every image of the train split"
    assert manifest["augmented_splits"] == ["train"]
    assert {(entry["image"], entry["source"], entry["copy"]) for entry in manifest["outputs"]} == expected_copies
    written = written_voc(out)
    assert len(written) == result.counts["images"] == len(sample()) + len(train) * copies
    assert len(list((out / "JPEGImages").iterdir())) == len(written)
    for name, image in sample().items():
        assert written[name] == (image.split, sorted(image.boxes))  # the originals as they were
        if image.split != "train":
            assert not any(other.startswith(f"{Path(name).stem}_aug") for other in written)
            continue
        for k in range(1, copies + 1):
            split, boxes = written[f"{Path(name).stem}_aug{k}.jpg"]
            assert split == image.split
            assert set(class_counts(boxes)) <= set(class_counts(image.boxes))  # no object invented
            width, height = image.size
            assert all(0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height for _, x1, y1, x2, y2 in boxes)


# --- Balancing --------------------------------------------------------------------------------------------


def test_balance_call_evens_out_the_train_split(workdir: Path) -> None:
    run_inline("bboxaug.balance.balance(", workdir)
    out = workdir / "out" / "bal"
    before = Counter()
    for image in sample().values():
        if image.split == "train":
            before += class_counts(image.boxes)
    # README: "On samples/defects (train split, 61/30/16/5, ratio 12.2)"
    stated = [int(n) for n in re.search(r"train split, (\d+)/(\d+)/(\d+)/(\d+)", README).groups()]
    assert [before[name] for name in sample_classes()] == stated
    after = Counter()
    for split, boxes in written_voc(out).values():
        if split == "train":
            after += class_counts(boxes)
    report = json.loads((out / "balance.json").read_text())["balance"]["splits"]
    assert [split["split"] for split in report] == ["train"]
    assert {row["name"]: (row["before"], row["after"]) for row in report[0]["classes"]} == {
        name: (before[name], after[name]) for name in sample_classes()
    }
    # README: "with --paste the plan reaches 1.0, and the images written measure 1.03"
    assert max(after.values()) / min(after.values()) < 1.1 < max(before.values()) / min(before.values())
    val = {name: boxes for name, (split, boxes) in written_voc(out).items() if split == "val"}
    assert val == {name: sorted(image.boxes) for name, image in sample().items() if image.split == "val"}
    with Image.open(out / "balance.png") as chart:
        assert chart.format == "PNG"


# --- Looking at a dataset ---------------------------------------------------------------------------------


def test_stats_call_counts_the_sample() -> None:
    stats = run_inline("bboxaug.stats.compute_stats(", dataset=bboxaug.load(SAMPLE))
    images = sample().values()
    assert stats["images"] == len(images) == 48
    assert stats["boxes"] == sum(len(image.boxes) for image in images)
    assert stats["negatives"] == sum(not image.boxes for image in images)
    assert stats["classes"] == {
        name: {
            "images": sum(any(box[0] == name for box in image.boxes) for image in images),
            "boxes": sum(class_counts(image.boxes)[name] for image in images),
        }
        for name in sample_classes()
    }
    assert {split: section["images"] for split, section in stats["splits"].items()} == Counter(
        image.split for image in images
    )


def test_validate_call_finds_a_planted_problem_and_nothing_on_the_sample(workdir: Path) -> None:
    assert run_inline("bboxaug.validate.validate(", src=SAMPLE) == []
    broken = workdir / "data" / "voc"
    xml = broken / "Annotations" / "defect_0001.xml"
    xml.write_text(re.sub(r"<xmax>\d+</xmax>", "<xmax>400</xmax>", xml.read_text(), count=1))  # the image is 320 wide
    findings = run_inline("bboxaug.validate.validate(", src=str(broken))
    assert [(f.code, f.severity, f.image) for f in findings] == [("out_of_bounds", "error", "train/defect_0001.jpg")]


def test_preview_call_draws_a_grid_of_nine() -> None:
    sheet = run_inline("bboxaug.preview.render_preview(", dataset=bboxaug.load(SAMPLE))
    cell = int(re.search(r"--cell (\d+)", README).group(1))  # the default cell size the README shows
    assert isinstance(sheet, Image.Image)
    assert 3 * cell <= sheet.width < 4 * cell and 3 * cell <= sheet.height < 4 * cell  # three by three
    assert len(sheet.getcolors(maxcolors=1 << 20) or []) > 100  # pictures, not an empty canvas


# --- Tiling and resizing ----------------------------------------------------------------------------------


def test_tile_to_source_maps_tile_boxes_back_by_the_offset(workdir: Path) -> None:
    out = workdir / "out" / "tiles"
    bboxaug.tile.tile(workdir / "data" / "voc", out, size=160, partial="keep", to="coco")
    manifest = json.loads((out / "tiles.json").read_text())
    written = coco_boxes(out)
    assert len(manifest["tiles"]) == len(written) > len(sample())
    for entry in manifest["tiles"]:
        tile_boxes = written[entry["image"]]
        xyxy = np.array([box[1:] for box in tile_boxes]).reshape(-1, 4)
        mapped = run_inline("bboxaug.tile.tile_to_source(", xyxy=xyxy, entry=entry)
        (left, top), (width, height) = entry["offset"], entry["size"]
        source = sample()[entry["source"].split("/", 1)[1]]
        # Under --partial keep a tile holds every source box that reaches into it, cut to the tile.
        wanted = [
            (name, max(x1, left), max(y1, top), min(x2, left + width), min(y2, top + height))
            for name, x1, y1, x2, y2 in source.boxes
            if min(x2, left + width) > max(x1, left) and min(y2, top + height) > max(y1, top)
        ]
        assert_boxes_equal([(box[0], *row) for box, row in zip(tile_boxes, mapped.tolist(), strict=True)], wanted)


def test_resized_to_source_maps_resized_boxes_back(workdir: Path) -> None:
    resized_to_source = run_inline("bboxaug.resize.resized_to_source")
    bboxaug.resize.resize(workdir / "data" / "voc", workdir / "out" / "resized", sizes="100", to="coco")
    out = workdir / "out" / "resized" / "100"
    manifest = json.loads((out / "resize.json").read_text())
    written = coco_boxes(out)
    assert len(manifest["outputs"]) == len(written) == len(sample())
    for entry in manifest["outputs"]:
        source = sample()[entry["source"].split("/", 1)[1]]
        resized = written[entry["image"]]
        mapped = resized_to_source(
            np.array([box[1:] for box in resized]).reshape(-1, 4), entry["scale"], entry["padding"]
        )
        back = [(box[0], *row) for box, row in zip(resized, mapped.tolist(), strict=True)]
        assert len(back) == len(source.boxes) - entry["tiny_boxes_dropped"]
        for box in back:  # each box comes back onto the source box it was made from
            assert any(box[0] == wanted[0] and np.allclose(box[1:], wanted[1:], atol=1e-4) for wanted in source.boxes)


# --- Running on a Dask cluster ----------------------------------------------------------------------------


def quiet_settings_stated() -> dict[str, str]:
    """The settings README's "Quiet settings" paragraph lists."""
    paragraph = README.split("**Quiet settings", 1)[1].split("returns them", 1)[0]
    return dict(re.findall(r"(DASK_DISTRIBUTED__\w+)=([^\s`]+)", paragraph))


def test_quiet_environment_returns_the_settings_the_readme_lists() -> None:
    assert run_inline("bboxaug.cluster.quiet_environment(") == quiet_settings_stated()


def test_use_scheduler_is_a_context_manager_factory(tmp_path: Path) -> None:
    statement = ast.parse(inline_code("with bboxaug.cluster.use_scheduler(")).body[0]
    assert isinstance(statement, ast.With)
    call = ast.unparse(statement.items[0].context_expr)
    manager = eval(call, {"bboxaug": bboxaug, "src": tmp_path / "in", "dst": tmp_path / "out"})
    assert isinstance(manager, contextlib.AbstractContextManager)  # made, not entered: no cluster is contacted


def test_slurm_example_builds_its_job_prologue() -> None:
    block = ast.parse(python_block("SLURMCluster"))
    ours = [
        node
        for node in block.body
        if (isinstance(node, (ast.Import, ast.ImportFrom)) and "bboxaug" in ast.unparse(node))
        or (isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "quiet")
    ]
    namespace: dict[str, Any] = {}
    exec(compile(ast.Module(body=ours, type_ignores=[]), "README.md", "exec"), namespace)
    assert sorted(namespace["quiet"]) == sorted(
        f"export {name}={value}" for name, value in quiet_settings_stated().items()
    )


def test_preprocess_at_inference_gives_the_bytes_the_run_wrote(workdir: Path) -> None:
    import cv2

    steps = re.search(r"convert samples/defects out/pre --to yolo --preprocess '([^']+)'", README)
    assert steps, "README.md no longer shows the pre-processing run on the sample"
    bboxaug.convert(workdir / "data" / "voc", workdir / "out" / "pre", to="yolo", preprocess=steps[1])
    name = sorted(sample())[0]
    shutil.copyfile(SAMPLE / "JPEGImages" / name, workdir / "data" / "frame.jpg")
    namespace: dict[str, Any] = {}
    exec(compile(rooted(python_block("bboxaug.preprocess("), workdir), "README.md", "exec"), namespace)
    ready = namespace["ready"]
    split = sample()[name].split
    written = (workdir / "out" / "pre" / "images" / split / name).read_bytes()
    assert cv2.imencode(".jpg", ready, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes() == written
    # 320x240 cropped to 320x200 from y = 20, letterboxed to 256: scale 0.8, 48 px of padding above
    assert namespace["on_frame"].tolist() == [[12.5, 20.0, 62.5, 35.0]]
