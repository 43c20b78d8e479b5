"""Start-time forecasts: when will a pending job start?

The answer ``squeue --start`` tries to give, computed the only honest way: run a copy of
the scheduler forward from its current state, assuming no further submissions and that
every job runs exactly as long as the scheduler expects (running jobs until their
expected ends, pending ones for their estimates).  The copy uses the same policy, queue
order, corrections and per-user limits and, under conservative backfilling, starts from
the scheduler's own promises (a search anew would give other ones: each promise was made
around those of the jobs behind it), so a forecast is exactly what the scheduler would
do if those assumptions held (a test runs a deep copy of the scheduler forward to check
it); its error measures the estimates, not a second model of the scheduler.

Two variations serve explanations (``kairos.core.explain``): ``to_limits`` runs every
job to its time limit instead (the pessimistic end of a forecast's interval), and
``changed`` puts a modified copy of a pending job in its place (a what-if: a shorter
time limit, fewer nodes, another partition).

Running forward costs a scheduling pass per job that ends: on a large cluster with a
long queue, minutes.  ``stop``, asked after each pass and every ``STOP_EVERY`` jobs of a
walk in queue order or promises put back (``kairos.core.promises``), lets a caller bound
that (the live controller gives each request a budget of its own time, as Slurm's
backfill stops after ``bf_max_time``); a job that has not started when it stops has no
forecast (``Forecast.known`` is False), which is not the same as never starting.
"""

from __future__ import annotations

import copy
import dataclasses
import heapq
import math
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from kairos.core.jobs import Job, JobState
from kairos.core.scheduler import Scheduler


@dataclass(frozen=True, slots=True)
class Forecast:
    """Where and when a pending job would start: ``start`` is ``math.inf`` (and
    ``nodes`` empty) when it never would under the forecast's assumptions."""

    start: float
    nodes: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        """False when the forecast stopped (``stop``) before the job started: ``start``
        is then NaN."""
        return not math.isnan(self.start)


#: A job the forecast did not reach before it was stopped.
UNKNOWN = Forecast(math.nan)


def forecast_starts(scheduler: Scheduler, now: float,
                    job_ids: Iterable[int] | None = None, *, to_limits: bool = False,
                    changed: Mapping[int, Job] | None = None,
                    stop: Callable[[], bool] | None = None) -> dict[int, float]:
    """Forecast start times of pending jobs (all of them, or ``job_ids``) from ``now``.

    A job that would never start under the assumptions (held, or waiting on a dependency
    that cannot be met) is forecast at ``math.inf``.  ``scheduler`` is not changed.
    ``to_limits``: every job runs to its time limit rather than its expected end or
    estimate.  ``changed``: pending job id -> the job to queue in its place (a copy
    with other fields; it keeps the id and is planned on its own ``estimate``).
    ``stop()``: asked after each simulated pass; once it says True the forecast ends,
    and the jobs not started by then are left out of the answer.
    """
    found = forecast(scheduler, now, job_ids, to_limits=to_limits, changed=changed, stop=stop)
    return {job_id: f.start for job_id, f in found.items() if f.known}


def forecast(scheduler: Scheduler, now: float, job_ids: Iterable[int] | None = None, *,
             to_limits: bool = False, changed: Mapping[int, Job] | None = None,
             stop: Callable[[], bool] | None = None,
             extra: Iterable[Job] = ()) -> dict[int, Forecast]:
    """As ``forecast_starts``, each start with the nodes the job would start on; a job
    not started when ``stop`` ended the forecast is ``UNKNOWN``.  ``extra``: jobs queued
    in the copy only, as if submitted at ``now`` (``sbatch --test-only``: the scheduler
    never holds them); ``Unsatisfiable`` for one that could never run."""
    changed = changed or {}
    pending = scheduler.pending()
    wanted = {j.id for j in pending} if job_ids is None else set(job_ids)
    twin = Scheduler(scheduler.cluster, scheduler.policy, copy.deepcopy(scheduler.order),
                     correct=scheduler.correct)
    twin.outcomes = ChainMap({}, scheduler.outcomes)  # reads fall through, writes stay here
    twin._last_recalc = scheduler._last_recalc
    twin.qos_max_jobs_per_user = dict(scheduler.qos_max_jobs_per_user)
    twin.stop = stop  # asked inside long walks too: a first pass can take minutes
    ends: list[tuple[float, int]] = []
    for job in scheduler.running.values():
        clone = copy.copy(job)
        if to_limits:
            clone.expected_end = clone.start + clone.time_limit  # adopt corrects a past one
        twin.adopt(clone, now)
        ends.append((clone.expected_end, clone.id))
    heapq.heapify(ends)
    begins = []
    for job in sorted(pending, key=lambda j: (j.submit, j.id)):
        clone = copy.copy(changed.get(job.id, job))
        if to_limits:
            clone.estimate = clone.time_limit
        twin.submit(clone, now)
        if clone.begin > now:
            begins.append(clone.begin)
    for job in extra:
        clone = copy.copy(job)
        twin.submit(clone, now)
        if clone.begin > now:
            begins.append(clone.begin)
    heapq.heapify(begins)
    live = scheduler._walk
    if (live is not None and scheduler.policy.keeps_promises and not to_limits and not changed
            and not scheduler.policy.reference):
        # Conservative: the copy starts from the promises of the scheduler's last walk,
        # put back into its own profile and searched again only where something was
        # freed since (as the scheduler's next fresh walk would), not from a first pass
        # that searches every job's slot anew (the same promises: minutes on a large
        # cluster).  Estimates or requests changed here (``to_limits``, ``changed``)
        # would make those promises another schedule's.
        fork = getattr(live.profile, "fork", None)
        if fork is None:  # the per-step reference profile: put the promises back
            twin._walk = live
        else:  # carried on as the scheduler's next pass would: the same code, cheaply
            twin._walk = dataclasses.replace(
                live, profile=fork(twin.resources), held=dict(live.held),
                reservations=dict(live.reservations), moved=copy.deepcopy(live.moved),
                changed=None if live.changed is None else set(live.changed))
            twin._patches = list(scheduler._patches)
            twin._rebuild = scheduler._rebuild
        twin._freed = copy.deepcopy(scheduler._freed)
    found: dict[int, Forecast] = {}
    t = now
    while True:
        for action in twin.schedule(t):
            if action.job_id in wanted:
                found[action.job_id] = Forecast(
                    t, tuple(twin.resources.describe(action.placement)))
            heapq.heappush(ends, (action.expected_end, action.job_id))
        if twin.cut or (stop is not None and len(found) < len(wanted) and (ends or begins)
                        and stop()):
            return {job_id: found.get(job_id, UNKNOWN) for job_id in wanted}
        if len(found) == len(wanted) or (not ends and not begins):
            break
        t = min(ends[0][0] if ends else math.inf, begins[0] if begins else math.inf)
        if math.isinf(t):
            break  # only jobs without a time limit still run: nothing more ever frees
        while begins and begins[0] <= t:
            heapq.heappop(begins)
        while ends and ends[0][0] <= t:
            twin.end(heapq.heappop(ends)[1], t, JobState.COMPLETED)
    never = Forecast(math.inf)
    return {job_id: found.get(job_id, never) for job_id in wanted}
