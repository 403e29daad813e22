"""One resampling per copy: the policy's spatial transforms multiplied into one matrix and applied as one warp.

A chain of spatial transforms resamples the image once per transform, and every bilinear pass blurs. Here each
call runs albumentations' own `Compose` (so every parameter is sampled by the library itself: the same
distributions, `p` draws, compositions and generators as the chain, and bbox-safe crops steer by the boxes as
albumentations moves them), but the transforms' pixel functions are swapped for recorders:

- a spatial transform records its matrix and output size (`fused_geometry.placement`) and hands on an
  uninitialised image of that size, so later transforms sample for the right shape;
- a pixel transform met before any spatial one runs on the real image, as in the chain; one met after records
  its parameters and runs after the warp, in the same order (`fused_pixels.apply_pixel_steps`).

Then the recorded matrices are multiplied and the image is resampled once (`warp_image`): a whole-pixel copy when
the product only reorders pixels (flips, turns, crops, pads), a crop and `cv2.resize` when it only crops and
scales, `cv2.warpAffine` when it is affine, else `cv2.warpPerspective`, with the policy's interpolation and fill.
The box shapes' vertices move through the same matrix in float64. When every pixel transform treats the
channels alike (`takes_bgr`), the pipeline works in OpenCV's BGR order, so the worker converts nothing.

Where the order changes: pixel transforms placed between two spatial transforms run after the warp. That is
exact for the per-pixel colour transforms (`POINTWISE`: a colour function of each pixel commutes with moving
pixels, up to the interpolation of values); a policy with any other pixel transform there (blur, noise, CLAHE,
...) or with one whose parameters read the pixels, after a spatial transform, takes the chain (`fusion_refusal`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

import albumentations as A
import cv2
import numpy as np
from albumentations.augmentations.geometric.functional import extend_value
from albumentations.core.composition import BaseCompose
from albumentations.core.transforms_interface import BasicTransform

from bboxaug.augmentation.backends.fused_geometry import (
    Placement,
    fill,
    interpolation,
    is_spatial,
    placement,
)
from bboxaug.augmentation.backends.fused_geometry import fusion_refusal as spatial_refusal
from bboxaug.augmentation.backends.fused_pixels import PixelStep, apply_pixel_steps, run_step
from bboxaug.geometry.homography import (
    AxisMap,
    axis_map,
    is_affine,
    move_points,
    scaled_window,
    to_pixel_centres,
)

Transform = BasicTransform | BaseCompose


#: Pixel transforms that map each pixel's value on its own, with parameters that do not read the pixels: they
#: commute with moving pixels, so they may sit between spatial transforms.
POINTWISE = frozenset(
    {
        "ChannelShuffle",
        "HueSaturationValue",
        "InvertImg",
        "Posterize",
        "RGBShift",
        "RandomBrightnessContrast",
        "RandomGamma",
        "RandomToneCurve",
        "Solarize",
        "ToGray",
        "ToSepia",
    }
)


#: Pixel transforms that treat every channel alike: on an image with its channels in another order they give
#: their result with the channels in that order. With these only (and HueSaturationValue, told the order), a
#: copy can stay in the BGR order OpenCV decodes and encodes in, sparing two colour conversions per copy.
CHANNEL_ALIKE = frozenset(
    {
        "Blur",
        "GaussianBlur",
        "InvertImg",
        "MedianBlur",
        "MotionBlur",
        "RandomBrightnessContrast",
        "RandomGamma",
        "Sharpen",
        "Solarize",
    }
)


def takes_bgr(transforms: list[Transform]) -> bool:
    """Whether a fusable policy gives the same copy, channels swapped, from a BGR image as from an RGB one."""
    leaves = [leaf for leaf in _leaves(transforms) if not isinstance(leaf, A.NoOp)]
    pixel_names = {type(leaf).__name__ for leaf in leaves if not is_spatial(leaf)}
    fills = [value for leaf in leaves if is_spatial(leaf) if (value := fill(leaf)) is not None]
    return pixel_names <= CHANNEL_ALIKE | {"HueSaturationValue"} and all(np.all(np.asarray(v) == 0) for v in fills)


def _reads_pixels(transform: BasicTransform) -> bool:
    """Whether a pixel transform's sampled parameters depend on the pixel values (not only on the shape)."""
    name = type(transform).__name__
    if name == "RandomBrightnessContrast":
        return not getattr(transform, "brightness_by_max", True)
    return name in ("Equalize", "HEStain", "TextImage")


def _leaves(transforms: list[Transform]) -> Iterator[BasicTransform]:
    for transform in transforms:
        if isinstance(transform, BaseCompose):
            yield from _leaves(list(transform.transforms))
        else:
            yield transform


def _shuffled_with_spatial(transforms: list[Transform]) -> str | None:
    for transform in transforms:
        if isinstance(transform, BaseCompose):
            leaves = list(_leaves(list(transform.transforms)))
            if isinstance(transform, A.RandomOrder) and any(map(is_spatial, leaves)):
                return "RandomOrder shuffles spatial transforms with the others"
            inner = _shuffled_with_spatial(list(transform.transforms))
            if inner:
                return inner
    return None


def fusion_refusal(transforms: list[Transform]) -> str | None:
    """Why a policy's transforms cannot make one warp per copy (so it runs transform by transform), or None."""
    leaves = [leaf for leaf in _leaves(transforms) if not isinstance(leaf, A.NoOp)]
    spatial = [index for index, leaf in enumerate(leaves) if is_spatial(leaf)]
    if not spatial:
        return "the policy has no spatial transform"
    reason = _shuffled_with_spatial(transforms)
    if reason:
        return reason
    for index in spatial:
        reason = spatial_refusal(leaves[index])
        if reason:
            return reason
    flags = {flag for index in spatial if (flag := interpolation(leaves[index])) is not None}
    if len(flags) > 1:
        return f"its spatial transforms interpolate differently (cv2 flags {sorted(flags)})"
    fills = [value for index in spatial if (value := fill(leaves[index])) is not None]
    if any(np.any(np.asarray(value) != np.asarray(fills[0])) for value in fills):
        return "its spatial transforms fill uncovered area with different values"
    first, last = spatial[0], spatial[-1]
    for index, leaf in enumerate(leaves):
        name = type(leaf).__name__
        if index > first and not is_spatial(leaf) and _reads_pixels(leaf):
            return f"{name} samples its parameters from the pixels, after a spatial transform"
        if first < index < last and not is_spatial(leaf) and name not in POINTWISE:
            return f"{name} sits between spatial transforms and is not a per-pixel colour change"
    return None


class _Recording:
    """What one call's transforms recorded: the real image at the first spatial transform, the placements, and
    the pixel steps that follow."""

    def __init__(self) -> None:
        self.source: np.ndarray | None = None
        self.placements: list[Placement] = []
        self.pixel_steps: list[PixelStep] = []


class Chain(Protocol):
    """The backend's own pipeline, which the fused one drives: its composes (built without keypoints) and one
    seeded call of them."""

    @property
    def composes(self) -> Mapping[bool, A.Compose]: ...

    def run(self, image: np.ndarray, boxes: np.ndarray, seed: int, **data: Any) -> dict[str, Any]: ...

    def notes_silenced(self, image: np.ndarray) -> AbstractContextManager[None]: ...


class FusedPipeline:
    """A built policy whose spatial transforms make one warp per copy (the module docstring says how)."""

    def __init__(self, chain: Chain) -> None:
        self._chain = chain
        self._recording = _Recording()
        for compose in chain.composes.values():
            for leaf in _leaves(list(compose.transforms)):
                if not isinstance(leaf, A.NoOp):
                    hook = self._spatial if is_spatial(leaf) else self._pixel
                    leaf._key2func["image"] = functools.partial(hook, leaf, leaf._key2func["image"])
        spatial = [leaf for leaf in _leaves(list(chain.composes[False].transforms)) if is_spatial(leaf)]
        self._interpolation = next((flag for leaf in spatial if (flag := interpolation(leaf)) is not None), 1)
        self._fill = next((value for leaf in spatial if (value := fill(leaf)) is not None), 0)
        #: When True, colour images come and go in BGR order (see `takes_bgr`); else in RGB.
        self.takes_bgr = takes_bgr(list(chain.composes[False].transforms))

    def _spatial(
        self, transform: BasicTransform, original: Callable[..., np.ndarray], img: np.ndarray, **params: Any
    ) -> np.ndarray:
        if self._recording.source is None:
            self._recording.source = img
        placed = placement(transform, params)
        self._recording.placements.append(placed)
        return np.empty((placed.height, placed.width, *img.shape[2:]), img.dtype)

    def _pixel(
        self, transform: BasicTransform, original: Callable[..., np.ndarray], img: np.ndarray, **params: Any
    ) -> np.ndarray:
        step = PixelStep(type(transform).__name__, original, params)
        if self._recording.source is None:
            return run_step(img, step, bgr=self.takes_bgr)
        self._recording.pixel_steps.append(step)
        return img

    def __call__(
        self, image: np.ndarray, points: np.ndarray, boxes: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        self._recording = recording = _Recording()
        pixels = self._chain.run(image, boxes, seed)["image"]
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        matrix = np.eye(3)
        if recording.source is not None:
            for placed in recording.placements:
                matrix = placed.matrix @ matrix
            last = recording.placements[-1]
            warped = warp_image(recording.source, matrix, last.height, last.width, self._interpolation, self._fill)
            with self._chain.notes_silenced(warped):
                pixels = apply_pixel_steps(warped, recording.pixel_steps, bgr=self.takes_bgr)
        if image.ndim == 2 and pixels.ndim == 3:
            pixels = pixels[:, :, 0]
        return pixels, move_points(matrix, points)


def warp_image(
    image: np.ndarray, matrix: np.ndarray, height: int, width: int, flags: int, fill_value: Any
) -> np.ndarray:
    """`image` resampled once through `matrix` (model coordinates) into a height x width image: copied pixel by
    pixel when the matrix only reorders pixels, cropped and resized (`cv2.resize`, which repeats the edge pixel
    for the half pixel beyond the last pixel centre, as a resize transform does) when it only crops and scales,
    else one OpenCV warp; uncovered area gets `fill_value`."""
    channels = image.shape[2] if image.ndim == 3 else 1
    border = extend_value(fill_value, channels)
    axes = axis_map(matrix)
    if axes is not None:
        return _reordered(image, axes, height, width, border)
    window = scaled_window(matrix, image.shape[1], image.shape[0], width, height)
    if window is not None:
        x0, y0, x1, y1 = window
        return cv2.resize(image[y0:y1, x0:x1], (width, height), interpolation=flags)
    centres = to_pixel_centres(matrix)
    if is_affine(matrix):
        return cv2.warpAffine(
            image, centres[:2], (width, height), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=border
        )
    return cv2.warpPerspective(
        image, centres, (width, height), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=border
    )


def _axis_window(sign: int, offset: int, count: int, source_count: int) -> tuple[slice, slice] | None:
    """Which output indices d in [0, count) read source index sign * d + offset inside [0, source_count): the
    output slice and the source slice in ascending order (reversed afterwards when sign is -1); None if none."""
    if sign > 0:
        start, stop = max(0, -offset), min(count, source_count - offset)
        return (slice(start, stop), slice(start + offset, stop + offset)) if stop > start else None
    start, stop = max(0, offset - source_count + 1), min(count, offset + 1)
    return (slice(start, stop), slice(offset - stop + 1, offset - start + 1)) if stop > start else None


def _reordered(image: np.ndarray, axes: AxisMap, height: int, width: int, border: Any) -> np.ndarray:
    """The exact copy a flip / turn / crop / pad product makes: output pixel (row v, column u) is the source pixel
    the map names, or the border value where it names none. The window read is cut with ascending slices, then
    turned with cv2.transpose and cv2.flip (several times faster than copying numpy's reversed views)."""
    # Output row v reads source row (or, transposed, column) rows_sign * v + rows_offset; likewise for columns.
    rows = (axes.x_sign, axes.x_offset) if axes.transposed else (axes.y_sign, axes.y_offset)
    columns = (axes.y_sign, axes.y_offset) if axes.transposed else (axes.x_sign, axes.x_offset)
    row_count, column_count = (image.shape[1], image.shape[0]) if axes.transposed else image.shape[:2]
    row_window = _axis_window(*rows, height, row_count)
    column_window = _axis_window(*columns, width, column_count)
    out = np.empty((height, width, *image.shape[2:]), image.dtype)
    if row_window is None or column_window is None:
        out[...] = _border_pixel(border, image)
        return out
    (out_rows, source_rows), (out_columns, source_columns) = row_window, column_window
    block = cv2.transpose(image[source_columns, source_rows]) if axes.transposed else image[source_rows, source_columns]
    flip = {(True, True): -1, (True, False): 0, (False, True): 1}.get((rows[0] < 0, columns[0] < 0))
    if flip is not None:
        block = cv2.flip(block, flip)
    if out_rows == slice(0, height) and out_columns == slice(0, width):
        return np.ascontiguousarray(block)
    out[...] = _border_pixel(border, image)
    out[out_rows, out_columns] = block
    return out


def _border_pixel(border: Any, image: np.ndarray) -> np.ndarray:
    """The pixel OpenCV fills with for `borderValue=border` (a number is its first channel, the rest 0)."""
    values = np.zeros(4)
    given = np.atleast_1d(np.asarray(border, dtype=np.float64))[:4]
    values[: len(given)] = given
    pixel = np.clip(np.round(values), 0, np.iinfo(image.dtype).max if image.dtype.kind == "u" else None)
    return pixel[: image.shape[2]].astype(image.dtype) if image.ndim == 3 else pixel[0].astype(image.dtype)
