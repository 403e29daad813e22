"""bboxaug: prepare object-detection datasets offline.

Read COCO, Pascal VOC, YOLO (detect, segment and OBB), Labelme, DOTA and defect masks into one model (`Dataset`,
oriented boxes included), convert between them without loss (`convert`, `load`, `save`), merge several into one
(`merge`), write augmented copies whose boxes follow the pixels (`augment`), balance rare classes
(`balance.balance`), tile and resize (`tile.tile`, `resize.resize`), split into train/val/test (`split`), and look at
the data (`stats`, `validate`, `preview`, and all on one HTML page: `report`); every one of them can rename,
merge and drop classes (`ClassOps`) and filter boxes and images (`Filters`) on the way. `preprocess` gives an
image at inference the same deterministic pre-processing (`Preprocessing`: CLAHE, grayscale, auto-contrast,
crop, resize) that a run's `--preprocess` gave the images it wrote. The package tree shows the layers, lowest
first: core, io, formats, geometry, preprocessing, augmentation, balancing and splitting, pipeline, inspection,
commands, cli (ARCHITECTURE.md).

This module is the public face of the package and imports nothing heavy: each name below loads its module on
first use, so `import bboxaug` and a worker process's imports stay light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bboxaug.core.version import __version__

if TYPE_CHECKING:
    from bboxaug.commands import balance, resize, tile
    from bboxaug.commands.augment import augment
    from bboxaug.commands.convert import convert, save
    from bboxaug.commands.merge import merge
    from bboxaug.commands.report import report
    from bboxaug.commands.split import split
    from bboxaug.core.errors import BboxaugError
    from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord
    from bboxaug.inspection import preview, stats, validate
    from bboxaug.pipeline.classes import ClassOps
    from bboxaug.pipeline.filters import Filters
    from bboxaug.pipeline.source import load
    from bboxaug.preprocessing.pixels import preprocess
    from bboxaug.preprocessing.steps import Preprocessing
    from bboxaug.runtime import cluster

#: Public name -> (module, attribute in it; None for the module itself).
_PUBLIC: dict[str, tuple[str, str | None]] = {
    "load": ("bboxaug.pipeline.source", "load"),
    "save": ("bboxaug.commands.convert", "save"),
    "convert": ("bboxaug.commands.convert", "convert"),
    "augment": ("bboxaug.commands.augment", "augment"),
    "merge": ("bboxaug.commands.merge", "merge"),
    "balance": ("bboxaug.commands.balance", None),
    "tile": ("bboxaug.commands.tile", None),
    "resize": ("bboxaug.commands.resize", None),
    "split": ("bboxaug.commands.split", "split"),
    "stats": ("bboxaug.inspection.stats", None),
    "validate": ("bboxaug.inspection.validate", None),
    "preview": ("bboxaug.inspection.preview", None),
    "report": ("bboxaug.commands.report", "report"),
    "cluster": ("bboxaug.runtime.cluster", None),
    "preprocess": ("bboxaug.preprocessing.pixels", "preprocess"),
    "Preprocessing": ("bboxaug.preprocessing.steps", "Preprocessing"),
    "BboxaugError": ("bboxaug.core.errors", "BboxaugError"),
    "Boxes": ("bboxaug.core.model", "Boxes"),
    "ClassInfo": ("bboxaug.core.model", "ClassInfo"),
    "Dataset": ("bboxaug.core.model", "Dataset"),
    "ImageRecord": ("bboxaug.core.model", "ImageRecord"),
    "ClassOps": ("bboxaug.pipeline.classes", "ClassOps"),
    "Filters": ("bboxaug.pipeline.filters", "Filters"),
}

__all__ = [
    "BboxaugError",
    "Boxes",
    "ClassInfo",
    "ClassOps",
    "Dataset",
    "Filters",
    "ImageRecord",
    "Preprocessing",
    "__version__",
    "augment",
    "balance",
    "cluster",
    "convert",
    "load",
    "merge",
    "preprocess",
    "preview",
    "report",
    "resize",
    "save",
    "split",
    "stats",
    "tile",
    "validate",
]


def __getattr__(name: str) -> Any:
    """Load a public name's module on first use (PEP 562)."""
    if name not in _PUBLIC:
        raise AttributeError(f"module 'bboxaug' has no attribute {name!r}")
    module_name, attribute = _PUBLIC[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
