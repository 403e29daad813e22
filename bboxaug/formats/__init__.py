"""The format registry: a plain dict from name to `Format`, and detection of a source's format."""

from __future__ import annotations

from pathlib import Path

from bboxaug.core.errors import FormatError, UsageError
from bboxaug.core.model import Dataset
from bboxaug.formats.base import Format

FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> None:
    """Add a format under its name; a name can be registered once."""
    if fmt.name in FORMATS:
        raise ValueError(f"format {fmt.name!r} is already registered")
    FORMATS[fmt.name] = fmt


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise UsageError(f"unknown format {name!r}; known formats: {', '.join(FORMATS)}") from None


def for_task(fmt: Format, task: str | None, dataset: Dataset) -> Format:
    """`fmt` writing `task` (`--task`), or the task `dataset` calls for when None (`Format.choose_task`)."""
    if task is None and fmt.choose_task is not None:
        task = fmt.choose_task(dataset)
    return fmt.for_task(task)


def detect_format(src: Path) -> Format:
    """The one registered format that `src` looks like; an error naming the candidates otherwise."""
    if not src.exists():
        raise FormatError("no such file or folder", file=src)
    matches = [fmt for fmt in FORMATS.values() if fmt.detect(src)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise FormatError(
            f"cannot tell the format; known formats: {', '.join(FORMATS)} (say which with --from)", file=src
        )
    names = ", ".join(fmt.name for fmt in matches)
    raise FormatError(f"looks like more than one format ({names}); say which with --from", file=src)


def _register_builtins() -> None:
    from bboxaug.formats import coco, dota, labelme, masks, voc, yolo

    for module in (coco, voc, yolo, labelme, dota, masks):
        register(module.FORMAT)


_register_builtins()
