"""Class operations: the one step that renames, merges, drops and renumbers a dataset's classes.

A class map (`--class-map FILE`, YAML or JSON, or a mapping in code) gives each source class one entry:

    car: vehicle        # rename; several classes renamed to one name are merged into one class
    truck: vehicle
    person: null        # drop: its boxes are removed (counted); images left without boxes stay as negatives
    scratch: 0          # keep the name, write the class with this id (the form that only renumbers)
    vehicle: 3          # an id for a class the map makes (or, if no class has that name, an unused class)

Classes the map does not name stay as they are. Each entry is read once, on the source's names: a rename's target
is not renamed again. A merged class takes the id, the COCO extras and the place in the class list of the source
class of its own name when that class is one of those merged, else of the first class merged into it: `car`
(id 3) and `truck` (id 8) merged into `vehicle` give `vehicle` id 3 in car's place, so COCO writes category 3;
`car: truck` leaves `truck` with id 8 where it was. When any entry gives an id, every class of the result needs
one and the classes are ordered by id instead. `--keep-classes a,b` and `--drop-classes c` then name
classes of that result. A name that no class has, in a rename, a drop or a shortcut, is a usage error listing the
classes there are: a typo must not keep a class silently.

The labels change in one numpy pass over the dataset's box table: a lookup from old position to new (-1: dropped).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bboxaug.core import codes
from bboxaug.core.errors import UsageError
from bboxaug.core.model import ClassInfo, Dataset
from bboxaug.core.report import ClassMove, Report
from bboxaug.core.table import as_table
from bboxaug.formats.base import Format

#: What a class map entry may say: a new name (rename or merge), an id (renumber), or None (drop).
Target = str | int | None


def read_class_map(path: Path | str) -> dict[str, Target]:
    """A `--class-map` file: a YAML or JSON mapping of class name to a new name, an integer id, or null."""
    path = Path(path)
    try:
        mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise UsageError(f"cannot read class map ({error})", file=path) from None
    return checked_class_map(mapping, path)


def checked_class_map(mapping: object, origin: object) -> dict[str, Target]:
    """`mapping` checked to be a class map: names to a non-empty name, an integer id or None; ids distinct."""
    if not isinstance(mapping, dict) or not all(isinstance(name, str) for name in mapping):
        raise UsageError("expected a mapping of class name to a new name, an integer id or null", file=origin)
    for name, value in mapping.items():
        if isinstance(value, bool) or not (value is None or isinstance(value, int | str)):
            raise UsageError(f"{value!r} is not a class name, an integer id or null", file=origin, field=name)
        if isinstance(value, str) and not value.strip():
            raise UsageError("an empty class name (use null to drop the class)", file=origin, field=name)
    ids = [value for value in mapping.values() if isinstance(value, int)]
    if len(set(ids)) != len(ids):
        raise UsageError("two classes share one id", file=origin)
    return dict(mapping)


def parse_names(text: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """Class names given as `a,b` (or already as a list), stripped; None when not given."""
    if text is None:
        return None
    names = text.split(",") if isinstance(text, str) else list(text)
    return tuple(name.strip() for name in names if name.strip())


@dataclass(frozen=True)
class ClassOps:
    """What to do to the classes: a class map (entries as the module docstring says; `origin` names it in
    messages), then the classes to keep (None: all) and to drop, named as the map leaves them."""

    mapping: Mapping[str, Target] = field(default_factory=dict)
    keep: tuple[str, ...] | None = None
    drop: tuple[str, ...] = ()
    origin: str = "class map"

    @classmethod
    def of(
        cls,
        class_map: Mapping[str, Target] | Path | str | None = None,
        keep: str | Sequence[str] | None = None,
        drop: str | Sequence[str] | None = None,
    ) -> ClassOps | None:
        """The operations a caller asked for (a class map file or mapping, and the shortcuts), or None."""
        if class_map is None and keep is None and drop is None:
            return None
        if class_map is None or isinstance(class_map, Mapping):
            mapping, origin = checked_class_map(dict(class_map or {}), "class map"), "class map"
        else:
            mapping, origin = read_class_map(class_map), str(class_map)
        kept = parse_names(keep)
        if kept == ():
            raise UsageError("--keep-classes names no class: it would drop every box")
        return cls(mapping, kept, parse_names(drop) or (), origin)

    def to_json(self) -> dict[str, Any]:
        """The operations as the manifest records them (and a resumed run compares)."""
        keep = None if self.keep is None else list(self.keep)
        return {"class_map": dict(self.mapping), "keep_classes": keep, "drop_classes": list(self.drop)}

    @property
    def ids(self) -> dict[str, int]:
        """The ids the map gives, by class name (empty when it gives none)."""
        return {name: value for name, value in self.mapping.items() if isinstance(value, int)}

    def apply(self, dataset: Dataset, report: Report) -> Dataset:
        """The dataset with its classes changed as asked; boxes of dropped classes removed and counted, and each
        source class's new name (None: dropped) recorded in `report.class_map`."""
        sources = dataset.class_names
        self._check_known(sources)
        targets = [self._target(name) for name in sources]
        classes = self._output_classes(dataset.classes, targets)
        kept = self._kept([c.name for c in classes])
        classes = tuple(c for c in classes if c.name in kept)
        targets = [name if name in kept else None for name in targets]
        record_mapping(report, dataset.classes, targets)
        return relabel(dataset, classes, targets, report, codes.BOXES_DROPPED_CLASS)

    def _check_known(self, sources: Sequence[str]) -> None:
        known = set(sources)
        unknown = [name for name, value in self.mapping.items() if not isinstance(value, int) and name not in known]
        if unknown:
            raise UsageError(f"unknown classes {', '.join(unknown)}; known: {', '.join(sources)}", file=self.origin)

    def _target(self, name: str) -> str | None:
        value = self.mapping.get(name, name)
        return name if isinstance(value, int) else value

    def _output_classes(self, sources: Sequence[ClassInfo], targets: Sequence[str | None]) -> tuple[ClassInfo, ...]:
        """The classes after the map: one per target name, in source order or, when the map gives ids, by id."""
        merged: dict[str, list[ClassInfo]] = {}
        for info, target in zip(sources, targets, strict=True):
            if target is not None:
                merged.setdefault(target, []).append(info)
        ids = self.ids
        if not ids:
            place = {info.name: k for k, info in enumerate(sources)}
            order = sorted(merged, key=lambda name: place[_representative(name, merged[name]).name])
            return tuple(_merged_class(name, merged[name]) for name in order)
        for name in ids:
            merged.setdefault(name, [])  # an id for a name no class has: an unused class, as declared
        missing = [name for name in merged if name not in ids]
        if missing:
            raise UsageError(f"classes without an id in the class map: {', '.join(missing)}", file=self.origin)
        return tuple(_merged_class(name, merged[name], ids[name]) for name in sorted(merged, key=ids.__getitem__))

    def _kept(self, names: Sequence[str]) -> set[str]:
        """The names left by --keep-classes and --drop-classes, each checked to be one of `names`."""
        for option, given in (("--keep-classes", self.keep or ()), ("--drop-classes", self.drop)):
            unknown = [name for name in given if name not in names]
            if unknown:
                raise UsageError(f"{option}: unknown classes {', '.join(unknown)}; known: {', '.join(names)}")
        kept = set(names if self.keep is None else self.keep)
        return kept - set(self.drop)


def _merged_class(name: str, members: Sequence[ClassInfo], class_id: int | None = None) -> ClassInfo:
    """The class `name` made of `members`: the id (unless `class_id` is given) and extras of the member of that
    name, else of the first; an unused class declared by an id alone has no extras."""
    if not members:
        return ClassInfo(class_id, name)
    first = _representative(name, members)
    return ClassInfo(first.id if class_id is None else class_id, name, first.attributes)


def _representative(name: str, members: Sequence[ClassInfo]) -> ClassInfo:
    """The member whose id, extras and place a merged class takes: the one of its name, else the first."""
    return next((info for info in members if info.name == name), members[0])


def record_mapping(report: Report, sources: Sequence[ClassInfo], targets: Sequence[str | None]) -> None:
    """Record each class's new name (None: dropped) in the report, following an earlier change if any: the
    report always maps the source's classes (with their source ids) to the final ones."""
    if not report.class_map:
        for info, target in zip(sources, targets, strict=True):
            report.class_map[info.name] = ClassMove(info.id, target)
        return
    change = {info.name: target for info, target in zip(sources, targets, strict=True)}
    for name, move in report.class_map.items():
        if move.to is not None:
            report.class_map[name] = ClassMove(move.source_id, change[move.to])


def relabel(
    dataset: Dataset,
    classes: tuple[ClassInfo, ...],
    targets: Sequence[str | None],
    report: Report,
    dropped: codes.Code,
) -> Dataset:
    """The dataset with `classes`, each box relabelled to its class's target (`targets[label]`, a name of
    `classes` or None) and the boxes whose target is None removed, counted under `dropped`."""
    position = {c.name: k for k, c in enumerate(classes)}
    lookup = np.array([-1 if name is None else position[name] for name in targets], dtype=np.int64)
    table = as_table(dataset.images)
    outside = (table.boxes.labels < 0) | (table.boxes.labels >= len(targets))
    if outside.any():
        raise UsageError(
            f"{np.count_nonzero(outside)} boxes have a class index outside the class list of {len(targets)}: "
            "their class cannot be renamed, merged or dropped (bboxaug validate lists them)"
        )
    labels = lookup[table.boxes.labels]
    keep = labels >= 0
    report.count(dropped, int(np.count_nonzero(~keep)))
    if keep.all():
        images = table.with_columns(boxes=table.boxes.with_labels(labels))
    else:
        rows = np.flatnonzero(keep)
        images = table.with_boxes(table.boxes.take(rows).with_labels(labels[rows]), table.box_owners()[rows])
    return dataset.replace(classes=classes, images=images)


def check_class_ids(dataset: Dataset, ops: ClassOps, target: Format) -> None:
    """Refuse a target format that cannot number the classes as the class map asks (YOLO numbers them by
    position: 0, 1, 2, ...)."""
    ids = ops.ids
    if not ids:
        return
    wanted = [ids.get(c.name) for c in dataset.classes]
    given = list(target.class_ids(dataset.classes))
    if any(g is not None and g != w for g, w in zip(given, wanted, strict=True)):
        raise UsageError(
            f"{target.name} numbers these classes {given}, not {wanted} as the class map asks", file=ops.origin
        )
