"""Seeds: every random draw bboxaug makes is a pure function of the run seed, the image key and an index, so the
output does not depend on the number of workers or how the work is split.
"""

from __future__ import annotations

import hashlib


def derive_seed(seed: int, key: str, copy: int, attempt: int) -> int:
    """The 32-bit seed of one attempt at one copy: a hash of the run seed, image key, copy index and attempt."""
    digest = hashlib.blake2b(f"{seed}\0{key}\0{copy}\0{attempt}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")
