"""Every problem a trainer would trip on, each as a `Finding` with a stable code, a severity, the image and the box.

Reading never stops at the first problem: the dataset is read with `on_error="skip"`, and what the reader
skipped or warned about is turned into findings by its code (never its message), beside the checks made here on
the model (boxes, classes) and on the image files (headers only, unless `deep` asks for decoding and hashing the
pixels, and `near_duplicates` for images that look the same). The codes, their severities and meanings are
`bboxaug.core.codes.FINDINGS`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from bboxaug.core import codes
from bboxaug.core.codes import Code
from bboxaug.core.errors import ImageError
from bboxaug.core.model import Dataset, EmbeddedImage, ImageRecord, image_key
from bboxaug.core.report import Report
from bboxaug.core.table import as_table
from bboxaug.inspection.near_duplicates import MAX_DISTANCE, find_near_duplicates
from bboxaug.inspection.stats import BoxTable
from bboxaug.io.headers import ImageHeader, embedded_bytes, header_of
from bboxaug.pipeline.classes import ClassOps
from bboxaug.pipeline.filters import Filters
from bboxaug.pipeline.source import load
from bboxaug.runtime.parallel import run_parallel

ERROR, WARNING = "error", "warning"


#: Every code a finding can have, with its severity and meaning, in the order findings are listed.
#: `duplicate_image` is an error when the copies sit in different splits (leakage: the model is tested on what it
#: trained on), else a warning.
CODES: Mapping[str, Code] = {code.name: code for code in codes.FINDINGS}


DUPLICATE_IOU = 0.99


#: Coordinates this far past the border still count as inside (float noise in `x + w`).
BOUNDS_TOLERANCE = 1e-6


#: The finding of a reader's code that says more than a finding's code; None drops the problem because a check
#: on the model reports it with the image's name. A finding's own code stays itself, and any other code becomes
#: `unreadable_annotation` for a skipped item, `reader_note` for a warning.
READER_FINDINGS: Mapping[str, str | None] = {
    codes.MISSING_IMAGES.name: None,  # a Labelme image neither found nor embedded: the model check says missing_image
    codes.UNKNOWN_SIZE.name: codes.MISSING_IMAGE.name,
    codes.MISSING_SPLIT.name: codes.MISSING_IMAGE.name,
    codes.LISTED_WITHOUT_FILES.name: codes.MISSING_IMAGE.name,
    codes.UNUSABLE_EMBEDDED_IMAGE.name: codes.UNREADABLE_IMAGE.name,
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: its code and severity, what is wrong, and where (image as `split/name`, box row, file)."""

    code: str
    severity: str
    message: str
    image: str | None = None
    box: int | None = None
    file: str | None = None
    field: str | None = None
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = {
            "code": self.code,
            "severity": self.severity,
            "image": self.image,
            "box": self.box,
            "file": self.file,
            "field": self.field,
            "message": self.message,
        }
        return {**data, **self.details}

    def __str__(self) -> str:
        where = self.image or ": ".join(part for part in (self.file, self.field) if part)
        if self.box is not None:
            where += f" box {self.box}"
        return f"{self.severity:<7}  {self.code:<21}  {where}: {self.message}"


def finding(code: str, message: str, **where: Any) -> Finding:
    """A finding with its code's usual severity (`severity=` overrides it)."""
    severity = where.pop("severity", None) or codes.severity_of(CODES[code])
    return Finding(code, severity, message, **where)


def finding_code(code: str, default: str) -> str | None:
    """The finding code of a problem's code (None: no finding), `default` for a code that is not a finding's."""
    if code in READER_FINDINGS:
        return READER_FINDINGS[code]
    return code if code in CODES else default


def reader_findings(report: Report, dataset: Dataset) -> list[Finding]:
    """The reader's skipped items (errors) and warnings as findings."""
    found = []
    by_source: dict[Path, ImageRecord] | None = None
    for problems, default in ((report.skipped, codes.UNREADABLE_ANNOTATION), (report.warnings, codes.READER_NOTE)):
        for problem in problems:
            code = finding_code(problem.code, default.name)
            if code is None:
                continue
            where: dict[str, Any] = {"file": problem.file, "field": problem.field}
            message = problem.message
            if code == codes.DUPLICATE_IMAGE.name:  # YOLO: the file is listed again in split `field`; read in its first
                if by_source is None:
                    by_source = {image.source: image for image in dataset.images if isinstance(image.source, Path)}
                kept = by_source.get(Path(problem.file or ""))
                if kept is not None:
                    leakage = kept.split != problem.field
                    message += f"; listed in split '{problem.field}' too" + (": leakage" if leakage else "")
                    where.update(
                        image=kept.key,
                        severity=ERROR if leakage else WARNING,
                        details={"other": image_key(problem.field or "", kept.name), "leakage": leakage},
                    )
            found.append(finding(code, message, **where))
    return found


def box_findings(dataset: Dataset) -> list[Finding]:
    """Out-of-bounds, degenerate and unknown-class boxes (one vectorised pass), duplicate boxes, unused classes."""
    images = as_table(dataset.images)
    table = BoxTable.of(dataset.replace(images=images))
    first_row = np.concatenate([[0], np.cumsum(table.counts)[:-1]]).astype(np.int64)
    xyxy, labels, classes = table.xyxy, table.labels, len(dataset.classes)
    sizes = table.sizes[table.image]
    finite = np.isfinite(xyxy).all(axis=1)
    with np.errstate(invalid="ignore"):
        degenerate = ~finite | (xyxy[:, 2] <= xyxy[:, 0]) | (xyxy[:, 3] <= xyxy[:, 1])
        outside = finite & (
            (xyxy[:, :2] < -BOUNDS_TOLERANCE).any(axis=1) | (xyxy[:, 2:] > sizes + BOUNDS_TOLERANCE).any(axis=1)
        )
    unknown = (labels < 0) | (labels >= classes)
    found = []
    checks: tuple[tuple[str, np.ndarray, Callable[[int], str]], ...] = (
        (
            "out_of_bounds",
            outside,
            lambda r: f"box {_box(xyxy[r])} reaches outside the {sizes[r, 0]:g}x{sizes[r, 1]:g} image",
        ),
        ("degenerate_box", degenerate, lambda r: f"box {_box(xyxy[r])} has no area"),
        ("unknown_class", unknown, lambda r: f"class index {labels[r]} is not in the class list of {classes}"),
    )
    for code, rows, describe in checks:
        for row in np.flatnonzero(rows).tolist():
            owner = int(table.image[row])
            found.append(finding(code, describe(row), image=images.key_of(owner), box=row - int(first_row[owner])))
    for row, earlier in zip(*(rows.tolist() for rows in duplicate_rows(table)), strict=True):
        owner = int(table.image[row])
        same_as = earlier - int(first_row[owner])
        found.append(
            finding(
                "duplicate_box",
                f"same class and place as box {same_as}",
                image=images.key_of(owner),
                box=row - int(first_row[owner]),
                details={"same_as": same_as},
            )
        )
    used = np.bincount(labels[~unknown], minlength=classes)
    found += [
        finding("unused_class", f"class {c.name!r} (id {c.id}) has no box", field=f"classes[{k}]")
        for k, c in enumerate(dataset.classes)
        if used[k] == 0
    ]
    return found


def _box(xyxy: np.ndarray) -> str:
    return "[" + ", ".join(f"{value:g}" for value in xyxy) + "]"


def duplicate_rows(table: BoxTable) -> tuple[np.ndarray, np.ndarray]:
    """The boxes equal to, or overlapping with IoU above `DUPLICATE_IOU`, an earlier box of the same class and
    image, and for each the first such earlier box (rows of the whole table, in order). Boxes are grouped by image
    and class; each box is compared with the one `d` places later in its group, for d = 1, 2, ...: whole-table
    work, however many images."""
    xyxy, labels = table.xyxy, table.labels
    key = table.image * (int(labels.max(initial=0)) + 1) + labels
    order = np.argsort(key, kind="stable")  # within a group, rows stay in order
    grouped = key[order]
    earlier_of: list[np.ndarray] = []
    later_of: list[np.ndarray] = []
    for d in range(1, len(order)):
        pairs = np.flatnonzero(grouped[d:] == grouped[:-d])
        if not len(pairs):
            break  # no group has more than d boxes
        earlier, later = order[pairs], order[pairs + d]
        a, b = xyxy[earlier], xyxy[later]
        inter = np.clip(np.minimum(a[:, 2:], b[:, 2:]) - np.maximum(a[:, :2], b[:, :2]), 0, None).prod(axis=1)
        area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
        area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            same = (inter / (area_a + area_b - inter) > DUPLICATE_IOU) | (a == b).all(axis=1)
        earlier_of.append(earlier[same])
        later_of.append(later[same])
    if not earlier_of:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    later, earlier = np.concatenate(later_of), np.concatenate(earlier_of)
    by_pair = np.lexsort((earlier, later))
    later, earlier = later[by_pair], earlier[by_pair]
    first = np.concatenate([[True], later[1:] != later[:-1]]) if len(later) else np.zeros(0, dtype=bool)
    return later[first], earlier[first]


@dataclass(frozen=True)
class FileCheck:
    """What reading one image file found: its header, the digest of its upright pixels (deep only), the error."""

    header: ImageHeader | None
    digest: str | None
    error: ImageError | None


def pixel_digest(source: Path | EmbeddedImage) -> str:
    """SHA-256 of the decoded, upright RGB pixels and their size: equal for the same picture in any file."""
    data = source.read_bytes() if isinstance(source, Path) else embedded_bytes(source)
    where = source if isinstance(source, Path) else source.annotation
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            pixels = ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise ImageError(f"cannot decode image ({error})", file=where) from None
    digest = hashlib.sha256(f"{pixels.width}x{pixels.height}".encode())
    digest.update(pixels.tobytes())
    return digest.hexdigest()


def check_file(job: tuple[Path | EmbeddedImage, bool]) -> FileCheck:
    source, deep = job
    try:
        header = header_of(source)
        return FileCheck(header, pixel_digest(source) if deep else None, None)
    except ImageError as error:
        return FileCheck(None, None, error)
    except OSError as error:
        return FileCheck(None, None, ImageError(f"cannot read image ({error.strerror or error})", file=source))


def file_findings(dataset: Dataset, *, deep: bool = False, jobs: int = 1, progress: bool = False) -> list[Finding]:
    """Missing and unreadable images, declared sizes against headers, and duplicate images: the same file under
    two names, or with `deep`, the same decoded pixels."""
    table = as_table(dataset.images)
    has_source = table.has_sources()
    found = [
        finding("missing_image", "no image file found for this annotation", image=table.key_of(k))
        for k in np.flatnonzero(~has_source).tolist()
    ]
    present = [table[k] for k in np.flatnonzero(has_source).tolist()]
    checks = run_parallel(
        check_file,
        [(image.known_source(), deep) for image in present],
        jobs=jobs,
        description="decoding images" if deep else "reading headers",
        progress=progress,
    )
    first: dict[Any, ImageRecord] = {}
    for image, check in zip(present, checks, strict=True):
        key = image.key
        if check.error is not None:
            code = finding_code(check.error.code, codes.UNREADABLE_IMAGE.name) or codes.UNREADABLE_IMAGE.name
            found.append(finding(code, check.error.message, image=key, file=check.error.file))
            continue
        header = check.header
        if header is not None and image.has_size and (header.width, header.height) != (image.width, image.height):
            found.append(
                finding(
                    "size_mismatch",
                    f"declared {image.width}x{image.height}, the image "
                    f"(EXIF-oriented) is {header.width}x{header.height}",
                    image=key,
                )
            )
        same = check.digest if deep else image.source
        earlier = first.setdefault(same, image)
        if earlier is not image:
            leakage = earlier.split != image.split
            what = "the same pixels" if deep else "the same file"
            found.append(
                finding(
                    "duplicate_image",
                    f"{what} as {earlier.key}" + (f" in split '{earlier.split}': leakage" if leakage else ""),
                    image=key,
                    severity=ERROR if leakage else WARNING,
                    details={"other": earlier.key, "leakage": leakage},
                )
            )
    return found


def near_duplicate_findings(dataset: Dataset, *, jobs: int = 1, progress: bool = False) -> list[Finding]:
    """Each image that looks the same as an earlier one (`bboxaug.inspection.near_duplicates`), an error when the
    two sit in different splits. The same file under two names is left to `duplicate_image`."""
    table = as_table(dataset.images)
    near = find_near_duplicates(dataset, jobs=jobs, progress=progress)
    found = []
    pairs = zip(near.later.tolist(), near.earlier.tolist(), near.distance.tolist(), strict=True)
    for later, earlier, distance in pairs:
        if table.sources is not None and table.source_of(later) == table.source_of(earlier):
            continue
        leakage = table.split_of(later) != table.split_of(earlier)
        other = table.key_of(earlier)
        found.append(
            finding(
                "near_duplicate",
                f"looks the same as {other} (perceptual hash {distance} of 64 bits apart, the same boxes)"
                + (f" in split '{table.split_of(earlier)}': leakage" if leakage else ""),
                image=table.key_of(later),
                severity=ERROR if leakage else WARNING,
                details={"other": other, "leakage": leakage, "distance": distance, "max_distance": MAX_DISTANCE},
            )
        )
    return found


def check_dataset(
    dataset: Dataset, *, deep: bool = False, near_duplicates: bool = False, jobs: int = 1, progress: bool = False
) -> list[Finding]:
    """Every check on an already-read dataset, listed by code (in `CODES` order), then as found; with
    `near_duplicates`, images that look the same too."""
    found = file_findings(dataset, deep=deep, jobs=jobs, progress=progress) + box_findings(dataset)
    if near_duplicates:
        found += near_duplicate_findings(dataset, jobs=jobs, progress=progress)
    return sort_findings(found)


def sort_findings(found: Sequence[Finding]) -> list[Finding]:
    order = {code: k for k, code in enumerate(CODES)}
    return sorted(found, key=lambda f: order[f.code])


def read_and_check(
    src: Path | str,
    *,
    fmt: str | None = None,
    image_dir: Path | str | None = None,
    read_options: Mapping[str, Any] | None = None,
    deep: bool = False,
    near_duplicates: bool = False,
    jobs: int = 1,
    class_ops: ClassOps | None = None,
    filters: Filters | None = None,
    progress: bool = False,
) -> tuple[Dataset, list[Finding]]:
    """Read the dataset at `src` without stopping at problems (its classes changed by `class_ops`, filtered by
    `filters`) and find every problem in it (with `near_duplicates`, images that look the same too); returns the
    dataset as read and the findings, in the order of the codes."""
    report = Report(on_error="skip")
    dataset = load(
        src,
        fmt=fmt,
        image_dir=image_dir,
        report=report,
        class_ops=class_ops,
        filters=filters,
        read_options=read_options,
    )
    checks = check_dataset(dataset, deep=deep, near_duplicates=near_duplicates, jobs=jobs, progress=progress)
    return dataset, sort_findings(reader_findings(report, dataset) + checks)


def validate(
    src: Path | str,
    *,
    fmt: str | None = None,
    image_dir: Path | str | None = None,
    read_options: Mapping[str, Any] | None = None,
    deep: bool = False,
    near_duplicates: bool = False,
    jobs: int = 1,
    class_ops: ClassOps | None = None,
    filters: Filters | None = None,
    progress: bool = False,
) -> list[Finding]:
    """The findings of `read_and_check` for the dataset at `src`."""
    _, findings = read_and_check(
        src,
        fmt=fmt,
        image_dir=image_dir,
        read_options=read_options,
        deep=deep,
        near_duplicates=near_duplicates,
        jobs=jobs,
        class_ops=class_ops,
        filters=filters,
        progress=progress,
    )
    return findings


def summarize(findings: Sequence[Finding]) -> dict[str, Any]:
    """The JSON form: totals, counts per code, and every finding."""
    counts: dict[str, int] = {}
    for item in findings:
        counts[item.code] = counts.get(item.code, 0) + 1
    return {
        "errors": sum(f.severity == ERROR for f in findings),
        "warnings": sum(f.severity == WARNING for f in findings),
        "counts": counts,
        "findings": [f.to_json() for f in findings],
    }
