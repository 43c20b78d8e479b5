"""A real controller restarted with a learning predictor: it plans with what it learned
from the jobs that finished before the restart (``kairos.server.seeding``), not from
users' time limits, and says so in its log."""

from __future__ import annotations

import json

import pytest

from kairos.server.store import Store


@pytest.mark.slow  # 13 s: two controllers, one after the other, and their trainings
def test_a_restarted_controller_predicts_from_the_jobs_that_ended_before_it(make_live):
    live = make_live('predictor = "last2"\n')
    config = live.home / "config.toml"

    def run(seconds: int) -> int:
        job_id = live.sbatch(f"#!/bin/sh\nsleep {seconds}\n", "-t", "60")
        live.wait(job_id)
        return job_id

    def planned(job_id: int) -> float:
        """The runtime the scheduler plans a pending job with (what last2 said)."""
        return json.loads(live.run("why", str(job_id), "--json").stdout)["estimate"]

    first = [run(0), run(2)]
    # Told to learn nothing at start, the restarted controller plans with the limit.
    plain = config.read_text()
    config.write_text(plain.replace("[controller]\n", "[controller]\npredictor_history = 0\n"))
    live.restart()
    held = live.sbatch("#!/bin/sh\ntrue\n", "-t", "60", "--hold")
    assert planned(held) == 3600
    later = run(1)  # learned live

    # By default it learns the jobs that finished, in the order they ended: last2 then
    # plans with the last two runtimes, the one before the restart and the one after -
    # for a new job and for the held one, queued again at the restart.
    config.write_text(plain)
    live.restart()
    probe = live.sbatch("#!/bin/sh\ntrue\n", "-t", "60", "--hold")
    with Store(f"sqlite:///{live.home / 'kairos.db'}") as store:
        runtimes = {i: store.get(i).end_time - store.get(i).start_time
                    for i in (*first, later)}
    expected = (runtimes[first[1]] + runtimes[later]) / 2
    assert expected > 1  # not last2's floor
    assert planned(probe) == pytest.approx(expected, abs=1e-6)
    assert planned(held) == pytest.approx(expected, abs=1e-6)
    log = (live.home / "kairos.log").read_text()
    assert ("predictor last2 learned from the last 3 finished job(s) in the accounting "
            "database (3 that ran; predictor_history = 20000) in ") in log
