"""The shortcuts for pixel transforms after the warp give the transforms' own bits."""

from __future__ import annotations

import random
from typing import Any

import albumentations as A
import numpy as np
import pytest
from albumentations.augmentations.pixel.functional import shift_hsv as albumentations_shift_hsv

from bboxaug.augmentation.backends.fused_pixels import (
    PixelStep,
    apply_lookup_table,
    apply_pixel_steps,
    lookup_table,
    shift_hsv,
)


def photo(channels: int = 3, seed: int = 0) -> np.ndarray:
    shape = (61, 83, channels) if channels > 1 else (61, 83)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def sampled(transform: A.BasicTransform, image: np.ndarray, seed: int) -> PixelStep:
    """A pixel step with the parameters `transform` samples for `image` with `seed`."""
    transform.set_random_state(np.random.default_rng(seed), random.Random(seed))
    params: dict[str, Any] = {"shape": image.shape, **transform.get_params()}
    params.update(transform.get_params_dependent_on_data(params, {"image": image}))
    return PixelStep(type(transform).__name__, transform.apply, params)


@pytest.mark.parametrize(
    "transform",
    [
        A.RandomBrightnessContrast(brightness_limit=0.4, contrast_limit=0.4, p=1),
        A.RandomGamma(gamma_limit=(60, 160), p=1),
    ],
    ids=lambda transform: type(transform).__name__,
)
@pytest.mark.parametrize("channels", [1, 3])
def test_a_table_transform_as_a_table_gives_its_own_bits(transform: A.BasicTransform, channels: int) -> None:
    image = photo(channels)
    for seed in range(8):
        step = sampled(transform, image, seed)
        expected = step.function(image, **step.params)
        np.testing.assert_array_equal(apply_lookup_table(image, lookup_table(step, image)), expected)


def test_a_run_of_table_transforms_is_one_table_with_the_same_bits() -> None:
    image = photo()
    steps = [
        sampled(A.RandomBrightnessContrast(p=1), image, 1),
        sampled(A.RandomGamma(p=1), image, 2),
        sampled(A.RandomBrightnessContrast(brightness_limit=0.3, p=1), image, 3),
        sampled(A.HueSaturationValue(p=1), image, 4),
        sampled(A.RandomGamma(p=1), image, 5),
    ]
    expected = image
    for step in steps:
        expected = step.function(expected, **step.params)
    np.testing.assert_array_equal(apply_pixel_steps(image, steps), expected)


def test_hue_saturation_value_as_one_table_gives_albumentations_bits() -> None:
    rng = np.random.default_rng(7)
    for seed in range(12):
        image = photo(seed=seed)
        image[:5] = 128  # grey pixels (saturation 0) must stay grey
        hue, saturation, value = rng.uniform(-25, 25, 3)
        if seed == 0:
            saturation = value = 0.0
        expected = albumentations_shift_hsv(image, hue, saturation, value)
        np.testing.assert_array_equal(shift_hsv(image, hue, saturation, value), expected)
        in_bgr = shift_hsv(np.ascontiguousarray(image[:, :, ::-1]), hue, saturation, value, bgr=True)
        np.testing.assert_array_equal(in_bgr, expected[:, :, ::-1])
