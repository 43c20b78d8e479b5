"""Where the schedules of compared runs are written (``kairos.sim.schedule``); what they
hold is checked through ``kairos simulate --out`` in tests/cli/test_cli.py."""

from __future__ import annotations

from pathlib import Path

from kairos.sim.schedule import per_policy_path


def test_per_policy_path():
    p = per_policy_path
    assert p(Path("a/s.swf"), "easy") == Path("a/s.easy.swf")
    assert p(Path("s.swf.gz"), "fcfs") == Path("s.fcfs.swf.gz")
    assert p(Path("s.out"), "fcfs") == Path("s.out.fcfs")
