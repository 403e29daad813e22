"""The commands, each a small module that builds its plan and runs it through the pipeline."""

from __future__ import annotations
