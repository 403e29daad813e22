"""Names of images and of the images made from them: one home for every naming rule.

An input name is checked to stay inside its folder (`safe_relative_name`); an output image made from a source
keeps the source's stem, subfolders and format where OpenCV can write it (`writable_name`), with a suffix saying
what it is: `<stem>_aug<k>` for augmented copies, `<stem>_<x>_<y>` for tiles, `<stem>_paste<k>` for paste images.
"""

from __future__ import annotations

import re

from bboxaug.core.errors import AnnotationError

#: A bare file name that `safe_relative_name` returns unchanged: tested first, as it is much cheaper.
_PLAIN_NAME = re.compile(r"[^\s./\\:][^/\\:]*(?<=\S)")


def is_plain_name(name: object) -> bool:
    """Whether `name` is a relative path already in the form `safe_relative_name` gives (no `.`, `..`,
    backslash, drive or surrounding space to clean): the usual case, checked with one regular expression."""
    return type(name) is str and _PLAIN_NAME.fullmatch(name) is not None


def safe_relative_name(name: str, *, file: object, field: str) -> str:
    """`name` as a clean relative POSIX path (backslashes become `/`), or an error if it would leave its folder."""
    if is_plain_name(name):
        return name
    cleaned = name.replace("\\", "/").strip()
    while cleaned.startswith("./"):
        cleaned = cleaned[2:]
    # pathlib's parts, split as a string: pathlib interns a name of one part (see `name_parts`)
    parts = [part for part in cleaned.split("/") if part not in ("", ".")]
    if not parts or cleaned.startswith("/") or ".." in parts or ":" in parts[0]:
        raise AnnotationError(
            f"unsafe or empty image path {name!r}: expected a relative path inside the dataset", file=file, field=field
        )
    return "/".join(parts)


#: The format a written image keeps, by its file extension; an image in any other format is written as PNG.
WRITABLE_EXTENSIONS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}


#: The extension each writable format is encoded with.
ENCODERS = {"JPEG": ".jpg", "PNG": ".png", "BMP": ".bmp", "TIFF": ".tiff", "WEBP": ".webp"}


def name_parts(name: str) -> tuple[str, str, str]:
    """A clean relative name's folder (with its `/`), stem and extension, by pathlib's rule (the last dot of the
    file name, neither first nor last). Split as a string: pathlib interns a name given alone, which would keep
    every name of a dataset in CPython's table of interned strings for as long as the dataset lives."""
    folder, slash, file_name = name.rpartition("/")
    dot = file_name.rfind(".")
    if not 0 < dot < len(file_name) - 1:
        dot = len(file_name)
    return folder + slash, file_name[:dot], file_name[dot:]


def suffixed_name(name: str, suffix: str) -> str:
    """`name` with `suffix` added to its stem, subfolders and extension kept (`sub/a.png` -> `sub/a_1.png`)."""
    folder, stem, extension = name_parts(name)
    return f"{folder}{stem}{suffix}{extension}"


def writable_name(name: str, suffix: str = "") -> str:
    """`name` with `suffix` added to its stem (subfolders kept), and `.png` for an extension OpenCV cannot write
    (GIF): the name of an image made from `name` (`a_aug1.jpg`, `a_512_0.jpg`, `a_paste2.png`)."""
    folder, stem, extension = name_parts(name)
    return f"{folder}{stem}{suffix}{extension if extension.lower() in WRITABLE_EXTENSIONS else '.png'}"


def format_of(name: str) -> str:
    """The format an image named by `writable_name` is encoded in."""
    return WRITABLE_EXTENSIONS[name_parts(name)[2].lower()]


def extension_for(image_format: str) -> str:
    """The file extension an augmented copy of an image in `image_format` is written with."""
    return ENCODERS.get(image_format, ".png")


def copy_name(name: str, index: int) -> str:
    """`<stem>_aug<k>.<ext>`, subfolders kept; sources in formats that cannot be written back become PNG."""
    return writable_name(name, f"_aug{index}")


def tile_name(name: str, x: int, y: int) -> str:
    """`<stem>_<x>_<y>.<ext>`, subfolders kept."""
    return writable_name(name, f"_{x}_{y}")


def paste_name(name: str, index: int) -> str:
    """`<stem>_paste<k>.<ext>`, subfolders kept; hosts in formats that cannot be written back become PNG."""
    return writable_name(name, f"_paste{index}")
