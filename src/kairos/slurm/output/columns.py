"""Columns of the query commands' tables, and the ``%``-format language that picks them.

squeue, sinfo and sprio share this language for ``-o``: ``%[.][width]letter`` with
literal text between fields (``%%`` is a literal ``%``).  ``.`` right-justifies, a
width alone left-justifies, no width prints the value as it is.  A value longer than
its width is cut to the width, as Slurm does; a command may name columns that are never
cut (squeue's TIME values and its NODELIST(REASON) header).  sinfo also takes ``#``
(``%#P``, ``%.#P``, ``%#9N``): as wide as the widest value or the header, at least the
width given.

squeue's ``-O`` names are parsed in ``kairos.slurm.output.squeue`` into the same
``FieldSpec`` tokens and rendered here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class FormatError(ValueError):
    """A format, field list or sort key that the command does not know (Slurm's
    words)."""


@dataclass(frozen=True)
class FieldSpec:
    """One field of a format: which (a letter or a name), how wide, which side.

    ``width`` ``None`` prints the value as it is; ``fit`` marks sinfo's ``#`` width
    (as wide as the widest value or the header).
    """

    key: str
    width: int | None = None
    right: bool = False
    suffix: str = ""
    fit: bool = False


#: A format is a list of literal texts and fields.
Token = str | FieldSpec


@dataclass(frozen=True)
class Column:
    """A printable field: its header and how to get its text from a row (``reads``:
    the job fields that text comes from, where a command asks for only those)."""

    header: str
    value: Callable[..., str]
    reads: tuple[str, ...] = ()
    #: ``value`` of every row at once, ``values(rows, *args)``, where that is faster
    values: Callable[..., list[str]] | None = None


def parse_percent_format(fmt: str, known: Iterable[str], *,
                         what: str = "job") -> list[Token]:
    """Literal text and ``%[.][width]letter`` fields; ``%%`` is a literal ``%``.

    Raises ``FormatError`` (Slurm's words) at the first letter ``known`` lacks.
    """
    letters = set(known)
    tokens: list[Token] = []
    text: list[str] = []
    i = 0
    while i < len(fmt):
        char = fmt[i]
        if char != "%":
            text.append(char)
            i += 1
            continue
        if fmt[i + 1:i + 2] == "%":
            text.append("%")
            i += 2
            continue
        spec, i = _read_field(fmt, i + 1)
        if spec.key not in letters:
            raise FormatError(f"Invalid {what} format specification: {spec.key}")
        if text:
            tokens.append("".join(text))
            text = []
        tokens.append(spec)
    if text:
        tokens.append("".join(text))
    return tokens


def _read_field(fmt: str, i: int) -> tuple[FieldSpec, int]:
    right = fmt[i:i + 1] == "."
    i += right
    fit = fmt[i:i + 1] == "#"
    i += fit
    start = i
    while i < len(fmt) and fmt[i].isdigit():
        i += 1
    width = int(fmt[start:i]) if i > start else None
    key = fmt[i:i + 1]
    return FieldSpec(key=key, width=width, right=right, fit=fit), i + 1


def render(tokens: Sequence[Token], columns: Mapping[str, Column], rows: Sequence[Any],
           *, header: bool, args: tuple = (), uncut_values: frozenset[str] = frozenset(),
           uncut_headers: frozenset[str] = frozenset(),
           order: Sequence[int] | None = None) -> str:
    """The lines of a %-format (or ``-O``) table, header first when asked; each
    column's value is ``column.value(row, *args)``; ``order``: the rows' places in the
    order they are printed (all rows, as they are, by default).

    Built a column at a time, then each line with one ``%`` of a format that pads and
    cuts every field (``%-8.8s``): squeue prints tens of thousands.  The rows are read
    in the order they come, and the lines put in ``order`` last: the rows' objects
    read in the order they were made are read several times faster than shuffled."""
    fields: list[list[str]] = []
    widths: list[int | None] = []
    layout: list[str] = []
    for t in tokens:
        if not isinstance(t, FieldSpec):
            widths.append(None)
            layout.append(t.replace("%", "%%"))
            continue
        column = columns[t.key]
        if column.values is not None:
            values = column.values(rows, *args)
        else:
            value = column.value
            values = [value(row, *args) for row in rows]
        widths.append(_width(t, columns, values))
        layout.append(_conversion(t, widths[-1], cut=t.key not in uncut_values))
        fields.append(values)
    lines = []
    if header:
        lines.append("".join(
            _fit(columns[t.key].header, t, widths[i], cut=t.key not in uncut_headers)
            if isinstance(t, FieldSpec) else t for i, t in enumerate(tokens)))
    if rows:
        line = "".join(layout)
        body = list(map(line.__mod__, zip(*fields))) if fields else [line % ()] * len(rows)
        lines += body if order is None else map(body.__getitem__, order)
    return "\n".join(lines) + "\n" if lines else ""


def _fit(value: str, spec: FieldSpec, width: int | None, *, cut: bool = True) -> str:
    if width is None:
        return value + spec.suffix
    if cut and len(value) > width:
        value = value[:width]
    padded = value.rjust(width) if spec.right else value.ljust(width)
    return padded + spec.suffix


def _conversion(spec: FieldSpec, width: int | None, *, cut: bool = True) -> str:
    """``_fit`` as a ``%`` conversion of a text: ``%-8.8s`` pads to 8 on the right and
    cuts at 8, ``%18s`` pads on the left and never cuts."""
    suffix = spec.suffix.replace("%", "%%")
    if not width:  # no width, or 0: nothing to pad
        return ("%.0s" if width == 0 and cut else "%s") + suffix
    side = "" if spec.right else "-"
    return f"%{side}{width}{f'.{width}' if cut else ''}s{suffix}"


def _width(token: FieldSpec, columns: Mapping[str, Column], values: Sequence[str]) -> int | None:
    """The token's width: as given, or for ``#`` the widest value or header."""
    if token.fit:
        longest = max(map(len, values), default=0)
        return max(longest, len(columns[token.key].header), token.width or 0)
    return token.width
