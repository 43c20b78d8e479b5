"""``kairos why`` through the real executable and a real controller: a job waiting
behind a running one, the same forecast as ``squeue --start``, and clear errors for a
running job, an unknown one and a missing controller."""

from __future__ import annotations

import json
import os
import time

from kairos.slurm.timespec import format_timestamp


def test_why_explains_a_waiting_job_as_squeue_start_forecasts_it(live):
    cpus = len(os.sched_getaffinity(0))
    running = live.sbatch("#!/bin/sh\nsleep 60\n", f"-c{cpus}", "--time=10")
    pending = live.sbatch("#!/bin/sh\ntrue\n", f"-c{cpus}", "--time=5")
    client = live.client()
    deadline = time.monotonic() + 10
    while (first := client.job(str(running)))["state"] != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)

    info = json.loads(live.run("why", str(pending), "--json").stdout)
    # No predictor: the running job is planned on its 10-minute limit.
    assert info["reason"] == "Resources"
    assert info["expected_start"] == first["start_time"] + 600
    assert [h["job_id"] for h in info["holders"]] == [str(running)]
    assert info["what_ifs"] == []  # nothing fits beside a job that holds every CPU
    [listed] = client.jobs(ids=[str(pending)], start=True)
    assert listed["expected_start"] == info["expected_start"]
    squeue = live.run("squeue", "--start", "-h", "-j", str(pending), "-o", "%S").stdout
    assert squeue.strip() == format_timestamp(info["expected_start"])

    text = live.run("why", str(pending)).stdout
    assert f"job {pending} " in text and "reason Resources" in text
    assert f"job {running} (" in text and format_timestamp(info["expected_start"]) in text

    refused = live.run("why", str(running), check=False)
    assert refused.returncode == 2
    assert f"job {running} is RUNNING since " in refused.stderr
    unknown = live.run("why", "999", check=False)
    assert unknown.returncode == 2 and "Invalid job id specified: 999" in unknown.stderr


def test_why_without_a_controller_says_how_to_start_one(make_live):
    result = make_live().run("why", "1", check=False)
    assert result.returncode == 1 and "kairos up" in result.stderr
