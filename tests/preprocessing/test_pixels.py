"""The pixels of each step against its definition, in RGB and BGR alike, without touching the input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import bboxaug
from bboxaug.core.errors import ImageError
from bboxaug.geometry.letterbox import PAD_VALUE
from bboxaug.preprocessing.pixels import contrast_levels, preprocess
from bboxaug.preprocessing.steps import AutoContrast


def faint(height: int = 120, width: int = 160, seed: int = 0) -> np.ndarray:
    """A low-contrast colour image: a tinted grey ramp with a faint darker line and a little noise."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(100, 140, width)[None, :].repeat(height, axis=0)
    ramp[height // 2 - 1 : height // 2 + 1, 20:140] -= 6
    pixels = np.stack([ramp + 8, ramp, ramp - 8], axis=2) + rng.normal(0, 2, (height, width, 3))
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def test_clahe_raises_local_contrast_on_lightness_and_keeps_the_colour() -> None:
    image = faint()
    before = image.copy()
    out = preprocess(image, "clahe:clip=4,grid=4")
    assert np.array_equal(image, before)  # the input is never changed
    lab_in = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(int)
    lab_out = cv2.cvtColor(out, cv2.COLOR_RGB2LAB).astype(int)
    patch = (slice(10, 40), slice(40, 70), 0)
    assert lab_out[patch].std() > 2 * lab_in[patch].std()  # more local contrast
    assert np.abs(lab_out[:, :, 1:] - lab_in[:, :, 1:]).max() <= 3  # a and b kept, up to rounding
    line = slice(59, 61)
    contrast_in = lab_in[70:80, 30:130, 0].mean() - lab_in[line, 30:130, 0].mean()
    contrast_out = lab_out[70:80, 30:130, 0].mean() - lab_out[line, 30:130, 0].mean()
    assert contrast_out > 2 * contrast_in  # the faint line stands out more


def test_clahe_on_grey_is_opencvs_on_the_grey_level_whatever_the_channels() -> None:
    grey = cv2.cvtColor(faint(), cv2.COLOR_RGB2GRAY)
    expected = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(grey)
    assert np.array_equal(preprocess(grey, "clahe"), expected)
    three = np.stack([grey] * 3, axis=2)
    assert np.array_equal(preprocess(three, "clahe"), np.stack([expected] * 3, axis=2))
    assert np.array_equal(preprocess(three, "grayscale;clahe"), np.stack([expected] * 3, axis=2))


def test_grayscale_is_bt601_luma_in_one_or_three_channels() -> None:
    image = np.zeros((2, 3, 3), np.uint8)
    image[0, 0] = (255, 0, 0)
    image[0, 1] = (0, 255, 0)
    image[0, 2] = (0, 0, 255)
    image[1] = (200, 100, 50)
    one = preprocess(image, "grayscale:1")
    assert one.shape == (2, 3)
    expected = [[76, 150, 29], [round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)] * 3]
    assert np.abs(one.astype(int) - np.array(expected)).max() <= 1
    three = preprocess(image, "grayscale")
    assert three.shape == (2, 3, 3) and all(np.array_equal(three[:, :, k], one) for k in range(3))


def levels_by_definition(values: np.ndarray, low: float, high: float) -> tuple[int, int]:
    """`lo` and `hi` as the docs define them, by counting pixels at every level."""
    total = values.size
    lo = next(level for level in range(256) if np.count_nonzero(values <= level) > low / 100 * total)
    hi = next(level for level in range(255, -1, -1) if np.count_nonzero(values >= level) > (100 - high) / 100 * total)
    return lo, hi


def test_autocontrast_stretches_the_luminance_percentiles_with_one_gain_for_every_channel() -> None:
    rng = np.random.default_rng(3)
    grey = rng.integers(60, 160, size=(50, 40)).astype(np.uint8)
    grey.ravel()[:10] = 0  # 0.5 % dark outliers, 0.5 % bright ones: under the 1 % cut
    grey.ravel()[10:20] = 255
    assert contrast_levels(grey, AutoContrast()) == levels_by_definition(grey, 1, 99)
    lo, hi = levels_by_definition(grey, 1, 99)
    out = preprocess(grey, "autocontrast")
    for value in (0, lo, (lo + hi) // 2, hi, 255):
        expected = min(255, max(0, round((value - lo) * 255 / (hi - lo))))
        assert out[grey == value].tolist() == [expected] * int(np.count_nonzero(grey == value))
    colour = np.stack([grey, grey // 2 + 20, grey], axis=2)
    stretched = preprocess(colour, "autocontrast:low=0,high=100")
    lo, hi = levels_by_definition(cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY), 0, 100)
    table = np.clip(np.rint((np.arange(256) - lo) * 255 / (hi - lo)), 0, 255).astype(np.uint8)
    assert np.array_equal(stretched, table[colour])  # the same mapping on every channel
    flat = np.full((5, 5, 3), 90, np.uint8)
    assert np.array_equal(preprocess(flat, "autocontrast"), flat)


def test_crop_and_letterbox_place_pixels_where_the_boxes_go() -> None:
    image = np.arange(720 * 1280 * 3, dtype=np.uint32).reshape(720, 1280, 3).astype(np.uint8)
    assert np.array_equal(preprocess(image, "crop:100,50,300,250"), image[50:250, 100:300])
    assert np.array_equal(preprocess(image, "crop:1200,700,2000,2000"), image[700:, 1200:])
    with pytest.raises(ImageError, match="lies outside"):
        preprocess(image, "crop:1280,0,1300,10")
    boxed = preprocess(image, "letterbox:640")
    assert boxed.shape == (640, 640, 3)
    assert (boxed[:140] == PAD_VALUE).all() and (boxed[500:] == PAD_VALUE).all()
    expected = cv2.resize(image, (640, 360), interpolation=cv2.INTER_AREA)
    assert np.array_equal(boxed[140:500], expected)
    assert preprocess(image, "resize:320x200,mode=fit").shape == (180, 320, 3)
    assert preprocess(image, "resize:320x200,stretch").shape == (200, 320, 3)
    assert (preprocess(image[:10, :20], "letterbox:40,pad=0")[:10] == 0).all()


@pytest.mark.parametrize(
    "steps", ["clahe:clip=3", "grayscale", "grayscale:1", "autocontrast", "crop:5,5,60,60;letterbox:96"]
)
def test_bgr_input_gives_the_same_picture_in_bgr_order(steps: str) -> None:
    rgb = faint(seed=4)
    from_rgb = preprocess(rgb, steps)
    from_bgr = preprocess(np.ascontiguousarray(rgb[:, :, ::-1]), steps, bgr=True)
    assert np.array_equal(from_rgb, from_bgr if from_bgr.ndim == 2 else from_bgr[:, :, ::-1])


def test_the_public_function_takes_the_list_a_manifest_records_and_repeats_itself() -> None:
    image = faint(seed=5)
    recorded = [{"clahe": {"clip": 2.0, "grid": [8, 8]}}, {"letterbox": {"size": [64, 64]}}]
    first = bboxaug.preprocess(image, recorded)
    assert first.shape == (64, 64, 3)
    assert np.array_equal(first, bboxaug.preprocess(image.copy(), bboxaug.Preprocessing.of(recorded)))
    unchanged = bboxaug.preprocess(image, "")
    assert np.array_equal(unchanged, image) and unchanged is not image
    with pytest.raises(ImageError, match="expected uint8"):
        bboxaug.preprocess(image.astype(np.float32), "clahe")
