"""Looking at a dataset before training on it: statistics, validation findings, previews and plots."""

from __future__ import annotations
