"""Images that must go to one split together, as the connected parts of the links between them (union-find).

An augmented copy and its source, two tiles of one photograph, two files with the same bytes, two images whose
names share a `--group-by` key: each is a link, and every image linked to another, directly or through others,
is in its group. Groups are numbered in the order of their first image, so the numbering depends on the dataset's
order alone.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

import numpy as np


class Groups:
    """The groups of `count` images, joined link by link."""

    def __init__(self, count: int) -> None:
        self._parent = list(range(count))

    def __len__(self) -> int:
        return len(self._parent)

    def _root(self, image: int) -> int:
        parent = self._parent
        root = image
        while parent[root] != root:
            root = parent[root]
        while parent[image] != root:  # path compression
            parent[image], image = root, parent[image]
        return root

    def join(self, first: int, second: int) -> bool:
        """Put the two images in one group; returns whether they were in different groups before."""
        one, other = self._root(first), self._root(second)
        if one == other:
            return False
        self._parent[max(one, other)] = min(one, other)  # the earlier image stays the root
        return True

    def join_pairs(self, pairs: Iterable[tuple[int, int]]) -> int:
        """Join every pair; returns how many joins merged two groups."""
        return sum(self.join(first, second) for first, second in pairs)

    def join_equal(self, keys: Sequence[Hashable | None]) -> int:
        """Join the images that have the same key (None: no key); returns how many joins merged two groups."""
        first_with: dict[Hashable, int] = {}
        merged = 0
        for image, key in enumerate(keys):
            if key is not None:
                merged += self.join(first_with.setdefault(key, image), image)
        return merged

    def labels(self) -> np.ndarray:
        """Each image's group, numbered 0, 1, ... in the order of each group's first image."""
        roots = np.fromiter((self._root(image) for image in range(len(self))), np.int64, len(self))
        _, first, inverse = np.unique(roots, return_index=True, return_inverse=True)
        renumber = np.empty(len(first), dtype=np.int64)
        renumber[np.argsort(first, kind="stable")] = np.arange(len(first))
        return renumber[inverse]
