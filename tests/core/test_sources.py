from pathlib import Path

import numpy as np
from numpy.dtypes import StringDType

from bboxaug.core.model import Boxes, EmbeddedImage, ImageRecord, text_column
from bboxaug.core.sources import WHOLE, SourceColumn
from bboxaug.core.table import ImageTable, join_tables


def test_a_file_named_after_its_image_keeps_a_folder_code_and_the_name_itself() -> None:
    names = ["a.jpg", "sub/b.jpg", "c.jpg", "d.jpg"]
    embedded = EmbeddedImage(Path("/data/d.json"))
    column = SourceColumn.of(
        [Path("/data/img/a.jpg"), "/data/img/sub/b.jpg", Path("/elsewhere/x.jpg"), embedded], names
    )
    assert column.folders == ("/data/img",)
    assert column.codes.tolist() == [0, 0, WHOLE, WHOLE]
    assert isinstance(column.tails.dtype, StringDType)  # 16 bytes a short name, not a Python string each
    assert column.tails.tolist() == ["a.jpg", "sub/b.jpg", "", ""]
    assert column.tolist() == ["/data/img/a.jpg", "/data/img/sub/b.jpg", "/elsewhere/x.jpg", embedded]
    assert column.present().tolist() == [True, True, True, True]


def test_a_path_that_only_ends_like_the_name_is_held_whole() -> None:
    column = SourceColumn.of(["/data/xa.jpg", "a.jpg", None], ["a.jpg", "a.jpg", "n.jpg"])
    assert column.codes.tolist() == [WHOLE, WHOLE, WHOLE]
    assert column.tolist() == ["/data/xa.jpg", "a.jpg", None]
    assert column.present().tolist() == [True, True, False]


def test_taking_and_joining_keep_every_row_and_merge_the_folders() -> None:
    first = SourceColumn.of(["/one/a.png", "/two/b.png"], ["a.png", "b.png"])
    second = SourceColumn.of(["/two/c.png", "/three/d.png", None], ["c.png", "d.png", "e.png"])
    joined = SourceColumn.concat([first, None, second], [2, 1, 3])
    assert joined is not None
    assert sorted(joined.folders) == ["/one", "/three", "/two"]
    assert joined.tolist() == ["/one/a.png", "/two/b.png", None, "/two/c.png", "/three/d.png", None]
    assert joined.take(np.array([4, 0])).tolist() == ["/three/d.png", "/one/a.png"]
    assert SourceColumn.concat([None, None], [1, 2]) is None


def test_tables_read_from_many_batches_give_back_every_file(tmp_path: Path) -> None:
    records = [
        ImageRecord(f"{k}.png", "train", 4, 4, Boxes.empty(), source=tmp_path / f"f{k % 3}" / f"{k}.png")
        for k in range(10)
    ]
    parts = [ImageTable.from_records(records[:4]), ImageTable.from_records(records[4:])]
    table = join_tables(parts, ("train",))
    assert [table.source_of(k) for k in range(10)] == [record.source for record in records]
    assert table.subset([9, 2]).source_files() == [records[9].source, records[2].source]
    assert table.has_sources().all()


def test_files_all_in_folders_need_no_object_column() -> None:
    column = SourceColumn.of(["/data/a.png", None, "/data/b.png"], ["a.png", "n.png", "b.png"])
    assert column.others is None
    assert column.tolist() == ["/data/a.png", None, "/data/b.png"]
    assert column.present().tolist() == [True, False, True]


def test_an_image_renamed_on_the_way_out_keeps_its_file(tmp_path: Path) -> None:
    source = tmp_path / "img" / "a.png"
    table = ImageTable.from_records([ImageRecord("a.png", "train", 4, 4, Boxes.empty(), source=source)])
    renamed = table.with_columns(names=text_column(["a_1.png"]))
    assert renamed[0].name == "a_1.png" and renamed.source_of(0) == source
