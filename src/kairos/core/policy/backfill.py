"""One backfill algorithm, one knob: how many waiting jobs get a reservation.

The walk goes down the queue in order.  A job that fits now without touching any
reservation starts.  A job that does not fit gets a reservation (the earliest start the
availability profile allows) while fewer than ``reservation_depth`` jobs hold one; later
jobs may then only start where they delay none of those reservations.

* ``fcfs``: no backfilling; the walk stops at the first job that does not fit.
* ``easy``: depth 1 - the first job that does not fit is protected (EASY, Lifka 1995).
* ``backfill_order="shortest"``: once the reservations are handed out, the remaining
  jobs are tried shortest estimate first instead of in queue order (EASY++, Tsafrir,
  Etsion & Feitelson 2007): which job gets a hole matters as much as how well its
  runtime is known.
* ``backfill_order="aged"``: shortest-first starves long jobs when estimates are too
  short (a backfilled job that outlives its prediction pushes the protected job's
  reservation out, again and again).  ``aged`` bounds that: candidates are tried largest
  expected slowdown first, ``(wait + estimate) / max(estimate, 10 s)``, so short jobs
  still go first but a candidate that has waited long rises; and once the protected job
  has waited ``protect_after`` seconds, each candidate must fit with its *requested*
  time, so only a job that would not delay the reservation even if it ran to its limit
  may backfill.  Both depend on ``now``, which the walk is given.
  (Under ``conservative`` every job holds a reservation, so neither order changes it.)
* ``backfill_order="guarded"``: EASY++ plus promises, computed with requested times,
  for jobs that have waited too long; a policy of its own (``kairos.core.policy.guarded``).
* ``conservative``: unbounded depth - every waiting job holds a reservation, and
  reservations are promises: they persist from pass to pass and only ever move earlier
  (Mu'alem & Feitelson 2001 "compression").  A fresh pass puts every old promise back
  into the profile before walking, and each job gives its own slot back only when the
  walk reaches it, so its new slot can only be the same or earlier.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, field
from itertools import islice

from kairos.core.jobs import Job, JobState
from kairos.core.policy.freed import FreedSpans
from kairos.core.profile import Unsatisfiable

_PENDING = JobState.PENDING

#: How backfill candidates are tried once the reservations are handed out.
BACKFILL_ORDERS = ("queue", "shortest", "aged", "guarded")

#: ``aged``: how long (seconds) the protected job may wait before backfill candidates are
#: checked against its reservation with their requested times.  Picked by replaying six
#: traces (docs/prediction.md): 0-4 h cost the average slowdown more than they saved
#: in maximum wait; without it the maximum wait grows up to 10x.
PROTECT_AFTER = 8 * 3600.0

#: Bounded slowdown's floor on runtimes (s), used by the ``aged`` key likewise.
SLOWDOWN_FLOOR = 10.0


@dataclass(slots=True)
class Walk:
    """Where the last pass left off; valid while nothing but new submissions happened."""

    profile: object
    scanned: int = 0  #: queue positions already considered
    reserved: int = 0  #: reservations handed out in this walk
    blocked: bool = False  #: FCFS met a job that does not fit
    #: job id -> (start, placement, end): the reservations this walk made
    reservations: dict[int, tuple[float, object, float]] = field(default_factory=dict)
    #: promises carried over from an earlier walk, still in the profile (conservative)
    held: dict[int, tuple[float, object, float]] = field(default_factory=dict)
    #: where resources were freed since the held promises were searched (conservative):
    #: a promise is searched again only where a window meets one of these spans
    #: (None: not known, search everywhere)
    freed: FreedSpans | None = None
    #: spans this walk freed (promises that moved): jobs walked before the move did not
    #: see them, so the next fresh walk must (None: none)
    moved: FreedSpans | None = None
    #: held promises of jobs whose own request changed (a shorter time limit): the
    #: spans say nothing about them, so they are searched everywhere (None: none)
    changed: set[int] | None = None
    #: the earliest start among ``held`` (then ``reservations``) promises
    first_promise: float = math.inf
    #: the job whose pending reason is "Resources" (the first that waits)
    head: int | None = None
    #: submit time of the earliest-submitted job holding a reservation in this walk
    protected_since: float = math.inf
    #: ``guarded`` (``kairos.core.policy.guarded``): builds the plan with running jobs
    #: ending at their time limits (the scheduler supplies it), that plan once built,
    #: the promises (job id -> (start, placement), carried from walk to walk), the
    #: estimates they were placed with, and when the next job is due for a promise
    limits: object = None
    guard: object = None
    promises: dict | None = None
    promised_estimates: dict | None = None
    next_protect: float = -math.inf


class Backfill:
    """A queue walk with ``reservation_depth`` reservations (None = every job)."""

    #: ``guarded`` only: the walk needs ``Walk.limits`` and carried promises
    guards = False

    def __init__(self, name: str, reservation_depth: int | None, *, backfill: bool = True,
                 backfill_order: str = "queue", protect_after: float = PROTECT_AFTER) -> None:
        if backfill_order == "guarded" and type(self) is Backfill:
            raise ValueError("the guarded backfill order is a policy of its own: build it with "
                             "make_policy('easy', backfill_order='guarded')")
        if backfill_order not in BACKFILL_ORDERS:
            raise ValueError(f"unknown backfill order {backfill_order!r}; choose one of: {', '.join(BACKFILL_ORDERS)}")
        if not protect_after >= 0:
            raise ValueError(f"protect_after must be a number of seconds >= 0, not {protect_after!r}")
        self.name = name if backfill_order == "queue" else f"{name}+{backfill_order}"
        self.reservation_depth = reservation_depth
        self.backfill = backfill
        self.backfill_order = backfill_order
        #: ``aged`` only: seconds of waiting after which the reservation is protected
        #: against candidates' requested times
        self.protect_after = protect_after
        #: conservative promises persist across passes (see module docstring)
        self.keeps_promises = reservation_depth is None
        #: rebuild the profile and search every promise again at every fresh pass,
        #: everywhere (the walk before ``FreedSpans`` and carried profiles): the same
        #: schedules, slowly; for tests and benchmarks
        self.reference = False

    def __repr__(self) -> str:
        return f"Backfill({self.name!r}, reservation_depth={self.reservation_depth})"

    def walk(self, queue: list[Job], walk: Walk, now: float) -> list[tuple[Job, object]]:
        """Continue ``walk`` over ``queue[walk.scanned:]``; return the jobs to start now
        with their placements.  Reservations go into ``walk.reservations`` and onto
        ``job.reserved_start``; each waiting job gets Slurm's pending reason."""
        profile = walk.profile
        fits_now, reserve, headroom = profile.fits_now, profile.reserve, profile.headroom
        depth = math.inf if self.reservation_depth is None else self.reservation_depth
        held = walk.held
        starts: list[tuple[Job, object]] = []
        room = headroom()
        n = len(queue)
        i = walk.scanned
        freed, changed = walk.freed, walk.changed
        search_all = self.reference or freed is None or freed.everything
        pool = self.keeps_promises and hasattr(profile, "earlier")  # conservative, one pool
        if held and i == 0 and not search_all and not freed and not changed:
            # Nothing was freed since the held promises were searched: none can move.
            if self._keep_promises(queue, walk, now):
                return starts
            if pool and (due := self._start_due(queue, walk, now)) is not None:
                return due
        if i == 0:
            walk.first_promise = math.inf  # from here: the earliest reservation made
        if pool:
            return self._walk_pool(queue, walk, now)
        may_start = getattr(profile, "may_start", None) if held else None
        while i < n and not walk.blocked:
            job = queue[i]
            i += 1
            if job.state is not _PENDING:
                continue
            if walk.reserved >= depth and self.backfill_order != "queue":
                if self.backfill_order == "shortest":
                    starts += self._shortest_first(queue, i - 1, profile, now)
                else:
                    starts += self._aged(queue, i - 1, walk, now)
                break
            d = job.estimate
            promise = within = None
            if held:
                promise = held.pop(job.id, None)
                if promise is not None:
                    t0 = promise[0]
                    if t0 > now and not search_all and not (changed and job.id in changed):
                        # Nothing freed where it could start sooner: it keeps its
                        # promise, without a search (``kairos.core.policy.freed``).
                        # The common case first: every freed span begins after it ends.
                        starts_ = freed.starts
                        if not starts_ or t0 + d <= starts_[0]:
                            within = ()
                        else:
                            within = freed.windows(now, t0, d)
                            if within and may_start is not None and not may_start(job, within):
                                within = ()
                        if not within:  # ``_reserved``, inlined: the pass's hot path
                            walk.reservations[job.id] = promise
                            job.reserved_start = t0
                            if t0 < walk.first_promise:
                                walk.first_promise = t0
                            if walk.reserved == 0:
                                job.reason = "Resources"
                                walk.head = job.id
                            else:
                                job.reason = "Priority"
                            walk.reserved += 1
                            continue
                    profile.release(promise[1], t0, promise[2])
                    room = headroom()
            # Most jobs that do not fit are too wide for any node right now: one comparison.
            if job.request.cpus_per_node <= room and (within is None or within[0][0] <= now):
                placement = fits_now(job, d)
            else:
                placement = None
            if placement is not None:
                reserve(placement, now, now + d)
                starts.append((job, placement))
                room = headroom()
                if promise is not None:
                    self._moved(walk, promise, now, placement)
                continue
            if not self.backfill:
                job.reason = "Resources"
                walk.blocked = True
            elif walk.reserved < depth:
                if within is not None:
                    found = profile.earliest(job, d, within) if within else None
                    if found is None:  # no earlier slot: the promise stands
                        reserve(promise[1], promise[0], promise[2])
                        self._reserved(job, walk, promise)
                        room = headroom()
                        continue
                    t, placement = found
                else:
                    try:
                        t, placement = profile.earliest(job, d)
                    except Unsatisfiable:
                        self._waits_without_slot(job, walk)
                        continue
                if promise is not None and t == promise[0]:
                    # Not earlier: the promise stands, on its nodes.
                    reserve(promise[1], t, promise[2])
                    self._reserved(job, walk, promise)
                    room = headroom()
                    continue
                reserve(placement, t, t + d)
                if promise is not None:
                    self._moved(walk, promise, t, placement)
                self._reserved(job, walk, (t, placement, t + d))
                room = headroom()
            else:
                job.reason = "Priority"
                if room <= 0:
                    break  # nothing can start now, and no more reservations to hand out
        walk.scanned = n
        return starts

    def _walk_pool(self, queue: list[Job], walk: Walk, now: float) -> list[tuple[Job, object]]:
        """``walk`` for conservative on a processor pool, where a replay spends most of
        its time: the same outcome, job by job, with less work for a held promise.  It
        is asked whether it can move (``PoolProfile.earlier``) with its slot still in
        the profile, and taken out only when it does; most promises stand."""
        profile = walk.profile
        T, F = profile.T, profile.F
        move, earlier = profile.move, profile.earlier
        held, reservations = walk.held, walk.reservations
        freed, changed = walk.freed, walk.changed or ()
        # Held promises are searched again only where something was freed
        # (``kairos.core.policy.freed``), unless that is not known.
        recheck = not (self.reference or freed is None or freed.everything)
        spans, span_ends = (freed.starts, freed.ends) if recheck else ((), ())
        reserved_ = self._reserved
        starts: list[tuple[Job, object]] = []
        # ``walk.reserved``, ``first_promise`` and ``head``, kept in locals while
        # promises stand and put back around anything else that reads them.
        reserved, first, head = walk.reserved, walk.first_promise, walk.head
        for job in islice(queue, walk.scanned, None):
            if job.state is not _PENDING:
                continue
            d = job.estimate
            promise = held.pop(job.id, None) if held else None
            if promise is not None:
                t0 = promise[0]
                if t0 > now and recheck and job.id not in changed:
                    # The common case first: every freed span begins after this
                    # promise ends.
                    if spans and t0 + d > spans[0]:
                        n = job.request.cpus
                        # Just as common: the step before the promise is short of
                        # ``n`` and every window that meets a span reaches it.
                        k = bisect_left(T, t0) - 1
                        if F[k] >= n or T[k] >= spans[0] and T[k] >= now + d:
                            t = earlier(n, d, t0, spans, span_ends)
                        else:
                            t = None
                        if t is not None:
                            placement = promise[1]
                            move(placement, t0, promise[2], t, t + d)
                            self._moved_earlier(walk, promise, t + d)
                            if t == now:
                                starts.append((job, placement))
                            else:
                                walk.reserved, walk.first_promise, walk.head = reserved, first, head
                                reserved_(job, walk, (t, placement, t + d))
                                reserved, first, head = walk.reserved, walk.first_promise, walk.head
                            continue
                    # It keeps its promise: ``_reserved``, inlined.
                    reservations[job.id] = promise
                    job.reserved_start = t0
                    if t0 < first:
                        first = t0
                    if reserved:
                        job.reason = "Priority"
                    else:
                        job.reason = "Resources"
                        head = job.id
                    reserved += 1
                    continue
            walk.reserved, walk.first_promise, walk.head = reserved, first, head
            self._place(job, promise, walk, now, starts)
            reserved, first, head = walk.reserved, walk.first_promise, walk.head
        walk.reserved, walk.first_promise, walk.head = reserved, first, head
        walk.scanned = len(queue)
        return starts

    def _place(self, job: Job, promise: tuple | None, walk: Walk, now: float,
               starts: list[tuple[Job, object]]) -> None:
        """``_walk_pool`` for a job searched afresh: one without a promise, or whose
        promise is due or must be searched everywhere (given back first)."""
        profile = walk.profile
        d = job.estimate
        if promise is not None:
            profile.release(promise[1], promise[0], promise[2])
        if profile.F[0] >= job.request.cpus:
            placement = profile.fits_now(job, d)
            if placement is not None:
                profile.reserve(placement, now, now + d)
                starts.append((job, placement))
                if promise is not None:
                    self._moved(walk, promise, now, placement)
                return
        try:
            t, placement = profile.earliest(job, d)
        except Unsatisfiable:
            self._waits_without_slot(job, walk)
            return
        if promise is not None and t == promise[0]:
            profile.reserve(promise[1], t, promise[2])  # not earlier: the promise stands
            self._reserved(job, walk, promise)
            return
        profile.reserve(placement, t, t + d)
        if promise is not None:
            self._moved(walk, promise, t, placement)
        self._reserved(job, walk, (t, placement, t + d))

    def _start_due(self, queue: list[Job], walk: Walk, now: float) -> list[tuple[Job, object]] | None:
        """``_keep_promises`` on a processor pool when some promises are due now: each
        due job starts on its own slot (which is there for it) and the others stand,
        as the full walk would have it, without visiting each.  Only when every
        waiting job holds a promise, in queue order (as the walk made them): else None,
        and the walk goes job by job."""
        held = walk.held
        pending = [j for j in queue if j.state is _PENDING]
        if list(held) != [j.id for j in pending]:
            return None
        due = [k for k, p in enumerate(held.values()) if p[0] <= now]
        for k in due:
            job = pending[k]
            t0, _, end = held[job.id]
            if t0 != now or end != now + job.estimate:
                return None  # not its own slot from now: search it as the walk would
        starts: list[tuple[Job, object]] = []
        for k in due:
            job = pending[k]
            self._place(job, held.pop(job.id), walk, now, starts)
        walk.reservations, walk.held = held, {}
        walk.reserved = len(held)
        walk.first_promise = min((p[0] for p in held.values()), default=math.inf)
        walk.scanned = len(queue)
        if held:  # the first job that still waits waits for resources, the rest behind it
            head = pending[next((m for m, k in enumerate(due) if k != m), len(due))]
            if walk.head != head.id and walk.head in held:
                held_head = next(j for j in pending if j.id == walk.head)
                held_head.reason = "Priority"
            head.reason = "Resources"
            walk.head = head.id
        return starts

    def _keep_promises(self, queue: list[Job], walk: Walk, now: float) -> bool:
        """A fresh conservative walk when nothing was freed since every held promise
        was searched: none can move, so when none is due (a promise at ``now`` starts)
        and every waiting job holds one, they all stand as they are, without visiting
        each job; the outcome of the full walk.  False: walk them one by one."""
        held = walk.held
        if walk.first_promise <= now:
            return False
        pending = [j for j in queue if j.state is _PENDING]
        if len(pending) != len(held) or not pending:
            return False  # jobs without a promise (new, or with none possible)
        walk.reservations, walk.held = held, {}
        walk.reserved = len(held)
        walk.scanned = len(queue)
        head = pending[0]
        if walk.head != head.id:  # a re-sort put another job first
            for job in pending:
                if job.id == walk.head:
                    job.reason = "Priority"
            head.reason = "Resources"
            walk.head = head.id
        return True

    @staticmethod
    def _reserved(job: Job, walk: Walk, promise: tuple) -> None:
        """``job`` waits with the reservation ``(start, placement, end)``."""
        walk.reservations[job.id] = promise
        job.reserved_start = promise[0]
        if promise[0] < walk.first_promise:
            walk.first_promise = promise[0]
        if job.submit < walk.protected_since:
            walk.protected_since = job.submit
        if walk.reserved == 0:
            job.reason = "Resources"
            walk.head = job.id
        else:
            job.reason = "Priority"
        walk.reserved += 1

    @staticmethod
    def _waits_without_slot(job: Job, walk: Walk) -> None:
        """Nothing known ever frees enough (jobs without a time limit): the job waits
        without a slot, but still counts as the protected one."""
        job.reason = "Resources"
        walk.reserved += 1

    @staticmethod
    def _moved_earlier(walk: Walk, promise: tuple, end: float) -> None:
        """A promise on a processor pool moved earlier, to end at ``end``: what is
        freed is its old slot less the part its new one still takes (no window
        overlapping only that part is any roomier)."""
        start = max(promise[0], end)
        walk.freed.add(start, promise[2])
        if walk.moved is None:
            walk.moved = FreedSpans()
        walk.moved.add(start, promise[2])

    @staticmethod
    def _moved(walk: Walk, promise: tuple, start: float, placement) -> None:
        """A promise gave way to a slot at ``start``: its old slot is freed."""
        if start != promise[0] or placement != promise[1]:
            if walk.freed is not None:
                walk.freed.add(promise[0], promise[2])
            if walk.moved is None:
                walk.moved = FreedSpans()
            walk.moved.add(promise[0], promise[2])

    @staticmethod
    def _shortest_first(queue: list[Job], i: int, profile, now: float) -> list[tuple[Job, object]]:
        """Try the pending jobs from queue position ``i`` on, shortest estimate first."""
        rest = sorted((j for j in queue[i:] if j.state is _PENDING), key=lambda j: j.estimate)
        starts = []
        room = profile.headroom()
        for job in rest:
            if job.request.cpus_per_node > room:
                job.reason = "Priority"
                continue
            placement = profile.fits_now(job, job.estimate)
            if placement is None:
                job.reason = "Priority"
                continue
            profile.reserve(placement, now, now + job.estimate)
            starts.append((job, placement))
            room = profile.headroom()
            if room <= 0:
                break
        return starts

    def _aged(self, queue: list[Job], i: int, walk: Walk, now: float) -> list[tuple[Job, object]]:
        """Try the pending jobs from queue position ``i`` on, largest expected slowdown
        first; once the protected job has waited ``protect_after``, each must fit for its
        requested time (see the module docstring)."""
        profile = walk.profile
        protect = now - walk.protected_since > self.protect_after
        rest = sorted((j for j in queue[i:] if j.state is _PENDING),
                      key=lambda j: expected_slowdown(j, now), reverse=True)
        starts = []
        room = profile.headroom()
        for job in rest:
            if job.request.cpus_per_node > room:
                job.reason = "Priority"
                continue
            # A limit below the estimate is impossible (the scheduler clamps), but be safe.
            span = max(job.time_limit, job.estimate) if protect else job.estimate
            placement = profile.fits_now(job, span)
            if placement is None:
                job.reason = "Priority"
                continue
            profile.reserve(placement, now, now + span)
            starts.append((job, placement))
            room = profile.headroom()
            if room <= 0:
                break
        return starts


def expected_slowdown(job: Job, now: float) -> float:
    """The slowdown ``job`` would have if it started at ``now`` and ran its estimate:
    ``(wait + estimate) / max(estimate, 10 s)``, the ``aged`` order's key."""
    return (now - job.submit + job.estimate) / max(job.estimate, SLOWDOWN_FLOOR)
