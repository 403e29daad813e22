"""Augmentation policies: which transforms to apply, with which parameters, and which boxes to keep afterwards.

A policy is a preset name, a YAML/JSON file or a mapping, always of this shape:

    backend: albumentations                # optional, the default
    boxes: {min_visibility: 0.3}           # optional, the BoxRules fields
    preprocess:                            # optional: deterministic steps for every image of every split
      - clahe: {clip: 2, grid: 8}          #   (`bboxaug.preprocessing.steps`), applied before the transforms
    transforms:                            # a list of one-key mappings `Name: {params}`
      - HorizontalFlip: {p: 0.5}

This module checks the shape and keeps the file line of every transform, so each mistake reads
`file: line N: ...` before any image is read. Whether a transform and its parameters exist is the backend's
business (backends.get_backend(name).validate, asked last by load_policy); nothing here knows a backend.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import yaml

from bboxaug.augmentation import presets
from bboxaug.augmentation.spec import Policy, TransformSpec, suggest
from bboxaug.core.errors import PolicyError, UsageError
from bboxaug.geometry.shapes import BoxRules
from bboxaug.preprocessing.steps import NO_PREPROCESSING, Preprocessing, step_from_entry

PRESETS: tuple[str, ...] = ("light", "medium", "heavy", "auto")


DEFAULT_BACKEND = "albumentations"


TOP_LEVEL_KEYS = ("backend", "boxes", "preprocess", "transforms")


SERIALIZED_KEYS = ("__version__", "transform")  # what albumentations' to_dict / save write


BOX_SHAPES = ("corners", "ellipse")


POLICY_SUFFIXES = (".yaml", ".yml", ".json")


_MAX_DEPTH = 32  # deeper than any real policy: a recursive YAML alias


DocPath = tuple[str | int, ...]  # where a value sits in a document: ("transforms", 2), ("boxes", "min_area")


def load_policy(spec: str | Path | Mapping[str, Any], *, dataset_size: int | None = None) -> Policy:
    """Load and check a policy: a preset name, a .yaml/.yml/.json file, or an already loaded mapping.

    `dataset_size` (the number of input images) is needed by the preset `auto` and ignored otherwise. A string
    naming a preset is the preset even if a file of that name exists (pass a Path for the file). A file or
    mapping may also be an albumentations serialized pipeline (`A.save` / `A.to_dict`: keys `__version__` and
    `transform`, plus an optional `boxes`); the bbox_params / keypoint_params stored in it are ignored, since
    bboxaug moves the boxes itself. Every mistake raises PolicyError naming the file and line.
    """
    if isinstance(spec, Mapping):
        data, where = spec, _Where("<mapping>")
    elif isinstance(spec, str) and spec in PRESETS:
        data, where = _preset_data(spec, dataset_size)
    elif isinstance(spec, (str, Path)):
        data, where = _read_file(Path(spec), preset_like=isinstance(spec, str))
    else:
        raise PolicyError(f"a policy is a preset name, a file path or a mapping, not {type(spec).__name__}")
    policy = _from_data(data, where)
    _check_with_backend(policy, where)
    return policy


def describe(policy: Policy) -> str:
    """A short human listing, a header and one line per transform, for --dry-run and summaries."""
    rules = " ".join(f"{key}={value}" for key, value in asdict(policy.boxes).items())
    lines = [f"policy {policy.source} (backend {policy.backend}); boxes: {rules}"]
    if policy.preprocess:
        lines.append(f"  preprocess (every split, before the transforms): {policy.preprocess.describe()}")
    for number, spec in enumerate(policy.transforms, 1):
        params = sorted(spec.params.items(), key=lambda item: item[0] != "p")  # p first
        shown = " ".join(f"{key}={json.dumps(value)}" for key, value in params)
        lines.append(f"  {number:>2}. {spec.name:<26} {shown}".rstrip())
    if policy.serialized is not None:
        lines.append(f"  albumentations pipeline (version {policy.serialized.get('__version__')}):")
        lines += _describe_serialized(policy.serialized.get("transform"), "    ")
    return "\n".join(lines)


class _Where:
    """A document's source and the line of each place in it, to build located PolicyErrors."""

    def __init__(self, source: str, lines: dict[DocPath, int] | None = None) -> None:
        self.source = source
        self.lines = lines or {}

    def line(self, path: DocPath) -> int | None:
        """The line of `path`, else of its nearest parent that has one."""
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path)

    def error(self, message: str, path: DocPath = (), label: str | None = None) -> PolicyError:
        line = self.line(path)
        parts = ([f"line {line}"] if line else []) + ([label] if label else [])
        return PolicyError(message, file=self.source, field=": ".join(parts) or None)


def _preset_data(name: str, dataset_size: int | None) -> tuple[Mapping[str, Any], _Where]:
    if name != "auto":
        return presets.PRESET_DATA[name], _Where(f"preset:{name}")
    if dataset_size is None:
        raise PolicyError(
            "the preset 'auto' picks its strength from the dataset size, and none was given", file="preset:auto"
        )
    if isinstance(dataset_size, bool) or not isinstance(dataset_size, int) or dataset_size < 0:
        raise PolicyError(f"dataset_size must be a whole number >= 0, not {dataset_size!r}", file="preset:auto")
    strength = presets.auto_strength(dataset_size)
    return presets.PRESET_DATA[strength], _Where(f"preset:auto:{strength}")


def _read_file(path: Path, *, preset_like: bool) -> tuple[Any, _Where]:
    """Parse a policy file, keeping the line of every mapping key and list item."""
    if path.suffix.lower() not in POLICY_SUFFIXES:
        hint = suggest(str(path), PRESETS) if preset_like else ""
        raise PolicyError(
            f"'{path}' is neither a preset ({', '.join(PRESETS)}){hint} nor a .yaml, .yml or .json policy file"
        )
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PolicyError("policy file not found", file=path) from None
    except OSError as err:
        raise PolicyError(f"cannot read the policy file: {err.strerror or err}", file=path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise PolicyError("not UTF-8 text", file=path, field=f"line {line}") from None
    if not text.strip():
        raise PolicyError("the policy file is empty", file=path)
    source, is_json = str(path), path.suffix.lower() == ".json"
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)  # JSON is YAML: this gives the lines of both
        data = None if is_json else yaml.safe_load(text)
    except yaml.YAMLError as err:
        if not is_json:
            raise _yaml_error(err, source) from None
        node = None  # the rare JSON that PyYAML refuses: its lines are unknown
    if is_json:
        try:
            data = json.loads(text)  # json, not YAML 1.1, reads JSON numbers (1e5 is a number)
        except json.JSONDecodeError as err:
            raise PolicyError(f"invalid JSON: {err.msg}", file=source, field=f"line {err.lineno}") from None
    if data is None:
        raise PolicyError("the policy file holds nothing (only comments or null)", file=source)
    return data, _Where(source, _node_lines(node, source))


def _yaml_error(err: yaml.YAMLError, source: str) -> PolicyError:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = " ".join(part for part in (getattr(err, "context", None), getattr(err, "problem", None)) if part)
    return PolicyError(f"invalid YAML: {problem or err}", file=source, field=f"line {mark.line + 1}" if mark else None)


def _node_lines(node: yaml.Node | None, source: str) -> dict[DocPath, int]:
    """The line of every mapping key and list item by path; duplicate keys (which YAML merges silently) fail."""
    lines: dict[DocPath, int] = {}
    walked: set[int] = set()

    def walk(node: yaml.Node, path: DocPath) -> None:
        if id(node) in walked:  # an alias of a node already walked, maybe recursive
            return
        walked.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                    continue
                line = key.start_mark.line + 1
                if key.value in first:
                    raise PolicyError(
                        f"duplicate key '{key.value}' (first on line {first[key.value]})",
                        file=source,
                        field=f"line {line}",
                    )
                key_path = (*path, key.value)
                first[key.value] = lines[key_path] = line
                walk(value, key_path)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                item_path = (*path, index)
                lines[item_path] = item.start_mark.line + 1
                walk(item, item_path)

    if node is not None:
        lines[()] = node.start_mark.line + 1
        walk(node, ())
    return lines


def _from_data(data: Any, where: _Where) -> Policy:
    """Check the document's structure and build the Policy (the backend checks the transforms later)."""
    if not isinstance(data, Mapping):
        raise where.error(f"a policy is a mapping with the keys {', '.join(TOP_LEVEL_KEYS)}, not {_kind(data)}")
    serialized = "__version__" in data  # `transform` alone is more likely a typo of `transforms`
    allowed = (*SERIALIZED_KEYS, "backend", "boxes", "preprocess") if serialized else TOP_LEVEL_KEYS
    for key in data:
        if key not in allowed:
            place = "beside an albumentations serialized pipeline" if serialized else "at the top level"
            raise where.error(
                f"unknown key {key!r} {place}{suggest(str(key), allowed)}; allowed: {', '.join(allowed)}", (str(key),)
            )
    backend = data.get("backend", DEFAULT_BACKEND)
    if not isinstance(backend, str) or not backend:
        raise where.error(f"backend must be a name such as {DEFAULT_BACKEND!r}, not {_kind(backend)}", ("backend",))
    boxes = _box_rules(data.get("boxes"), where)
    preprocess = _preprocess(data.get("preprocess"), where)
    if not serialized:
        if "transforms" not in data:
            raise where.error("missing 'transforms': a list of `- Name: {params}` entries")
        return Policy(backend, _transforms(data["transforms"], where), boxes, where.source, preprocess=preprocess)
    if "transform" not in data:
        raise where.error(
            "an albumentations serialized pipeline needs '__version__' and 'transform'; 'transform' is missing"
        )
    if backend != "albumentations":
        raise where.error(
            f"an albumentations serialized pipeline needs backend 'albumentations', not {backend!r}", ("backend",)
        )
    if not isinstance(data["transform"], Mapping):
        raise where.error(f"'transform' must be a mapping, not {_kind(data['transform'])}", ("transform",))
    pipeline = {key: _plain(data[key], where, (key,)) for key in SERIALIZED_KEYS}
    return Policy(backend, (), boxes, where.source, serialized=pipeline, preprocess=preprocess)


def _box_rules(value: Any, where: _Where) -> BoxRules:
    if value is None:
        return BoxRules()
    names = [f.name for f in fields(BoxRules)]
    if not isinstance(value, Mapping):
        raise where.error(f"boxes must be a mapping of {', '.join(names)}, not {_kind(value)}", ("boxes",))
    rules: dict[str, Any] = {}
    for key, item in value.items():
        path, label = ("boxes", str(key)), f"boxes.{key}"
        if key not in names:
            raise where.error(f"unknown box rule {key!r}{suggest(str(key), names)}; known: {', '.join(names)}", path)
        if key == "box_shape":
            if item not in BOX_SHAPES:
                raise where.error(f"must be one of {', '.join(BOX_SHAPES)}, not {item!r}", path, label)
            rules[key] = item
            continue
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
            raise where.error(f"must be a number, not {item!r}", path, label)
        if item < 0 or (key == "min_visibility" and item > 1):
            bounds = "between 0 and 1" if key == "min_visibility" else ">= 0"
            raise where.error(f"must be {bounds}, not {item!r}", path, label)
        rules[key] = float(item)
    return BoxRules(**rules)


def _preprocess(value: Any, where: _Where) -> Preprocessing:
    """The `preprocess` list (none when absent): each entry a step's text (`clahe:clip=2`) or a `name: {params}`
    mapping."""
    if value is None:
        return NO_PREPROCESSING
    if not isinstance(value, list):
        raise where.error(f"preprocess must be a list of steps, not {_kind(value)}", ("preprocess",))
    steps = []
    for index, entry in enumerate(value):
        try:
            steps.append(step_from_entry(entry))
        except UsageError as error:
            raise where.error(error.message, ("preprocess", index), f"preprocess[{index}]") from None
    return Preprocessing(tuple(steps))


def _transforms(value: Any, where: _Where) -> tuple[TransformSpec, ...]:
    if not isinstance(value, list) or not value:
        found = "an empty list" if isinstance(value, list) else _kind(value)
        raise where.error(
            f"transforms must be a non-empty list of `- Name: {{params}}` entries, not {found}", ("transforms",)
        )
    specs = []
    for index, entry in enumerate(value):
        path: DocPath = ("transforms", index)
        label = f"transforms[{index}]"
        if isinstance(entry, str):
            raise where.error(
                f"write `- {entry}: {{}}` (each entry maps a transform name to its parameters)", path, label
            )
        if not isinstance(entry, Mapping):
            raise where.error(f"each entry is one `Name: {{params}}` mapping, not {_kind(entry)}", path, label)
        if len(entry) != 1:
            raise where.error(
                f"each entry is one `Name: {{params}}` mapping, not {len(entry)} keys "
                f"({', '.join(map(str, entry))}); indent the parameters under the name, and start "
                "each transform with its own '- '",
                path,
                label,
            )
        [(name, params)] = entry.items()
        if not isinstance(name, str) or not name.strip():
            raise where.error(f"a transform name must be a string, not {name!r}", path, label)
        path, label = (*path, name), f"{label} {name}"  # the name's line: in JSON the `{` is a line above
        if not isinstance(params, Mapping | None):
            raise where.error(f"parameters must be a mapping such as `{{p: 0.5}}`, not {_kind(params)}", path, label)
        specs.append(TransformSpec(name, _plain(params or {}, where, path, label), where.line(path)))
    return tuple(specs)


def _plain(value: Any, where: _Where, path: DocPath, label: str | None = None, depth: int = 0) -> Any:
    """A copy of `value` as plain JSON data (tuples become lists), or a PolicyError naming what is not."""
    if depth > _MAX_DEPTH:
        raise where.error(f"values nested more than {_MAX_DEPTH} levels deep (a recursive alias?)", path, label)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(item, where, path, label, depth + 1) for item in value]
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise where.error(f"keys must be strings, not {key!r}", path, label)
        return {key: _plain(item, where, path, label, depth + 1) for key, item in value.items()}
    raise where.error(
        f"values must be numbers, strings, booleans, null, lists or mappings, not {_kind(value)}", path, label
    )


def _check_with_backend(policy: Policy, where: _Where) -> None:
    """Have the policy's backend check every transform; an unknown backend is reported at the `backend` line."""
    from bboxaug.augmentation.backends import get_backend

    try:
        backend = get_backend(policy.backend)
    except PolicyError as err:
        if err.file is not None:
            raise
        raise where.error(err.message, ("backend",), "backend") from None
    backend.validate(policy)


def _describe_serialized(transform: Any, indent: str) -> list[str]:
    """One line per transform of an albumentations to_dict() tree, nested compositions indented."""
    children = transform.get("transforms") if isinstance(transform, Mapping) else None
    lines = []
    for child in children if isinstance(children, list) else []:
        if isinstance(child, Mapping):
            lines.append(f"{indent}{child.get('__class_fullname__', '?')} p={json.dumps(child.get('p'))}")
            lines += _describe_serialized(child, indent + "  ")
    return lines


def _kind(value: Any) -> str:
    """How a wrong value is named in messages: "a list", "a mapping", "int 3"."""
    for kind, name in ((Mapping, "a mapping"), (list, "a list"), (type(None), "nothing")):
        if isinstance(value, kind):
            return name
    return f"{type(value).__name__} {value!r}"
