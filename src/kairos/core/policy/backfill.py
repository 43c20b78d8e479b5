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
* ``conservative``: unbounded depth - every waiting job holds a reservation, and
  reservations are promises: they persist from pass to pass and only ever move earlier
  (Mu'alem & Feitelson 2001 "compression").  A fresh pass puts every old promise back
  into the profile before walking, and each job gives its own slot back only when the
  walk reaches it, so its new slot can only be the same or earlier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from kairos.core.jobs import Job, JobState
from kairos.core.profile import Unsatisfiable

_PENDING = JobState.PENDING

#: How backfill candidates are tried once the reservations are handed out.
BACKFILL_ORDERS = ("queue", "shortest", "aged")

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
    #: job id -> (start, placement): the reservations this walk made
    reservations: dict[int, tuple[float, object]] = field(default_factory=dict)
    #: promises carried over from an earlier walk, still in the profile (conservative)
    held: dict[int, tuple[float, object]] = field(default_factory=dict)
    #: submit time of the earliest-submitted job holding a reservation in this walk
    protected_since: float = math.inf


class Backfill:
    """A queue walk with ``reservation_depth`` reservations (None = every job)."""

    def __init__(self, name: str, reservation_depth: int | None, *, backfill: bool = True,
                 backfill_order: str = "queue", protect_after: float = PROTECT_AFTER) -> None:
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

    def __repr__(self) -> str:
        return f"Backfill({self.name!r}, reservation_depth={self.reservation_depth})"

    def walk(self, queue: list[Job], walk: Walk, now: float) -> list[tuple[Job, object]]:
        """Continue ``walk`` over ``queue[walk.scanned:]``; return the jobs to start now
        with their placements.  Reservations go into ``walk.reservations`` and onto
        ``job.reserved_start``; each waiting job gets Slurm's pending reason."""
        profile = walk.profile
        fits_now, reserve, headroom = profile.fits_now, profile.reserve, profile.headroom
        depth = math.inf if self.reservation_depth is None else self.reservation_depth
        held, reservations = walk.held, walk.reservations
        starts: list[tuple[Job, object]] = []
        room = headroom()
        n = len(queue)
        i = walk.scanned
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
            if held:
                promise = held.pop(job.id, None)
                if promise is not None:
                    profile.release(promise[1], promise[0], promise[0] + d)
                    room = headroom()
            # Most jobs that do not fit are too wide for any node right now: one comparison.
            placement = fits_now(job, d) if job.request.cpus_per_node <= room else None
            if placement is not None:
                reserve(placement, now, now + d)
                starts.append((job, placement))
                room = headroom()
                continue
            if not self.backfill:
                job.reason = "Resources"
                walk.blocked = True
            elif walk.reserved < depth:
                try:
                    t, placement = profile.earliest(job, d)
                except Unsatisfiable:
                    # Nothing known ever frees enough (jobs without a time limit): the job
                    # waits without a slot, but still counts as the protected one.
                    job.reason = "Resources"
                    walk.reserved += 1
                    continue
                reserve(placement, t, t + d)
                reservations[job.id] = (t, placement)
                job.reserved_start = t
                if job.submit < walk.protected_since:
                    walk.protected_since = job.submit
                job.reason = "Resources" if walk.reserved == 0 else "Priority"
                walk.reserved += 1
                room = headroom()
            else:
                job.reason = "Priority"
                if room <= 0:
                    break  # nothing can start now, and no more reservations to hand out
        walk.scanned = n
        return starts

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
