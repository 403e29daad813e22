"""The spatial transforms of albumentations 2.0.x as matrices: from the parameters a transform sampled for one
call to the 3x3 map (model coordinates) and output size its pixel function produces.

Each entry follows the transform's own pixel function in `albumentations.augmentations.geometric.functional`
and `crops.functional`: flips and 90-degree turns reorder pixels on pixel centres (x -> W-1-x); Affine,
ShiftScaleRotate, SafeRotate and Rotate warp with `params["matrix"]` on pixel centres (Rotate then crops with
`crop_border`); Perspective warps with `params["matrix"]`, scaled back to the input size when `keep_size`;
resizes scale continuous coordinates by the size actually produced; crops and pads shift by whole pixels. The
parameters themselves are always sampled by albumentations (see `fused`), never here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import albumentations as A
import cv2
import numpy as np
from albumentations.augmentations.crops.transforms import BaseCrop, _BaseRandomSizedCrop
from albumentations.augmentations.geometric.resize import MaxSizeTransform
from albumentations.core.transforms_interface import BasicTransform, DualTransform

from bboxaug.geometry.homography import from_pixel_centres, scaling, translation


@dataclass(frozen=True)
class Placement:
    """Where one transform puts the pixels: `matrix` maps input to output (model coordinates)."""

    matrix: np.ndarray
    height: int
    width: int


Params = Mapping[str, Any]


def _shape(params: Params) -> tuple[int, int]:
    height, width = params["shape"][:2]
    return int(height), int(width)


def _hflip(transform: Any, params: Params) -> Placement:
    height, width = _shape(params)
    return Placement(np.array([[-1.0, 0.0, width], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), height, width)


def _vflip(transform: Any, params: Params) -> Placement:
    height, width = _shape(params)
    return Placement(np.array([[1.0, 0.0, 0.0], [0.0, -1.0, height], [0.0, 0.0, 1.0]]), height, width)


def _transpose(transform: Any, params: Params) -> Placement:
    height, width = _shape(params)
    return Placement(np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), width, height)


def _rot90(transform: Any, params: Params) -> Placement:
    """np.rot90 by `factor` quarter turns counter-clockwise: (x, y) -> (y, W - x) per turn."""
    height, width = _shape(params)
    matrix = np.eye(3)
    for _ in range(int(params["factor"]) % 4):
        matrix = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, width], [0.0, 0.0, 1.0]]) @ matrix
        height, width = width, height
    return Placement(matrix, height, width)


def _affine(transform: Any, params: Params) -> Placement:
    """Affine and its subclasses (ShiftScaleRotate, SafeRotate): `warp_affine` with the matrix and output shape."""
    height, width = (int(np.round(side)) for side in params["output_shape"][:2])
    return Placement(from_pixel_centres(params["matrix"]), height, width)


def _rotate(transform: Any, params: Params) -> Placement:
    height, width = _shape(params)
    matrix = from_pixel_centres(params["matrix"])
    if transform.crop_border:
        x_min, y_min, x_max, y_max = (int(params[key]) for key in ("x_min", "y_min", "x_max", "y_max"))
        return Placement(translation(-x_min, -y_min) @ matrix, y_max - y_min, x_max - x_min)
    return Placement(matrix, height, width)


def _perspective(transform: Any, params: Params) -> Placement:
    height, width = _shape(params)
    matrix = np.asarray(params["matrix"], dtype=np.float64)
    if transform.keep_size:
        matrix = scaling(width / params["max_width"], height / params["max_height"]) @ matrix
        return Placement(from_pixel_centres(matrix), height, width)
    return Placement(from_pixel_centres(matrix), int(params["max_height"]), int(params["max_width"]))


def _resized(height: int, width: int, new_height: int, new_width: int) -> Placement:
    """cv2.resize scales continuous coordinates by the ratio of the sizes."""
    return Placement(scaling(new_width / width, new_height / height), new_height, new_width)


def _random_scale(transform: Any, params: Params) -> Placement:
    height, width = _shape(params)
    return _resized(height, width, int(height * params["scale"]), int(width * params["scale"]))


def _max_size(transform: Any, params: Params) -> Placement:
    height, width = _shape(params)
    scale = params["scale"]
    return _resized(height, width, max(1, round(height * scale)), max(1, round(width * scale)))


def _resize(transform: Any, params: Params) -> Placement:
    height, width = _shape(params)
    return _resized(height, width, int(transform.height), int(transform.width))


def _pad(transform: Any, params: Params) -> Placement:
    height, width = _shape(params)
    top, bottom, left, right = (int(params[key]) for key in ("pad_top", "pad_bottom", "pad_left", "pad_right"))
    return Placement(translation(left, top), height + top + bottom, width + left + right)


def _crop(transform: Any, params: Params) -> Placement:
    """BaseCrop and its subclasses; those with `pad_params` (RandomCrop, CenterCrop, Crop) pad first."""
    matrix = np.eye(3)
    pads = params.get("pad_params")
    if pads is not None:
        matrix = translation(pads["pad_left"], pads["pad_top"])
    x_min, y_min, x_max, y_max = (int(value) for value in params["crop_coords"])
    return Placement(translation(-x_min, -y_min) @ matrix, y_max - y_min, x_max - x_min)


def _crop_and_resize(transform: Any, params: Params) -> Placement:
    """RandomSizedCrop, RandomResizedCrop, RandomSizedBBoxSafeCrop: a crop, then cv2.resize to the set size."""
    cropped = _crop(transform, params)
    height, width = (transform.height, transform.width) if hasattr(transform, "height") else transform.size
    resized = _resized(cropped.height, cropped.width, int(height), int(width))
    return Placement(resized.matrix @ cropped.matrix, resized.height, resized.width)


#: Transform families with a matrix, most specific first (subclasses before their bases).
PLACEMENTS: tuple[tuple[type | tuple[type, ...], Callable[[Any, Params], Placement]], ...] = (
    (A.HorizontalFlip, _hflip),
    (A.VerticalFlip, _vflip),
    (A.Transpose, _transpose),
    (A.RandomRotate90, _rot90),
    (A.Affine, _affine),
    (A.Rotate, _rotate),
    (A.Perspective, _perspective),
    (A.RandomScale, _random_scale),
    (MaxSizeTransform, _max_size),
    (A.Resize, _resize),
    (A.Pad, _pad),
    ((A.RandomSizedBBoxSafeCrop, _BaseRandomSizedCrop), _crop_and_resize),
    (BaseCrop, _crop),
)


#: Interpolations one warp can apply as the transforms would (cv2.warpAffine / warpPerspective take these).
WARP_INTERPOLATIONS = {
    cv2.INTER_NEAREST: "nearest",
    cv2.INTER_LINEAR: "linear",
    cv2.INTER_CUBIC: "cubic",
    cv2.INTER_LANCZOS4: "lanczos4",
}


@functools.cache
def _family_of(kind: type) -> Callable[[Any, Params], Placement] | None:
    return next((function for family, function in PLACEMENTS if issubclass(kind, family)), None)


def _family(transform: BasicTransform) -> Callable[[Any, Params], Placement] | None:
    return _family_of(type(transform))


def placement(transform: BasicTransform, params: Params) -> Placement:
    """The matrix and output size of one call of `transform` with the parameters it sampled (`params["shape"]`
    is its input's shape)."""
    function = _family(transform)
    if function is None:
        raise TypeError(f"{type(transform).__name__} has no matrix")
    return function(transform, params)


#: Transforms that albumentations makes DualTransforms but that leave every pixel where it was: they blank out
#: regions or filter in place, in the coordinates of the image they get, like a pixel transform.
GRID_KEEPING = frozenset({"CoarseDropout", "Erasing", "GridDropout", "Morphological", "XYMasking"})


def is_spatial(transform: BasicTransform) -> bool:
    """Whether a transform moves or changes the image grid, as opposed to pixel values only."""
    return isinstance(transform, DualTransform) and type(transform).__name__ not in GRID_KEEPING


def interpolation(transform: BasicTransform) -> int | None:
    """The interpolation a transform resamples with, or None when it only reorders whole pixels."""
    if isinstance(transform, (A.HorizontalFlip, A.VerticalFlip, A.Transpose, A.RandomRotate90, A.Pad)):
        return None
    if isinstance(transform, BaseCrop) and not isinstance(transform, A.RandomSizedBBoxSafeCrop):
        return None
    return int(transform.interpolation)


def fill(transform: BasicTransform) -> Any | None:
    """The value a transform fills uncovered area with, or None when it uncovers none."""
    if isinstance(transform, (A.Affine, A.Rotate, A.Perspective, A.Pad)):
        return transform.fill
    if getattr(transform, "pad_if_needed", False):
        return transform.fill
    return None


def fusion_refusal(transform: BasicTransform) -> str | None:
    """Why one spatial transform cannot be part of a single warp, or None."""
    name = type(transform).__name__
    if _family(transform) is None:
        return f"{name} is not a matrix bboxaug knows"
    if getattr(transform, "area_for_downscale", None) is not None:
        return f"{name} shrinks with INTER_AREA (area_for_downscale), which a warp cannot do"
    flag = interpolation(transform)
    if flag is not None and flag not in WARP_INTERPOLATIONS:
        return f"{name} interpolates with cv2 flag {flag}, which a warp cannot do"
    border = getattr(transform, "border_mode", cv2.BORDER_CONSTANT)
    if fill(transform) is not None and border != cv2.BORDER_CONSTANT:
        return f"{name} extends its border (border_mode {border}), which one warp does differently"
    return None
