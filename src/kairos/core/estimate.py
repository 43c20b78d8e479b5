"""How the core learns runtimes without knowing who predicts them.

The scheduler plans with ``job.estimate``.  A ``RuntimeEstimator`` (``kairos.predict``
provides several) is asked once, when a job is submitted, and is told of every job that
finishes - and nothing else, so a prediction can only ever draw on jobs that ended before
it was made.  A job is never killed for outliving its estimate: only ``time_limit`` ends
it.  When a running job outlives its expected end, a ``Correction`` moves that end out.
"""

from __future__ import annotations

from typing import Protocol

from kairos.core.jobs import Job

#: The shortest runtime the scheduler plans with (a prediction of 0 s would let a job
#: reserve nothing at all).
MIN_ESTIMATE = 1.0


class RuntimeEstimator(Protocol):
    name: str

    def estimate(self, job: Job, now: float) -> float:
        """Predicted runtime (seconds) of ``job``, submitted at ``now``.  The scheduler
        clamps it to ``[MIN_ESTIMATE, job.time_limit]``."""
        ...

    def observe(self, job: Job, now: float) -> None:
        """``job`` finished at ``now`` (``job.start``/``job.end`` are set): learn from it."""
        ...


class Correction(Protocol):
    def __call__(self, job: Job, now: float) -> float:
        """A new expected end (> ``now``) for a running ``job`` whose expected end has
        passed."""
        ...
