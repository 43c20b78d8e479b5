"""``kill -9`` of the controller while jobs run and wait: nothing is lost.

The controller is killed without warning; jobs keep running under their supervisors.
The restarted controller adopts the live ones, records the ones that ended meanwhile
from their supervisors' reports, and keeps the pending ones in their order.
"""

from __future__ import annotations

import os
import signal
import time


def _controller_pid(live) -> int:
    return int((live.home / "kairos.pid").read_text())


def _wait_state(client, job_id, state, timeout=10):
    deadline = time.monotonic() + timeout
    while client.job(str(job_id))["state"] != state:
        assert time.monotonic() < deadline, client.job(str(job_id))
        time.sleep(0.05)


def test_kill_9_loses_no_job(live):
    cpus = len(os.sched_getaffinity(0))
    marker = live.workdir / "go"
    # A job that runs across the crash, one that ends during it, and a queue behind them.
    long = live.sbatch(f"#!/bin/sh\nwhile [ ! -e {marker} ]; do sleep 0.05; done\nexit 7\n",
                       f"-c{cpus - 1 or 1}")
    short = live.sbatch("#!/bin/sh\nsleep 1\necho done\n", "-c1") if cpus > 1 else None
    queued = [live.sbatch(f"#!/bin/sh\necho {i}\n", f"-c{cpus}") for i in range(4)]
    client = live.client()
    _wait_state(client, long, "RUNNING")
    if short:
        _wait_state(client, short, "RUNNING")

    os.kill(_controller_pid(live), signal.SIGKILL)
    time.sleep(1.5)  # ``short`` finishes while no controller runs
    live.run("up")
    client = live.client()
    info = client.job(str(long))
    assert info["state"] == "RUNNING"  # adopted, not restarted
    if short:
        [row] = live.wait(short)
        assert row["state"] == "COMPLETED"
        assert (live.workdir / f"slurm-{short}.out").read_text() == "done\n"
    assert [client.job(str(q))["state"] for q in queued] == ["PENDING"] * 4

    marker.touch()
    [row] = live.wait(long)
    assert (row["state"], row["exit_code"]) == ("FAILED", 7)
    rows = [live.wait(q)[0] for q in queued]
    assert all(r["state"] == "COMPLETED" for r in rows)
    starts = [r["start_time"] for r in rows]
    assert starts == sorted(starts)  # the queue kept its order
    # Adopted jobs ran once: each output file has exactly one line.
    for q, i in zip(queued, range(4)):
        assert (live.workdir / f"slurm-{q}.out").read_text() == f"{i}\n"
