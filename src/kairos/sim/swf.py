"""Reading and writing the Standard Workload Format (SWF) of the Parallel Workloads Archive.

An SWF file is plain text, optionally gzip-compressed.  Lines whose first non-blank
character is ``;`` are header (comment) lines, most of the form ``; Key: value``
(``MaxProcs``, ``MaxNodes``, ...).  Every other non-blank line is one job: 18
whitespace-separated numbers (see ``FIELDS``), ``-1`` meaning "unknown".

``read_swf`` parses a whole trace into one ``(n, 18)`` float64 array (the numbers of the
archive's logs are integers well below 2**53, so they are exact), sorted stably by submit
time, plus the line number of each job for error messages.  ``SwfTrace.record(i)`` gives
one job back as a tuple of 18 numbers (ints where integral).

Problems in the file raise ``SwfError`` naming the file, the line and the field.  Submit
times that go backwards are not an error: they are counted, reported once through
``warnings`` (category ``SwfWarning``) and the jobs are sorted.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import tempfile
import warnings
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "FIELDS", "N_FIELDS", "SwfError", "SwfRecords", "SwfTrace", "SwfWarning", "field_label",
    "format_record", "header_int", "is_gzip", "read_swf", "with_wait", "write_swf",
]

#: The 18 fields of a job line, in order (field ``k`` is ``FIELDS[k - 1]``).
FIELDS: tuple[str, ...] = (
    "job number",
    "submit time",
    "wait time",
    "run time",
    "allocated processors",
    "average CPU time used",
    "used memory",
    "requested processors",
    "requested time",
    "requested memory",
    "status",
    "user id",
    "group id",
    "executable number",
    "queue number",
    "partition number",
    "preceding job number",
    "think time",
)
N_FIELDS = len(FIELDS)

_GZIP_MAGIC = b"\x1f\x8b"
_ENCODING = "utf-8"
_ERRORS = "surrogateescape"  # keeps odd bytes in header lines intact on a round trip
_HEADER_RE = re.compile(r"^;\s{0,3}([A-Za-z][A-Za-z0-9_]*)\s*:(?!//)\s*(.*?)\s*$")
_LEADING_INT_RE = re.compile(r"^\s*([+-]?\d+)")


class SwfError(ValueError):
    """A file that is not valid SWF; the message says where and what."""


class SwfWarning(UserWarning):
    """Something odd but recoverable in an SWF file (e.g. unsorted submit times)."""


def field_label(index: int) -> str:
    """``"field 4 (run time)"`` for the 0-based column ``index``."""
    return f"field {index + 1} ({FIELDS[index]})"


@dataclass(eq=False)
class SwfTrace:
    """A parsed SWF file.

    ``data`` holds one row per job (18 columns, float64), sorted stably by submit time;
    ``lines[i]`` is the 1-based line of row ``i`` in the file.
    """

    path: Path
    header: dict[str, str]
    header_lines: list[str]
    data: np.ndarray
    lines: np.ndarray
    unsorted: int = 0  #: how many submit times went backwards in the file
    truncated: bool = False  #: True when ``limit`` stopped the reading early

    def __len__(self) -> int:
        return len(self.data)

    def record(self, i: int) -> tuple:
        """Row ``i`` as a tuple of 18 numbers (ints where integral)."""
        return _row_tuple(self.data[i].tolist())

    def records(self) -> Iterator[tuple]:
        """All rows as tuples, in order."""
        for row in self.data.tolist():
            yield _row_tuple(row)

    def by_job(self) -> "SwfRecords":
        """A read-only mapping from job number to the job's record."""
        return SwfRecords(self.data)

    def header_int(self, *keys: str) -> int | None:
        """The first of ``keys`` whose header value starts with a positive integer."""
        return header_int(self.header, *keys)


class SwfRecords(Mapping):
    """Read-only mapping job number -> record tuple, backed by an ``(n, 18)`` array.

    The index is built on first use, so holding one costs nothing.
    """

    __slots__ = ("_data", "_index")

    def __init__(self, data: np.ndarray) -> None:
        self._data = data
        self._index: dict[int, int] | None = None

    def _idx(self) -> dict[int, int]:
        if self._index is None:
            ids = self._data[:, 0].astype(np.int64).tolist()
            self._index = dict(zip(ids, range(len(ids))))
        return self._index

    def __getitem__(self, job_id: int) -> tuple:
        return _row_tuple(self._data[self._idx()[job_id]].tolist())

    def __iter__(self) -> Iterator[int]:
        return iter(self._idx())

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._idx()

    def __repr__(self) -> str:
        return f"SwfRecords({len(self)} jobs)"


def _row_tuple(row: list[float]) -> tuple:
    return tuple(int(v) if v.is_integer() else v for v in row)


def header_int(header: Mapping[str, str], *keys: str) -> int | None:
    """The leading integer of the first of ``keys`` in ``header`` that has a positive one.

    ``"338 (batch partition; 512 total)"`` gives 338.
    """
    for key in keys:
        value = header.get(key)
        if value is None:
            continue
        m = _LEADING_INT_RE.match(value)
        if m and int(m.group(1)) > 0:
            return int(m.group(1))
    return None


def is_gzip(path: str | os.PathLike) -> bool:
    """True when the file starts with the gzip magic bytes (whatever its name)."""
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def _open_text(path: Path) -> io.TextIOBase:
    if is_gzip(path):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=_ENCODING, errors=_ERRORS)
    return open(path, encoding=_ENCODING, errors=_ERRORS)


def _read_lines(path: Path, limit: int | None) -> tuple[list[str], list[str], list[int], bool]:
    """Split a file into header lines, job lines and the job lines' line numbers."""
    header_lines: list[str] = []
    body: list[str] = []
    numbers: list[int] = []
    truncated = False
    try:
        if limit is None:
            with _open_text(path) as f:
                lines = f.read().splitlines()
            it: Iterable[str] = lines
        else:
            f = _open_text(path)
            it = (line.rstrip("\r\n") for line in f)
        try:
            for no, line in enumerate(it, 1):
                c = line[:1]
                if c == ";":
                    header_lines.append(line)
                    continue
                if c in (" ", "\t", ""):
                    s = line.lstrip()
                    if not s:
                        continue
                    if s[0] == ";":
                        header_lines.append(line)
                        continue
                if limit is not None and len(body) >= limit:
                    truncated = True
                    break
                body.append(line)
                numbers.append(no)
        finally:
            if limit is not None:
                f.close()
    except (OSError, EOFError, UnicodeError, zlib.error) as e:  # BadGzipFile is an OSError
        raise SwfError(f"{path}: cannot read the file: {e}") from e
    return header_lines, body, numbers, truncated


def _parse_header(lines: list[str]) -> dict[str, str]:
    header: dict[str, str] = {}
    for line in lines:
        m = _HEADER_RE.match(line)
        if m is None:
            continue
        key, value = m.group(1), m.group(2)
        header[key] = f"{header[key]}\n{value}" if key in header else value
    return header


def _find_error(path: Path, body: list[str], numbers: list[int]) -> SwfError | None:
    """The first malformed job line, as an ``SwfError`` (slow path, only on failure)."""
    for line, no in zip(body, numbers):
        parts = line.split()
        if len(parts) != N_FIELDS:
            got = len(parts)
            return SwfError(
                f"{path}, line {no}: expected {N_FIELDS} whitespace-separated fields, "
                f"found {got}{_field_hint(got)}. Each job line holds the 18 SWF fields "
                f"(write -1 for an unknown value); header lines must start with ';'."
            )
        for k, token in enumerate(parts):
            try:
                value = float(token)
            except ValueError:
                return SwfError(
                    f"{path}, line {no}, {field_label(k)}: {token!r} is not a number. "
                    f"SWF fields are numbers; write -1 for an unknown value."
                )
            if not np.isfinite(value):
                return SwfError(
                    f"{path}, line {no}, {field_label(k)}: {token!r} is not a finite number; "
                    f"write -1 for an unknown value."
                )
    return None


def _field_hint(got: int) -> str:
    if got < N_FIELDS:
        return f" (the last one present is {field_label(got - 1)})" if got else ""
    return ""


def _parse_body(path: Path, body: list[str], numbers: list[int]) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = np.loadtxt(body, dtype=np.float64, comments=None, ndmin=2)
    except ValueError as e:
        err = _find_error(path, body, numbers)
        if err is not None:
            raise err from None
        raise SwfError(f"{path}: cannot parse the job lines: {e}") from e
    if data.shape[1] != N_FIELDS or not np.isfinite(data).all():
        err = _find_error(path, body, numbers)
        if err is not None:
            raise err
        raise SwfError(f"{path}: expected {N_FIELDS} numeric fields per job line")
    return data


def read_swf(path: str | os.PathLike, *, limit: int | None = None) -> SwfTrace:
    """Read an SWF file (plain or gzip, detected by its magic bytes).

    ``limit`` stops after that many job lines (the rest of the file is not read).
    Raises ``SwfError`` for a missing, empty or malformed file and for duplicate job
    numbers; warns (``SwfWarning``) once when submit times go backwards, and then sorts
    the jobs stably by submit time.
    """
    path = Path(path)
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, not {limit}")
    if not path.exists():
        raise SwfError(f"{path}: no such file")
    if path.is_dir():
        raise SwfError(f"{path}: is a folder, not an SWF file")
    header_lines, body, numbers, truncated = _read_lines(path, limit)
    header = _parse_header(header_lines)
    if not body:
        if limit == 0:
            data = np.empty((0, N_FIELDS))
            return SwfTrace(path, header, header_lines, data, np.empty(0, np.int64), 0, truncated)
        raise SwfError(
            f"{path}: no job lines found"
            + (" (the file is empty)" if not header_lines
               else f" (only {len(header_lines)} header line{'s' * (len(header_lines) != 1)})")
            + "; is this an SWF file?"
        )
    data = _parse_body(path, body, numbers)
    lines = np.asarray(numbers, dtype=np.int64)

    ids = data[:, 0]
    if len(np.unique(ids)) != len(ids):
        first: dict[float, int] = {}
        for job_id, no in zip(ids.tolist(), numbers):
            if job_id in first:
                raise SwfError(
                    f"{path}, line {no}, {field_label(0)}: job number {_fmt(job_id)} was "
                    f"already used on line {first[job_id]}; job numbers must be unique."
                )
            first[job_id] = no

    submit = data[:, 1]
    backwards = int(np.count_nonzero(submit[1:] < submit[:-1]))
    if backwards:
        warnings.warn(
            f"{path}: submit time goes backwards {backwards} time(s); "
            f"jobs sorted by submit time",
            SwfWarning,
            stacklevel=2,
        )
        order = np.argsort(submit, kind="stable")
        data = data[order]
        lines = lines[order]
    return SwfTrace(path, header, header_lines, data, lines, backwards, truncated)


def _fmt(v: float | int) -> str:
    if isinstance(v, float):
        if v.is_integer():
            return str(int(v))
        return repr(v)
    return str(int(v))


def format_record(record: Sequence[float | int]) -> str:
    """One job line: the 18 numbers, integral values without a decimal point."""
    if len(record) != N_FIELDS:
        raise ValueError(f"an SWF record has {N_FIELDS} fields, not {len(record)}")
    return " ".join(_fmt(v) for v in record)


def with_wait(record: Sequence[float | int], wait: float) -> tuple:
    """``record`` with field 3 (wait time) replaced by ``wait`` (an int when integral)."""
    w = float(wait)
    value: float | int = int(w) if w.is_integer() else w
    return (*record[:2], value, *record[3:])


def write_swf(
    path: str | os.PathLike,
    header_lines: Iterable[str],
    records: Iterable[Sequence[float | int]],
) -> Path:
    """Write an SWF file: the header lines, then one line per record.

    The file is gzip-compressed when its name ends in ``.gz``.  Header lines that do not
    start with ``;`` get one.  The file appears whole or not at all (written to a
    temporary file beside it, then renamed).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            gz = path.name.endswith(".gz")
            stream = gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) if gz else raw
            f = io.TextIOWrapper(stream, encoding=_ENCODING, errors=_ERRORS, newline="\n")
            try:
                for line in header_lines:
                    line = line.rstrip("\r\n")
                    f.write(line if line.lstrip().startswith(";") else f"; {line}")
                    f.write("\n")
                for rec in records:
                    f.write(format_record(rec))
                    f.write("\n")
            finally:
                f.close()  # also ends the gzip stream (which leaves ``raw`` open)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
