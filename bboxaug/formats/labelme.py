"""Labelme JSON: one JSON file beside each image, shapes in continuous pixel coordinates.

Labelme turns a click into image coordinates by undoing the view's zoom and offset only, with the image's
top-left corner at (0, 0): the model's convention, so points are read as they are. A shape with an area becomes
one box: a rectangle's corners (either order), the envelope of a polygon, centre ± radius of a circle, the tight
bounds of a mask's set pixels. Shapes without area (point, line, linestrip) and unknown types are skipped and
counted. The contract for people is formats/labelme.md.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import os
import posixpath
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from bboxaug.core import codes
from bboxaug.core.errors import AnnotationError, FormatError
from bboxaug.core.model import Boxes, Dataset, EmbeddedImage, ImageRecord, object_column
from bboxaug.core.oriented import Quad, as_quad, corners_of
from bboxaug.core.report import Report
from bboxaug.core.table import TableBuilder
from bboxaug.formats.base import Format, stem_in_split
from bboxaug.formats.layout import DEFAULT_SPLIT, ImageIndex, classes_from_names, compact_number, split_folders
from bboxaug.io.files import atomic_write_text
from bboxaug.io.headers import IMAGE_EXTENSIONS, header_of, read_header
from bboxaug.io.masks import encode_rle
from bboxaug.io.names import safe_relative_name

VERSION = "5.5.0"


LABELS_FILE = "labels.txt"


#: Labelme's own scripts (labelme2voc, labelme2coco) expect these two lines first in labels.txt.
LABELS_HEADER = ("__ignore__", "_background_")


DOCUMENT_KEYS = ("version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth")


SHAPE_KEYS = ("label", "points", "group_id", "description", "shape_type", "flags", "mask")


#: Shape types read as boxes, and the fewest points each needs (circle and mask need exactly two, oriented boxes
#: exactly four).
BOX_TYPES = {"rectangle": 2, "polygon": 3, "oriented_rectangle": 4, "rotation": 4, "circle": 2, "mask": 2}


#: Shape types that are oriented boxes: Labelme's `oriented_rectangle` (what the writer gives) and X-AnyLabeling's
#: `rotation`, both four corners.
ORIENTED_TYPES = ("oriented_rectangle", "rotation")


CIRCLE_VERTICES = 32


TOLERANCE = 1e-6


DETECT_PEEK = 5


PEEK_BYTES = 1 << 16


@dataclass(frozen=True)
class Shape:
    """One Labelme shape read as a box, with what a Labelme writer needs to give the shape back."""

    label: str
    xyxy: tuple[float, float, float, float]
    segmentation: list[list[float]] | dict[str, Any] | None
    attributes: dict[str, Any]
    shape: dict[str, Any]
    obb: Quad | None = None


def parse_points(raw: Any, shape_type: str, *, file: object, field: str) -> np.ndarray:
    """A shape's `points` as an (N, 2) float array, checked against what its type needs."""
    valid = isinstance(raw, list) and all(
        isinstance(point, list)
        and len(point) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in point)
        for point in raw
    )
    points = np.array(raw, dtype=np.float64).reshape(-1, 2) if valid else None
    if points is None or not np.isfinite(points).all():
        raise AnnotationError(f"expected a list of finite [x, y] pairs, found {raw!r:.80}", file=file, field=field)
    need = BOX_TYPES[shape_type]
    exact = shape_type in ("circle", "mask", *ORIENTED_TYPES)
    if len(points) < need or (exact and len(points) != need):
        raise AnnotationError(
            f"a {shape_type} needs {'' if exact else 'at least '}{need} points, found {len(points)}",
            file=file,
            field=field,
        )
    return points


def decode_mask(text: Any, *, file: object, field: str) -> np.ndarray:
    """A mask shape's base64 PNG as a boolean array (True where a pixel is set)."""
    try:
        if not isinstance(text, str):
            raise ValueError(f"expected a base64 string, found {type(text).__name__}")
        with Image.open(io.BytesIO(base64.b64decode(text))) as image:
            array = np.asarray(image)
    except (binascii.Error, ValueError, OSError, UnidentifiedImageError) as error:
        raise AnnotationError(f"mask is not a base64-encoded image ({error})", file=file, field=field) from None
    return (array.any(axis=2) if array.ndim == 3 else array) != 0


def mask_origin(points: np.ndarray) -> tuple[int, int]:
    """The image pixel where a mask's top-left pixel sits: its box's top-left point, rounded as Labelme does."""
    x0, y0 = np.round(points.min(axis=0)).astype(int)
    return int(x0), int(y0)


def circle_polygon(cx: float, cy: float, radius: float) -> list[float]:
    """A flat 32-vertex polygon inscribed in the circle, starting at angle 0 so its envelope is centre ± radius."""
    flat: list[float] = []
    for k in range(CIRCLE_VERTICES):
        angle = math.tau * k / CIRCLE_VERTICES
        flat += [cx + radius * math.cos(angle), cy + radius * math.sin(angle)]
    return flat


def mask_rle(patch: np.ndarray, origin: tuple[int, int], width: int, height: int) -> dict[str, Any]:
    """COCO RLE of the full-size image mask holding `patch` at `origin` (cropped to the image)."""
    full = np.zeros((height, width), dtype=np.uint8, order="F")
    x0, y0 = origin
    top, bottom = max(y0, 0), min(y0 + patch.shape[0], height)
    left, right = max(x0, 0), min(x0 + patch.shape[1], width)
    if top < bottom and left < right:
        full[top:bottom, left:right] = patch[top - y0 : bottom - y0, left - x0 : right - x0]
    return encode_rle(full)


def parse_shape(raw: Any, *, size: tuple[int, int] | None, file: object, field: str) -> Shape | str:
    """One Labelme shape as a box; for a shape with no box, the reason it is skipped (its type, or `empty_mask`)."""
    if not isinstance(raw, dict):
        raise AnnotationError(f"expected a shape object, found {type(raw).__name__}", file=file, field=field)
    shape_type = raw.get("shape_type") or "polygon"  # Labelme 3 wrote no shape_type: every shape was a polygon
    if not isinstance(shape_type, str):
        raise AnnotationError(f"expected a string, found {shape_type!r}", file=file, field=f"{field}.shape_type")
    if shape_type not in BOX_TYPES:
        return shape_type
    label = raw.get("label")
    if not isinstance(label, str) or not label:
        raise AnnotationError(f"expected a non-empty class name, found {label!r}", file=file, field=f"{field}.label")
    points = parse_points(raw.get("points"), shape_type, file=file, field=f"{field}.points")
    segmentation: list[list[float]] | dict[str, Any] | None = None
    obb = as_quad(points) if shape_type in ORIENTED_TYPES else None
    if shape_type == "circle":
        (cx, cy), (px, py) = points.tolist()
        radius = math.hypot(px - cx, py - cy)
        xyxy = (cx - radius, cy - radius, cx + radius, cy + radius)
        segmentation = [circle_polygon(cx, cy, radius)]
    elif shape_type == "mask":
        patch = decode_mask(raw.get("mask"), file=file, field=f"{field}.mask")
        rows, cols = np.nonzero(patch)
        if not len(rows):
            return "empty_mask"
        x0, y0 = mask_origin(points)
        xyxy = (float(x0 + cols.min()), float(y0 + rows.min()), float(x0 + cols.max() + 1), float(y0 + rows.max() + 1))
        segmentation = mask_rle(patch, (x0, y0), *size) if size else None
    else:
        (x1, y1), (x2, y2) = points.min(axis=0).tolist(), points.max(axis=0).tolist()
        xyxy = (x1, y1, x2, y2)
        if shape_type not in ("rectangle", *ORIENTED_TYPES):
            segmentation = [points.ravel().tolist()]
    attributes = {key: value for key, value in raw.items() if key not in ("label", "points", "shape_type", "mask")}
    shape = {"shape_type": shape_type, "points": points.tolist()}
    if shape_type == "mask":
        shape["mask"] = raw["mask"]
    return Shape(label, xyxy, segmentation, attributes, shape, obb)


def declared_size(document: Mapping[str, Any], *, file: object) -> tuple[int, int] | None:
    """`(imageWidth, imageHeight)` when the JSON declares both, else None."""
    size = []
    for key in ("imageWidth", "imageHeight"):
        value = document.get(key)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (isinstance(value, float) and not value.is_integer())
            or value <= 0
        ):
            raise AnnotationError(f"expected a positive whole number of pixels, found {value!r}", file=file, field=key)
        size.append(int(value))
    return size[0], size[1]


def is_labelme(document: Any) -> bool:
    return isinstance(document, dict) and isinstance(document.get("shapes"), list) and "imagePath" in document


def parse_labels(text: str) -> list[str]:
    """Class names from a labels.txt: one per line, blank lines and Labelme's two reserved names left out."""
    return [name for name in (line.strip() for line in text.splitlines()) if name and name not in LABELS_HEADER]


def _same_polygons(a: Any, b: list[list[float]]) -> bool:
    return (
        isinstance(a, list)
        and len(a) == len(b)
        and all(len(p) == len(q) and np.allclose(p, q, rtol=0, atol=TOLERANCE) for p, q in zip(a, b, strict=True))
    )


def stored_shape_fits(stored: Any, xyxy: Sequence[float], segmentation: Any, obb: Any = None) -> bool:
    """Whether the shape kept at read time still describes this box: its box is the box within 1e-6 px and, where
    both are polygons (or oriented boxes), the box's own is still the shape's (a flip can keep a box but move a
    polygon)."""
    if not isinstance(stored, Mapping) or stored.get("shape_type") not in BOX_TYPES:
        return False
    try:
        parsed = parse_shape({"label": "_", **stored}, size=None, file=None, field="shape")
    except AnnotationError:
        return False
    if isinstance(parsed, str) or not np.allclose(parsed.xyxy, xyxy, rtol=0, atol=TOLERANCE):
        return False
    if parsed.obb is None or obb is None:
        if (parsed.obb is None) != (obb is None):
            return False
    elif not np.allclose(parsed.obb, obb, rtol=0, atol=TOLERANCE):
        return False
    return not (
        isinstance(segmentation, list)
        and isinstance(parsed.segmentation, list)
        and not _same_polygons(segmentation, parsed.segmentation)
    )


def format_shape(
    label: str, xyxy: Sequence[float], segmentation: Any, attributes: Any, stored: Any, obb: Any = None
) -> dict[str, Any]:
    """One box as a Labelme shape: the stored shape when it still fits the box, else an `oriented_rectangle` of
    its oriented box's corners, else a rectangle."""
    attributes = attributes if isinstance(attributes, Mapping) else {}
    if stored_shape_fits(stored, xyxy, segmentation, obb):
        shape_type, points, mask = stored["shape_type"], stored["points"], stored.get("mask")
    elif obb is not None:
        shape_type, points, mask = "oriented_rectangle", corners_of(obb).tolist(), None
    else:
        shape_type, points, mask = "rectangle", [xyxy[:2], xyxy[2:]], None
    # Labelme puts a shape's unknown keys first, then its own keys in this order.
    shape = {key: value for key, value in attributes.items() if key not in SHAPE_KEYS}
    shape.update(
        label=label,
        points=[[compact_number(x), compact_number(y)] for x, y in points],
        group_id=attributes.get("group_id"),
        description=attributes.get("description", ""),
        shape_type=shape_type,
        flags=attributes.get("flags", {}),
        mask=mask,
    )
    return shape


def format_document(image: ImageRecord, class_names: Sequence[str]) -> dict[str, Any]:
    """An image's Labelme JSON object; the JSON sits beside the image, so imagePath is the image's file name."""
    boxes = image.boxes
    columns = [boxes.column(name) for name in ("segmentation", "attributes", "shape", "obb")]
    shapes = [
        format_shape(class_names[label], [float(v) for v in xyxy], *(column[row] for column in columns))
        for row, (xyxy, label) in enumerate(zip(boxes.xyxy, boxes.labels, strict=True))
    ]
    document: dict[str, Any] = {
        "version": VERSION,
        "flags": image.attributes.get("flags") or {},
        "shapes": shapes,
        "imagePath": posixpath.basename(image.name),
        "imageData": None,
        "imageHeight": image.height,
        "imageWidth": image.width,
    }
    document.update((key, value) for key, value in image.attributes.items() if key not in DOCUMENT_KEYS)
    return document


def _load_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise AnnotationError(f"unreadable JSON ({error})", file=path) from None


def _relative(path: Path, folder: Path) -> str | None:
    """`path` relative to `folder` with `/` separators, or None when it lies outside. Made from the path's text, as
    pathlib's parts are interned strings (see `bboxaug.io.names.name_parts`) and this is the name a record keeps."""
    relative = os.path.relpath(path, folder)
    outside = relative == os.pardir or relative.startswith(os.pardir + os.sep) or os.path.isabs(relative)
    return None if outside else relative.replace(os.sep, "/")


def locate_image(json_path: Path, image_path: Any, folder: Path, index: ImageIndex) -> tuple[Path | None, str]:
    """The image a JSON names (None if not found) and its record name within the split `folder`.

    imagePath is resolved against the JSON's folder (backslashes and `../` allowed), then looked up by relative
    name, by file name and by the JSON's own name. An image outside the split folder is named after the JSON.
    """
    written = image_path.replace("\\", "/").strip() if isinstance(image_path, str) else ""
    if PurePosixPath(written).name in ("", ".."):  # names a folder, not a file
        written = ""
    candidate = Path(os.path.normpath(json_path.parent / written)) if written else None
    inside = _relative(candidate, folder) if candidate else None
    json_stem = (_relative(json_path, folder) or json_path.name).rsplit(".", 1)[0]  # the JSON lies in `folder`
    found = candidate if candidate and candidate.is_file() else None
    for name in (inside, PurePosixPath(written).name, json_stem):
        if found is None and name:
            found = index.find(name)
    name = (_relative(found, index.folder) or _relative(found, folder)) if found else inside
    suffix = found.suffix if found else PurePosixPath(written).suffix
    return found, name or json_stem + (suffix if suffix.lower() in IMAGE_EXTENSIONS else ".png")


def _image_size(
    declared: tuple[int, int] | None, source: Path | EmbeddedImage | None, *, file: Path, report: Report
) -> tuple[int, int] | None:
    """The declared size, checked against the image file's (EXIF-oriented) header, which wins when they differ."""
    if isinstance(source, Path):
        header = read_header(source)
        actual = (header.width, header.height)
        if declared and declared != actual:
            report.warn(
                file,
                "imageWidth/imageHeight",
                f"declared {declared[0]}x{declared[1]} but the image "
                f"(EXIF-oriented) is {actual[0]}x{actual[1]}; using the image's size",
                codes.SIZE_MISMATCH,
            )
            report.count(codes.SIZE_MISMATCH)
        return actual
    if declared or source is None:
        return declared
    header = header_of(source)
    return header.width, header.height


def _read_file(
    path: Path,
    split: str,
    folder: Path,
    index: ImageIndex,
    classes: dict[str, int],
    seen: dict[tuple[str, str], Path],
    report: Report,
) -> ImageRecord | None:
    """One JSON file as an image record (None for a JSON that is not Labelme's); registers its class names."""
    document = _load_json(path)
    if not is_labelme(document):
        report.warn(path, None, "not a Labelme JSON (no 'shapes' list and 'imagePath'); skipped", codes.NOT_LABELME)
        report.count(codes.NOT_LABELME)
        return None
    found, name = locate_image(path, document["imagePath"], folder, index)
    name = safe_relative_name(name, file=path, field="imagePath")
    if (split, name) in seen:
        raise AnnotationError(
            f"image {name!r} is already annotated by {seen[split, name]}", file=path, field="imagePath"
        )
    source: Path | EmbeddedImage | None = found
    if found is None and isinstance(document.get("imageData"), str) and document["imageData"]:
        source = EmbeddedImage(path)
    size = _image_size(declared_size(document, file=path), source, file=path, report=report)
    if source is None:
        report.warn(
            path, "imagePath", f"image {document['imagePath']!r} not found and no imageData", codes.MISSING_IMAGES
        )
        report.count(codes.MISSING_IMAGES)
    shapes: list[Shape] = []
    for number, raw in enumerate(document["shapes"]):
        parsed = parse_shape(raw, size=size, file=path, field=f"shapes[{number}]")
        if isinstance(parsed, str):
            report.count(codes.member(codes.SKIPPED_SHAPES, parsed))
        else:
            shapes.append(parsed)
    labels = [classes.setdefault(shape.label, len(classes)) for shape in shapes]
    boxes = (
        Boxes(
            np.array([shape.xyxy for shape in shapes]).reshape(-1, 4),
            labels,
            {
                "segmentation": [s.segmentation for s in shapes],
                "attributes": [s.attributes for s in shapes],
                "shape": [s.shape for s in shapes],
                **({"obb": object_column(s.obb for s in shapes)} if any(s.obb for s in shapes) else {}),
            },
        )
        if shapes
        else Boxes.empty()
    )
    attributes = {key: value for key, value in document.items() if key not in DOCUMENT_KEYS[2:]}
    width, height = size if size else (None, None)
    seen[split, name] = path
    return ImageRecord(name, split, width, height, boxes, source, attributes=attributes)


def _json_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.suffix.lower() == ".json" and path.is_file())


def read(src: Path, *, report: Report, image_dir: Path | None = None, jobs: int = 1) -> Dataset:
    """A Labelme JSON file, or a folder of them (split subfolders become splits), as a dataset (read in this
    process: `jobs` is unused)."""
    src = Path(os.path.abspath(src))
    if src.is_file():
        root, splits = src.parent, [(DEFAULT_SPLIT, src.parent, [src])]
    elif src.is_dir():
        root, splits = src, [(split, folder, _json_files(folder)) for split, folder in split_folders(src)]
        split_roots = [folder for _, folder, _ in splits if folder != src]
        outside = [
            p
            for p in _json_files(src)
            if split_roots and not any(_relative(p, f) for f in split_roots) and is_labelme(_peek(p))
        ]
        if outside:
            report.warn(
                src,
                None,
                f"{len(outside)} Labelme JSON file(s) outside the split folders were not read",
                codes.OUTSIDE_SPLITS,
            )
            report.count(codes.OUTSIDE_SPLITS, len(outside))
    else:
        raise FormatError("no such file or folder", file=src)
    labels_file = root / LABELS_FILE
    declared = parse_labels(labels_file.read_text(encoding="utf-8")) if labels_file.is_file() else []
    classes = {name: position for position, name in enumerate(dict.fromkeys(declared))}
    images = TableBuilder()
    seen: dict[tuple[str, str], Path] = {}
    for split, folder, files in splits:
        images_folder = folder
        if image_dir is not None:
            images_folder = Path(os.path.abspath(image_dir))
            images_folder = images_folder / split if (images_folder / split).is_dir() else images_folder
        index = ImageIndex(images_folder)
        for path in files:
            with report.item():
                record = _read_file(path, split, folder, index, classes, seen, report)
                if record is not None:
                    images.add(record)
    return Dataset(classes_from_names(classes), images.build())


def write(dataset: Dataset, dst: Path, *, report: Report, jobs: int = 1) -> None:
    """`<split>/<stem>.json` beside where each image goes, and labels.txt with the class list in order."""
    names = dataset.class_names
    for image in dataset.images:
        path = Path(dst) / image.split / f"{image.stem}.json"
        with report.item():
            try:
                text = json.dumps(format_document(image, names), indent=2, ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError) as error:
                raise AnnotationError(f"cannot be written as JSON ({error})", file=path) from None
            atomic_write_text(path, text + "\n")
    atomic_write_text(Path(dst) / LABELS_FILE, "".join(f"{line}\n" for line in (*LABELS_HEADER, *names)))


def _walk_json(root: Path) -> Iterator[Path]:
    """JSON files below `root`, lazily, folder by folder in sorted order."""
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()
        yield from (Path(folder) / name for name in sorted(files) if name.lower().endswith(".json"))


def _peek(path: Path) -> Any:
    """The document, when its first 64 KiB mention `"shapes"` (Labelme writes it before the large `imageData`);
    None otherwise, so a large COCO file is not parsed just to be told apart."""
    try:
        with open(path, "rb") as handle:
            if b'"shapes"' not in handle.read(PEEK_BYTES):
                return None
        return _load_json(path)
    except (OSError, AnnotationError):
        return None


def detect(path: Path) -> bool:
    """A Labelme JSON file, or a folder whose first few JSON files include one with `shapes` and `imagePath`."""
    path = Path(path)
    if path.is_file():
        return path.suffix.lower() == ".json" and is_labelme(_peek(path))
    if not path.is_dir():
        return False
    for number, file in enumerate(_walk_json(path)):
        if number >= DETECT_PEEK:
            return False
        if is_labelme(_peek(file)):
            return True
    return False


def image_path(split: str, name: str) -> str:
    return f"{split}/{name}"


FORMAT = Format(
    name="labelme",
    description="Labelme JSON beside each image (rectangle, polygon, circle and mask shapes as boxes)",
    read=read,
    write=write,
    detect=detect,
    image_path=image_path,
    annotation_key=stem_in_split,
    tolerance=lambda image: TOLERANCE,
    keeps_crowd=False,
    keeps_oriented=True,
)
