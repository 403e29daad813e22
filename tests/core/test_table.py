"""The image table: records go in and come back out the same, and whole-table operations agree with doing the
same image by image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.dtypes import StringDType

from bboxaug.core.model import Boxes, EmbeddedImage, ImageRecord, object_column
from bboxaug.core.table import (
    UNKNOWN,
    ImageTable,
    TableBuilder,
    concat_boxes,
    in_appearance_order,
    positions_in_appearance_order,
    ranges,
)


def records() -> list[ImageRecord]:
    return [
        ImageRecord("a.jpg", "train", 10, 8, Boxes([[0, 0, 2, 2], [1, 1, 5, 4]], [0, 1], {"difficult": [True, False]})),
        ImageRecord("b.png", "val", None, None, source=Path("/data/b.png"), source_id=7),
        ImageRecord(
            "sub/c.jpg", "train", 20, 10, Boxes([[3, 3, 9, 9]], [2], {"occluded": [True]}), attributes={"x": 1}
        ),
        ImageRecord("d.jpg", "test", 4, 4, Boxes([[0.5, 0.5, 1.5, 1.5]], [1]), source_id="d-id"),
    ]


def same(record: ImageRecord, other: ImageRecord) -> None:
    assert (record.name, record.split, record.width, record.height) == (
        other.name,
        other.split,
        other.width,
        other.height,
    )
    assert (record.source, record.source_id, dict(record.attributes)) == (
        other.source,
        other.source_id,
        dict(other.attributes),
    )
    np.testing.assert_array_equal(record.boxes.xyxy, other.boxes.xyxy)
    np.testing.assert_array_equal(record.boxes.labels, other.boxes.labels)
    assert set(record.boxes.columns) == set(other.boxes.columns), "each image keeps only its own box columns"
    for name in other.boxes.columns:
        assert record.boxes.columns[name].tolist() == other.boxes.columns[name].tolist()


@pytest.mark.parametrize("flush", [1, 2, 4096])
def test_records_come_back_as_they_went_in(flush: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TableBuilder, "FLUSH", flush)
    table = ImageTable.from_records(records())
    assert len(table) == 4 and len(table.boxes) == 4
    for got, expected in zip(table, records(), strict=True):
        same(got, expected)
    same(table[-1], records()[-1])
    with pytest.raises(IndexError):
        table[4]
    assert table.widths.tolist() == [10, UNKNOWN, 20, 4]


def test_counts_owners_splits_and_keys_come_from_the_columns() -> None:
    table = ImageTable.from_records(records())
    assert table.box_counts().tolist() == [2, 0, 1, 1]
    assert table.box_owners().tolist() == [0, 0, 2, 3]
    assert table.splits() == ["train", "val", "test"]
    assert table.split_positions()[1].tolist() == [0, 1, 0, 2]
    assert [table.key_of(k) for k in range(4)] == [record.key for record in records()]
    np.testing.assert_array_equal(table.sizes()[1], [np.nan, np.nan])


@pytest.mark.parametrize("chunk", [1, 3, 100])
def test_split_and_name_pairs_follow_the_rows_given_across_chunks(chunk: int) -> None:
    table = ImageTable.from_records(records())
    expected = [(record.split, record.name) for record in records()]
    assert list(table.split_name_pairs(chunk=chunk)) == expected
    rows = np.array([3, 0, 2])
    assert list(table.split_name_pairs(rows, chunk=chunk)) == [expected[3], expected[0], expected[2]]


def test_names_are_a_text_column_and_any_other_is_refused() -> None:
    table = ImageTable.from_records(records())
    assert isinstance(table.names.dtype, StringDType)
    assert table.names.tolist() == [record.name for record in records()]
    with pytest.raises(TypeError, match="text column"):
        table.with_columns(names=object_column([record.name for record in records()]))


def test_splits_are_placed_in_the_order_they_first_appear() -> None:
    names, positions = positions_in_appearance_order(np.array([2, 0, 2, 3, 0], dtype=np.int32), "abcd")
    assert names == ["c", "a", "d"] and positions.tolist() == [0, 1, 0, 2, 1]
    assert in_appearance_order(np.zeros(0, dtype=np.int32)).tolist() == []


def test_subset_in_split_and_slices_keep_each_images_boxes() -> None:
    table = ImageTable.from_records(records())
    train = table.in_split("train")
    assert [record.name for record in train] == ["a.jpg", "sub/c.jpg"]
    same(train[1], records()[2])
    picked = table.subset([3, 0])
    same(picked[0], records()[3])
    same(picked[1], records()[0])
    assert [record.name for record in table[1:3]] == ["b.png", "sub/c.jpg"]
    assert len(table.in_split("missing")) == 0


def test_extended_and_joined_tables_keep_every_record_in_order() -> None:
    first = ImageTable.from_records(records()[:2])
    more = first.extended(records()[2:])
    assert len(more) == 4 and more.splits() == ["train", "val", "test"]
    for got, expected in zip(more, records(), strict=True):
        same(got, expected)


def test_a_table_equals_a_sequence_of_equal_records() -> None:
    empty = ImageTable.from_records([])
    assert empty == () and empty == [] and len(empty) == 0 and empty.splits() == []
    assert ImageTable.from_records([ImageRecord("n.jpg", "train", 3, 3)]) != ()


def test_with_boxes_moves_rows_between_images_by_owner() -> None:
    table = ImageTable.from_records(records())
    kept = np.array([1, 3])
    smaller = table.with_boxes(table.boxes.take(kept), table.box_owners()[kept])
    assert smaller.box_counts().tolist() == [1, 0, 0, 1]
    np.testing.assert_array_equal(smaller[0].boxes.xyxy, [[1, 1, 5, 4]])


def test_concat_boxes_fills_a_missing_column_with_its_default() -> None:
    joined = concat_boxes([Boxes([[0, 0, 1, 1]], [0], {"difficult": [True]}), Boxes([[1, 1, 2, 2]], [1])])
    assert joined.columns["difficult"].tolist() == [True, False] and joined.labels.tolist() == [0, 1]


def test_ranges_lists_every_row_of_every_range_in_order() -> None:
    assert ranges(np.array([5, 0, 9]), np.array([2, 0, 3])).tolist() == [5, 6, 9, 10, 11]
    assert ranges(np.array([], dtype=np.int64), np.array([], dtype=np.int64)).tolist() == []


def test_columns_are_read_only_and_lengths_are_checked() -> None:
    table = ImageTable.from_records(records())
    with pytest.raises(ValueError, match="read-only"):
        table.widths[0] = 1
    with pytest.raises(ValueError, match="offsets"):
        table.with_columns(offsets=np.array([0, 1], dtype=np.int64))


def test_sources_are_held_as_text_and_handed_out_as_paths(tmp_path: Path) -> None:
    embedded = EmbeddedImage(tmp_path / "b.json")
    records = [
        ImageRecord("a.png", "train", 4, 4, Boxes.empty(), source=tmp_path / "a.png"),
        ImageRecord("b.png", "train", 4, 4, Boxes.empty(), source=embedded),
        ImageRecord("c.png", "train", 4, 4, Boxes.empty()),
    ]
    table = ImageTable.from_records(records)
    assert table.sources is not None and table.sources.tolist() == [str(tmp_path / "a.png"), embedded, None]
    assert [record.source for record in table] == [tmp_path / "a.png", embedded, None]
    assert isinstance(table[0].source, Path)
    assert table.source_files() == [tmp_path / "a.png", None, None]
