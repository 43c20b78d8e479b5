"""Replay a workload through the scheduling core on a virtual clock.

The loop is the SWF replay of the literature: at each instant, completions first, then
arrivals, then one scheduling pass (``kairos.core.events.ORDER``).  A started job ends at
start + its true runtime; the scheduler only ever sees its estimate.  There is no
scheduling logic here: every decision comes from ``kairos.core.Scheduler``.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from kairos.core import Cluster, Job, Scheduler
from kairos.sim.workload import Workload

#: How often (in finished jobs) the progress callback is called.
PROGRESS_EVERY = 4096


@dataclass
class ReplayResult:
    workload: Workload
    policy: str
    order: str
    jobs: list[Job]  #: every simulated job, with start and end set
    wall_seconds: float  #: how long the replay took (for jobs/s)


def fresh_copy(job: Job) -> Job:
    """A new pending job with the same submission fields (replays never share state)."""
    return Job(
        job.id, job.user, job.submit, job.request, job.time_limit, job.estimate, job.name,
        job.group, job.account, job.partition, job.qos, job.time_min, job.dependencies,
        job.begin, job.held, job.nice, job.admin_priority, job.array_job_id,
        job.array_task_id, job.meta,
    )


def replay(workload: Workload, policy: str = "easy", order: str = "submit", *,
           progress: Callable[[int], None] | None = None,
           scheduler: Scheduler | None = None,
           observe: Callable[[float, Scheduler, list], None] | None = None) -> ReplayResult:
    """Simulate ``workload`` under ``policy`` and queue ``order``.

    ``observe(now, scheduler, starts)`` is called after every pass (tests check
    invariants with it).  ``scheduler`` may be supplied pre-configured (a predictor's correction, a custom
    order); it must be empty and its cluster must match the workload's machine.
    """
    began = time.perf_counter()
    sched = scheduler or Scheduler(Cluster.pool(workload.procs), policy, order)
    jobs = [fresh_copy(j) for j in workload.jobs]
    runtimes = workload.runtimes
    submit, end, schedule = sched.submit, sched.end, sched.schedule
    heappush, heappop = heapq.heappush, heapq.heappop
    running: list[tuple[float, int]] = []  # (end time, job id)
    n, i, done = len(jobs), 0, 0
    next_report = PROGRESS_EVERY
    inf = math.inf
    while i < n or running:
        t = jobs[i].submit if i < n else inf
        if running and running[0][0] <= t:
            t = running[0][0]
            while running and running[0][0] == t:
                end(heappop(running)[1], t)
                done += 1
        while i < n and jobs[i].submit == t:
            submit(jobs[i], t)
            i += 1
        starts = schedule(t)
        for action in starts:
            heappush(running, (t + runtimes[action.job_id], action.job_id))
        if observe is not None:
            observe(t, sched, starts)
        if progress is not None and done >= next_report:
            progress(done)
            next_report += PROGRESS_EVERY
    if progress is not None:
        progress(done)
    return ReplayResult(workload, sched.policy.name, sched.order.name, jobs,
                        time.perf_counter() - began)
