"""Ultralytics YOLO-OBB label lines: `class x1 y1 x2 y2 x3 y3 x4 y4`, the four corners normalised by the image size.

The YOLO reader reads such a line as a 4-point polygon (as Ultralytics does in a detection dataset); here the
polygons of an oriented-box dataset become oriented boxes, and the writer's `obb` task formats them. A dataset is
oriented when its data.yaml says `task: obb`, its labels sit in `labelTxt/`, or, with no task declared, every
label line of it has 9 fields. The contract is formats/yolo.md ("Oriented boxes").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from bboxaug.core.model import Boxes, Dataset, object_column
from bboxaug.core.oriented import as_quad, upright_quad
from bboxaug.core.table import as_table


def _quad_rows(boxes: Boxes) -> np.ndarray:
    """The rows whose polygon is one ring of exactly 4 points: the boxes of `class x1 y1 ... x4 y4` lines."""
    polygons = boxes.columns.get("segmentation")
    if polygons is None:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero([isinstance(p, list) and len(p) == 1 and len(p[0]) == 8 for p in polygons.tolist()])


def quads_to_obbs(boxes: Boxes) -> Boxes:
    """`boxes` with every 4-point polygon turned into an oriented box (its corners made clockwise), the polygon
    dropped; other boxes unchanged."""
    rows = _quad_rows(boxes)
    if not len(rows):
        return boxes
    polygons = boxes.columns["segmentation"].tolist()
    obbs = list(boxes.column("obb").tolist())
    for row in rows.tolist():
        obbs[row], polygons[row] = as_quad(polygons[row][0]), None
    columns = {name: values for name, values in boxes.columns.items() if name != "segmentation"}
    if any(polygon is not None for polygon in polygons):
        columns["segmentation"] = object_column(polygons)
    columns["obb"] = object_column(obbs)
    return Boxes.wrap(boxes.xyxy, boxes.labels, columns)


def oriented_if_all_quads(dataset: Dataset) -> Dataset:
    """The dataset read as oriented boxes when every one of its boxes (at least one) is a 4-point polygon (a 9-field
    line), else as it is."""
    table = as_table(dataset.images)
    boxes = table.boxes
    if not len(boxes) or len(_quad_rows(boxes)) != len(boxes):
        return dataset
    return dataset.replace(images=table.with_columns(boxes=quads_to_obbs(boxes), box_columns=None))


LINE = "%d" + " %.6f" * 8 + "\n"


def label_texts(
    obbs: np.ndarray, xyxy: np.ndarray, labels: np.ndarray, sizes: ArrayLike, counts: Sequence[int]
) -> list[str]:
    """Each image's YOLO-OBB label lines `idx x1 y1 ... x4 y4` (6 decimals, clamped to [0, 1] as Ultralytics
    requires; "" for a negative), for images of `sizes` ((N, 2) width, height) whose `counts` boxes are the rows
    of `obbs`, `xyxy` and `labels` in order. A box without an oriented box is written as its upright corners."""
    if not len(xyxy):
        return [""] * len(counts)
    quads = np.array(
        [upright_quad(box) if quad is None else quad for quad, box in zip(obbs.tolist(), xyxy.tolist(), strict=True)],
        dtype=np.float64,
    ).reshape(-1, 8)
    scale = np.tile(np.repeat(np.asarray(sizes, dtype=np.float64), counts, axis=0), 4)
    table = np.empty((len(xyxy), 9), dtype=np.float64)
    table[:, 0] = labels
    table[:, 1:] = np.clip(quads / scale, 0.0, 1.0) + 0.0  # + 0.0: -0.0 would print as "-0.000000"
    flat = table.ravel().tolist()
    texts, start = [], 0
    for count in counts:
        texts.append(LINE * count % tuple(flat[start : start + 9 * count]) if count else "")
        start += 9 * count
    return texts
