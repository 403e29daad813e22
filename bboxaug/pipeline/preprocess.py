"""The pre-processing stage of the pipeline, between prepare and the step's plan: the dataset as its images will be
once pre-processed, so every step plans on the sizes and boxes it will write. Only annotations change here; the
pixels are pre-processed by the workers as they decode each image (`bboxaug.preprocessing.pixels`).

- Every image is re-encoded, so an image in a format OpenCV cannot write (GIF) becomes PNG, as every image
  bboxaug makes does; names stay as they are otherwise.
- The geometric steps move boxes (`bboxaug.preprocessing.placement`), one placement per distinct image size: boxes
  left outside a crop are dropped and counted, boxes it cuts are kept clipped and counted; an image the crop does
  not reach is skipped (or stops the run) as the report's policy says.
"""

from __future__ import annotations

import numpy as np

from bboxaug.core.errors import ImageError
from bboxaug.core.model import Dataset, text_column
from bboxaug.core.report import Report
from bboxaug.core.table import ImageTable, as_table
from bboxaug.formats.base import Format
from bboxaug.io.names import writable_name
from bboxaug.pipeline.prepare import rename_collisions
from bboxaug.preprocessing.placement import Placement, move_boxes, place
from bboxaug.preprocessing.steps import NO_PREPROCESSING, Preprocessing


def preprocessed(dataset: Dataset, steps: Preprocessing, target: Format, report: Report) -> Dataset:
    """The dataset as `steps` leave it (sizes and boxes; names OpenCV can write). The sizes must be known."""
    if not steps:
        return dataset
    table = as_table(dataset.images)
    names = table.names.tolist()
    writable = [writable_name(name) for name in names]
    if writable != names:
        table = as_table(
            rename_collisions(
                dataset.replace(images=table.with_columns(names=text_column(writable))), target, report
            ).images
        )
    if steps.geometric:
        table = _placed(table, steps, report)
    return dataset.replace(images=table)


def _placed(table: ImageTable, steps: Preprocessing, report: Report) -> ImageTable:
    """Every image at its pre-processed size with its boxes moved; images a crop does not reach left out."""
    sizes, of_image = np.unique(np.stack([table.widths, table.heights], axis=1), axis=0, return_inverse=True)
    of_image = of_image.reshape(-1)
    placements: list[Placement] = []
    problems: dict[int, ImageError] = {}
    for index, (width, height) in enumerate(sizes.tolist()):
        try:
            placements.append(place(width, height, steps))
        except ImageError as outside:
            problems[index] = outside
            placements.append(place(width, height, NO_PREPROCESSING))  # a stand-in: its images are left out
    unreached = np.isin(of_image, list(problems))
    for row in np.flatnonzero(unreached).tolist():
        problem = problems[of_image[row]]
        with report.item():
            raise ImageError(problem.message, file=table.key_of(row), field=problem.field, code=problem.code)
    out = np.array([where.size for where in placements], dtype=np.int64)
    scale = np.array([where.scale for where in placements])
    offset = np.array([where.offset for where in placements])
    window = np.array([where.window for where in placements])
    owners = table.box_owners()
    of_box = of_image[owners]
    before = np.stack([table.widths, table.heights], axis=1)
    sizes = np.concatenate([before[owners], out[of_box]], axis=1)
    moved = move_boxes(table.boxes, scale[of_box], offset[of_box], window[of_box], sizes)
    report.count("preprocess_boxes_dropped", len(table.boxes) - len(moved.rows))
    report.count("preprocess_boxes_cut", moved.cut)
    table = table.with_boxes(moved.boxes, owners[moved.rows]).with_columns(
        widths=out[of_image, 0], heights=out[of_image, 1]
    )
    return table.subset(np.flatnonzero(~unreached)) if unreached.any() else table
