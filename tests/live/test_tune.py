"""``kairos tune`` through the real executable and a real controller: a tuning asked
for with ``--now`` on jobs that really ran, shown as JSON and as text, and the answers
with self-tuning off."""

from __future__ import annotations

import json

from kairos.sim.tuning import CANDIDATES, EASY, START

# Appended to the [controller] table of the test home's config.toml.
AUTO = 'auto = true\nauto_min_jobs = 5\nauto_every = "1-00:00:00"\n'


def test_tune_now_replays_the_finished_jobs_under_every_candidate(make_live):
    live = make_live(AUTO)
    script = "#!/bin/sh\ntrue\n"
    ids = [live.sbatch(script, "--time=5", name=f"job{i}.sh") for i in range(6)]
    for job_id in ids:
        live.wait(job_id)

    answer = json.loads(live.run("tune", "--now", "--json").stdout)
    decision = answer["decision"]
    assert answer["auto"] is True and decision["jobs"] == 6
    assert decision["current"] == START.label and decision["reason"]
    trials = {t["config"]: t for t in decision["trials"]}
    assert set(trials) == {c.label for c in CANDIDATES} | {EASY.label}
    assert all(t["avg_bsld"] >= 1 for t in trials.values())

    text = live.run("tune").stdout
    assert "last tuning, " in text and "6 finished jobs" in text
    for label, t in trials.items():
        [line] = [line for line in text.splitlines() if line.split()[:1] == [label]]
        assert line.split()[1] == f"{t['avg_bsld']:.2f}"
    assert f"configuration  {answer['current']['label']} (EASY, " in text
    assert "next tuning    " in text


def test_with_self_tuning_off_tune_says_so(make_live):
    live = make_live()
    live.up()
    shown = live.run("tune", check=False)
    assert shown.returncode == 1
    assert "self-tuning    off" in shown.stdout and "self-tuning is off" in shown.stderr
    refused = live.run("tune", "--now", check=False)
    assert refused.returncode == 2
    assert "self-tuning is off: set auto = true in [controller] of " in refused.stderr
