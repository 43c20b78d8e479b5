"""Faults on a test cluster: a node daemon killed (its node goes DOWN, its jobs end as
NODE_FAIL and are requeued unless --no-requeue, others are untouched), a node daemon
restarted in time (its jobs go on), the controller killed (nothing lost), an admin's
drain, down and resume, and requests that do not prove who sent them."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from kairos.testing.cluster import running_cluster


@pytest.fixture
def fresh():
    """A cluster for one destructive test (2 CPUs a node: two jobs may share one)."""
    with running_cluster(3, 2) as made:
        yield made


@pytest.mark.slow  # 12 to 21 s: waits out node and controller timeouts
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


@pytest.mark.slow  # 12 to 21 s: waits out node and controller timeouts
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


@pytest.mark.slow  # 12 to 21 s: waits out node and controller timeouts
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


#: A batch script that runs a step on its first run only: once requeued, it only says so.
_FIRST_RUN_ONLY = ('#!/bin/bash\nif [ "${{SLURM_RESTART_COUNT:-0}}" = 0 ]; then srun {step}; '
                   'else echo "run again: $SLURM_RESTART_COUNT"; fi\n')


def _ran_once_more(output: Path) -> None:
    """The output of a job requeued once: the first run's lines (the notes of its end:
    the supervisor's, and srun's own when its step was told to stop before it was
    killed, as Slurm's srun says "Job step aborted"), then the second run's, appended (a
    requeue never wipes what a run wrote)."""
    lines = output.read_text().splitlines()
    assert lines[-1] == "run again: 1" and lines.count("run again: 1") == 1, lines
    assert all(line.startswith(("kairos-supervisor: ", "srun: ")) for line in lines[:-1]), lines


@pytest.mark.slow  # 12 to 21 s: waits out node and controller timeouts
def test_a_node_daemon_killed_mid_step_ends_the_step_everywhere(fresh):
    # A step of srun's own allocation and one of a batch job, each on the 3 nodes; kn2's
    # daemon is killed.  The tasks on kn1 and kn3 end, srun says the node failed, the
    # allocation ends NODE_FAIL and the batch job is requeued.  Once kn2's daemon is back,
    # nothing of either step is left there, and the batch job runs again, once.
    srun = subprocess.Popen([fresh.executable, "srun", "-N3", "sleep", "4721"],
                            cwd=fresh.workdir, env=fresh.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        batch = fresh.sbatch(_FIRST_RUN_ONLY.format(step="sleep 4722"), "-N3", "-o", "lost.out")
        _wait_for(lambda: _count("sleep 4721") == 3 and _count("sleep 4722") == 3,
                  "both steps' tasks on every node")
        fresh.kill_node_daemon("kn2")
        _, err = srun.communicate(timeout=60)
    finally:
        srun.kill()
    assert srun.returncode != 0 and "srun: error: Node failure on kn2" in err.splitlines(), err
    _wait_for(lambda: _count("sleep 4721") == 1 and _count("sleep 4722") == 1,
              "the tasks on kn1 and kn3 to end (kn2's have no daemon to end them)")
    [allocation] = [r for r in fresh.client().jobs(all_states=True) if r["name"] == "sleep"]
    assert allocation["state"] == "NODE_FAIL"  # an allocation is never requeued
    assert fresh.wait_state(batch, {"PENDING"})["restarts"] == 1
    fresh.start_node_daemon("kn2")
    fresh.wait_node("kn2", "idle", timeout=30)
    _wait_for(lambda: _count("sleep 4721") == 0 and _count("sleep 4722") == 0,
              "kn2's lost tasks to be killed")
    [row] = fresh.wait(batch, timeout=40)
    assert row["state"] == "COMPLETED"
    _ran_once_more(fresh.workdir / "lost.out")


@pytest.mark.slow  # 12 to 21 s: waits out node and controller timeouts
def test_a_node_cut_off_the_network_goes_down_and_returns_clean(fresh):
    # kn3's veth is set down on the host's side mid-job: kn3 goes DOWN "Not responding"
    # after node_timeout and the job is requeued; once the link is up again the node
    # returns by itself (its daemon never stopped) and its part of the old step is gone.
    bed = fresh.testbed()
    if bed.plan.bridge is None:
        pytest.skip(f"the test cluster has no network namespaces: {bed.network_reason}")
    veth = f"{bed.plan.bridge}v{next(n.index for n in bed.plan.nodes if n.name == 'kn3')}"
    job = fresh.sbatch(_FIRST_RUN_ONLY.format(step="sleep 4723"), "-N3", "-o", "cut.out")
    _wait_for(lambda: _count("sleep 4723") == 3, "the step's task on every node")
    subprocess.run(["ip", "link", "set", veth, "down"], check=True)
    try:
        down = fresh.wait_node("kn3", "down", timeout=40)
        assert (down["reason"], down["responding"]) == ("Not responding", False)
        assert fresh.wait_state(job, {"PENDING"})["restarts"] == 1
        _wait_for(lambda: _count("sleep 4723") == 1, "the tasks on kn1 and kn2 to end")
    finally:
        subprocess.run(["ip", "link", "set", veth, "up"], check=True)
    fresh.wait_node("kn3", "idle", timeout=30)
    _wait_for(lambda: _count("sleep 4723") == 0, "kn3's part of the old step to be killed")
    [row] = fresh.wait(job, timeout=40)
    assert row["state"] == "COMPLETED"
    _ran_once_more(fresh.workdir / "cut.out")


@pytest.mark.slow  # 12 to 21 s: waits out node and controller timeouts
def test_kill_9_of_the_controller_right_after_sbatch_runs_the_job_once(fresh):
    # Killed while it launches (or just before, or just after): the job's script and
    # its step run once, whatever the controller had sent.
    job = fresh.sbatch("#!/bin/bash\necho start $SLURM_JOB_ID\n"
                       "srun -l printenv SLURMD_NODENAME\necho end\n",
                       "-N3", "-o", "once.out")
    fresh.kill_controller()
    fresh.run("up")
    [row] = fresh.wait(job, timeout=60)
    assert row["state"] == "COMPLETED"
    # srun may have said it waited for the controller; the rest is one run's output.
    out = [line for line in (fresh.workdir / "once.out").read_text().splitlines()
           if not line.startswith("srun: ")]
    assert (out[0], sorted(out[1:-1]), out[-1]) == (
        f"start {job}", ["0: kn1", "1: kn2", "2: kn3"], "end"), out
    records = fresh.client().accounting(ids=[str(job)])
    assert [r["state"] for r in records] == ["COMPLETED"]
    sacct = fresh.run("sacct", "-j", str(job), "--parsable2", "--noheader", "-o",
                      "JobID,State").stdout.splitlines()
    assert sacct == [f"{job}|COMPLETED", f"{job}.batch|COMPLETED", f"{job}.0|COMPLETED"]
