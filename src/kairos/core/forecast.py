"""Start-time forecasts: when will a pending job start?

The answer ``squeue --start`` tries to give, computed the only honest way: run a copy of
the scheduler forward from its current state, assuming no further submissions and that
every job runs exactly as long as the scheduler expects (running jobs until their
expected ends, pending ones for their estimates).  The copy uses the same policy, queue
order and corrections, so a forecast is exactly what the scheduler would do if those
assumptions held; its error measures the estimates, not a second model of the scheduler.
"""

from __future__ import annotations

import copy
import heapq
import math
from collections import ChainMap
from collections.abc import Iterable

from kairos.core.jobs import JobState
from kairos.core.scheduler import Scheduler


def forecast_starts(scheduler: Scheduler, now: float,
                    job_ids: Iterable[int] | None = None) -> dict[int, float]:
    """Forecast start times of pending jobs (all of them, or ``job_ids``) from ``now``.

    A job that would never start under the assumptions (held, or waiting on a dependency
    that cannot be met) is forecast at ``math.inf``.  ``scheduler`` is not changed.
    """
    pending = scheduler.pending()
    wanted = {j.id for j in pending} if job_ids is None else set(job_ids)
    twin = Scheduler(scheduler.cluster, scheduler.policy, copy.deepcopy(scheduler.order),
                     correct=scheduler.correct)
    twin.outcomes = ChainMap({}, scheduler.outcomes)  # reads fall through, writes stay here
    twin._last_recalc = scheduler._last_recalc
    ends: list[tuple[float, int]] = []
    for job in scheduler.running.values():
        clone = copy.copy(job)
        twin.adopt(clone, now)
        ends.append((clone.expected_end, clone.id))
    heapq.heapify(ends)
    begins = []
    for job in sorted(pending, key=lambda j: (j.submit, j.id)):
        clone = copy.copy(job)
        twin.submit(clone, now)
        if clone.begin > now:
            begins.append(clone.begin)
    heapq.heapify(begins)
    forecast: dict[int, float] = {}
    t = now
    while True:
        for action in twin.schedule(t):
            if action.job_id in wanted:
                forecast[action.job_id] = t
            heapq.heappush(ends, (action.expected_end, action.job_id))
        if len(forecast) == len(wanted) or (not ends and not begins):
            break
        t = min(ends[0][0] if ends else math.inf, begins[0] if begins else math.inf)
        while begins and begins[0] <= t:
            heapq.heappop(begins)
        while ends and ends[0][0] <= t:
            twin.end(heapq.heappop(ends)[1], t, JobState.COMPLETED)
    return {job_id: forecast.get(job_id, math.inf) for job_id in wanted}
