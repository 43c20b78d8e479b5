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
BACKFILL_ORDERS = ("queue", "shortest")


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


class Backfill:
    """A queue walk with ``reservation_depth`` reservations (None = every job)."""

    def __init__(self, name: str, reservation_depth: int | None, *, backfill: bool = True,
                 backfill_order: str = "queue") -> None:
        if backfill_order not in BACKFILL_ORDERS:
            raise ValueError(f"unknown backfill order {backfill_order!r}; choose one of: {', '.join(BACKFILL_ORDERS)}")
        self.name = name if backfill_order == "queue" else f"{name}+{backfill_order}"
        self.reservation_depth = reservation_depth
        self.backfill = backfill
        self.backfill_order = backfill_order
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
            if walk.reserved >= depth and self.backfill_order == "shortest":
                starts += self._shortest_first(queue, i - 1, profile, now)
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
