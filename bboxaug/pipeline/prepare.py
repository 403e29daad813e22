"""The rules every write keeps, applied to a dataset before a target format writes it:
- image sizes missing from the annotations come from image headers, never a full decode;
- boxes are clipped to their image and degenerate ones dropped, both counted;
- crowd regions are dropped for formats that cannot mark them (unless kept on purpose), counted;
- oriented boxes are left out for formats that cannot write them (the upright box, their envelope, is written),
  counted;
- two images that would share an annotation file or image path in the target layout are renamed
  deterministically, never overwritten, and the renames are recorded;
- the filters asked for drop small boxes, negatives and empty classes (`bboxaug.pipeline.filters`), counted;
- the class table records each class's source and output id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np

from bboxaug.core import codes
from bboxaug.core.errors import ImageError
from bboxaug.core.model import Boxes, Dataset, ImageRecord, image_key, text_column
from bboxaug.core.report import ClassMove, Problem, Report
from bboxaug.core.table import UNKNOWN, ImageTable, as_table
from bboxaug.formats.base import Format
from bboxaug.io.headers import image_size
from bboxaug.io.names import suffixed_name
from bboxaug.pipeline.filters import Filters
from bboxaug.runtime.parallel import run_parallel


def _size_or_problem(image: ImageRecord) -> tuple[int, int] | Problem:
    """`image_size`, or the problem that prevented it (a problem travels back from a worker; an error would lose
    its file and field)."""
    try:
        return image_size(image)
    except ImageError as error:
        return Problem.from_error(error)


def fill_sizes(
    dataset: Dataset,
    report: Report,
    *,
    unknown: Literal["skip", "keep"] = "skip",
    jobs: int = 1,
    progress: bool = False,
) -> Dataset:
    """Every image's size, from its header where the annotation has none. An image whose size cannot be known is
    skipped as the report's policy says, or, with `unknown="keep"`, kept without a size (figures that count it
    as unknown)."""
    table = as_table(dataset.images)
    missing = np.flatnonzero((table.widths == UNKNOWN) | (table.heights == UNKNOWN))
    if not len(missing):
        return dataset.replace(images=table)
    found = run_parallel(
        _size_or_problem,
        [table[k] for k in missing.tolist()],
        jobs=jobs,
        description="reading sizes",
        progress=progress,
    )
    widths, heights = table.widths.copy(), table.heights.copy()
    keep = np.ones(len(table), dtype=bool)
    for k, size in zip(missing.tolist(), found, strict=True):
        if not isinstance(size, Problem):
            widths[k], heights[k] = size
        elif unknown != "keep":
            keep[k] = False
            with report.item():
                raise ImageError(size.message, file=size.file, field=size.field, code=size.code)
    table = table.with_columns(widths=widths, heights=heights)
    return dataset.replace(images=table if keep.all() else table.subset(np.flatnonzero(keep)))


def sanitize(table: ImageTable, report: Report, *, drop_crowd: bool) -> ImageTable:
    """Drop crowd regions (if asked), clip boxes to their image, drop boxes with no area left; count each. One
    pass over every box of the dataset, with one boolean per box for the usual case (every box already inside
    its image); only the boxes that need it are clipped. The images must have their sizes."""
    boxes, owners = table.boxes, table.box_owners()
    xyxy = boxes.xyxy
    widths, heights = table.widths[owners], table.heights[owners]
    fine = np.isfinite(xyxy).all(axis=1)
    fine &= (xyxy[:, 0] >= 0) & (xyxy[:, 1] >= 0) & (xyxy[:, 2] <= widths) & (xyxy[:, 3] <= heights)
    fine &= (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
    keep = np.ones(len(boxes), dtype=bool)
    if drop_crowd and "iscrowd" in boxes.columns:
        keep = ~boxes.columns["iscrowd"]
        report.count("dropped_crowd", int(np.count_nonzero(~keep)))
    if fine.all() and keep.all():
        return table
    fix = np.flatnonzero(~fine)
    limits = np.stack([widths[fix], heights[fix], widths[fix], heights[fix]], axis=1).astype(np.float64)
    before = xyxy[fix]
    clipped = np.clip(before, 0.0, limits)
    finite = np.isfinite(before).all(axis=1)
    whole = finite & (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
    changed = finite & (clipped != before).any(axis=1)
    report.count("clipped", int(np.count_nonzero(changed & whole & keep[fix])))
    report.count("dropped_degenerate", int(np.count_nonzero(~whole & keep[fix])))
    keep[fix[~whole]] = False
    rows = np.flatnonzero(keep)
    if changed.any():
        corners = xyxy.copy()
        corners[fix] = np.where(finite[:, None], clipped, before)
        boxes = boxes.with_xyxy(corners)
    return table.with_boxes(boxes.take(rows) if len(rows) < len(boxes) else boxes, owners[rows])


class OutputNames:
    """The annotation slots and image paths taken so far in a target layout. An image that would take one
    already taken gets a new name (`a_1.png`), so nothing is overwritten; every rename is recorded."""

    def __init__(self, target: Format, report: Report) -> None:
        self.target, self.report = target, report
        self.taken: set[str] = set()

    def _keys(self, split: str, name: str) -> tuple[str, str]:
        return self.target.annotation_key(split, name), self.target.image_path(split, name)

    def claim_name(self, split: str, name: str) -> str:
        """A name free in the layout for image `name` of `split` (its own when free), which is then taken. Each
        name's keys are made once: this runs for every image of a conversion."""
        taken = self.taken
        annotation, path = self._keys(split, name)
        if annotation in taken or path in taken:
            free, counter = name, 0
            while annotation in taken or path in taken:
                counter += 1
                free = suffixed_name(name, f"_{counter}")
                annotation, path = self._keys(split, free)
            self.report.renamed[image_key(split, name)] = image_key(split, free)
            self.report.count("renamed")
            name = free
        taken.add(annotation)
        taken.add(path)
        return name

    def claim(self, image: ImageRecord) -> ImageRecord:
        """The image under a name free in the layout (its own when free), which is then taken."""
        name = self.claim_name(image.split, image.name)
        return image if name == image.name else image.replace(name=name)


def names_free(names: Iterable[tuple[str, str]], target: Format, count: int = -1) -> bool:
    """Whether `names` ((split, name) pairs, in claiming order; `count` of them when known) take no annotation slot
    or image path of the target layout twice, as `OutputNames` takes them; checked on 64-bit hashes of the keys,
    sorted in place, so neither a set of names nor a second array is held (a shared hash only sends the caller to
    claiming the names one by one)."""
    keys = np.fromiter(
        (
            hash(key)
            for split, name in names
            for key in (target.annotation_key(split, name), target.image_path(split, name))
        ),
        np.int64,
        count=2 * count if count >= 0 else -1,
    )
    keys.sort()
    return not bool((keys[1:] == keys[:-1]).any())


def rename_collisions(dataset: Dataset, target: Format, report: Report) -> Dataset:
    """The dataset with a new name (`a_1.png`) for each image whose annotation slot or image path in the target
    layout is already taken by an earlier image; every rename recorded."""
    names = OutputNames(target, report)
    if not isinstance(dataset.images, ImageTable):
        return dataset.replace(images=tuple(names.claim(image) for image in dataset.images))
    table = dataset.images
    if names_free(table.split_name_pairs(), target, len(table)):
        return dataset  # nothing to rename, and no name claimed one by one
    claimed = [names.claim_name(split, name) for split, name in table.split_name_pairs()]
    return dataset if not report.renamed else dataset.replace(images=table.with_columns(names=text_column(claimed)))


def prepare(
    dataset: Dataset,
    target: Format,
    report: Report,
    *,
    keep_crowd: bool = False,
    filters: Filters | None = None,
    jobs: int = 1,
    progress: bool = False,
) -> Dataset:
    """Apply every conversion rule, then the `filters` (on boxes already clipped), so `target.write` gets a
    dataset it can write as is."""
    dataset = fill_sizes(dataset, report, jobs=jobs, progress=progress)
    drop_crowd = not (target.keeps_crowd or keep_crowd)
    table = sanitize(as_table(dataset.images), report, drop_crowd=drop_crowd)
    dataset = dataset.replace(images=table if target.keeps_oriented else upright_only(table, report))
    if filters is not None:
        dataset = filters.apply(dataset, report)
    return rename_collisions(dataset, target, report)


def upright_only(table: ImageTable, report: Report) -> ImageTable:
    """The table without its oriented boxes, for a target that writes upright boxes only; each box that had one
    is counted (its upright box is already the quad's envelope)."""
    quads = table.boxes.columns.get("obb")
    if quads is None:
        return table
    report.count(codes.OBB_WRITTEN_UPRIGHT, int(np.count_nonzero(quads != None)))  # noqa: E711
    boxes = table.boxes
    columns = {name: values for name, values in boxes.columns.items() if name != "obb"}
    return table.with_columns(boxes=Boxes.wrap(boxes.xyxy, boxes.labels, columns))


def class_table(dataset: Dataset, target: Format) -> list[dict[str, Any]]:
    """Each class with its source id and the id the target format gives it (None where it stores names only)."""
    output_ids = target.class_ids(dataset.classes)
    return [
        {"name": c.name, "source_id": c.id, "output_id": output_id}
        for c, output_id in zip(dataset.classes, output_ids, strict=True)
    ]


def class_moves(moves: dict[str, ClassMove], classes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each source class with its source id, its class in the output (None: dropped) and that class's output id
    (from `class_table`'s rows): every old -> new id of a run whose classes changed."""
    output_ids = {row["name"]: row["output_id"] for row in classes}
    return [
        {"name": name, "source_id": move.source_id, "to": move.to, "output_id": output_ids.get(move.to)}
        for name, move in moves.items()
    ]
