"""A checked augmentation policy as data: its transforms, box rules and backend, and the helpers its error
messages share.

Backends take a `Policy` and know nothing of how it was read; `bboxaug.augmentation.policy` reads and checks one,
then asks the backend to check its transforms. Keeping the data here lets both import it without importing each
other.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from bboxaug.geometry.shapes import BoxRules
from bboxaug.preprocessing.steps import NO_PREPROCESSING, Preprocessing


@dataclass(frozen=True)
class TransformSpec:
    """One transform of a policy. `line` is provenance: it takes no part in equality."""

    name: str
    params: Mapping[str, Any]  # plain JSON data, `p` included
    line: int | None = field(default=None, compare=False)  # 1-based line in the policy file


@dataclass(frozen=True)
class Policy:
    """A checked policy. Policies that do the same thing are equal: `source` takes no part in equality."""

    backend: str
    transforms: tuple[TransformSpec, ...]
    boxes: BoxRules
    source: str = field(compare=False)  # "preset:medium", "preset:auto:heavy", a file path or "<mapping>"
    serialized: Mapping[str, Any] | None = None  # an albumentations to_dict() pipeline, taken as is
    preprocess: Preprocessing = NO_PREPROCESSING  # applied to every image of every split, before any transform

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data with sorted keys, itself a valid policy: load_policy(p.to_json()) == p."""
        data: dict[str, Any] = {"backend": self.backend, "boxes": asdict(self.boxes)}
        if self.preprocess:
            data["preprocess"] = self.preprocess.to_json()
        if self.serialized is not None:
            data.update(self.serialized)
        else:
            data["transforms"] = [{spec.name: spec.params} for spec in self.transforms]
        return json.loads(json.dumps(data, sort_keys=True))


def spec_field(index: int, spec: TransformSpec) -> str:
    """The PolicyError `field` for transform `index`: "line 7: transforms[2] Affine" (no line for presets)."""
    where = f"transforms[{index}] {spec.name}"
    return where if spec.line is None else f"line {spec.line}: {where}"


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """ " (did you mean 'x'?)" for the closest choice, or "" when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
