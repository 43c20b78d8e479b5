"""Slurm time, date and memory notations (values checked on a Slurm 22.05 peer)."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kairos.slurm.timespec import (format_duration, format_timestamp, parse_begin,
                                   parse_duration, parse_memory)


@pytest.mark.parametrize("text, seconds", [
    ("90", 5400), ("0", 0), ("1:30", 90), ("1:02:03", 3723), ("2-0", 172800),
    ("1-2", 93600), ("1-2:3", 93780), ("1-2:3:4", 93784), (" 10 ", 600),
])
def test_durations_in_every_slurm_format(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["UNLIMITED", "infinite", "Infinite", "-1"])
def test_unlimited_is_none(text):
    assert parse_duration(text) is None


@pytest.mark.parametrize("text", ["", "1:xx", "1.5", "1:2:3:4", "1-2:3:4:5", "-", "1-",
                                  "a-1", "1:", ":1", "1 2"])
def test_malformed_durations_name_the_text_and_the_formats(text):
    with pytest.raises(ValueError) as error:
        parse_duration(text)
    assert repr(text) in str(error.value)
    assert "days-hours:minutes:seconds" in str(error.value)


@pytest.mark.parametrize("seconds, text", [
    (0, "0:00"), (59.9, "0:59"), (123, "2:03"), (3723, "1:02:03"), (93784, "1-02:03:04"),
    (10 * 86400, "10-00:00:00"), (None, "UNLIMITED"), (-1, "INVALID"),
])
def test_durations_print_like_squeue(seconds, text):
    assert format_duration(seconds) == text


@given(st.integers(min_value=0, max_value=400 * 86400))
def test_printed_durations_read_back(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


NOW = datetime(2026, 11, 25, 3, 48, 52).timestamp()  # what the peer's clock said


@pytest.mark.parametrize("text, expected", [
    ("today", datetime(2026, 11, 25, 3, 48, 52)),
    ("tomorrow", datetime(2026, 11, 26)),
    ("noon", datetime(2026, 11, 25, 12)),
    ("midnight", datetime(2026, 11, 26)),
    ("teatime", datetime(2026, 11, 25, 16)),
    ("fika", datetime(2026, 11, 25, 15)),
    ("10:00", datetime(2026, 11, 25, 10)),
    ("10:00PM", datetime(2026, 11, 25, 22)),
    ("02:00", datetime(2026, 11, 26, 2)),          # already past: tomorrow
    ("03:48:51", datetime(2026, 11, 26, 3, 48, 51)),
    ("2026-12-01", datetime(2026, 12, 1)),
    ("2026-12-01T05:06", datetime(2026, 12, 1, 5, 6)),
    ("2026-12-01T05:06:07", datetime(2026, 12, 1, 5, 6, 7)),
    ("12/01", datetime(2026, 12, 1)),
    ("11/01", datetime(2027, 11, 1)),              # already past this year
    ("12/01/27", datetime(2027, 12, 1)),
])
def test_begin_times_as_the_peer_resolved_them(text, expected):
    assert parse_begin(text, NOW) == expected.timestamp()


@pytest.mark.parametrize("text, offset", [
    ("now", 0), ("now+60", 60), ("now+90", 90), ("now+1hour", 3600),
    ("now+3 hours", 3 * 3600), ("now+2minutes", 120), ("now+1day", 86400),
    ("now+1week", 7 * 86400), ("now+5seconds", 5), ("now-5", -5),
])
def test_begin_relative_to_now(text, offset):
    assert parse_begin(text, NOW) == NOW + offset


@pytest.mark.parametrize("text", ["garbage", "now+1min", "now+1h", "25:00", "13/01",
                                  "2026-02-30", "now+", "13:00PM", ""])
def test_bad_begin_times_name_the_text(text):
    with pytest.raises(ValueError) as error:
        parse_begin(text, NOW)
    assert f"invalid begin time {text!r}" in str(error.value)
    assert "now+COUNT" in str(error.value)


def test_timestamps_print_in_local_time_and_none_as_asked():
    assert format_timestamp(datetime(2026, 11, 25, 10).timestamp()) == "2026-11-25T10:00:00"
    assert format_timestamp(None) == "N/A"
    assert format_timestamp(None, "Unknown") == "Unknown"


@pytest.mark.parametrize("text, mib", [
    ("500", 500), ("500M", 500), ("4G", 4096), ("4g", 4096), ("32Gb", 32768),
    ("4GB", 4096), ("1T", 1048576), ("512K", 1), ("1k", 1), ("2048K", 2), ("0", 0),
    (" 4G", 4096),
])
def test_memory_in_mib(text, mib):
    assert parse_memory(text) == mib


@pytest.mark.parametrize("text", ["1.5G", "4GiB", "1P", "4G5", "", "G", "-1"])
def test_bad_memory_sizes_are_refused_like_the_peer(text):
    with pytest.raises(ValueError, match="whole number"):
        parse_memory(text)
