"""The controller's plain JSON answers: orjson's text decodes to the same values as the
standard library's for everything the views build, and is the same compact text but for
floats the standard library writes with an exponent (orjson: ``1e-8``, ``0.00001``);
large answers are built without the cyclic collector, which comes back afterwards
whatever happens."""

from __future__ import annotations

import gc
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kairos.server.api.json import collector_paused, json_response

#: What the views put in an answer: None, booleans, integers, finite floats, text,
#: lists, tuples (job table rows) and dicts keyed by text or integers.
scalars = (st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text())
payloads = st.recursive(scalars, lambda inner: (
    st.lists(inner, max_size=5) | st.lists(inner, max_size=5).map(tuple)
    | st.dictionaries(st.text() | st.integers(-1000, 1000), inner, max_size=5)),
    max_leaves=30)


@given(payloads)
def test_same_text_as_the_standard_library(payload):
    body = json_response(payload).body
    assert json.loads(body) == json.loads(json.dumps(payload))
    if not _has_int_keys(payload) and not _has_exponent(payload):
        # the standard library orders keys as given, as orjson does
        assert body == json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def test_a_small_float_is_the_same_value():
    body = json_response([5.960464477539063e-08, 1e-05, 1e16]).body
    assert json.loads(body) == [5.960464477539063e-08, 1e-05, 1e16]


def _has_exponent(value) -> bool:
    """Whether a float in ``value`` is written with an exponent by the standard library:
    orjson writes those its own way (``5.960464477539063e-8``, ``0.00001``)."""
    if isinstance(value, float):
        return "e" in repr(value)
    if isinstance(value, dict):
        return any(map(_has_exponent, value.values()))
    if isinstance(value, (list, tuple)):
        return any(map(_has_exponent, value))
    return False


def _has_int_keys(value) -> bool:
    if isinstance(value, dict):
        return any(not isinstance(k, str) or _has_int_keys(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(map(_has_int_keys, value))
    return False


def test_a_job_table_answer():
    rows = [(1, "alice", "PENDING", None, 1796055825.5454059, 2), (2, "bob", "RUNNING",
                                                                   "n[1-2]", 0.5, None)]
    response = json_response({"fields": ["job_id", "user", "state", "node_list",
                                         "start_time", "array_task_id"], "rows": rows})
    assert response.media_type == "application/json"
    assert json.loads(response.body)["rows"] == [list(row) for row in rows]


def test_the_collector_is_paused_and_comes_back():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("a refused field")
    assert gc.isenabled()


def test_a_paused_collector_stays_paused():
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the caller's choice is kept
    finally:
        gc.enable()
