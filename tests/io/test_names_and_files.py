"""bboxaug.io.names and bboxaug.io.files: safe relative names (the quick path for plain names), bare file writes and
removing large folders."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bboxaug.core.errors import AnnotationError
from bboxaug.io import files
from bboxaug.io.files import remove_tree, write_file
from bboxaug.io.names import (
    copy_name,
    format_of,
    name_parts,
    paste_name,
    safe_relative_name,
    suffixed_name,
    tile_name,
    writable_name,
)


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


def parts_by_pathlib(name: str) -> tuple[str, str, str]:
    """A clean name's folder (with its `/`), stem and extension, by pathlib."""
    path = PurePosixPath(name)
    folder = "" if path.parent == PurePosixPath(".") else f"{path.parent}/"
    return folder, path.stem, path.suffix


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(alphabet="ab._ é", min_size=1, max_size=6), min_size=1, max_size=3))
def test_name_parts_and_suffixed_name_follow_pathlib(parts: list[str]) -> None:
    name = cleaned("/".join(parts))
    if name is None or name in (".", ""):
        return
    assert name_parts(name) == parts_by_pathlib(name)
    assert suffixed_name(name, "_1") == str(
        PurePosixPath(name).with_name(f"{PurePosixPath(name).stem}_1{PurePosixPath(name).suffix}")
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.jpg", "a_aug2.jpg"),
        ("sub/dir/a.b.JPEG", "sub/dir/a.b_aug2.JPEG"),
        ("anim.gif", "anim_aug2.png"),
        ("scan", "scan_aug2.png"),
        (".hidden", ".hidden_aug2.png"),
        ("dots.", "dots._aug2.png"),
        ("v1.2/shot.tif", "v1.2/shot_aug2.tif"),
    ],
)
def test_copy_names_keep_folder_stem_and_a_writable_extension(name: str, expected: str) -> None:
    assert copy_name(name, 2) == expected
    assert format_of(expected) in {"JPEG", "PNG", "TIFF"}


@pytest.mark.parametrize(
    "make",
    [
        lambda name: copy_name(name, 1),
        lambda name: tile_name(name, 0, 512),
        lambda name: paste_name(name, 3),
        writable_name,
        format_of,
        lambda name: suffixed_name(name, "_1"),
    ],
)
def test_naming_does_not_intern_the_name_it_is_given(make: Callable[[str], str]) -> None:
    """A name given alone to pathlib is interned, and CPython's table of interned strings then keeps every name of
    the dataset (14.7 MB at 200,000 images) for as long as the names live."""
    name = "".join(["shot_", str(id(make)), ".png"])  # made at run time: not interned, and not equal to one that is
    make(name)
    assert sys.intern("".join(list(name))) is not name


def test_cleaning_a_name_does_not_intern_what_it_gives_back() -> None:
    cleaned_name = safe_relative_name("".join(["./shot_", str(id(cleaned)), ".png "]), file="a.json", field="name")
    assert cleaned_name == f"shot_{id(cleaned)}.png"
    assert sys.intern("".join(list(cleaned_name))) is not cleaned_name


def test_write_file_creates_and_replaces_the_whole_content(tmp_path: Path) -> None:
    path = str(tmp_path / "a.txt")
    write_file(path, b"x" * 300_000)
    assert Path(path).read_bytes() == b"x" * 300_000
    write_file(path, b"short")
    assert Path(path).read_bytes() == b"short"
    with pytest.raises(FileNotFoundError):
        write_file(str(tmp_path / "missing" / "a.txt"), b"")


def test_remove_tree_removes_folders_larger_than_one_listing_and_follows_no_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Folders of more entries than one batch lists (a nested one too) are removed whole; a link is removed, not
    what it points to."""
    monkeypatch.setattr(files, "REMOVE_BATCH", 7)
    root, kept = tmp_path / "scratch", tmp_path / "kept"
    (root / "a" / "b").mkdir(parents=True)
    kept.mkdir()
    (kept / "precious.txt").write_text("x")
    for k in range(30):
        (root / f"{k}.pickle").write_bytes(b"p")
        (root / "a" / "b" / f"{k}.txt").write_text("t")
    (root / "link").symlink_to(kept, target_is_directory=True)
    assert remove_tree(root)
    assert not root.exists()
    assert (kept / "precious.txt").read_text() == "x"
    assert remove_tree(tmp_path / "absent")


def test_remove_tree_leaves_what_it_cannot_remove_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that cannot be removed stays, with its folders; the rest of the tree goes and the call returns False
    (and ends, rather than listing the file again for ever)."""
    monkeypatch.setattr(files, "REMOVE_BATCH", 2)
    root = tmp_path / "scratch"
    (root / "inner").mkdir(parents=True)
    for name in ("a", "b", "c"):
        (root / name).write_text("f")
    (root / "inner" / "stuck").write_text("f")
    unlink = os.unlink

    def refusing(path: str | os.PathLike[str]) -> None:
        if os.path.basename(path) == "stuck":
            raise PermissionError(path)
        unlink(path)

    monkeypatch.setattr(files.os, "unlink", refusing)
    assert not remove_tree(root)
    assert sorted(p.name for p in root.rglob("*")) == ["inner", "stuck"]
