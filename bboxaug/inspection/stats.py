"""What is in a dataset: images, negatives and boxes per split and per class, box and image sizes, COCO's
small / medium / large counts, anchors fitted to the box shapes, and the angles and aspect ratios of oriented
boxes.

Every image's boxes are concatenated once into flat arrays (`BoxTable`) and every figure is a numpy reduction
over them, so a 20,000-image dataset takes well under a second once read. Box sizes are in pixels (the model's
coordinates); image sizes come from the annotation, else from the image header (never a decode).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bboxaug.core.model import Dataset
from bboxaug.core.oriented import angles_and_aspects
from bboxaug.core.report import Report
from bboxaug.core.table import as_table
from bboxaug.pipeline.classes import ClassOps
from bboxaug.pipeline.filters import Filters
from bboxaug.pipeline.prepare import fill_sizes
from bboxaug.pipeline.source import load

#: COCO's object size groups, by box area in px²: small below 32², medium below 96², large from 96².
SMALL_AREA = 32.0**2


MEDIUM_AREA = 96.0**2


#: k-means is fitted on at most this many box shapes (a seeded sample); the mean best IoU uses every box.
KMEANS_SAMPLE = 20_000


KMEANS_ITERATIONS = 100


COMMON_SIZES = 5


#: Width in degrees of the bins of the oriented boxes' angle histogram (over [0, 180)).
ANGLE_BIN = 15


@dataclass(frozen=True)
class BoxTable:
    """Every box of a dataset in flat arrays, with per-image arrays beside them."""

    xyxy: np.ndarray  # (N, 4) every box, image after image
    labels: np.ndarray  # (N,)
    image: np.ndarray  # (N,) the position of each box's image
    counts: np.ndarray  # (I,) boxes per image
    sizes: np.ndarray  # (I, 2) width and height, NaN where unknown
    split: np.ndarray  # (I,) each image's position in `splits`
    splits: tuple[str, ...]
    obbs: np.ndarray | None = None  # (N,) each box's oriented box or None; None when no box has one

    @classmethod
    def of(cls, dataset: Dataset) -> BoxTable:
        table = as_table(dataset.images)
        splits, split = table.split_positions()
        counts = table.box_counts()
        obbs = table.boxes.columns.get("obb")
        return cls(
            table.boxes.xyxy,
            table.boxes.labels,
            table.box_owners(),
            counts,
            table.sizes(),
            split,
            tuple(splits),
            obbs if obbs is not None and (obbs != None).any() else None,  # noqa: E711
        )

    @property
    def wh(self) -> np.ndarray:
        return self.xyxy[:, 2:] - self.xyxy[:, :2]


def _number(value: float) -> float | int | None:
    """A JSON-friendly number: integral values as int, others rounded to 3 decimals, NaN as None."""
    value = float(value)
    if not np.isfinite(value):
        return None
    return int(value) if value.is_integer() else round(value, 3)


def distribution(values: np.ndarray) -> dict[str, Any]:
    """Count, min, quartiles, max and mean of the finite values."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return {"count": 0, "min": None, "p25": None, "median": None, "p75": None, "max": None, "mean": None}
    low, p25, median, p75, high = np.quantile(values, [0.0, 0.25, 0.5, 0.75, 1.0])
    return {
        "count": len(values),
        "min": _number(low),
        "p25": _number(p25),
        "median": _number(median),
        "p75": _number(p75),
        "max": _number(high),
        "mean": _number(values.mean()),
    }


def _image_sizes(sizes: np.ndarray) -> dict[str, Any]:
    known = np.isfinite(sizes).all(axis=1)
    pairs, counts = (
        np.unique(sizes[known].astype(np.int64), axis=0, return_counts=True)
        if known.any()
        else (np.zeros((0, 2), np.int64), np.zeros(0, np.int64))
    )
    order = np.lexsort((pairs[:, 1], pairs[:, 0], -counts))[:COMMON_SIZES]
    return {
        "width": distribution(sizes[known, 0]),
        "height": distribution(sizes[known, 1]),
        "most_common": [
            {"width": int(pairs[k, 0]), "height": int(pairs[k, 1]), "images": int(counts[k])} for k in order
        ],
        "unknown": int((~known).sum()),
    }


def section(table: BoxTable, images: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """The statistics of the images selected by the boolean mask `images` (a split, or all)."""
    rows = images[table.image]
    labels, owners = table.labels[rows], table.image[rows]
    width, height = table.wh[rows].T
    area = width * height
    counts = table.counts[images]
    classes = len(class_names)
    known = (labels >= 0) & (labels < classes)
    boxes_per_class = np.bincount(labels[known], minlength=classes)
    images_per_class = np.bincount(
        np.unique(owners[known] * classes + labels[known]) % max(classes, 1), minlength=classes
    )
    positive = (width > 0) & (height > 0)
    return {
        "images": int(images.sum()),
        "negatives": int((counts == 0).sum()),
        "boxes": int(rows.sum()),
        "boxes_per_image": {key: distribution(counts)[key] for key in ("min", "median", "max", "mean")},
        "classes": {
            name: {"images": int(images_per_class[k]), "boxes": int(boxes_per_class[k])}
            for k, name in enumerate(class_names)
        },
        "box_width": distribution(width),
        "box_height": distribution(height),
        "box_area": distribution(area),
        "aspect_ratio": distribution(width[positive] / height[positive]),
        "size_groups": {
            "small": int((area < SMALL_AREA).sum()),
            "medium": int(((area >= SMALL_AREA) & (area < MEDIUM_AREA)).sum()),
            "large": int((area >= MEDIUM_AREA).sum()),
        },
        "degenerate": int((~positive).sum()),
        "image_sizes": _image_sizes(table.sizes[images]),
        **({} if table.obbs is None else {"oriented": oriented_section(table.obbs[rows])}),
    }


def oriented_section(obbs: np.ndarray) -> dict[str, Any]:
    """How many of the boxes (`obbs`: their oriented boxes, None where none) have an oriented box, the
    distributions of their longer side's angle (degrees, [0, 180), clockwise from +x on the image) and of their
    aspect ratio (longer side over shorter), and the angle histogram in `ANGLE_BIN` degree bins."""
    present = [quad for quad in obbs.tolist() if quad is not None]
    angles, aspects = angles_and_aspects(np.array(present, dtype=np.float64).reshape(-1, 8))
    histogram = np.bincount((angles // ANGLE_BIN).astype(np.int64), minlength=180 // ANGLE_BIN)
    return {
        "boxes": len(present),
        "angle": distribution(angles),
        "aspect_ratio": distribution(aspects),
        "angle_histogram": {f"{k * ANGLE_BIN}-{(k + 1) * ANGLE_BIN}": int(n) for k, n in enumerate(histogram)},
    }


def anchor_shapes(table: BoxTable, img_size: int) -> np.ndarray:
    """Each box's (w, h) as the network sees it after a letterbox resize to `img_size` (each image scaled by
    img_size / max(W, H)); boxes with no area or on images of unknown size are left out."""
    scale = img_size / table.sizes.max(axis=1)
    wh = table.wh * scale[table.image][:, None]
    return wh[np.isfinite(wh).all(axis=1) & (wh > 0).all(axis=1)]


def shape_iou(shapes: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """IoU of every (w, h) in `shapes` with every anchor, both centred on the same point: (len(shapes), k)."""
    inter = np.minimum(shapes[:, None, 0], anchors[None, :, 0]) * np.minimum(shapes[:, None, 1], anchors[None, :, 1])
    return inter / (shapes[:, None, 0] * shapes[:, None, 1] + anchors[None, :, 0] * anchors[None, :, 1] - inter)


def kmeans_anchors(shapes: np.ndarray, k: int, *, seed: int = 0) -> tuple[np.ndarray, float]:
    """k anchor shapes by k-means with 1 - IoU as the distance (k-means++ start, median update), sorted by area,
    and the mean over every shape of its best IoU with an anchor. Fewer anchors when there are fewer shapes."""
    if k < 1 or not len(shapes):
        return np.zeros((0, 2)), float("nan")
    rng = np.random.default_rng(seed)
    sample = shapes if len(shapes) <= KMEANS_SAMPLE else shapes[rng.choice(len(shapes), KMEANS_SAMPLE, replace=False)]
    k = min(k, len(np.unique(sample, axis=0)))
    anchors = sample[[rng.integers(len(sample))]]
    while len(anchors) < k:
        distance = 1.0 - shape_iou(sample, anchors).max(axis=1)
        if distance.sum() <= 0:
            break
        anchors = np.vstack([anchors, sample[rng.choice(len(sample), p=distance / distance.sum())]])
    assigned = None
    for _ in range(KMEANS_ITERATIONS):
        nearest = shape_iou(sample, anchors).argmax(axis=1)
        if assigned is not None and np.array_equal(nearest, assigned):
            break
        assigned = nearest
        anchors = np.array(
            [
                np.median(sample[nearest == j], axis=0) if (nearest == j).any() else anchors[j]
                for j in range(len(anchors))
            ]
        )
    anchors = anchors[np.argsort(anchors.prod(axis=1), kind="stable")]
    return anchors, mean_best_iou(shapes, anchors)


def mean_best_iou(shapes: np.ndarray, anchors: np.ndarray) -> float:
    """The mean over every shape of its best IoU with an anchor, a run of shapes at a time (all at once, the
    (shapes, anchors) arrays of millions of boxes would take gigabytes)."""
    best = [
        shape_iou(shapes[start : start + KMEANS_SAMPLE], anchors).max(axis=1)
        for start in range(0, len(shapes), KMEANS_SAMPLE)
    ]
    return float(np.concatenate(best).mean())


def compute_stats(dataset: Dataset, *, anchors: int = 9, img_size: int = 640, seed: int = 0) -> dict[str, Any]:
    """Statistics overall (top level) and per split (`splits`), plus `anchors` fitted at `img_size` (none when
    `anchors` is 0). Plain data, ready for JSON."""
    table = BoxTable.of(dataset)
    names = dataset.class_names
    result = section(table, np.ones(len(dataset.images), dtype=bool), names)
    result["splits"] = {split: section(table, table.split == k, names) for k, split in enumerate(table.splits)}
    if anchors:
        shapes, best = kmeans_anchors(anchor_shapes(table, img_size), anchors, seed=seed)
        result["anchors"] = {
            "img_size": img_size,
            "k": len(shapes),
            "seed": seed,
            "shapes": [[round(float(w), 1), round(float(h), 1)] for w, h in shapes],
            "mean_best_iou": None if np.isnan(best) else round(best, 4),
        }
    return result


def stats_for(
    src: Path | str,
    *,
    fmt: str | None = None,
    image_dir: Path | str | None = None,
    read_options: Mapping[str, Any] | None = None,
    anchors: int = 9,
    img_size: int = 640,
    seed: int = 0,
    jobs: int = 1,
    report: Report | None = None,
    class_ops: ClassOps | None = None,
    filters: Filters | None = None,
    progress: bool = False,
) -> tuple[Dataset, dict[str, Any]]:
    """Read the dataset at `src` (its classes changed by `class_ops`, filtered by `filters`) and compute its
    statistics; returns the dataset (sizes filled) and the stats."""
    dataset = fill_sizes(
        load(
            src,
            fmt=fmt,
            image_dir=image_dir,
            report=report or Report(),
            class_ops=class_ops,
            filters=filters,
            read_options=read_options,
        ),
        Report(),
        unknown="keep",
        jobs=jobs,
        progress=progress,
    )
    return dataset, compute_stats(dataset, anchors=anchors, img_size=img_size, seed=seed)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def aligned(rows: list[list[Any]]) -> list[str]:
    """Rows of cells in aligned columns: the first left-aligned, the others right-aligned."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[c]) for row in cells) for c in range(len(cells[0]))]
    return [
        "  ".join(
            cell.ljust(width) if c == 0 else cell.rjust(width)
            for c, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in cells
    ]


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def format_stats(stats: dict[str, Any]) -> str:
    """The statistics as aligned tables for a terminal."""
    splits = stats["splits"]
    lines = [
        f"images {stats['images']}   boxes {stats['boxes']}   negatives {stats['negatives']}   "
        f"classes {len(stats['classes'])}",
        "",
    ]
    rows: list[list[Any]] = [["split", "images", "negatives", "boxes", "boxes/image: min", "median", "max"]]
    for name, part in [*splits.items(), ("all", stats)]:
        per_image = part["boxes_per_image"]
        rows.append(
            [
                name,
                part["images"],
                part["negatives"],
                part["boxes"],
                per_image["min"],
                per_image["median"],
                per_image["max"],
            ]
        )
    lines += [*aligned(rows), ""]
    several = len(splits) > 1
    rows = [["class", "images", "boxes", "share", *(f"{name} boxes" for name in splits if several)]]
    for name, counts in stats["classes"].items():
        rows.append(
            [
                name,
                counts["images"],
                counts["boxes"],
                _percent(counts["boxes"], stats["boxes"]),
                *(part["classes"][name]["boxes"] for part in splits.values() if several),
            ]
        )
    lines += [*aligned(rows), ""]
    rows = [["box (px)", "min", "p25", "median", "p75", "max", "mean"]]
    for key, label in (
        ("box_width", "width"),
        ("box_height", "height"),
        ("box_area", "area"),
        ("aspect_ratio", "aspect w/h"),
    ):
        rows.append([label, *(stats[key][q] for q in ("min", "p25", "median", "p75", "max", "mean"))])
    lines += aligned(rows)
    groups = stats["size_groups"]
    lines.append(
        "COCO sizes: "
        + "   ".join(f"{name} {count} ({_percent(count, stats['boxes'])})" for name, count in groups.items())
        + (f"   degenerate (no area) {stats['degenerate']}" if stats["degenerate"] else "")
    )
    sizes = stats["image_sizes"]
    common = ", ".join(f"{s['width']}x{s['height']} ({s['images']})" for s in sizes["most_common"])
    lines.append(f"image sizes: {common or '-'}" + (f"; unknown {sizes['unknown']}" if sizes["unknown"] else ""))
    oriented = stats.get("oriented")
    if oriented:
        lines += [
            "",
            f"oriented boxes {oriented['boxes']} ({_percent(oriented['boxes'], stats['boxes'])} of the boxes)",
        ]
        rows = [["oriented", "min", "p25", "median", "p75", "max", "mean"]]
        for key, label in (("angle", "angle (deg)"), ("aspect_ratio", "aspect long/short")):
            rows.append([label, *(oriented[key][q] for q in ("min", "p25", "median", "p75", "max", "mean"))])
        lines += aligned(rows)
        bins = oriented["angle_histogram"]
        lines += aligned([["angle (deg)", *bins], ["boxes", *bins.values()]])
    anchors = stats.get("anchors")
    if anchors:
        shapes = " ".join(f"{w:g}x{h:g}" for w, h in anchors["shapes"]) or "-"
        lines.append(
            f"anchors at {anchors['img_size']} px (k={anchors['k']}, mean best IoU "
            f"{_cell(anchors['mean_best_iou'])}): {shapes}"
        )
    return "\n".join(lines)
