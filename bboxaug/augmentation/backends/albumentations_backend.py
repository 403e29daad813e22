"""The albumentations backend (2.0.x): policies checked strictly, then one seeded A.Compose moving pixels and points.

Checks (`refusal`): every transform is built with warnings turned into errors (albumentations warns, rather than
fails, on unknown, deprecated or adjusted parameters), and a transform is refused when it cannot carry boxes:
it moves pixels without moving keypoints, needs data a detection dataset lacks (masks, other images), moves
points inexactly (non-linear warps), changes the pixel type or channel count, or fills borders by mirroring,
which repeats objects nobody labelled.

Coordinates: albumentations keypoints sit on pixel centres for flips, rotations and affine maps (a flip maps x to
W-1-x), so points go in as `x - 0.5` and come back `+ 0.5`; its resizes, however, scale keypoints as continuous
coordinates, so those transforms get the shift undone around them, and the two whose output size is rounded
(RandomScale, LongestMaxSize / SmallestMaxSize) are scaled by the size actually produced.

Randomness: before every call the pipeline gets one numpy and one Python generator made from the seed, shared by
all its transforms, so each call is a pure function of its inputs and seed. (`Compose.set_random_seed` would
give every transform its own generator with the same seed, making e.g. two flips with equal `p` always fire
together.) Greyscale images skip the transforms that need three channels (GREYSCALE_SKIPPED).

Paths: `build` wraps these composes in `fused.FusedPipeline` (one warp per copy, the same sampled parameters)
when every spatial transform of the policy is a matrix it knows, and runs them transform by transform
otherwise; `geometry` says which, and why.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import inspect
import random
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import albumentations as A
import cv2
import numpy as np
from albumentations.augmentations.crops.transforms import _BaseRandomSizedCrop
from albumentations.augmentations.geometric.distortion import BaseDistortion
from albumentations.augmentations.geometric.resize import MaxSizeTransform
from albumentations.core.composition import BaseCompose
from albumentations.core.transforms_interface import BasicTransform, DualTransform, Transform3D
from albumentations.core.type_definitions import Targets

from bboxaug.augmentation.backends import Pipeline
from bboxaug.augmentation.spec import Policy, spec_field
from bboxaug.core.errors import PolicyError

Transform = BasicTransform | BaseCompose


#: Transforms refused by name, with the reason shown to the user. Compositions not listed here can be nested
#: (`OneOf: {transforms: [{Blur: {}}, ...], p: 0.3}`); a nested serialized `Compose` is built as a Sequential.
REFUSED = {
    "Lambda": "it runs Python functions, which a policy cannot hold",
    "Normalize": "it turns pixels into floats, and bboxaug writes 8-bit images",
    "ToFloat": "it turns pixels into floats, and bboxaug writes 8-bit images",
    "FromFloat": "it expects float pixels, and bboxaug reads 8-bit images",
    "ToRGB": "it changes the number of channels; a copy keeps its source's channels",
    "RandomGridShuffle": "it shuffles image tiles, so the parts of one object land in different places",
    "ConstrainedCoarseDropout": "it places its holes from masks or box labels, which bboxaug does not pass",
    "CropNonEmptyMaskIfExists": "it chooses its crop from a mask, which bboxaug does not pass",
    "ReplayCompose": "it replays recorded parameters; bboxaug seeds every call instead",
    "SelectiveChannelTransform": "it works on chosen channels, which greyscale images lack",
    "Compose": "a policy is already one Compose; group nested transforms with Sequential",
}


REFUSED_FAMILIES: tuple[tuple[type, str], ...] = (
    (
        BaseDistortion,
        "it is a non-linear warp that albumentations moves points through only to whole pixels, "
        "dropping or clamping those outside the image, so box shapes cannot follow it",
    ),
    (
        A.GridElasticDeform,
        "it is a non-linear warp that leaves points outside the image where they were, so box shapes cannot follow it",
    ),
    (Transform3D, "it works on 3-D volumes, not images"),
)


#: Border modes that fill uncovered area with image content, duplicating objects that have no boxes.
MIRRORING_BORDERS = {
    cv2.BORDER_REFLECT: "BORDER_REFLECT",
    cv2.BORDER_REFLECT_101: "BORDER_REFLECT_101",
    cv2.BORDER_WRAP: "BORDER_WRAP",
}


#: Transforms that fail on one-channel images in albumentations 2.0.8; greyscale images skip them (as if their
#: `p` came up "no"). Colour transforms that work on one channel (HueSaturationValue, RGBShift, ...) still apply.
GREYSCALE_SKIPPED = frozenset(
    {
        "ChannelDropout",
        "ChromaticAberration",
        "HEStain",
        "ISONoise",
        "PlanckianJitter",
        "RandomFog",
        "RandomGravel",
        "RandomRain",
        "RandomSnow",
        "RandomSunFlare",
        "Spatter",
    }
)


#: What albumentations says, on every call, about transforms that do less on one channel; expected, so silenced.
GREYSCALE_NOTES = (
    "HueSaturationValue: hue_shift and sat_shift are not applicable to grayscale image",
    "The image is already gray",
)


@functools.cache
def transform_names() -> list[str]:
    """Every albumentations transform or composition a policy may name (refused ones included)."""
    return sorted(
        name
        for name, value in vars(A).items()
        if inspect.isclass(value)
        and issubclass(value, (BasicTransform, BaseCompose))
        and not inspect.isabstract(value)
        and name not in ("BasicTransform", "DualTransform", "ImageOnlyTransform", "Transform3D", "BaseCompose")
    )


def class_refusal(cls: type) -> str | None:
    """Why every transform of class `cls` is refused for detection, or None."""
    if cls.__name__ in REFUSED:
        return REFUSED[cls.__name__]
    targets = set(getattr(cls, "_targets", ()) or ())
    if (issubclass(cls, DualTransform) or Targets.MASK in targets) and Targets.KEYPOINTS not in targets:
        return "it moves pixels but not keypoints, so it cannot carry boxes"
    return next((reason for family, reason in REFUSED_FAMILIES if issubclass(cls, family)), None)


def refusal(transform: BasicTransform) -> str | None:
    """Why `transform` (its class, or its parameters) cannot be part of a detection policy, or None."""
    reason = class_refusal(type(transform))
    if reason:
        return reason
    needs = [key for key in transform.targets_as_params if key not in ("image", "bboxes", "keypoints")]
    if needs:
        return f"it needs extra input ({', '.join(needs)}) that a detection dataset does not provide"
    border = getattr(transform, "border_mode", None)
    if border in MIRRORING_BORDERS:
        return (
            f"border_mode {border} (cv2.{MIRRORING_BORDERS[border]}) fills the uncovered area with copies "
            "of the image, repeating objects that have no boxes; use border_mode: 0 (cv2.BORDER_CONSTANT) "
            "with fill: 0"
        )
    if getattr(transform, "num_output_channels", 3) != 3:
        return "num_output_channels other than 3 changes the number of channels; a copy keeps its source's"
    return None


class _Place:
    """Where a transform sits in the policy, for error messages: file and field."""

    def __init__(self, source: str, field: str) -> None:
        self.source, self.field = source, field

    def child(self, index: int, name: str) -> _Place:
        return _Place(self.source, f"{self.field} > transforms[{index}] {name}")

    def error(self, message: str) -> PolicyError:
        return PolicyError(message, file=self.source, field=self.field)


def _transform_class(name: str, place: _Place) -> type[Transform]:
    names = transform_names()
    if name not in names:
        lower = {known.lower(): known for known in names}
        close = [lower[name.lower()]] if name.lower() in lower else difflib.get_close_matches(name, names, n=3)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        raise place.error(f"unknown albumentations transform {name!r}{hint}")
    cls = getattr(A, name)
    reason = class_refusal(cls)  # before construction, so it is the message even when parameters are missing
    if reason:
        raise place.error(f"{name} cannot be used for detection: {reason}")
    return cls


def _construct(name: str, params: Mapping[str, Any], place: _Place, *, serialized: bool = False) -> Transform:
    """Build one transform (compositions with their children) and refuse what cannot carry boxes.

    Serialized transforms may carry keys their class does not take but albumentations' own `to_dict` writes
    (derived state such as RGBShift's `noise_params`); those are left out. Any other unknown key is an error."""
    cls = A.Sequential if serialized and name == "Compose" else _transform_class(name, place)
    params = dict(params)
    if serialized and name == "Compose":
        params = {key: params[key] for key in ("transforms", "p") if key in params}
    elif serialized and "p" not in params:
        raise place.error("no 'p' given (albumentations would assume 0.5); write the probability")
    accepted = [key for key in inspect.signature(cls.__init__).parameters if key != "self"]
    unknown = [key for key in params if key not in accepted]
    if unknown and not serialized:
        raise place.error(_unknown_parameter(name, unknown[0], accepted))
    params = {key: value for key, value in params.items() if key in accepted}
    if issubclass(cls, BaseCompose):
        params["transforms"] = _children(params.get("transforms"), place, serialized)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            transform = cls(**params)
            written = set(transform.to_dict_private()) if unknown else set()
    except Warning as warning:
        raise place.error(f"albumentations warns: {warning}") from None
    except Exception as error:  # pydantic, TypeError, ...: all mean bad parameters
        raise place.error(f"bad parameters: {_short(error)}") from None
    for key in unknown:
        if key not in written:
            raise place.error(_unknown_parameter(name, key, accepted))
    if isinstance(transform, BasicTransform):
        reason = refusal(transform)
        if reason:
            raise place.error(f"{name} cannot be used for detection: {reason}")
    return transform


def _unknown_parameter(name: str, key: str, accepted: list[str]) -> str:
    close = difflib.get_close_matches(str(key), accepted, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown parameter {key!r} for {name}{hint}; known: {', '.join(accepted)}"


def _children(value: Any, place: _Place, serialized: bool) -> list[Transform]:
    """The nested transforms of a composition: `{Name: {params}}` entries, or serialized transform dicts."""
    if not isinstance(value, list) or not value:
        raise place.error("a composition needs `transforms`: a non-empty list of `{Name: {params}}` entries")
    children = []
    for index, entry in enumerate(value):
        if isinstance(entry, Mapping) and "__class_fullname__" in entry:
            name = str(entry["__class_fullname__"]).rsplit(".", 1)[-1]
            params = {key: item for key, item in entry.items() if key != "__class_fullname__"}
            children.append(_construct(name, params, place.child(index, name), serialized=True))
        elif isinstance(entry, Mapping) and len(entry) == 1 and not serialized:
            [(name, params)] = entry.items()
            if params is not None and not isinstance(params, Mapping):
                raise place.child(index, str(name)).error("parameters must be a mapping such as `{p: 0.5}`")
            children.append(_construct(str(name), params or {}, place.child(index, str(name))))
        else:
            raise place.child(index, "?").error("each nested transform is one `Name: {params}` mapping")
    return children


def _short(error: Exception) -> str:
    """A one-line message from a (pydantic) exception: its lines joined, without documentation links."""
    lines = [
        line.strip()
        for line in str(error).splitlines()
        if line.strip() and not line.strip().startswith("For further information")
    ]
    return "; ".join(lines) or type(error).__name__


def _transforms(policy: Policy) -> tuple[list[Transform], float]:
    """The policy's top-level transforms, checked, and the pipeline's own probability."""
    if policy.serialized is None:
        return [
            _construct(spec.name, spec.params, _Place(policy.source, spec_field(index, spec)))
            for index, spec in enumerate(policy.transforms)
        ], 1.0
    root = policy.serialized.get("transform")
    place = _Place(policy.source, "transform")
    if not isinstance(root, Mapping) or "__class_fullname__" not in root:
        raise place.error("a serialized pipeline's 'transform' needs a '__class_fullname__'")
    if str(root["__class_fullname__"]).rsplit(".", 1)[-1] == "Compose":
        return _children(root.get("transforms"), place, serialized=True), float(root.get("p", 1.0))
    return _children([root], _Place(policy.source, "transform"), serialized=True), 1.0


def _offset(keypoints: np.ndarray, delta: float) -> np.ndarray:
    moved = np.array(keypoints, dtype=np.float64)
    moved[:, :2] += delta
    return moved


def _continuous(function: Callable[..., np.ndarray], keypoints: np.ndarray, **params: Any) -> np.ndarray:
    """Run a keypoint function that treats coordinates as continuous on pixel-centre keypoints."""
    return _offset(function(_offset(keypoints, 0.5), **params), -0.5)


def _resized(
    new_size: Callable[[int, float], int], function: Callable[..., np.ndarray], keypoints: np.ndarray, **params: Any
) -> np.ndarray:
    """Scale keypoints by the size the image was actually resized to (albumentations uses the unrounded scale)."""
    moved = np.array(function(keypoints, **params), dtype=np.float64)  # keeps angle / scale columns
    height, width = params["shape"][:2]
    for axis, size in ((0, width), (1, height)):
        moved[:, axis] = (keypoints[:, axis] + 0.5) * (new_size(size, params["scale"]) / size) - 0.5
    return moved


def _truncated(size: int, scale: float) -> int:  # RandomScale's output size
    return int(size * scale)


def _rounded(size: int, scale: float) -> int:  # LongestMaxSize's and SmallestMaxSize's output size
    return max(1, round(size * scale))


_KEYPOINT_FIXES: tuple[tuple[type | tuple[type, ...], Callable[..., Any]], ...] = (
    (A.RandomScale, functools.partial(_resized, _truncated)),
    (MaxSizeTransform, functools.partial(_resized, _rounded)),
    ((A.Resize, _BaseRandomSizedCrop, A.RandomSizedBBoxSafeCrop, A.CropAndPad), _continuous),
)


def _prepare(transform: Transform, greyscale: bool) -> Transform:
    """Fix keypoint conventions in place and, for greyscale pipelines, swap 3-channel-only transforms for NoOp."""
    if isinstance(transform, BaseCompose):
        transform.transforms = [_prepare(child, greyscale) for child in transform.transforms]
        return transform
    if greyscale and type(transform).__name__ in GREYSCALE_SKIPPED:
        return A.NoOp(p=transform.p)
    function = transform._key2func.get("keypoints")  # the hook albumentations calls per target
    for family, fix in _KEYPOINT_FIXES:
        if function is not None and isinstance(transform, family):
            transform._key2func["keypoints"] = functools.partial(fix, function)
            break
    return transform


class AlbumentationsPipeline:
    """A built policy: one A.Compose for colour images and one for greyscale images. Boxes are handed to
    albumentations only when a transform steers by them (its box bookkeeping costs about 1.5 ms per 1280x720
    image), and its moved boxes are ignored. Without `keypoints` the composes move no points (the fused path
    moves them by its matrix)."""

    takes_bgr = False

    def __init__(self, policy: Policy, *, keypoints: bool = True) -> None:
        self.composes = {greyscale: self._compose(policy, greyscale, keypoints) for greyscale in (False, True)}
        self._steered = _steered_by_boxes(self.composes[False])

    @staticmethod
    def _compose(policy: Policy, greyscale: bool, keypoints: bool) -> A.Compose:
        transforms, p = _transforms(policy)
        transforms = [_prepare(transform, greyscale) for transform in transforms]
        box_params = None
        if any(_steered_by_boxes(transform) for transform in transforms):
            box_params = A.BboxParams(format="pascal_voc", min_visibility=0, clip=True, filter_invalid_bboxes=True)
        with warnings.catch_warnings():  # a policy of pixel-only transforms has no keypoints to move: fine
            warnings.filterwarnings("ignore", message="Got processor for .*, but no transform to process it")
            return A.Compose(
                transforms,
                p=p,
                bbox_params=box_params,
                keypoint_params=A.KeypointParams(format="xy", remove_invisible=False) if keypoints else None,
            )

    def run(self, image: np.ndarray, boxes: np.ndarray, seed: int, **data: Any) -> dict[str, Any]:
        """One seeded call of the compose for `image` (boxes passed only when a transform steers by them)."""
        compose = self.composes[image.ndim == 2]
        compose.set_random_state(np.random.default_rng(seed), random.Random(seed))
        data["image"] = image
        if self._steered:
            data["bboxes"] = _inside_boxes(boxes, image.shape[1], image.shape[0])
        with self.notes_silenced(image):
            return compose(**data)

    @staticmethod
    def notes_silenced(image: np.ndarray) -> contextlib.AbstractContextManager[None]:
        """What albumentations says about one-channel images silenced, for those only (it says nothing else on
        every call, and setting up the filter costs as much as a small transform)."""
        return greyscale_notes_silenced() if image.ndim == 2 or image.shape[2] == 1 else contextlib.nullcontext()

    def __call__(
        self, image: np.ndarray, points: np.ndarray, boxes: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        keypoints = np.asarray(points, dtype=np.float64).reshape(-1, 2) - 0.5
        result = self.run(image, boxes, seed, keypoints=keypoints)
        moved = np.asarray(result["keypoints"], dtype=np.float64)
        moved = moved.reshape(len(moved), -1) if moved.size else np.zeros((0, 2))
        if len(moved) != len(keypoints):
            raise RuntimeError(f"albumentations returned {len(moved)} of {len(keypoints)} points")
        pixels = result["image"]
        if image.ndim == 2 and pixels.ndim == 3 and pixels.shape[2] == 1:
            pixels = pixels[:, :, 0]
        return pixels, moved[:, :2] + 0.5


@contextlib.contextmanager
def greyscale_notes_silenced() -> Iterator[None]:
    """Silence what albumentations says on every call about transforms that do less on one channel."""
    with warnings.catch_warnings():
        for note in GREYSCALE_NOTES:
            warnings.filterwarnings("ignore", message=re.escape(note))
        yield


def _steered_by_boxes(transform: Transform) -> bool:
    """Whether a transform (or one nested in it) chooses its parameters from the boxes: the bbox-safe crops."""
    if isinstance(transform, BaseCompose):
        return any(_steered_by_boxes(child) for child in transform.transforms)
    return isinstance(transform, (A.BBoxSafeRandomCrop, A.AtLeastOneBBoxRandomCrop))


def _inside_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """The boxes clipped to the image, degenerate ones dropped: what bbox-safe crops steer by."""
    xyxy = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    xyxy = np.clip(xyxy, 0, [width, height, width, height])
    keep = np.isfinite(xyxy).all(axis=1) & (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
    return xyxy[keep]


class AlbumentationsBackend:
    name = "albumentations"

    def validate(self, policy: Policy) -> None:
        _transforms(policy)

    def build(self, policy: Policy) -> Pipeline:
        """One warp per copy when the policy's spatial transforms allow it (`fused`), else the chain."""
        from bboxaug.augmentation.backends.fused import FusedPipeline, fusion_refusal

        if fusion_refusal(_transforms(policy)[0]) is None:
            return FusedPipeline(AlbumentationsPipeline(policy, keypoints=False))
        return AlbumentationsPipeline(policy)

    def geometry(self, policy: Policy) -> str:
        from bboxaug.augmentation.backends.fused import fusion_refusal

        reason = fusion_refusal(_transforms(policy)[0])
        return f"transform by transform ({reason})" if reason else "one warp per copy (spatial transforms fused)"


BACKEND = AlbumentationsBackend()
