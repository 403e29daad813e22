"""Pre-processing steps as data: the STEPS text of `--preprocess`, the `preprocess:` list of a policy file and the
list a manifest records all become one typed `Preprocessing`, checked once, before any image is read.

The text is `STEP;STEP;...`, each step `NAME` or `NAME:ARG,ARG,...`, each argument a value (the step's parameters
in order) or `KEY=VALUE`:

    clahe[:clip=2,grid=8]              contrast-limited adaptive histogram equalisation (grid: N or NxM tiles)
    grayscale[:channels=3]             one grey channel, or (3) the grey level in all three
    autocontrast[:low=1,high=99]       linear stretch of the luminance percentiles low..high to 0..255
    crop:x0,y0,x1,y1                   the region x0 <= x < x1, y0 <= y < y1 (pixels), cut to the image
    resize:SIZE[,mode=M][,pad=114]     to SIZE (W or WxH) by letterbox (default), fit or stretch
    letterbox:SIZE[,pad=114]           resize:SIZE,mode=letterbox

A list entry (policy file or manifest) is either such a step's text or a one-key mapping `name: {params}`
(`name: VALUE` or `name: [VALUES]` for the parameters in order). `Preprocessing.to_json` writes every parameter,
defaults included, so a recorded list repeats the same work whatever later defaults become.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from bboxaug.core import codes
from bboxaug.core.errors import ImageError, UsageError
from bboxaug.geometry.letterbox import MODES, PAD_VALUE, Mode, Scaling, parse_size, scaling


def _number(value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise UsageError(f"must be a number, not {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UsageError(f"must be a number, not {value!r}")
    return float(value)


def _whole(value: Any) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"must be a whole number, not {value!r}")
    return value


def _pair(what: str) -> Callable[[Any], tuple[int, int]]:
    """A converter of `N`, `NxM`, `[N, M]` or N to two whole numbers above 0 (`what` names them in errors)."""

    def convert(value: Any) -> tuple[int, int]:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, (list, tuple)) and len(value) == 2:
            value = "x".join(map(str, value))
        try:
            if isinstance(value, str):
                return parse_size(value)
        except UsageError:
            pass
        raise UsageError(f"must be {what}, not {value!r}")

    return convert


def _choice(choices: Sequence[str]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in choices:
            raise UsageError(f"must be one of {', '.join(choices)}, not {value!r}")
        return str(value)

    return convert


@dataclass(frozen=True)
class Clahe:
    """Contrast-limited adaptive histogram equalisation (OpenCV's): on the L channel of Lab for colour images,
    on the grey level directly (a colour image whose three channels are equal counts as grey)."""

    clip: float = 2.0
    grid: tuple[int, int] = (8, 8)
    name: ClassVar[str] = "clahe"

    def __post_init__(self) -> None:
        if not self.clip > 0:
            raise UsageError(f"clip must be above 0, not {self.clip:g}")


@dataclass(frozen=True)
class Grayscale:
    """The grey level (ITU-R BT.601 luma, OpenCV's), in one channel or repeated in three (what trainers read)."""

    channels: int = 3
    name: ClassVar[str] = "grayscale"

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise UsageError(f"channels must be 1 or 3, not {self.channels}")


@dataclass(frozen=True)
class AutoContrast:
    """A linear stretch, the same for every channel so colours keep their balance: the luminance level `lo`
    goes to 0 and `hi` to 255 (clipped beyond). `lo` is the lowest level L with more than `low` % of the pixels
    at or below L, `hi` the highest level H with more than 100 - `high` % at or above H (low=0, high=100: the
    darkest and brightest pixel). An image with `hi <= lo` is left as it is."""

    low: float = 1.0
    high: float = 99.0
    name: ClassVar[str] = "autocontrast"

    def __post_init__(self) -> None:
        if not 0 <= self.low < self.high <= 100:
            raise UsageError(f"needs 0 <= low < high <= 100 (percentiles), not low={self.low:g}, high={self.high:g}")


@dataclass(frozen=True)
class Crop:
    """A fixed region of interest: pixels `x0 <= x < x1`, `y0 <= y < y1`, cut to each image's own size."""

    x0: int
    y0: int
    x1: int
    y1: int
    name: ClassVar[str] = "crop"

    def __post_init__(self) -> None:
        if not (0 <= self.x0 < self.x1 and 0 <= self.y0 < self.y1):
            raise UsageError(f"needs 0 <= x0 < x1 and 0 <= y0 < y1, not {self.x0},{self.y0},{self.x1},{self.y1}")

    def window(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The region inside a `width x height` image; ImageError when the image does not reach it."""
        if self.x0 >= width or self.y0 >= height:
            raise ImageError(
                f"the crop {self.x0},{self.y0},{self.x1},{self.y1} lies outside the {width}x{height} image",
                field="preprocess",
                code=codes.CROP_OUTSIDE_IMAGE,
            )
        return self.x0, self.y0, min(self.x1, width), min(self.y1, height)


@dataclass(frozen=True)
class Resize:
    """The image at `size` as the resize command makes it (`bboxaug.geometry.letterbox.scaling`): letterboxed on a
    canvas of grey `pad`, fitted inside, or stretched."""

    size: tuple[int, int]
    mode: Mode = "letterbox"
    pad: int = PAD_VALUE
    name: ClassVar[str] = "resize"

    def __post_init__(self) -> None:
        if not 0 <= self.pad <= 255:
            raise UsageError(f"pad must be a grey level from 0 to 255, not {self.pad}")

    def scaling(self, width: int, height: int) -> Scaling:
        return scaling(width, height, self.size, self.mode)


Step = Clahe | Grayscale | AutoContrast | Crop | Resize


@dataclass(frozen=True)
class _Kind:
    """How a step name is read: what it builds, and its parameters in order with their converters."""

    build: Callable[..., Step]
    converters: Mapping[str, Callable[[Any], Any]]


KINDS: Mapping[str, _Kind] = {
    "clahe": _Kind(Clahe, {"clip": _number, "grid": _pair("N or NxM tiles, like 8 or 8x4")}),
    "grayscale": _Kind(Grayscale, {"channels": _whole}),
    "autocontrast": _Kind(AutoContrast, {"low": _number, "high": _number}),
    "crop": _Kind(Crop, {"x0": _whole, "y0": _whole, "x1": _whole, "y1": _whole}),
    "resize": _Kind(
        Resize, {"size": _pair("W or WxH pixels, like 640 or 640x480"), "mode": _choice(MODES), "pad": _whole}
    ),
    "letterbox": _Kind(
        lambda size, pad=PAD_VALUE: Resize(size, "letterbox", pad),
        {"size": _pair("W or WxH pixels, like 640 or 640x480"), "pad": _whole},
    ),
}


def build_step(name: str, positional: Sequence[Any] = (), keywords: Mapping[str, Any] | None = None) -> Step:
    """The step `name` with its parameters: `positional` in order, then `keywords`; UsageError naming what is
    wrong (an unknown step or parameter, a value given twice or missing, a value out of range)."""
    kind = KINDS.get(name)
    if kind is None:
        raise UsageError(f"unknown step {name!r}; the steps are {', '.join(KINDS)}")
    order = list(kind.converters)
    if len(positional) > len(order):
        raise UsageError(f"{name} takes at most {len(order)} values ({','.join(order)}), not {len(positional)}")
    given = dict(zip(order, positional, strict=False))  # fewer values than parameters
    for key, value in (keywords or {}).items():
        if key not in kind.converters:
            raise UsageError(f"{name} has no parameter {key!r}; its parameters are {', '.join(order)}")
        if key in given:
            raise UsageError(f"{key} is given twice")
        given[key] = value
    converted = {}
    for key, value in given.items():
        try:
            converted[key] = kind.converters[key](value)
        except UsageError as error:
            raise UsageError(f"{key} {error.message}") from None
    try:
        return kind.build(**converted)
    except TypeError:  # a parameter without default is missing
        missing = [key for key in order if key not in converted]
        raise UsageError(f"{name} needs {','.join(missing)}") from None


def parse_step(text: str) -> Step:
    """One step of the STEPS text: `name`, or `name:value,key=value,...`."""
    name, colon, rest = text.strip().partition(":")
    if not name.strip():
        raise UsageError("empty step: steps are separated by ';'")
    positional: list[str] = []
    keywords: dict[str, str] = {}
    for argument in rest.split(",") if colon and rest.strip() else []:
        key, equals, value = (part.strip() for part in argument.partition("="))
        if not equals:
            if keywords:
                raise UsageError(f"value {key!r} after a named one: name it too")
            positional.append(key)
        elif key in keywords:
            raise UsageError(f"{key} is given twice")
        else:
            keywords[key] = value
    return build_step(name.strip().lower(), positional, keywords)


def step_from_entry(entry: Any) -> Step:
    """A step from a list entry: its STEPS text, or a one-key mapping `name: {params}` (or `name: VALUE`,
    `name: [VALUES]`, `name: null`)."""
    if isinstance(entry, str):
        return parse_step(entry)
    if not isinstance(entry, Mapping) or len(entry) != 1:
        raise UsageError(f"each entry is a step's text or one `name: {{params}}` mapping, not {entry!r}")
    [(name, params)] = entry.items()
    if not isinstance(name, str):
        raise UsageError(f"a step name must be a string, not {name!r}")
    if params is None:
        return build_step(name)
    if isinstance(params, Mapping):
        return build_step(name, keywords={str(key): value for key, value in params.items()})
    return build_step(name, params if isinstance(params, list) else [params])


def _params(step: Step, *, as_json: bool = False) -> dict[str, Any]:
    """The step's parameters by name, pairs as lists when `as_json`."""
    values = {item.name: getattr(step, item.name) for item in fields(step)}
    return {key: list(value) if as_json and isinstance(value, tuple) else value for key, value in values.items()}


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return "x".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Preprocessing:
    """The steps applied, in order, to every image a run writes; no steps: the images as they are."""

    steps: tuple[Step, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.steps)

    @classmethod
    def parse(cls, text: str) -> Preprocessing:
        """The STEPS text (see the module docstring); UsageError naming the step that is wrong."""
        steps = []
        for number, part in enumerate(text.split(";") if text.strip() else [], 1):
            try:
                steps.append(parse_step(part))
            except UsageError as error:
                raise UsageError(f"step {number} {part.strip()!r}: {error.message}") from None
        return cls(tuple(steps))

    @classmethod
    def from_json(cls, entries: Sequence[Any]) -> Preprocessing:
        """A list of entries, as a manifest records them (`to_json`) or a policy file gives them."""
        if isinstance(entries, (str, Mapping)) or not isinstance(entries, Sequence):
            raise UsageError(f"pre-processing steps are a list, not {type(entries).__name__}")
        steps = []
        for index, entry in enumerate(entries):
            try:
                steps.append(step_from_entry(entry))
            except UsageError as error:
                raise UsageError(f"preprocess[{index}]: {error.message}") from None
        return cls(tuple(steps))

    @classmethod
    def of(cls, spec: PreprocessSpec) -> Preprocessing:
        """The steps from any of their forms: a `Preprocessing`, the STEPS text, a list of entries, or None."""
        if spec is None:
            return cls()
        if isinstance(spec, Preprocessing):
            return spec
        return cls.parse(spec) if isinstance(spec, str) else cls.from_json(spec)

    def to_json(self) -> list[dict[str, dict[str, Any]]]:
        """Every step with every parameter, as plain JSON data: `Preprocessing.from_json` reads it back."""
        return [
            {
                step.name: {
                    key: list(value) if isinstance(value, tuple) else value for key, value in _params(step).items()
                }
            }
            for step in self.steps
        ]

    def describe(self) -> str:
        """The STEPS text of these steps, every parameter named (`Preprocessing.parse` reads it back)."""
        return ";".join(
            step.name + ":" + ",".join(f"{key}={_shown(value)}" for key, value in _params(step).items())
            for step in self.steps
        )

    @property
    def geometric(self) -> bool:
        """Whether a step moves pixels (crop, resize), and so boxes."""
        return any(isinstance(step, (Crop, Resize)) for step in self.steps)


PreprocessSpec = Preprocessing | str | Sequence[Any] | None

NO_PREPROCESSING = Preprocessing()

__all__ = [
    "NO_PREPROCESSING",
    "AutoContrast",
    "Clahe",
    "Crop",
    "Grayscale",
    "PreprocessSpec",
    "Preprocessing",
    "Resize",
    "Step",
]
