"""The built-in policies `light`, `medium` and `heavy`, and how `auto` picks one from the dataset size.

Each preset is plain data in the same shape as a policy file, so it goes through the same checks as a user's
file (policy.load_policy) and its `to_json()` reads like one. Parameters use the names of albumentations 2.0.8.

Choices that hold for every preset:
- Geometric transforms that uncover image area fill it with black (`border_mode: 0` is cv2.BORDER_CONSTANT,
  `fill: 0`), never a reflection: a mirrored border repeats objects nobody labelled.
- Horizontal flips only. Vertical flips and 90-degree turns are left out because orientation carries meaning in
  many datasets (sky above, text, vehicles on the ground); add `VerticalFlip` / `RandomRotate90` in your own
  policy for top-down imagery such as inspection or aerial photos.
- The bbox-safe crop keeps every box whole (`erosion_rate: 0`), so crops never cut an object.
- Boxes keep at least 30 % of their transformed shape visible (`min_visibility: 0.3`), otherwise they are
  dropped; the size limits stay at their defaults so tiny defects survive.
- Probabilities: light 0.1-0.3, medium 0.2-0.4, heavy 0.4-0.5 (the tests hold every preset to its range).
"""

from __future__ import annotations

from typing import Any

#: Fill uncovered area with black: cv2.BORDER_CONSTANT (0) and fill value 0.
CONSTANT_BORDER: dict[str, Any] = {"border_mode": 0, "fill": 0}


#: The range every transform probability `p` of a preset lies in.
P_RANGES: dict[str, tuple[float, float]] = {"light": (0.1, 0.3), "medium": (0.2, 0.4), "heavy": (0.4, 0.5)}


#: `auto` thresholds, in images: fewer than SMALL_DATASET -> heavy, up to LARGE_DATASET -> medium, more -> light.
SMALL_DATASET = 500


LARGE_DATASET = 5000


_BOXES: dict[str, Any] = {"min_visibility": 0.3}


PRESET_DATA: dict[str, dict[str, Any]] = {
    "light": {
        "backend": "albumentations",
        "boxes": _BOXES,
        "transforms": [
            {"HorizontalFlip": {"p": 0.3}},
            {
                "Affine": {
                    "rotate": [-5, 5],
                    "scale": [0.95, 1.05],
                    "translate_percent": [-0.05, 0.05],
                    **CONSTANT_BORDER,
                    "p": 0.3,
                }
            },
            {"RandomBrightnessContrast": {"brightness_limit": [-0.1, 0.1], "contrast_limit": [-0.1, 0.1], "p": 0.3}},
        ],
    },
    "medium": {
        "backend": "albumentations",
        "boxes": _BOXES,
        "transforms": [
            {"HorizontalFlip": {"p": 0.4}},
            {
                "Affine": {
                    "rotate": [-10, 10],
                    "scale": [0.9, 1.1],
                    "translate_percent": [-0.08, 0.08],
                    "shear": [-5, 5],
                    **CONSTANT_BORDER,
                    "p": 0.4,
                }
            },
            {"Perspective": {"scale": [0.02, 0.05], **CONSTANT_BORDER, "p": 0.2}},
            {"BBoxSafeRandomCrop": {"erosion_rate": 0.0, "p": 0.3}},
            {"RandomBrightnessContrast": {"brightness_limit": [-0.2, 0.2], "contrast_limit": [-0.2, 0.2], "p": 0.4}},
            {
                "HueSaturationValue": {
                    "hue_shift_limit": [-10, 10],
                    "sat_shift_limit": [-20, 20],
                    "val_shift_limit": [-15, 15],
                    "p": 0.3,
                }
            },
            {
                "RGBShift": {
                    "r_shift_limit": [-10, 10],
                    "g_shift_limit": [-10, 10],
                    "b_shift_limit": [-10, 10],
                    "p": 0.2,
                }
            },
            {"GaussianBlur": {"blur_limit": [3, 5], "sigma_limit": [0.3, 1.0], "p": 0.2}},
            {"GaussNoise": {"std_range": [0.01, 0.05], "p": 0.2}},
        ],
    },
    "heavy": {
        "backend": "albumentations",
        "boxes": _BOXES,
        "transforms": [
            {"HorizontalFlip": {"p": 0.5}},
            {
                "Affine": {
                    "rotate": [-20, 20],
                    "scale": [0.8, 1.2],
                    "translate_percent": [-0.1, 0.1],
                    "shear": [-8, 8],
                    **CONSTANT_BORDER,
                    "p": 0.5,
                }
            },
            {"Perspective": {"scale": [0.03, 0.08], **CONSTANT_BORDER, "p": 0.4}},
            {"BBoxSafeRandomCrop": {"erosion_rate": 0.0, "p": 0.4}},
            {"RandomBrightnessContrast": {"brightness_limit": [-0.3, 0.3], "contrast_limit": [-0.3, 0.3], "p": 0.5}},
            {
                "HueSaturationValue": {
                    "hue_shift_limit": [-15, 15],
                    "sat_shift_limit": [-30, 30],
                    "val_shift_limit": [-20, 20],
                    "p": 0.4,
                }
            },
            {
                "RGBShift": {
                    "r_shift_limit": [-15, 15],
                    "g_shift_limit": [-15, 15],
                    "b_shift_limit": [-15, 15],
                    "p": 0.4,
                }
            },
            {"GaussianBlur": {"blur_limit": [3, 7], "sigma_limit": [0.3, 1.5], "p": 0.4}},
            {"GaussNoise": {"std_range": [0.02, 0.08], "p": 0.4}},
            {"CLAHE": {"clip_limit": [1.0, 3.0], "tile_grid_size": [8, 8], "p": 0.4}},
            {"Sharpen": {"alpha": [0.1, 0.3], "lightness": [0.7, 1.0], "p": 0.4}},
        ],
    },
}


def auto_strength(dataset_size: int) -> str:
    """The preset `auto` stands for: small datasets get stronger, more frequent transforms."""
    if dataset_size < SMALL_DATASET:
        return "heavy"
    if dataset_size <= LARGE_DATASET:
        return "medium"
    return "light"
