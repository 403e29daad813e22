"""Opening a source: its format (given, or detected) and the dataset read from it, or a dataset already in
memory; and `load`, the same for a caller who wants only the dataset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bboxaug.core.model import Dataset
from bboxaug.core.report import OnError, Report
from bboxaug.formats import detect_format, get_format
from bboxaug.pipeline.classes import ClassOps
from bboxaug.pipeline.filters import Filters


@dataclass(frozen=True)
class Source:
    """What a run reads: a file or folder in format `fmt` (detected when None) with its images in `image_dir`
    when they are not where the layout puts them, or a dataset already in memory (`origin`). `on_error`
    decides what a malformed item does (stop, or skip it and report it) unless a `report` to add to is given;
    `class_ops` rename, merge, drop and renumber the classes as the source is opened, and `filters` drop small
    boxes, negatives and empty classes (in `prepare` for a run; right after the class operations for `load`)."""

    origin: Path | Dataset
    fmt: str | None = None
    image_dir: Path | None = None
    on_error: OnError = "fail"
    class_ops: ClassOps | None = None
    report: Report | None = None
    filters: Filters | None = None

    def __post_init__(self) -> None:
        if isinstance(self.origin, Path):  # workers may run in another folder (reused processes, a cluster)
            object.__setattr__(self, "origin", self.origin.absolute())
        if self.image_dir is not None:
            object.__setattr__(self, "image_dir", self.image_dir.absolute())

    @classmethod
    def at(
        cls,
        src: Path | str,
        fmt: str | None = None,
        image_dir: Path | str | None = None,
        on_error: OnError = "fail",
        class_ops: ClassOps | None = None,
        report: Report | None = None,
        filters: Filters | None = None,
    ) -> Source:
        """The source at a path given as a string or a Path, as the public functions take it."""
        image_folder = None if image_dir is None else Path(image_dir)
        return cls(Path(src), fmt, image_folder, on_error, class_ops, report, filters)

    @property
    def path(self) -> Path | None:
        return self.origin if isinstance(self.origin, Path) else None

    def describe(self) -> str:
        """The source as the manifest records it: its absolute path."""
        return str(self.origin.resolve()) if isinstance(self.origin, Path) else "<dataset in memory>"


def open_source(source: Source, *, jobs: int = 1) -> tuple[str | None, Dataset, Report]:
    """The source's format name (None for a dataset in memory), the dataset with the class operations applied,
    and the report reading began."""
    report = source.report or Report(on_error=source.on_error)
    if isinstance(source.origin, Dataset):
        fmt, dataset = source.fmt, source.origin
    else:
        reader = get_format(source.fmt) if source.fmt else detect_format(source.origin)
        fmt, dataset = reader.name, reader.read(source.origin, report=report, image_dir=source.image_dir, jobs=jobs)
    if source.class_ops is not None:
        dataset = source.class_ops.apply(dataset, report)
    return fmt, dataset, report


def load(
    src: Path | str,
    *,
    fmt: str | None = None,
    image_dir: Path | str | None = None,
    report: Report | None = None,
    jobs: int = 1,
    class_ops: ClassOps | None = None,
    filters: Filters | None = None,
) -> Dataset:
    """Read a dataset from `src` in format `fmt` (detected when None), on `jobs` workers where the format can;
    with its classes changed by `class_ops` and filtered by `filters` (boxes as read, not clipped: what
    `stats`, `validate` and `preview` look at)."""
    source = Source.at(src, fmt, image_dir, class_ops=class_ops, report=report)
    _, dataset, report = open_source(source, jobs=jobs)
    return dataset if filters is None else filters.apply(dataset, report)
