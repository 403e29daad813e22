"""What `bboxaug report` shows, gathered from one read of the dataset: the figures of `stats`, the findings of
`validate`, the images of the gallery (rare classes first, seeded: `preview`'s choice) and of the findings with
their thumbnails; and, given a dataset made from this one, pairs of an image and what was made from it, with the
counts its manifest recorded and the classes before and after. The page itself is `report_page`'s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bboxaug.core.model import Dataset, ImageRecord
from bboxaug.core.report import Report
from bboxaug.core.table import as_table
from bboxaug.formats.base import ReadOptions
from bboxaug.inspection.preview import choose_images
from bboxaug.inspection.stats import BoxTable, compute_stats
from bboxaug.inspection.thumbnails import Thumbnail, thumbnails
from bboxaug.inspection.validate import Finding, read_and_check
from bboxaug.pipeline.classes import ClassOps
from bboxaug.pipeline.filters import Filters
from bboxaug.pipeline.prepare import fill_sizes

#: Images in the gallery unless told: enough to see every class, few enough for a page of a few megabytes.
MAX_IMAGES = 300


#: Findings of one code and severity shown with a picture of their image; the rest are listed without.
PICTURES_PER_GROUP = 12


#: Images of the reported dataset shown beside what was made from them, and outputs shown for each.
PAIRS = 12


OUTPUTS_PER_PAIR = 3


@dataclass(frozen=True)
class Shown:
    """An image as the page shows it: its key, split and size, its boxes, and its thumbnail (None: unreadable)."""

    key: str
    split: str
    size: tuple[int, int] | None
    xyxy: np.ndarray
    labels: np.ndarray
    thumbnail: Thumbnail | None


@dataclass(frozen=True)
class Derived:
    """A dataset made from the reported one (by augment, balance, tile or resize): where it is, its images, each
    made image's source key (`split/name` in the reported dataset) and the manifest of the run that made it."""

    source: str
    dataset: Dataset
    made_from: Mapping[str, str]
    manifest: Mapping[str, Any]


@dataclass(frozen=True)
class Comparison:
    """What the page shows of a derived dataset."""

    source: str
    class_names: list[str]  # the reported dataset's classes, then the derived one's new ones; labels index it
    stats: dict[str, Any]
    pairs: list[tuple[Shown, list[Shown]]]
    made: int
    counts: list[tuple[str, str, int]]  # code, label, count, as the manifest recorded them


@dataclass(frozen=True)
class ReportData:
    """Everything the page shows."""

    title: str
    source: str
    class_names: list[str]
    stats: dict[str, Any]
    boxes: BoxTable
    findings: list[Finding]
    pictures: Mapping[str, Shown]  # images of findings, by key
    gallery: list[Shown]
    max_images: int
    seed: int
    deep: bool
    comparison: Comparison | None


def read_checked(
    src: Path | str,
    *,
    fmt: str | None = None,
    image_dir: Path | str | None = None,
    deep: bool = False,
    jobs: int = 1,
    class_ops: ClassOps | None = None,
    filters: Filters | None = None,
    read_options: ReadOptions | None = None,
    progress: bool = False,
) -> tuple[Dataset, list[Finding]]:
    """Read the dataset at `src` once, without stopping at problems, and find every problem `validate` would;
    returns the dataset with the sizes its headers give and the findings."""
    dataset, findings = read_and_check(
        src,
        fmt=fmt,
        image_dir=image_dir,
        read_options=read_options,
        deep=deep,
        jobs=jobs,
        class_ops=class_ops,
        filters=filters,
        progress=progress,
    )
    sized = fill_sizes(dataset, Report(on_error="skip"), unknown="keep", jobs=jobs, progress=progress)
    return sized, findings


def _finding_images(dataset: Dataset, findings: Sequence[Finding]) -> list[ImageRecord]:
    """The images of the first `PICTURES_PER_GROUP` findings of each code and severity that name one."""
    table = as_table(dataset.images)
    row_of = {table.key_of(k): k for k in range(len(table))}
    wanted: dict[str, None] = {}
    shown: dict[tuple[str, str], int] = {}
    for found in findings:
        group = (found.code, found.severity)
        if found.image in row_of and shown.get(group, 0) < PICTURES_PER_GROUP:
            shown[group] = shown.get(group, 0) + 1
            wanted.setdefault(found.image, None)
    return [table[row_of[key]] for key in wanted]


def _outputs(derived: Derived) -> dict[str, list[int]]:
    """The rows of the derived dataset's images made from each source image, by the source's key."""
    made = as_table(derived.dataset.images)
    outputs: dict[str, list[int]] = {}
    for k in range(len(made)):
        source = derived.made_from.get(made.key_of(k))
        if source is not None:
            outputs.setdefault(source, []).append(k)
    return outputs


def _pairs(
    dataset: Dataset, derived: Derived, outputs: Mapping[str, list[int]], seed: int
) -> list[tuple[ImageRecord, list[ImageRecord]]]:
    """Up to `PAIRS` images of `dataset` (rare classes first) with up to `OUTPUTS_PER_PAIR` images made from each."""
    made = as_table(derived.dataset.images)
    among = [image for image in dataset.images if image.key in outputs]
    chosen = choose_images(dataset, PAIRS, seed=seed, among=among)
    return [(image, [made[k] for k in outputs[image.key][:OUTPUTS_PER_PAIR]]) for image in chosen]


def _manifest_counts(manifest: Mapping[str, Any]) -> list[tuple[str, str, int]]:
    counts = manifest.get("counts")
    labels = manifest.get("codes")
    if not isinstance(counts, Mapping):
        return []
    labels = labels if isinstance(labels, Mapping) else {}
    return [
        (code, str((labels.get(code) or {}).get("label", code)), int(count))
        for code, count in counts.items()
        if isinstance(count, int)
    ]


def _shown(image: ImageRecord, thumbnail: Thumbnail | None) -> Shown:
    size = image.known_size() if image.has_size else None
    return Shown(image.key, image.split, size, image.boxes.xyxy, image.boxes.labels, thumbnail)


def _relabelled(item: Shown, positions: np.ndarray) -> Shown:
    """`item` with its labels made positions in another class list (`positions[label]`), so a class keeps its
    colour in both datasets; labels outside the class list stay as they are."""
    known = (item.labels >= 0) & (item.labels < len(positions))
    labels = np.where(known, positions[np.clip(item.labels, 0, max(len(positions) - 1, 0))], item.labels)
    return dataclasses.replace(item, labels=labels)


def collect(
    dataset: Dataset,
    findings: Sequence[Finding],
    *,
    title: str,
    source: str,
    max_images: int = MAX_IMAGES,
    seed: int = 0,
    deep: bool = False,
    derived: Derived | None = None,
    jobs: int = 1,
    progress: bool = False,
) -> ReportData:
    """Gather what the page shows of `dataset` and its `findings` (and of `derived`); the thumbnails of every
    image shown are made in one parallel pass."""
    gallery = choose_images(dataset, max_images, seed=seed) if max_images > 0 else []
    flagged = _finding_images(dataset, findings)
    outputs = _outputs(derived) if derived is not None else {}
    pairs = _pairs(dataset, derived, outputs, seed) if derived is not None else []
    pictured = [*gallery, *flagged, *(image for pair in pairs for image in (pair[0], *pair[1]))]
    made = thumbnails(pictured, jobs=jobs, progress=progress)
    shown = [_shown(image, thumbnail) for image, thumbnail in zip(pictured, made, strict=True)]
    gallery_shown = shown[: len(gallery)]
    pictures = {item.key: item for item in shown[len(gallery) : len(gallery) + len(flagged)]}
    comparison = None
    if derived is not None:
        keys = {image.key for image in dataset.images}
        names = [*dataset.class_names, *(n for n in derived.dataset.class_names if n not in dataset.class_names)]
        positions = np.array([names.index(name) for name in derived.dataset.class_names], dtype=np.int64)
        rest = iter(shown[len(gallery) + len(flagged) :])
        shown_pairs = [(next(rest), [_relabelled(next(rest), positions) for _ in outputs]) for _, outputs in pairs]
        comparison = Comparison(
            derived.source,
            names,
            compute_stats(derived.dataset, anchors=0),
            shown_pairs,
            sum(len(rows) for source, rows in outputs.items() if source in keys),
            _manifest_counts(derived.manifest),
        )
    return ReportData(
        title=title,
        source=source,
        class_names=dataset.class_names,
        stats=compute_stats(dataset, seed=seed),
        boxes=BoxTable.of(dataset),
        findings=list(findings),
        pictures=pictures,
        gallery=gallery_shown,
        max_images=max_images,
        seed=seed,
        deep=deep,
        comparison=comparison,
    )
