"""The fused path against the backend's own chain: every fusable transform alone gives the same pixels and the
same points; chains of them sample the same parameters; policies that cannot be one warp run the chain."""

from __future__ import annotations

import importlib.util
import types
from collections.abc import Callable, Iterator
from typing import Any

import albumentations.augmentations.geometric.functional as fgeometric
import albumentations.core.keypoints_utils as keypoints_utils
import albumentations.core.utils as albumentations_utils
import cv2
import numpy as np
import pytest

from bboxaug.augmentation.backends.albumentations_backend import BACKEND, AlbumentationsPipeline
from bboxaug.augmentation.backends.fused import FusedPipeline, warp_image
from bboxaug.augmentation.policy import load_policy
from bboxaug.geometry.homography import translation
from tests.conftest import REPO

BORDER = {"border_mode": 0, "fill": 0}

#: Every spatial transform the backend accepts and the fused path multiplies, with parameters that exercise it.
FUSABLE: dict[str, tuple[str, dict[str, Any]]] = {
    "HorizontalFlip": ("HorizontalFlip", {}),
    "VerticalFlip": ("VerticalFlip", {}),
    "Transpose": ("Transpose", {}),
    "RandomRotate90": ("RandomRotate90", {}),
    "Rotate": ("Rotate", {"limit": [-30, 30], **BORDER}),
    "Rotate crop_border": ("Rotate", {"limit": [-30, 30], "crop_border": True, **BORDER}),
    "SafeRotate": ("SafeRotate", {"limit": [-30, 30], **BORDER}),
    "Affine": (
        "Affine",
        {"rotate": [-30, 30], "scale": [0.8, 1.2], "translate_percent": [-0.1, 0.1], "shear": [-10, 10], **BORDER},
    ),
    "Affine fit_output": ("Affine", {"rotate": [-30, 30], "fit_output": True, **BORDER}),
    "Perspective": ("Perspective", {"scale": [0.05, 0.1], **BORDER}),
    "Perspective keep_size false": ("Perspective", {"scale": [0.05, 0.1], "keep_size": False, **BORDER}),
    "RandomScale": ("RandomScale", {"scale_limit": 0.3}),
    "Resize": ("Resize", {"height": 77, "width": 160}),
    "LongestMaxSize": ("LongestMaxSize", {"max_size": 80}),
    "SmallestMaxSize": ("SmallestMaxSize", {"max_size": 120}),
    "PadIfNeeded": ("PadIfNeeded", {"min_height": 140, "min_width": 150, "border_mode": 0, "fill": 40}),
    "Pad": ("Pad", {"padding": [3, 5, 7, 9], **BORDER}),
    "Crop": ("Crop", {"x_min": 10, "y_min": 5, "x_max": 90, "y_max": 70}),
    "CenterCrop": ("CenterCrop", {"height": 60, "width": 70}),
    "RandomCrop": ("RandomCrop", {"height": 60, "width": 70}),
    "RandomCrop padded": ("RandomCrop", {"height": 120, "width": 150, "pad_if_needed": True, **BORDER}),
    "BBoxSafeRandomCrop": ("BBoxSafeRandomCrop", {"erosion_rate": 0.0}),
    "AtLeastOneBBoxRandomCrop": ("AtLeastOneBBoxRandomCrop", {"height": 50, "width": 60}),
    "RandomSizedBBoxSafeCrop": ("RandomSizedBBoxSafeCrop", {"height": 64, "width": 80}),
    "RandomResizedCrop": ("RandomResizedCrop", {"size": [64, 80]}),
    "RandomSizedCrop": ("RandomSizedCrop", {"min_max_height": [40, 80], "size": [64, 80]}),
    "RandomCropFromBorders": ("RandomCropFromBorders", {}),
}

BOXES = np.array([[10.25, 12.5, 40.75, 50.0], [60.0, 20.5, 120.5, 90.25], [5.0, 60.0, 30.0, 95.0]])
POINTS = np.concatenate([[[x1, y1], [x2, y1], [x2, y2], [x1, y2]] for x1, y1, x2, y2 in BOXES])


def image(width: int = 131, height: int = 97, channels: int = 3) -> np.ndarray:
    """A smooth random texture (odd sizes, so no half pixel hides in a centre)."""
    shape = (height, width, channels) if channels > 1 else (height, width)
    return cv2.GaussianBlur(np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8), (5, 5), 1.5)


def policy(*transforms: tuple[str, dict[str, Any]]) -> Any:
    return load_policy({"transforms": [{name: {**params, "p": params.get("p", 1.0)}} for name, params in transforms]})


class _Float64Numpy(types.ModuleType):
    """numpy with `float32` meaning float64: albumentations casts keypoints to float32 (about 1e-5 px here); the
    comparison to 1e-6 px is with the backend computing in float64."""

    def __getattr__(self, name: str) -> Any:
        return np.float64 if name == "float32" else getattr(np, name)


def _in_float64(function: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        saved, fgeometric.np = fgeometric.np, _Float64Numpy("numpy64")  # type: ignore[assignment]
        try:
            return function(*args, **kwargs)
        finally:
            fgeometric.np = saved

    return call


@pytest.fixture
def float64_keypoints(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The backend's keypoints kept in float64: at conversion, and inside the keypoint functions (only there:
    parameter sampling needs float32, e.g. cv2.getPerspectiveTransform)."""
    monkeypatch.setattr(keypoints_utils, "np", _Float64Numpy("numpy64"))
    monkeypatch.setattr(albumentations_utils, "np", _Float64Numpy("numpy64"))
    yield


def chain_in_float64(built: AlbumentationsPipeline) -> AlbumentationsPipeline:
    for compose in built.composes.values():
        for transform in compose.transforms:
            transform._key2func["keypoints"] = _in_float64(transform._key2func["keypoints"])
    return built


@pytest.mark.parametrize("case", sorted(FUSABLE))
def test_each_fusable_transform_alone_matches_the_backend(case: str, float64_keypoints: None) -> None:
    """Same pixels (bit for bit) and same points (to 1e-6 px) as the backend's chain, for ten seeds."""
    checked = policy(FUSABLE[case])
    fused, chain = BACKEND.build(checked), chain_in_float64(AlbumentationsPipeline(checked))
    assert isinstance(fused, FusedPipeline)
    source = image()
    for seed in range(10):
        pixels, points = fused(source, POINTS, BOXES, seed)
        expected_pixels, expected_points = chain(source, POINTS, BOXES, seed)
        np.testing.assert_array_equal(pixels, expected_pixels, err_msg=f"{case}, seed {seed}")
        np.testing.assert_allclose(points, expected_points, rtol=0, atol=1e-6, err_msg=f"{case}, seed {seed}")


def test_a_chain_of_spatial_transforms_samples_what_the_backend_samples() -> None:
    """Flip, rotation, perspective and a bbox-safe crop together: the points agree with the backend's (to its
    float32 rounding), so every parameter was the same; the pixels differ only by the resampling saved."""
    checked = policy(
        ("HorizontalFlip", {"p": 0.5}),
        ("Affine", {"rotate": [-30, 30], "scale": [0.9, 1.1], **BORDER, "p": 0.8}),
        ("Perspective", {"scale": [0.03, 0.06], **BORDER, "p": 0.8}),
        ("BBoxSafeRandomCrop", {"erosion_rate": 0.0, "p": 0.8}),
        ("RandomBrightnessContrast", {"p": 0.5}),
    )
    fused, chain = BACKEND.build(checked), AlbumentationsPipeline(checked)
    source = image(260, 190)
    for seed in range(20):
        pixels, points = fused(source, POINTS, BOXES, seed)
        expected_pixels, expected_points = chain(source, POINTS, BOXES, seed)
        assert pixels.shape == expected_pixels.shape
        np.testing.assert_allclose(points, expected_points, rtol=0, atol=2e-3)
        assert np.abs(pixels.astype(int) - expected_pixels).mean() < 8


def test_same_seed_same_copy_and_other_seeds_other_copies() -> None:
    built = BACKEND.build(policy(("Affine", {"rotate": [-30, 30], **BORDER}), ("Perspective", BORDER)))
    source = image()
    first, again = built(source, POINTS, BOXES, 5), built(source, POINTS, BOXES, 5)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], built(source, POINTS, BOXES, 6)[1])


def test_pixel_transforms_before_any_spatial_one_run_on_the_source() -> None:
    checked = policy(("RandomGamma", {}), ("GaussianBlur", {}), ("HorizontalFlip", {}), ("RandomGamma", {}))
    fused, chain = BACKEND.build(checked), AlbumentationsPipeline(checked)
    for seed in range(5):
        np.testing.assert_array_equal(fused(image(), POINTS, BOXES, seed)[0], chain(image(), POINTS, BOXES, seed)[0])


def test_greyscale_images_keep_two_dimensions() -> None:
    checked = policy(("Affine", {"rotate": [-30, 30], **BORDER}), ("HueSaturationValue", {}))
    fused, chain = BACKEND.build(checked), AlbumentationsPipeline(checked)
    grey = image(channels=1)
    pixels, points = fused(grey, POINTS, BOXES, 3)
    assert pixels.shape == grey.shape and points.shape == POINTS.shape
    np.testing.assert_array_equal(pixels, chain(grey, POINTS, BOXES, 3)[0])


@pytest.mark.parametrize(
    ("transforms", "reason"),
    [
        ([("D4", {})], "D4 is not a matrix bboxaug knows"),
        ([("Affine", {"rotate": [-9, 9], "border_mode": 1})], "border_mode 1"),
        (
            [("Affine", {**BORDER, "interpolation": 2}), ("Perspective", BORDER)],
            "interpolate differently",
        ),
        ([("Affine", BORDER), ("Perspective", {"border_mode": 0, "fill": 9})], "different values"),
        ([("Affine", BORDER), ("GaussianBlur", {}), ("HorizontalFlip", {})], "GaussianBlur sits between"),
        ([("HorizontalFlip", {}), ("RandomBrightnessContrast", {"brightness_by_max": False})], "from the pixels"),
        ([("RandomBrightnessContrast", {})], "no spatial transform"),
        ([("SmallestMaxSize", {"max_size": 50, "area_for_downscale": "image"})], "INTER_AREA"),
    ],
)
def test_policies_that_are_not_one_warp_run_the_chain(transforms: list[Any], reason: str) -> None:
    checked = policy(*transforms)
    assert isinstance(BACKEND.build(checked), AlbumentationsPipeline)
    assert reason in BACKEND.geometry(checked)
    assert BACKEND.geometry(checked).startswith("transform by transform")


def test_colour_changes_between_spatial_transforms_and_anything_after_them_fuse() -> None:
    checked = policy(
        ("HorizontalFlip", {}),
        ("HueSaturationValue", {}),
        ("Affine", BORDER),
        ("GaussianBlur", {}),
        ("CoarseDropout", {}),
    )
    assert isinstance(BACKEND.build(checked), FusedPipeline)
    assert BACKEND.geometry(checked) == "one warp per copy (spatial transforms fused)"


def test_whole_pixel_products_are_copied_with_the_fill_where_nothing_is_read() -> None:
    source = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    flipped_and_padded = translation(2, 1) @ np.array([[-1.0, 0.0, 5.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    out = warp_image(source, flipped_and_padded, 6, 8, cv2.INTER_LINEAR, (7.0, 8.0, 9.0))
    assert out.shape == (6, 8, 3)
    np.testing.assert_array_equal(out[1:5, 2:7], source[:, ::-1])
    assert (out[0] == [7, 8, 9]).all() and (out[:, :2] == [7, 8, 9]).all() and (out[5] == [7, 8, 9]).all()
    grey = warp_image(source[:, :, 0], flipped_and_padded, 6, 8, cv2.INTER_LINEAR, 0)
    np.testing.assert_array_equal(grey[1:5, 2:7], source[:, ::-1, 0])


def test_one_warp_is_sharper_than_the_chain_on_fine_detail() -> None:
    """benchmarks/sharpness.py: a 2-px checkerboard and 1-px lines under three spatial transforms; the fused
    copy is closer to the exact single warp (float64) than the chain's, and keeps its Laplacian variance."""
    spec = importlib.util.spec_from_file_location("sharpness", REPO / "benchmarks" / "sharpness.py")
    assert spec is not None and spec.loader is not None
    sharpness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sharpness)
    for seed in (0, 1):
        scores = sharpness.measure(seed)
        assert scores["fused_mae"] < scores["chain_mae"] / 10
        assert scores["fused_psnr"] > scores["chain_psnr"] + 20
        reference = scores["reference_laplacian_var"]
        assert abs(scores["fused_laplacian_var"] - reference) < 0.05 * reference
        assert scores["chain_laplacian_var"] < 0.5 * reference


def test_a_policy_of_channel_alike_transforms_works_in_bgr_and_gives_the_backends_copy() -> None:
    """With warps, brightness, hue and blur only, the fused pipeline takes the BGR pixels OpenCV decodes and
    gives the backend's RGB copy with its channels swapped; an RGB shift (one shift per named channel) keeps a
    policy in RGB."""
    checked = policy(
        ("Affine", {"rotate": [-20, 20], **BORDER, "p": 0.8}),
        ("HueSaturationValue", {"p": 0.7}),
        ("RandomBrightnessContrast", {"p": 0.5}),
        ("GaussianBlur", {"p": 0.5}),
    )
    fused, chain = BACKEND.build(checked), AlbumentationsPipeline(checked)
    assert fused.takes_bgr and not chain.takes_bgr
    rgb = image()
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    for seed in range(10):
        from_bgr, points = fused(bgr, POINTS, BOXES, seed)
        expected, expected_points = chain(rgb, POINTS, BOXES, seed)
        np.testing.assert_array_equal(from_bgr[:, :, ::-1], expected)
        np.testing.assert_allclose(points, expected_points, atol=1e-3)
    assert not BACKEND.build(policy(("HorizontalFlip", {}), ("RGBShift", {}))).takes_bgr
