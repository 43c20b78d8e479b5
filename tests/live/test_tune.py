"""``kairos tune`` through the real executable and a real controller: a tuning asked
for with ``--now`` on jobs that really ran, shown as JSON and as text, and the answers
with self-tuning off."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

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

    # The replays ran in the controller's worker process, which stops with it.
    log = (live.home / "kairos.log").read_text()
    [line] = [line for line in log.splitlines() if "self-tuning: 6 finished jobs" in line]
    assert line.endswith(", in the worker process)")
    controller = int((live.home / "kairos.pid").read_text().split()[0])
    workers = children(controller)
    assert workers, "no worker process under the controller"
    live.down()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def test_with_self_tuning_off_tune_says_so(make_live):
    live = make_live()
    live.up()
    shown = live.run("tune", check=False)
    assert shown.returncode == 1
    assert "self-tuning    off" in shown.stdout and "self-tuning is off" in shown.stderr
    refused = live.run("tune", "--now", check=False)
    assert refused.returncode == 2
    assert "self-tuning is off: set auto = true in [controller] of " in refused.stderr
