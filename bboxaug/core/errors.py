"""The small error vocabulary: one root exception and a subclass per kind of bad input.

Every message names where the problem is (file, and the field or line inside it) and what was expected versus
found, so the CLI can print it on one line. Data errors exit 1, usage and policy errors exit 2.
"""

from __future__ import annotations


class BboxaugError(Exception):
    """Root of every error bboxaug raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, file: object = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = None if file is None else str(file)
        self.field = field

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.field) if part)
        return f"{where}: {self.message}" if where else self.message


class FormatError(BboxaugError):
    """A dataset's layout cannot be recognised or does not match its format."""


class AnnotationError(BboxaugError):
    """One annotation file, record or line is malformed."""


class ImageError(BboxaugError):
    """An image is missing, unreadable, or has an impossible size."""


class ClusterError(BboxaugError):
    """A Dask cluster cannot be reached, or its workers cannot run the work (they do not see the data)."""


class WorkerLost(BboxaugError):
    """A worker process died (killed, out of memory) and its work could not be finished."""


class UsageError(BboxaugError):
    """The command or function was called with options that cannot work together."""

    exit_code = 2


class PolicyError(BboxaugError):
    """An augmentation policy is malformed."""

    exit_code = 2
