"""Reading one large JSON object a block at a time, its big arrays in batches of elements.

A COCO file of two million images is about 3 GB of JSON; decoding it whole costs several times that in Python
objects. `read_object` walks the top-level object instead: each member named in `streamed` whose value is an array
is handed on as batches of complete elements (JSON text, `[e1,e2,...]`, a few megabytes each) for the caller to
decode into columns and forget; every other member is decoded whole and returned. Memory is one block and one
batch, whatever the file's size.

The decoding is msgspec's. This module only decides where a batch may end, without a tokenizer of its own: it
proposes a cut after an element's last byte (a `}` or `]` followed by `,` or `]`, or any `,` for arrays of
scalars), nearest the block's end first, and keeps the first cut whose text msgspec validates. A batch begins at
an element's first byte, so its text is valid JSON only if the cut ends an element of this array: a cut inside a
string leaves the string open, and a cut inside a nested value leaves a bracket open.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import msgspec

from bboxaug.core.errors import FormatError

#: Bytes read at a time; a batch is at most about this long (more only when a single element is longer).
BLOCK = 8 << 20

_WHITESPACE = b" \t\r\n"

#: A cut after a container element: its closing bracket, then `,` or the array's end.
_AFTER_CONTAINER = re.compile(rb"[}\]][ \t\r\n]*[,\]]")

#: A cut after any element: before a `,` or the array's end.
_BEFORE_SEPARATOR = re.compile(rb"[ \t\r\n]*[,\]]")

#: A cut after a member's value (not an array): before a `,` or the object's end.
_BEFORE_MEMBER_END = re.compile(rb"[ \t\r\n]*[,}]")

_BOM = b"\xef\xbb\xbf"

#: The first bytes of JSON values other than an object.
_OTHER_VALUE_STARTS = b'["-0123456789tfn'


#: Bytes searched for cuts at a time, from the end of what is held backwards.
_WINDOW = 1 << 16

#: Where msgspec says a text stopped being valid JSON.
_ERROR_BYTE = re.compile(r"\(byte (\d+)\)")


class _Cursor:
    """A window on the file: `data[pos:]` is what has been read and not consumed yet."""

    def __init__(self, handle: BinaryIO, file: object, block: int) -> None:
        self.handle, self.file, self.block = handle, file, block
        self.data = b""
        self.pos = 0
        self.consumed = 0  # bytes of the file before `data`
        self.eof = False

    def more(self, size: int | None = None) -> bool:
        """Read another block (or `size` bytes) after what is held; False at the end of the file."""
        if self.eof:
            return False
        chunk = self.handle.read(size or self.block)
        self.consumed += self.pos
        self.data = self.data[self.pos :] + chunk
        self.pos = 0
        self.eof = not chunk
        return bool(chunk)

    def skip_whitespace(self) -> None:
        while True:
            data, pos = self.data, self.pos
            while pos < len(data) and data[pos] in _WHITESPACE:
                pos += 1
            self.pos = pos
            if pos < len(data) or not self.more():
                return

    def peek(self) -> int:
        """The next byte that is not whitespace (not consumed), or -1 at the end of the file."""
        self.skip_whitespace()
        return self.data[self.pos] if self.pos < len(self.data) else -1

    def expect(self, allowed: bytes, what: str) -> int:
        found = self.peek()
        if found < 0 or found not in allowed:
            shown = "the end of the file" if found < 0 else repr(chr(found))
            raise self.error(f"expected {what}, found {shown}")
        self.pos += 1
        return found

    def error(self, message: str) -> FormatError:
        return FormatError(f"invalid JSON ({message} at byte {self.consumed + self.pos})", file=self.file)

    def string(self) -> str:
        """The JSON string that starts here (a member's key), consumed."""
        if self.peek() != ord('"'):
            self.expect(b'"', "a string")
        end = self.pos + 1
        while True:
            end = self.data.find(b'"', end)
            if end < 0:  # keep the opening quote at `pos` while reading on
                if not self.more():
                    raise self.error("unterminated string")
                end = self.pos + 1
                continue
            backslashes = 0
            while self.data[end - 1 - backslashes] == 0x5C:
                backslashes += 1
            if backslashes % 2 == 0:
                break
            end += 1
        text = self.data[self.pos : end + 1]
        self.pos = end + 1
        return str(msgspec.json.decode(text))

    def cut(self, pattern: re.Pattern[bytes], offset: int, *, wrap: bool) -> bytes | None:
        """The longest text `data[pos:end]`, `end` a match of `pattern` (plus `offset`), that is valid JSON
        (wrapped in `[` and `]` if `wrap`), consumed; None when no match in the held data gives valid JSON. When a
        text fails at byte N, every longer one shares its first N + 1 bytes and fails too, so it is not tried."""
        view = memoryview(self.data)
        upper = len(self.data) + 1  # every `end` tried is below it
        window = _WINDOW
        while upper > self.pos:
            lower = max(self.pos, upper - window)
            found = pattern.finditer(self.data, lower, min(len(self.data), upper + _WINDOW))
            for end in reversed([match.start() + offset for match in found]):
                if end >= upper:
                    continue
                text = b"[" + view[self.pos : end] + b"]" if wrap else bytes(view[self.pos : end])
                failed_at = _first_error(text)
                if failed_at is None:
                    self.pos = end
                    return text
                upper = min(end, self.pos + failed_at - wrap + 1)  # the failing byte, counted in data
            upper, window = min(upper, lower), window * 4
        return None


def _first_error(text: bytes) -> int | None:
    """None when `text` is one valid JSON value; else the byte where msgspec found it invalid (its length when
    the message gives none)."""
    try:
        msgspec.json.decode(text, type=msgspec.Raw)
    except msgspec.DecodeError as error:
        found = _ERROR_BYTE.search(str(error))
        return int(found.group(1)) if found else len(text)
    return None


class Batch(NamedTuple):
    """Whole elements of an array: their JSON text as an array (`[e1,e2,...]`), and where the elements are in
    the file (`start` to `stop`, brackets not included), so that another process can read them again."""

    text: bytes
    start: int
    stop: int


def read_batch(path: Path | str, start: int, stop: int) -> bytes:
    """The text of a batch's elements, read again from the file, as a JSON array."""
    with open(path, "rb") as handle:
        handle.seek(start)
        return b"[" + handle.read(stop - start) + b"]"


def _batches(cursor: _Cursor) -> Iterator[Batch]:
    """The elements of the array that starts at the cursor, as batches of whole elements, in order."""
    cursor.expect(b"[", "an array")
    if cursor.peek() == ord("]"):
        cursor.pos += 1
        return
    while True:
        if len(cursor.data) - cursor.pos < cursor.block and not cursor.eof:
            cursor.more()
        start = cursor.consumed + cursor.pos
        # Cuts after a container are few (one per object in an array of objects): try those first.
        text = cursor.cut(_AFTER_CONTAINER, 1, wrap=True) or cursor.cut(_BEFORE_SEPARATOR, 0, wrap=True)
        if text is None:
            if not cursor.more(max(cursor.block, len(cursor.data))):  # one element longer than what is held
                raise cursor.error("unterminated array")
            continue
        yield Batch(text, start, cursor.consumed + cursor.pos)
        if cursor.expect(b",]", "',' or ']' after an array element") == ord("]"):
            return


def _value(cursor: _Cursor) -> Any:
    """The value that starts at the cursor, decoded whole (an array a batch at a time)."""
    if cursor.peek() == ord("["):
        items: list[Any] = []
        for batch in _batches(cursor):
            items += msgspec.json.decode(batch.text)
        return items
    while True:
        text = cursor.cut(_BEFORE_MEMBER_END, 0, wrap=False)
        if text is not None:
            return msgspec.json.decode(text)
        if not cursor.more(max(cursor.block, len(cursor.data))):
            raise cursor.error("unterminated value")


def read_object(
    handle: BinaryIO,
    *,
    file: object,
    streamed: Mapping[str, Callable[[Batch], None]],
    not_object: str = "not a JSON object",
    block: int | None = None,
) -> tuple[dict[str, Any], set[str]]:
    """Walk the JSON object in `handle`: for each member named in `streamed` whose value is an array, call its
    function with every batch of elements, in order; decode every other member whole. Returns
    the decoded members, in file order, and the names of the arrays that were streamed. FormatError (naming `file`
    and the byte) when the text is not valid JSON, or `not_object` when it is valid but not an object."""
    cursor = _Cursor(handle, file, block or BLOCK)
    cursor.more()
    if cursor.data.startswith(_BOM):
        cursor.pos = len(_BOM)
    if cursor.peek() >= 0 and cursor.peek() in _OTHER_VALUE_STARTS:
        raise FormatError(not_object, file=file)
    cursor.expect(b"{", "a JSON object")
    members: dict[str, Any] = {}
    done: set[str] = set()
    if cursor.peek() == ord("}"):
        cursor.pos += 1
    else:
        while True:
            key = cursor.string()
            cursor.expect(b":", "':' after a key")
            consume = streamed.get(key)
            if consume is not None and cursor.peek() == ord("["):
                for batch in _batches(cursor):
                    consume(batch)
                done.add(key)
            else:
                members[key] = _value(cursor)
            if cursor.expect(b",}", "',' or '}' after a member") == ord("}"):
                break
    if cursor.peek() >= 0:
        raise cursor.error("extra data after the object")
    return members, done
