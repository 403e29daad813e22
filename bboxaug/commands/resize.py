"""Write a dataset at one or several input sizes, boxes scaled exactly, for training at a fixed or growing size.

`resize(src, dst, sizes=[640, 1024])` writes one complete dataset per size, `dst/<size>/` (`640`, or `640x480`
for a size that is not square), in any format, keeping splits. Each source is decoded once and written at every
size. The modes, for a target size `W x H` and a source `w x h`:

- `letterbox` (default): scaled by `s = min(W / w, H / h)` to `round(w * s) x round(h * s)` and centred on a
  `W x H` canvas of grey `PAD_VALUE`; the padding `[left, top, right, bottom]` is recorded;
- `fit`: scaled the same way, no canvas: the written image is `round(w * s) x round(h * s)`;
- `stretch`: scaled to exactly `W x H`, each axis on its own.

Scaling both ways (small sources are enlarged). A point `(x, y)` of the source lands at `(x * sx + left,
y * sy + top)` with `sx = round(w * s) / w` (the scale the pixels really got, not the nominal `s`) - OpenCV's
`resize` maps pixel corners exactly so - and `resized_to_source` inverts it. Boxes whose shorter side falls under
`min_box_size` pixels once scaled are dropped and counted (per size, in the report and per image in the
manifest). Per-box columns follow the rows; polygon segmentations are scaled, RLE masks scaled with the pixels
(a box whose mask keeps no pixel is dropped with the tiny ones); `area` and the source's own `shape`, which
would describe the unscaled object, are left behind.

`dst/<size>/resize.json` records, for every image written, its source, source size, size, scale and padding.
Images are encoded in their source format (JPEG/WebP at `quality`), shrunk with area averaging, enlarged
bilinearly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bboxaug.core.errors import UsageError
from bboxaug.core.model import Dataset, ImageRecord
from bboxaug.core.report import OnError, Report
from bboxaug.geometry.letterbox import (
    MODES,
    PAD_VALUE,
    Mode,
    Scaling,
    parse_sizes,
    resize_boxes,
    resized_to_source,
    scaling,
    size_folder,
)
from bboxaug.io.names import writable_name
from bboxaug.pipeline.classes import ClassOps
from bboxaug.pipeline.filters import Filters
from bboxaug.pipeline.prepare import rename_collisions
from bboxaug.pipeline.render import Render, RenderJob, run_renders
from bboxaug.pipeline.run import Context, Output, Written, run
from bboxaug.pipeline.source import Source
from bboxaug.preprocessing.steps import Preprocessing, PreprocessSpec

RESIZE_MANIFEST = "resize.json"


@dataclass(frozen=True)
class ResizePlan:
    """Every image's name in the output and where it lands at each size."""

    named: tuple[ImageRecord, ...]
    places: list[list[Scaling]]


@dataclass(frozen=True)
class ResizeStep:
    """The dataset at every size of `sizes`, one dataset per size in `<size>/` (see the module docstring)."""

    sizes: tuple[tuple[int, int], ...]
    mode: Mode = "letterbox"
    min_box_size: float = 2.0
    manifest: str = RESIZE_MANIFEST
    resumable: bool = False
    scratch: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.sizes or len(set(self.sizes)) != len(self.sizes) or min(min(s) for s in self.sizes) < 1:
            raise UsageError(f"sizes must be distinct and at least 1 pixel, not {list(self.sizes)!r}")
        if self.mode not in MODES:
            raise UsageError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.min_box_size < 0:
            raise UsageError(f"min_box_size must be at least 0, not {self.min_box_size}")

    def plan(self, dataset: Dataset, context: Context) -> ResizePlan:
        named = rename_collisions(
            dataset.replace(images=tuple(image.replace(name=writable_name(image.name)) for image in dataset.images)),
            context.target,
            context.report,
        ).images
        places = [[scaling(*image.known_size(), size, self.mode) for size in self.sizes] for image in dataset.images]
        return ResizePlan(tuple(named), places)

    def _settings_of(self, size: tuple[int, int] | None, quality: int) -> dict[str, Any]:
        sizes = {"sizes": [list(s) for s in self.sizes]} if size is None else {"size": list(size)}
        return {
            **sizes,
            "mode": self.mode,
            "min_box_size": self.min_box_size,
            "pad_value": PAD_VALUE,
            "quality": quality,
        }

    def settings(self, plan: ResizePlan, context: Context) -> dict[str, Any]:
        return {"resize": self._settings_of(None, context.output.quality)}

    def run(self, plan: ResizePlan, dataset: Dataset, context: Context) -> list[Written]:
        target, report, output = context.target, context.report, context.output
        folders = [size_folder(size) for size in self.sizes]
        jobs = [
            RenderJob(
                image.key,
                image.source,
                *image.known_size(),
                tuple(
                    Render(
                        f"{folder}/{target.image_path(record.split, record.name)}",
                        (0, 0, *image.known_size()),
                        where.content,
                        (where.width, where.height),
                        where.padding[:2],
                    )
                    for folder, where in zip(folders, wheres, strict=True)
                ),
            )
            for image, record, wheres in zip(dataset.images, plan.named, plan.places, strict=True)
        ]
        failed = run_renders(
            jobs,
            context.root,
            output.quality,
            report,
            workers=output.jobs,
            progress=output.progress,
            description="resizing",
            preprocess=output.preprocess,
        )
        written = []
        for index, (folder, size) in enumerate(zip(folders, self.sizes, strict=True)):
            records, entries, tiny = [], [], 0
            for image, record, wheres in zip(dataset.images, plan.named, plan.places, strict=True):
                if image.key in failed:
                    continue
                where = wheres[index]
                boxes, dropped = resize_boxes(image.boxes, where, self.min_box_size, image.known_size())
                tiny += dropped
                path = target.image_path(record.split, record.name)
                records.append(
                    record.replace(
                        width=where.width, height=where.height, boxes=boxes, source=output.path / folder / path
                    )
                )
                entries.append(
                    {
                        "image": record.key,
                        "path": path,
                        "source": image.key,
                        "source_size": [image.width, image.height],
                        "size": [where.width, where.height],
                        "scale": list(where.scale),
                        "padding": list(where.padding),
                        "tiny_boxes_dropped": dropped,
                    }
                )
            report.count("tiny_boxes_dropped", tiny)
            manifest = {
                "resize": self._settings_of(size, output.quality),
                "tiny_boxes_dropped": tiny,
                "outputs": entries,
            }
            written.append(Written(dataset.replace(images=tuple(records)), manifest, folder=folder))
        return written


@dataclass
class ResizeResult:
    """A finished run: per size folder, the dataset as written and the manifest (`resize.json`) content."""

    source_format: str | None
    target_format: str
    datasets: dict[str, Dataset]
    manifests: dict[str, dict[str, Any]]
    report: Report


def resize(
    src: Path | str,
    dst: Path | str,
    *,
    sizes: str | Sequence[int | tuple[int, int]],
    mode: Mode = "letterbox",
    min_box_size: float = 2.0,
    to: str | None = None,
    task: str | None = None,
    fmt_from: str | None = None,
    image_dir: Path | str | None = None,
    read_options: Mapping[str, Any] | None = None,
    quality: int = 95,
    jobs: int = 1,
    on_error: OnError = "fail",
    class_ops: ClassOps | None = None,
    filters: Filters | None = None,
    overwrite: bool = False,
    progress: bool = False,
    preprocess: PreprocessSpec = None,
) -> ResizeResult:
    """Write the dataset at `src` at every size of `sizes` (`"640,1024"`, `[640, (640, 480)]`) into
    `dst/<size>/`, in `src`'s format unless `to` names another. `preprocess` steps are applied to every source
    first: the pre-processed images are resized. `class_ops` and `filters` rename, merge and drop classes and
    filter boxes and images first."""
    chosen = (
        parse_sizes(sizes)
        if isinstance(sizes, str)
        else [(size, size) if isinstance(size, int) else (int(size[0]), int(size[1])) for size in sizes]
    )
    step = ResizeStep(tuple(chosen), mode, min_box_size)
    source = Source.at(src, fmt_from, image_dir, on_error, class_ops, filters=filters, read_options=read_options)
    result = run(
        step,
        source,
        Output(
            Path(dst),
            to,
            overwrite=overwrite,
            jobs=jobs,
            progress=progress,
            quality=quality,
            preprocess=Preprocessing.of(preprocess),
            task=task,
        ),
    )
    return ResizeResult(
        result.source_format,
        result.target_format,
        {written.folder: written.dataset for written in result.written},
        {written.folder: manifest for written, manifest in zip(result.written, result.manifests, strict=True)},
        result.report,
    )


__all__ = ["RESIZE_MANIFEST", "ResizeResult", "ResizeStep", "resize", "resized_to_source"]
