"""``kairos why``: a pending job's explanation (``kairos.core.explain``) for the wire,
and the plain answers for jobs that do not wait.

The forecast is the one ``squeue --start`` shows: both call the core's forecast on the
same scheduler at the same clock.
"""

from __future__ import annotations

import math

from kairos.core.explain import Explanation, explain
from kairos.core.jobs import JobState
from kairos.model.job import LiveJob
from kairos.server import views
from kairos.server.errors import NotFound
from kairos.server.permissions import Caller


class NotPending(Exception):
    """The job does not wait: the message says what it does instead."""


def why(controller, label: str, caller: Caller) -> dict:
    """The explanation of the pending job ``label`` (of an array: its first pending
    task) as a ``WhyInfo`` dict.  Only the job's owner and admins may ask (the what-ifs
    are advice to its owner).  ``NotFound`` for an unknown job; ``NotPending`` for one
    that is running or finished; ``PermissionDenied``."""
    found = views.by_label(controller, label)
    if not found:
        job = controller.store.get(int(label)) if str(label).isdigit() else None
        if job is None:
            raise NotFound(f"Invalid job id specified: {label}")
        found = [job]
    job = next((j for j in found if j.state is JobState.PENDING), found[0])
    controller.permissions.check_owner(job, caller)
    if job.state is not JobState.PENDING:
        raise NotPending(not_pending(job))
    e = explain(controller.scheduler, controller.clock(), job.job_id,
                stop=views.forecast_stop(controller))
    return to_wire(controller, job, e)


def not_pending(job: LiveJob) -> str:
    """What a job that does not wait is doing, in one line."""
    from kairos.slurm.timespec import format_timestamp

    what = f"job {job.label} is {job.state.name}"
    if job.state.active:
        where = f" on {job.node_list}" if job.node_list else ""
        what += f" since {format_timestamp(job.start_time)}{where}"
    elif job.end_time is not None:
        what += f" (ended {format_timestamp(job.end_time)})"
    return what + ": only a pending job waits"


def to_wire(controller, job: LiveJob, e: Explanation) -> dict:
    def label(job_id: int) -> str:
        live = controller.jobs.get(job_id)
        return live.label if live is not None else str(job_id)

    def when(t: float | None) -> float | None:
        return None if t is None or not math.isfinite(t) else t

    def reservation(r) -> dict:
        return {"job_id": label(r.job_id), "user": r.user, "start": r.start}

    low, high = e.interval
    return {
        "job_id": job.label, "user": job.user, "partition": job.partition, "now": e.now,
        "reason": e.reason, "rule": e.rule, "policy": e.policy, "order": e.order,
        "expected_start": when(e.start), "start_interval": (when(low), when(high)),
        "forecast_known": e.known,
        "nodes": list(e.nodes), "time_limit": when(e.time_limit),
        "estimate": when(e.estimate), "begin": e.begin, "jobs_ahead": e.ahead,
        "reservation": None if e.reservation is None else reservation(e.reservation),
        "blocking": [reservation(r) for r in e.blocking],
        "holders": [{"job_id": label(h.job_id), "user": h.user, "nodes": list(h.nodes),
                     "expected_end": h.expected_end, "limit_end": when(h.limit_end)}
                    for h in e.holders],
        "dependencies": [{"kind": d.kind, "job_id": None if d.job_id is None else label(d.job_id),
                          "status": d.status, "state": d.state} for d in e.dependencies],
        "what_ifs": [{"kind": w.kind, "changes": dict(w.changes), "start": w.start,
                      "nodes": list(w.nodes)} for w in e.what_ifs],
    }
