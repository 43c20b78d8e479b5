"""Rendering of summaries: Rich tables, stable plain columns and the comparison plot."""

import io
import struct
import zlib

import pytest

from kairos.sim.report import duration, plain_compare, plain_summary, plot_compare, render


def summary(policy, avg_bsld, avg_wait, *, order="submit", per_user=False):
    s = {
        "trace": "tiny", "policy": policy, "order": order, "procs": 4, "jobs": 1200,
        "unfinished": 0, "skipped": 3, "skipped_by_reason": {"too_wide": 3},
        "avg_bsld": avg_bsld, "max_bsld": 40.0, "avg_wait": avg_wait, "p50_wait": 30.0,
        "p90_wait": 5400.0, "p99_wait": 7200.0, "max_wait": 90000.0, "utilization": 0.8125,
        "makespan": 86400.0, "users": 2, "fairness_jain": 0.9, "worst_user_avg_bsld": 5.0,
        "replay_seconds": 0.5, "jobs_per_second": 2400.0,
    }
    if per_user:
        s["per_user"] = [{"user": "1", "jobs": 700, "avg_wait": 12.0, "avg_bsld": 1.5},
                         {"user": "2", "jobs": 500, "avg_wait": 99.5, "avg_bsld": 5.0}]
    return s


SUMMARIES = [summary("fcfs", 12.5, 4000.0), summary("easy", 3.25, 900.0),
             summary("conservative", 3.5, 1000.0)]


def test_plain_compare_has_stable_columns():
    lines = plain_compare(SUMMARIES).splitlines()
    assert lines[0].split() == ["trace", "policy", "order", "predictor", "correction", "jobs", "avg_bsld", "max_bsld",
                                "avg_wait", "p90_wait", "max_wait", "utilization",
                                "jobs_per_second"]
    assert [line.split() for line in lines[1:]] == [
        ["tiny", "fcfs", "submit", "user", "limit", "1200", "12.500", "40.000", "4000.0", "5400.0",
         "90000.0", "0.8125", "2400.0"],
        ["tiny", "easy", "submit", "user", "limit", "1200", "3.250", "40.000", "900.0", "5400.0",
         "90000.0", "0.8125", "2400.0"],
        ["tiny", "conservative", "submit", "user", "limit", "1200", "3.500", "40.000", "1000.0", "5400.0",
         "90000.0", "0.8125", "2400.0"],
    ]


def test_plain_summary_is_key_value_lines():
    pairs = dict(line.split(None, 1) for line in plain_summary(SUMMARIES[0]).splitlines())
    assert pairs["policy"] == "fcfs"
    assert pairs["avg_bsld"] == "12.500"
    assert pairs["skipped.too_wide"] == "3"
    assert pairs["utilization"] == "0.8125"


def test_missing_values_print_as_dash():
    s = summary("easy", None, None)
    row = plain_compare([s]).splitlines()[1].split()
    assert row[6] == "-" and row[8] == "-"  # avg_bsld and avg_wait


def test_render_picks_plain_text_off_a_terminal():
    out = io.StringIO()
    render(SUMMARIES, out)
    assert out.getvalue() == plain_compare(SUMMARIES)


def test_render_single_summary_with_per_user_rows():
    out = io.StringIO()
    render([summary("easy", 3.25, 900.0, per_user=True)], out)
    text = out.getvalue()
    assert "avg_bsld" in text
    users = text.split("\n\n")[-1].splitlines()
    assert users[0].split() == ["policy", "user", "jobs", "avg_wait", "avg_bsld"]
    assert users[2].split() == ["easy", "2", "500", "99.5", "5.000"]


def test_rich_compare_table():
    out = io.StringIO()
    render(SUMMARIES, out, rich=True)
    text = out.getvalue()
    for word in ("policy", "fcfs", "easy", "conservative", "utilization", "jobs/s",
                 "81.2%", "1h06m", "1d01h"):
        assert word in text
    # fits an 80-column terminal
    assert max(len(line) for line in text.splitlines()) <= 80


def test_rich_single_summary():
    out = io.StringIO()
    render([summary("easy", 3.25, 900.0, per_user=True)], out, rich=True)
    text = out.getvalue()
    assert "avg bounded slowdown" in text
    assert "too_wide" in text
    assert "per user" in text


@pytest.mark.parametrize("seconds, text", [
    (0, "0s"), (0.25, "0.25s"), (42, "42s"), (725, "12m05s"), (11040, "3h04m"),
    (183600, "2d03h"),
])
def test_duration(seconds, text):
    assert duration(seconds) == text


def _png_chunks(data):
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        yield kind, body
        pos += 12 + length


def test_plot_compare_writes_a_valid_png(tmp_path):
    path = plot_compare(SUMMARIES, tmp_path / "compare.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks = list(_png_chunks(data))
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert width > 300 and height > 200
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(set(pixels)) > 10  # not a blank image


def test_plot_compare_pdf(tmp_path):
    path = plot_compare(SUMMARIES[:1], tmp_path / "one.pdf")
    assert path.read_bytes()[:5] == b"%PDF-"


def test_plot_compare_needs_results(tmp_path):
    with pytest.raises(ValueError):
        plot_compare([], tmp_path / "none.png")
