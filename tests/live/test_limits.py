"""Partitions and QOS from ``config.toml``: time limits defaulted and enforced at
submission, and a per-user running-job limit that holds jobs back with Slurm's reason."""

from __future__ import annotations

import time

import pytest


CONFIG = """
[[partition]]
name = "short"
max_time = "10:00"
default_time = "2"
default = true

[[partition]]
name = "long"

[qos.normal]

[qos.single]
max_wall = "5:00"
max_jobs_per_user = 1
"""


@pytest.fixture
def limited(make_live):
    return make_live(CONFIG)


def test_time_limits_come_from_partition_and_qos_and_are_enforced(limited):
    live = limited
    default = live.sbatch("#!/bin/sh\ntrue\n", "--hold")
    client = live.client()
    assert client.job(str(default))["time_limit"] == 120  # partition short's DefaultTime
    unlimited = live.sbatch("#!/bin/sh\ntrue\n", "--hold", "-p", "long")
    assert client.job(str(unlimited))["time_limit"] is None
    capped = live.sbatch("#!/bin/sh\ntrue\n", "--hold", "-p", "long", "-q", "single")
    assert client.job(str(capped))["time_limit"] == 300  # the QOS's MaxWall

    too_long = live.run("sbatch", "-t", "11", "--wrap", "true", check=False)
    assert too_long.returncode != 0 and "MaxTime" in too_long.stderr
    over_qos = live.run("sbatch", "-q", "single", "-t", "6", "-p", "long", "--wrap", "true",
                        check=False)
    assert over_qos.returncode != 0 and "QOS single allows at most 300 s" in over_qos.stderr
    bad_qos = live.run("sbatch", "-q", "gold", "--wrap", "true", check=False)
    assert bad_qos.returncode != 0 and "Invalid qos specification: 'gold'" in bad_qos.stderr
    bad_partition = live.run("sbatch", "-p", "gpu", "--wrap", "true", check=False)
    assert bad_partition.returncode != 0 and "invalid partition name" in bad_partition.stderr
    assert len(client.jobs()) == 3  # refused submissions queued nothing


def test_qos_max_jobs_per_user_keeps_extra_jobs_pending(limited):
    live = limited
    first = live.sbatch("#!/bin/sh\nsleep 2\n", "-q", "single")
    second = live.sbatch("#!/bin/sh\ntrue\n", "-q", "single")
    client = live.client()
    deadline = time.monotonic() + 5
    while client.job(str(second))["reason"] != "QOSMaxJobsPerUserLimit":
        assert time.monotonic() < deadline, client.job(str(second))
        time.sleep(0.05)
    assert client.job(str(first))["state"] == "RUNNING"
    rows = [live.wait(first)[0], live.wait(second)[0]]
    assert rows[1]["start_time"] >= rows[0]["end_time"]


def test_a_controller_with_a_runtime_predictor_plans_with_it(make_live):
    live = make_live()
    config = live.home / "config.toml"
    config.write_text(config.read_text().replace("[controller]\n",
                                                 '[controller]\npredictor = "last2"\n'))
    # last2 learns from the user's finished jobs: after two 0 s runs, a job with a
    # one-hour limit is planned as a short one (its expected end is near its start).
    for _ in range(2):
        live.wait(live.sbatch("#!/bin/sh\ntrue\n", "-t", "60"))
    job_id = live.sbatch("#!/bin/sh\nsleep 1\n", "-t", "60")
    [row] = live.wait(job_id)
    assert row["state"] == "COMPLETED"
    from kairos.server.store import Store

    with Store(f"sqlite:///{live.home / 'kairos.db'}") as store:
        stored = store.get(job_id)
    assert stored.expected_end - stored.start_time < 60
