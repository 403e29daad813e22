"""DOTA oriented boxes: `images/` + `labelTxt/` per split, one text file per image.

Each object line is `x1 y1 x2 y2 x3 y3 x4 y4 class difficult`: four corners in pixels (the model's continuous
coordinates, read as they are), the class name, and 1 for a difficult object (0, or left out, otherwise). The
header lines `imagesource:...` and `gsd:...` are kept with the image and written back by this writer. DOTA
stores no image sizes: they come from the image headers. The contract is formats/dota.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bboxaug.core import codes
from bboxaug.core.errors import AnnotationError, FormatError, ImageError
from bboxaug.core.model import Boxes, Dataset, ImageRecord, name_stem, object_column
from bboxaug.core.oriented import Quad, as_quad, envelope, upright_quad
from bboxaug.core.report import Report
from bboxaug.core.table import TableBuilder, as_table
from bboxaug.formats.base import Format, stem_in_split
from bboxaug.formats.layout import DEFAULT_SPLIT, ImageIndex, classes_from_names, finite_number, posix_relative
from bboxaug.io.files import atomic_write_text
from bboxaug.io.headers import read_header
from bboxaug.io.names import safe_relative_name

LABELS = "labelTxt"

IMAGES = "images"

#: The header keys DOTA writes above the objects, in the order they are written back.
HEADER_KEYS = ("imagesource", "gsd")

#: The class list the writer leaves at the root, so class order and classes without objects survive.
CLASS_FILE = "classes.txt"

#: Files of a class list read when there is no classes.txt (Roboflow's DOTA export has a data.yaml).
YAML_FILES = ("data.yaml", "data.yml")

DETECT_PEEK = 5


@dataclass(frozen=True)
class Objects:
    """One label file: its header values, and per object its corners, class name and difficult flag."""

    header: dict[str, str]
    quads: list[Quad]
    names: list[str]
    difficult: list[bool]


def is_object_line(tokens: Sequence[str]) -> bool:
    """Whether a line's tokens are an object: eight finite corners, a class name that is not a number, and
    maybe the difficult flag."""
    return len(tokens) in (9, 10) and finite_number(tokens[8]) is None and None not in map(finite_number, tokens[:8])


def _header_line(line: str) -> tuple[str, str] | None:
    key, colon, value = line.partition(":")
    return (key.strip(), value.strip()) if colon and key.strip() in HEADER_KEYS else None


def parse_labels(text: str, *, file: object = None) -> Objects:
    """A label file's text; a line that is neither a header nor `x1 ... y4 class [difficult]` is an
    AnnotationError naming the file and line."""
    objects = Objects({}, [], [], [])
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        header = _header_line(line)
        if header is not None:
            objects.header[header[0]] = header[1]
            continue
        tokens = line.split()
        corners = [finite_number(token) for token in tokens[:8]]
        if len(tokens) not in (9, 10) or None in corners:
            raise AnnotationError(
                f"expected `x1 y1 x2 y2 x3 y3 x4 y4 class difficult`, found {line.strip()!r:.80}",
                file=file,
                field=f"line {number}",
            )
        flag = tokens[9] if len(tokens) == 10 else "0"
        if flag not in ("0", "1"):
            raise AnnotationError(f"difficult must be 0 or 1, found {flag!r}", file=file, field=f"line {number}")
        objects.quads.append(as_quad([value for value in corners if value is not None]))
        objects.names.append(tokens[8])
        objects.difficult.append(flag == "1")
    return objects


def _text_number(value: float) -> str:
    """A coordinate with at most 6 decimals and no trailing zeros (`12`, `12.5`, `0.000001`)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_labels(boxes: Boxes, class_names: Sequence[str], header: Mapping[str, Any]) -> str:
    """One image's label file: its header lines, then one line per box (a box without an oriented box is written
    as its upright corners)."""
    lines = [f"{key}:{header[key]}" for key in HEADER_KEYS if key in header]
    difficult = boxes.column("difficult").tolist()
    for quad, box, label, hard in zip(
        boxes.column("obb").tolist(), boxes.xyxy.tolist(), boxes.labels.tolist(), difficult, strict=True
    ):
        corners = " ".join(map(_text_number, upright_quad(box) if quad is None else quad))
        lines.append(f"{corners} {class_names[label]} {int(hard)}")
    return "".join(f"{line}\n" for line in lines)


def _split_roots(root: Path) -> list[tuple[str, Path]]:
    """`(split, folder)` for each folder holding `labelTxt/`: the root itself (split `default`), else each of its
    subfolders, by name."""
    if (root / LABELS).is_dir():
        return [(DEFAULT_SPLIT, root)]
    with os.scandir(root) as entries:  # a folder of many images costs no stat per file
        folders = [Path(entry.path) for entry in entries if entry.is_dir()]
    return sorted((folder.name, folder) for folder in folders if (folder / LABELS).is_dir())


def _declared_classes(root: Path) -> list[str]:
    """The class names of `classes.txt` (one a line), else of a Roboflow `data.yaml`'s `names`, else none."""
    if (root / CLASS_FILE).is_file():
        lines = (root / CLASS_FILE).read_text(encoding="utf-8-sig").splitlines()
        return [line.strip() for line in lines if line.strip()]
    for name in YAML_FILES:
        if (root / name).is_file():
            try:
                names = (yaml.safe_load((root / name).read_text(encoding="utf-8-sig")) or {}).get("names")
            except (yaml.YAMLError, AttributeError):
                raise FormatError("unreadable data.yaml", file=root / name) from None
            if isinstance(names, dict):
                return [str(names[key]) for key in sorted(names)]
            if isinstance(names, list):
                return [str(value) for value in names]
    return []


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise AnnotationError(f"unreadable label file ({error})", file=path) from None


def read(src: Path, *, report: Report, image_dir: Path | None = None, jobs: int = 1) -> Dataset:
    """Every image of every split with the objects of its label file (an image without one is a negative); a label
    file without an image is skipped as an error (its image size is unknown). `image_dir` and `jobs` are unused:
    the layout says where the images are, and the files are read in this process."""
    root = Path(src)
    if not root.is_dir():
        raise FormatError("expected a DOTA folder holding labelTxt/ (or split folders that do)", file=root)
    splits = _split_roots(root)
    if not splits:
        raise FormatError("no labelTxt/ folder found, here or in a split folder", file=root)
    class_positions: dict[str, int] = {name: k for k, name in enumerate(_declared_classes(root))}
    builder = TableBuilder()
    for split, folder in splits:
        index = ImageIndex(folder / IMAGES)
        labels = sorted((folder / LABELS).rglob("*.txt"))
        stems = {posix_relative(path, folder / LABELS)[: -len(".txt")] for path in labels}
        for label in labels:
            with report.item():
                stem = posix_relative(label, folder / LABELS)[: -len(".txt")]
                image = index.find(stem)
                if image is None:
                    raise ImageError("no image for this label file", file=label, code=codes.MISSING_IMAGE)
                name = safe_relative_name(posix_relative(image, folder / IMAGES), file=label, field="name")
                objects = parse_labels(_read_text(label), file=label)
                header = read_header(image)
                builder.add(
                    ImageRecord(
                        name,
                        split,
                        header.width,
                        header.height,
                        _boxes(objects, class_positions),
                        source=image,
                        attributes=dict(objects.header),
                    )
                )
        for image in index.paths():
            relative = posix_relative(image, folder / IMAGES)
            if name_stem(relative) not in stems:
                header = read_header(image)
                builder.add(ImageRecord(relative, split, header.width, header.height, source=image))
    classes = classes_from_names([], class_positions)
    return Dataset(classes, builder.build())


def _boxes(objects: Objects, class_positions: dict[str, int]) -> Boxes:
    if not objects.quads:
        return Boxes.empty()
    labels = [class_positions.setdefault(name, len(class_positions)) for name in objects.names]
    return Boxes(
        [envelope(quad) for quad in objects.quads],
        labels,
        {"obb": object_column(objects.quads), "difficult": objects.difficult},
    )


def image_path(split: str, name: str) -> str:
    return f"{IMAGES}/{name}" if split == DEFAULT_SPLIT else f"{split}/{IMAGES}/{name}"


def label_path(split: str, name: str) -> str:
    return f"{LABELS}/{name_stem(name)}.txt" if split == DEFAULT_SPLIT else f"{split}/{LABELS}/{name_stem(name)}.txt"


def write(dataset: Dataset, dst: Path, *, report: Report, jobs: int = 1) -> None:
    """`classes.txt`, and a label file for every image at `label_path` (a negative gets its header lines only);
    images are placed by the caller at `image_path`. In this process: `jobs` is unused."""
    names = dataset.class_names
    atomic_write_text(Path(dst) / CLASS_FILE, "".join(f"{name}\n" for name in names))
    for image in as_table(dataset.images):
        target = Path(dst) / label_path(image.split, image.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, format_labels(image.boxes, names, image.attributes))


def _looks_like_dota(folder: Path) -> bool:
    """The first non-empty line of one of the first few label files is a DOTA header or object line."""
    for count, path in enumerate(sorted(folder.rglob("*.txt"))):
        if count == DETECT_PEEK:
            break
        try:
            lines = [line for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError):
            continue
        if not lines:
            continue
        tokens = lines[0].split()
        return _header_line(lines[0]) is not None or is_object_line(tokens)
    return False


def detect(path: Path) -> bool:
    """A folder holding `labelTxt/` (itself or a split folder) whose label lines are DOTA's."""
    return path.is_dir() and any(_looks_like_dota(folder / LABELS) for _, folder in _split_roots(path))


def tolerance(image: ImageRecord) -> float:
    """Pixels a coordinate may move in one write and read: corners are written with 6 decimals."""
    return 0.5e-6 + 1e-9


FORMAT = Format(
    name="dota",
    description="DOTA oriented boxes: images/ + labelTxt/ per split, x1 y1 ... x4 y4 class difficult",
    read=read,
    write=write,
    detect=detect,
    image_path=image_path,
    annotation_key=stem_in_split,
    tolerance=tolerance,
    keeps_oriented=True,
)
