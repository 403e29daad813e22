"""bboxaug.io.names and bboxaug.io.files: safe relative names (the quick path for plain names) and bare file writes."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bboxaug.core.errors import AnnotationError
from bboxaug.io.files import write_file
from bboxaug.io.names import safe_relative_name


def cleaned(name: str) -> str | None:
    """The name as a clean relative path, by the rule written out with pathlib; None when it leaves its folder."""
    text = name.replace("\\", "/").strip()
    while text.startswith("./"):
        text = text[2:]
    path = PurePosixPath(text)
    if not path.parts or path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
        return None
    return str(path)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab./\\: \t\n\x1c\u2028é", max_size=7))
def test_safe_relative_name_follows_the_rule(name: str) -> None:
    try:
        result: str | None = safe_relative_name(name, file="a.json", field="file_name")
    except AnnotationError:
        result = None
    assert result == cleaned(name)


def test_write_file_creates_and_replaces_the_whole_content(tmp_path: Path) -> None:
    path = str(tmp_path / "a.txt")
    write_file(path, b"x" * 300_000)
    assert Path(path).read_bytes() == b"x" * 300_000
    write_file(path, b"short")
    assert Path(path).read_bytes() == b"short"
    with pytest.raises(FileNotFoundError):
        write_file(str(tmp_path / "missing" / "a.txt"), b"")
