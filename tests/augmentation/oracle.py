"""Oracle images for augmentation tests: solid objects of unique colours on black, so the true box of every object
can be measured from the output pixels and compared with the box bboxaug wrote."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord, object_column

#: Saturated colours far apart from each other and from black; object k has colour COLOURS[k] and class f"obj{k}".
COLOURS = [
    (255, 0, 0),
    (0, 255, 0),
    (0, 0, 255),
    (255, 255, 0),
    (255, 0, 255),
    (0, 255, 255),
    (255, 128, 0),
    (128, 0, 255),
]
ELLIPSE_VERTICES = 64


@dataclass(frozen=True)
class Scene:
    """Objects drawn into one image: (kind, colour index, box) with kind "rect" or "ellipse"."""

    name: str
    width: int
    height: int
    objects: tuple[tuple[str, int, tuple[float, float, float, float]], ...]


def ellipse_polygon(box: tuple[float, float, float, float]) -> list[float]:
    x1, y1, x2, y2 = box
    angles = np.linspace(0, 2 * np.pi, ELLIPSE_VERTICES, endpoint=False)
    xs = (x1 + x2) / 2 + (x2 - x1) / 2 * np.cos(angles)
    ys = (y1 + y2) / 2 + (y2 - y1) / 2 * np.sin(angles)
    return np.stack([xs, ys], axis=1).ravel().tolist()


def draw(scene: Scene, path: Path) -> Path:
    """Draw the scene as a PNG: rectangles cover whole pixels of their box, ellipses their polygon."""
    image = Image.new("RGB", (scene.width, scene.height))
    pen = ImageDraw.Draw(image)
    for kind, colour, box in scene.objects:
        x1, y1, x2, y2 = box
        if kind == "rect":
            pen.rectangle([x1, y1, x2 - 1, y2 - 1], fill=COLOURS[colour])
        else:
            points = np.array(ellipse_polygon(box)).reshape(-1, 2) - 0.5  # PIL fills pixel centres
            pen.polygon([tuple(p) for p in points], fill=COLOURS[colour])
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def scene_dataset(scenes: list[Scene], root: Path, split: str = "train") -> Dataset:
    """A dataset of the scenes (images written under root/split), one class per colour, polygons for ellipses."""
    classes = tuple(ClassInfo(k + 1, f"obj{k}") for k in range(len(COLOURS)))
    images = []
    for scene in scenes:
        source = draw(scene, root / split / scene.name)
        xyxy = [box for _, _, box in scene.objects]
        labels = [colour for _, colour, _ in scene.objects]
        segmentation = object_column(
            [[ellipse_polygon(box)] if kind == "ellipse" else None for kind, _, box in scene.objects]
        )
        boxes = Boxes(np.array(xyxy, dtype=float).reshape(-1, 4), labels, {"segmentation": segmentation})
        images.append(ImageRecord(scene.name, split, scene.width, scene.height, boxes, source))
    return Dataset(classes, tuple(images))


def measured_box(pixels: np.ndarray, colour: int, tolerance: int = 60) -> tuple[tuple[float, ...] | None, int]:
    """The box of the pixels within `tolerance` of the object's colour (continuous pixel edges) and their count."""
    distance = np.abs(pixels.astype(np.int32) - np.array(COLOURS[colour])).max(axis=2)
    ys, xs = np.nonzero(distance <= tolerance)
    if not len(xs):
        return None, 0
    return (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)), len(xs)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def replayed_envelopes(
    pipeline: Any, shape: tuple[int, ...], boxes: Boxes, points: np.ndarray, seed: int
) -> list[tuple[tuple[float, ...] | None, int]]:
    """An oracle for real photos, which have no colour to measure: each box painted alone as a white mask on a black
    image of the photo's shape and put through the pipeline with the copy's seed (the same random draws, as they
    depend on the shape, the boxes and the seed, not on the pixels). Returns, per box, the envelope of the mask's
    pixels after the transform (None when none is left) and its pixel count."""
    found = []
    for x1, y1, x2, y2 in boxes.xyxy:
        mask = np.zeros(shape, np.uint8)
        mask[int(round(y1)) : int(round(y2)), int(round(x1)) : int(round(x2))] = 255
        pixels, _ = pipeline(mask, points, boxes.xyxy, seed)
        lit = (pixels if pixels.ndim == 2 else pixels.max(axis=2)) > 127
        ys, xs = np.nonzero(lit)
        found.append(
            ((float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)) if len(xs) else None, len(xs))
        )
    return found


# --- oriented boxes: rotated rectangles of unique colours, measured as pixel masks ------------------------------


def rotated_rectangle(cx: float, cy: float, width: float, height: float, degrees: float) -> tuple[float, ...]:
    """The 4 corners (8 numbers) of a `width` x `height` rectangle centred at (cx, cy) and turned by `degrees`,
    clockwise on the image from the corner that is top-left before turning."""
    turn = np.radians(degrees)
    axes = np.array([[np.cos(turn), np.sin(turn)], [-np.sin(turn), np.cos(turn)]])
    local = np.array([[-width, -height], [width, -height], [width, height], [-width, height]]) / 2
    return tuple((local @ axes + (cx, cy)).ravel().tolist())


def quad_mask(quad: tuple[float, ...] | list[float], width: int, height: int) -> np.ndarray:
    """The pixels whose centres lie inside the quad (continuous coordinates), as a boolean (height, width) mask."""
    image = Image.new("L", (width, height))
    points = np.asarray(quad, dtype=np.float64).reshape(4, 2) - 0.5  # PIL fills pixel centres
    ImageDraw.Draw(image).polygon([tuple(p) for p in points], fill=255)
    return np.asarray(image) > 0


def colour_mask(pixels: np.ndarray, colour: int, tolerance: int = 127) -> np.ndarray:
    """The pixels within `tolerance` of object `colour`'s colour: by default those the object covers at least half
    of once interpolation has blended its edge with the black background (what `quad_mask` counts, a pixel whose
    centre is inside)."""
    return np.abs(pixels.astype(np.int32) - np.array(COLOURS[colour])).max(axis=2) <= tolerance


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0


#: How finely `draw_quads` samples each pixel (per axis) before averaging: its edges are anti-aliased, so a pixel's
#: colour says how much of it the object covers.
SUPERSAMPLING = 4


def draw_quads(width: int, height: int, quads: list[tuple[int, tuple[float, ...]]], path: Path) -> Path:
    """A PNG of filled quads `(colour, corners)` on black, drawn 4 x 4 times finer and averaged (anti-aliased)."""
    fine = SUPERSAMPLING
    image = Image.new("RGB", (width * fine, height * fine))
    pen = ImageDraw.Draw(image)
    for colour, quad in quads:
        points = np.asarray(quad, dtype=np.float64).reshape(4, 2) * fine - 0.5
        pen.polygon([tuple(p) for p in points], fill=COLOURS[colour])
    path.parent.mkdir(parents=True, exist_ok=True)
    image.resize((width, height), Image.Resampling.BOX).save(path)
    return path


#: The colours made of 0 and 255 channels only (the first six): a pixel half covered by one of them, half black,
#: is never within 127 of another, so `colour_mask` tells them apart.
PURE_COLOURS = 6


def quad_scenes(
    root: Path, count: int, width: int, height: int, per_image: int, seed: int, split: str = "train"
) -> Dataset:
    """`count` images of `per_image` (at most 6, one per pure colour) rotated rectangles (random sizes and angles,
    each in its own cell of a grid, so none overlaps another), drawn under `root/split`, as a dataset whose boxes
    have their oriented boxes."""
    if per_image > PURE_COLOURS:
        raise ValueError(f"at most {PURE_COLOURS} objects an image: each needs a colour of its own")
    rng = np.random.default_rng(seed)
    columns = int(np.ceil(np.sqrt(per_image * width / height)))
    rows = int(np.ceil(per_image / columns))
    cell_w, cell_h = width / columns, height / rows
    classes = tuple(ClassInfo(k + 1, f"obj{k}") for k in range(len(COLOURS)))
    images = []
    for number in range(count):
        quads = []
        for k in range(per_image):
            reach = 0.45 * min(cell_w, cell_h)  # half the diagonal stays inside the cell
            long = rng.uniform(0.9, 1.6) * reach
            short = rng.uniform(0.3, 0.6) * long
            scale = reach / np.hypot(long, short) * 2
            cx, cy = (k % columns + 0.5) * cell_w, (k // columns + 0.5) * cell_h
            quad = rotated_rectangle(cx, cy, long * scale, short * scale, rng.uniform(0, 180))
            quads.append((k % PURE_COLOURS, quad))
        name = f"q{number}.png"
        source = draw_quads(width, height, quads, root / split / name)
        corners = [np.asarray(quad).reshape(4, 2) for _, quad in quads]
        xyxy = [[*c.min(axis=0), *c.max(axis=0)] for c in corners]
        boxes = Boxes(xyxy, [colour for colour, _ in quads], {"obb": object_column([q for _, q in quads])})
        images.append(ImageRecord(name, split, width, height, boxes, source))
    return Dataset(classes, tuple(images))
