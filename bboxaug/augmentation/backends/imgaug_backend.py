"""The imgaug backend (`backend: imgaug`): each policy transform names an imgaug 0.4.0 augmenter.

Parameters are the augmenter's own keyword arguments, with two translations:
* YAML and JSON have no tuples, which imgaug reads as ranges: a list of exactly two numbers becomes a tuple (a
  uniform range, e.g. `rotate: [-15, 15]`) and a list holding lists or mappings becomes a tuple of its items (e.g.
  Crop `px: [[0, 4], 0, [0, 4], 0]`, one entry per side). Any other list stays a list: imgaug's "one of these".
* `p` goes to the augmenter when it has a `p` argument of its own, with imgaug's meaning (Fliplr/Flipud: chance of
  flipping; Dropout, CoarseDropout, SaltAndPepper...: share of pixels); otherwise it wraps it in Sometimes(p).
`seed`, `random_state`, `name` and `deterministic` are refused: every call reseeds every augmenter from its `seed`
(see `reseed`), the only randomness.

Refused: BROKEN_AUGMENTERS (with their reasons), the augmenters in _REFUSED and those holding one (RandAugment
holds pillike.Affine), Affine with fit_output=True (imgaug fits pixels and points with matrices half a pixel
apart), borders that mirror or repeat image content (duplicated objects would have no box: constant borders
only), and anything that fails on a small test image with a point (validate runs each augmenter once).

Coordinates: imgaug's keypoints are continuous like the model's (Fliplr maps x to W - x; Affine turns points
about (W/2, H/2) and pixel centres about ((W-1)/2, (H-1)/2), the same place), so points pass unchanged. The one
exception, PerspectiveTransform, warps pixels with OpenCV (pixel-centre coordinates) and points with the same
matrix; it is replaced by a subclass that shifts that matrix by half a pixel for the points. `boxes` is ignored:
imgaug has no crop that must keep objects. Greyscale images run as three equal channels (so colour augmenters
work) and come back as one (OpenCV's RGB-to-grey weights).
"""

from __future__ import annotations

import copy
import functools
import inspect
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from bboxaug.augmentation.spec import Policy, TransformSpec, spec_field, suggest
from bboxaug.core.errors import PolicyError

RESERVED = ("seed", "random_state", "name", "deterministic")


_DROPS_POINTS = "removes keypoints, but every point must come back (bboxaug's box rules decide which boxes stay)"


_REFUSED = {
    "Jigsaw": "shuffles grid cells, so an object cut across cells has no single box",
    "PiecewiseAffine": "imgaug moves points through it to whole pixels only (the peak of a warped distance map): "
    "up to a pixel off, and (-1, -1) for points it loses",
    "WithPolarWarping": "polar warping bends box edges into arcs, and imgaug fails on keypoints inside it",
    "AffineCv2": "deprecated in imgaug, and puts points about half a pixel off the pixels; use Affine",
    "pillike.Affine": "imgaug applies it to images only and raises for keypoints; use Affine",
    "TotalDropout": _DROPS_POINTS,
    "RemoveCBAsByOutOfImageFraction": _DROPS_POINTS,
    "ClipCBAsToImagePlanes": "clips keypoints to the image, but points outside it must stay where they went",
    "SaveDebugImageEveryNBatches": "writes debug images to disk",
}


_COPYING_BORDERS = {"reflect", "symmetric", "edge", "wrap", "replicate"}


_BORDER_ATTRIBUTES = ("mode", "pad_mode")


@functools.cache
def _imgaug() -> tuple[Any, Any, dict[str, type[Any]]]:
    """(imgaug, imgaug.augmenters, {policy name: augmenter class}), imported on first use."""
    from bboxaug.augmentation.imgaug_compat import import_imgaug

    ia, iaa = import_imgaug()
    if ia.random.GLOBAL_RNG is None:  # else imgaug seeds it with a draw from NumPy's global RNG (augmenters built
        ia.random.GLOBAL_RNG = ia.random.RNG(0)  # inside others and Sometimes use it; outputs never depend on it)

    imgaug_perspective: Any = iaa.PerspectiveTransform

    class PerspectiveTransform(imgaug_perspective):  # type: ignore[misc]  # imgaug has no types: its classes are Any
        """imgaug's PerspectiveTransform with points moved as OpenCV moves the pixel centres."""

        def _augment_keypoints_by_samples(self, kpsois: Any, samples_images: Any) -> Any:
            shift = np.eye(3)
            shift[:2, 2] = 0.5
            samples = copy.copy(samples_images)
            samples.matrices = [(shift @ m @ np.linalg.inv(shift)).astype(np.float32) for m in samples.matrices]
            return super()._augment_keypoints_by_samples(kpsois, samples)

    catalogue: dict[str, type[Any]] = {}
    for prefix, module in (("", iaa), ("pillike.", iaa.pillike), ("imgcorruptlike.", iaa.imgcorruptlike)):
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, iaa.Augmenter)
                and not name.startswith("_")
                and not inspect.isabstract(value)
                and (prefix == "" or value.__module__ == module.__name__)
            ):
                catalogue[prefix + name] = value
    catalogue["PerspectiveTransform"] = PerspectiveTransform
    return ia, iaa, catalogue


def _broken_reason(name: str) -> str | None:
    """The BROKEN_AUGMENTERS reason for `name` or its submodule, if any."""
    from bboxaug.augmentation.imgaug_compat import BROKEN_AUGMENTERS

    return BROKEN_AUGMENTERS.get(name) or (BROKEN_AUGMENTERS.get(name.split(".")[0]) if "." in name else None)


def to_imgaug(value: Any) -> Any:
    """Policy (JSON) data as imgaug expects it: two-number lists and lists of lists/mappings become tuples."""
    if isinstance(value, Mapping):
        return {key: to_imgaug(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        items = [to_imgaug(item) for item in value]
        numbers = all(isinstance(i, (int, float)) and not isinstance(i, bool) for i in items)
        nested = any(isinstance(i, (tuple, list, dict)) for i in items)
        return tuple(items) if (numbers and len(items) == 2) or nested else items
    return value


def _border_values(parameter: Any, iap: Any) -> list[Any] | None:
    """The values a mode parameter can take, or None when it is a distribution that cannot be listed."""
    if isinstance(parameter, iap.Deterministic):
        return [parameter.value]
    if isinstance(parameter, iap.Choice):
        return list(parameter.a)
    return None if isinstance(parameter, iap.StochasticParameter) else []  # plain attributes are not borders


def _refusal(augmenter: Any) -> str | None:
    """Why `augmenter` (or an augmenter inside it) cannot carry points, or None."""
    ia, iaa, catalogue = _imgaug()
    for node in [augmenter, *augmenter.get_all_children(flat=True)]:
        for name, reason in _REFUSED.items():
            if name in catalogue and isinstance(node, catalogue[name]):
                inside = "" if node is augmenter else f"it contains {name}, which "
                return f"{inside}cannot carry boxes: {reason}"
        if isinstance(node, iaa.Affine) and node.fit_output:
            return (
                "fit_output=True is refused: imgaug fits the pixels and the points with matrices half a pixel "
                "apart, which puts points up to a pixel off their objects"
            )
        for attribute in _BORDER_ATTRIBUTES:
            values = _border_values(getattr(node, attribute, None), ia.parameters)
            if values is None:
                return f"{attribute} must be a border mode or a list of them, to check that borders are constant"
            for value in values:
                if str(value).lower() in _COPYING_BORDERS or (isinstance(value, (int, np.integer)) and value != 0):
                    shown = f"{attribute}={value!r}" if len(values) == 1 else f"{attribute} {value!r}"
                    return (
                        f"{shown} fills new borders with mirrored or repeated image content, which "
                        "shows copies of objects that have no box; use constant borders ('constant')"
                    )
    return None


def _probe(augmenter: Any) -> str | None:
    """Run `augmenter` once on a 32x24 image with a point; why it cannot be used, or None."""
    ia, _, _ = _imgaug()
    image = (np.arange(24 * 32 * 3) % 251).astype(np.uint8).reshape(24, 32, 3)
    points = ia.KeypointsOnImage.from_xy_array(np.array([[9.5, 7.25]]), shape=image.shape)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reseed(augmenter, ia.random.RNG(0))
            _, moved = augmenter(image=image, keypoints=points)
    except Exception as err:  # imgaug raises anything from AssertionError to IndexError
        return f"fails on a 32x24 test image with one point ({type(err).__name__}: {err})"
    return None if len(moved.keypoints) == 1 else f"cannot carry boxes: {_DROPS_POINTS}"


def _augmenter(policy: Policy, index: int, spec: TransformSpec, *, probe: bool) -> Any:
    """The augmenter for one transform (wrapped in Sometimes for a `p` it has no argument for), or PolicyError."""
    _, iaa, catalogue = _imgaug()

    def error(message: str) -> PolicyError:
        return PolicyError(message, file=policy.source, field=spec_field(index, spec))

    cls = catalogue.get(spec.name)
    if cls is None:
        raise error(f"unknown imgaug augmenter{suggest(spec.name, sorted(catalogue))}")
    reason = _broken_reason(spec.name)
    if reason:
        raise error(f"{spec.name} does not work here: {reason}")
    params = to_imgaug(dict(spec.params))
    reserved = sorted(set(params) & set(RESERVED))
    if reserved:
        raise error(f"{', '.join(reserved)} cannot be set: bboxaug seeds every image itself")
    p = None if "p" in inspect.signature(cls.__init__).parameters else params.pop("p", None)
    if p is not None and (isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1):
        raise error(f"p must be a number from 0 to 1, not {p!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # imgaug's deprecation notices: the augmenter still works
            augmenter = cls(**params, seed=0)
    except Exception as err:  # imgaug checks its arguments with assert, TypeError, ValueError...
        raise error(f"bad parameters: {type(err).__name__}: {err}") from None
    reason = _refusal(augmenter) or (_probe(augmenter) if probe else None)
    if reason:
        raise error(reason)
    return augmenter if p is None else iaa.Sometimes(p, augmenter, seed=0)


def _augmenters(policy: Policy, *, probe: bool) -> list[Any]:
    """Every transform of `policy` as an augmenter, or the first PolicyError."""
    if policy.serialized is not None:
        raise PolicyError(
            "the imgaug backend takes a `transforms` list, not an albumentations serialized pipeline",
            file=policy.source,
        )
    return [_augmenter(policy, i, spec, probe=probe) for i, spec in enumerate(policy.transforms)]


def reseed(augmenter: Any, rng: Any) -> None:
    """Give `augmenter` and everything inside it a generator derived from `rng`.

    Augmenter.seed_ is not enough: it skips an augmenter that serves as another's children list (the Sequential
    inside MultiplyAndAddToBrightness), which then keeps the generator it was built with and advances it at every
    call, so its output would depend on earlier calls.
    """
    _, iaa, _ = _imgaug()
    augmenter.random_state = rng.copy()
    for children in augmenter.get_children_lists():
        if children is not augmenter and isinstance(children, iaa.Augmenter):
            reseed(children, rng.derive_rng_())
        else:
            for child in children:
                reseed(child, rng.derive_rng_())


class ImgaugPipeline:
    """An iaa.Sequential run as a pure function of (image, points, seed)."""

    takes_bgr = False

    def __init__(self, sequential: Any) -> None:
        self._sequential = sequential

    def __call__(
        self, image: np.ndarray, points: np.ndarray, boxes: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Augment `image` and move `points` (model coordinates); `boxes` is not needed by imgaug."""
        import cv2

        ia, _, _ = _imgaug()
        grey = image.ndim == 2
        rgb = np.repeat(image[:, :, None], 3, axis=2) if grey else image
        xy = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        keypoints = ia.KeypointsOnImage.from_xy_array(xy, shape=rgb.shape)
        reseed(self._sequential, ia.random.RNG(int(seed)))
        out, moved = self._sequential(image=rgb, keypoints=keypoints)
        if len(moved.keypoints) != len(xy):
            raise PolicyError(
                f"an imgaug augmenter returned {len(moved.keypoints)} of {len(xy)} points: {_DROPS_POINTS}"
            )
        moved_xy = np.array([[kp.x, kp.y] for kp in moved.keypoints], dtype=np.float64).reshape(-1, 2)
        if grey:
            out = cv2.cvtColor(np.ascontiguousarray(out), cv2.COLOR_RGB2GRAY)
        return np.ascontiguousarray(out), moved_xy


class ImgaugBackend:
    """`backend: imgaug`: validate and build policies whose transforms name imgaug augmenters."""

    name = "imgaug"

    def validate(self, policy: Policy) -> None:
        """PolicyError naming line and transform for anything that cannot work; each augmenter is run once."""
        _augmenters(policy, probe=True)

    def build(self, policy: Policy) -> ImgaugPipeline:
        """The pipeline of `policy` (validated beforehand by load_policy)."""
        _, iaa, _ = _imgaug()
        return ImgaugPipeline(iaa.Sequential(_augmenters(policy, probe=False), seed=0))

    def geometry(self, policy: Policy) -> str:
        return "transform by transform (imgaug applies its augmenters one after another)"


BACKEND = ImgaugBackend()
