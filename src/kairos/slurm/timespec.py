"""Slurm's time, date and memory notations, parsed and printed.

Job scripts say ``--time=1-12:00:00``, ``--begin=now+1hour`` and ``--mem=4G``; Kairos
keeps times as epoch seconds, durations as seconds and memory as MiB, and prints them
back the way Slurm's commands do.  Behaviour checked against Slurm 22.05:

* Durations (``--time``): ``min``, ``min:sec``, ``h:m:s``, ``d-h``, ``d-h:m``,
  ``d-h:m:s``; ``UNLIMITED``, ``INFINITE`` or ``-1`` mean no limit.  Slurm rounds
  seconds up to whole minutes; Kairos keeps the seconds.
* Begin times (``--begin``): ``now[+-count[unit]]`` (unit ``seconds`` (default),
  ``minutes``, ``hours``, ``days``, ``weeks``), ``HH:MM[:SS][AM|PM]`` (today, or
  tomorrow if already past), ``YYYY-MM-DD[THH:MM[:SS]]``, ``MM/DD[/YY]``, and the
  words ``today`` (now), ``tomorrow`` (next midnight), ``midnight``, ``noon``,
  ``fika`` (15:00) and ``teatime`` (16:00).  Times are local time.
* Memory (``--mem``): a whole number with an optional unit ``K``, ``M``, ``G`` or
  ``T`` (powers of 1024, any case, an optional trailing ``B``); MiB by default;
  kibibytes round up to whole MiB.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta

DURATION_FORMATS = "minutes, minutes:seconds, hours:minutes:seconds, days-hours, " \
                   "days-hours:minutes, days-hours:minutes:seconds, or UNLIMITED"

BEGIN_FORMATS = "now, now+COUNT[seconds|minutes|hours|days|weeks], HH:MM[:SS][AM|PM], " \
                "YYYY-MM-DD[THH:MM[:SS]], MM/DD[/YY], today, tomorrow, midnight, noon, " \
                "fika or teatime"

_UNLIMITED_WORDS = {"UNLIMITED", "INFINITE", "-1"}
_DIGITS = re.compile(r"\d+")


# --- durations -------------------------------------------------------------------------

def parse_duration(text: str) -> float | None:
    """Seconds in a Slurm duration such as ``90``, ``1:30:00`` or ``2-12``; ``None``
    for ``UNLIMITED``/``INFINITE``/``-1``.

    Raises ``ValueError`` naming the text and the accepted formats when it is none of them.
    """
    value = text.strip()
    if value.upper() in _UNLIMITED_WORDS:
        return None
    fields = _duration_fields(value)
    if fields is None:
        raise ValueError(f"invalid time {text!r}: use {DURATION_FORMATS}")
    days, hours, minutes, seconds = fields
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def _duration_fields(value: str) -> tuple[int, int, int, int] | None:
    """(days, hours, minutes, seconds) of a duration, or ``None`` when malformed."""
    days_text, dash, clock = value.partition("-")
    if not dash:
        clock, days_text = value, ""
    parts = clock.split(":")
    numbers = [days_text] * bool(dash) + parts
    if not all(_DIGITS.fullmatch(n) for n in numbers):
        return None
    values = [int(n) for n in parts]
    if dash:  # d-h, d-h:m, d-h:m:s
        if len(values) > 3:
            return None
        hours, minutes, seconds = (values + [0, 0])[:3]
        return int(days_text), hours, minutes, seconds
    if len(values) == 1:  # minutes
        return 0, 0, values[0], 0
    if len(values) == 2:  # minutes:seconds
        return 0, 0, values[0], values[1]
    if len(values) == 3:  # hours:minutes:seconds
        return 0, values[0], values[1], values[2]
    return None


def format_duration(seconds: float | None) -> str:
    """A duration the way squeue prints it: ``2:03``, ``1:02:03``, ``1-02:03:04``;
    ``UNLIMITED`` for ``None`` and ``INVALID`` for a negative value, as Slurm does.
    Fractions of a second are dropped."""
    if seconds is None:
        return "UNLIMITED"
    if seconds < 0:
        return "INVALID"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}-{hours:02d}:{minutes:02d}:{secs:02d}"
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


# --- timestamps ------------------------------------------------------------------------

def format_timestamp(epoch: float | None, missing: str = "N/A") -> str:
    """Local time as Slurm prints it, ``2026-11-25T10:00:00``; ``missing`` for ``None``
    (squeue and sacct print ``N/A`` or ``Unknown`` depending on the field)."""
    if epoch is None:
        return missing
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%dT%H:%M:%S")


_NOW_OFFSET = re.compile(r"now(?:\s*([+-])\s*(\d+)\s*([a-z]*))?")
_UNIT_SECONDS = {"": 1, "second": 1, "minute": 60, "hour": 3600, "day": 86400,
                 "week": 604800}
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(am|pm)?")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:t(\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})(?:/(\d{2}))?")
_NAMED_HOURS = {"midnight": 0, "noon": 12, "fika": 15, "teatime": 16}


def parse_begin(text: str, now: float) -> float:
    """Epoch seconds of a ``--begin`` time, relative to ``now`` (epoch seconds).

    Raises ``ValueError`` naming the text and the accepted forms when it is none of them.
    """
    value = text.strip().lower()
    if value.startswith("now"):
        result = _relative_to_now(value, now)
    else:
        current = datetime.fromtimestamp(now)
        moment = (_named_day_or_hour(value, current) or _clock_time(value, current)
                  or _calendar_date(value, current))
        result = None if moment is None else moment.timestamp()
    if result is None:
        raise ValueError(f"invalid begin time {text!r}: use {BEGIN_FORMATS}")
    return result


def _relative_to_now(value: str, now: float) -> float | None:
    match = _NOW_OFFSET.fullmatch(value)
    if match is None:
        return None
    sign, count, unit = match.groups()
    if sign is None:
        return float(now)
    unit_seconds = _UNIT_SECONDS.get(unit.removesuffix("s"))
    if unit_seconds is None:
        return None
    offset = int(count) * unit_seconds
    return float(now + offset if sign == "+" else now - offset)


def _named_day_or_hour(value: str, current: datetime) -> datetime | None:
    if value == "today":
        return current
    if value == "tomorrow":
        return _midnight(current.date() + timedelta(days=1))
    if value in _NAMED_HOURS:
        return _next_occurrence(current, _NAMED_HOURS[value], 0, 0)
    return None


def _clock_time(value: str, current: datetime) -> datetime | None:
    match = _CLOCK.fullmatch(value)
    if match is None:
        return None
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if match[4]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match[4] == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return _next_occurrence(current, hour, minute, second)


def _calendar_date(value: str, current: datetime) -> datetime | None:
    try:
        match = _ISO.fullmatch(value)
        if match is not None:
            year, month, day = int(match[1]), int(match[2]), int(match[3])
            hour, minute, second = (int(g or 0) for g in match.groups()[3:])
            return datetime(year, month, day, hour, minute, second)
        match = _US_DATE.fullmatch(value)
        if match is not None:
            month, day = int(match[1]), int(match[2])
            if match[3] is not None:
                return datetime(2000 + int(match[3]), month, day)
            candidate = datetime(current.year, month, day)
            return candidate if candidate >= current else candidate.replace(year=current.year + 1)
    except ValueError:  # a month 13, a February 30
        return None
    return None


def _next_occurrence(current: datetime, hour: int, minute: int, second: int) -> datetime:
    """Today at that time of day, or tomorrow when it has already passed."""
    candidate = current.replace(hour=hour, minute=minute, second=second, microsecond=0)
    return candidate if candidate >= current else candidate + timedelta(days=1)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


# --- memory ----------------------------------------------------------------------------

_MEMORY = re.compile(r"(\d+)\s*([kmgt]?)b?", re.IGNORECASE)
_KIB_PER_UNIT = {"k": 1, "": 1024, "m": 1024, "g": 1024**2, "t": 1024**3}


def parse_memory(text: str) -> int:
    """MiB in a Slurm memory size: ``500`` and ``500M`` are 500, ``4G`` is 4096,
    ``512K`` rounds up to 1.

    Raises ``ValueError`` naming the text and the accepted form when malformed.
    """
    match = _MEMORY.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"invalid memory size {text!r}: use a whole number with an "
                         "optional unit K, M, G or T (MiB when none), e.g. 500M or 4G")
    kibibytes = int(match[1]) * _KIB_PER_UNIT[match[2].lower()]
    return math.ceil(kibibytes / 1024)
