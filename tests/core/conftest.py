"""Helpers for core tests: tiny workloads written as tuples."""

from __future__ import annotations

import pytest

from kairos.core import Job, Request
from kairos.sim.workload import Workload


def make_workload(rows, procs, name="test") -> Workload:
    """``rows``: (id, submit, procs, runtime, estimate[, user]) tuples."""
    jobs, runtimes = [], {}
    for row in rows:
        job_id, submit, n, runtime, estimate = row[:5]
        user = row[5] if len(row) > 5 else "u1"
        jobs.append(Job(job_id, user, submit, Request.procs(n), time_limit=estimate))
        runtimes[job_id] = runtime
    jobs.sort(key=lambda j: (j.submit, j.id))
    return Workload(name=name, procs=procs, jobs=jobs, runtimes=runtimes)


@pytest.fixture
def workload_of():
    return make_workload
