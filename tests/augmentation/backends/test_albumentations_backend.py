"""The albumentations backend: points land where the pixels went, seeds decide everything, policies are checked.

Geometry is checked against the pixels themselves: a bright spot is drawn on a black image, the image and the
spot's centre are transformed together, and the moved point must sit on the spot's centroid in the output.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import albumentations as A
import numpy as np
import pytest
from albumentations.core.transforms_interface import DualTransform
from albumentations.core.type_definitions import Targets

from bboxaug.augmentation.backends import BACKENDS, get_backend
from bboxaug.augmentation.backends.albumentations_backend import BACKEND, GREYSCALE_SKIPPED, refusal, transform_names
from bboxaug.augmentation.policy import load_policy
from bboxaug.core.errors import PolicyError
from bboxaug.core.model import Boxes, object_column
from bboxaug.geometry.shapes import box_shapes, follow, pack, unpack

W, H = 97, 71  # odd sizes, so off-by-one mistakes in flips and centre crops show
SPOTS = [(12, 9), (60, 20), (30, 50), (85, 62), (48, 35), (3, 66)]  # top-left pixel (column, row) of each spot
BOXES = np.array([[10.0, 8, 40, 30], [45, 30, 80, 60]])  # steer the bbox-safe crops


def build(*transforms: dict):
    """The pipeline of a policy listing `transforms` (each `{Name: {params}}`), checked by load_policy first."""
    return BACKEND.build(load_policy({"transforms": list(transforms)}))


def spot_image(column: int, row: int, size: int, channels: int = 3) -> np.ndarray:
    image = np.zeros((H, W, channels) if channels > 1 else (H, W), dtype=np.uint8)
    image[row : row + size, column : column + size] = 255
    return image


def centroid(image: np.ndarray) -> np.ndarray | None:
    """The spot's centroid in model coordinates, or None when it is gone or cut by the border."""
    weights = image.astype(np.float64)
    if weights.ndim == 3:
        weights = weights.mean(axis=2)
    rows, columns = np.nonzero(weights > 0)
    if (
        not len(rows)
        or rows.min() == 0
        or columns.min() == 0
        or rows.max() == weights.shape[0] - 1
        or columns.max() == weights.shape[1] - 1
    ):
        return None
    ys, xs = np.mgrid[0 : weights.shape[0], 0 : weights.shape[1]]
    return np.array([(xs * weights).sum(), (ys * weights).sum()]) / weights.sum() + 0.5


def spot_errors(pipeline, size: int, seeds=range(4)) -> list[float]:
    """For every seed and spot: distance between the moved spot centre and the spot found in the output."""
    errors = []
    for seed in seeds:
        for column, row in SPOTS:
            centre = np.array([[column + size / 2, row + size / 2]])
            image, moved = pipeline(spot_image(column, row, size), centre, BOXES, seed)
            found = centroid(image)
            if found is not None:
                errors.append(float(np.abs(moved[0] - found).max()))
    assert len(errors) >= len(seeds) * 2, "too few spots survived to check anything"
    return errors


EXACT = [  # pixels move as whole pixels: a one-pixel spot must be hit exactly
    {"HorizontalFlip": {"p": 1}},
    {"VerticalFlip": {"p": 1}},
    {"RandomRotate90": {"p": 1}},
    {"Transpose": {"p": 1}},
    {"D4": {"p": 1}},
    {"BBoxSafeRandomCrop": {"erosion_rate": 0.0, "p": 1}},
    {"RandomCrop": {"height": 50, "width": 60, "p": 1}},
    {"CenterCrop": {"height": 50, "width": 60, "p": 1}},
    {"CenterCrop": {"height": 51, "width": 61, "p": 1}},
    {"Crop": {"x_min": 5, "y_min": 7, "x_max": 90, "y_max": 64, "p": 1}},
    {"PadIfNeeded": {"min_height": 130, "min_width": 123, "border_mode": 0, "p": 1}},
    {"Pad": {"padding": [3, 5, 7, 9], "p": 1}},
    {"RandomCropFromBorders": {"p": 1}},
    {"AtLeastOneBBoxRandomCrop": {"height": 50, "width": 50, "p": 1}},
    {"Affine": {"translate_px": [-7, 7], "p": 1}},
]

RESAMPLED = [  # pixels are interpolated: a 3x3 spot's centroid must be within a fraction of a pixel
    {"Affine": {"rotate": [-30, 30], "p": 1}},
    {"Affine": {"scale": [0.5, 1.5], "p": 1}},
    {"Affine": {"translate_percent": [-0.1, 0.1], "p": 1}},
    {"Affine": {"shear": [-15, 15], "p": 1}},
    {
        "Affine": {
            "rotate": [-30, 30],
            "scale": [0.7, 1.3],
            "shear": [-10, 10],
            "translate_percent": [-0.1, 0.1],
            "fit_output": True,
            "p": 1,
        }
    },
    {"Affine": {"scale": [0.6, 1.4], "keep_ratio": True, "rotate": [-20, 20], "p": 1}},
    {"Rotate": {"limit": 30, "p": 1}},
    {"SafeRotate": {"limit": 30, "p": 1}},
    {"Perspective": {"scale": [0.05, 0.1], "p": 1}},
    {"Perspective": {"scale": [0.05, 0.1], "keep_size": False, "fit_output": True, "p": 1}},
    {"RandomSizedBBoxSafeCrop": {"height": 60, "width": 60, "p": 1}},
    {"RandomResizedCrop": {"size": [64, 80], "scale": [0.5, 1.0], "p": 1}},
    {"RandomSizedCrop": {"min_max_height": [40, 70], "size": [50, 50], "p": 1}},
    {"Resize": {"height": 40, "width": 50, "p": 1}},
    {"Resize": {"height": 160, "width": 200, "p": 1}},
    {"Resize": {"height": 57, "width": 133, "p": 1}},
    {"LongestMaxSize": {"max_size": 64, "p": 1}},
    {"SmallestMaxSize": {"max_size": 120, "p": 1}},
    {"RandomScale": {"scale_limit": 0.4, "p": 1}},
    {"CropAndPad": {"px": [-10, 10], "p": 1}},
    {"CropAndPad": {"percent": [-0.2, 0.2], "keep_size": False, "p": 1}},
]


def label(transform: dict) -> str:
    [(name, params)] = transform.items()
    return name + "".join(f"-{key}" for key in params if key != "p")


@pytest.mark.parametrize("transform", EXACT, ids=label)
def test_points_land_exactly_on_moved_pixels(transform):
    assert max(spot_errors(build(transform), size=1)) < 1e-4


@pytest.mark.parametrize("transform", RESAMPLED, ids=label)
def test_points_land_on_resampled_pixels(transform):
    assert max(spot_errors(build(transform), size=3, seeds=range(6))) < 0.25


@pytest.mark.parametrize(
    "crop",
    [
        {"BBoxSafeRandomCrop": {"erosion_rate": 0.0, "p": 1}},
        {"OneOf": {"transforms": [{"RandomSizedBBoxSafeCrop": {"height": 40, "width": 40, "p": 1}}], "p": 1}},
    ],
    ids=["BBoxSafeRandomCrop", "nested-RandomSizedBBoxSafeCrop"],
)
def test_bbox_safe_crops_keep_every_box(crop):
    pipeline = build(crop)
    corners, _ = pack(box_shapes(Boxes(BOXES, [0, 0]), "corners"))
    outcomes = set()
    for seed in range(12):
        image, moved = pipeline(np.zeros((H, W, 3), np.uint8), corners, BOXES, seed)
        height, width = image.shape[:2]
        assert np.all(moved >= -1e-6) and np.all(moved <= [width + 1e-6, height + 1e-6])
        outcomes.add(tuple(np.round(moved, 3).ravel()))
    assert len(outcomes) > 1  # the crops do vary


def test_shift_scale_rotate_is_refused_in_favour_of_affine():
    with pytest.raises(PolicyError, match="Please use Affine"):
        build({"ShiftScaleRotate": {"p": 1}})


def test_flip_of_continuous_coordinates():
    pipeline = build({"HorizontalFlip": {"p": 1}}, {"VerticalFlip": {"p": 1}})
    points = np.array([[0.0, 0.0], [W, H], [10.25, 3.5], [-4.0, 80.0]])
    _, moved = pipeline(np.zeros((H, W, 3), np.uint8), points, BOXES, 0)
    np.testing.assert_allclose(moved, [[W, H], [0, 0], [W - 10.25, H - 3.5], [W + 4.0, H - 80.0]], atol=1e-4)


def test_points_outside_the_image_are_kept_unclipped():
    pipeline = build({"Affine": {"rotate": [10, 10], "p": 1}}, {"RandomCrop": {"height": 40, "width": 40, "p": 1}})
    points = np.array([[-50.0, -50.0], [500.0, 20.0], [20.0, 20.0]])
    _, moved = pipeline(np.zeros((H, W, 3), np.uint8), points, BOXES, 3)
    assert moved.shape == (3, 2) and moved[0].max() < -20 and moved[1, 0] > 300


def test_no_points_and_no_boxes():
    image, moved = build({"Affine": {"rotate": [-10, 10], "p": 1}}, {"BBoxSafeRandomCrop": {"p": 1}})(
        np.full((H, W, 3), 9, np.uint8), np.zeros((0, 2)), np.zeros((0, 4)), 5
    )
    assert moved.shape == (0, 2) and image.dtype == np.uint8 and image.ndim == 3


def test_inputs_are_not_modified():
    image = spot_image(20, 20, 5)
    points = np.array([[22.5, 22.5], [1.0, 2.0]])
    boxes = np.array([[-5.0, 10, 200, 30], [40, 40, 40, 50]])  # out of the image and degenerate: tolerated
    for array in (image, points, boxes):
        array.setflags(write=False)
    copies = [image.copy(), points.copy(), boxes.copy()]
    pipeline = build(
        {"HorizontalFlip": {"p": 1}},
        {"RandomBrightnessContrast": {"p": 1}},
        {"RandomSizedBBoxSafeCrop": {"height": 50, "width": 50, "p": 1}},
    )
    pipeline(image, points, boxes, 1)
    for array, copy in zip((image, points, boxes), copies, strict=True):
        assert np.array_equal(array, copy)


# --- randomness ---------------------------------------------------------------------------------------------

MIXED = (
    {"HorizontalFlip": {"p": 0.5}},
    {"Affine": {"rotate": [-20, 20], "scale": [0.8, 1.2], "p": 0.7}},
    {"RandomBrightnessContrast": {"p": 0.5}},
    {"HueSaturationValue": {"p": 0.5}},
    {"GaussNoise": {"std_range": [0.02, 0.1], "p": 0.5}},
    {"OneOf": {"transforms": [{"GaussianBlur": {"p": 1}}, {"MotionBlur": {"p": 1}}], "p": 0.5}},
    {"BBoxSafeRandomCrop": {"p": 0.5}},
)


def textured(seed: int = 0, channels: int = 3) -> np.ndarray:
    shape = (H, W, channels) if channels > 1 else (H, W)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def digest(image: np.ndarray, points: np.ndarray) -> str:
    return hashlib.sha256(image.tobytes() + str(image.shape).encode() + points.tobytes()).hexdigest()


POINTS = np.array([[5.0, 5.0], [50.0, 30.0], [90.0, 70.0]])


def test_same_seed_same_bytes_across_pipelines_and_calls():
    first, second = build(*MIXED), build(*MIXED)
    expected = {seed: digest(*first(textured(), POINTS, BOXES, seed)) for seed in range(8)}
    for seed in (5, 2, 7, 0):  # other order, other pipeline, after other calls
        assert digest(*second(textured(), POINTS, BOXES, seed)) == expected[seed]
        assert digest(*first(textured(), POINTS, BOXES, seed)) == expected[seed]
    assert len(set(expected.values())) == len(expected)  # every seed gives another result


def test_same_seed_same_bytes_in_another_process():
    script = f"""
import hashlib, json, numpy as np
from bboxaug.augmentation.backends import get_backend
from bboxaug.augmentation.policy import load_policy
pipeline = get_backend("albumentations").build(load_policy({{"transforms": {json.dumps(MIXED)}}}))
image = np.random.default_rng(0).integers(0, 256, ({H}, {W}, 3), dtype=np.uint8)
pixels, moved = pipeline(image, np.array({POINTS.tolist()}), np.array({BOXES.tolist()}), 12345)
print(hashlib.sha256(pixels.tobytes() + str(pixels.shape).encode() + moved.tobytes()).hexdigest())
"""
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == digest(*build(*MIXED)(textured(), POINTS, BOXES, 12345))


def test_transforms_draw_independent_random_numbers():
    # With one generator per transform seeded alike (Compose.set_random_seed), both flips would always agree.
    pipeline = build({"HorizontalFlip": {"p": 0.5}}, {"VerticalFlip": {"p": 0.5}})
    outcomes = set()
    for seed in range(40):
        _, moved = pipeline(np.zeros((H, W, 3), np.uint8), np.array([[1.0, 1.0]]), BOXES, seed)
        outcomes.add((bool(moved[0, 0] != 1.0), bool(moved[0, 1] != 1.0)))
    assert outcomes == {(False, False), (False, True), (True, False), (True, True)}


# --- greyscale ----------------------------------------------------------------------------------------------


def test_greyscale_images_stay_greyscale():
    pipeline = build(*MIXED, {"RGBShift": {"p": 1}}, {"CLAHE": {"p": 1}}, {"ISONoise": {"p": 1}})
    for seed in range(6):
        image, moved = pipeline(textured(channels=1), POINTS, BOXES, seed)
        assert image.ndim == 2 and image.dtype == np.uint8 and moved.shape == (3, 2)
    colour, _ = pipeline(textured(), POINTS, BOXES, 0)
    assert colour.ndim == 3 and colour.shape[2] == 3


@pytest.mark.parametrize("name", sorted(GREYSCALE_SKIPPED))
def test_greyscale_skips_exactly_what_albumentations_cannot_do_on_one_channel(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        transform = getattr(A, name)(p=1)
        with pytest.raises(Exception, match="channel"):
            A.Compose([transform], seed=0)(image=textured(channels=1))
    pipeline = build({name: {"p": 1}})
    grey = textured(channels=1)
    assert np.array_equal(pipeline(grey, POINTS, BOXES, 0)[0], grey)
    colour = textured()
    assert not np.array_equal(pipeline(colour, POINTS, BOXES, 0)[0], colour)


#: Parameters for the transforms that have required ones, so the sweep below can build them.
REQUIRED = {
    "CenterCrop": {"height": 30, "width": 30},
    "RandomCrop": {"height": 30, "width": 30},
    "Crop": {"x_max": 30, "y_max": 30},
    "AtLeastOneBBoxRandomCrop": {"height": 30, "width": 30},
    "RandomSizedBBoxSafeCrop": {"height": 30, "width": 30},
    "CropNonEmptyMaskIfExists": {"height": 30, "width": 30},
    "Resize": {"height": 30, "width": 30},
    "LongestMaxSize": {"max_size": 50},
    "SmallestMaxSize": {"max_size": 50},
    "RandomResizedCrop": {"size": [30, 30]},
    "RandomSizedCrop": {"min_max_height": [20, 40], "size": [30, 30]},
    "CropAndPad": {"px": 5},
    "GridElasticDeform": {"num_grid_xy": [4, 4], "magnitude": 5},
    "TextImage": {"font_path": "font.ttf"},
}


def test_every_accepted_transform_runs_on_colour_and_greyscale_images():
    """Whatever validate() lets through must work on both kinds of image and keep every point."""
    accepted = 0
    for name in transform_names():
        try:
            pipeline = build({name: {"p": 1, **REQUIRED.get(name, {})}})
        except PolicyError:
            continue  # refused (the refusals have their own tests) or needs other parameters
        for channels in (3, 1):
            image, moved = pipeline(textured(channels=channels), POINTS, BOXES, 1)
            assert image.ndim == (3 if channels == 3 else 2) and image.dtype == np.uint8, name
            assert moved.shape == (3, 2) and np.isfinite(moved).all(), name
        accepted += 1
    assert accepted > 80


# --- validation -----------------------------------------------------------------------------------------------


def refused(*transforms: dict) -> str:
    with pytest.raises(PolicyError) as caught:
        load_policy({"transforms": list(transforms)})
    return str(caught.value)


def test_unknown_transform_names_suggest_close_ones():
    assert "did you mean 'HorizontalFlip'" in refused({"HorizontalFlipp": {}})
    assert "did you mean 'HorizontalFlip'" in refused({"horizontalflip": {}})
    message = refused({"Flip": {}})
    assert "unknown albumentations transform 'Flip'" in message and "transforms[0] Flip" in message


def test_bad_and_unknown_parameters():
    message = refused({"HorizontalFlip": {}}, {"Affine": {"rotat": [1, 2]}})
    assert "transforms[1] Affine" in message and "'rotat'" in message and "did you mean 'rotate'" in message
    message = refused({"Affine": {"rotate": "a lot"}})
    assert "bad parameters" in message and "rotate" in message
    assert "less than or equal to 1" in refused({"HorizontalFlip": {"p": 2}})


def test_deprecated_and_adjusted_parameters_are_refused():
    message = refused({"GaussNoise": {"var_limit": [10, 50]}})  # albumentations 1.x name, now ignored with a warning
    assert "'var_limit'" in message and "std_range" in message
    message = refused({"Blur": {"blur_limit": 4}})  # albumentations warns and silently changes it
    assert "albumentations warns" in message and "blur_limit" in message


def test_transforms_that_cannot_carry_boxes():
    assert "cannot carry boxes" in refused({"OverlayElements": {}})

    class MaskOnlyWarp(DualTransform):
        _targets = (Targets.IMAGE, Targets.MASK)

    assert "cannot carry boxes" in refusal(MaskOnlyWarp(p=1))
    assert refusal(A.Affine(p=1)) is None and refusal(A.HorizontalFlip(p=1)) is None


@pytest.mark.parametrize(
    "transform, reason",
    [
        ({"Mosaic": {}}, "mosaic_metadata"),
        ({"FDA": {}}, "fda_metadata"),
        ({"HistogramMatching": {}}, "hm_metadata"),
        ({"PixelDistributionAdaptation": {}}, "pda_metadata"),
        ({"MaskDropout": {}}, "extra input (mask)"),
        ({"RandomCropNearBBox": {}}, "cropping_bbox"),
        ({"ElasticTransform": {}}, "non-linear warp"),
        ({"GridDistortion": {}}, "non-linear warp"),
        ({"RandomGridShuffle": {}}, "tiles"),
        ({"Normalize": {}}, "floats"),
        ({"ToGray": {"num_output_channels": 1}}, "channels"),
        ({"CenterCrop3D": {"size": [2, 2, 2]}}, "3-D volumes"),
    ],
)
def test_refused_transforms_say_why(transform, reason):
    message = refused(transform)
    assert "cannot be used" in message and reason in message


@pytest.mark.parametrize("border_mode", [2, 3, 4])
def test_mirroring_borders_are_refused_with_the_fix(border_mode):
    message = refused({"Affine": {"rotate": [-10, 10], "border_mode": border_mode}})
    assert "border_mode: 0" in message and "repeating objects" in message


def test_constant_and_replicated_borders_are_allowed():
    load_policy({"transforms": [{"Affine": {"border_mode": 0, "fill": 0}}, {"Rotate": {"border_mode": 1}}]})


def test_nested_compositions_are_checked_inside():
    load_policy({"transforms": [{"OneOf": {"transforms": [{"Blur": {}}, {"MotionBlur": {}}], "p": 0.3}}]})
    message = refused({"OneOf": {"transforms": [{"Blur": {}}, {"GridDistortion": {}}]}})
    assert "transforms[0] OneOf > transforms[1] GridDistortion" in message
    assert "Sequential" in refused({"Compose": {"transforms": [{"Blur": {}}]}})


def test_errors_name_the_line_of_the_policy_file(tmp_path: Path):
    path = tmp_path / "policy.yaml"
    path.write_text(
        "transforms:\n  - HorizontalFlip: {p: 0.5}\n  - Affine:\n      rotate: [-10, 10]\n      border_mode: 4\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.file == str(path) and "line 3" in caught.value.field and "Affine" in caught.value.field


def test_backend_registry():
    assert set(BACKENDS) == {"albumentations", "imgaug"} and get_backend("albumentations") is BACKEND
    with pytest.raises(PolicyError, match="known: albumentations, imgaug"):
        get_backend("kornia")


def test_importing_the_registry_imports_no_library():
    script = (
        "import sys, bboxaug.augmentation.backends; "
        "print(sorted(m for m in ('albumentations', 'imgaug') if m in sys.modules))"
    )
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "[]"


# --- serialized pipelines ---------------------------------------------------------------------------------------


def serialized(*transforms) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = A.to_dict(A.Compose(list(transforms), bbox_params=A.BboxParams(format="coco")))
    return json.loads(json.dumps(data))  # as read from a JSON file: tuples become lists


def test_serialized_pipeline_does_what_the_same_policy_does():
    data = serialized(
        A.HorizontalFlip(p=0.5),
        A.Affine(rotate=(-20, 20), p=0.7),
        A.RGBShift(p=0.5),
        A.OneOf([A.GaussianBlur(p=1), A.MotionBlur(p=1)], p=0.5),
        A.PadIfNeeded(100, 100),
    )
    from_file = BACKEND.build(load_policy(data))
    same = build(
        {"HorizontalFlip": {"p": 0.5}},
        {"Affine": {"rotate": [-20, 20], "p": 0.7}},
        {"RGBShift": {"p": 0.5}},
        {"OneOf": {"transforms": [{"GaussianBlur": {"p": 1}}, {"MotionBlur": {"p": 1}}], "p": 0.5}},
        {"PadIfNeeded": {"min_height": 100, "min_width": 100}},
    )
    for seed in range(5):
        assert digest(*from_file(textured(), POINTS, BOXES, seed)) == digest(*same(textured(), POINTS, BOXES, seed))


def test_serialized_pipelines_get_the_same_checks():
    data = serialized(A.HorizontalFlip(), A.OneOf([A.Blur(), A.ElasticTransform()]))
    with pytest.raises(PolicyError, match=r"transform > transforms\[1\] OneOf > transforms\[1\] ElasticTransform"):
        load_policy(data)
    data = serialized(A.HorizontalFlip())
    data["transform"]["transforms"][0]["__class_fullname__"] = "HorizontallFlip"
    with pytest.raises(PolicyError, match="did you mean 'HorizontalFlip'"):
        load_policy(data)
    data = serialized(A.HorizontalFlip())
    data["transform"]["transforms"][0]["flip_axis"] = 1
    with pytest.raises(PolicyError, match="unknown parameter 'flip_axis'"):
        load_policy(data)
    data = serialized(A.Rotate(border_mode=4))
    with pytest.raises(PolicyError, match="border_mode: 0"):
        load_policy(data)


# --- the whole idea, against the pixels ---------------------------------------------------------------------


def iou(a: np.ndarray, b: np.ndarray) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def pixel_box(image: np.ndarray) -> np.ndarray:
    rows, columns = np.nonzero(image.max(axis=2) > 127)
    return np.array([columns.min(), rows.min(), columns.max() + 1, rows.max() + 1], dtype=np.float64)


def rotate_30(image: np.ndarray, boxes: Boxes, box_shape: str = "corners") -> tuple[np.ndarray, np.ndarray, float]:
    """Rotate by 30 degrees; the box geometry.follow gives and albumentations' own box for the first object."""
    pipeline = build({"Affine": {"rotate": [30, 30], "p": 1}})
    points, layout = pack(box_shapes(boxes, box_shape))
    pixels, moved = pipeline(image, points, boxes.xyxy, 0)
    followed = follow(unpack(moved, layout), pixels.shape[1], pixels.shape[0])
    theirs = A.Compose(
        [A.Affine(rotate=(30, 30), p=1)], bbox_params=A.BboxParams(format="pascal_voc", clip=True), seed=0
    )(image=image, bboxes=boxes.xyxy[:1])["bboxes"][0]
    return pixels, followed.xyxy[0], float(iou(theirs, pixel_box(pixels)))


def test_rotated_rectangle_cut_by_the_border_matches_its_pixels():
    image = np.zeros((120, 160, 3), np.uint8)
    image[0:30, 110:160] = 255  # in the top right corner: turning about the centre pushes two corners out
    pixels, ours, theirs = rotate_30(image, Boxes([[110, 0, 160, 30]], [0]))
    measured = pixel_box(pixels)
    assert measured[1] == 0  # cut by the top border
    assert iou(ours, measured) >= 0.95
    assert theirs < 0.8  # albumentations clips the envelope of the whole turned box instead


def test_rotated_ellipse_with_its_polygon_matches_its_pixels():
    angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    polygon = np.stack([125 + 30 * np.cos(angles), 35 + 18 * np.sin(angles)], axis=1)
    image = np.zeros((120, 160, 3), np.uint8)
    ys, xs = np.mgrid[0:120, 0:160] + 0.5
    image[((xs - 125) / 30) ** 2 + ((ys - 35) / 18) ** 2 <= 1] = 255
    boxes = Boxes([[95, 17, 155, 53]], [0], {"segmentation": object_column([[polygon.ravel().tolist()]])})
    pixels, ours, theirs = rotate_30(image, boxes)
    assert iou(ours, pixel_box(pixels)) >= 0.9 and iou(ours, pixel_box(pixels)) > theirs
    _, corners_box, _ = rotate_30(image, Boxes([[95, 17, 155, 53]], [0]))  # without the polygon: looser
    assert iou(corners_box, pixel_box(pixels)) < iou(ours, pixel_box(pixels))


def test_loading_the_backend_asks_no_server_for_updates() -> None:
    """albumentations checks PyPI for a newer version on import unless told not to; bboxaug tells it (in a fresh
    interpreter whose environment does not, with every URL opened ending the process)."""
    script = (
        "import urllib.request\n"
        "def refuse(*args, **kwargs):\n"
        "    raise SystemExit('a URL was opened')\n"  # not an Exception: albumentations' check cannot swallow it
        "urllib.request.OpenerDirector.open = refuse\n"
        "from bboxaug.augmentation.backends import BACKENDS\n"
        "BACKENDS['albumentations'].build\n"
        "import albumentations\n"
        "print('no request')\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != "NO_ALBUMENTATIONS_UPDATE"}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, check=False)
    assert (run.returncode, run.stdout.strip()) == (0, "no request"), run.stderr
