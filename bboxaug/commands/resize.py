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
manifest). Per-box columns follow the rows; polygon segmentations are scaled; `area`, the source's own `shape`
and RLE masks, which would describe the unscaled object, are left behind.

`dst/<size>/resize.json` records, for every image written, its source, source size, size, scale and padding.
Images are encoded in their source format (JPEG/WebP at `quality`), shrunk with area averaging, enlarged
bilinearly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bboxaug.core.errors import UsageError
from bboxaug.core.model import Dataset
from bboxaug.core.report import OnError, Report
from bboxaug.core.version import __version__
from bboxaug.geometry.letterbox import MODES, Mode, parse_sizes, placement, resize_boxes, size_folder
from bboxaug.io.files import atomic_write_text
from bboxaug.io.names import writable_name
from bboxaug.pipeline.manifest import dataset_counts
from bboxaug.pipeline.output import staged_output
from bboxaug.pipeline.prepare import rename_collisions
from bboxaug.pipeline.render import PAD_VALUE, Render, RenderJob, run_renders
from bboxaug.pipeline.source import read_prepared

MANIFEST = "resize.json"


@dataclass
class ResizeResult:
    """A finished run: per size folder, the dataset as written and the manifest (`resize.json`) content."""

    source_format: str
    target_format: str
    datasets: dict[str, Dataset]
    manifests: dict[str, dict[str, Any]]
    report: Report


def resize(src: Path | str, dst: Path | str, *, sizes: str | Sequence[int | tuple[int, int]],
           mode: Mode = "letterbox", min_box_size: float = 2.0, to: str | None = None, fmt_from: str | None = None,
           image_dir: Path | str | None = None, quality: int = 95, jobs: int = 1, on_error: OnError = "fail",
           overwrite: bool = False, progress: bool = False) -> ResizeResult:
    """Write the dataset at `src` at every size of `sizes` (`"640,1024"`, `[640, (640, 480)]`) into
    `dst/<size>/`, in `src`'s format unless `to` names another."""
    src, dst = Path(src), Path(dst)
    chosen = parse_sizes(sizes) if isinstance(sizes, str) else [
        (size, size) if isinstance(size, int) else tuple(size) for size in sizes]  # type: ignore[misc]
    if not chosen or len(set(chosen)) != len(chosen) or min(min(size) for size in chosen) < 1:
        raise UsageError(f"sizes must be distinct and at least 1 pixel, not {sizes!r}")
    if mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if min_box_size < 0 or not 1 <= quality <= 100:
        raise UsageError("min_box_size must be at least 0 and quality between 1 and 100")
    source_format, target, dataset, report = read_prepared(
        src, dst, to=to, fmt_from=fmt_from, image_dir=image_dir, on_error=on_error, overwrite=overwrite, jobs=jobs,
        progress=progress)
    named = rename_collisions(dataset.replace(images=tuple(
        image.replace(name=writable_name(image.name)) for image in dataset.images)), target, report).images
    folders = [size_folder(size) for size in chosen]
    places = [[placement(image.width, image.height, size, mode) for size in chosen]  # type: ignore[arg-type]
              for image in dataset.images]
    jobs_list = [RenderJob(f"{image.split}/{image.name}", image.source, image.width, image.height,  # type: ignore
                           tuple(Render(f"{folder}/{target.image_path(record.split, record.name)}",
                                        (0, 0, image.width, image.height), where.content, (where.width, where.height),
                                        where.padding[:2]) for folder, where in zip(folders, wheres)))
                 for image, record, wheres in zip(dataset.images, named, places)]
    datasets, manifests = {}, {}
    with staged_output(dst, overwrite) as staging:
        failed = run_renders(jobs_list, staging, quality, report, workers=jobs, progress=progress,
                             description="resizing")
        for index, (folder, size) in enumerate(zip(folders, chosen)):
            records, entries, tiny = [], [], 0
            for image, record, wheres in zip(dataset.images, named, places):
                if f"{image.split}/{image.name}" in failed:
                    continue
                where = wheres[index]
                boxes, dropped = resize_boxes(image.boxes, where, min_box_size)
                tiny += dropped
                path = target.image_path(record.split, record.name)
                records.append(record.replace(width=where.width, height=where.height, boxes=boxes,
                                              source=dst / folder / path))
                entries.append({"image": f"{record.split}/{record.name}", "path": path,
                                "source": f"{image.split}/{image.name}", "source_size": [image.width, image.height],
                                "size": [where.width, where.height], "scale": list(where.scale),
                                "padding": list(where.padding), "tiny_boxes_dropped": dropped})
            written = dataset.replace(images=tuple(records))
            (staging / folder).mkdir(exist_ok=True)
            target.write(written, staging / folder, report=report)
            report.count("tiny_boxes_dropped", tiny)
            manifests[folder] = {
                "bboxaug": __version__, "source": str(src.resolve()), "from": source_format.name, "to": target.name,
                "resize": {"size": list(size), "mode": mode, "min_box_size": min_box_size, "pad_value": PAD_VALUE,
                           "quality": quality},
                **dataset_counts(written), "tiny_boxes_dropped": tiny, "outputs": entries}
            datasets[folder] = written
        for folder, manifest in manifests.items():
            manifest.update(report.to_json())  # the whole run's report, in every size's manifest
            atomic_write_text(staging / folder / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return ResizeResult(source_format.name, target.name, datasets, manifests, report)
