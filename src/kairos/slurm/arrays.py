"""Job array specs (``--array``): ``0-15``, ``0,6,16-32``, ``0-15:4``, ``1-5,7%2``.

One submission becomes one job per index; ``%N`` caps how many run at once.  Checked
against Slurm 22.05: indices are sorted and duplicates merged (``3,1,1`` is ``1,3``),
a surrounding bracket is allowed (``[1-3]``), ``%0`` means no cap, and an index must
stay below ``MaxArraySize`` (1001 by default, so 1000 is the largest).  Slurm prints an
array back as runs of consecutive indices (``1,3,5%1``), and so does ``format_array``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_MAX_ARRAY_SIZE = 1001
ARRAY_FORMS = "INDEX, FIRST-LAST, FIRST-LAST:STEP or a comma list of them, " \
              "optionally followed by %MAX_RUNNING, e.g. 0-15:4%2"

_PART = re.compile(r"(\d+)(?:-(\d+)(?::(\d+))?)?")


@dataclass(frozen=True)
class ArraySpec:
    """The task indices of an array job (sorted, unique) and the cap on how many of
    them may run at once (``None``: no cap)."""

    indices: list[int]
    limit: int | None


def parse_array(spec: str, max_size: int = DEFAULT_MAX_ARRAY_SIZE) -> ArraySpec:
    """The indices and running-task cap of an ``--array`` spec.

    Raises ``ValueError`` saying which part is wrong for an empty spec, a negative,
    descending or malformed range, a zero step, or an index of ``max_size`` or more.
    """
    text = spec.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    body, percent, limit_text = text.partition("%")
    if not body:
        raise ValueError(f"empty array spec {spec!r}: use {ARRAY_FORMS}")
    limit = _parse_limit(spec, limit_text) if percent else None
    indices: set[int] = set()
    for part in body.split(","):
        indices.update(_parse_part(spec, part, max_size))
    return ArraySpec(sorted(indices), limit)


def _parse_limit(spec: str, limit_text: str) -> int | None:
    if not limit_text.isdigit():
        raise ValueError(f"invalid array spec {spec!r}: after '%' comes the number of "
                         f"tasks that may run at once, not {limit_text!r}")
    return int(limit_text) or None


def _parse_part(spec: str, part: str, max_size: int) -> range:
    if part.startswith("-"):
        raise ValueError(f"invalid array spec {spec!r}: array indices cannot be "
                         f"negative ({part!r})")
    match = _PART.fullmatch(part)
    if match is None:
        raise ValueError(f"invalid array spec {spec!r}: cannot read {part!r}; "
                         f"use {ARRAY_FORMS}")
    first = int(match[1])
    last = int(match[2]) if match[2] is not None else first
    step = int(match[3]) if match[3] is not None else 1
    if last < first:
        raise ValueError(f"invalid array spec {spec!r}: range {part!r} goes down; "
                         f"write {last}-{first}")
    if step == 0:
        raise ValueError(f"invalid array spec {spec!r}: the step in {part!r} must be "
                         "at least 1")
    indices = range(first, last + 1, step)
    if indices[-1] >= max_size:
        raise ValueError(f"invalid array spec {spec!r}: index {indices[-1]} is too "
                         f"large; indices must be below {max_size} (MaxArraySize)")
    return indices


def format_array(indices: list[int], limit: int | None = None) -> str:
    """Slurm's compact form of a set of indices: ``[0, 1, 2, 5]`` and limit 2 give
    ``0-2,5%2``."""
    ordered = sorted(set(indices))
    runs: list[str] = []
    start = 0
    for i in range(1, len(ordered) + 1):
        if i == len(ordered) or ordered[i] != ordered[i - 1] + 1:
            first, last = ordered[start], ordered[i - 1]
            runs.append(str(first) if first == last else f"{first}-{last}")
            start = i
    text = ",".join(runs)
    return f"{text}%{limit}" if limit else text
