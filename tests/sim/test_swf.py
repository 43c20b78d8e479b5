"""The SWF reader and writer: hand-made files, plus the real traces when available."""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import real_trace
from kairos.sim.swf import (
    FIELDS,
    SwfError,
    SwfWarning,
    format_record,
    read_swf,
    with_wait,
    write_swf,
)

HEADER = """\
; Version: 2.2
; Computer: Test machine
; Information: http://www.example.org/
;              http://www.example.org/more
; MaxNodes: 16 (plus 2 login nodes)
; MaxProcs: 64
; Note: first note
; Note: second note
;
"""


def job(n, submit=0, wait=0, run=10, alloc=1, req=-1, req_time=-1, user=1, **kw):
    """A job line: the named fields, -1 elsewhere."""
    f = [-1] * 18
    f[0], f[1], f[2], f[3], f[4], f[7], f[8], f[11] = n, submit, wait, run, alloc, req, req_time, user
    for k, v in kw.items():
        f[int(k[1:]) - 1] = v  # f12=..., f16=... by field number
    return " ".join(str(v) for v in f)


def swf(tmp_path: Path, body: str, header: str = HEADER, name: str = "t.swf") -> Path:
    p = tmp_path / name
    p.write_text(header + body)
    return p


# --- reading -----------------------------------------------------------------------------


def test_reads_header_and_jobs(tmp_path):
    p = swf(tmp_path, job(1, 0) + "\n" + job(2, 5, run=20, alloc=4) + "\n")
    t = read_swf(p)
    assert len(t) == 2
    assert t.header["MaxProcs"] == "64"
    assert t.header["MaxNodes"] == "16 (plus 2 login nodes)"
    assert t.header["Note"] == "first note\nsecond note"
    assert t.header["Information"] == "http://www.example.org/"  # continuation not a key
    assert "http" not in t.header
    assert t.header_int("MaxProcs") == 64
    assert t.header_int("Missing", "MaxNodes") == 16
    assert t.header_lines == HEADER.splitlines()
    assert t.record(1) == (2, 5, 0, 20, 4, -1, -1, -1, -1, -1, -1, 1, -1, -1, -1, -1, -1, -1)
    assert all(isinstance(v, int) for v in t.record(0))
    assert t.lines.tolist() == [10, 11]
    assert t.unsorted == 0


def test_float_fields_accepted(tmp_path):
    line = job(1, 0).split()
    line[5] = "0.03"  # average CPU time
    line[3] = "12.0"
    p = swf(tmp_path, " ".join(line) + "\n")
    rec = read_swf(p).record(0)
    assert rec[5] == 0.03
    assert rec[3] == 12 and isinstance(rec[3], int)


def test_blank_lines_and_indented_comments(tmp_path):
    body = "\n" + job(1, 0) + "\n   \n  ; a late comment\n\t" + job(2, 3) + "\n"
    t = read_swf(swf(tmp_path, body))
    assert len(t) == 2
    assert t.header_lines[-1] == "  ; a late comment"
    assert t.lines.tolist() == [11, 14]


def test_gzip_detected_by_magic_bytes(tmp_path):
    text = HEADER + job(1, 0) + "\n" + job(2, 7) + "\n"
    for name in ("a.swf.gz", "b.swf"):  # a gzip file without .gz is still read
        p = tmp_path / name
        p.write_bytes(gzip.compress(text.encode()))
        t = read_swf(p)
        assert len(t) == 2 and t.header["MaxProcs"] == "64"
    plain = tmp_path / "c.swf.gz"  # and a plain file named .gz too
    plain.write_text(text)
    assert len(read_swf(plain)) == 2


def test_limit_stops_early(tmp_path):
    body = "".join(job(i, i) + "\n" for i in range(1, 11)) + "this line is garbage\n"
    p = swf(tmp_path, body)
    t = read_swf(p, limit=4)
    assert [r[0] for r in t.records()] == [1, 2, 3, 4]
    assert t.truncated
    with pytest.raises(SwfError):
        read_swf(p)  # the garbage is only reached without a limit
    gz = tmp_path / "t.swf.gz"
    gz.write_bytes(gzip.compress((HEADER + body).encode()))
    assert len(read_swf(gz, limit=10)) == 10
    assert len(read_swf(gz, limit=0)) == 0


def test_unsorted_submit_times_warn_once_and_sort(tmp_path):
    body = "\n".join([job(1, 10), job(2, 5), job(3, 20), job(4, 5), job(5, 1)]) + "\n"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = read_swf(swf(tmp_path, body))
    ours = [w for w in caught if issubclass(w.category, SwfWarning)]
    assert len(ours) == 1
    assert "3 time(s)" in str(ours[0].message)
    assert t.unsorted == 3
    assert [r[0] for r in t.records()] == [5, 2, 4, 1, 3]  # stable among equal submits
    assert t.lines.tolist() == [14, 11, 13, 10, 12]


def test_swf_warning_is_a_user_warning():
    assert issubclass(SwfWarning, UserWarning)
    assert issubclass(SwfError, ValueError)


# --- errors -------------------------------------------------------------------------------


def test_wrong_number_of_fields(tmp_path):
    short = " ".join(job(2, 1).split()[:17])
    p = swf(tmp_path, job(1, 0) + "\n" + short + "\n")
    with pytest.raises(SwfError) as e:
        read_swf(p)
    msg = str(e.value)
    assert str(p) in msg and "line 11" in msg and "found 17" in msg and "-1" in msg


def test_non_numeric_field(tmp_path):
    bad = job(2, 1).split()
    bad[3] = "12m"
    p = swf(tmp_path, job(1, 0) + "\n" + " ".join(bad) + "\n")
    with pytest.raises(SwfError) as e:
        read_swf(p)
    msg = str(e.value)
    assert str(p) in msg and "line 11" in msg and "field 4 (run time)" in msg and "'12m'" in msg


@pytest.mark.parametrize("token", ["nan", "inf"])
def test_non_finite_field(tmp_path, token):
    bad = job(1, 0).split()
    bad[8] = token
    p = swf(tmp_path, " ".join(bad) + "\n")
    with pytest.raises(SwfError, match=r"line 10, field 9 \(requested time\)"):
        read_swf(p)


def test_empty_file_and_header_only(tmp_path):
    empty = tmp_path / "empty.swf"
    empty.write_text("")
    with pytest.raises(SwfError, match="no job lines.*empty"):
        read_swf(empty)
    with pytest.raises(SwfError, match="no job lines"):
        read_swf(swf(tmp_path, ""))


def test_missing_file(tmp_path):
    with pytest.raises(SwfError, match="no such file"):
        read_swf(tmp_path / "nope.swf")


def test_corrupt_gzip(tmp_path):
    p = tmp_path / "bad.swf.gz"
    p.write_bytes(gzip.compress((HEADER + job(1, 0) + "\n").encode())[:-12])
    with pytest.raises(SwfError, match="bad.swf.gz"):
        read_swf(p)


def test_duplicate_job_numbers(tmp_path):
    p = swf(tmp_path, "\n".join([job(1, 0), job(2, 1), job(1, 2)]) + "\n")
    with pytest.raises(SwfError) as e:
        read_swf(p)
    msg = str(e.value)
    assert "line 12" in msg and "line 10" in msg and "field 1 (job number)" in msg


# --- writing ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["out.swf", "out.swf.gz"])
def test_write_read_round_trip(tmp_path, name):
    body = "\n".join([job(1, 0, run=5), job(2, 3, run=7, alloc=8, req=8, req_time=60)]) + "\n"
    src = read_swf(swf(tmp_path, body))
    records = [with_wait(r, w) for r, w in zip(src.records(), [4, 2.5])]
    out = write_swf(tmp_path / name, src.header_lines, records)
    assert (out.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    back = read_swf(out)
    assert back.header == src.header
    assert back.header_lines == src.header_lines
    assert list(back.records()) == records
    assert back.record(0)[2] == 4 and back.record(1)[2] == 2.5
    assert not list(tmp_path.glob(".*.part"))


def test_write_adds_semicolons_and_formats_numbers(tmp_path):
    out = write_swf(tmp_path / "x.swf", ["Version: 2", "; MaxProcs: 4"], [tuple([1.0, 2] + [-1] * 16)])
    lines = out.read_text().splitlines()
    assert lines[:2] == ["; Version: 2", "; MaxProcs: 4"]
    assert lines[2].split()[:3] == ["1", "2", "-1"]


def test_with_wait_replaces_field_3_only():
    rec = tuple(range(1, 19))
    new = with_wait(rec, 99.0)
    assert new[2] == 99 and isinstance(new[2], int)
    assert new[:2] == rec[:2] and new[3:] == rec[3:]
    with pytest.raises(ValueError):
        format_record(rec[:17])
    assert len(FIELDS) == 18


# --- real traces --------------------------------------------------------------------------


def test_kth_sp2_reads_every_line():
    t = read_swf(real_trace("KTH-SP2-1996-2.1-cln"))
    assert len(t) == 28_476
    assert t.header_int("MaxProcs") == 100
    assert np.all(np.diff(t.data[:, 1]) >= 0)


def test_real_trace_limit_is_fast():
    t = read_swf(real_trace("SDSC-BLUE-2000-4.2-cln"), limit=1000)
    assert len(t) == 1000 and t.truncated
    assert t.header_int("MaxProcs") == 1152


@pytest.mark.slow
@pytest.mark.parametrize("stem,lines", [("HPC2N-2002-2.2-cln", 202_871), ("SDSC-BLUE-2000-4.2-cln", 243_306)])
def test_big_traces_read_whole(stem, lines):
    assert len(read_swf(real_trace(stem))) == lines
