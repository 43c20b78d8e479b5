"""Events in: what a driver tells the scheduler, each stamped with its time ``at``.

``handle(scheduler, event)`` applies one event and returns the actions it causes.  The
twin calls the scheduler's methods directly on its hot path; the live controller records
these events (so a restart can replay them) and applies them through ``handle``.

At one instant, drivers apply events in the order of ``ORDER``: ends first, then node
changes, then submissions, then one scheduling pass.  The order changes backfill results,
so it is a named constant rather than an accident of the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch

from kairos.core.jobs import Job, JobState


@dataclass(frozen=True, slots=True)
class JobSubmitted:
    at: float
    job: Job


@dataclass(frozen=True, slots=True)
class JobEnded:
    at: float
    job_id: int
    state: JobState = JobState.COMPLETED
    exit_code: int = 0


@dataclass(frozen=True, slots=True)
class JobCancelled:
    at: float
    job_id: int


@dataclass(frozen=True, slots=True)
class SchedulePass:
    at: float


#: Priority of each event type at equal timestamps (lower first).
ORDER = {JobEnded: 0, JobCancelled: 1, JobSubmitted: 2, SchedulePass: 3}


def handle(scheduler, event) -> list:
    """Apply ``event`` to ``scheduler``; return the actions it causes."""
    return _apply(event, scheduler)


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
    return scheduler.cancel(event.job_id, event.at)


@_apply.register
def _(event: SchedulePass, scheduler) -> list:
    return scheduler.schedule(event.at)
