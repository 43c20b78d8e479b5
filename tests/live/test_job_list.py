"""``GET /api/v1/jobs`` through a real controller: the default answer (every field of
each job, as ``JobInfo`` objects), ``fields`` and the columnar layout squeue asks for,
and squeue's text from it the same as from the default answer."""

from __future__ import annotations

import time

import pytest

from kairos.cli.client import ApiError
from kairos.cli.slurm import squeue
from kairos.model import LiveJob
from kairos.model.job import PUBLIC_FIELDS

#: Fields that do not move between two requests (a pending job's priority may).
STILL = ["job_id", "array_job_id", "array_task_id", "name", "user", "state", "reason",
         "dependency", "nodes", "cpus", "gpus", "time_limit", "node_list", "stdout",
         "exit_code", "submit_time", "end_time"]


@pytest.fixture
def queue(live):
    """A held job, a held array, a job waiting on the held one, a completed job."""
    held = live.submit("--hold", "-J", "held", "-t", "5", "--wrap", "true")
    live.submit("--hold", "-J", "sweep", "--array", "0-3", "--wrap", "true")
    live.submit(f"--dependency=afterok:{held}", "-J", "after", "--wrap", "true")
    done = live.submit("-J", "done", "--wrap", "true")
    live.wait(done)
    deadline = time.monotonic() + 10
    while any(job["reason"] == "None" for job in live.client().jobs(states=["PENDING"])):
        assert time.monotonic() < deadline, "the core never gave the pending jobs a reason"
        time.sleep(0.05)
    return live


def test_the_default_answer_is_every_field_of_each_job(queue):
    jobs = queue.client().jobs(all_states=True)
    assert len(jobs) == 7
    assert all(list(job) == list(PUBLIC_FIELDS) for job in jobs)


def test_the_columnar_layout_carries_what_the_default_one_does(queue):
    client = queue.client()
    records = client.jobs(all_states=True)
    fields, rows = client.job_table(STILL, all_states=True)
    assert fields == STILL
    assert [dict(zip(fields, row)) for row in rows] == [
        {name: job[name] for name in STILL} for job in records]
    reasons = {job["name"]: job["reason"] for job in records}
    assert reasons["after"] == "Dependency" and reasons["held"] == "JobHeldUser"
    everything = client.request("GET", "/jobs", query={"layout": "columns",
                                                       "all_states": True})
    assert everything["fields"] == list(PUBLIC_FIELDS)
    assert len(everything["rows"]) == 7


def test_fields_keeps_the_default_layout_with_only_those(queue):
    client = queue.client()
    listed = client.request("GET", "/jobs", query={"fields": ["state", "job_id"],
                                                   "states": ["PENDING"]})
    assert [list(job) for job in listed] == [["state", "job_id"]] * 6
    assert {job["state"] for job in listed} == {"PENDING"}


def test_an_unknown_field_is_refused(queue):
    with pytest.raises(ApiError) as refused:
        queue.client().job_table(["job_id", "colour"])
    assert refused.value.status == 400
    assert "unknown job field(s): colour" in refused.value.message
    with pytest.raises(ApiError) as refused:
        queue.client().request("GET", "/jobs", query={"layout": "rows"})
    assert refused.value.status == 422


@pytest.mark.parametrize("argv", [
    ["-t", "all"],
    ["-t", "all", "-l", "-h"],
    ["-t", "all", "-r", "-o", "%.18i %K %F %T %E %p %Q %r %a %D %C"],
    ["-O", "JobID,Name:10,State,ReasonList,Dependency,TimeLimit,StdOut", "-S", "-i"],
    ["-t", "pd", "-A", "", "-q", "normal", "-S", "j,-i"],
])
def test_squeue_prints_what_it_printed_from_whole_records(queue, argv):
    out = queue.run("squeue", *argv).stdout
    options = squeue.parse_args(argv, {})
    records = queue.client().jobs(all_states=True)
    jobs = squeue.select([LiveJob.from_wire(job) for job in records], options)
    assert out == squeue.render(jobs, options, now=time.time())
