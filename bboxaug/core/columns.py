"""How each per-box column follows a geometric operation: the one place that decides it.

- `warp`: an augmented copy (or a paste image's host): the object is shown anew, so what identifies or
  measures the source annotation (`source_id`, `area`, the source's own `shape`) is left behind, and the
  segmentation is moved with the pixels;
- `scale`: a resized image shows the same object at another size: its id stays, what measured it at the old
  size (`area`, `shape`) is left behind, and the segmentation is scaled;
- `cut`: a tile shows a piece of the object: like `warp`, and the segmentation is cut to the tile (a cut box
  is also marked `truncated`, by the tiling itself).
Every other column (flags, free attributes) is carried unchanged. The callers' `move` says how a segmentation
follows: polygons moved and clipped, RLE masks moved with the pixels (`bboxaug.geometry.regions`). An oriented box
(`obb`) moves its four corners under every operation, by the callers' `move_obb` (`bboxaug.geometry.shapes.follow_obb`:
moved exactly, re-fitted in its own orientation when the image border cuts it, None when nothing is visible).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from bboxaug.core.model import Boxes, object_column

Operation = Literal["warp", "scale", "cut"]
Follow = Literal["keep", "move", "drop"]

#: For each column that does not simply stay, what it does under each operation.
COLUMN_RULES: Mapping[str, Mapping[Operation, Follow]] = MappingProxyType(
    {
        "segmentation": {"warp": "move", "scale": "move", "cut": "move"},
        "obb": {"warp": "move", "scale": "move", "cut": "move"},
        "area": {"warp": "drop", "scale": "drop", "cut": "drop"},
        "shape": {"warp": "drop", "scale": "drop", "cut": "drop"},
        "source_id": {"warp": "drop", "scale": "keep", "cut": "drop"},
    }
)


def follow_rule(column: str, operation: Operation) -> Follow:
    """What `column` does under `operation`."""
    return COLUMN_RULES.get(column, {}).get(operation, "keep")


def carried_columns(
    boxes: Boxes,
    operation: Operation,
    move: Callable[[int, Any], Any],
    move_obb: Callable[[int, Any], Any] | None = None,
) -> dict[str, np.ndarray]:
    """The columns of `boxes` that follow `operation`, each segmentation replaced by `move(row, segmentation)`
    and each oriented box by `move_obb(row, obb)` (`row`: the box's position in `boxes`; None stays None). A
    caller moving boxes that have oriented boxes must say how they move: without `move_obb` it is an error."""
    columns = {}
    for name, values in boxes.columns.items():
        rule = follow_rule(name, operation)
        if rule == "move" and name == "obb":
            if move_obb is None:
                raise ValueError(f"these boxes have oriented boxes: say how they follow the {operation}")
            mover = move_obb
            values = object_column(None if value is None else mover(row, value) for row, value in enumerate(values))
        elif rule == "move":
            values = object_column(move(row, value) for row, value in enumerate(values))
        if rule != "drop":
            columns[name] = values
    return columns
