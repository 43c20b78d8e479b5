"""pydantic's validation errors for ``config.toml``, told in the file's own words.

Each error becomes ``<file>: [section] key = value: what is accepted``: the section and
key come from the error's location (``("partition", 0, "max_time")`` is the first
``[[partition]]`` table, named by its ``name`` once that is good), the value is the one
the file holds, and what is accepted is the validator's message or, for pydantic's own
checks (types, bounds), the field's ``description``.  Unknown keys and sections name
the accepted ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kairos.server.config_schema import (
    SECTION_NAMES, TABLES, VALUE_NOT_SHOWN, is_name, toml_text,
)


def explain(error: ValidationError, data: Mapping[str, Any], path: Path) -> str:
    """Every mistake in ``error`` (from validating ``data``, read from ``path``), one a line."""
    return "\n".join(f"{path}: {_describe(each, data)}"
                     for each in error.errors(include_url=False))


def _describe(error: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    """One pydantic error as ``[section] key = value: what is accepted``."""
    loc, kind = error["loc"], error["type"]
    if not loc:
        return _problem(error)
    if kind == "extra_forbidden" and len(loc) == 1:
        return f"unknown section [{loc[0]}]; accepted sections: {SECTION_NAMES}"
    # Where the keys start: [[partition]] and [qos.<name>] are one level further down.
    depth = 2 if loc[0] in ("partition", "qos", "nodes") else 1
    if len(loc) < depth and kind == "value_error":  # a rule about all the partitions
        return _problem(error)
    if len(loc) <= depth and kind != "value_error":
        return _not_a_table(loc, error["input"])
    label = _table_label(loc[:depth], data, by_position=kind == "extra_forbidden")
    if len(loc) == depth:  # a rule across a table's keys
        return f"{label} {_problem(error)}"
    model, key = TABLES[loc[0]], loc[depth]
    dotted = ".".join(part for part in loc[depth:] if isinstance(part, str))
    if kind == "extra_forbidden":
        return (f"unknown key {key!r} in {label}; accepted keys: "
                f"{', '.join(sorted(model.model_fields))}")
    if kind == "missing":
        return f'{label} has no {key}; add {key} = "..."'
    if kind == VALUE_NOT_SHOWN:
        return f"{label} {dotted}: {error['msg']}"
    description = model.model_fields[key].description
    return f"{label} {dotted} = {toml_text(error['input'])}: {_problem(error, description)}"


def _problem(error: Mapping[str, Any], description: str | None = None) -> str:
    """What a validator said, else what the field accepts, else pydantic's words."""
    if error["type"] == "value_error":
        return str(error["ctx"]["error"])
    if description:
        return f"expected {description}"
    return error["msg"]


def _table_label(loc: tuple, data: Mapping[str, Any], *, by_position: bool) -> str:
    """``[node]``, ``[qos.high]``, ``[[partition]] 'short'`` or ``[[partition]] #2``: a
    partition by position while its name is missing or bad, and for unknown keys (a
    mistake in the table's shape, told before what its values say)."""
    section = loc[0]
    if section == "qos":
        return f"[qos.{loc[1]}]"
    if section not in ("partition", "nodes"):
        return f"[{section}]"
    index = loc[1]
    name = data[section][index].get("name")
    if by_position or not is_name(name):
        return f"[[{section}]] #{index + 1}"
    return f"[[{section}]] {name!r}"


def _not_a_table(loc: tuple, value: Any) -> str:
    if loc[0] == "nodes":
        return ("nodes are written [[nodes]] (double brackets), one table per node, each "
                "with a name, addr, cpus and mem_mib")
    if loc[0] == "partition":
        return ("partitions are written [[partition]] (double brackets), one table per "
                "partition, each with at least a name")
    if len(loc) == 2:
        return f"[qos.{loc[1]}] must be a table, e.g. [qos.{loc[1]}] followed by priority = 0.5"
    return (f"[{loc[0]}] must be a table (a [section] header with key = value lines), "
            f"not {toml_text(value)}")
