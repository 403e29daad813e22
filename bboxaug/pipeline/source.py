"""Opening a source: its format (given, or detected) and the dataset read from it, or a dataset already in
memory; and `load`, the same for a caller who wants only the dataset. `Readable` is what the pipeline reads from:
one `Source`, or several joined into one (`bboxaug.pipeline.join.JoinedSource`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bboxaug.core.model import Dataset
from bboxaug.core.report import OnError, Report
from bboxaug.formats import detect_format, get_format
from bboxaug.formats.base import ReadOptions
from bboxaug.pipeline.classes import ClassOps
from bboxaug.pipeline.filters import Filters


@dataclass(frozen=True)
class Source:
    """What a run reads: a file or folder in format `fmt` (detected when None) with its images in `image_dir`
    when they are not where the layout puts them, or a dataset already in memory (`origin`). `on_error`
    decides what a malformed item does (stop, or skip it and report it) unless a `report` to add to is given;
    `class_ops` rename, merge, drop and renumber the classes as the source is opened, and `filters` drop small
    boxes, negatives and empty classes (in `prepare` for a run; right after the class operations for `load`).
    `read_options` are the format's own reader options (the masks format's `threshold` ...), refused by a format
    that takes none."""

    origin: Path | Dataset
    fmt: str | None = None
    image_dir: Path | None = None
    on_error: OnError = "fail"
    class_ops: ClassOps | None = None
    report: Report | None = None
    filters: Filters | None = None
    read_options: ReadOptions | None = None

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
        read_options: ReadOptions | None = None,
    ) -> Source:
        """The source at a path given as a string or a Path, as the public functions take it."""
        image_folder = None if image_dir is None else Path(image_dir)
        return cls(Path(src), fmt, image_folder, on_error, class_ops, report, filters, read_options)

    @property
    def path(self) -> Path | None:
        return self.origin if isinstance(self.origin, Path) else None

    @property
    def paths(self) -> tuple[Path, ...]:
        """The files or folders read (none for a dataset in memory): the output must stay apart from each."""
        return () if self.path is None else (self.path,)

    def describe(self) -> str:
        """The source as the manifest records it: its absolute path."""
        return str(self.origin.resolve()) if isinstance(self.origin, Path) else "<dataset in memory>"

    def open(self, *, jobs: int = 1, progress: bool = False) -> Opened:
        """The source read (`open_source`); its notes are the reader options given, if any (the manifest
        records them)."""
        fmt, dataset, report = open_source(self, jobs=jobs)
        given = {name: value for name, value in (self.read_options or {}).items() if value is not None}
        notes = {"read_options": {name: _plain(value) for name, value in given.items()}} if given else {}
        return Opened(fmt, dataset, report, notes)


@dataclass(frozen=True)
class Opened:
    """A source once read: its format name (None for a dataset in memory), the dataset, the report reading began,
    and what opening it did that the manifest records (`notes`, such as the record of a merge)."""

    fmt: str | None
    dataset: Dataset
    report: Report
    notes: Mapping[str, Any] = field(default_factory=dict)


class Readable(Protocol):
    """What a run reads from: the paths it must not write into, the class operations applied when it is opened
    and the filters `prepare` applies (both recorded in the manifest), its description in the manifest, and how
    to open it."""

    @property
    def paths(self) -> tuple[Path, ...]: ...

    @property
    def class_ops(self) -> ClassOps | None: ...

    @property
    def filters(self) -> Filters | None: ...

    def describe(self) -> str | list[str]: ...

    def open(self, *, jobs: int = 1, progress: bool = False) -> Opened: ...


def _plain(value: Any) -> Any:
    """A reader option as JSON holds it: a path as its absolute text, anything else as it is."""
    return str(value.absolute()) if isinstance(value, Path) else value


def open_source(source: Source, *, jobs: int = 1) -> tuple[str | None, Dataset, Report]:
    """The source's format name (None for a dataset in memory), the dataset with the class operations applied,
    and the report reading began."""
    report = source.report or Report(on_error=source.on_error)
    if isinstance(source.origin, Dataset):
        fmt, dataset = source.fmt, source.origin
    else:
        found = get_format(source.fmt) if source.fmt else detect_format(source.origin)
        read = found.reader(source.read_options)
        fmt, dataset = found.name, read(source.origin, report=report, image_dir=source.image_dir, jobs=jobs)
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
    read_options: ReadOptions | None = None,
) -> Dataset:
    """Read a dataset from `src` in format `fmt` (detected when None), on `jobs` workers where the format can,
    with the format's own `read_options` (the masks format's `class_name`, `threshold`, `mask_classes`,
    `connectivity`, `min_area`); with its classes changed by `class_ops` and filtered by `filters` (boxes as
    read, not clipped: what `stats`, `validate` and `preview` look at)."""
    source = Source.at(src, fmt, image_dir, class_ops=class_ops, report=report, read_options=read_options)
    _, dataset, report = open_source(source, jobs=jobs)
    return dataset if filters is None else filters.apply(dataset, report)
