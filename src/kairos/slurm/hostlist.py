"""Slurm hostlists: ``dev[0-25]``, ``n[01-04,06]``, ``a1,b[2-3]`` to names and back.

Node lists appear in ``SLURM_JOB_NODELIST``, squeue and sacct.  Zero padding is part of
a name, so ``n[01-03]`` is ``n01 n02 n03`` and ``n[8-10]`` is ``n8 n9 n10``: a range
pads to the width of its first number, as in Slurm.  As in Slurm 22.05, a bracket may
only end a name (``a[1-3]x`` is refused) and empty items between commas are skipped.
"""

from __future__ import annotations

import re
from itertools import groupby

_RANGE = re.compile(r"(\d+)(?:-(\d+))?")
_TRAILING_NUMBER = re.compile(r"(.*?)(\d+)")


def expand(hostlist: str) -> list[str]:
    """The host names a hostlist stands for, in order.

    Raises ``ValueError`` naming the faulty part for an unclosed bracket, a descending
    or non-numeric range, or text after a bracket.
    """
    names: list[str] = []
    for item in _split_items(hostlist):
        names.extend(_expand_item(item, hostlist))
    return names


def _split_items(hostlist: str) -> list[str]:
    """Items separated by commas outside brackets; empty items dropped."""
    items, current, depth = [], [], 0
    for char in hostlist.strip():
        if char == "," and depth == 0:
            items.append("".join(current))
            current = []
            continue
        depth += {"[": 1, "]": -1}.get(char, 0)
        current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def _expand_item(item: str, hostlist: str) -> list[str]:
    if "[" not in item and "]" not in item:
        return [item]
    prefix, _, rest = item.partition("[")
    ranges, closed, suffix = rest.partition("]")
    if not closed or "[" in ranges or "]" in suffix or "[" in suffix:
        raise ValueError(f"invalid hostlist {hostlist!r}: {item!r} needs one bracket "
                         "pair, as in dev[0-3,8]")
    if suffix:
        raise ValueError(f"invalid hostlist {hostlist!r}: nothing may follow the "
                         f"bracket in {item!r}")
    return [prefix + number for part in ranges.split(",")
            for number in _expand_range(part.strip(), hostlist)]


def _expand_range(part: str, hostlist: str) -> list[str]:
    match = _RANGE.fullmatch(part)
    if match is None:
        raise ValueError(f"invalid hostlist {hostlist!r}: range {part!r} must be a "
                         "number or FIRST-LAST, as in 0-7")
    first_text, last_text = match[1], match[2] or match[1]
    first, last = int(first_text), int(last_text)
    if last < first:
        raise ValueError(f"invalid hostlist {hostlist!r}: range {part!r} goes down; "
                         f"write {last_text}-{first_text}")
    width = len(first_text)
    return [f"{number:0{width}d}" for number in range(first, last + 1)]


def compress(names: list[str], *, sort: bool = True) -> str:
    """The shortest hostlist for ``names``: ``["n01", "n02", "n04"]`` gives ``n[01-02,04]``.

    With ``sort`` (default) the names are sorted (numbers by value) and duplicates
    dropped.  With ``sort=False`` the order is kept, as ``scontrol show hostlist``
    does: only neighbours with the same prefix share a bracket.
    """
    if sort:
        names = sorted(set(names), key=natural_key)
    pieces = []
    for prefix, group in groupby(names, key=lambda name: _split_number(name)[0]):
        numbers = [digits for _, digits in map(_split_number, group)]
        pieces.append(_compress_group(prefix, numbers))
    return ",".join(pieces)


def _split_number(name: str) -> tuple[str, str]:
    """(prefix, trailing digits) of a name; a name without digits is all prefix, and
    its digits are ``""``."""
    match = _TRAILING_NUMBER.fullmatch(name)
    return (match[1], match[2]) if match else (name, "")


def natural_key(name: str) -> tuple[str, int, str]:
    prefix, digits = _split_number(name)
    return prefix, int(digits) if digits else -1, digits


def _compress_group(prefix: str, numbers: list[str]) -> str:
    if any(digits == "" for digits in numbers):
        return ",".join(prefix + digits for digits in numbers)
    if len(numbers) == 1:
        return prefix + numbers[0]
    return f"{prefix}[{','.join(_ranges(numbers))}]"


def _ranges(numbers: list[str]) -> list[str]:
    """Runs of consecutive numbers that print with one zero-padding width.

    ``"7"`` fits any width up to 1, ``"10"`` any up to 2, but ``"08"`` only width 2;
    a run keeps the widths all its members fit, so ``8,9,10`` is ``8-10`` while
    ``08,09,10`` is ``08-10``.
    """
    runs: list[str] = []
    first = last = numbers[0]
    low, high = _widths(first)
    for digits in numbers[1:]:
        d_low, d_high = _widths(digits)
        if int(digits) == int(last) + 1 and max(low, d_low) <= min(high, d_high):
            low, high, last = max(low, d_low), min(high, d_high), digits
            continue
        runs.append(_run_text(first, last, high))
        first = last = digits
        low, high = d_low, d_high
    runs.append(_run_text(first, last, high))
    return runs


def _widths(digits: str) -> tuple[int, int]:
    """The zero-padding widths that print this number exactly as written."""
    padded = len(digits) > 1 and digits.startswith("0")
    return (len(digits), len(digits)) if padded else (1, len(digits))


def _run_text(first: str, last: str, width: int) -> str:
    if first == last:
        return first
    return f"{int(first):0{width}d}-{int(last):0{width}d}"
