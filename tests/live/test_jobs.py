"""A job's life through the real controller: submit, run, finish, account.

Each test talks to a real daemon through the real ``kairos`` executable; jobs are real
processes.  Sleeps are short; the controller reacts to process exits at once.
"""

from __future__ import annotations

import os
import signal
import time


SCRIPT = "#!/bin/bash\n#SBATCH -J hello\n#SBATCH -t 1\necho hello from $SLURM_JOB_ID\n"


def test_first_sbatch_starts_a_controller_and_the_job_runs(live):
    assert live.run("status", check=False).returncode == 1  # nothing running yet
    job_id = live.sbatch(SCRIPT)
    [row] = live.wait(job_id)
    assert row["state"] == "COMPLETED" and row["exit_code"] == 0
    out = live.workdir / f"slurm-{job_id}.out"
    assert out.read_text() == f"hello from {job_id}\n"
    status = live.run("status").stdout
    assert "controller" in status and "sqlite" in status
    sacct = live.run("sacct", "-j", str(job_id), "-X", "--parsable2", "-n",
                     "-o", "JobID,JobName,State,ExitCode").stdout
    assert sacct.strip() == f"{job_id}|hello|COMPLETED|0:0"


def test_exit_codes_and_signals_are_recorded_like_slurm(live):
    failed = live.sbatch("#!/bin/sh\nexit 3\n")
    killed = live.sbatch("#!/bin/sh\nkill -SEGV $$\n")
    [f] = live.wait(failed)
    [k] = live.wait(killed)
    assert (f["state"], f["exit_code"], f["signal"]) == ("FAILED", 3, 0)
    assert (k["state"], k["signal"]) == ("FAILED", signal.SIGSEGV)
    lines = live.run("sacct", "-j", f"{failed},{killed}", "-X", "-P", "-n",
                     "-o", "JobID,State,ExitCode").stdout.split()
    assert lines == [f"{failed}|FAILED|3:0", f"{killed}|FAILED|0:{int(signal.SIGSEGV)}"]


def test_time_limit_ends_a_job_with_timeout(live):
    job_id = live.sbatch("#!/bin/sh\nsleep 60\n", "--time=0:01")
    t0 = time.monotonic()
    [row] = live.wait(job_id, timeout=20)
    assert row["state"] == "TIMEOUT"
    assert time.monotonic() - t0 < 10


def test_scancel_kills_a_running_job_and_drops_a_pending_one(live):
    cpus = len(os.sched_getaffinity(0))
    running = live.sbatch("#!/bin/sh\nsleep 60\n", f"-c{cpus}")
    pending = live.sbatch("#!/bin/sh\ntrue\n", f"-c{cpus}")
    client = live.client()
    deadline = time.monotonic() + 10
    while client.job(str(running))["state"] != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert client.job(str(pending))["reason"] in ("Resources", "Priority")
    live.run("scancel", str(running), str(pending))
    assert live.wait(running)[0]["state"] == "CANCELLED"
    assert live.wait(pending)[0]["state"] == "CANCELLED"


def test_array_with_a_throttle_never_runs_more_tasks_than_allowed(live):
    script = ("#!/bin/sh\n#SBATCH -a 0-5%2\n#SBATCH -o out-%A_%a.txt\n"
              "date +%s.%N\nsleep 0.3\ndate +%s.%N\n"
              "echo $SLURM_ARRAY_JOB_ID $SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_COUNT\n")
    array_id = live.sbatch(script)
    rows = live.wait(array_id, timeout=30)
    assert len(rows) == 6 and {r["state"] for r in rows} == {"COMPLETED"}
    spans = []
    for i in range(6):
        start, end, ids = (live.workdir / f"out-{array_id}_{i}.txt").read_text().splitlines()
        assert ids == f"{array_id} {i} 6"
        spans.append((float(start), float(end)))
    for t, _ in spans:  # at any task's start, at most 2 tasks are running
        assert sum(1 for s, e in spans if s <= t < e) <= 2


def test_dependencies_order_jobs_and_a_failed_one_blocks_afterok(live):
    first = live.sbatch("#!/bin/sh\nsleep 0.3\nexit 1\n")
    ok = live.sbatch("#!/bin/sh\ntrue\n", f"--dependency=afterok:{first}")
    notok = live.sbatch("#!/bin/sh\ntrue\n", "-d", f"afternotok:{first}")
    live.wait(first)
    assert live.wait(notok)[0]["state"] == "COMPLETED"
    client = live.client()
    deadline = time.monotonic() + 5
    while client.job(str(ok))["reason"] != "DependencyNeverSatisfied":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert client.job(str(ok))["state"] == "PENDING"


def test_malformed_script_is_refused_with_the_line_and_nothing_is_queued(live):
    path = live.workdir / "bad.sh"
    path.write_text("#!/bin/sh\n#SBATCH -J ok\n#SBATCH --no-such-option\necho hi\n")
    proc = live.run("sbatch", str(path), check=False)
    assert proc.returncode != 0
    assert "line 3" in proc.stderr and "--no-such-option" in proc.stderr
    assert not (live.home / "kairos.sock").exists() or live.client().jobs() == []


def test_hold_release_and_update(live):
    job_id = live.sbatch("#!/bin/sh\ntrue\n", "--hold", "-t", "10")
    client = live.client()
    info = client.job(str(job_id))
    assert (info["state"], info["reason"]) == ("PENDING", "JobHeldUser")
    live.run("scontrol", "update", f"JobId={job_id}", "TimeLimit=5")
    assert client.job(str(job_id))["time_limit"] == 300
    live.run("scontrol", "release", str(job_id))
    assert live.wait(job_id)[0]["state"] == "COMPLETED"


def test_batch_submission_reports_each_job_and_queues_the_good_ones(live):
    live.sbatch("#!/bin/sh\ntrue\n")  # starts the controller
    from kairos.slurm.sbatch import parse_submission

    def spec(*argv):
        return parse_submission(list(argv), cwd=str(live.workdir), env={}, now=time.time(),
                                submit_host="test").to_json()

    results = live.client().submit_many([spec("--wrap", "true"), spec("-p", "nope", "--wrap", "x"),
                                         spec("-a", "0-1", "--wrap", "true")])
    assert "job_id" in results[0] and len(results[2]["job_ids"]) == 2
    assert "invalid partition name" in results[1]["error"]
    assert all(r["state"] == "COMPLETED" for r in live.wait(results[2]["job_id"]))


def _wait_running(client, job_id, timeout=10):
    deadline = time.monotonic() + timeout
    while client.job(str(job_id))["state"] != "RUNNING":
        assert time.monotonic() < deadline, client.job(str(job_id))
        time.sleep(0.05)


def test_scancel_signal_requeue_and_memory_limit(live):
    trapper = live.sbatch("#!/bin/bash\ntrap 'echo got USR1; exit 0' USR1\n"
                          "while true; do sleep 0.1; done\n", "-J", "trapper")
    client = live.client()
    _wait_running(client, trapper)
    time.sleep(0.3)  # let bash install its trap
    # Like ``scancel -b --signal``: the whole job (the shell and its children) gets it.
    live.run("scancel", "--signal=USR1", str(trapper))
    [row] = live.wait(trapper)
    assert row["state"] == "COMPLETED"
    assert "got USR1" in (live.workdir / f"slurm-{trapper}.out").read_text().splitlines()

    hog = live.sbatch("#!/bin/sh\nexec python3 -c 'x = bytearray(300 * 2**20); import time; "
                      "time.sleep(5)'\n", "--mem=50M")
    [row] = live.wait(hog, timeout=20)
    assert row["state"] == "OUT_OF_MEMORY" and row["max_rss"] > 50 * 1024

    counter = live.workdir / "runs"
    again = live.sbatch(f"#!/bin/sh\necho run >> {counter}\nsleep 30\n")
    _wait_running(client, again)
    live.run("scontrol", "requeue", str(again))
    deadline = time.monotonic() + 10
    while not (counter.exists() and counter.read_text().count("run") == 2):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    info = client.job(str(again))
    assert info["state"] == "RUNNING" and info["restarts"] == 1
    live.run("scancel", "-n", "nomatch")  # a filter that matches nothing cancels nothing
    assert client.job(str(again))["state"] == "RUNNING"
    live.run("scancel", "-u", os.environ.get("USER") or __import__("getpass").getuser())
    assert live.wait(again)[0]["state"] == "CANCELLED"


def test_openapi_spec_and_prometheus_metrics_are_served(live):
    import http.client
    import json
    import socket

    job_id = live.sbatch("#!/bin/sh\nsleep 5\n")
    client = live.client()
    _wait_running(client, job_id)

    def get(path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("kairos")
        conn.sock = socket.socket(socket.AF_UNIX)
        conn.sock.connect(str(live.home / "kairos.sock"))
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()

    status, body = get("/openapi.json")
    spec = json.loads(body)
    assert status == 200 and "/api/v1/jobs" in spec["paths"]
    assert "JobSubmit" in spec["components"]["schemas"]
    status, body = get("/metrics")
    text = body.decode()
    assert status == 200
    assert "slurm_queue_running 1.0" in text and "slurm_cpus_alloc 1.0" in text
    live.run("scancel", str(job_id))
