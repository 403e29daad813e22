"""Bbox-safe augmentation of one image: policies and presets, the backends that run them, and the worker that
makes an image's copies. Importing the package imports no backend; each loads on first use.
"""

from __future__ import annotations
