"""Which image each image of a dataset bboxaug wrote was made from, as the manifest beside it records it.

`augment.json` and `balance.json` list every copy (and paste image) with its source, `tiles.json` every tile,
`resize.json` every resized image, each as `{"image": key in the output, "source": key in the source}`. The
manifest's `source` names the dataset it was made from; when that one was made by bboxaug too (tiles augmented
later), its manifest is followed in turn, so every image is traced back to the first image it came from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bboxaug.commands.balance import BALANCE_MANIFEST
from bboxaug.commands.resize import RESIZE_MANIFEST
from bboxaug.commands.tile import TILE_MANIFEST
from bboxaug.core.errors import FormatError
from bboxaug.pipeline.copies import AUGMENT_MANIFEST

#: Each manifest that records sources, and the list of its entries that does.
LINEAGE_MANIFESTS = {
    AUGMENT_MANIFEST: "outputs",
    BALANCE_MANIFEST: "outputs",
    TILE_MANIFEST: "tiles",
    RESIZE_MANIFEST: "outputs",
}

#: Manifests followed back at most (a chain longer than this is a loop).
MAX_DEPTH = 16


def manifest_beside(path: Path) -> Path | None:
    """The lineage manifest of the dataset at `path` (its folder, or the folder of the file given, or that folder's
    parent: `annotations/instances_train.json`), or None when bboxaug made it with no such step."""
    folder = path if path.is_dir() else path.parent
    for candidate in (folder, folder.parent):
        for name in LINEAGE_MANIFESTS:
            if (candidate / name).is_file():
                return candidate / name
    return None


def _read(manifest: Path) -> tuple[dict[str, str], Path | None]:
    """The manifest's image -> source keys and the dataset it was made from."""
    try:
        document: Any = json.loads(manifest.read_text(encoding="utf-8"))
        entries = document.get(LINEAGE_MANIFESTS[manifest.name], [])
        made_from = {entry["image"]: entry["source"] for entry in entries if "source" in entry}
    except (OSError, ValueError, AttributeError, KeyError, TypeError) as error:
        raise FormatError(f"cannot read the sources of its images ({error})", file=manifest) from None
    source = document.get("source")
    return made_from, Path(source) if isinstance(source, str) else None


def origins(path: Path) -> dict[str, str]:
    """Each image of the dataset at `path` that bboxaug made from another, with the key of the first image it comes
    from (following the manifests back); empty when there is no lineage manifest."""
    manifest = manifest_beside(path)
    if manifest is None:
        return {}
    made_from, source = _read(manifest)
    seen = {manifest.resolve()}
    for _ in range(MAX_DEPTH):
        earlier = None if source is None or not source.exists() else manifest_beside(source)
        if earlier is None or earlier.resolve() in seen:
            break
        seen.add(earlier.resolve())
        before, source = _read(earlier)
        # the earlier step's images are in this dataset too, under the same keys (the originals an augment kept)
        made_from = {**before, **{image: before.get(key, key) for image, key in made_from.items()}}
    return made_from
