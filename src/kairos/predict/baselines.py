"""Reference predictors: what users ask for, what their last runs say, and the truth.

* ``UserEstimate`` (``user``): the requested time, i.e. the job's ``time_limit`` - what
  Slurm plans with today.
* ``LastTwo`` (``last2``): Tsafrir, Etsion and Feitelson, "Backfilling using
  system-generated predictions rather than user runtime estimates" (IEEE TPDS 2007): the
  mean of the runtimes of the user's last two finished jobs, never more than the request;
  with one finished job its runtime, with none the request.
* ``Oracle`` (``oracle``): the true runtime, read from the workload.  It cannot exist in a
  real system; replays use it as the bound a perfect predictor would reach.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

from kairos.core.jobs import Job
from kairos.predict.features import job_runtime

__all__ = ["LastTwo", "Oracle", "UserEstimate"]


def _cap(value: float, job: Job) -> float:
    limit = job.time_limit
    return min(limit, value)


class UserEstimate:
    """The requested time (``time_limit``)."""

    name = "user"

    def estimate(self, job: Job, now: float) -> float:
        return job.time_limit

    def observe(self, job: Job, now: float) -> None:
        pass


class LastTwo:
    """Mean of the user's last two finished runtimes, capped at the request."""

    name = "last2"

    def __init__(self) -> None:
        self.history: dict[str, deque[float]] = {}

    def estimate(self, job: Job, now: float) -> float:
        h = self.history.get(job.user)
        if not h:
            return job.time_limit
        value = h[0] if len(h) == 1 else (h[0] + h[1]) * 0.5
        return _cap(value, job)

    def observe(self, job: Job, now: float) -> None:
        h = self.history.get(job.user)
        if h is None:
            h = self.history[job.user] = deque(maxlen=2)
        h.append(job_runtime(job, now))

    def state(self) -> dict:
        return {"history": {u: list(h) for u, h in self.history.items()}}

    @classmethod
    def from_state(cls, state: dict) -> LastTwo:
        p = cls()
        p.history = {u: deque(h, maxlen=2) for u, h in state["history"].items()}
        return p


class Oracle:
    """The true runtime (``runtimes[job.id]``); the request for a job it does not know."""

    name = "oracle"

    def __init__(self, runtimes: Mapping[int, float]) -> None:
        if runtimes is None:
            raise ValueError("the oracle needs the true runtimes (a workload's runtimes)")
        self.runtimes = runtimes

    def estimate(self, job: Job, now: float) -> float:
        value = self.runtimes.get(job.id)
        if value is None or math.isnan(value):
            return job.time_limit
        return _cap(float(value), job)

    def observe(self, job: Job, now: float) -> None:
        pass
