"""What happened to a dataset on its way through bboxaug: skipped items, warnings and counters.

Readers and steps never crash half-way through a dataset. Each item is processed inside `Report.item`; a
`BboxaugError` there either stops the run (`on_error="fail"`) or is recorded and the item skipped
(`on_error="skip"`), so every skipped item appears in the report and the counts add up. Every skip, warning and
counter has a registered code (`bboxaug.core.codes`); what reads a report goes by the codes, not the messages.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from bboxaug.core import codes
from bboxaug.core.codes import CodeLike
from bboxaug.core.errors import BboxaugError, UsageError

OnError = Literal["fail", "skip"]


@dataclass(frozen=True)
class Problem:
    """One thing that went wrong or looks wrong, where, and the name of its code (a registered problem code)."""

    file: str | None
    field: str | None
    message: str
    code: str

    def __post_init__(self) -> None:
        codes.problem_code(self.code)  # refuses a name never registered, or a counter's

    @classmethod
    def from_error(cls, error: BboxaugError) -> Problem:
        return cls(error.file, error.field, error.message, error.code)

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.field) if part)
        return f"{where}: {self.message}" if where else self.message

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "file": self.file, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class ClassMove:
    """Where a source class (its id in the source) went: the name of its class in the output, None if dropped."""

    source_id: int | None
    to: str | None


class _Item:
    """The context of one item: a plain class rather than a generator, as readers enter one per image."""

    __slots__ = ("report",)

    def __init__(self, report: Report) -> None:
        self.report = report

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: object) -> bool:
        if not isinstance(error, BboxaugError) or self.report.on_error == "fail":
            return False
        self.report.skip(error)
        return True


@dataclass
class Report:
    """Collects skipped items, warnings, counters, renamed images and changed classes for one run."""

    on_error: OnError = "fail"
    skipped: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    renamed: dict[str, str] = field(default_factory=dict)
    #: Each source class by name: its id and its name in the output (None: dropped), when class operations or
    #: filters changed the classes.
    class_map: dict[str, ClassMove] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.on_error not in ("fail", "skip"):
            raise UsageError(f"on_error must be 'fail' or 'skip', not {self.on_error!r}")

    def item(self) -> _Item:
        """Run one item's work (`with report.item(): ...`); on a bboxaug error, fail or record the skip as the
        policy says."""
        return _Item(self)

    def skip(self, error: BboxaugError) -> None:
        self.skipped.append(Problem.from_error(error))
        self.counts[codes.SKIPPED_ITEMS.name] += 1

    def warn(self, file: object, field: str | None, message: str, code: CodeLike) -> None:
        self.warnings.append(Problem(None if file is None else str(file), field, message, codes.problem_code(code)))

    def count(self, code: CodeLike, amount: int = 1) -> None:
        """Add `amount` to a registered counter (an unregistered one raises, even for 0)."""
        name = codes.lookup(code).name
        if amount:
            self.counts[name] += amount

    def merge(self, other: Report) -> None:
        """Add another report's findings (from a worker) to this one."""
        self.skipped.extend(other.skipped)
        self.warnings.extend(other.warnings)
        self.counts.update(other.counts)
        self.renamed.update(other.renamed)

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": dict(sorted(self.counts.items())),
            "skipped": [p.to_json() for p in self.skipped],
            "warnings": [p.to_json() for p in self.warnings],
            "renamed": dict(self.renamed),
        }

    def code_table(self) -> dict[str, dict[str, Any]]:
        """Each code this report uses (counters, skips, warnings), by name, with its severity and label."""
        used = {*self.counts, *(problem.code for problem in (*self.skipped, *self.warnings))}
        return {name: codes.lookup(name).to_json() for name in sorted(used)}
