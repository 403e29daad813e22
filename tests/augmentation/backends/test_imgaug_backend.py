"""The imgaug backend: points land where the pixels went, calls are pure functions of the seed, and every
augmenter that cannot carry boxes is refused before any image is read, naming the line and the reason.

Geometry is checked on pixels, not on imgaug's word: a bright 3x3 dot centred on pixel (x, y) is drawn, the
point (x + 0.5, y + 0.5) is moved with it, and the moved point must sit on the centroid of the moved dot. Exact
maps (flips, 90-degree turns, crops, pads) must match exactly; interpolating ones within a fraction of a pixel.
Tests that need imgaug skip, saying so, where it is not installed (find_spec, not importorskip: see
tests/test_imgaug_compat.py).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from bboxaug.augmentation.imgaug_compat import BROKEN_AUGMENTERS, INSTALL_HINT
from bboxaug.augmentation.policy import load_policy
from bboxaug.augmentation.spec import Policy, TransformSpec
from bboxaug.core.errors import PolicyError
from bboxaug.geometry.shapes import BoxRules
from tests.conftest import REPO

W, H = 80, 60  # not square, so a swapped x/y shows
DOTS = [(14, 15), (50, 22), (64, 44), (30, 38)]
NO_BOXES = np.zeros((0, 4))


@pytest.fixture(scope="module")
def backend():
    if importlib.util.find_spec("imgaug") is None:
        pytest.skip("imgaug is not installed: pip install bboxaug[imgaug], then pip install --no-deps imgaug==0.4.0")
    from bboxaug.augmentation.backends.imgaug_backend import BACKEND

    return BACKEND


def policy(*transforms: tuple[str, dict], first_line: int = 6) -> Policy:
    specs = tuple(TransformSpec(name, params, line=first_line + i) for i, (name, params) in enumerate(transforms))
    return Policy("imgaug", specs, BoxRules(), "policy.yaml")


def dot_image(x: int, y: int, grey: bool = False) -> np.ndarray:
    image = np.zeros((H, W) if grey else (H, W, 3), dtype=np.uint8)
    image[y - 1 : y + 2, x - 1 : x + 2] = 255
    return image


def centroid(image: np.ndarray) -> np.ndarray:
    """Centre of the bright pixels in model coordinates (pixel i covers [i, i + 1))."""
    weights = (image if image.ndim == 2 else image.sum(axis=2)).astype(np.float64)
    rows, cols = np.indices(weights.shape)
    return np.array([(cols * weights).sum(), (rows * weights).sum()]) / weights.sum() + 0.5


def moved_dots(pipeline, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(moved point, centroid of the moved dot, whether the dot stayed 3 px inside) per dot, every dot under the
    same seed, i.e. the same transform."""
    found = []
    for x, y in DOTS:
        out, points = pipeline(dot_image(x, y), np.array([[x + 0.5, y + 0.5]]), NO_BOXES, seed)
        assert points.shape == (1, 2) and points.dtype == np.float64
        height, width = out.shape[:2]
        inside = 3 <= points[0, 0] <= width - 3 and 3 <= points[0, 1] <= height - 3
        found.append((points[0], centroid(out) if inside else None, inside))
    return found


def max_miss(pipeline, seeds=range(4)) -> float:
    """The largest distance (per axis) between a moved point and its moved dot, for dots still well inside."""
    misses = [
        np.abs(point - dot).max() for seed in seeds for point, dot, inside in moved_dots(pipeline, seed) if inside
    ]
    assert len(misses) >= 3 * len(seeds)  # most dots must stay inside, or the test proves nothing
    return max(misses)


@pytest.mark.parametrize(
    "name, params, expected",
    [
        ("Fliplr", {}, lambda x, y: (W - x, y)),
        ("Flipud", {}, lambda x, y: (x, H - y)),
        ("Rot90", {"k": 1, "keep_size": False}, lambda x, y: (H - y, x)),  # clockwise on screen
        ("Crop", {"px": [[3, 3], [4, 4], [5, 5], [6, 6]], "keep_size": False}, lambda x, y: (x - 6, y - 3)),
        ("Pad", {"px": [[3, 3], [4, 4], [5, 5], [6, 6]], "keep_size": False}, lambda x, y: (x + 6, y + 3)),
        ("Affine", {"translate_px": {"x": 5, "y": -3}}, lambda x, y: (x + 5, y - 3)),
    ],
)
def test_exact_maps_move_points_exactly_with_the_pixels(backend, name, params, expected):
    pipeline = backend.build(policy((name, params)))
    for point, dot, _ in moved_dots(pipeline, seed=3):
        assert point.tolist() == pytest.approx(dot.tolist(), abs=1e-9)
    _, points = pipeline(dot_image(5, 5), np.array([[10.25, 20.75], [0.0, 0.0]]), NO_BOXES, 0)
    np.testing.assert_allclose(points, [expected(10.25, 20.75), expected(0.0, 0.0)], atol=1e-5)


def turn(x: float, y: float, degrees: float, scale: float = 1.0) -> tuple[float, float]:
    """Clockwise on screen (y down) and scaled about the image centre (W/2, H/2)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    dx, dy = x - W / 2, y - H / 2
    return W / 2 + scale * (c * dx - s * dy), H / 2 + scale * (s * dx + c * dy)


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"rotate": 30}, lambda x, y: turn(x, y, 30)),
        ({"scale": 1.25}, lambda x, y: turn(x, y, 0, 1.25)),
        ({"rotate": -90, "scale": 0.8}, lambda x, y: turn(x, y, -90, 0.8)),
    ],
)
def test_affine_turns_and_scales_points_about_the_image_centre_with_the_pixels(backend, params, expected):
    pipeline = backend.build(policy(("Affine", params)))
    assert max_miss(pipeline, seeds=[0]) < 0.05
    _, points = pipeline(dot_image(5, 5), np.array([[10.25, 20.75]]), NO_BOXES, 0)
    np.testing.assert_allclose(points[0], expected(10.25, 20.75), atol=1e-4)


@pytest.mark.parametrize(
    "name, params, tolerance",
    [
        ("Affine", {"rotate": [-25, 25], "scale": [0.8, 1.2], "shear": [-8, 8], "translate_percent": [-0.1, 0.1]}, 0.1),
        ("CropAndPad", {"percent": [-0.15, 0.15]}, 0.1),
        ("Resize", {"size": {"height": 72, "width": 80}}, 0.1),
        ("Resize", {"size": 0.5}, 0.15),  # a 3x3 dot shrunk to 1.5 px: its centroid blurs, not the point
        # strong perspective bends the dot itself, which moves its centroid a little off the image of its centre
        ("PerspectiveTransform", {"scale": [0.1, 0.15]}, 0.25),
        ("PerspectiveTransform", {"scale": [0.1, 0.15], "keep_size": False}, 0.25),
    ],
)
def test_interpolating_maps_move_points_onto_the_moved_pixels(backend, name, params, tolerance):
    assert max_miss(backend.build(policy((name, params)))) < tolerance


def test_perspective_points_need_the_half_pixel_shift_imgaug_leaves_out(backend):
    from bboxaug.augmentation.backends import imgaug_backend

    _, iaa, _ = imgaug_backend._imgaug()
    plain = iaa.PerspectiveTransform(scale=(0.1, 0.15), seed=0)
    ours = backend.build(policy(("PerspectiveTransform", {"scale": [0.1, 0.15]})))
    assert max_miss(imgaug_backend.ImgaugPipeline(plain)) > 0.5 > 0.25 > max_miss(ours)


DETERMINISM = policy(
    ("Fliplr", {"p": 0.5}),
    ("Affine", {"rotate": [-15, 15], "scale": [0.9, 1.1], "p": 0.7}),
    ("MultiplyAndAddToBrightness", {"mul": [0.8, 1.2]}),
    ("PerspectiveTransform", {"scale": [0.02, 0.08]}),
    ("GaussianBlur", {"sigma": [0, 1.5], "p": 0.5}),
    ("AdditiveGaussianNoise", {"scale": [0, 12]}),
    ("Dropout", {"p": [0, 0.05]}),
    ("MotionBlur", {"p": 0.3}),
)


def test_same_seed_same_bytes_and_points_across_builds_and_call_histories(backend):
    image = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    points = np.array([[10.5, 12.5], [63.0, 47.25], [-4.0, 50.0]])
    first, second = backend.build(DETERMINISM), backend.build(DETERMINISM)
    kept = image.copy(), points.copy()
    results = {seed: first(image, points, NO_BOXES, seed) for seed in (0, 1, 2**32 - 1)}
    for seed in (2**32 - 1, 1, 0):  # another build, calls in another order
        out, moved = second(image, points, NO_BOXES, seed)
        assert out.tobytes() == results[seed][0].tobytes() and np.array_equal(moved, results[seed][1])
    assert np.array_equal(image, kept[0]) and np.array_equal(points, kept[1])  # inputs untouched
    assert results[0][0].tobytes() != results[1][0].tobytes()
    assert not np.array_equal(results[0][1], results[1][1])


def test_greyscale_stays_greyscale_and_colour_augmenters_work_on_it(backend):
    image = np.random.default_rng(2).integers(0, 256, (H, W), dtype=np.uint8)
    out, _ = backend.build(policy(("Fliplr", {})))(image, np.zeros((0, 2)), NO_BOXES, 0)
    assert out.shape == (H, W) and out.dtype == np.uint8 and np.array_equal(out, image[:, ::-1])
    colour = backend.build(policy(("MultiplyAndAddToBrightness", {}), ("AddToHueAndSaturation", {"value": 30})))
    out, _ = colour(image, np.zeros((0, 2)), NO_BOXES, 4)
    assert out.shape == (H, W) and out.dtype == np.uint8 and not np.array_equal(out, image)
    rotate = backend.build(policy(("Affine", {"rotate": 20})))
    for point, dot, _ in moved_dots(lambda img, *rest: rotate(np.ascontiguousarray(img[..., 0]), *rest), seed=0):
        assert np.abs(point - dot).max() < 0.15


def test_p_goes_to_the_augmenter_that_has_one_and_wraps_the_others_in_sometimes(backend):
    image = np.random.default_rng(3).integers(0, 256, (H, W, 3), dtype=np.uint8)
    never = backend.build(policy(("GaussianBlur", {"sigma": 3, "p": 0})))
    always = backend.build(policy(("GaussianBlur", {"sigma": 3})))
    assert all(np.array_equal(never(image, np.zeros((0, 2)), NO_BOXES, s)[0], image) for s in range(5))
    assert not any(np.array_equal(always(image, np.zeros((0, 2)), NO_BOXES, s)[0], image) for s in range(5))
    dropout = backend.build(policy(("Dropout", {"p": 0.5})))  # imgaug's own p: the share of pixels dropped
    bright = np.full((H, W, 3), 200, dtype=np.uint8)
    for seed in range(5):
        dropped = (dropout(bright, np.zeros((0, 2)), NO_BOXES, seed)[0] == 0).mean()
        assert 0.4 < dropped < 0.6
    flip = backend.build(policy(("Fliplr", {"p": 0.5})))
    flipped = [flip(image, np.array([[1.0, 1.0]]), NO_BOXES, s)[1][0, 0] == W - 1 for s in range(40)]
    assert 10 < sum(flipped) < 30


def test_yaml_lists_become_imgaug_ranges_or_choices():
    from bboxaug.augmentation.backends.imgaug_backend import to_imgaug

    assert to_imgaug({"rotate": [-15, 15], "order": [0, 1, 3], "mode": ["constant", "edge"]}) == {
        "rotate": (-15, 15),
        "order": [0, 1, 3],
        "mode": ["constant", "edge"],
    }
    assert to_imgaug({"px": [[0, 4], 0, [0, 4], 0]}) == {"px": ((0, 4), 0, (0, 4), 0)}
    assert to_imgaug({"translate_px": {"x": [-5, 5]}, "flag": [True, False]}) == {
        "translate_px": {"x": (-5, 5)},
        "flag": [True, False],
    }


REFUSALS = [
    ("Flipr", {}, "unknown imgaug augmenter (did you mean 'Fliplr'?)"),
    ("Affine", {"rotate": "a lot"}, "bad parameters: AssertionError"),
    ("Affine", {"mode": "reflect"}, "mode='reflect' fills new borders with mirrored or repeated image content"),
    ("Affine", {"mode": ["constant", "wrap"]}, "mode 'wrap' fills new borders"),
    ("Pad", {"px": 4, "pad_mode": "edge"}, "pad_mode='edge' fills new borders"),
    ("PerspectiveTransform", {"mode": "replicate"}, "use constant borders"),
    ("Affine", {"rotate": 30, "fit_output": True}, "fit_output=True is refused"),
    ("Jigsaw", {"nb_rows": 2, "nb_cols": 2}, "cannot carry boxes: shuffles grid cells"),
    ("PiecewiseAffine", {"scale": 0.03}, "whole pixels only"),
    ("pillike.Affine", {"rotate": 5}, "raises for keypoints; use Affine"),
    ("RandAugment", {}, "it contains pillike.Affine, which cannot carry boxes"),
    ("TotalDropout", {"p": 0.2}, "removes keypoints"),
    ("AffineCv2", {}, "use Affine"),
    ("ElasticTransformation", {"alpha": 20.0, "sigma": 3.0}, BROKEN_AUGMENTERS["ElasticTransformation"]),
    ("imgcorruptlike.Fog", {}, BROKEN_AUGMENTERS["imgcorruptlike"]),
    ("Fliplr", {"seed": 1}, "seed cannot be set"),
    ("GaussianBlur", {"sigma": 1, "p": 1.5}, "p must be a number from 0 to 1, not 1.5"),
    ("WithChannels", {"channels": [7]}, "fails on a 32x24 test image with one point (IndexError"),
]


@pytest.mark.parametrize("name, params, message", REFUSALS, ids=[f"{r[0]}-{i}" for i, r in enumerate(REFUSALS)])
def test_validate_refuses_with_line_transform_and_reason(backend, name, params, message):
    with pytest.raises(PolicyError) as caught:
        backend.validate(policy(("Fliplr", {"p": 0.5}), (name, params)))
    assert caught.value.file == "policy.yaml" and caught.value.field == f"line 7: transforms[1] {name}"
    assert message in caught.value.message
    assert caught.value.exit_code == 2


def test_validate_accepts_the_issue_example_and_refuses_serialized_pipelines(backend):
    backend.validate(
        policy(
            ("Fliplr", {"p": 0.5}),
            ("Affine", {"rotate": [-15, 15], "scale": [0.9, 1.1], "p": 0.7}),
            ("MultiplyAndAddToBrightness", {"mul": [0.8, 1.2]}),
        )
    )
    serialized = Policy("imgaug", (), BoxRules(), "a.json", serialized={"__version__": "2.0", "transform": {}})
    with pytest.raises(PolicyError, match="not an albumentations serialized pipeline"):
        backend.validate(serialized)


def test_load_policy_reports_the_file_line(backend, tmp_path):
    from bboxaug.augmentation.backends import get_backend

    assert get_backend("imgaug") is backend
    path = tmp_path / "policy.yaml"
    path.write_text(
        "backend: imgaug\ntransforms:\n  - Fliplr: {p: 0.5}\n  - Affine: {rotate: [-15, 15], mode: symmetric}\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.field == "line 4: transforms[1] Affine" and "mode='symmetric'" in caught.value.message


def test_missing_imgaug_is_a_policy_error_with_the_install_hint(backend, monkeypatch):
    from bboxaug.augmentation.backends import imgaug_backend

    monkeypatch.setitem(sys.modules, "imgaug", None)  # `import imgaug` now fails as if it were not installed
    imgaug_backend._imgaug.cache_clear()
    try:
        with pytest.raises(PolicyError) as caught:
            backend.validate(policy(("Fliplr", {})))
        assert caught.value.message == INSTALL_HINT
    finally:
        monkeypatch.undo()
        imgaug_backend._imgaug.cache_clear()


def run_probe(code: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_backends_does_not_import_imgaug():
    report = run_probe(
        "import json, sys\nimport bboxaug, bboxaug.augmentation.policy, bboxaug.augmentation.backends\n"
        "import bboxaug.augmentation.backends.imgaug_backend\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'imgaug')))"
    )
    assert report == []


def test_numpy_global_random_state_is_left_alone(backend):
    report = run_probe(
        "import json\nimport numpy as np\nfrom bboxaug.augmentation.spec import Policy, TransformSpec\n"
        "from bboxaug.geometry.shapes import BoxRules\n"
        "from bboxaug.augmentation.backends.imgaug_backend import BACKEND\n"
        "np.random.seed(5)\nbefore = np.random.get_state()[1].tolist()\n"
        "p = Policy('imgaug', (TransformSpec('Affine', {'rotate': [-9, 9], 'p': 0.5}), "
        "TransformSpec('MultiplyAndAddToBrightness', {}), TransformSpec('MotionBlur', {})), BoxRules(), 'x')\n"
        "BACKEND.validate(p)\nBACKEND.build(p)(np.zeros((8, 8, 3), np.uint8), np.zeros((1, 2)), None, 1)\n"
        "print(json.dumps(np.random.get_state()[1].tolist() == before))"
    )
    assert report is True
