"""Augmentation backends behind one small interface: check a policy, build a pipeline, move pixels and points.

A backend knows its library; nothing else in bboxaug does. The engine hands a pipeline the image, the vertices
of every box shape (packed by `geometry.pack`) and the boxes, plus a seed; the pipeline returns the new image and
the moved vertices, and `geometry.follow` turns those into boxes. Backends are imported on first use, so importing
bboxaug imports neither albumentations nor imgaug.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Mapping
from typing import Protocol

import numpy as np

from bboxaug.augmentation.spec import Policy, suggest
from bboxaug.core.errors import PolicyError


class Pipeline(Protocol):
    #: True when the pipeline takes and returns colour pixels in OpenCV's BGR order (giving the copy it would
    #: give in RGB, channels swapped), so a worker decodes and encodes without converting; else RGB.
    takes_bgr: bool

    def __call__(
        self, image: np.ndarray, points: np.ndarray, boxes: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Transform one image and the (K, 2) points on it (model coordinates: continuous, origin at the top-left
        corner of the top-left pixel); `boxes` (N, 4 xyxy) only steer bbox-safe crops; `seed` (0 <= seed < 2**32)
        is the only source of randomness. Returns the new image (same dtype and channel count) and the K moved
        points, never dropped or clipped (they may lie outside the new image)."""
        ...


class Backend(Protocol):
    name: str

    def validate(self, policy: Policy) -> None:
        """PolicyError naming the transform and line for an unknown name, a bad parameter, or a transform that
        cannot carry boxes."""
        ...

    def build(self, policy: Policy) -> Pipeline:
        """The policy's pipeline; called once per worker process, may be slow."""
        ...

    def geometry(self, policy: Policy) -> str:
        """How the pipeline resamples a copy: one warp for all its spatial transforms, or one per transform (and
        why), for `--dry-run`."""
        ...


#: albumentations asks PyPI whether a newer version exists each time it is imported, so in every worker process: a
#: network request from an offline tool, which waits up to 2 s per worker where there is no network. Set here,
#: before any backend module imports it (and inherited by the workers); a value the user set is kept.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

#: Backend name -> the module that defines it as `BACKEND`.
_MODULES = {
    "albumentations": "bboxaug.augmentation.backends.albumentations_backend",
    "imgaug": "bboxaug.augmentation.backends.imgaug_backend",
}


class _LazyBackends(Mapping[str, "Backend"]):
    """The registry: a backend's module is imported when the backend is first asked for."""

    def __init__(self, modules: Mapping[str, str]) -> None:
        self._modules = dict(modules)
        self._loaded: dict[str, Backend] = {}

    def __getitem__(self, name: str) -> Backend:
        if name not in self._loaded:
            self._loaded[name] = importlib.import_module(self._modules[name]).BACKEND
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)


BACKENDS: Mapping[str, Backend] = _LazyBackends(_MODULES)


def get_backend(name: str) -> Backend:
    """The backend called `name`; PolicyError listing the known ones otherwise."""
    if name not in _MODULES:
        raise PolicyError(f"unknown backend {name!r}{suggest(name, list(_MODULES))}; known: {', '.join(_MODULES)}")
    try:
        return BACKENDS[name]
    except ModuleNotFoundError as error:
        if error.name != _MODULES[name]:
            raise
        raise PolicyError(f"the {name} backend is not part of this bboxaug installation") from None
