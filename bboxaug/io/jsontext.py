"""JSON written exactly as the standard library writes it, with orjson wherever it gives the same result.

Large COCO files spend most of their writing time in `json`; orjson does the same work several times faster, but
differs from `json` in a few places, so it is used only where the result is the same and `json` does the rest
(COCO is read a batch at a time by `io.jsonstream`):
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

_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


#: Text orjson writes where `json` may write something else (see the module docstring).
_MAY_DIFFER = (b"null", b"e-", b"0.0000")


def dumps(document: Any, default: Callable[[Any], Any]) -> str:
    """`json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=default)`."""
    try:
        text = orjson.dumps(document, default=default, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return _standard_dumps(document, default)
    return _standard_dumps(document, default) if any(marker in text for marker in _MAY_DIFFER) else text.decode()


def _standard_dumps(document: Any, default: Callable[[Any], Any]) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=default)
