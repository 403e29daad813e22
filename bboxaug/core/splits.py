"""Which splits a command changes (`augment` and `balance`, `--splits`): the train split unless told otherwise, so
validation and test data stay as they are; `all` for every split; and a dataset with one split only (a flat VOC or
Labelme folder, whose split is `default`) is its own train split."""

from __future__ import annotations

from collections.abc import Sequence

from bboxaug.core.errors import UsageError

ALL = "all"
TRAIN = "train"


def split_names(value: str | Sequence[str]) -> tuple[str, ...]:
    """The names in a comma-separated string, or in a sequence of such strings, in order and once each."""
    values = [value] if isinstance(value, str) else list(value)
    names = [name.strip() for item in values for name in item.split(",")]
    return tuple(dict.fromkeys(name for name in names if name))


def select_splits(requested: str | Sequence[str], available: Sequence[str]) -> tuple[str, ...]:
    """The splits of a dataset with splits `available` that `requested` names: `all` is every split, and `train`
    in a dataset whose only split has another name is that split. Any other name the dataset lacks is a usage
    error listing the splits it has."""
    names = split_names(requested)
    if not names:
        raise UsageError("name at least one split, or 'all'")
    if ALL in names:
        return tuple(available)
    if len(available) == 1 and TRAIN in names:
        names = tuple(dict.fromkeys(available[0] if name == TRAIN else name for name in names))
    missing = [name for name in names if name not in available]
    if missing:
        raise UsageError(
            f"no split named {', '.join(missing)}; the dataset has {', '.join(available) or 'none'}"
            f" (choose with --splits, or '{ALL}')"
        )
    return names
