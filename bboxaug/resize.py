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
from typing import Any, Literal

import numpy as np

from . import __version__
from .convert import dataset_counts, rename_collisions
from .dataset import Boxes, Dataset, object_column
from .errors import UsageError
from .io import atomic_write_text
from .report import OnError, Report
from .augment.images import writable_name
from .render import PAD_VALUE, Render, RenderJob, parse_size, read_prepared, run_renders, staged_output

MANIFEST = "resize.json"
Mode = Literal["letterbox", "fit", "stretch"]
MODES: tuple[Mode, ...] = ("letterbox", "fit", "stretch")
#: Columns describing the object at its source scale, which a resized copy does not carry.
UNSCALED_COLUMNS = ("area", "shape")


@dataclass(frozen=True)
class Placement:
    """Where a source lands in its resized image: `(x, y) -> (x * scale[0] + left, y * scale[1] + top)` on a
    `width x height` image whose `padding` is `(left, top, right, bottom)`."""

    width: int
    height: int
    scale: tuple[float, float]
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def content(self) -> tuple[int, int]:
        """The size the source's pixels are scaled to (the image less its padding)."""
        left, top, right, bottom = self.padding
        return self.width - left - right, self.height - top - bottom


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """`"640,1024"` or `"640x480,1280x960"`: the sizes in order; the same size twice is refused."""
    sizes = [parse_size(part) for part in text.split(",")]
    if len(set(sizes)) != len(sizes):
        raise UsageError(f"a size is listed twice in {text!r}")
    return sizes


def size_folder(size: tuple[int, int]) -> str:
    """`640` for a square size, `640x480` otherwise: the output folder of one size."""
    return str(size[0]) if size[0] == size[1] else f"{size[0]}x{size[1]}"


def placement(width: int, height: int, size: tuple[int, int], mode: Mode) -> Placement:
    """How a `width x height` source is placed at `size` in `mode` (see the module docstring)."""
    if mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    target_w, target_h = size
    if mode == "stretch":
        return Placement(target_w, target_h, (target_w / width, target_h / height))
    factor = min(target_w / width, target_h / height)
    content_w, content_h = max(1, round(width * factor)), max(1, round(height * factor))
    scale = (content_w / width, content_h / height)
    if mode == "fit":
        return Placement(content_w, content_h, scale)
    left, top = (target_w - content_w) // 2, (target_h - content_h) // 2
    return Placement(target_w, target_h, scale, (left, top, target_w - content_w - left, target_h - content_h - top))


def to_resized(xyxy: np.ndarray | Sequence[Sequence[float]], where: Placement) -> np.ndarray:
    """Source boxes (xyxy pixels) in the resized image, kept inside its content (float rounding only)."""
    left, top = where.padding[:2]
    factors = np.tile(np.asarray(where.scale, np.float64), 2)
    moved = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4) * factors + (left, top, left, top)
    width, height = where.content
    return np.clip(moved, (left, top, left, top), (left + width, top + height, left + width, top + height))


def resized_to_source(xyxy: np.ndarray | Sequence[Sequence[float]], scale: Sequence[float],
                      padding: Sequence[int] = (0, 0, 0, 0)) -> np.ndarray:
    """Boxes on a resized image back in its source's pixels, from the `scale` and `padding` in `resize.json`."""
    left, top = padding[0], padding[1]
    factors = np.tile(np.asarray(scale, np.float64), 2)
    return (np.asarray(xyxy, dtype=np.float64).reshape(-1, 4) - (left, top, left, top)) / factors


def _scale_segmentation(segmentation: Any, where: Placement) -> Any:
    """Polygon parts scaled and shifted like the boxes; anything else (RLE) is not carried."""
    if not isinstance(segmentation, list) or not segmentation:
        return None
    factors, shift = np.asarray(where.scale), np.asarray(where.padding[:2])
    return [(np.asarray(flat, np.float64).reshape(-1, 2) * factors + shift).ravel().tolist() for flat in segmentation
            if isinstance(flat, (list, tuple)) and len(flat) >= 6 and len(flat) % 2 == 0] or None


def resize_boxes(boxes: Boxes, where: Placement, min_box_size: float) -> tuple[Boxes, int]:
    """The boxes at their place in the resized image, less those whose shorter side is under `min_box_size`
    pixels there; and how many were dropped."""
    xyxy = to_resized(boxes.xyxy, where)
    keep = np.flatnonzero((xyxy[:, 2:] - xyxy[:, :2]).min(axis=1, initial=np.inf) >= min_box_size)
    kept = boxes.take(keep)
    columns = {name: values for name, values in kept.columns.items() if name not in UNSCALED_COLUMNS}
    if "segmentation" in columns:
        columns["segmentation"] = object_column(_scale_segmentation(s, where) for s in columns["segmentation"])
    return Boxes(xyxy[keep], kept.labels, columns), len(boxes) - len(keep)


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


__all__ = ["MANIFEST", "MODES", "Placement", "ResizeResult", "parse_sizes", "placement", "resize", "resize_boxes",
           "resized_to_source", "size_folder", "to_resized"]
