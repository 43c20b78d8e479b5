"""JSON as the live manager writes its records: the database's JSON columns, the node
protocol's commands and bundles.

orjson, several times faster than the standard library where thousands of records a
second are written; the standard library for what orjson refuses (integers beyond 64
bits), so that nothing a job carries is refused.  JSON has no NaN or infinity: orjson
writes them as ``null`` (submissions holding them are refused at the API's edge).
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    """``value`` (plain data) as compact JSON bytes; integer keys become strings, as with
    the standard library."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(value).encode()
