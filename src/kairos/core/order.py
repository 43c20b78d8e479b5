"""Queue order: a sort key over pending jobs.

The scheduler keeps pending jobs sorted by ``order.key(job)``; ties are broken by submit
time and then job id, so a replay repeats exactly.  A static order's key never changes
once a job is queued.  A dynamic order (multifactor priority) recomputes every key at
``recalc_period`` intervals, like Slurm's PriorityCalcPeriod, and then the queue is re-sorted.
"""

from __future__ import annotations

from typing import Callable, Protocol

from kairos.core.jobs import Job


class QueueOrder(Protocol):
    name: str
    #: None for a static order; else seconds between recomputations of every key.
    recalc_period: float | None

    def key(self, job: Job) -> tuple:
        """The sort key, smallest first.  For a dynamic order: from the last ``recalc``."""
        ...

    def recalc(self, jobs: list[Job], now: float) -> None:
        """Recompute priorities for ``jobs`` at time ``now`` (dynamic orders only)."""
        ...

    def job_started(self, job: Job, now: float) -> None: ...

    def job_ended(self, job: Job, now: float) -> None: ...


class SubmitOrder:
    """First come, first served: submit time, then job id."""

    name = "submit"
    recalc_period = None

    def key(self, job: Job) -> tuple:
        return (job.submit, job.id)

    def recalc(self, jobs: list[Job], now: float) -> None:
        pass

    def job_started(self, job: Job, now: float) -> None:
        pass

    def job_ended(self, job: Job, now: float) -> None:
        pass


class ShortestEstimateFirst(SubmitOrder):
    """Shortest planned runtime first (a classic baseline; can starve long jobs)."""

    name = "sjf"

    def key(self, job: Job) -> tuple:
        return (job.estimate, job.submit, job.id)


def _multifactor() -> QueueOrder:
    from kairos.core.priority import MultifactorPriority

    return MultifactorPriority()


ORDERS: dict[str, Callable[[], QueueOrder]] = {
    "submit": SubmitOrder,
    "sjf": ShortestEstimateFirst,
    "multifactor": _multifactor,
}


def make_order(name: str) -> QueueOrder:
    """Build a queue order by name (``submit``, ``sjf``, ``multifactor``)."""
    try:
        return ORDERS[name]()
    except KeyError:
        raise ValueError(
            f"unknown queue order {name!r}; choose one of: {', '.join(ORDERS)}"
        ) from None
