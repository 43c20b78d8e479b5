"""``kairos why``'s text: each what-if as the option that makes it, the interval only
when the two forecasts differ, and a held job that never starts."""

from __future__ import annotations

from kairos.cli.why import change, render
from kairos.slurm.timespec import format_timestamp

NOW = 1_700_000_000.0


def info(**fields) -> dict:
    base = {"job_id": "7", "user": "ann", "partition": "main", "now": NOW,
            "reason": "Resources", "rule": "the rule", "policy": "easy", "order": "submit",
            "expected_start": NOW + 600, "start_interval": [NOW + 600, NOW + 600],
            "nodes": ["n1"], "time_limit": 3600.0, "estimate": 3600.0, "begin": None,
            "jobs_ahead": 0, "reservation": None, "blocking": [], "holders": [],
            "dependencies": [], "what_ifs": []}
    return {**base, **fields}


def test_each_what_if_is_the_option_that_makes_it():
    assert change({"kind": "time_limit", "changes": {"time_limit": 540.0}}, "7") == "--time=9:00"
    assert change({"kind": "fewer_nodes", "changes": {"nodes": 2, "tasks": 8}}, "7") == \
        "--nodes=2 --ntasks=8"
    assert change({"kind": "fewer_cpus", "changes": {"cpus_per_task": 2}}, "7") == \
        "--cpus-per-task=2"
    assert change({"kind": "partition", "changes": {"partition": "short"}}, "7") == \
        "--partition=short"
    assert change({"kind": "release", "changes": {"held": False}}, "7_1") == "scontrol release 7_1"


def test_the_interval_is_shown_only_when_the_forecasts_differ():
    same = render(info())
    assert f"start     {format_timestamp(NOW + 600)} (in 10:00) on n1" in same
    assert "interval" not in same
    wide = render(info(start_interval=[NOW + 600, NOW + 3600]))
    assert f"interval  {format_timestamp(NOW + 600)} (in 10:00) to " \
           f"{format_timestamp(NOW + 3600)} (in 1:00:00)" in wide


def test_a_held_job_never_starts_until_released():
    text = render(info(reason="JobHeldUser", expected_start=None, start_interval=[None, None],
                       what_ifs=[{"kind": "release", "changes": {"held": False},
                                  "start": NOW, "nodes": ["n1"]}]))
    assert "start     never (under these assumptions)" in text
    assert "scontrol release 7" in text and "would start now" in text
