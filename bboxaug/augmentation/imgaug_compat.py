"""Import imgaug 0.4.0 (its last release, 2020) under NumPy 2, for the optional imgaug backend.

imgaug 0.4.0 uses two NumPy names that NumPy has since removed; nothing else in it stops it from working with
bboxaug's own dependencies (checked with NumPy 2.2.6, 2.4.6 and 2.5.5, OpenCV headless 4.11 and 5.0,
scikit-image 0.24 to 0.26, Python 3.10, 3.11 and 3.13):

* ``np.sctypes`` (removed in NumPy 2.0) is read once, when ``imgaug.imgaug`` is imported, to build its sets of
  int/uint/float scalar types (``NP_INT_TYPES`` and the rest). Without it ``import imgaug`` raises AttributeError.
  It is put back only for the duration of that import and taken away again afterwards, since nothing reads it
  later.
* ``np.complex`` (removed in NumPy 1.24, and not brought back by 2.0) is read at call time by
  ``imgaug.parameters.Power`` (any ``parameter ** exponent``) and ``imgaug.parameters.FrequencyNoise`` (used by
  Clouds, Fog and BlendAlphaFrequencyNoise). It is restored for good, with its old value, the builtin ``complex``.

Each name is restored only when NumPy lacks it, looked up without calling NumPy's module ``__getattr__``. Nothing
else is changed: no warning filters, no print or error options, no random state, no other module's attributes.

Some augmenters still fail with the names restored; :data:`BROKEN_AUGMENTERS` lists them with the reason, so the
backend can refuse them with that reason instead of failing mid-run. Others work but emit their own warnings,
which a test suite that turns warnings into errors has to expect:

* ``JpegCompression``: DeprecationWarning from imageio (imgaug calls the v2 ``imageio.imread`` with ``pilmode``).
* ``PiecewiseAffine``: FutureWarning from scikit-image >= 0.26 (``PiecewiseAffineTransform.estimate``, due to be
  removed in scikit-image 2.2).
* ``Superpixels``: FutureWarning from scikit-image >= 0.26 (``RegionProperties.mean_intensity``, due to go in 2.0).

imgaug 0.4.0 declares a dependency on ``opencv-python``, the GUI build of OpenCV, whose files overwrite those of
``opencv-python-headless`` (the build albumentations and bboxaug need) in the shared ``cv2/`` folder. The extra
therefore installs imgaug's other dependencies, and imgaug itself is installed without its own ones; see
:data:`INSTALL_HINT`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import types
import warnings

import numpy as np

from bboxaug.core.errors import PolicyError

INSTALL_HINT = (
    "the imgaug backend needs `pip install bboxaug[imgaug]` followed by `pip install --no-deps imgaug==0.4.0` "
    "(without --no-deps, imgaug pulls in opencv-python, whose GUI build of cv2 overwrites opencv-python-headless)"
)


#: Augmenters that fail under NumPy 2 or OpenCV headless even after :func:`import_imgaug`, mapped to the reason.
#: Keys are names relative to ``imgaug.augmenters`` (``"pillike.Autocontrast"``); a key that names a submodule
#: (``"imgcorruptlike"``) covers every augmenter in it.
BROKEN_AUGMENTERS: dict[str, str] = {
    "ElasticTransformation": (
        "fails under NumPy 2 when alpha is an integer: NumPy 2's promotion rules (NEP 50) turn the float32 shift "
        "maps into float64 ones, which cv2.remap rejects with an assertion error"
    ),
    "pillike.Autocontrast": (
        "fails under NumPy >= 2.4 whenever the sampled cutoff is not 0: it hands Pillow the cutoff as a one-element "
        "array, which NumPy no longer converts to a number (a DeprecationWarning on NumPy 1.25-2.3)"
    ),
    "ChangeColorTemperature": (
        "imgaug 0.4.0 bug, whatever the NumPy version: fails with a broadcasting error on any batch of more than "
        "one image"
    ),
    "imgcorruptlike": (
        "needs the separate `imagecorruptions` package (last released 2020), which the extra does not install"
    ),
}


# Only the original distribution is accepted. Two forks on PyPI install the same `imgaug` package and declare
# opencv-python-headless, but neither works: sindre-imgaug 0.4.2 returns N*N images for a list of N and raises
# NameError for a tuple of boxes; imgaug-denk 0.4.6 still needs these aliases and then fails in every Crop/Pad
# augmenter under NumPy >= 2.4 and in Fliplr/Flipud on batches with boxes and polygons.
_SUPPORTED_DISTRIBUTION = "imgaug"


def _lacks(name: str) -> bool:
    """Whether NumPy lacks `name`, found without triggering the warning NumPy's __getattr__ gives for old names."""
    if name in vars(np):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return not hasattr(np, name)


def _legacy_sctypes() -> dict[str, list[type]]:
    """NumPy 1.x's `np.sctypes`: scalar types by kind (imgaug reads "int", "uint" and "float")."""
    return {
        "int": [np.int8, np.int16, np.int32, np.int64],
        "uint": [np.uint8, np.uint16, np.uint32, np.uint64],
        "float": [np.float16, np.float32, np.float64, np.longdouble],
        "complex": [np.complex64, np.complex128, np.clongdouble],
        "others": [bool, object, bytes, str, np.void],
    }


def _check_distribution() -> None:
    """Refuse an `imgaug` module that another distribution (a fork) installed: none of those found works."""
    providers = importlib.metadata.packages_distributions().get("imgaug", [])
    others = sorted({name for name in providers if name.lower() != _SUPPORTED_DISTRIBUTION})
    if others:
        raise PolicyError(
            f"the imgaug backend supports the `imgaug` distribution (0.4.0) only, but `imgaug` is provided by "
            f"{', '.join(others)}; uninstall it, then: {INSTALL_HINT}"
        )


def import_imgaug() -> tuple[types.ModuleType, types.ModuleType]:
    """Import imgaug with the NumPy names it needs restored, and return `(imgaug, imgaug.augmenters)`.

    Raises PolicyError, naming the install steps, when imgaug is not installed or cannot be imported (one of its
    dependencies missing, or a fork installed in its place). Calling it again is cheap and changes nothing more.
    """
    if _lacks("complex"):
        np.complex = complex  # type: ignore[attr-defined]  # noqa: NPY001 - gone since NumPy 1.24; imgaug reads it
    added_sctypes = _lacks("sctypes")
    if added_sctypes:
        np.sctypes = _legacy_sctypes()  # type: ignore[attr-defined]  # noqa: NPY201 - gone in NumPy 2; imgaug reads it
    try:
        imgaug = importlib.import_module("imgaug")
        augmenters = importlib.import_module("imgaug.augmenters")
    except ImportError as exc:
        if exc.name == "imgaug":
            raise PolicyError(INSTALL_HINT) from exc
        raise PolicyError(f"imgaug is installed but cannot be imported ({exc}); {INSTALL_HINT}") from exc
    finally:
        if added_sctypes:
            del np.sctypes  # type: ignore[attr-defined]  # noqa: NPY201 - lent to imgaug's import only
    _check_distribution()
    return imgaug, augmenters
