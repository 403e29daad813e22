"""Walking a JSON object a block at a time: what comes out equals what `json.loads` makes of the same text, for
any block size, with cuts proposed inside strings, nested values and past the array's end."""

from __future__ import annotations

import io
import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bboxaug.core.errors import FormatError
from bboxaug.io import jsonstream

#: Text that looks like a place to cut: brackets, commas and quotes inside strings.
TRICKY = st.sampled_from(["},{", '"', "\\", '\\"}', "]", ",", "}]", "é", '{"a":1},', "\n", "x"])
STRINGS = st.lists(TRICKY, max_size=4).map("".join)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False, allow_infinity=False), STRINGS
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(STRINGS, inner, max_size=4), max_leaves=12
)


def walk(text: bytes, block: int, streamed: tuple[str, ...] = ("images", "annotations")) -> tuple[dict, dict, set]:
    batches: dict[str, list[Any]] = {key: [] for key in streamed}
    sizes: dict[str, list[int]] = {key: [] for key in streamed}

    def consumer(key: str) -> Any:
        def consume(batch: jsonstream.Batch) -> None:
            assert batch.text == b"[" + text[batch.start : batch.stop] + b"]", "a batch says where it is in the file"
            items = msgspec.json.decode(batch.text)
            assert isinstance(items, list) and items, "a batch is a non-empty JSON array"
            batches[key] += items
            sizes[key].append(len(items))

        return consume

    members, done = jsonstream.read_object(
        io.BytesIO(text), file="doc.json", streamed={key: consumer(key) for key in streamed}, block=block
    )
    return {**members, **{key: batches[key] for key in done}}, sizes, done


@settings(max_examples=150, deadline=None)
@given(
    info=VALUES,
    images=st.lists(VALUES, max_size=25),
    annotations=st.lists(st.dictionaries(STRINGS, VALUES, max_size=3), max_size=40),
    tail=VALUES,
    block=st.sampled_from([1, 2, 7, 64, 4096]),
    indent=st.sampled_from([None, 0, 2]),
)
def test_any_document_comes_out_as_json_loads_reads_it(
    info: Any, images: list[Any], annotations: list[Any], tail: Any, block: int, indent: int | None
) -> None:
    document = {"info": info, "images": images, "annotations": annotations, "zzz": tail}
    text = json.dumps(document, indent=indent, ensure_ascii=False).encode()
    members, _, done = walk(text, block)
    assert members == json.loads(text)
    assert [key for key in members if key not in done] == ["info", "zzz"], "other members keep the file's order"
    assert done == {"images", "annotations"}


def test_a_large_array_arrives_in_several_batches_of_whole_elements() -> None:
    annotations = [{"id": k, "bbox": [k, k + 0.5, 3, 4], "note": "},{" * (k % 3)} for k in range(500)]
    text = json.dumps({"annotations": annotations, "categories": [{"id": 1}]}).encode()
    members, sizes, _ = walk(text, block=512)
    assert members["annotations"] == annotations and members["categories"] == [{"id": 1}]
    assert len(sizes["annotations"]) > 10 and sum(sizes["annotations"]) == 500


def test_an_element_longer_than_a_block_is_read_whole() -> None:
    annotations = [{"id": 1, "segmentation": [list(range(3000))]}, {"id": 2}]
    text = json.dumps({"annotations": annotations}).encode()
    assert walk(text, block=16)[0]["annotations"] == annotations


def test_an_array_not_streamed_and_a_scalar_member_are_decoded_whole() -> None:
    text = b'\xef\xbb\xbf {"images": 5, "licenses": [], "annotations": [], "n": -1.5e3}'
    members, sizes, done = walk(text, block=3)
    assert members == {"images": 5, "licenses": [], "annotations": [], "n": -1500.0}
    assert done == {"annotations"} and sizes["annotations"] == [], "an empty array is streamed as no batch"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"images": [{"id": 1}, {"id": 2', "unterminated array"),
        (b'{"images": [1, 2]', "',' or '}' after a member"),
        (b'{"a": 1} {"b": 2}', "extra data after the object"),
        (b'{"a" 1}', "':' after a key"),
        (b"{not json}", "expected a string"),
        (b'{"a": tru}', "unterminated value"),
        (b"", "expected a JSON object, found the end of the file"),
    ],
)
def test_invalid_json_is_a_format_error_naming_the_file_and_byte(text: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message) as error:
        walk(text, block=4)
    assert error.value.file == "doc.json" and "at byte" in str(error.value)


def test_a_valid_document_that_is_not_an_object_says_so() -> None:
    with pytest.raises(FormatError, match=r"^doc.json: not a COCO file$"):
        jsonstream.read_object(io.BytesIO(b" [1, 2]"), file="doc.json", streamed={}, not_object="not a COCO file")
