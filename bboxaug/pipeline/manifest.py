"""The JSON report every command writes beside its output: the counts of what was written, and a streaming
writer for manifests whose per-image entries are too many to hold."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bboxaug.core.model import Dataset
from bboxaug.io.files import atomic_text_file, atomic_write_text


def dataset_counts(dataset: Dataset) -> dict[str, Any]:
    """Images, boxes and negatives, overall and per split (in order of first appearance), in one pass."""
    names, positions = dataset.split_positions()
    boxes = dataset.box_counts()
    figures = {
        "images": np.bincount(positions, minlength=len(names)),
        "boxes": np.bincount(positions, weights=boxes, minlength=len(names)).astype(np.int64),
        "negatives": np.bincount(positions[boxes == 0], minlength=len(names)),
    }
    splits = {name: {key: int(values[k]) for key, values in figures.items()} for k, name in enumerate(names)}
    totals = {key: sum(counts[key] for counts in splits.values()) for key in ("images", "boxes", "negatives")}
    return {**totals, "splits": splits}


def write_manifest(path: Path, document: Mapping[str, Any], outputs: Iterable[dict[str, Any]] | None = None) -> None:
    """`document` as indented JSON, atomically; with `outputs`, an `outputs` list written after it entry by
    entry, one line each, so the manifest of a large run is never held in memory whole."""
    if outputs is None:
        atomic_write_text(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return
    with atomic_text_file(path) as handle:
        handle.write(json.dumps(document, indent=2, ensure_ascii=False)[:-2] + ',\n  "outputs": [')
        separator = "\n    "
        for entry in outputs:
            handle.write(separator + json.dumps(entry, ensure_ascii=False))
            separator = ",\n    "
        handle.write("\n  ]\n}\n")
