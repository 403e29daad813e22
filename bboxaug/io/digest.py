"""The digest of an image's bytes, so two files holding the same bytes are found whatever their names or sizes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bboxaug.core.errors import ImageError
from bboxaug.core.model import EmbeddedImage
from bboxaug.io.headers import embedded_bytes

#: Bytes read at a time: a large image is hashed without being held in memory whole.
CHUNK = 1 << 20


def content_digest(source: Path | EmbeddedImage) -> str:
    """SHA-256 of the image file's bytes (or of the bytes embedded in an annotation), as hex."""
    digest = hashlib.sha256()
    if isinstance(source, EmbeddedImage):
        digest.update(embedded_bytes(source))
        return digest.hexdigest()
    try:
        with open(source, "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    except OSError as error:
        raise ImageError(f"cannot read image ({error.strerror or error})", file=source) from None
    return digest.hexdigest()
