"""Groups: links join images, directly or through others, and groups are numbered by their first image."""

from __future__ import annotations

import numpy as np

from bboxaug.splitting.groups import Groups


def test_links_join_images_through_others_and_groups_number_by_first_image() -> None:
    groups = Groups(7)
    assert groups.join(5, 2) and groups.join(2, 6)
    assert not groups.join(6, 5)  # already one group through 2
    assert groups.join_pairs([(1, 3), (3, 1)]) == 1
    # images 0 and 4 alone; {1, 3}; {2, 5, 6}: numbered in the order of their first image
    assert groups.labels().tolist() == [0, 1, 2, 1, 3, 2, 2]


def test_equal_keys_join_and_none_joins_nothing() -> None:
    groups = Groups(6)
    merged = groups.join_equal(["a", None, "b", "a", None, "a"])
    assert merged == 2
    assert groups.labels().tolist() == [0, 1, 2, 0, 3, 0]


def test_no_links_gives_each_image_its_own_group() -> None:
    assert np.array_equal(Groups(4).labels(), np.arange(4))
    assert Groups(0).labels().tolist() == []
