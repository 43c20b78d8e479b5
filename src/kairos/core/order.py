"""Queue order: a sort key over pending jobs.

The scheduler keeps pending jobs sorted by ``order.key(job)``; ties are broken by submit
time and then job id, so a replay repeats exactly.  A static order's key never changes
once a job is queued.  A dynamic order (multifactor priority) recomputes every key at
``recalc_period`` intervals, like Slurm's PriorityCalcPeriod, and then the queue is re-sorted.
"""

from __future__ import annotations

import math
from typing import Callable, Protocol

from kairos.core.jobs import Job


class QueueOrder(Protocol):
    name: str
    #: None for a static order; else seconds between recomputations of every key.
    recalc_period: float | None

    def key(self, job: Job) -> tuple:
        """The sort key, smallest first.  For a dynamic order: from the last ``recalc``."""
        ...

    def recalc(self, jobs: list[Job], now: float, *, charge: bool = True) -> None:
        """Recompute priorities for ``jobs`` at time ``now`` (dynamic orders only).
        ``charge``: bring running jobs' usage up to ``now`` first (the periodic
        recalculation does; a single new job takes the usage as last charged)."""
        ...

    def job_started(self, job: Job, now: float) -> None: ...

    def job_ended(self, job: Job, now: float) -> None: ...


class SubmitOrder:
    """First come, first served: submit time, then job id."""

    name = "submit"
    recalc_period = None

    def key(self, job: Job) -> tuple:
        return (job.submit, job.id)

    def recalc(self, jobs: list[Job], now: float, *, charge: bool = True) -> None:
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


class F1Score(SubmitOrder):
    """F1 of Carastan-Santos & de Camargo (SC 2017), a priority function learned from
    simulations: ``log10(r) * n + 870 * log10(s)``, smallest first, with ``r`` the
    requested time (``time_limit``), ``n`` the processors and ``s`` the submit time.

    ``r`` and ``s`` count as at least 1 s, so a zero gives a 0 term instead of a domain
    error; a job without a time limit (infinite ``r``) sorts after every job that has one.
    The submit term depends on where the clock starts: on a trace's own clock (large
    ``s``) it changes slowly and the size term dominates; on a clock that starts at the
    first arrival it weighs arrival order far more heavily for the first jobs.
    """

    name = "f1"

    def key(self, job: Job) -> tuple:
        r = max(job.time_limit, 1.0)
        s = max(job.submit, 1.0)
        return (math.log10(r) * job.request.cpus + 870.0 * math.log10(s), job.submit, job.id)


def _multifactor() -> QueueOrder:
    from kairos.core.priority import MultifactorPriority

    return MultifactorPriority()


ORDERS: dict[str, Callable[[], QueueOrder]] = {
    "submit": SubmitOrder,
    "sjf": ShortestEstimateFirst,
    "f1": F1Score,
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
