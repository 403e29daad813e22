"""bboxaug.io.jsontext writes the standard library's text, whichever library does the work."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bboxaug.io import jsontext

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=16,
)


def standard_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=to_list)


def to_list(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def outcome(function: Any, value: Any) -> tuple[str, Any]:
    """The function's result, or the kind of error it raised."""
    try:
        return "value", function(value)
    except (TypeError, ValueError) as error:
        return "error", type(error).__name__


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_dumps_writes_what_json_writes(value: Any) -> None:
    assert outcome(lambda v: jsontext.dumps(v, to_list), value) == outcome(standard_dumps, value)


@pytest.mark.parametrize("value", [1e-05, 1.5e-07, 0.00009265066237858661, -2.5e-300, 5e-324])
def test_small_floats_keep_pythons_notation(value: float) -> None:
    assert jsontext.dumps([value], to_list) == f"[{value!r}]"


def test_what_json_refuses_is_refused() -> None:
    with pytest.raises(ValueError):
        jsontext.dumps({"area": math.nan}, to_list)
    with pytest.raises(TypeError):
        jsontext.dumps({"shape": {1, 2}}, to_list)


def test_integers_beyond_64_bits_and_arrays() -> None:
    expected = '{"big":1180591620717411303424,"3":[1.5,2.0]}'
    assert jsontext.dumps({"big": 2**70, 3: np.array([1.5, 2])}, to_list) == expected
