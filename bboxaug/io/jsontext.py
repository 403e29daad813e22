"""JSON read and written exactly as the standard library does, with orjson wherever it gives the same result.

Large COCO files spend most of their reading and writing time in `json`; orjson does the same work several times
faster, but differs from `json` in a few places. Each function here uses orjson only where the result is the
same, and hands everything else to `json`:
- reading: orjson refuses some documents `json` accepts (a byte-order mark, `NaN`, UTF-16, lone surrogates),
  and reads integers beyond 64 bits as floats. A document it refuses, or that holds a run of 19 or more digits
  (every integer it would misread has one), is read by `json`.
- writing (compact, UTF-8, non-finite numbers refused): orjson writes NaN and infinity as `null`, and floats
  below 1e-4 without an exponent or with a one-digit one (`0.00001`, `1.5e-7`, where `json` writes `1e-05`,
  `1.5e-07`); it refuses integers beyond 64 bits and keys that are not strings. Text it refuses, or that holds
  `null`, `e-` or `0.0000` anywhere (every such difference does), is written by `json`. Dataclasses and dates
  go to `default`, as with `json`; orjson would also write enums and UUIDs, which `json` refuses, but no bboxaug
  document holds them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

#: Digits become `9`, everything else a space: a long number shows as a run of `9`s.
_DIGITS = bytes(57 if 48 <= byte <= 57 else 32 for byte in range(256))


_LONG_NUMBER = b"9" * 19


_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


#: Text orjson writes where `json` may write something else (see the module docstring).
_MAY_DIFFER = (b"null", b"e-", b"0.0000")


def loads(data: bytes) -> Any:
    """The document in `data`, as `json.loads(data)` reads it (and raising what it raises)."""
    if _LONG_NUMBER not in data.translate(_DIGITS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


def dumps(document: Any, default: Callable[[Any], Any]) -> str:
    """`json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=default)`."""
    try:
        text = orjson.dumps(document, default=default, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return _standard_dumps(document, default)
    return _standard_dumps(document, default) if any(marker in text for marker in _MAY_DIFFER) else text.decode()


def _standard_dumps(document: Any, default: Callable[[Any], Any]) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=default)
