"""Pascal VOC detection XML: one `<annotation>` file per image, boxes as 1-based inclusive integer pixels.

The model's continuous corners are `x1 = xmin - 1, y1 = ymin - 1, x2 = xmax, y2 = ymax`, so a box ending on the
last pixel column (`xmax == width`) has `x2 == width`. Layouts read: `Annotations/` + `JPEGImages/` (+
`ImageSets/Main/<split>.txt`), XML files beside their images (in split folders or not), and XML and images in
sibling folders under other common names. Every policy is written down in formats/voc.md.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice, repeat
from pathlib import Path
from typing import Any, NamedTuple
from xml.etree.ElementTree import XML, Element, TreeBuilder

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from bboxaug.core import codes
from bboxaug.core.errors import AnnotationError, FormatError
from bboxaug.core.model import COLUMN_DEFAULTS, Boxes, Dataset, EmbeddedImage, ImageRecord, name_stem
from bboxaug.core.report import Report
from bboxaug.core.table import TableBuilder
from bboxaug.formats.base import Format
from bboxaug.formats.layout import (
    DEFAULT_SPLIT,
    ImageIndex,
    classes_from_names,
    finite_number,
    posix_relative,
    split_folders,
)
from bboxaug.io.files import write_file
from bboxaug.io.headers import IMAGE_EXTENSIONS, is_image_file, read_header
from bboxaug.io.names import safe_relative_name
from bboxaug.runtime.gcpause import gc_paused
from bboxaug.runtime.parallel import iter_parallel

ANNOTATION_DIRS = ("annotations", "annotation", "xml", "xmls")


IMAGE_DIRS = ("jpegimages", "images", "imgs", "img")


FLAGS = ("truncated", "difficult", "occluded")


#: An id in two split lists stays in the first of these; other lists come after them, alphabetically.
SPLIT_ORDER = ("train", "val", "test")


_FLAG_TEXT = {"0": False, "1": True, "false": False, "true": True, "no": False, "yes": True, "": False}


_CORNERS = ("xmin", "ymin", "xmax", "ymax")


_KNOWN_CHILDREN = frozenset({"name", "bndbox", "pose", *FLAGS})


_ATTRIBUTE_TAG = re.compile(r"(?![Xx][Mm][Ll])[A-Za-z_][A-Za-z0-9_.-]*\Z")


_PEEK = 3


class _Parser(DefusedXMLParser):
    """defusedxml's parser (entity declarations and external references still refused) whose element events go
    straight to the C TreeBuilder. The stock one calls a Python method per element to expand namespace prefixes,
    which VOC does not use; skipping it halves the parse time of a VOC file."""

    def __init__(self) -> None:
        builder = TreeBuilder()
        super().__init__(target=builder)
        self.parser.ordered_attributes = False
        self.parser.StartElementHandler = builder.start
        self.parser.EndElementHandler = builder.end


#: The encoding an XML declaration at the start of a document names.
_DECLARED_ENCODING = re.compile(rb"(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)")


_ASCII_COMPATIBLE = frozenset({b"utf-8", b"utf8", b"us-ascii", b"ascii"})


def has_no_dtd(data: bytes | str) -> bool:
    """Whether expat will certainly find no DTD in `data`, so no entity declaration and no external reference:
    bytes without `<!` (which every DTD starts with), read as ASCII-compatible text (no NUL byte, as UTF-16 and
    UTF-32 have, and no other declared encoding, under which `<!` could be other bytes). Namespace declarations
    are excluded too, as the two parsers name namespaced elements differently."""
    if not isinstance(data, bytes) or b"<!" in data or b"\0" in data or b"xmlns" in data:
        return False
    declared = _DECLARED_ENCODING.match(data)
    return declared is None or declared.group(1).lower() in _ASCII_COMPATIBLE


def parse_xml(data: bytes | str, *, file: object) -> Element:
    """The root element of an XML document, parsed safely (no entities, no external references). A document with
    no DTD has nothing for defusedxml to refuse, so the standard library's C parser reads it, a third faster; any
    other document, and any the C parser rejects (for the same error message), goes to defusedxml."""
    if has_no_dtd(data):
        try:
            return XML(data)
        except ParseError:
            pass
    parser = _Parser()
    try:
        parser.feed(data)
        return parser.close()
    except ParseError as error:
        raise AnnotationError(f"malformed or unsafe XML ({type(error).__name__}: {error})", file=file) from None
    except DefusedXmlException as error:
        raise AnnotationError(
            f"unsafe XML: {_REFUSED.get(type(error).__name__, 'it')} refused, as they can expand without bound or "
            f"read other files ({type(error).__name__}: {error})",
            file=file,
            code=codes.UNSAFE_XML,
        ) from None


#: What defusedxml's refusals refuse, in words.
_REFUSED = {
    "EntitiesForbidden": "entity declarations are",
    "ExternalReferenceForbidden": "external references are",
    "DTDForbidden": "document type declarations are",
}


@dataclass(frozen=True)
class VocAnnotation:
    """What one VOC file says: the image file name, the declared size (None when missing, zero or not a
    positive integer), and the objects in file order as model corners, class names and per-box columns."""

    filename: str | None
    width: int | None
    height: int | None
    names: list[str]
    xyxy: np.ndarray
    columns: dict[str, list[Any]] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


def parse_flag(text: str | None, *, file: object, field: str) -> bool:
    """A VOC 0/1 flag; `true`/`false` and `yes`/`no` (any case) are accepted too; an empty element is 0."""
    value = _FLAG_TEXT.get(text or "")
    if value is None:
        value = _FLAG_TEXT.get(text.strip().lower()) if text else None
        if value is None:
            raise AnnotationError(f"expected 0 or 1, found {text!r}", file=file, field=field)
    return value


def voc_corners(bndbox: Element, *, file: object, field: str) -> list[float]:
    """Model corners `[xmin - 1, ymin - 1, xmax, ymax]` of a `<bndbox>` (integer or float text alike).

    A side with `xmax <= xmin` (or `ymax <= ymin`) as written is read as zero extent at `xmax`: annotation tools
    write equal corners for a click without a drag, so such a box covers nothing and is dropped (and counted)
    as degenerate on conversion, rather than becoming a one-pixel box nobody drew."""
    texts = {child.tag: child.text or "" for child in bndbox}  # an empty element is no number, as "" is not
    try:
        xmin, ymin, xmax, ymax = corners = [float(texts[tag]) for tag in _CORNERS]
        if math.isfinite(sum(corners)):
            return [xmin - 1.0 if xmax > xmin else xmax, ymin - 1.0 if ymax > ymin else ymax, xmax, ymax]
    except (KeyError, TypeError, ValueError):
        pass
    tag = next((tag for tag in _CORNERS if finite_number(texts.get(tag)) is None), _CORNERS[0])
    raise AnnotationError(
        f"expected a number, found {(texts.get(tag) or '').strip()!r}", file=file, field=f"{field}/{tag}"
    )


def _usual_corners(bndbox: Element) -> list[float] | None:
    """`voc_corners` of a `<bndbox>` holding just xmin, ymin, xmax and ymax in that order, as finite numbers (nearly
    every box), read without a dict or an error field; None for any other."""
    try:
        first, second, third, fourth = bndbox
        if (first.tag, second.tag, third.tag, fourth.tag) != _CORNERS:
            return None
        xmin, ymin = float(first.text or ""), float(second.text or "")  # "" (an empty element): ValueError
        xmax, ymax = float(third.text or ""), float(fourth.text or "")
    except (TypeError, ValueError):
        return None
    if not math.isfinite(xmin + ymin + xmax + ymax):
        return None
    return [xmin - 1.0 if xmax > xmin else xmax, ymin - 1.0 if ymax > ymin else ymax, xmax, ymax]


def _positive_int(text: str | None) -> int | None:
    value = finite_number(text)
    return int(value) if value is not None and value.is_integer() and value > 0 else None


def parse_annotation(data: bytes | str, *, file: object) -> VocAnnotation:
    """Parse one VOC XML document. Errors name the file and the field, e.g. `object[2]/bndbox/xmin`."""
    root = parse_xml(data, file=file)
    if root.tag != "annotation":
        raise AnnotationError(f"root element is <{root.tag}>, expected <annotation>", file=file)
    size = root.find("size")
    width = height = None
    if size is not None:
        width, height = _positive_int(size.findtext("width")), _positive_int(size.findtext("height"))
        if width is None or height is None:
            width = height = None
    names: list[str] = []
    corners: list[float] = []  # flat: one list for the file, not one per box
    flags: list[dict[str, bool]] = []
    flagged: set[str] = set()
    attributes: list[dict[str, str] | None] = []
    ignored: list[str] = []
    for number, obj in enumerate(root.findall("object"), 1):
        name, bndbox, flag, extra = None, None, {}, {}
        for child in obj:
            tag = child.tag
            if tag == "name":
                name = (child.text or "").strip()
            elif tag == "bndbox":
                bndbox = child
            elif tag in FLAGS:
                value = _FLAG_TEXT.get(child.text or "")  # the usual 0 or 1, without a call
                flag[tag] = (
                    value if value is not None else parse_flag(child.text, file=file, field=f"object[{number}]/{tag}")
                )
            elif len(child):
                ignored.append(tag)
            else:
                extra[tag] = (child.text or "").strip()
        if extra.get("pose") == "Unspecified":
            del extra["pose"]  # the pose written when none is given: keeping it would add nothing
        if not name:
            raise AnnotationError("missing or empty <name>", file=file, field=f"object[{number}]/name")
        if bndbox is None:
            raise AnnotationError("missing <bndbox>", file=file, field=f"object[{number}]/bndbox")
        corners += _usual_corners(bndbox) or voc_corners(bndbox, file=file, field=f"object[{number}]/bndbox")
        names.append(name)
        flags.append(flag)
        flagged.update(flag)
        attributes.append(extra or None)
    columns: dict[str, list[Any]] = {tag: [flag.get(tag, False) for flag in flags] for tag in FLAGS if tag in flagged}
    if any(attributes):
        columns["attributes"] = attributes
    filename = (root.findtext("filename") or "").strip() or None
    return VocAnnotation(
        filename, width, height, names, np.array(corners, dtype=np.float64).reshape(-1, 4), columns, ignored
    )


def parse_split_list(text: str) -> list[str]:
    """Ids of an `ImageSets/Main` list: the first word of each line; blank lines and `#` comments skipped."""
    return [line.split()[0] for line in map(str.strip, text.splitlines()) if line and not line.startswith("#")]


def parse_labelmap(text: str) -> list[str]:
    """Class names of a Datumaro `labelmap.txt` (`name:color:parts:actions` lines, `#` comments)."""
    return [
        line.split(":", 1)[0].strip() for line in map(str.strip, text.splitlines()) if line and not line.startswith("#")
    ]


LABELMAP_HEADER = "# label:color_rgb:parts:actions"


def palette_colour(index: int) -> tuple[int, int, int]:
    """Colour `index` of the Pascal VOC palette (0 is the background's black, 1 is 128,0,0, 2 is 0,128,0): the
    index's bits, three at a time (red, green, blue), fill each channel from its highest bit down."""
    rgb = [0, 0, 0]
    for bit in range(7, -1, -1):
        for channel in range(3):
            rgb[channel] |= ((index >> channel) & 1) << bit
        index >>= 3
    return rgb[0], rgb[1], rgb[2]


def labelmap_refuses(name: str) -> bool:
    """Whether a class name cannot be a `labelmap.txt` entry: its fields are split at `:`, and `#` starts a
    comment."""
    return ":" in name or name.lstrip().startswith("#")


def format_labelmap(class_names: Sequence[str]) -> str:
    """A Datumaro `labelmap.txt` (`name:r,g,b:parts:actions`): each class with a VOC palette colour from index 1,
    as index 0 (black) is the background of VOC masks; no parts, no actions."""
    lines = [LABELMAP_HEADER]
    lines += [f"{name}:{','.join(map(str, palette_colour(k)))}::" for k, name in enumerate(class_names, start=1)]
    return "".join(f"{line}\n" for line in lines)


def parse_class_names(text: str) -> list[str]:
    """Class names of a `classes.txt`: one per line, blank lines skipped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def main_lists(stems: Sequence[str]) -> list[str]:
    """The split lists among `ImageSets/Main` file stems. `<class>_<split>` (`cat_train` beside `train`) is a
    per-class presence list, not a split."""
    names = set(stems)
    return sorted(s for s in names if not any(s.endswith(f"_{other}") for other in names if other != s))


def _priority(split: str) -> tuple[int, str]:
    return (SPLIT_ORDER.index(split) if split in SPLIT_ORDER else len(SPLIT_ORDER), split)


def resolve_splits(lists: Mapping[str, Sequence[str]]) -> tuple[dict[str, str], list[str], Counter[tuple[str, str]]]:
    """One split per listed id. A list that is exactly the union of the lists it strictly contains (`trainval` =
    `train` + `val`) is ignored; an id left in two lists goes to the first by `SPLIT_ORDER`, then alphabetical.
    Returns the assignment, the ignored lists, and how many ids each (kept, dropped) pair of lists shared."""
    sets = {name: set(ids) for name, ids in lists.items()}
    ignored = sorted(
        name
        for name, ids in sets.items()
        if (parts := [other for key, other in sets.items() if key != name and other < ids])
        and set().union(*parts) == ids
    )
    assignment: dict[str, str] = {}
    shared: Counter[tuple[str, str]] = Counter()
    for split in sorted((name for name in lists if name not in ignored), key=_priority):
        for item in dict.fromkeys(lists[split]):
            kept = assignment.setdefault(item, split)
            if kept != split:
                shared[(kept, split)] += 1
    return assignment, ignored, shared


_HEAD = (
    "<annotation>\n\t<folder>JPEGImages</folder>\n\t<filename>%s</filename>\n\t<size>\n\t\t<width>%d</width>\n"
    "\t\t<height>%d</height>\n\t\t<depth>3</depth>\n\t</size>\n\t<segmented>0</segmented>\n"
)


_OBJECT = (
    "\t<object>\n\t\t<name>%s</name>\n\t\t<pose>%s</pose>\n\t\t<truncated>%d</truncated>\n"
    "\t\t<difficult>%d</difficult>\n%s\t\t<bndbox>\n\t\t\t<xmin>%d</xmin>\n\t\t\t<ymin>%d</ymin>\n"
    "\t\t\t<xmax>%d</xmax>\n\t\t\t<ymax>%d</ymax>\n\t\t</bndbox>\n\t</object>\n"
)


_TAIL = "</annotation>\n"


_OCCLUDED = {False: "\t\t<occluded>0</occluded>\n", True: "\t\t<occluded>1</occluded>\n"}


_TO_VOC = np.array([1, 1, 0, 0], dtype=np.int64)


def voc_integers(xyxy: np.ndarray) -> np.ndarray:
    """VOC `xmin, ymin, xmax, ymax` of model corners: `round(x1) + 1, round(y1) + 1, round(x2), round(y2)`.

    A side one pixel long would come out with equal corners, which reads back as nothing (see `voc_corners`), so
    it is written two pixels long instead: VOC cannot hold a box narrower than 2 px. (A side of no length comes
    out with `xmax < xmin`, which reads back as no length, as it should.)"""
    corners = np.rint(np.asarray(xyxy, dtype=np.float64)).astype(np.int64).reshape(-1, 4) + _TO_VOC
    low, high = corners[:, :2], corners[:, 2:]
    corners[:, 2:] = np.where(high == low, low + 1, high)
    return corners


def escape(text: str) -> str:
    """`&`, `<` and `>` as entities, as `xml.sax.saxutils.escape` does; that module imports `urllib`, which would
    add 40 ms to the start of every process that reads VOC, worker processes included."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@lru_cache(maxsize=4096, typed=True)
def _text(value: str | int | float) -> str:
    return escape(str(int(value)) if isinstance(value, bool) else str(value))


def _object_extras(attributes: object) -> tuple[str, str]:
    """The `<pose>` text of one box's attributes, and the rest as simple elements (scalar values under plain
    XML names; anything else is not written)."""
    if not attributes or not isinstance(attributes, Mapping):
        return "Unspecified", ""
    pose = attributes.get("pose", "Unspecified")
    pose = _text(pose) if isinstance(pose, (str, int, float)) else "Unspecified"
    if len(attributes) == 1 and "pose" in attributes:
        return pose, ""
    return pose, "".join(
        f"\t\t<{key}>{_text(value)}</{key}>\n"
        for key, value in attributes.items()
        if isinstance(key, str)
        and key not in _KNOWN_CHILDREN
        and _ATTRIBUTE_TAG.match(key)
        and isinstance(value, (str, int, float))
    )


def format_annotation(image: ImageRecord, class_names: Sequence[str], corners: list[int] | None = None) -> str:
    """The VOC XML of one image (tab-indented, deterministic). `class_names` are XML-escaped already; `corners`
    are the boxes' `voc_integers` as one flat list, when the caller computed them for many images at once."""
    boxes = image.boxes
    head = _HEAD % (escape(image.name.rpartition("/")[2]), image.width, image.height)
    if not len(boxes):
        return head + _TAIL
    columns = boxes.columns
    flat = iter(voc_integers(boxes.xyxy).ravel().tolist() if corners is None else corners)
    labels = boxes.labels.tolist()
    truncated, difficult = (
        columns[key].tolist() if key in columns else repeat(False) for key in ("truncated", "difficult")
    )
    parts = [head]
    if "occluded" not in columns and "attributes" not in columns:
        parts += [
            _OBJECT % (class_names[label], "Unspecified", trunc, diff, "", x1, y1, x2, y2)
            for label, trunc, diff, x1, y1, x2, y2 in zip(
                labels, truncated, difficult, flat, flat, flat, flat, strict=False
            )
        ]  # repeat() is endless
    else:
        occluded, attributes = (
            columns[key].tolist() if key in columns else repeat(None) for key in ("occluded", "attributes")
        )
        for label, trunc, diff, occl, attrs, x1, y1, x2, y2 in zip(
            labels, truncated, difficult, occluded, attributes, flat, flat, flat, flat, strict=False
        ):
            pose, extras = _object_extras(attrs)
            if occl is not None:
                extras = _OCCLUDED[occl] + extras
            parts.append(_OBJECT % (class_names[label], pose, trunc, diff, extras, x1, y1, x2, y2))
    parts.append(_TAIL)
    return "".join(parts)


@dataclass(frozen=True)
class _Source:
    """One folder of XML files and where their images are. With `sets` (`ImageSets/Main`) splits come from its
    lists; without, every file is in `split`."""

    split: str
    annotations: Path
    images: Path
    sets: Path | None = None


def _child(folder: Path | None, names: Sequence[str]) -> Path | None:
    """The subfolder of `folder` named one of `names` (any letter case), earlier names first."""
    if folder is None:
        return None
    with os.scandir(folder) as entries:  # scandir: no stat per file in a folder of many images
        children = sorted(entry.name for entry in entries if entry.is_dir())
    found = {name.lower(): name for name in reversed(children)}
    return next((folder / found[name] for name in names if name in found), None)


def _sources(root: Path, image_dir: Path | None) -> list[_Source]:
    annotations = _child(root, ANNOTATION_DIRS)
    if annotations is not None:
        images = image_dir or _child(root, IMAGE_DIRS) or root / "JPEGImages"
        return [_Source(DEFAULT_SPLIT, annotations, images, _child(_child(root, ("imagesets",)), ("main",)))]
    sources = []
    for split, folder in split_folders(root):
        annotations = _child(folder, ANNOTATION_DIRS)
        images = image_dir or (_child(folder, IMAGE_DIRS) or folder / "JPEGImages" if annotations else folder)
        sources.append(_Source(split, annotations or folder, images))
    return sources


def _xml_files(folder: Path, max_depth: int | None = None) -> Iterator[tuple[str, str]]:
    """`(id, path)` of the XML files below `folder`, where id is the relative path without `.xml`; hidden files
    and folders (`.ipynb_checkpoints`, `._a.xml`) are skipped."""
    for top, dirs, files in os.walk(folder):
        relative = os.path.relpath(top, folder)
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        deeper = max_depth is None or prefix.count("/") < max_depth
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if deeper else []
        for name in sorted(files):
            if name.lower().endswith(".xml") and not name.startswith("."):
                yield prefix + name[:-4], os.path.join(top, name)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise FormatError(f"cannot read ({error})", file=path) from None


def _declared_classes(root: Path) -> list[str]:
    """Class names from the root's `labelmap.txt`, then its `classes.txt`."""
    names: list[str] = []
    for file_name, parse in (("labelmap.txt", parse_labelmap), ("classes.txt", parse_class_names)):
        if (root / file_name).is_file():
            names += parse(_read_text(root / file_name))
    return names


def _items(source: _Source, report: Report) -> list[tuple[str, str, str | None]]:
    """`(id, split, XML path or None)` for every annotation file and every listed id, in id order."""
    xml = dict(_xml_files(source.annotations))
    lists = {}
    if source.sets is not None:
        stems = [path.stem for path in source.sets.glob("*.txt") if path.is_file()]
        lists = {stem: parse_split_list(_read_text(source.sets / f"{stem}.txt")) for stem in main_lists(stems)}
    if source.sets is None or not lists:
        return [(item, source.split, xml[item]) for item in sorted(xml)]
    assignment, ignored, shared = resolve_splits(lists)
    report.count(codes.IGNORED_SPLIT_LISTS, len(ignored))
    for (kept, dropped), count in sorted(shared.items()):
        report.warn(
            source.sets / f"{dropped}.txt",
            None,
            f"{count} ids are also in {kept}.txt; kept in '{kept}'",
            codes.IDS_IN_SEVERAL_SPLITS,
        )
        report.count(codes.IDS_IN_SEVERAL_SPLITS, count)
    unlisted = sum(1 for item in xml if item not in assignment)
    if unlisted:
        report.warn(
            source.sets,
            None,
            f"{unlisted} annotation files are in no split list; put in '{DEFAULT_SPLIT}'",
            codes.UNLISTED_ANNOTATIONS,
        )
        report.count(codes.UNLISTED_ANNOTATIONS, unlisted)
    return [(item, assignment.get(item, DEFAULT_SPLIT), xml.get(item)) for item in sorted(xml.keys() | assignment)]


def _resolve_image(filename: str | None, item: str, index: ImageIndex, file: str) -> tuple[str, Path | None]:
    """The image's name (relative to the images folder) and file, None if not found. `<filename>` is read as a
    base name and looked for in the XML's own subfolder first; without it the XML's path stands for it."""
    folder = item.rpartition("/")[0]
    base = filename.replace("\\", "/").rpartition("/")[2].strip() if filename else ""
    wanted = safe_relative_name(f"{folder}/{base}" if folder and base else base or item, file=file, field="filename")
    found = index.find(wanted) or (index.find(base) if folder and base else None)
    if found is not None:
        return posix_relative(found, index.folder), found
    return (wanted if wanted[len(name_stem(wanted)) :].lower() in IMAGE_EXTENSIONS else f"{wanted}.jpg"), None


def _image_size(parsed: FileSummary, found: Path | None, file: str, report: Report) -> tuple[int, int]:
    """The image's size: the header's when the image exists (warning when `<size>` disagrees), else `<size>`."""
    width, height = parsed.width, parsed.height
    if found is None:
        if width is None or height is None:
            raise AnnotationError(
                "image size unknown: <size> is missing or invalid and the image was not found",
                file=file,
                field="size",
                code=codes.UNKNOWN_SIZE,
            )
        report.count(codes.IMAGE_NOT_FOUND)
        return width, height
    header = read_header(found)
    if width is None or height is None:
        report.count(codes.SIZE_FROM_IMAGE)
    elif (width, height) != (header.width, header.height):
        report.warn(
            file, "size", f"declared {width}x{height}, image is {header.width}x{header.height}", codes.SIZE_MISMATCH
        )
        report.count(codes.SIZE_MISMATCH)
    return header.width, header.height


#: XML files parsed per task: sending a task and its result costs little next to parsing it, and the workers
#: stay evenly busy.
PARSE_BATCH = 500


#: Fewer files are parsed in this process whatever `jobs` is: starting a worker process and importing bboxaug
#: there takes 0.5-1 s, about what parsing 5,000 files takes (measured on 2 cores: 10,000 files took as long on
#: two workers as in one process).
MIN_FILES_FOR_WORKERS = 10_000


class FileSummary(NamedTuple):
    """What one parsed file says besides its boxes."""

    filename: str | None
    width: int | None
    height: int | None
    columns: tuple[str, ...]
    ignored: tuple[str, ...]


@dataclass(frozen=True)
class ParsedBatch:
    """Files parsed in one task, their boxes end to end in one table, so that a worker process sends back a few
    arrays rather than objects per box. `files[k]` is file k's summary, or the error that stopped it; its boxes
    are rows `bounds[k]:bounds[k + 1]` of `boxes`, whose labels index `names`."""

    files: list[FileSummary | AnnotationError]
    bounds: list[int]
    boxes: Boxes
    names: list[str]


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise AnnotationError(f"cannot read ({error.strerror or error})", file=path) from None


@gc_paused()
def parse_files(paths: Sequence[str]) -> ParsedBatch:
    """Parse VOC files: a pure function of their contents, so any worker can run it. A file that cannot be read
    or parsed gives its error, which the reader raises for that file's item, in order."""
    files: list[FileSummary | AnnotationError] = []
    bounds, labels, corners = [0], [], []
    names: dict[str, int] = {}
    columns: dict[str, list[Any]] = {}
    for path in paths:
        try:
            parsed = parse_annotation(_read_bytes(path), file=path)
        except AnnotationError as error:
            files.append(error)
            bounds.append(bounds[-1])
            continue
        count = len(parsed.names)
        for column in parsed.columns.keys() - columns.keys():  # a column earlier files lack is a default there
            columns[column] = [COLUMN_DEFAULTS[column]] * bounds[-1]
        for column, values in columns.items():
            values.extend(parsed.columns.get(column) or repeat(COLUMN_DEFAULTS[column], count))
        labels += [names.setdefault(name, len(names)) for name in parsed.names]
        corners.append(parsed.xyxy)
        files.append(
            FileSummary(parsed.filename, parsed.width, parsed.height, tuple(parsed.columns), tuple(parsed.ignored))
        )
        bounds.append(bounds[-1] + count)
    xyxy = np.concatenate(corners) if corners else np.zeros((0, 4))
    return ParsedBatch(files, bounds, Boxes(xyxy, labels, columns), list(names))


class _Batch:
    """A parsed batch on the reader's side: the dataset class each of its names became, in the order files were
    accepted, and its boxes with those classes as labels once every file of it has been accepted or skipped."""

    def __init__(self, parsed: ParsedBatch) -> None:
        self.parsed = parsed
        self.codes = parsed.boxes.labels.tolist()
        self.classes = [-1] * len(parsed.names)
        self.table: Boxes | None = None

    def accept(self, k: int, classes: dict[str, int]) -> None:
        """Add the classes of file `k`'s boxes to `classes`, in order of first use."""
        for code in self.codes[self.parsed.bounds[k] : self.parsed.bounds[k + 1]]:
            if self.classes[code] < 0:
                self.classes[code] = classes.setdefault(self.parsed.names[code], len(classes))

    def boxes(self, k: int, columns: tuple[str, ...]) -> Boxes:
        """File `k`'s boxes, labelled by dataset class: views of the batch's table, with the file's own columns."""
        if self.table is None:
            table = self.parsed.boxes
            self.table = table.with_labels(np.array(self.classes, dtype=np.int64)[table.labels])
        return self.table.rows(self.parsed.bounds[k], self.parsed.bounds[k + 1], columns)


class _Accepted(NamedTuple):
    """A file that passed every check, waiting for its batch's labels to become its record."""

    name: str
    split: str
    width: int
    height: int
    source: Path | None
    batch: _Batch
    position: int
    columns: tuple[str, ...]

    def record(self) -> ImageRecord:
        return ImageRecord(
            self.name,
            self.split,
            self.width,
            self.height,
            self.batch.boxes(self.position, self.columns),
            source=self.source,
        )


def _parsed_items(items: list[tuple[str, str, str | None]], jobs: int) -> Iterator[tuple[_Batch, int] | None]:
    """For each item, its parsed file as (batch, position), or None for a listed id without a file. Files are
    parsed in batches on `jobs` worker processes and come back in order."""
    paths = [path for _, _, path in items if path is not None]
    tasks = [paths[start : start + PARSE_BATCH] for start in range(0, len(paths), PARSE_BATCH)]
    batches = iter_parallel(
        parse_files,
        tasks,
        jobs=jobs if len(paths) >= MIN_FILES_FOR_WORKERS else 1,
        prefer="processes",
        items_are_batches=True,
    )
    files = ((batch, k) for batch in map(_Batch, batches) for k in range(len(batch.parsed.files)))
    try:
        for _, _, path in items:
            yield None if path is None else next(files)
    finally:
        batches.close()  # stops the workers when a read ends early (a bad file with on_error="fail")


def _accept(
    batch: _Batch, k: int, item: str, split: str, path: str, index: ImageIndex, classes: dict[str, int], report: Report
) -> _Accepted:
    """File `k` of `batch` checked against its image as one item: its error raised, its image found, its size
    decided; then its classes are added."""
    summary = batch.parsed.files[k]
    if isinstance(summary, AnnotationError):
        raise summary
    name, found = _resolve_image(summary.filename, item, index, path)
    width, height = _image_size(summary, found, path, report)
    if summary.ignored:
        report.warn(
            path,
            "object",
            f"nested elements not read: {', '.join(dict.fromkeys(summary.ignored))}",
            codes.IGNORED_OBJECT_ELEMENTS,
        )
        report.count(codes.IGNORED_OBJECT_ELEMENTS, len(summary.ignored))
    batch.accept(k, classes)
    return _Accepted(name, split, width, height, found, batch, k, summary.columns)


def _split_list(source: _Source, split: str) -> Path:
    """The list file of `split`: where an id without an annotation file comes from."""
    if source.sets is None:
        raise FormatError(f"an id of split '{split}' has no annotation file and no split list", file=source.annotations)
    return source.sets / f"{split}.txt"


def _read_listed(item: str, split: str, index: ImageIndex, listed_in: Path, report: Report) -> ImageRecord | None:
    """An id listed in a split file that has no annotation file: a negative image if its image exists."""
    found = index.find(safe_relative_name(item, file=listed_in, field=item))
    if found is None:
        report.warn(
            listed_in, item, "listed, but has no annotation file and no image; not read", codes.LISTED_WITHOUT_FILES
        )
        report.count(codes.LISTED_WITHOUT_FILES)
        return None
    header = read_header(found)
    report.count(codes.LISTED_WITHOUT_ANNOTATION)
    return ImageRecord(posix_relative(found, index.folder), split, header.width, header.height, source=found)


def read(src: Path, *, report: Report, image_dir: Path | None = None, jobs: int = 1) -> Dataset:
    """Read a VOC dataset folder in any of the layouts of the module docstring, parsing the XML files on `jobs`
    worker processes (-1: every core); the dataset and the report are the same for any `jobs`."""
    src = Path(src)
    if not src.is_dir():
        raise FormatError("a VOC dataset is a folder (Annotations/, or XML files beside images)", file=src)
    classes = {name: position for position, name in enumerate(dict.fromkeys(_declared_classes(src)))}
    images = TableBuilder()
    pending: list[ImageRecord | _Accepted] = []  # the entries since the last complete batch of parsed files
    indexes: dict[Path, ImageIndex] = {}
    used: set[Path | EmbeddedImage] = set()
    seen: dict[tuple[str, str], str] = {}  # (split, name) -> the id that annotated it first
    for source in _sources(src, image_dir):
        if source.images not in indexes:
            indexes[source.images] = ImageIndex(source.images)
        index = indexes[source.images]
        items = _items(source, report)
        for (item, split, path), parsed in zip(items, _parsed_items(items, jobs), strict=True):
            with report.item():
                entry: ImageRecord | _Accepted | None
                if parsed is None or path is None:  # an id a split list names, without an annotation file
                    entry = _read_listed(item, split, index, _split_list(source, split), report)
                else:
                    entry = _accept(*parsed, item, split, path, index, classes, report)
                if entry is None:
                    continue
                earlier = seen.setdefault((split, entry.name), item)
                if earlier != item:
                    report.warn(
                        path,
                        "filename",
                        f"{entry.name} (split '{split}') is also annotated by {earlier}",
                        codes.ANNOTATED_TWICE,
                    )
                if isinstance(entry, _Accepted) and any(
                    isinstance(earlier, _Accepted) and earlier.batch is not entry.batch for earlier in pending[-1:]
                ):
                    _add_records(images, pending)  # the earlier batch's labels are final: its files are all in
                pending.append(entry)
                if entry.source is not None:
                    used.add(entry.source)
    unread = sum(1 for index in indexes.values() for image in index.paths() if image not in used)
    if unread:
        report.warn(
            src, None, f"{unread} images have no annotation file and were not read", codes.IMAGES_WITHOUT_ANNOTATION
        )
        report.count(codes.IMAGES_WITHOUT_ANNOTATION, unread)
    _add_records(images, pending)
    return Dataset(classes_from_names(classes), images.build())


def _add_records(images: TableBuilder, entries: list[ImageRecord | _Accepted]) -> None:
    """Add the entries' records to `images`, then forget the entries (and with them their batches' tables)."""
    for entry in entries:
        images.add(entry if isinstance(entry, ImageRecord) else entry.record())
    entries.clear()


def annotation_key(split: str, name: str) -> str:
    """`Annotations/<key>.xml`: the name without extension, subfolders kept. One folder serves every split."""
    return name_stem(name)


def image_path(split: str, name: str) -> str:
    return f"JPEGImages/{name}"


def _check_writable(dataset: Dataset) -> None:
    """Refuse, before any file is written, what would overwrite a file or not read back the same."""
    for name in dataset.class_names:
        if not name.strip() or "\n" in name or "\r" in name:
            raise FormatError(f"class name {name!r} cannot be written to classes.txt and <name>")
    keys: set[str] = set()
    for image in dataset.images:
        if not image.split or image.split in (".", "..") or any(c in image.split for c in "/\\\n\r"):
            raise FormatError(f"split name {image.split!r} cannot name an ImageSets/Main file", file=image.name)
        name = image.name
        if name.startswith(("/", ".")) or any(c in name for c in "\\:") or "/." in name:
            safe_relative_name(name, file=name, field="name")
        key = annotation_key(image.split, name)
        if key in keys:
            raise FormatError(f"two images share Annotations/{key}.xml (save() renames them first)", file=name)
        if not image.has_size:
            raise FormatError("image size unknown (save() fills it from the image header)", file=name)
        keys.add(key)


def write(dataset: Dataset, dst: Path, *, report: Report, jobs: int = 1) -> None:
    """Write `Annotations/<stem>.xml` per image, `ImageSets/Main/<split>.txt` per split, `classes.txt`, and
    `labelmap.txt` (the class list Datumaro reads) unless a class name cannot be written there."""
    _check_writable(dataset)
    class_names = [escape(name) for name in dataset.class_names]
    xyxy = [image.boxes.xyxy for image in dataset.images]
    corners = voc_integers(np.concatenate(xyxy)).ravel().tolist() if xyxy else []  # flat: no list per box
    annotations = os.path.join(dst, "Annotations")
    lists: dict[str, list[str]] = {}
    made: set[str] = set()
    start = 0
    for image in dataset.images:
        key = annotation_key(image.split, image.name)
        path = os.path.join(annotations, f"{key}.xml")
        folder = os.path.dirname(path)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        end = start + 4 * len(image.boxes)
        write_file(path, format_annotation(image, class_names, corners[start:end]).encode("utf-8"))
        start = end
        lists.setdefault(image.split, []).append(key)
    sets = Path(dst, "ImageSets", "Main")
    sets.mkdir(parents=True, exist_ok=True)
    for split, keys in lists.items():
        (sets / f"{split}.txt").write_text("".join(f"{key}\n" for key in keys), encoding="utf-8")
    Path(dst, "classes.txt").write_text("".join(f"{name}\n" for name in dataset.class_names), encoding="utf-8")
    refused = [name for name in dataset.class_names if labelmap_refuses(name)]
    if refused:
        report.warn(
            "labelmap.txt",
            None,
            f"not written: class names {', '.join(map(repr, refused))} hold ':' or start with '#'",
            codes.LABELMAP_NOT_WRITTEN,
        )
    else:
        Path(dst, "labelmap.txt").write_text(format_labelmap(dataset.class_names), encoding="utf-8")


def _looks_like_voc(path: str) -> bool:
    """A VOC `<annotation>`, not MIT LabelMe's (which has `<imagesize>`, and polygons instead of `<bndbox>`). A
    file refused as unsafe (entity declarations) is an error naming it: nothing else could tell its format."""
    try:
        with open(path, "rb") as handle:
            root = parse_xml(handle.read(), file=path)
    except OSError:
        return False
    except AnnotationError as error:
        if error.code == codes.UNSAFE_XML.name:
            raise
        return False
    return (
        root.tag == "annotation"
        and root.find("imagesize") is None
        and all(obj.find("bndbox") is not None for obj in root.iterfind("object"))
    )


def detect(path: Path) -> bool:
    """A folder whose first few XML files (in an `Annotations/`-like folder, or beside images) are VOC."""
    path = Path(path)
    if not path.is_dir():
        return False
    try:
        for source in _sources(path, None):
            peeked = [file for _, file in islice(_xml_files(source.annotations, max_depth=1), _PEEK)]
            beside = source.annotations == source.images
            if (
                peeked
                and all(map(_looks_like_voc, peeked))
                and (not beside or any(map(is_image_file, Path(peeked[0]).parent.iterdir())))
            ):
                return True
    except OSError:
        return False
    return False


FORMAT = Format(
    name="voc",
    description="Pascal VOC XML (Annotations/, JPEGImages/, ImageSets/Main), 1-based inclusive pixel corners",
    read=read,
    write=write,
    detect=detect,
    image_path=image_path,
    annotation_key=annotation_key,
    tolerance=lambda image: 0.5,
)
