"""Convert a dataset from one format to another, keeping the rules every write keeps
(`bboxaug.pipeline.prepare`), and record what happened in `convert.json` in the output."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bboxaug.core.errors import UsageError
from bboxaug.core.model import Dataset
from bboxaug.core.report import OnError, Report
from bboxaug.core.version import __version__
from bboxaug.formats import detect_format, get_format
from bboxaug.io.files import atomic_write_text
from bboxaug.io.pixels import IMAGE_MODES, ImageMode
from bboxaug.pipeline.gcpause import gc_paused
from bboxaug.pipeline.manifest import dataset_counts
from bboxaug.pipeline.output import check_destination, ensure_apart, place_images, publish
from bboxaug.pipeline.prepare import apply_class_map, class_table, prepare, read_class_map

REPORT_FILE = "convert.json"


@dataclass
class SaveResult:
    """What `save` wrote: the dataset as written (renamed, clipped, sized) and the report."""

    dataset: Dataset
    report: Report
    classes: list[dict[str, Any]] = field(default_factory=list)


def save(dataset: Dataset, dst: Path | str, *, fmt: str, images: ImageMode = "copy", report: Report | None = None,
         keep_crowd: bool = False, overwrite: bool = False, jobs: int = 1, progress: bool = False,
         extra_files: Mapping[str, Any] | None = None) -> SaveResult:
    """Write `dataset` in format `fmt` into the new folder `dst`, atomically: everything goes into a temporary
    folder beside `dst`, which is renamed to `dst` only when complete. `extra_files` maps file names to JSON data
    written beside (a report or manifest)."""
    if images not in IMAGE_MODES:
        raise UsageError(f"images must be one of {', '.join(IMAGE_MODES)}, not {images!r}")
    dst = Path(dst)
    target = get_format(fmt)
    report = report or Report()
    check_destination(dst, overwrite)
    dst.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.tmp.", dir=dst.parent))
    try:
        prepared = prepare(dataset, target, report, keep_crowd=keep_crowd, jobs=jobs, progress=progress)
        prepared = place_images(prepared, target, temp, images, report, jobs=jobs, progress=progress)
        target.write(prepared, temp, report=report)
        classes = class_table(prepared, target)
        for name, data in (extra_files or {}).items():
            payload = data(prepared, report, classes) if callable(data) else data
            atomic_write_text(temp / name, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        publish(temp, dst)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return SaveResult(prepared, report, classes)


@dataclass
class ConvertResult:
    """A finished conversion: the formats, the dataset as written, and what happened on the way."""

    source_format: str
    target_format: str
    dataset: Dataset
    report: Report
    classes: list[dict[str, Any]]


@gc_paused()
def convert(src: Path | str, dst: Path | str, *, to: str, fmt_from: str | None = None,
            image_dir: Path | str | None = None, images: ImageMode = "copy", on_error: OnError = "fail",
            class_map: Mapping[str, int] | Path | str | None = None, keep_crowd: bool = False,
            overwrite: bool = False, jobs: int = 1, progress: bool = False) -> ConvertResult:
    """Convert the dataset at `src` to format `to` in the new folder `dst`, writing `convert.json` beside it."""
    src, dst = Path(src), Path(dst)
    target = get_format(to)
    ensure_apart(src, dst)
    check_destination(dst, overwrite)
    source = get_format(fmt_from) if fmt_from else detect_format(src)
    report = Report(on_error=on_error)
    dataset = source.read(src, report=report, image_dir=None if image_dir is None else Path(image_dir), jobs=jobs)
    if class_map is not None:
        origin = class_map if not isinstance(class_map, Mapping) else "class map"
        mapping = class_map if isinstance(class_map, Mapping) else read_class_map(class_map)
        dataset = apply_class_map(dataset, mapping, origin=origin)
        wanted = [mapping[c.name] for c in dataset.classes]
        given = target.class_ids(dataset.classes)
        if any(g is not None and g != w for g, w in zip(given, wanted)):
            raise UsageError(f"{target.name} numbers these classes {given}, not {wanted} as the class map asks",
                             file=origin)

    def summary(written: Dataset, final_report: Report, classes: list[dict[str, Any]]) -> dict[str, Any]:
        return {"bboxaug": __version__, "source": str(src.resolve()), "from": source.name, "to": target.name,
                **dataset_counts(written), "classes": classes, **final_report.to_json(),
                "codes": final_report.code_table()}

    result = save(dataset, dst, fmt=target.name, images=images, report=report, keep_crowd=keep_crowd,
                  overwrite=overwrite, jobs=jobs, progress=progress, extra_files={REPORT_FILE: summary})
    return ConvertResult(source.name, target.name, result.dataset, report, result.classes)
