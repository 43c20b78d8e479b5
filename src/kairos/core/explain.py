"""Why a pending job waits, when it will start, and what would let it start sooner.

Everything here is read off the scheduler or checked by running its twin forward
(``kairos.core.forecast``), never guessed from a second model:

* the reason is the scheduler's own (Slurm's pending reason, as ``squeue`` shows it),
  with the rule of the policy that gives it;
* the forecast start is ``forecast_starts``'s, the very number ``squeue --start``
  shows; its interval is that forecast and a second one in which every job runs to its
  time limit instead of its expected time;
* the running jobs in its way are those that hold a share of the nodes it is forecast to
  start on and are expected to end by then; the reservations in its way are those of
  the jobs ahead of it in the queue;
* each what-if (a shorter time limit, fewer nodes or CPUs, another partition, a
  release) is a forecast of a modified copy of the job, and only those that start
  sooner are reported.

Both forecasts assume that nothing more is submitted: a later job of higher priority
can still pass it.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kairos.core.dependencies import DependencyStatus, dependency_states
from kairos.core.forecast import Forecast, forecast
from kairos.core.jobs import DependencyKind, Job, JobState
from kairos.core.profile import Unsatisfiable
from kairos.core.scheduler import Scheduler

#: Reasons a job waits in the queue proper (eligible, behind other jobs or resources),
#: as opposed to waiting to become eligible; "None" is a job no pass has looked at yet.
QUEUED_REASONS = frozenset({"Resources", "Priority", "None"})


@dataclass(frozen=True, slots=True)
class Holder:
    """A running job holding nodes the pending job is forecast to start on, expected to
    end by then: it must end (or be expected to) before the pending job can start."""

    job_id: int
    user: str
    nodes: tuple[str, ...]  #: those of the pending job's forecast nodes it holds
    expected_end: float  #: when the scheduler expects it to end
    limit_end: float  #: when its time limit ends it (``math.inf``: none)


@dataclass(frozen=True, slots=True)
class Reservation:
    """A start time the last scheduling pass set aside for a pending job."""

    job_id: int
    user: str
    start: float


@dataclass(frozen=True, slots=True)
class Waiting:
    """A dependency not met yet: its kind, the job it names (None for ``singleton``),
    ``unfulfilled`` or ``failed``, and that job's state (None once it is forgotten)."""

    kind: str
    job_id: int | None
    status: str
    state: str | None


@dataclass(frozen=True, slots=True)
class WhatIf:
    """A change to the job (``changes``: field -> new value, in the request's terms:
    ``time_limit`` seconds, ``nodes``, ``tasks``, ``cpus_per_task``, ``partition``,
    ``held``) and the forecast start it would have."""

    kind: str  #: "time_limit", "fewer_nodes", "fewer_cpus", "partition" or "release"
    changes: Mapping[str, object]
    start: float
    nodes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why job ``job_id`` waits at ``now``, and when it would start."""

    job_id: int
    now: float
    reason: str  #: Slurm's pending reason, as squeue shows it
    rule: str  #: the rule that gives that reason, in words
    policy: str
    order: str
    #: the forecast (squeue --start): every job runs its expected time (NaN: not
    #: known, the forecast was stopped before the job started)
    start: float
    start_at_limits: float  #: the same forecast with every job running to its limit
    nodes: tuple[str, ...]  #: where it is forecast to start
    time_limit: float
    estimate: float  #: the runtime the scheduler plans it with
    begin: float | None = None  #: its --begin time, when still ahead
    ahead: int = 0  #: eligible jobs before it in the queue order
    reservation: Reservation | None = None  #: its own, from the last pass
    blocking: tuple[Reservation, ...] = ()  #: reservations of jobs ahead of it
    holders: tuple[Holder, ...] = ()
    dependencies: tuple[Waiting, ...] = ()
    what_ifs: tuple[WhatIf, ...] = ()

    @property
    def known(self) -> bool:
        """Whether both forecasts ran until the job started (or to the end)."""
        return not (math.isnan(self.start) or math.isnan(self.start_at_limits))

    @property
    def interval(self) -> tuple[float, float]:
        """The forecast start if every job runs its expected time and if every job runs
        to its time limit, earliest first (backfilling can reverse them); NaN both when
        either is not known."""
        if not self.known:
            return (math.nan, math.nan)
        return (min(self.start, self.start_at_limits), max(self.start, self.start_at_limits))


def explain(scheduler: Scheduler, now: float, job_id: int, *, granularity: float = 60.0,
            partition_allowed: Callable[[str], bool] | None = None,
            stop: Callable[[], bool] | None = None) -> Explanation:
    """Explain pending job ``job_id`` at ``now`` (see the module docstring).

    ``granularity``: time limits proposed by what-ifs are whole multiples of it (Slurm's
    ``--time`` counts minutes).  ``partition_allowed(name)``: whether the job's owner may
    submit to that partition (default: any partition).  ``stop()``: asked between the
    simulated passes of every forecast it runs (``kairos.core.forecast``); once it says
    True, what is not known yet stays unknown (a NaN start, no what-ifs).  KeyError for a job the
    scheduler does not hold, ValueError for one that is not pending.
    ``scheduler`` is not changed.
    """
    job = scheduler.jobs.get(job_id)
    if job is None:
        raise KeyError(f"job {job_id} is neither pending nor running")
    if job.state is not JobState.PENDING:
        raise ValueError(f"job {job_id} is {job.state.name}, not PENDING: only a pending "
                         "job waits")
    reason = job.reason if job.reason != "None" else "Priority"
    base = forecast(scheduler, now, [job_id], stop=stop)[job_id]
    at_limits = forecast(scheduler, now, [job_id], to_limits=True, stop=stop)[job_id]
    reservations = scheduler.reservations
    ahead: list[Job] = []
    if job.reason in QUEUED_REASONS:
        pending = scheduler.pending()  # eligible jobs first, in queue order
        ahead = pending[:next(i for i, j in enumerate(pending) if j.id == job_id)]
    own = reservations.get(job_id)
    return Explanation(
        job_id=job_id, now=now, reason=reason, rule=rule(reason, scheduler),
        policy=scheduler.policy.name, order=scheduler.order.name,
        start=base.start, start_at_limits=at_limits.start, nodes=base.nodes,
        time_limit=job.time_limit, estimate=job.estimate,
        begin=job.begin if job.begin > now else None,
        ahead=len(ahead),
        reservation=None if own is None else Reservation(job_id, job.user, own),
        blocking=tuple(Reservation(j.id, j.user, reservations[j.id])
                       for j in ahead if j.id in reservations),
        holders=_holders(scheduler, base),
        dependencies=_waiting_on(scheduler, job),
        what_ifs=_what_ifs(scheduler, now, job, base, reservations, granularity,
                           partition_allowed, stop),
    )


def rule(reason: str, scheduler: Scheduler) -> str:
    """The rule behind a pending reason, in words, for this scheduler's policy."""
    if reason.startswith("ReqNodeNotAvail"):
        return ("nodes it asks for by name (-w) are drained or down: it cannot start "
                "until they are back in service")
    fixed = _RULES.get(reason)
    if fixed is not None:
        return fixed
    policy = scheduler.policy
    if reason not in ("Resources", "Priority"):
        return f"the scheduler gives the reason {reason}"
    if not policy.backfill:
        if reason == "Resources":
            return (f"{policy.name}: jobs start strictly in queue order ({scheduler.order.name}); "
                    "it is the first that does not fit, and no job behind it may start first")
        return (f"{policy.name}: jobs start strictly in queue order ({scheduler.order.name}); "
                "a job ahead of it does not fit, and it may not pass that job")
    if policy.reservation_depth is None:
        how = ("conservative backfilling: every waiting job holds a reservation; a job "
               "starts early only where it delays none of them")
    elif policy.reservation_depth == 1:
        how = (f"{policy.name} backfilling: the first waiting job that does not fit holds a "
               "reservation; a job behind it starts early only where it does not delay it")
    else:
        how = (f"{policy.name} backfilling: the first {policy.reservation_depth} waiting "
               "jobs that do not fit hold reservations; a job behind them starts early "
               "only where it delays none of them")
    if reason == "Resources":
        return f"{how}.  It is first in the queue: it waits for running jobs to free enough"
    return (f"{how}.  Jobs ahead of it in the queue ({scheduler.order.name} order) come "
            "first, and it does not fit in the time and space their reservations leave")


_RULES = {
    "JobHeldUser": "it is held: it never starts until released (scontrol release)",
    "JobHeldAdmin": "an administrator holds it: it never starts until released",
    "BeginTime": "it may not start before its begin time (--begin)",
    "Dependency": "it waits for the jobs it depends on (--dependency)",
    "DependencyNeverSatisfied": ("a dependency can never be met (a job it depends on ended "
                                 "the wrong way): it will never start; cancel it or change "
                                 "its dependency"),
    "PartitionDown": "its partition is down: nothing starts there until it is up again",
    "JobArrayTaskLimit": "its array already runs as many tasks at once as its %N limit allows",
    "QOSMaxJobsPerUserLimit": "its QOS allows each user only so many running jobs at once",
}


def _holders(scheduler: Scheduler, base: Forecast) -> tuple[Holder, ...]:
    if not base.known or math.isinf(base.start):
        return ()
    wanted = set(base.nodes)
    out = []
    for job in scheduler.running.values():
        if job.expected_end > base.start:
            continue  # still running when it starts: not in its way
        shared = tuple(n for n in scheduler.node_names(job.id) if n in wanted)
        if shared:
            out.append(Holder(job.id, job.user, shared, job.expected_end,
                              job.start + job.time_limit))
    return tuple(sorted(out, key=lambda h: (h.expected_end, h.job_id)))


def _waiting_on(scheduler: Scheduler, job: Job) -> tuple[Waiting, ...]:
    out = []
    for dep, status in dependency_states(job, scheduler.jobs, scheduler.outcomes):
        if status is DependencyStatus.MET:
            continue
        if dep.kind is DependencyKind.SINGLETON:
            out.append(Waiting(dep.kind.value, None, status.value, None))
            continue
        other = scheduler.jobs.get(dep.job_id)
        state = other.state if other is not None else scheduler.outcomes.get(dep.job_id)
        out.append(Waiting(dep.kind.value, dep.job_id, status.value,
                           None if state is None else state.name))
    return tuple(out)


def _what_ifs(scheduler: Scheduler, now: float, job: Job, base: Forecast,
              reservations: dict[int, float], granularity: float,
              partition_allowed: Callable[[str], bool] | None,
              stop: Callable[[], bool] | None) -> tuple[WhatIf, ...]:
    if not base.known:
        return ()  # nothing to be sooner than
    found: list[WhatIf | None] = []

    def attempt(kind: str, changes: dict, clone: Job) -> WhatIf | None:
        if stop is not None and stop():
            return None
        try:
            f = forecast(scheduler, now, [job.id], changed={job.id: clone}, stop=stop)[job.id]
        except Unsatisfiable:
            return None  # the changed job could never run here
        # An unknown start (NaN) is never sooner.
        return WhatIf(kind, changes, f.start, f.nodes) if f.start < base.start else None

    if job.held:
        found.append(attempt("release", {"held": False}, _changed(job, held=False)))
    longest: dict[float, WhatIf] = {}  # start -> the longest limit that gives it
    for limit in _shorter_limits(job, now, reservations, granularity):  # longest first
        w = attempt("time_limit", {"time_limit": limit},
                    _changed(job, time_limit=limit, estimate=min(job.estimate, limit)))
        if w is not None:
            longest.setdefault(w.start, w)
    found += longest.values()
    for kind, changes in _smaller_requests(job):
        try:
            request = dataclasses.replace(job.request, **changes)
        except ValueError:
            continue  # e.g. more -w nodes than nodes left
        found.append(attempt(kind, changes, _changed(job, request=request)))
    if not scheduler.cluster.is_pool:
        current = scheduler.cluster.partition(job.partition).name
        for p in scheduler.cluster.partitions:
            if (p.name == current or not p.up or job.time_limit > p.max_time
                    or (p.max_nodes is not None and job.request.nodes > p.max_nodes)
                    or (partition_allowed is not None and not partition_allowed(p.name))):
                continue
            found.append(attempt("partition", {"partition": p.name},
                                 _changed(job, partition=p.name)))
    return tuple(sorted((w for w in found if w is not None), key=lambda w: (w.start, w.kind)))


def _changed(job: Job, **fields) -> Job:
    clone = copy.copy(job)
    for name, value in fields.items():
        setattr(clone, name, value)
    return clone


def _shorter_limits(job: Job, now: float, reservations: dict[int, float],
                    granularity: float) -> list[float]:
    """Time limits worth trying, longest first: up to the next reservation (a backfill
    window), the runtime the scheduler expects (when shorter than the limit), and half
    the limit; each a whole multiple of ``granularity``, at least one, below the limit."""
    g = granularity
    candidates = set()
    later = [t for other, t in reservations.items() if other != job.id and t > now]
    if later:
        candidates.add(math.floor((min(later) - now) / g) * g)
    if job.estimate < job.time_limit:
        candidates.add(math.ceil(job.estimate / g) * g)
    if math.isfinite(job.time_limit):
        candidates.add(math.floor(job.time_limit / 2 / g) * g)
    return sorted((c for c in candidates if g <= c < job.time_limit), reverse=True)


def _smaller_requests(job: Job) -> list[tuple[str, dict]]:
    """Half the nodes (tasks in proportion), or half the CPUs of a one-node job."""
    r = job.request
    if r.nodes > 1 and not r.spread:
        nodes = r.nodes // 2
        return [("fewer_nodes", {"nodes": nodes, "tasks": max(nodes, r.tasks * nodes // r.nodes)})]
    if r.tasks > 1:
        return [("fewer_cpus", {"tasks": r.tasks // 2, "nodes": min(r.nodes, r.tasks // 2)})]
    if r.cpus_per_task > 1:
        return [("fewer_cpus", {"cpus_per_task": r.cpus_per_task // 2})]
    return []
