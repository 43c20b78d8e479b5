"""What to believe when a running job outlives its expected end.

A prediction shorter than the truth must not kill the job (only ``time_limit`` does);
instead its expected end moves out.  How far decides how soon the scheduler trusts the
freed resources again, so three rules are offered and measured (``benchmarks/``):

* ``limit``     - jump to the requested time limit (what plain Slurm would have assumed).
* ``tsafrir``   - Tsafrir, Etsion & Feitelson (2007), as in the pyss simulators: the k-th
  correction sets the runtime to elapsed + 1 min, 5 min, 15 min, 30 min, 1 h, 2 h, 5 h,
  10 h, 20 h, 50 h, 100 h (then 100 h again), never past the limit.
* ``metastack`` - Metastack (Slurm 22.05 based): one more hour at a time, up to the limit.

Each takes the job (``start``, ``expected_end``, ``time_limit``, ``corrections`` - how
many times it was corrected before) and ``now``; the result always lies after ``now``.
"""

from __future__ import annotations

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


CORRECTIONS: dict[str, Callable[[Job, float], float]] = {
    "limit": extend_to_limit,
    "tsafrir": tsafrir,
    "metastack": metastack,
}


def make_correction(name: str) -> Callable[[Job, float], float]:
    try:
        return CORRECTIONS[name]
    except KeyError:
        raise ValueError(f"unknown correction {name!r}; choose one of: {', '.join(CORRECTIONS)}") from None
