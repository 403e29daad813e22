"""The code registry: each name registered once, unknown names refused, and every code a reader or step uses is
registered; errors, problems and the report carry codes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bboxaug.core import codes
from bboxaug.core.errors import AnnotationError, BboxaugError, FormatError, ImageError, PolicyError, UsageError
from bboxaug.core.report import Problem, Report
from bboxaug.geometry.shapes import DROP_REASONS
from tests.conftest import REPO

PACKAGE = REPO / "bboxaug"


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, codes.Code]:
    """A copy of the registry that a test may add to without changing the real one."""
    copy = dict(codes.REGISTRY)
    monkeypatch.setattr(codes, "REGISTRY", copy)
    return copy


def test_a_name_is_registered_once(registry: dict[str, codes.Code]) -> None:
    added = codes.register("test_only", "warning", "a code made by this test")
    assert registry["test_only"] is added and codes.lookup("test_only") is added
    with pytest.raises(ValueError, match="'test_only' is already registered"):
        codes.register("test_only", "error", "another meaning")
    with pytest.raises(ValueError, match="already registered"):
        codes.register(codes.MISSING_IMAGE.name, "error", "a second missing_image")
    assert registry["test_only"] is added and registry["missing_image"] is codes.MISSING_IMAGE


def test_a_severity_is_error_warning_or_none(registry: dict[str, codes.Code]) -> None:
    with pytest.raises(ValueError, match="severity"):
        codes.register("test_only", "fatal", "no such severity")  # type: ignore[arg-type]
    assert "test_only" not in registry


def test_an_unknown_name_is_refused_with_the_known_ones_listed() -> None:
    with pytest.raises(LookupError, match="unknown code 'mising_image'") as error:
        codes.lookup("mising_image")
    assert "missing_image" in str(error.value) and "clipped" in str(error.value)
    with pytest.raises(LookupError, match="unknown code"):
        codes.lookup(codes.Code("missing_image", "warning", "not the registered one"))
    with pytest.raises(LookupError, match="'boxes_dropped:typo'"):
        codes.lookup("boxes_dropped:typo")  # the four reasons are registered one by one, not as a family


def test_a_family_member_takes_the_family_severity_and_label() -> None:
    member = codes.member(codes.SKIPPED_SHAPES, "cuboid")
    assert member.name == "skipped_shapes:cuboid" and member.severity is None
    assert member.label.startswith(codes.SKIPPED_SHAPES.label) and member.label.endswith("cuboid")
    assert codes.lookup("skipped_shapes:cuboid") == member
    with pytest.raises(LookupError, match="not a family"):
        codes.member(codes.CLIPPED, "x")


def test_only_a_code_with_a_severity_names_a_problem() -> None:
    assert codes.problem_code(codes.ORPHAN_LABEL) == "orphan_label"
    with pytest.raises(LookupError, match="'clipped' is a counter"):
        codes.problem_code("clipped")
    with pytest.raises(LookupError, match="'clipped' is a counter"):
        Problem("a.txt", None, "boxes were clipped", "clipped")
    with pytest.raises(LookupError, match="unknown code"):
        Report().warn("a.txt", None, "a warning", "no_such_code")


# --- the report --------------------------------------------------------------------------------------------


def test_count_takes_registered_codes_only_even_for_zero() -> None:
    report = Report()
    report.count(codes.CLIPPED, 2)
    report.count("clipped")
    report.count(codes.member(codes.SKIPPED_SHAPES, "point"))
    assert report.counts == {"clipped": 3, "skipped_shapes:point": 1}
    for typo in ("cliped", "boxes_dropped:min_areas"):
        with pytest.raises(LookupError, match="unknown code"):
            report.count(typo, 0)
    assert report.counts == {"clipped": 3, "skipped_shapes:point": 1}


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (AnnotationError("bad line"), "unreadable_annotation"),
        (FormatError("not COCO"), "unreadable_annotation"),
        (ImageError("cannot decode image"), "unreadable_image"),
        (UsageError("no such option"), "bad_usage"),
        (PolicyError("bad policy"), "bad_policy"),
        (ImageError("image file not found", code=codes.MISSING_IMAGE), "missing_image"),
        (AnnotationError("class 7", code="unknown_class"), "unknown_class"),
    ],
)
def test_an_error_has_its_kind_default_code_or_the_one_given(error: BboxaugError, code: str) -> None:
    assert error.code == code
    report = Report(on_error="skip")
    with report.item():
        raise error
    assert [problem.code for problem in report.skipped] == [code]
    assert report.to_json()["skipped"][0]["code"] == code


def test_an_error_refuses_a_counter_as_its_code() -> None:
    with pytest.raises(LookupError, match="counter"):
        ImageError("rotated", code=codes.EXIF_ROTATED)


def test_the_code_table_describes_every_code_the_report_uses() -> None:
    report = Report(on_error="skip")
    report.warn("a.txt", None, "label file without an image", codes.ORPHAN_LABEL)
    report.count(codes.ORPHAN_LABEL)
    report.count(codes.CLIPPED, 0)  # a zero count is not a use
    with report.item():
        raise ImageError("gone", code=codes.MISSING_IMAGE)
    table = report.code_table()
    assert list(table) == ["missing_image", "orphan_label", "skipped_items"]
    assert table["orphan_label"] == {"severity": "error", "label": codes.ORPHAN_LABEL.label}
    assert table["skipped_items"]["severity"] is None


# --- every code used is registered --------------------------------------------------------------------------


def code_uses(root: Path) -> list[tuple[str, int, str]]:
    """(file, line, name) of every `codes.NAME` below `root`, and of every string literal given to `report.count`
    or as a `code=` argument."""
    uses = []
    for path in sorted(root.rglob("*.py")):
        where = path.relative_to(REPO).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "codes":
                uses.append((where, node.lineno, f"codes.{node.attr}"))
            elif isinstance(node, ast.Call) and _is_report_count(node.func):
                literal = node.args[0] if node.args else None
                if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
                    uses.append((where, node.lineno, literal.value))
            if isinstance(node, ast.Call):
                uses += [
                    (where, node.lineno, keyword.value.value)
                    for keyword in node.keywords
                    if keyword.arg == "code" and isinstance(keyword.value, ast.Constant)
                ]
    return uses


def _is_report_count(func: ast.expr) -> bool:
    if not isinstance(func, ast.Attribute) or func.attr != "count":
        return False
    owner = func.value
    return (isinstance(owner, ast.Name) and owner.id == "report") or (
        isinstance(owner, ast.Attribute) and owner.attr == "report"
    )


def test_every_code_the_package_names_is_registered() -> None:
    uses = code_uses(PACKAGE)
    readers = {name for where, _, name in uses if where.startswith(("bboxaug/formats/", "bboxaug/io/"))}
    assert {"codes.ORPHAN_LABEL", "codes.MISSING_IMAGE", "codes.UNKNOWN_CLASS"} <= readers  # the scan sees them
    for where, line, name in uses:
        if name.startswith("codes."):
            value = getattr(codes, name.removeprefix("codes."), None)
            if isinstance(value, codes.Code):
                assert codes.lookup(value) is value, f"{where}:{line}: {name}"
            else:
                assert callable(value) or name in ("codes.FINDINGS", "codes.REGISTRY"), f"{where}:{line}: {name}"
        else:
            assert codes.lookup(name), f"{where}:{line}: {name}"


def test_every_box_drop_reason_has_its_counter() -> None:
    for reason in DROP_REASONS:
        assert codes.lookup(f"boxes_dropped:{reason}").label


def test_every_error_kind_has_a_registered_problem_code() -> None:
    kinds = [BboxaugError, *BboxaugError.__subclasses__()]
    assert len(kinds) >= 8
    for kind in kinds:
        assert codes.lookup(kind.default_code).severity == "error", kind.__name__
