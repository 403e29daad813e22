"""The imgaug compatibility layer: imgaug 0.4.0 imports and moves boxes and polygons correctly under NumPy 2.

Every test that needs imgaug skips, saying so, where imgaug is not installed. The check is `find_spec`, not
`pytest.importorskip`: importorskip imports imgaug before the NumPy names are restored, and under NumPy 2 that
import fails with AttributeError (`np.sctypes`) instead of skipping.

Expected coordinates come from our own rotation matrix: imgaug rotates coordinates clockwise on screen (y points
down) about (W/2, H/2), and images about the centre of the pixel grid, which is the same point once pixel i is
taken to cover [i, i+1).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from bboxaug.augmentation.imgaug_compat import BROKEN_AUGMENTERS, INSTALL_HINT, import_imgaug
from bboxaug.core.errors import PolicyError
from tests.conftest import REPO

IMGAUG_MISSING = "imgaug is not installed: pip install bboxaug[imgaug], then pip install --no-deps imgaug==0.4.0"
NUMPY_MAJOR_MINOR = tuple(int(part) for part in np.__version__.split(".")[:2])

WIDTH, HEIGHT = 200, 100  # not square, so a swapped x/y shows


@pytest.fixture(scope="module")
def imgaug_modules():
    if importlib.util.find_spec("imgaug") is None:
        pytest.skip(IMGAUG_MISSING)
    return import_imgaug()


def rotate_points(points, degrees: float, center: tuple[float, float]) -> np.ndarray:
    """Rotate (x, y) points by `degrees`, clockwise on screen (y down), about `center`."""
    theta = math.radians(degrees)
    matrix = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    offset = np.asarray(center, dtype=np.float64)
    return (np.asarray(points, dtype=np.float64) - offset) @ matrix.T + offset


def corners(x1: float, y1: float, x2: float, y2: float) -> list[tuple[float, float]]:
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


def blank_image() -> np.ndarray:
    return np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)


def test_missing_imgaug_is_a_policy_error_naming_the_install_steps(monkeypatch):
    monkeypatch.setitem(sys.modules, "imgaug", None)  # makes `import imgaug` fail as if it were not installed
    with pytest.raises(PolicyError) as caught:
        import_imgaug()
    message = str(caught.value)
    assert message == INSTALL_HINT
    assert "pip install bboxaug[imgaug]" in message
    assert "pip install --no-deps imgaug==0.4.0" in message
    assert caught.value.exit_code == 2


def test_imports_and_returns_the_package_and_its_augmenters(imgaug_modules):
    imgaug, augmenters = imgaug_modules
    assert imgaug.__version__ == "0.4.0"
    assert augmenters.__name__ == "imgaug.augmenters"
    assert augmenters.Affine.__module__ == "imgaug.augmenters.geometric"
    # imgaug built its dtype sets from the restored np.sctypes: they must hold the real NumPy scalar types
    assert np.float32 in imgaug.imgaug.NP_FLOAT_TYPES
    assert np.uint8 in imgaug.imgaug.NP_UINT_TYPES
    assert np.int64 in imgaug.imgaug.NP_INT_TYPES
    # a second call hands back the same modules
    again = import_imgaug()
    assert again[0] is imgaug and again[1] is augmenters


def test_aliases_are_the_ones_imgaug_expects(imgaug_modules):
    assert np.complex is complex  # noqa: NPY001 - the alias the shim restores is what is tested
    assert np.dtype(np.complex) == np.complex128  # noqa: NPY001
    assert np.bool is np.bool_  # NumPy 2's own name, left alone
    assert "sctypes" not in vars(np)  # only restored while imgaug is being imported


@pytest.mark.parametrize("degrees", [30.0, -45.0, 90.0])
def test_affine_rotation_moves_box_corners_where_the_rotation_matrix_says(imgaug_modules, degrees):
    imgaug, augmenters = imgaug_modules
    box = (60.0, 30.0, 100.0, 70.0)
    boxes = imgaug.BoundingBoxesOnImage([imgaug.BoundingBox(*box)], shape=(HEIGHT, WIDTH, 3))
    _, rotated = augmenters.Affine(rotate=degrees)(image=blank_image(), bounding_boxes=boxes)
    moved = rotate_points(corners(*box), degrees, (WIDTH / 2, HEIGHT / 2))
    expected = [moved[:, 0].min(), moved[:, 1].min(), moved[:, 0].max(), moved[:, 1].max()]
    np.testing.assert_allclose(rotated.to_xyxy_array()[0], expected, atol=1e-3)


def test_affine_rotation_moves_pixels_and_boxes_together(imgaug_modules):
    imgaug, augmenters = imgaug_modules
    image = blank_image()
    image[38:43, 68:73] = 255  # a 5x5 block whose centre is the point (70.5, 40.5)
    spot = imgaug.BoundingBoxesOnImage([imgaug.BoundingBox(70.5, 40.5, 70.5, 40.5)], shape=image.shape)
    image_aug, spot_aug = augmenters.Affine(rotate=30.0)(image=image, bounding_boxes=spot)
    weights = image_aug[..., 0].astype(np.float64)
    rows, cols = np.indices(weights.shape)
    centroid = ((cols * weights).sum() / weights.sum() + 0.5, (rows * weights).sum() / weights.sum() + 0.5)
    expected = rotate_points([(70.5, 40.5)], 30.0, (WIDTH / 2, HEIGHT / 2))[0]
    np.testing.assert_allclose(centroid, expected, atol=0.2)
    np.testing.assert_allclose(spot_aug.to_xyxy_array()[0][:2], expected, atol=1e-3)


def test_fliplr_mirrors_boxes_exactly(imgaug_modules):
    imgaug, augmenters = imgaug_modules
    image = np.arange(HEIGHT * WIDTH * 3, dtype=np.uint32).reshape(HEIGHT, WIDTH, 3).astype(np.uint8)
    boxes = imgaug.BoundingBoxesOnImage(
        [imgaug.BoundingBox(10.25, 5.0, 40.5, 60.0), imgaug.BoundingBox(0.0, 0.0, 200.0, 100.0)], shape=image.shape
    )
    image_aug, flipped = augmenters.Fliplr(1.0)(image=image, bounding_boxes=boxes)
    assert np.array_equal(image_aug, image[:, ::-1])
    assert flipped.to_xyxy_array().tolist() == [[WIDTH - 40.5, 5.0, WIDTH - 10.25, 60.0], [0.0, 0.0, 200.0, 100.0]]


def test_flipud_mirrors_boxes_exactly(imgaug_modules):
    imgaug, augmenters = imgaug_modules
    boxes = imgaug.BoundingBoxesOnImage([imgaug.BoundingBox(10.0, 5.25, 40.0, 60.5)], shape=(HEIGHT, WIDTH, 3))
    _, flipped = augmenters.Flipud(1.0)(image=blank_image(), bounding_boxes=boxes)
    assert flipped.to_xyxy_array().tolist() == [[10.0, HEIGHT - 60.5, 40.0, HEIGHT - 5.25]]


def test_polygons_augment(imgaug_modules):
    imgaug, augmenters = imgaug_modules
    points = [(60.0, 30.0), (100.0, 35.0), (80.0, 70.0)]
    polygons = imgaug.PolygonsOnImage([imgaug.Polygon(points)], shape=(HEIGHT, WIDTH, 3))

    _, rotated = augmenters.Affine(rotate=30.0)(image=blank_image(), polygons=polygons)
    np.testing.assert_allclose(
        rotated.polygons[0].exterior, rotate_points(points, 30.0, (WIDTH / 2, HEIGHT / 2)), atol=1e-3
    )

    _, mirrored = augmenters.Fliplr(1.0)(image=blank_image(), polygons=polygons)
    assert mirrored.polygons[0].exterior.tolist() == [[WIDTH - x, y] for x, y in points]

    image_aug, cropped = augmenters.Crop(px=(5, 0, 0, 7), keep_size=False)(image=blank_image(), polygons=polygons)
    assert image_aug.shape == (HEIGHT - 5, WIDTH - 7, 3)
    assert cropped.shape == image_aug.shape
    assert cropped.polygons[0].exterior.tolist() == [[x - 7, y - 5] for x, y in points]


def test_augmenters_that_need_the_restored_aliases_run(imgaug_modules):
    imgaug, augmenters = imgaug_modules
    parameters = imgaug.parameters
    image = np.full((32, 32, 3), 100, dtype=np.uint8)
    # Power (np.complex): Add's value is drawn as 3 ** 2 = 9, so every pixel goes from 100 to 109
    assert np.all(augmenters.Add(parameters.Deterministic(3) ** 2)(image=image) == 109)
    # FrequencyNoise (np.complex) behind Clouds; OneOf reads np.bool, NumPy 2's own name
    assert augmenters.Clouds()(image=image).shape == image.shape
    assert np.all(augmenters.OneOf([augmenters.Add(5)])(image=image) == 105)


def test_fork_providing_imgaug_is_refused(imgaug_modules, monkeypatch):
    monkeypatch.setattr(importlib.metadata, "packages_distributions", lambda: {"imgaug": ["sindre-imgaug"]})
    with pytest.raises(PolicyError, match="provided by sindre-imgaug"):
        import_imgaug()


def test_broken_augmenters_name_real_augmenters(imgaug_modules):
    _, augmenters = imgaug_modules
    for name, reason in BROKEN_AUGMENTERS.items():
        target = augmenters
        for part in name.split("."):
            target = getattr(target, part)
        assert reason.strip(), name


def test_change_color_temperature_still_fails_on_a_batch(imgaug_modules):
    _, augmenters = imgaug_modules
    images = [np.zeros((8, 8, 3), dtype=np.uint8)] * 2
    with pytest.raises(ValueError, match="broadcast"):
        augmenters.ChangeColorTemperature()(images=images)


def test_elastic_transformation_with_integer_alpha_still_fails_under_numpy_2(imgaug_modules):
    _, augmenters = imgaug_modules
    cv2 = pytest.importorskip("cv2")
    with pytest.raises(cv2.error):
        augmenters.ElasticTransformation(alpha=20, sigma=3)(image=np.zeros((16, 16, 3), dtype=np.uint8))


@pytest.mark.skipif(NUMPY_MAJOR_MINOR < (2, 4), reason="before NumPy 2.4 it is a DeprecationWarning, not an error")
def test_pillike_autocontrast_still_fails_under_numpy_2_4(imgaug_modules):
    _, augmenters = imgaug_modules
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    with pytest.raises(TypeError, match="0-dimensional"):
        augmenters.pillike.Autocontrast(cutoff=10)(image=image)  # cutoff 0 takes a path that works


# Run in a fresh interpreter: this process has imported imgaug already, and other tests may have touched NumPy.
# imgaug's dependencies are imported before the first snapshot: scipy adds warning filters of its own on import.
STATE_PROBE = r"""
import json, types, warnings
import numpy as np
import cv2, imageio, PIL.Image, scipy.ndimage, scipy.spatial, scipy.special, scipy.stats, shapely.geometry
import skimage.draw, skimage.exposure, skimage.measure, skimage.segmentation, skimage.transform

def state():
    rng = np.random.get_state()
    return {
        "namespace": {k: id(v) for k, v in vars(np).items() if not isinstance(v, types.ModuleType)},
        "errstate": np.geterr(),
        "printoptions": repr(np.get_printoptions()),
        "legacy_random_state": [rng[0], rng[1].tolist(), list(rng[2:])],
        "warning_filters": repr(warnings.filters),
    }

def changes(before, after):
    return sorted(key for key in before if key != "namespace" and before[key] != after[key])

missing_before = [name for name in ("sctypes", "complex", "bool") if name not in vars(np)]
before = state()

from bboxaug.augmentation.imgaug_compat import import_imgaug
ia, iaa = import_imgaug()
imported = state()

image = np.zeros((32, 48, 3), dtype=np.uint8)
boxes = ia.BoundingBoxesOnImage([ia.BoundingBox(4, 4, 20, 20)], shape=image.shape)
iaa.Sequential([iaa.Affine(rotate=(-20, 20)), iaa.Fliplr(0.5), iaa.Clouds(), iaa.OneOf([iaa.Add(5)])])(
    image=image, bounding_boxes=boxes)
used = state()

names_before, names_after = before["namespace"], used["namespace"]
print(json.dumps({
    "missing_before": missing_before,
    "added": sorted(set(names_after) - set(names_before)),
    "removed": sorted(set(names_before) - set(names_after)),
    "changed": sorted(k for k in names_before.keys() & names_after.keys() if names_before[k] != names_after[k]),
    "changed_by_import": changes(before, imported),
    "changed_by_use": changes(imported, used),
}))
"""


def test_numpy_global_state_is_unchanged_beyond_the_restored_aliases(imgaug_modules):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", STATE_PROBE],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # sctypes is taken away again after the import; complex stays
    assert report["missing_before"] == ["sctypes", "complex"]
    assert report["added"] == ["complex"]
    assert report["removed"] == []
    assert report["changed"] == []
    assert report["changed_by_import"] == []
    # imgaug itself, under any NumPy, seeds its global RNG on first use with one draw from NumPy's legacy global
    # RNG (imgaug.random.get_global_rng); that draw is all that running augmenters may change.
    assert report["changed_by_use"] in ([], ["legacy_random_state"])
