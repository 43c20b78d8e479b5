"""The replay's copies of submitted jobs: every submitted field survives, every field the
scheduler decides starts anew."""

from __future__ import annotations

from dataclasses import fields

from kairos.core.jobs import DECIDED_BY_SCHEDULER, Job, JobState, Request
from kairos.sim.replay import fresh_copy, replay
from kairos.sim.workload import Workload


def test_a_copy_keeps_the_array_limit():
    job = Job(7, "alice", 0.0, Request.procs(1), 100.0, array_job_id=7, array_task_id=2,
              array_limit=3)
    assert fresh_copy(job).array_limit == 3


def test_the_decided_fields_are_those_declared_after_the_submitted_ones():
    # Job declares what was submitted first, then what the scheduler decides, from
    # ``state`` on: a field added to either part lands on the right side of the copy.
    names = [f.name for f in fields(Job)]
    assert DECIDED_BY_SCHEDULER == set(names[names.index("state"):])


def test_every_submitted_field_survives_and_every_decided_one_starts_anew():
    """Each constructor field of the original gets a value of its own (a distinct float:
    the copy must pass it on as is), so a field added to ``Job`` later is checked too."""
    job = Job(1, "alice", 0.0, Request.procs(1))
    for number, f in enumerate(fields(Job)):
        if f.init:
            setattr(job, f.name, 1000.0 + number)
    copy = fresh_copy(job)
    pending = Job(1, "alice", 0.0, Request.procs(1))
    for f in fields(Job):
        if not f.init:
            continue
        if f.name in DECIDED_BY_SCHEDULER:
            assert getattr(copy, f.name) == getattr(pending, f.name), f.name
        else:
            assert getattr(copy, f.name) is getattr(job, f.name), f.name
    assert copy.state is JobState.PENDING


def test_the_twin_honours_an_array_limit():
    """Four tasks of one array, room for all at once, at most two running together."""
    jobs = [Job(i, "alice", 0.0, Request.procs(1), 10.0, array_job_id=1, array_task_id=i,
                array_limit=2) for i in range(1, 5)]
    workload = Workload("array", 8, jobs, {j.id: 10.0 for j in jobs})
    starts = sorted(j.start for j in replay(workload, "easy").jobs)
    assert starts == [0.0, 0.0, 10.0, 10.0]
