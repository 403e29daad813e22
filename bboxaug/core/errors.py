"""The small error vocabulary: one root exception and a subclass per kind of bad input.

Every message names where the problem is (file, and the field or line inside it) and what was expected versus
found, so the CLI can print it on one line. Every error carries a code (`bboxaug.core.codes`): its kind's
default, or a more precise one given where it is raised; a skipped item is reported by that code. Data errors
exit 1, usage and policy errors exit 2.
"""

from __future__ import annotations

from typing import ClassVar

from bboxaug.core import codes
from bboxaug.core.codes import Code, CodeLike


class BboxaugError(Exception):
    """Root of every error bboxaug raises on purpose."""

    exit_code = 1
    default_code: ClassVar[Code] = codes.UNREADABLE_ANNOTATION  # kept by the annotation and format errors

    def __init__(
        self, message: str, *, file: object = None, field: str | None = None, code: CodeLike | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = None if file is None else str(file)
        self.field = field
        self.code = codes.problem_code(code or self.default_code)
        self.hints: list[str] = []

    def hint(self, text: str) -> None:
        """Add what can be done about the error, said after the message (on the same line)."""
        self.hints.append(text)

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.field) if part)
        said = "; ".join([self.message, *self.hints])
        return f"{where}: {said}" if where else said


class FormatError(BboxaugError):
    """A dataset's layout cannot be recognised or does not match its format (within a read, its annotation file
    cannot be used)."""


class AnnotationError(BboxaugError):
    """One annotation file, record or line is malformed."""


class ImageError(BboxaugError):
    """An image is missing, unreadable, or has an impossible size."""

    default_code = codes.UNREADABLE_IMAGE


class ClusterError(BboxaugError):
    """A Dask cluster cannot be reached, or its workers cannot run the work (they do not see the data)."""

    default_code = codes.CLUSTER_UNUSABLE


class WorkerLost(BboxaugError):
    """A worker process died (killed, out of memory) and its work could not be finished."""

    default_code = codes.WORKER_LOST


class UsageError(BboxaugError):
    """The command or function was called with options that cannot work together."""

    exit_code = 2
    default_code = codes.BAD_USAGE


class PolicyError(BboxaugError):
    """An augmentation policy is malformed."""

    exit_code = 2
    default_code = codes.BAD_POLICY
