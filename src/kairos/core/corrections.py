"""What to believe when a running job outlives its expected end.

A prediction shorter than the truth must not kill the job (only ``time_limit`` does);
instead its expected end moves out.  How far decides how soon the scheduler trusts the
freed resources again, so three rules are offered and measured (``benchmarks/``):

* ``limit``     - jump to the requested time limit (what plain Slurm would have assumed).
* ``tsafrir``   - Tsafrir, Etsion & Feitelson (2007), as in the pyss simulators: the k-th
  correction sets the runtime to elapsed + 1 min, 5 min, 15 min, 30 min, 1 h, 2 h, 5 h,
  10 h, 20 h, 50 h, 100 h (then 100 h again), never past the limit.
* ``metastack`` - Metastack (Slurm 22.05 based): one more hour at a time, up to the limit.
* ``remaining`` - the conditional remaining time: among the recent finished jobs that ran
  at least as long, relative to their estimate, as this one has so far, the median
  runtime / estimate sets the new end (never less than a minute ahead).  It needs what
  the predictor learned (``conditional_ratio``, kept by ``ml``), so it is built with
  ``make_correction("remaining", estimator=...)``: ``RemainingTime``.

Each takes the job (``start``, ``expected_end``, ``time_limit``, ``corrections`` - how
many times it was corrected before) and ``now``; the result always lies after ``now``.
"""

from __future__ import annotations

import math
from typing import Callable

from kairos.core.jobs import Job

#: After its limit, a job is about to be killed: assume it ends in a moment.
OVERDUE_SLACK = 1.0

TSAFRIR_STEPS = (60, 300, 900, 1800, 3600, 7200, 18000, 36000, 72000, 180000, 360000)


def _capped(job: Job, end: float, now: float) -> float:
    limit_end = job.start + job.time_limit
    end = min(end, limit_end)
    return end if end > now else now + OVERDUE_SLACK


def extend_to_limit(job: Job, now: float) -> float:
    return _capped(job, job.start + job.time_limit, now)


def tsafrir(job: Job, now: float) -> float:
    step = TSAFRIR_STEPS[min(job.corrections, len(TSAFRIR_STEPS) - 1)]
    return _capped(job, now + step, now)


def metastack(job: Job, now: float) -> float:
    end = job.expected_end
    while end <= now:
        end += 3600.0
    return _capped(job, end, now)


class RemainingTime:
    """``remaining``: elapsed + the conditional remaining time, from the predictor's errors.

    A running job planned with estimate ``p`` that is still running after ``e`` seconds
    has ratio runtime / p above ``x = e / p``.  ``estimator.conditional_ratio(x, q)`` is
    the ``quantile``-quantile of that ratio among recent finished jobs whose ratio
    exceeded ``x`` (it sees only jobs that ended); the new end is start + p times it, at
    least ``floor`` seconds from now, never past the time limit.  When too few recent jobs
    ran that long (NaN), it assumes the job runs to its limit, as ``limit`` does.  A
    higher ``quantile`` never gives an earlier end.
    """

    def __init__(self, estimator, quantile: float = 0.5, floor: float = 60.0) -> None:
        ask = getattr(estimator, "conditional_ratio", None)
        if ask is None:
            raise ValueError(
                f"the 'remaining' correction needs a predictor that learns how long jobs "
                f"outlive their estimates (one with conditional_ratio, such as 'ml'); "
                f"got {getattr(estimator, 'name', estimator)!r}: choose such a predictor or "
                f"another correction ({', '.join(k for k in CORRECTIONS if k != 'remaining')})")
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must lie strictly between 0 and 1, not {quantile!r}")
        if floor < 0:
            raise ValueError(f"floor must be >= 0 seconds, not {floor!r}")
        self.ask = ask
        self.quantile = float(quantile)
        self.floor = float(floor)

    def __call__(self, job: Job, now: float) -> float:
        elapsed = now - job.start
        planned = job.estimate if job.estimate > 0 else job.time_limit
        ratio = self.ask(elapsed / planned, self.quantile) if planned < math.inf else math.nan
        if math.isnan(ratio):
            return extend_to_limit(job, now)
        return _capped(job, job.start + max(planned * ratio, elapsed + self.floor), now)


def _needs_estimator(job: Job, now: float) -> float:
    raise ValueError("the 'remaining' correction must be built with its predictor: "
                     "make_correction('remaining', estimator=...)")


CORRECTIONS: dict[str, Callable[[Job, float], float]] = {
    "limit": extend_to_limit,
    "tsafrir": tsafrir,
    "metastack": metastack,
    "remaining": _needs_estimator,  # a name only: make_correction builds RemainingTime
}

#: Corrections built from the runtime predictor (name -> factory(estimator)).
ESTIMATOR_CORRECTIONS: dict[str, Callable[..., Callable[[Job, float], float]]] = {
    "remaining": RemainingTime,
}


_NO_ESTIMATOR = object()


def make_correction(name: str, estimator=_NO_ESTIMATOR) -> Callable[[Job, float], float]:
    """The correction called ``name``.

    Those in ``ESTIMATOR_CORRECTIONS`` are built on ``estimator``, which must then be
    given: None (plans with the requested times, so an overdue job is past its limit,
    where every correction agrees) gives ``limit``; an estimator that cannot serve it, or
    none given at all, a ``ValueError``.
    """
    factory = ESTIMATOR_CORRECTIONS.get(name)
    if factory is not None:
        if estimator is _NO_ESTIMATOR:
            raise ValueError(f"the {name!r} correction reads what the runtime predictor learned: "
                             f"build it with make_correction({name!r}, estimator=...) and pass "
                             f"the result as the scheduler's correct=")
        return extend_to_limit if estimator is None else factory(estimator)
    try:
        return CORRECTIONS[name]
    except KeyError:
        raise ValueError(f"unknown correction {name!r}; choose one of: {', '.join(CORRECTIONS)}") from None
