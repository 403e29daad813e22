"""Bbox-safe augmentation: policies, backends, box geometry and the parallel engine.

The package is also the function people call: `bboxaug.augment(src, dst, policy=..., copies=...)` runs
`engine.augment`. Importing the package stays cheap; the engine loads on the first call.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    """Lets `bboxaug.augment(...)` call the engine while `bboxaug.augment.policy` etc. stay importable."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from .engine import augment

        return augment(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
