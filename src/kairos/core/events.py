"""Events in: what a driver tells the scheduler, each stamped with its time ``at``.

``handle(scheduler, event)`` applies one event and returns the actions it causes
(``kairos.core.actions``); the live controller carries those out and nothing else
decides.  ``handle_all`` applies a batch in the order below.  The twin calls the
scheduler's methods directly on its hot path, in that same order.

At one instant, events are applied in the order of ``ORDER``: ends first, then cancels,
then submissions and requeues, then one scheduling pass.  The order changes backfill results (a job
that ended frees its processors for the jobs submitted at that instant), so it is a named
constant rather than an accident of an event loop; a property test checks that the
twin and ``handle_all`` decide alike whatever order simultaneous events arrive in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import singledispatch

from kairos.core.jobs import Job, JobState


@dataclass(frozen=True, slots=True)
class JobSubmitted:
    at: float
    job: Job


@dataclass(frozen=True, slots=True)
class JobEnded:
    """A running job finished, in any final state (the driver saw it end)."""

    at: float
    job_id: int
    state: JobState = JobState.COMPLETED
    exit_code: int = 0


@dataclass(frozen=True, slots=True)
class JobCancelled:
    """Someone asked to stop a job: a pending one is gone at once, a running one gets a
    ``KillJob``.  With ``requeue`` the driver queues a running job again once it ended."""

    at: float
    job_id: int
    requeue: bool = False


@dataclass(frozen=True, slots=True)
class JobRequeued:
    """A job that ended (or was stopped to be requeued) goes back to the queue under its
    own id (``scontrol requeue``)."""

    at: float
    job: Job


@dataclass(frozen=True, slots=True)
class SchedulePass:
    at: float


#: Priority of each event type at equal timestamps (lower first).
ORDER = {JobEnded: 0, JobCancelled: 1, JobSubmitted: 2, JobRequeued: 2, SchedulePass: 3}


def in_order(events: Iterable) -> list:
    """``events`` sorted by time, then by ``ORDER``, then by job id: events of one kind
    at one instant are applied in job id order, whatever order they arrived in (as the
    twin ends and submits them), because that order too can show in the decisions (a
    predictor learns from the last job it saw end)."""
    return sorted(events, key=_sort_key)


def _sort_key(event) -> tuple[float, int, int]:
    job = getattr(event, "job", None)
    job_id = job.id if job is not None else getattr(event, "job_id", 0)
    return event.at, ORDER[type(event)], job_id


def handle(scheduler, event) -> list:
    """Apply ``event`` to ``scheduler``; return the actions it causes."""
    return _apply(event, scheduler)


def handle_all(scheduler, events: Iterable) -> list:
    """Apply ``events`` in order (``in_order``); return every action they cause."""
    actions: list = []
    for event in in_order(events):
        actions.extend(_apply(event, scheduler))
    return actions


@singledispatch
def _apply(event, scheduler) -> list:  # dispatches on the event's type
    raise TypeError(f"unknown event {event!r}")


@_apply.register
def _(event: JobSubmitted, scheduler) -> list:
    scheduler.submit(event.job, event.at)
    return []


@_apply.register
def _(event: JobEnded, scheduler) -> list:
    scheduler.end(event.job_id, event.at, event.state, event.exit_code)
    return []


@_apply.register
def _(event: JobCancelled, scheduler) -> list:
    return scheduler.cancel(event.job_id, event.at, requeue=event.requeue)


@_apply.register
def _(event: JobRequeued, scheduler) -> list:
    scheduler.requeue(event.job, event.at)
    return []


@_apply.register
def _(event: SchedulePass, scheduler) -> list:
    return scheduler.schedule(event.at)
