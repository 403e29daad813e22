"""Where a COCO dataset's files are: which JSON files hold which split, and where each split's images are."""

from __future__ import annotations

import re
from pathlib import Path

from bboxaug.formats.layout import DEFAULT_SPLIT

ROBOFLOW_FILE = "_annotations.coco.json"


#: COCO's own file prefixes (`instances_train2017.json`): what follows one is the split name.
TASK_PREFIXES = ("instances_", "person_keypoints_", "stuff_", "labels_", "captions_", "panoptic_", "image_info_")


_PEEK_BYTES = 64 * 1024


_DETECT_FILES = 10


_KEY = re.compile(rb'"(?:images|annotations)"\s*:\s*\[')


def split_name(path: Path) -> str:
    """The split a file holds: Roboflow's `<split>/_annotations.coco.json` and `instances_<split>.json` (or
    another COCO task prefix) name it; any other file is a split named by its stem."""
    if path.name == ROBOFLOW_FILE:
        return path.parent.name or DEFAULT_SPLIT
    prefix = next((p for p in TASK_PREFIXES if path.stem.startswith(p) and len(path.stem) > len(p)), "")
    return path.stem[len(prefix) :]


def looks_like_coco(path: Path) -> bool:
    """Cheap check: a JSON object whose first or last 64 KB holds an `"images"` or `"annotations"` list (so a
    summary like bboxaug's own `convert.json`, with `"images": 29`, is not taken for COCO)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_PEEK_BYTES)
            handle.seek(max(len(head), handle.seek(0, 2) - _PEEK_BYTES))
            tail = handle.read()
    except OSError:
        return False
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") and bool(_KEY.search(head) or _KEY.search(tail))


def annotation_files(src: Path, *, peek_limit: int | None = None) -> list[Path]:
    """The COCO files of `src`, by the first layout that matches: `src` itself; `annotations/*.json` (only the
    `instances_*.json` ones when there are any); `<split>/_annotations.coco.json` (Roboflow); `src` being one
    Roboflow split folder; the COCO-looking `*.json` in `src` (the first `peek_limit` looked at)."""
    if src.is_file():
        return [src]
    annotations = sorted((src / "annotations").glob("*.json"))
    instances = [path for path in annotations if path.name.startswith("instances_")]
    if instances or annotations:
        return instances or annotations
    roboflow = sorted(src.glob(f"*/{ROBOFLOW_FILE}"))
    if roboflow:
        return roboflow
    if (src / ROBOFLOW_FILE).is_file():
        return [src / ROBOFLOW_FILE]
    return [path for path in sorted(src.glob("*.json"))[:peek_limit] if looks_like_coco(path)]


def image_folder(json_path: Path, split: str, image_dir: Path | None = None) -> Path | None:
    """Where a split's images are: `image_dir/<split>/` or `image_dir` when given; else, under the dataset root,
    `images/<split>/`, `<split>/`, `<split>2017/`, `images/`, then the JSON file's own folder."""
    if image_dir is not None:
        candidates = [image_dir / split, image_dir]
    else:
        nested = json_path.parent.name == "annotations" or json_path.name == ROBOFLOW_FILE
        root = json_path.parent.parent if nested else json_path.parent
        candidates = [root / "images" / split, root / split, root / f"{split}2017", root / "images", json_path.parent]
    return next((folder for folder in candidates if folder.is_dir()), None)


def detect(path: Path) -> bool:
    if path.is_file():
        return path.suffix.lower() == ".json" and looks_like_coco(path)
    files = annotation_files(path, peek_limit=_DETECT_FILES) if path.is_dir() else []
    return any(looks_like_coco(file) for file in files[:_DETECT_FILES])
