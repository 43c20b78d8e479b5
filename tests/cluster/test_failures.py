"""Faults on a test cluster: a node daemon killed (its node goes DOWN, its jobs end as
NODE_FAIL and are requeued unless --no-requeue, others are untouched), a node daemon
restarted in time (its jobs go on), the controller killed (nothing lost), an admin's
drain, down and resume, and requests that do not prove who sent them."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pytest

from kairos.testing.cluster import KairosCluster


@pytest.fixture
def fresh():
    """A cluster for one destructive test (2 CPUs a node: two jobs may share one)."""
    root = Path(tempfile.mkdtemp(prefix="kairos-cluster-"))
    made = KairosCluster.create(root / "home", root / "work", count=3, cpus_per_node=2)
    made.up()
    yield made
    made.stop()


def test_a_lost_node_fails_its_jobs_requeues_them_and_spares_the_others(fresh):
    # kn3 goes silent.  On it: a job with --no-requeue (NODE_FAIL, final) and a 2-node
    # job on kn2+kn3 (NODE_FAIL, requeued: pending again, Restarts=1).  On kn1 and kn2
    # alone: jobs that go on running.
    spared = [fresh.submit("-w", "kn1", "--wrap", "sleep 30")]
    final = fresh.submit("-w", "kn3", "--no-requeue", "--wrap", "sleep 30")
    spanning = fresh.submit("-N", "2", "-w", "kn[2-3]", "--wrap", "sleep 30")
    for job in (*spared, final, spanning):
        fresh.wait_state(job, {"RUNNING"})
    fresh.kill_node_daemon("kn3")
    down = fresh.wait_node("kn3", "down", timeout=40)
    assert down["reason"] == "Not responding" and down["responding"] is False
    assert fresh.wait_state(final, {"NODE_FAIL"})["state"] == "NODE_FAIL"
    again = fresh.wait_state(spanning, {"PENDING"})
    assert again["restarts"] == 1 and again["reason"] in ("BeginTime", "Resources", "Priority")
    assert [fresh.client().jobs(ids=[str(j)])[0]["state"] for j in spared] == ["RUNNING"]
    # Its daemon comes back: the node returns to service and the requeued job runs again.
    fresh.start_node_daemon("kn3")
    fresh.wait_node("kn3", "idle", timeout=30)
    assert fresh.wait_state(spanning, {"RUNNING"}, timeout=60)["node_list"] == "kn[2-3]"


def test_a_returning_node_lets_go_of_jobs_that_ended_while_it_was_away(fresh):
    # A 2-node job whose step also runs on kn3; kn3's daemon dies, the job is requeued
    # and then cancelled.  When kn3 comes back it must not keep the job's cores nor its
    # step's tasks: a new job gets the whole node.
    job = fresh.submit("-N", "2", "-w", "kn[2-3]", "--wrap", "srun sleep 313")
    fresh.wait_state(job, {"RUNNING"})
    _wait_for(lambda: _count("sleep 313") == 2, "the step's tasks to start on both nodes")
    fresh.kill_node_daemon("kn3")
    fresh.wait_state(job, {"PENDING"})
    fresh.run("scancel", str(job))
    fresh.start_node_daemon("kn3")
    fresh.wait_node("kn3", "idle", timeout=30)
    _wait_for(lambda: _count("sleep 313") == 0, "the lost step's task on kn3 to be killed")
    whole = fresh.run("srun", "-w", "kn3", "-n", "2", "printenv", "SLURMD_NODENAME")
    assert whole.stdout.split() == ["kn3", "kn3"]


def _count(command_line: str) -> int:
    import psutil

    return sum(1 for p in psutil.process_iter(["cmdline"])
               if " ".join(p.info["cmdline"] or ()) == command_line)


def _wait_for(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        time.sleep(0.2)


def test_a_restarted_node_daemon_adopts_its_running_job(fresh):
    job = fresh.submit("-w", "kn2", "--wrap", "sleep 4; echo survived")
    fresh.wait_state(job, {"RUNNING"})
    fresh.kill_node_daemon("kn2")
    time.sleep(1)
    fresh.start_node_daemon("kn2")
    [row] = fresh.wait(job, timeout=30)
    assert row["state"] == "COMPLETED"
    assert "survived" in (fresh.workdir / f"slurm-{job}.out").read_text()


def test_kill_9_of_the_controller_loses_no_multi_node_job(fresh):
    running = fresh.submit("-N", "2", "--wrap", "sleep 3")
    fresh.wait_state(running, {"RUNNING"})
    waiting = fresh.submit("-N", "3", "--wrap", "true")
    fresh.kill_controller()
    fresh.run("up")  # the test cluster's controller again, same nodes
    assert fresh.wait(running, timeout=40)[0]["state"] == "COMPLETED"
    assert fresh.wait(waiting, timeout=40)[0]["state"] == "COMPLETED"


def test_drain_down_and_resume(fresh):
    client = fresh.client()
    busy = fresh.submit("-w", "kn1", "--exclusive", "--wrap", "sleep 3")
    fresh.wait_state(busy, {"RUNNING"})
    client.request("PATCH", "/nodes/kn1", {"state": "DRAIN", "reason": "maintenance"})
    drained = fresh.nodes()["kn1"]
    assert (drained["state"], drained["reason"]) == ("drain", "maintenance")
    held = fresh.submit("-w", "kn1", "--wrap", "true")
    assert fresh.wait(busy)[0]["state"] == "COMPLETED"  # draining: its job finishes
    time.sleep(1)
    assert fresh.client().jobs(ids=[str(held)])[0]["state"] == "PENDING"
    client.request("PATCH", "/nodes/kn1", {"state": "RESUME"})
    assert fresh.wait(held)[0]["state"] == "COMPLETED"
    victim = fresh.submit("-w", "kn2", "--wrap", "sleep 30")
    fresh.wait_state(victim, {"RUNNING"})
    client.request("PATCH", "/nodes/kn2", {"state": "DOWN", "reason": "bad dimm"})
    assert fresh.wait_state(victim, {"PENDING"})["restarts"] == 1  # NODE_FAIL, requeued


def test_requests_that_do_not_prove_their_sender_are_refused(fresh):
    import httpx

    info = json.loads(fresh.run("status", "--json").stdout)
    controller = (fresh.home / "testbed" / "cluster.toml").read_text()
    listen = next(line.split('"')[1] for line in controller.splitlines() if line.startswith("listen"))
    body = json.dumps({"name": "kn9", "addr": "127.0.0.1", "port": 1, "cpus": 1,
                       "mem_mib": 1}).encode()
    url = f"http://{listen}/api/v1/cluster/register"
    unsigned = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code in (401, 403)
    forged = httpx.post(url, content=body, headers={
        "Content-Type": "application/json", "X-Kairos-Sender": "kn1",
        "X-Kairos-Time": str(time.time()), "X-Kairos-Nonce": "abc",
        "X-Kairos-Signature": "00" * 32, "X-Kairos-Credential": "MUNGE:forged"})
    assert forged.status_code == 403 and "refused" in forged.json()["detail"]
    assert info["jobs"] == {} or isinstance(info["jobs"], dict)
