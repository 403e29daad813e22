"""A picture of the data: a grid of images with their boxes drawn and labelled in per-class colours, chosen so
rare classes show first; or each image beside its augmented copies, to see that boxes follow the objects.

Layout (the tests rely on it): every image is scaled to fit a `cell` x `cell` square, centred in it, with a
caption strip of `CAPTION` pixels below; cells are `GAP` pixels apart and from the border. A box `[x1, y1, x2, y2]`
on an image scaled by `(sx, sy)` and placed at `(left, top)` is outlined `LINE` pixels thick, inside the pixels
`left + round(x1 * sx)` .. `left + round(x2 * sx) - 1` (and the same for y).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from bboxaug.core.errors import ImageError, UsageError
from bboxaug.core.model import Dataset, EmbeddedImage, ImageRecord
from bboxaug.core.report import Report
from bboxaug.inspection.drawing import INK, class_colour, fit_text, font, text_colour, text_size
from bboxaug.io.files import atomic_write_bytes
from bboxaug.io.headers import embedded_bytes, image_size
from bboxaug.pipeline.classes import ClassOps
from bboxaug.pipeline.copies import AUGMENT_MANIFEST
from bboxaug.pipeline.filters import Filters
from bboxaug.pipeline.source import load

CELL = 320


CAPTION = 18


GAP = 4


LINE = 2


MAX_COPIES = 6


TILE_BACKGROUND = (48, 48, 48)


MISSING = (128, 128, 128)


SHEET = (235, 235, 235)


@dataclass(frozen=True)
class Copies:
    """Augmented copies by the key (`split/name`) of the image they were made from, and their class names."""

    class_names: Sequence[str]
    by_source: Mapping[str, Sequence[ImageRecord]] = field(default_factory=dict)


def class_positions(dataset: Dataset, names: Sequence[str] | None) -> list[int]:
    """Positions of the named classes (every class when None); an unknown name is a usage error."""
    if names is None:
        return list(range(len(dataset.classes)))
    known = dataset.class_names
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UsageError(f"unknown classes: {', '.join(unknown)} (known: {', '.join(known)})")
    return [known.index(name) for name in names]


def choose_images(
    dataset: Dataset,
    n: int,
    *,
    classes: Sequence[str] | None = None,
    seed: int = 0,
    among: Sequence[ImageRecord] | None = None,
) -> list[ImageRecord]:
    """Up to `n` images, rare classes first: classes are visited from the fewest boxes to the most, round after
    round, each taking the next image (in a seeded shuffle) that shows it. Without a class filter, images left
    over (negatives too) fill the rest in shuffled order."""
    wanted = class_positions(dataset, classes)
    images = list(dataset.images if among is None else among)
    labels = np.concatenate([i.boxes.labels for i in dataset.images] + [np.zeros(0, np.int64)])
    counts = np.bincount(labels[labels >= 0], minlength=len(dataset.classes))
    order = np.random.default_rng(seed).permutation(len(images)).tolist()
    showing: dict[int, list[int]] = {position: [] for position in wanted}
    for k in order:
        for label in dict.fromkeys(images[k].boxes.labels.tolist()):
            if label in showing:
                showing[label].append(k)
    queues = [showing[p] for p in sorted(wanted, key=lambda p: (counts[p], p)) if showing[p]]
    chosen: dict[int, None] = {}
    while len(chosen) < n and any(queues):
        for queue in queues:
            while queue and queue[0] in chosen:
                queue.pop(0)
            if queue and len(chosen) < n:
                chosen[queue.pop(0)] = None
    if classes is None:
        for k in order:
            if len(chosen) >= n:
                break
            chosen.setdefault(k, None)
    return [images[k] for k in chosen]


def fit(width: int, height: int, cell: int) -> tuple[int, int]:
    """The size of a `width` x `height` image scaled to fit a `cell` square (aspect kept, at least 1 px)."""
    scale = min(cell / width, cell / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def upright_size(image: ImageRecord) -> tuple[int, int] | None:
    """The image's size: declared, else from its header; None when neither is known."""
    try:
        return image_size(image)
    except ImageError:
        return None


def read_upright(source: Path | EmbeddedImage | None, size: tuple[int, int]) -> Image.Image | None:
    """The image upright (EXIF applied) in RGB, resized to `size`; None when it cannot be read. JPEGs are
    decoded at a reduced scale when that is still at least `size`: asking for a square of `size`'s short side
    is enough whichever way the image is turned, since the reduced image keeps the aspect ratio. The picture is
    turned in place and resized from the decoded pixels, with no copy of them between."""
    if source is None:
        return None
    try:
        data = source.read_bytes() if isinstance(source, Path) else embedded_bytes(source)
        with Image.open(io.BytesIO(data)) as image:
            side = min(size)
            image.draft("RGB", (side, side))
            ImageOps.exif_transpose(image, in_place=True)
            upright = image if image.mode == "RGB" else image.convert("RGB")
            return upright.resize(size, Image.Resampling.LANCZOS)
    except (OSError, ValueError, SyntaxError, UnidentifiedImageError, Image.DecompressionBombError, ImageError):
        return None


def draw_boxes(
    draw: ImageDraw.ImageDraw,
    image: ImageRecord,
    origin: tuple[int, int],
    scale: tuple[float, float],
    colours: Sequence[tuple[int, int, int]],
    names: Sequence[str],
    shown: set[str] | None,
    right_limit: int,
) -> None:
    """Outline each box in its class's colour (its quad when it has an oriented box) with the class name on a tag
    at its upright box's top-left corner (moved left to stay before `right_limit`)."""
    left, top = origin
    sx, sy = scale
    boxes = image.boxes
    for xyxy, label, quad in zip(boxes.xyxy.tolist(), boxes.labels.tolist(), boxes.column("obb").tolist(), strict=True):
        name = names[label] if 0 <= label < len(names) else f"#{label}"
        if (shown is not None and name not in shown) or not all(map(math.isfinite, xyxy)):
            continue
        colour = colours[label] if 0 <= label < len(colours) else (255, 0, 255)
        x1, y1 = left + round(xyxy[0] * sx), top + round(xyxy[1] * sy)
        x2, y2 = left + round(xyxy[2] * sx) - 1, top + round(xyxy[3] * sy) - 1
        if quad is None:
            draw.rectangle([x1, y1, max(x1, x2), max(y1, y2)], outline=colour, width=LINE)
        else:
            corners = [(left + x * sx, top + y * sy) for x, y in zip(quad[0::2], quad[1::2], strict=True)]
            draw.line([*corners, corners[0]], fill=colour, width=LINE, joint="curve")
        width, height = text_size(draw, name, 11)
        tag_top = y1 - height - 4 if y1 - height - 4 >= top else y1
        tag_left = max(0, min(x1, right_limit - width - 5))  # kept inside the cell
        draw.rectangle([tag_left, tag_top, tag_left + width + 4, tag_top + height + 4], fill=colour)
        draw.text((tag_left + 2, tag_top + 2), name, fill=text_colour(colour), font=font(11), anchor="lt")


def render_tile(
    image: ImageRecord,
    cell: int,
    caption: str,
    colours: Sequence[tuple[int, int, int]],
    names: Sequence[str],
    shown: set[str] | None = None,
) -> Image.Image:
    """One cell: the image fitted and centred, its boxes drawn, the caption below."""
    tile = Image.new("RGB", (cell, cell + CAPTION), TILE_BACKGROUND)
    draw = ImageDraw.Draw(tile)
    size = upright_size(image)
    fitted = fit(*size, cell) if size else (cell, cell)
    origin = ((cell - fitted[0]) // 2, (cell - fitted[1]) // 2)
    picture = read_upright(image.source, fitted)
    if picture is None:
        draw.rectangle([origin, (origin[0] + fitted[0] - 1, origin[1] + fitted[1] - 1)], fill=MISSING)
        draw.text((cell // 2, cell // 2), "image not found or unreadable", fill=INK, font=font(12), anchor="mm")
    else:
        tile.paste(picture, origin)
    if size:
        draw_boxes(draw, image, origin, (fitted[0] / size[0], fitted[1] / size[1]), colours, names, shown, cell)
    draw.rectangle([0, cell, cell, cell + CAPTION], fill=SHEET)
    draw.text((4, cell + CAPTION // 2), fit_text(draw, caption, cell - 8, 11), fill=INK, font=font(11), anchor="lm")
    return tile


def sheet(tiles: Sequence[Sequence[Image.Image]], cell: int) -> Image.Image:
    """Rows of tiles on one image, `GAP` pixels apart."""
    columns = max((len(row) for row in tiles), default=0)
    canvas = Image.new("RGB", (columns * (cell + GAP) + GAP, len(tiles) * (cell + CAPTION + GAP) + GAP), SHEET)
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            canvas.paste(tile, (GAP + c * (cell + GAP), GAP + r * (cell + CAPTION + GAP)))
    return canvas


def render_preview(
    dataset: Dataset,
    *,
    n: int = 16,
    classes: Sequence[str] | None = None,
    seed: int = 0,
    cell: int = CELL,
    copies: Copies | None = None,
) -> Image.Image:
    """The preview grid (about square), or with `copies` one row per image: the image, then its copies."""
    if n < 1 or cell < 16:
        raise UsageError(f"need n >= 1 and a cell of at least 16 px (got n={n}, cell={cell})")
    names = dataset.class_names
    extra = [name for name in (copies.class_names if copies else []) if name not in names]
    colour_of = {name: class_colour(k) for k, name in enumerate([*names, *extra])}
    shown = set(classes) if classes is not None else None
    own = [colour_of[name] for name in names]
    among = [i for i in dataset.images if copies.by_source.get(i.key)] if copies else None
    if copies and not among:
        raise UsageError("no image of the dataset has a copy in the augment manifest: was it made from this one?")
    chosen = choose_images(dataset, n, classes=classes, seed=seed, among=among)
    if not chosen:
        raise UsageError("no image to show" + (f" with classes {', '.join(classes)}" if classes else ""))
    if copies is None:
        columns = max(1, math.ceil(math.sqrt(len(chosen))))
        tiles = [render_tile(image, cell, image.key, own, names, shown) for image in chosen]
        return sheet([tiles[k : k + columns] for k in range(0, len(tiles), columns)], cell)
    theirs = [colour_of[name] for name in copies.class_names]
    rows = []
    for image in chosen:
        row = [render_tile(image, cell, image.key, own, names, shown)]
        for k, copy in enumerate(copies.by_source[image.key][:MAX_COPIES], start=1):
            row.append(render_tile(copy, cell, f"copy {k}: {copy.name}", theirs, copies.class_names, shown))
        rows.append(row)
    return sheet(rows, cell)


def load_copies(other: Path | str) -> Copies:
    """The augmented copies in `other`, a dataset written by `bboxaug augment`, by the image they came from
    (matched through its `augment.json`)."""
    other = Path(other)
    manifest_file = (other if other.is_dir() else other.parent) / AUGMENT_MANIFEST
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(
            f"not a dataset made by bboxaug augment: cannot read {AUGMENT_MANIFEST} ({error})", file=manifest_file
        ) from None
    dataset = load(other, fmt=manifest.get("to"), report=Report(on_error="skip"))
    by_key = {image.key: image for image in dataset.images}
    by_source: dict[str, list[ImageRecord]] = {}
    for entry in manifest.get("outputs", []):
        key = entry.get("image") if isinstance(entry, dict) else None
        record = by_key.get(key) if isinstance(key, str) else None
        if record is not None:
            by_source.setdefault(entry.get("source"), []).append(record)
    return Copies(dataset.class_names, by_source)


def preview(
    src: Path | str,
    out: Path | str,
    *,
    fmt: str | None = None,
    image_dir: Path | str | None = None,
    read_options: Mapping[str, Any] | None = None,
    n: int = 16,
    classes: Sequence[str] | None = None,
    seed: int = 0,
    cell: int = CELL,
    compare: Path | str | None = None,
    report: Report | None = None,
    class_ops: ClassOps | None = None,
    filters: Filters | None = None,
) -> Image.Image:
    """Read the dataset at `src` (its classes changed by `class_ops`, filtered by `filters`), render the
    preview, and write it to `out` as PNG."""
    dataset = load(
        src,
        fmt=fmt,
        image_dir=image_dir,
        report=report or Report(),
        class_ops=class_ops,
        filters=filters,
        read_options=read_options,
    )
    picture = render_preview(
        dataset,
        n=n,
        classes=classes,
        seed=seed,
        cell=cell,
        copies=load_copies(compare) if compare is not None else None,
    )
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    atomic_write_bytes(Path(out), buffer.getvalue())
    return picture
