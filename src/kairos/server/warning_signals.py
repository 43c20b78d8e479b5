"""``--signal`` without ``B:``: the warning a job's steps get before its time limit.

As in Slurm 22.05, the signal goes to every step of the job that runs at the warning
time, on every node, and not to the batch shell (a job that runs no ``srun`` gets
nothing; ``B:`` is for the batch shell, and the job's supervisor sends that one itself,
see ``kairos.node.supervisor``).  The controller sends it: it knows the job's steps on
every node, and its time limit as ``scontrol update`` changes it; an allocation
(``salloc``, ``srun`` outside a job) has only steps, and its time limit is the
controller's to enforce as well.

The warning is due at ``start + time limit - seconds``, once: a limit raised past a
warning already sent arms it again for the new time.  It is sent at least once: a
controller restarted after the warning time sends it again, rather than risk a job
that never hears it.
"""

from __future__ import annotations

import math

from kairos.core.jobs import JobState
from kairos.server import steps


def warning_time(job) -> float | None:
    """When ``job`` (a ``LiveJob``) warns its steps; None: it does not (no ``--signal``,
    ``B:``, no time limit, not running)."""
    submission = job.submission
    if submission is None or submission.warn_signal is None or submission.warn_batch:
        return None
    if job.state is not JobState.RUNNING or job.start_time is None:
        return None
    if job.time_limit is None or math.isinf(job.time_limit):
        return None
    return job.start_time + job.time_limit - submission.warn_time


def watch(controller, job) -> None:
    """Keep ``job`` (new to the controller) among those ``send_due`` looks at, if it
    warns its steps: most jobs do not, and a round must not visit every running job."""
    submission = job.submission
    if submission is not None and submission.warn_signal is not None and not submission.warn_batch:
        controller.warning_jobs.add(job.job_id)


def send_due(controller, now: float) -> float | None:
    """Warn the steps of each running job whose warning time has come; the next warning
    time still ahead (None: none is)."""
    sent = controller.warned
    running = controller.scheduler.running
    for job_id in [j for j in sent if j not in running]:
        del sent[job_id]
    upcoming = None
    jobs = controller.jobs
    watched = controller.warning_jobs
    for job_id in [j for j in watched if j not in jobs]:
        watched.discard(job_id)  # forgotten (``MIN_JOB_AGE``)
    for job_id in watched:
        if job_id not in running:
            continue
        job = jobs[job_id]
        at = warning_time(job)
        if at is None or (job_id in sent and at <= sent[job_id]):
            continue
        if at > now:
            upcoming = at if upcoming is None else min(upcoming, at)
            continue
        sent[job_id] = at
        for step in controller.running_steps(job_id):
            steps.signal_step(controller, step, job.submission.warn_signal)
    return upcoming
