"""Opening a source: its format (given, or detected) and the dataset read from it."""

from __future__ import annotations

from pathlib import Path

from bboxaug.core.model import Dataset
from bboxaug.core.report import OnError, Report
from bboxaug.formats import detect_format, get_format
from bboxaug.formats.base import Format
from bboxaug.pipeline.output import check_destination, ensure_apart
from bboxaug.pipeline.prepare import prepare


def load(src: Path | str, *, fmt: str | None = None, image_dir: Path | str | None = None,
         report: Report | None = None, jobs: int = 1) -> Dataset:
    """Read a dataset from `src` in format `fmt` (detected when None), on `jobs` workers where the format can."""
    src = Path(src)
    reader = get_format(fmt) if fmt else detect_format(src)
    return reader.read(src, report=report or Report(), image_dir=None if image_dir is None else Path(image_dir),
                       jobs=jobs)


def read_source(src: Path, *, to: str | None, fmt_from: str | None, image_dir: Path | str | None,
                on_error: OnError) -> tuple[Format, Format, Dataset, Report]:
    """The source format, the target format (the source's unless `to`), the dataset read, and its report."""
    source_format = get_format(fmt_from) if fmt_from else detect_format(src)
    target = get_format(to or source_format.name)
    report = Report(on_error=on_error)
    dataset = source_format.read(src, report=report, image_dir=None if image_dir is None else Path(image_dir))
    return source_format, target, dataset, report


def read_prepared(src: Path, dst: Path, *, to: str | None, fmt_from: str | None, image_dir: Path | str | None,
                  on_error: OnError, overwrite: bool, jobs: int, progress: bool
                  ) -> tuple[Format, Format, Dataset, Report]:
    """The source format, the target format, and the dataset read and prepared for the target (sizes known,
    boxes clipped, crowds dropped where the target cannot mark them, names unique)."""
    ensure_apart(src, dst)
    check_destination(dst, overwrite)
    source_format = get_format(fmt_from) if fmt_from else detect_format(src)
    target = get_format(to or source_format.name)
    report = Report(on_error=on_error)
    dataset = source_format.read(src, report=report, image_dir=None if image_dir is None else Path(image_dir))
    dataset = prepare(dataset, target, report, jobs=max(jobs, 1), progress=progress)
    return source_format, target, dataset, report
