"""Replay a workload through the scheduling core on a virtual clock.

The loop is the SWF replay of the literature: at each instant, completions first, then
arrivals, then one scheduling pass (``kairos.core.events.ORDER``).  A started job ends at
start + its true runtime; the scheduler only ever sees its estimate.  There is no
scheduling logic here: every decision comes from ``kairos.core.Scheduler``.
"""

from __future__ import annotations

import heapq
import math
import operator
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from kairos.core import Cluster, Job, Scheduler
from kairos.core.jobs import DECIDED_BY_SCHEDULER
from kairos.core.corrections import CORRECTIONS, ESTIMATOR_CORRECTIONS, make_correction
from kairos.core.forecast import forecast_starts
from kairos.sim.workload import Workload

#: How often (in finished jobs) the progress callback is called.
PROGRESS_EVERY = 4096


@dataclass
class ReplayResult:
    workload: Workload
    policy: str
    order: str
    jobs: list[Job]  #: every simulated job, with start and end set
    wall_seconds: float  #: how long the replay took (for jobs/s)
    predictor: str = "user"  #: what the scheduler planned with (job.estimate holds it)
    correction: str = "limit"  #: how overdue expected ends were moved out
    #: job id -> start time forecast at its submission (sampled jobs only)
    forecasts: dict[int, float] = field(default_factory=dict)
    #: the self-tuner's decisions (``kairos.sim.tuning``), with ``tuner=``
    tuning: list = field(default_factory=list)


_INIT_FIELDS = [f.name for f in fields(Job) if f.init]
# The submitted fields that lead the constructor go positionally (every replay copies
# every job, and this is as fast as spelling them out), any later ones by keyword.
_LEADING = next((i for i, name in enumerate(_INIT_FIELDS) if name in DECIDED_BY_SCHEDULER),
                len(_INIT_FIELDS))
_leading_fields = operator.attrgetter(*_INIT_FIELDS[:_LEADING])
_LATER_FIELDS = [name for name in _INIT_FIELDS[_LEADING:] if name not in DECIDED_BY_SCHEDULER]


def fresh_copy(job: Job) -> Job:
    """A new pending job with every submitted field of ``job`` (replays never share
    scheduling state); the fields in ``DECIDED_BY_SCHEDULER`` start anew."""
    return Job(*_leading_fields(job), **{name: getattr(job, name) for name in _LATER_FIELDS})


def replay(workload: Workload, policy: str = "easy", order: str = "submit", *,
           predictor=None, correction: str = "limit", backfill_order: str = "queue",
           forecast_every: int = 0,
           progress: Callable[[int], None] | None = None,
           scheduler: Scheduler | None = None,
           cluster: Cluster | None = None,
           observe: Callable[[float, Scheduler, list], None] | None = None,
           tuner=None) -> ReplayResult:
    """Simulate ``workload`` under ``policy`` and queue ``order``.

    ``predictor``: a name from ``kairos.predict`` (a fresh, untrained one is built) or a
    ``RuntimeEstimator``; None plans with the requested times.  ``correction`` moves the
    expected end of a job that outlives its prediction (``kairos.core.corrections``).
    ``backfill_order``: "queue", "shortest" (EASY++) or "aged" (largest expected
    slowdown first).  ``forecast_every`` > 0 forecasts the start of every n-th
    submitted job at its submission (``kairos.core.forecast``).
    ``observe(now, scheduler, starts)`` is called after every pass (tests check
    invariants with it).  ``scheduler`` may be supplied
    pre-configured; it must be empty and its cluster must match the workload's machine.
    ``cluster``: nodes to replay on instead of one pool (``kairos.sim.workload.on_nodes``).
    ``tuner``: a ``kairos.sim.tuning.Tuner`` that chooses the predictor, correction and
    backfill order as it goes (``predictor``, ``correction``, ``backfill_order`` and
    ``policy`` are then its to choose: EASY).
    """
    began = time.perf_counter()
    if isinstance(predictor, str):
        from kairos.predict import make_predictor

        predictor = make_predictor(predictor, workload=workload)
    if tuner is not None:
        if scheduler is not None:
            raise ValueError("replay: give a tuner or a scheduler, not both")
        scheduler = tuner.scheduler(cluster or Cluster.pool(workload.procs), order)
        sched = scheduler
    elif scheduler is None:
        from kairos.core.policy import make_policy

        # a correction such as "remaining" is built on the predictor it reads
        correct = (make_correction(correction, predictor) if correction in ESTIMATOR_CORRECTIONS
                   else correction)
        sched = Scheduler(cluster or Cluster.pool(workload.procs),
                          make_policy(policy, backfill_order=backfill_order),
                          order, estimator=predictor, correct=correct)
    else:
        sched = scheduler
    jobs = [fresh_copy(j) for j in workload.jobs]
    runtimes = workload.runtimes
    submit, end, schedule = sched.submit, sched.end, sched.schedule
    heappush, heappop = heapq.heappush, heapq.heappop
    running: list[tuple[float, int]] = []  # (end time, job id)
    n, i, done = len(jobs), 0, 0
    next_report = PROGRESS_EVERY
    inf = math.inf
    forecasts: dict[int, float] = {}
    tune = tuner.step if tuner is not None else None
    while i < n or running:
        t = jobs[i].submit if i < n else inf
        if running and running[0][0] <= t:
            t = running[0][0]
            while running and running[0][0] == t:
                end(heappop(running)[1], t)
                done += 1
        first = i
        while i < n and jobs[i].submit == t:
            submit(jobs[i], t)
            i += 1
        if forecast_every:
            wanted = [j.id for j in jobs[first:i] if j.id % forecast_every == 0]
            if wanted:
                forecasts.update(forecast_starts(sched, t, wanted))
        if tune is not None:
            tune(sched, t)
        starts = schedule(t)
        for action in starts:
            heappush(running, (t + runtimes[action.job_id], action.job_id))
        if observe is not None:
            observe(t, sched, starts)
        if progress is not None and done >= next_report:
            progress(done)
            next_report += PROGRESS_EVERY
    if progress is not None:
        progress(done)
    if tuner is not None:
        return ReplayResult(workload, "easy+auto", sched.order.name, jobs,
                            time.perf_counter() - began, "auto", "auto", forecasts,
                            tuner.decisions)
    correction_name = next((k for k, f in CORRECTIONS.items() if f is sched.correct),
                           correction if scheduler is None else "custom")
    predictor_name = getattr(sched.estimator, "name", "user") if sched.estimator else "user"
    return ReplayResult(workload, sched.policy.name, sched.order.name, jobs,
                        time.perf_counter() - began, predictor_name, correction_name, forecasts)
