"""How the query commands write single values: clock times, CPU times, sizes, exit
codes, GPU requests, missing values, the date line.

Slurm has several notations for the same quantity (24 seconds are ``00:00:24`` in
sacct's Elapsed but ``0:24`` in squeue's TIME, which is
``kairos.slurm.timespec.format_duration``, as timestamps are
``kairos.slurm.timespec.format_timestamp``); these are the others the commands share.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any


def format_clock(seconds: float) -> str:
    """``[D-]HH:MM:SS`` (sacct's Elapsed, scontrol's RunTime and TimeLimit)."""
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{text}" if days else text


def format_cpu_time(seconds: float) -> str:
    """sacct's TotalCPU: ``MM:SS.mmm`` under an hour, else ``[D-]HH:MM:SS``."""
    if seconds >= 3600:
        return format_clock(seconds)
    minutes, secs = divmod(max(0.0, seconds), 60)
    return f"{int(minutes):02d}:{secs:06.3f}"


def format_exit(code: int, signal: int) -> str:
    """``code:signal``, as Slurm prints exit codes."""
    return f"{code}:{signal}"


def format_size(value: int, unit: str) -> str:
    """A size in ``unit`` (``K`` or ``M``) moved to the largest unit that divides it
    exactly, as Slurm prints memory: 4096 M is ``4G``, 1234 K stays ``1234K``."""
    units = "KMGTPE"
    index = units.index(unit)
    if value == 0:
        return "0"
    while value % 1024 == 0 and index < len(units) - 1:
        value //= 1024
        index += 1
    return f"{value}{units[index]}"


def format_gres(gpus: Iterable[tuple[str | None, int]]) -> str:
    """``gpu:2`` / ``gpu:a100:2`` items joined by commas."""
    return ",".join(f"gpu:{kind}:{count}" if kind else f"gpu:{count}"
                    for kind, count in gpus if count)


def or_null(value: Any) -> str:
    """The value, or ``(null)`` where Slurm has none to print."""
    return "(null)" if value in (None, "") else str(value)


def current_date_line(now: float) -> str:
    """The date line ``squeue -l`` and ``sinfo -l`` print first."""
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(now))
