"""The model's box tables: slicing one checked table into per-image views."""

from __future__ import annotations

import numpy as np
import pytest

from bboxaug.core.model import Boxes


def table() -> Boxes:
    return Boxes(
        [[0, 0, 2, 2], [1, 1, 3, 3], [2, 2, 4, 4]],
        [0, 1, 1],
        {"difficult": [False, True, False], "attributes": [None, {"pose": "Left"}, None]},
    )


def test_rows_are_read_only_views_of_the_table() -> None:
    whole = table()
    part = whole.rows(1, 3)
    np.testing.assert_array_equal(part.xyxy, [[1, 1, 3, 3], [2, 2, 4, 4]])
    assert part.labels.tolist() == [1, 1] and part.columns["difficult"].tolist() == [True, False]
    assert np.shares_memory(part.xyxy, whole.xyxy) and np.shares_memory(part.labels, whole.labels)
    for array in (part.xyxy, part.labels, *part.columns.values()):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0
    with pytest.raises(TypeError):
        part.columns["iscrowd"] = np.zeros(2, dtype=bool)  # type: ignore[index]


def test_rows_equal_take_and_keep_only_the_columns_named() -> None:
    whole = table()
    part, taken = whole.rows(1, 2, ("attributes",)), whole.take([1])
    np.testing.assert_array_equal(part.xyxy, taken.xyxy)
    assert part.labels.tolist() == taken.labels.tolist()
    assert list(part.columns) == ["attributes"] and part.columns["attributes"].tolist() == [{"pose": "Left"}]
    assert len(whole.rows(2, 2)) == 0 and whole.rows(2, 2).xyxy.shape == (0, 4)
