"""Guarded backfilling: shortest predicted first, with promises for starving jobs.

Shortest-first backfilling on predicted runtimes (EASY++) wins the most average
slowdown, but it starves: a backfilled job that outlives its prediction pushes the
reserved job's start out, again and again, because the reservation was computed with
predictions (docs/prediction.md: a job asking for 85% of a machine for two minutes
waited hundreds of hours).  ``aged`` bounds that by letting fewer jobs backfill, and
gives back most of the gain.

``guarded`` keeps EASY++ for every job and adds a second plan, in requested times:

* **The plan.**  Running jobs end at their time limits (``start + time_limit``: the
  latest they can end, since a job is stopped at its limit), and a few waiting jobs
  hold *promises* ``[t, t + time_limit)``.  No start is ever allowed that would not fit
  in this plan with its own time limit, so the plan never overcommits, and a promise
  ``t`` is a real guarantee: whatever the predictions say, the resources are free at
  ``t``.  Each pass searches every promise again (earliest first) in the plan rebuilt
  from the running jobs (Mu'alem & Feitelson's compression), so a promise only ever
  moves earlier; a promised job starts as soon as the plan lets it.
* **Who gets a promise.**  A job is *protected* at the first pass after it has waited
  ``patience(job) = min(slowdown_bound * max(time_limit, 10 s), wait_cap)``:
  its bounded slowdown counted with its requested time would exceed
  ``slowdown_bound``, or it has waited ``wait_cap``.  Short wide jobs, the ones
  shortest-first starves, are protected soon; long ones after ``wait_cap``.
* **Everything else** is EASY++: the first unprotected job that does not fit gets a
  reservation computed with predictions, the others are tried shortest prediction
  first, and each may start if it fits the predicted plan (with its prediction) *and*
  the requested-time plan (with its time limit).

The guarantee (tests/core/test_guarded.py): if every job ends by its time limit, a job
protected at time ``p`` with promise ``t`` starts no later than ``t``, and its promise
never moves later.  So its wait is at most ``patience(job)`` plus the time from
its protection to its first promise, which is computed like EASY's reservation with
requested times, behind only the jobs protected before it.  Why it keeps most of the
gain: promises cost nothing until they are needed (only the few protected jobs hold
one, and a candidate is refused only when, run to its limit, it would overlap one).
"""

from __future__ import annotations

import math

from kairos.core.jobs import Job, JobState
from kairos.core.policy.backfill import SLOWDOWN_FLOOR, Backfill, Walk
from kairos.core.profile import Unsatisfiable

_PENDING = JobState.PENDING

#: A job is protected once its bounded slowdown with its requested time would exceed
#: this ...
SLOWDOWN_BOUND = 10.0
#: ... or once it has waited this long (seconds), whichever comes first.  Both picked
#: by replaying six traces (docs/prediction.md shows the neighbouring settings): a
#: shorter cap hands out more promises, and each refuses every candidate whose
#: requested time overlaps it, which costs average slowdown; a longer one lets a burst
#: of wide jobs wait past the cap and then queue behind each other's promises.
WAIT_CAP = 60 * 3600.0


class Guarded(Backfill):
    """EASY++ (depth 1, shortest prediction first) plus requested-time promises for the
    jobs that have waited past ``patience`` (see the module docstring)."""

    #: the scheduler hands the walk the running jobs' requested ends and the promises
    guards = True

    def __init__(self, name: str = "easy", *, slowdown_bound: float = SLOWDOWN_BOUND,
                 wait_cap: float = WAIT_CAP) -> None:
        super().__init__(name, 1, backfill_order="shortest")
        if not slowdown_bound >= 1:
            raise ValueError(f"slowdown_bound must be a number >= 1, not {slowdown_bound!r}")
        if not wait_cap >= 0:
            raise ValueError(f"wait_cap must be a number of seconds >= 0, not {wait_cap!r}")
        self.name = f"{name}+guarded"
        self.backfill_order = "guarded"
        self.slowdown_bound = slowdown_bound
        self.wait_cap = wait_cap

    def __repr__(self) -> str:
        return (f"Guarded({self.name!r}, slowdown_bound={self.slowdown_bound}, "
                f"wait_cap={self.wait_cap})")

    def patience(self, job: Job) -> float:
        """Seconds of waiting after which ``job`` gets a promise."""
        return min(self.slowdown_bound * max(job.time_limit, SLOWDOWN_FLOOR), self.wait_cap)

    # ------------------------------------------------------------------ the walk

    def walk(self, queue: list[Job], walk: Walk, now: float) -> list[tuple[Job, object]]:
        """As ``Backfill.walk``; ``walk.limits()`` builds the requested-time plan and
        ``walk.promises`` (job id -> (start, placement)) carries promises across walks."""
        profile = walk.profile
        starts: list[tuple[Job, object]] = []
        if walk.scanned:  # resumed: jobs queued since may be protected before the next walk
            patience = self.patience
            for job in queue[walk.scanned:]:
                due = job.submit + patience(job)
                if due < walk.next_protect:
                    walk.next_protect = due
        guard = walk.guard
        if guard is not None and not guard.advance(now):
            guard = walk.guard = None  # rebuilt below, with the promises put back
            for job_id, (t, placement) in walk.promises.items():  # out of the predicted plan too
                profile.release(placement, t, t + walk.promised_estimates[job_id])
        if guard is None and (walk.promises or now >= walk.next_protect):
            if walk.limits is None:
                raise ValueError("the guarded policy needs a scheduler that supplies requested ends")
            guard = walk.guard = walk.limits(now)
            self._keep_promises_of(queue, walk, guard, now, starts)
        if now >= walk.next_protect:
            self._protect(queue, walk, guard, now, starts)
        promises = walk.promises
        if starts:  # promised jobs starting now are still pending until the scheduler starts them
            promises = {**promises, **{job.id: None for job, _ in starts}}
        # EASY: queue order until the first job that does not fit gets the reservation.
        i, n = walk.scanned, len(queue)
        while i < n and walk.reserved < 1:
            job = queue[i]
            i += 1
            if job.state is not _PENDING or job.id in promises:
                continue
            placement = self._fits_both(job, profile, guard, now, promises)
            if placement is not None:
                self._start(job, placement, profile, guard, now, starts)
                continue
            if profile.fits_now(job, job.estimate) is not None:
                job.reason = "Priority"  # fits, but would break a promise
                continue
            try:
                t, placement = profile.earliest(job, job.estimate)
            except Unsatisfiable:
                job.reason = "Resources"
                walk.reserved += 1
                continue
            profile.reserve(placement, t, t + job.estimate)
            self._reserved(job, walk, (t, placement, t + job.estimate))
        # The rest: shortest prediction first.
        if i < n:
            rest = sorted((j for j in queue[i:] if j.state is _PENDING and j.id not in promises),
                          key=lambda j: j.estimate)
            room = profile.headroom()
            for job in rest:
                if room <= 0:
                    job.reason = "Priority"
                    continue
                placement = (self._fits_both(job, profile, guard, now, promises)
                             if job.request.cpus_per_node <= room else None)
                if placement is None:
                    job.reason = "Priority"
                    continue
                self._start(job, placement, profile, guard, now, starts)
                room = profile.headroom()
        walk.scanned = n
        return starts

    @staticmethod
    def _fits_both(job: Job, profile, guard, now: float, promises: dict):
        """A placement where ``job`` fits the predicted plan for its estimate and, when
        any promise is held, the requested-time plan for its time limit; or None."""
        placement = profile.fits_now(job, job.estimate)
        if placement is None or not promises:
            return placement
        kept = guard.fits_at(job, now, job.time_limit, prefer=placement)
        if kept is None:
            return None
        if kept != placement and profile.fits_at(job, now, job.estimate, prefer=kept) != kept:
            return None
        return kept

    @staticmethod
    def _start(job: Job, placement, profile, guard, now: float, starts: list) -> None:
        profile.reserve(placement, now, now + job.estimate)
        if guard is not None:
            guard.reserve(placement, now, now + job.time_limit)
        starts.append((job, placement))

    def _keep_promises_of(self, queue: list[Job], walk: Walk, guard, now: float,
                          starts: list) -> None:
        """A fresh requested-time plan: put back the promises of jobs still pending,
        then search each again, earliest first, for an earlier slot (there is always
        one as early: the old slot is still free); start those due now."""
        old = walk.promises
        if not old:
            return
        walk.promised_estimates = {}
        pending = {j.id: j for j in queue if j.state is _PENDING and j.id in old}
        kept = []
        for job_id, (t, placement) in old.items():
            job = pending.get(job_id)
            if job is None:
                continue  # started, cancelled or held: its promise lapses
            t = max(t, now)
            if guard.fits_at(job, t, job.time_limit, prefer=placement) != placement:
                # Only if something broke the plan (a job that outlived its limit, a
                # node lost): search anew, possibly later.
                kept.append((math.inf, job_id, job, None))
                continue
            guard.reserve(placement, t, t + job.time_limit)
            kept.append((t, job_id, job, placement))
        kept.sort(key=lambda k: (k[0], k[1]))
        promises = walk.promises = {}
        may_start = getattr(guard, "may_start", None)
        for t, job_id, job, placement in kept:
            if placement is not None:
                if t > now and may_start is not None and not may_start(job, ((now, t),)):
                    # No step before t has room for it: the search would find t again.
                    self._hold(job, walk, t, placement, promises)
                    continue
                guard.release(placement, t, t + job.time_limit)
            self._promise(job, walk, guard, now, starts, promises)

    def _protect(self, queue: list[Job], walk: Walk, guard, now: float, starts: list) -> None:
        """Give a promise to every pending job that has waited past ``patience``,
        in queue order; note when the next one will have."""
        promises = walk.promises
        following = math.inf
        started = {job.id for job, _ in starts}
        for job in queue:
            if job.state is not _PENDING or job.id in promises or job.id in started:
                continue
            due = job.submit + self.patience(job)
            if due <= now:
                self._promise(job, walk, guard, now, starts, promises)
            elif due < following:
                following = due
        walk.next_protect = following

    @staticmethod
    def _promise(job: Job, walk: Walk, guard, now: float, starts: list, promises: dict) -> None:
        """Search ``job``'s earliest slot in the requested-time plan: start it if that is
        now, else hold it as its promise (also in the predicted plan, so EASY's
        reservation is placed around it)."""
        try:
            t, placement = guard.earliest(job, job.time_limit)
        except Unsatisfiable:
            return  # nothing known ever frees enough (no time limits): no promise possible
        if t <= now:
            # Free now in the requested-time plan, hence free now on the machine.
            walk.profile.reserve(placement, now, now + job.estimate)
            guard.reserve(placement, now, now + job.time_limit)
            starts.append((job, placement))
            walk.reservations.pop(job.id, None)
            return
        guard.reserve(placement, t, t + job.time_limit)
        Guarded._hold(job, walk, t, placement, promises)

    @staticmethod
    def _hold(job: Job, walk: Walk, t: float, placement, promises: dict) -> None:
        """Hold ``job``'s promise at ``t`` (already in the requested-time plan) in the
        predicted plan and the walk."""
        walk.profile.reserve(placement, t, t + job.estimate)
        promises[job.id] = (t, placement)
        walk.promised_estimates[job.id] = job.estimate
        walk.reservations[job.id] = (t, placement, t + job.estimate)  # squeue --start shows it
        job.reserved_start = t
        job.reason = "Resources"
