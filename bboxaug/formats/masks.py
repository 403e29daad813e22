"""Pixel masks beside images: each connected component of a class's pixels is one instance.

Read in three layouts: MVTec AD (`train/`, `test/` and `ground_truth/<defect>/NNN_mask.png`; the defect folder is
the class, `good` images are negatives), a flat `images/` + `masks/` pair (a mask `<stem>.png` or
`<stem>_mask.png` per image, optionally under split folders) holding binary masks (one class, `--class`;
foreground is a value of at least `--threshold`), and the same pair with indexed or colour-coded masks named by a
class table (`--mask-classes`, or the `mask_classes.yaml` the writer puts beside them). Pixels become instances in
`bboxaug.formats.mask_pixels`. Written as the flat pair with indexed masks and their class table, so a masks
dataset comes back with the same pixels. The contract for people is formats/masks.md.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Literal, NamedTuple

import cv2
import numpy as np
import yaml
from PIL import Image, UnidentifiedImageError

from bboxaug.core import codes
from bboxaug.core.errors import AnnotationError, BboxaugError, FormatError, UsageError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord, name_stem
from bboxaug.core.report import Report
from bboxaug.core.table import TableBuilder
from bboxaug.formats.base import Format, Reader, ReadOptions, stem_in_split
from bboxaug.formats.layout import split_folders
from bboxaug.formats.mask_pixels import Components, Connectivity, find_instances, paint
from bboxaug.io.files import atomic_write_bytes, atomic_write_text
from bboxaug.io.headers import image_size, is_image_file, read_header
from bboxaug.runtime.parallel import iter_parallel

CLASS_TABLE = "mask_classes.yaml"
IMAGES_DIR = "images"
MASKS_DIR = "masks"
GROUND_TRUTH = "ground_truth"
MVTEC_SPLITS = ("train", "test")
GOOD = "good"
MASK_SUFFIX = "_mask"
MASK_EXTENSION = ".png"
DEFAULT_CLASS = "foreground"
DEFAULT_THRESHOLD = 128
BACKGROUND_COLOUR = "#000000"

#: How far a box may move in a write and read back: shapes are painted as whole pixels, so a box comes back as
#: the pixel bounds of its shape, less than a pixel from any edge.
TOLERANCE = 1.0

DETECT_PEEK = 5

#: Below this many images a read stays in this thread: starting workers would cost more than it saves.
MIN_MASKS_FOR_WORKERS = 64


@dataclass(frozen=True)
class MaskOptions:
    """How masks are read: the class of binary masks, the foreground threshold, a class table file for indexed
    or colour masks, the pixel connectivity of a component, and the fewest pixels an instance has."""

    class_name: str | None = None
    threshold: int = DEFAULT_THRESHOLD
    mask_classes: Path | None = None
    connectivity: Connectivity = 8
    min_area: int = 0

    @classmethod
    def of(cls, options: ReadOptions) -> MaskOptions:
        """The options from their names (`class_name`, `threshold`, `mask_classes`, `connectivity`,
        `min_area`), checked; a wrong name or value is a usage error."""
        unknown = sorted(set(options) - set(cls.__dataclass_fields__))
        if unknown:
            raise UsageError(f"unknown masks reader option(s) {', '.join(unknown)}; known: {', '.join(_OPTIONS)}")
        parsed = cls(**{name: value for name, value in options.items() if value is not None})
        if parsed.class_name is not None and not (isinstance(parsed.class_name, str) and parsed.class_name.strip()):
            raise UsageError(f"--class must be a non-empty name, not {parsed.class_name!r}")
        if not isinstance(parsed.threshold, int) or not 1 <= parsed.threshold <= 65535:
            raise UsageError(f"--threshold must be a whole number from 1 to 65535, not {parsed.threshold!r}")
        if parsed.connectivity not in (4, 8):
            raise UsageError(f"--connectivity must be 4 or 8, not {parsed.connectivity!r}")
        if not isinstance(parsed.min_area, int) or parsed.min_area < 0:
            raise UsageError(f"--min-area must be a whole number of pixels >= 0, not {parsed.min_area!r}")
        if parsed.mask_classes is not None:
            if not isinstance(parsed.mask_classes, str | os.PathLike):
                raise UsageError(f"--mask-classes must name a file, not {parsed.mask_classes!r}")
            return dataclasses.replace(parsed, mask_classes=Path(parsed.mask_classes))
        return parsed


_OPTIONS = tuple(MaskOptions.__dataclass_fields__)


@dataclass(frozen=True)
class ClassTable:
    """A class table: pixel values (`index`) or colours packed as 0xRRGGBB (`colour`), each mapped to a class
    position in `names` (several values may name one class)."""

    kind: Literal["index", "colour"]
    positions: Mapping[int, int]
    names: tuple[str, ...]


def _colour(key: str) -> int | None:
    """`#rrggbb` packed as 0xRRGGBB, or None when `key` is not such a colour."""
    text = key.strip().lower()
    if len(text) == 7 and text[0] == "#" and all(c in "0123456789abcdef" for c in text[1:]):
        return int(text[1:], 16)
    return None


def parse_class_table(data: Any, *, file: object) -> ClassTable:
    """A class table from its YAML document: `value: name` (pixel values) or `"#rrggbb": name` (colours);
    0 and black are background and name no class."""
    if not isinstance(data, dict) or not data:
        raise AnnotationError("expected a mapping of pixel value or '#rrggbb' colour to class name", file=file)
    kinds: set[str] = set()
    positions: dict[int, int] = {}
    names: dict[str, int] = {}
    for key, name in data.items():
        field = str(key)
        if not isinstance(name, str) or not name.strip():
            raise AnnotationError(f"expected a class name, found {name!r}", file=file, field=field)
        if isinstance(key, int) and not isinstance(key, bool) and 0 <= key <= 65535:
            kinds.add("index")
            value = key
        elif isinstance(key, str) and key.strip().isdigit() and int(key) <= 65535:
            kinds.add("index")
            value = int(key)
        elif isinstance(key, str) and _colour(key) is not None:
            kinds.add("colour")
            value = _colour(key) or 0
        else:
            raise AnnotationError("expected a pixel value 0..65535 or a '#rrggbb' colour", file=file, field=field)
        if value == 0:
            continue
        positions[value] = names.setdefault(name.strip(), len(names))
    if len(kinds) > 1:
        raise AnnotationError("mixes pixel values and colours: a table is one or the other", file=file)
    if not positions:
        raise AnnotationError("names no class (0 and black are background)", file=file)
    kind: Literal["index", "colour"] = "colour" if "colour" in kinds else "index"
    return ClassTable(kind, positions, tuple(names))


def read_class_table(path: Path) -> ClassTable:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise AnnotationError(f"unreadable class table ({error})", file=path) from None
    return parse_class_table(data, file=path)


def format_class_table(names: Sequence[str]) -> str:
    """The class table the writer puts beside indexed masks: class position + 1 as the pixel value."""
    return yaml.safe_dump(dict(enumerate(names, start=1)), allow_unicode=True, sort_keys=False)


# --- pixels of one mask ------------------------------------------------------------------------------------


def load_mask(path: Path, *, colour: bool) -> np.ndarray:
    """A mask file's pixels: an (H, W, 3) RGB array when `colour`, else one value per pixel (a palette image's
    indices, a grey or 16-bit image's values, 255 for a 1-bit image's set pixels; an RGB image's brightest
    channel)."""
    try:
        with Image.open(path) as image:
            if colour:
                return np.asarray(image.convert("RGB"))
            if image.mode == "1":  # a 1-bit mask: 0 and 255, as a grey one
                return np.asarray(image.convert("L"))
            if image.mode in ("P", "L", "I;16", "I"):
                return np.asarray(image)
            return np.asarray(image.convert("RGB")).max(axis=2)
    except FileNotFoundError:
        raise AnnotationError("mask file not found", file=path, code=codes.MASK_MISSING) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise AnnotationError(f"unreadable mask ({error})", file=path) from None


def _mapped(raw: np.ndarray, positions: Mapping[int, int]) -> tuple[np.ndarray, bool]:
    """Each pixel's class position + 1 (0 for background and unknown values), and whether any non-zero value was
    not in the table."""
    unique, inverse = np.unique(raw, return_inverse=True)
    lookup = np.array([positions.get(int(value), -1) + 1 for value in unique], dtype=np.int32)
    unknown = bool(np.any((lookup == 0) & (unique != 0)))
    return lookup[inverse.reshape(raw.shape)], unknown


def _indexed(raw: np.ndarray, positions: Mapping[int, int]) -> tuple[np.ndarray, bool]:
    """`_mapped` for pixel values of at most 16 bits, through a lookup table (no sort of the pixels)."""
    if raw.dtype.kind != "u" or raw.dtype.itemsize > 2:
        return _mapped(raw, positions)
    lookup = np.zeros(1 << (8 * raw.dtype.itemsize), dtype=np.int32)
    for value, position in positions.items():
        if value < len(lookup):
            lookup[value] = position + 1
    values = lookup[raw]
    present = np.bincount(raw.ravel(), minlength=len(lookup)) > 0
    return values, bool(np.any(present[1:] & (lookup[1:] == 0)))


def class_values(
    path: Path, table: ClassTable | None, options: MaskOptions, position: int, report: Report
) -> np.ndarray:
    """A mask file as class values (class position + 1; 0 background): through the class table, or, for a
    binary mask, foreground (at least --threshold) as class `position`. Warns of values the table lacks and of
    a binary mask whose values all lie below the threshold."""
    if table is None:
        raw = load_mask(path, colour=False)
        foreground = raw >= options.threshold
        if not foreground.any() and raw.any():
            report.warn(
                path,
                None,
                f"values up to {int(raw.max())}, all below --threshold {options.threshold}: read as background",
                codes.MASK_BELOW_THRESHOLD,
            )
            report.count(codes.MASK_BELOW_THRESHOLD)
        return foreground.astype(np.int32) * (position + 1)
    raw = load_mask(path, colour=table.kind == "colour")
    if table.kind == "colour":
        raw = (raw[..., 0].astype(np.int64) << 16) | (raw[..., 1].astype(np.int64) << 8) | raw[..., 2]
    values, unknown = _mapped(raw, table.positions) if table.kind == "colour" else _indexed(raw, table.positions)
    if unknown:
        report.warn(path, None, "pixel values not in the class table, read as background", codes.MASK_UNKNOWN_VALUES)
        report.count(codes.MASK_UNKNOWN_VALUES)
    return values


def instance_boxes(found: Components) -> Boxes:
    """An image's instances as boxes: the class position, pixel bounds, outline polygon and pixel count."""
    instances = found.instances
    if not instances:
        return Boxes.empty()
    columns = {
        "segmentation": [[instance.polygon] for instance in instances],
        "area": [float(instance.area) for instance in instances],
    }
    return Boxes([i.xyxy for i in instances], [i.value - 1 for i in instances], columns)


# --- layouts ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """An image and its mask (None when it has none); `position` is the class of a binary mask (MVTec: the
    defect folder's), None when a class table names the classes."""

    split: str
    name: str
    image: Path
    mask: Path | None
    position: int | None = None


@dataclass
class Layout:
    """What a folder holds: its image-mask pairs, the class names known before any mask is read, the masks no
    image claims, and whether a defect image (MVTec) must have a mask."""

    pairs: list[Pair]
    classes: list[str]
    orphans: list[Path]
    mvtec: bool


def _files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else []


def is_mvtec(path: Path) -> bool:
    return (path / GROUND_TRUTH).is_dir() and any((path / split).is_dir() for split in MVTEC_SPLITS)


def mvtec_layout(root: Path) -> Layout:
    """MVTec AD: `<split>/<defect>/NNN.png`, with `ground_truth/<defect>/NNN_mask.png` for each defect image;
    the defects are the classes, in name order."""
    splits = [(split, root / split) for split in MVTEC_SPLITS if (root / split).is_dir()]
    defects = sorted(
        {d.name for _, folder in splits for d in folder.iterdir() if d.is_dir() and d.name != GOOD}
        | {d.name for d in (root / GROUND_TRUTH).iterdir() if d.is_dir()}
    )
    position = {name: number for number, name in enumerate(defects)}
    pairs, claimed = [], set()
    for split, folder in splits:
        for defect in sorted(d for d in folder.iterdir() if d.is_dir()):
            for image in (path for path in sorted(defect.iterdir()) if is_image_file(path) and path.is_file()):
                name = f"{defect.name}/{image.name}"
                if defect.name == GOOD:
                    pairs.append(Pair(split, name, image, None))
                    continue
                mask = root / GROUND_TRUTH / defect.name / f"{image.stem}{MASK_SUFFIX}{MASK_EXTENSION}"
                claimed.add(mask)
                pairs.append(Pair(split, name, image, mask, position[defect.name]))
    orphans = [path for path in _files(root / GROUND_TRUTH) if is_image_file(path) and path not in claimed]
    return Layout(pairs, defects, orphans, mvtec=True)


def flat_folders(root: Path) -> list[tuple[str, Path]]:
    """`(split, folder)` for each split folder (or the root) holding `images/` and `masks/`."""
    return [(s, f) for s, f in split_folders(root) if (f / IMAGES_DIR).is_dir() and (f / MASKS_DIR).is_dir()]


def mask_index(masks: Path) -> dict[str, Path]:
    """Each mask file of a folder by the image stem it belongs to (`a/b.png` and `a/b_mask.png` both to `a/b`;
    a mask named exactly after the stem wins)."""
    index: dict[str, Path] = {}
    for path in _files(masks):
        if path.suffix.lower() != MASK_EXTENSION:
            continue
        stem = name_stem(path.relative_to(masks).as_posix())
        if stem.endswith(MASK_SUFFIX):
            index.setdefault(stem[: -len(MASK_SUFFIX)], path)
        else:
            index[stem] = path
    return index


def flat_layout(root: Path, position: int | None, report: Report) -> Layout:
    """`images/` + `masks/` (at the root, or in each split folder), pairing each image with its mask by stem."""
    folders = flat_folders(root)
    if not folders:
        raise FormatError(f"expected {IMAGES_DIR}/ and {MASKS_DIR}/ folders (or MVTec AD's {GROUND_TRUTH}/)", file=root)
    skipped = [f for s, f in split_folders(root) if (s, f) not in folders]
    for folder in skipped:
        report.warn(folder, None, f"split folder without {IMAGES_DIR}/ and {MASKS_DIR}/, not read", codes.MISSING_SPLIT)
    report.count(codes.MISSING_SPLIT, len(skipped))
    pairs, orphans = [], []
    for split, folder in folders:
        images, index = folder / IMAGES_DIR, mask_index(folder / MASKS_DIR)
        claimed = set()
        for image in (path for path in _files(images) if is_image_file(path)):
            name = image.relative_to(images).as_posix()
            mask = index.get(name_stem(name))
            claimed.add(mask)
            pairs.append(Pair(split, name, image, mask, position))
        orphans += [path for path in index.values() if path not in claimed]
    return Layout(pairs, [], sorted(orphans), mvtec=False)


# --- reading ------------------------------------------------------------------------------------------------


def _record(pair: Pair, table: ClassTable | None, options: MaskOptions, mvtec: bool, report: Report) -> ImageRecord:
    """One image and its mask's instances; a mask of another size than its image is an error naming the mask."""
    header = read_header(pair.image)
    width, height = header.width, header.height
    if pair.mask is None:  # an MVTec `good` image, or an image of the flat layout without a mask
        if not mvtec:
            report.warn(pair.image, None, "no mask for this image: read as a negative", codes.IMAGES_WITHOUT_MASK)
            report.count(codes.IMAGES_WITHOUT_MASK)
        return ImageRecord(pair.name, pair.split, width, height, Boxes.empty(), pair.image)
    if not pair.mask.is_file():
        raise AnnotationError(f"defect image {pair.image.name} has no mask", file=pair.mask, code=codes.MASK_MISSING)
    values = class_values(pair.mask, table, options, pair.position or 0, report)
    if values.shape != (height, width):
        raise AnnotationError(
            f"mask is {values.shape[1]}x{values.shape[0]} but its image {pair.image.name} is {width}x{height}",
            file=pair.mask,
            code=codes.MASK_SIZE_MISMATCH,
        )
    found = find_instances(values, options.connectivity, options.min_area)
    report.count(codes.COMPONENTS_DROPPED_MIN_AREA, found.dropped)
    return ImageRecord(pair.name, pair.split, width, height, instance_boxes(found), pair.image)


class _Task(NamedTuple):
    """One image's reading, as a worker gets it."""

    pair: Pair
    table: ClassTable | None
    options: MaskOptions
    mvtec: bool


def _read_task(task: _Task) -> tuple[ImageRecord | BboxaugError, Report]:
    """One image read on a worker: its record or its error, and the warnings and counts reading it made (the
    reader's report takes them in order)."""
    found = Report()
    try:
        return _record(task.pair, task.table, task.options, task.mvtec, found), found
    except BboxaugError as error:
        return error, found


def read_with(
    src: Path, options: MaskOptions, *, report: Report, image_dir: Path | None = None, jobs: int = 1
) -> Dataset:
    """A masks folder (MVTec AD, or `images/` + `masks/`) read with `options`, its masks decoded and labelled
    on `jobs` threads (for `MIN_MASKS_FOR_WORKERS` masks or more: PIL and OpenCV do that work outside Python's
    lock); `image_dir` is refused, as each layout says where its images are."""
    root = Path(os.path.abspath(src))
    if not root.is_dir():
        raise FormatError("expected a folder of images and masks", file=root)
    if image_dir is not None:
        raise UsageError("--image-dir does not apply to the masks format: its layouts say where images are")
    mvtec = is_mvtec(root)
    table_file = options.mask_classes or (root / CLASS_TABLE if (root / CLASS_TABLE).is_file() else None)
    table = None if mvtec or table_file is None else read_class_table(table_file)
    if mvtec and options.mask_classes is not None:
        raise UsageError("--mask-classes does not apply to MVTec AD: its defect folders are the classes")
    if table is not None and options.class_name is not None:
        raise UsageError("--class names the class of binary masks; a class table names the classes here")
    layout = mvtec_layout(root) if mvtec else flat_layout(root, None if table else 0, report)
    if layout.orphans:
        report.warn(
            layout.orphans[0].parent,
            None,
            f"{len(layout.orphans)} mask file(s) without an image, not read (first: {layout.orphans[0].name})",
            codes.MASKS_WITHOUT_IMAGE,
        )
        report.count(codes.MASKS_WITHOUT_IMAGE, len(layout.orphans))
    names = layout.classes if mvtec else list(table.names) if table else [options.class_name or DEFAULT_CLASS]
    images = TableBuilder()
    tasks = [_Task(pair, table, options, mvtec) for pair in layout.pairs]
    results = iter_parallel(_read_task, tasks, jobs=jobs if len(tasks) >= MIN_MASKS_FOR_WORKERS else 1)
    try:
        for record, found in results:
            report.merge(found)
            with report.item():
                if isinstance(record, BboxaugError):
                    raise record
                images.add(record)
    finally:
        results.close()  # stops the workers when a read ends early (a bad mask with on_error="fail")
    return Dataset(tuple(ClassInfo(None, name) for name in names), images.build())


def read(src: Path, *, report: Report, image_dir: Path | None = None, jobs: int = 1) -> Dataset:
    """A masks folder read with the default options (or the class table beside the masks)."""
    return read_with(src, MaskOptions(), report=report, image_dir=image_dir, jobs=jobs)


def configure(options: ReadOptions) -> Reader:
    """The reader with `options` (see `MaskOptions.of`) bound."""
    parsed = MaskOptions.of(options)

    def read_configured(src: Path, *, report: Report, image_dir: Path | None = None, jobs: int = 1) -> Dataset:
        return read_with(src, parsed, report=report, image_dir=image_dir, jobs=jobs)

    return read_configured


# --- writing ------------------------------------------------------------------------------------------------


def _shapes(image: ImageRecord) -> list[tuple[int, Any, Sequence[float]]]:
    """Each box's class value (position + 1), segmentation and box, for `paint`."""
    boxes = image.boxes
    values = (boxes.labels + 1).tolist()
    return list(zip(values, boxes.column("segmentation").tolist(), boxes.xyxy.tolist(), strict=True))


def write(dataset: Dataset, dst: Path, *, report: Report, jobs: int = 1) -> None:
    """`<split>/masks/<stem>.png` for every image (negatives too: all background), each pixel its class position
    + 1 (8-bit, 16-bit past 255 classes), and `mask_classes.yaml` naming the values."""
    names = dataset.class_names
    if len(names) > 65535:
        raise UsageError(f"a mask holds at most 65535 classes, the dataset has {len(names)}")
    dtype = np.uint8 if len(names) <= 255 else np.uint16
    for image in dataset.images:
        path = Path(dst) / image.split / MASKS_DIR / f"{image.stem}{MASK_EXTENSION}"
        with report.item():
            width, height = image_size(image)
            painted = paint(height, width, _shapes(image), dtype)
            report.count(codes.MASK_FILLED_BOXES, painted.filled_boxes)
            report.count(codes.MASK_OVERLAPS, painted.overlaps)
            encoded, data = cv2.imencode(MASK_EXTENSION, painted.values)
            if not encoded:
                raise AnnotationError("the mask could not be encoded as PNG", file=path)
            atomic_write_bytes(path, data.tobytes())
    atomic_write_text(Path(dst) / CLASS_TABLE, format_class_table(names))


# --- detection and the layout's names ----------------------------------------------------------------------


def detect(path: Path) -> bool:
    """A folder in MVTec AD's layout, or with `images/` and `masks/` (at the root or in split folders) whose
    first few mask files are PNG."""
    path = Path(path)
    if not path.is_dir():
        return False
    if is_mvtec(path):
        return True
    for _, folder in flat_folders(path):
        peeked = list(islice(_walk_files(folder / MASKS_DIR), DETECT_PEEK))
        if any(name.lower().endswith(MASK_EXTENSION) for name in peeked):
            return True
    return False


def _walk_files(root: Path) -> Iterator[str]:
    """The names of the files below `root`, lazily, folder by folder in sorted order."""
    for _, subfolders, files in os.walk(root):
        subfolders.sort()
        yield from sorted(files)


def image_path(split: str, name: str) -> str:
    return f"{split}/{IMAGES_DIR}/{name}"


FORMAT = Format(
    name="masks",
    description="Pixel masks beside images (MVTec AD; images/ + masks/, binary, indexed or colour): a box per "
    "connected component",
    read=read,
    write=write,
    detect=detect,
    image_path=image_path,
    annotation_key=stem_in_split,
    tolerance=lambda image: TOLERANCE,
    read_with=configure,
)
