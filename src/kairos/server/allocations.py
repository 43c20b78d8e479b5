"""Allocation-only jobs: resources held by ``srun`` (outside any job) or ``salloc``.

Such a job has no batch script: once the core starts it, nothing is launched; its
holder runs steps in it and gives it back with ``release`` (the job ends COMPLETED, or
FAILED with the holder's exit code).  While it runs, the holder says it is still there
every few seconds (``keepalive``); a holder silent for ``KEEPALIVE_TIMEOUT`` seconds has
died (``kill -9``, a lost terminal), and the job ends CANCELLED rather than holding its
nodes until its time limit.  The controller enforces that time limit itself (there is no
batch supervisor to do it): TIMEOUT, and the steps are killed.
"""

from __future__ import annotations

import math

from kairos.core.jobs import JobState
from kairos.server.ending import Ending

#: Seconds without a keepalive before an allocation's holder is taken for gone.
KEEPALIVE_TIMEOUT = 60.0


def allocation_of(controller, label: str, caller, *, running: bool = False):
    """The allocation-only job ``label`` names, if ``caller`` may hold it."""
    from kairos.server.admission import SubmitError

    job = controller.job(label, caller)
    if job.submission is None or not job.submission.allocation:
        raise SubmitError(f"job {job.label} is a batch job, not an allocation")
    if running and job.state is not JobState.RUNNING:
        raise SubmitError(f"job {job.label} is {job.state.name}: not allocated")
    return job


def started(controller, job) -> None:
    """``job`` (an allocation) was given its nodes: its holder has until the deadline."""
    controller.allocation_deadline[job.job_id] = controller.clock() + KEEPALIVE_TIMEOUT


def keepalive(controller, job) -> None:
    if job.job_id in controller.allocation_deadline:
        controller.allocation_deadline[job.job_id] = controller.clock() + KEEPALIVE_TIMEOUT


def release(controller, job, exit_code: int) -> None:
    """The holder is done: the job ends at the next round, with ``exit_code``."""
    if job.job_id in controller.allocation_deadline:
        controller.allocation_released[job.job_id] = exit_code
        controller.wake()


def ended(controller, now: float) -> list:
    """The allocations that end this round (released, holder gone, out of time)."""
    out = []
    for job_id, deadline in list(controller.allocation_deadline.items()):
        job = controller.jobs.get(job_id)
        if job is None or job_id not in controller.scheduler.running:
            forget(controller, job_id)
            continue
        released = job_id in controller.allocation_released
        code = controller.allocation_released.get(job_id)
        limit = job.time_limit
        if released and code is None:
            out.append(Ending(job_id, JobState.CANCELLED, 0, None))
        elif released:
            state = JobState.COMPLETED if code == 0 else JobState.FAILED
            out.append(Ending(job_id, state, code, None,
                              reason="None" if code == 0 else "NonZeroExitCode"))
        elif limit is not None and not math.isinf(limit) and now >= job.start_time + limit:
            out.append(Ending(job_id, JobState.TIMEOUT, 0, None, reason="TimeLimit"))
        elif now > deadline:
            out.append(Ending(job_id, JobState.CANCELLED, 0, None,
                              reason="the allocation's holder stopped answering"))
    return out


def forget(controller, job_id: int) -> None:
    controller.allocation_deadline.pop(job_id, None)
    controller.allocation_released.pop(job_id, None)
