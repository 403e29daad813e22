"""`report(src, out)`: one self-contained HTML page to look at a dataset before training, and share: its figures,
plots, every problem `validate` finds with a picture of it, and a gallery of its images with their boxes; with
`compare`, a dataset made from it (by augment, balance, tile or resize) beside it.

The report writes no dataset, so it is no pipeline `Step`: it reads the source as `stats` and `validate` do, and
the page is `bboxaug.inspection`'s. It sits with the commands because the images of a derived dataset are
matched to their sources through the manifests the commands write (`commands.lineage`).
"""

from __future__ import annotations

import json
from pathlib import Path

from bboxaug.commands.lineage import manifest_beside, origins
from bboxaug.core.errors import FormatError, UsageError
from bboxaug.core.report import Report
from bboxaug.formats.base import ReadOptions
from bboxaug.inspection.report import MAX_IMAGES, Derived, ReportData, collect, read_checked
from bboxaug.inspection.report_page import render_page
from bboxaug.io.files import atomic_write_text
from bboxaug.pipeline.classes import ClassOps
from bboxaug.pipeline.filters import Filters
from bboxaug.pipeline.source import load


def derived_from_manifest(other: Path | str) -> Derived:
    """The dataset at `other` with each image's source, read from the manifest the run that made it wrote."""
    other = Path(other)
    manifest_file = manifest_beside(other)
    if manifest_file is None:
        raise UsageError(
            "--compare: not a dataset made by bboxaug augment, balance, tile or resize (no manifest beside it)",
            file=other,
        )
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise FormatError(f"cannot read the manifest ({error})", file=manifest_file) from None
    if not isinstance(manifest, dict):
        raise FormatError("the manifest is not a JSON object", file=manifest_file)
    to = manifest.get("to")
    dataset = load(other, fmt=to if isinstance(to, str) else None, report=Report(on_error="skip"))
    return Derived(str(other), dataset, origins(other), manifest)


def report(
    src: Path | str,
    out: Path | str,
    *,
    compare: Path | str | None = None,
    fmt: str | None = None,
    image_dir: Path | str | None = None,
    max_images: int = MAX_IMAGES,
    deep: bool = False,
    title: str | None = None,
    seed: int = 0,
    jobs: int = 1,
    class_ops: ClassOps | None = None,
    filters: Filters | None = None,
    read_options: ReadOptions | None = None,
    progress: bool = False,
) -> ReportData:
    """Read the dataset at `src` (read with the format's `read_options`, its classes changed by `class_ops`,
    filtered by `filters`), check it (`deep`:
    decode every image too), and write the page to `out`; returns what the page shows. `max_images` images
    (rare classes first, chosen by `seed`) go into the gallery; thumbnails are made on `jobs` workers."""
    if max_images < 0:
        raise UsageError(f"max_images must be 0 or more (got {max_images})")
    dataset, findings = read_checked(
        src,
        fmt=fmt,
        image_dir=image_dir,
        deep=deep,
        jobs=jobs,
        class_ops=class_ops,
        filters=filters,
        read_options=read_options,
        progress=progress,
    )
    data = collect(
        dataset,
        findings,
        title=title or f"{Path(src).name}: dataset report",
        source=str(src),
        max_images=max_images,
        seed=seed,
        deep=deep,
        derived=derived_from_manifest(compare) if compare is not None else None,
        jobs=jobs,
        progress=progress,
    )
    atomic_write_text(Path(out), render_page(data))
    return data
