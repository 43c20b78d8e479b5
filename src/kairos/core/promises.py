"""Conservative backfilling's promises from one pass to the next.

A fresh conservative walk starts from the last walk's promises.  Either its profile is
carried on to ``now`` and patched with what happened since (``carried_walk``: early and
late ends, revised expected ends), or, after anything the patches do not describe (a
cancel, a hold, a node change), it is built anew and the promises put back
(``restore_promises``).  Both say where resources were freed since the promises were
searched (``kairos.core.policy.freed``), so the walk searches a promise again only there.
EASY (and FCFS) on nodes carry their profile too (``carried_profile``): the last
walk's reservation is taken out, and the rest is what a new profile would hold.
Functions of the ``Scheduler`` whose bookkeeping they read (its ``_freed`` spans,
``_patches``, jobs and waiting set), kept here to keep that module about events.
"""

from __future__ import annotations

import math

from kairos.core.jobs import JobState
from kairos.core.policy import Walk
from kairos.core.policy.freed import FreedSpans

_PENDING = JobState.PENDING

#: A forecast's copy (``Scheduler.stop``) asks its ``stop`` after every this many jobs of
#: a walk, and promises put back.
STOP_EVERY = 256


def carried_walk(s, now: float, old: Walk) -> Walk | None:
    """Conservative: the old walk's profile moved on to ``now`` and patched with what
    happened since (early and late ends), its promises still in it; None when that
    cannot be done (then the profile is built anew and the promises put back).
    The same profile as building anew, without re-placing every promise."""
    profile = old.profile
    rebase = getattr(profile, "rebase", None)
    if rebase is None or old.held or not rebase(now, s._patches):
        return None
    walk = Walk(profile, held=old.reservations, head=old.head, first_promise=old.first_promise)
    if old.first_promise < now:
        # Promises whose time passed without a pass then: give them up, as building
        # anew would, and search those jobs afresh.
        for job_id, promise in [p for p in old.reservations.items() if p[1][0] < now]:
            del walk.held[job_id]
            if promise[2] > now:
                profile.release(promise[1], now, promise[2])
                s._freed.add(now, promise[2])
        walk.first_promise = min((p[0] for p in walk.held.values()), default=math.inf)
    _prune(profile)
    walk.freed = freed_since(s, old, now)
    return walk


#: EASY and FCFS carry their profile on clusters of at least this many nodes: on fewer,
#: building it anew costs less than patching it (the twin's traces on 25 nodes of 4 CPUs
#: replay faster rebuilt; at 2,000 nodes carrying starts jobs 4x faster)
CARRY_FROM_NODES = 256


def carried_profile(s, now: float, old: Walk):
    """EASY or FCFS on nodes: the old walk's profile without its reservations, moved
    on to ``now`` and patched with what happened since; None when that cannot be done
    or would not pay (a processor pool or a small cluster, whose profile is cheap to
    build; guarded's second profile; backfill orders that plan beyond the walk's
    reservations)."""
    profile = old.profile
    policy = s.policy
    rebase = getattr(profile, "rebase", None)
    if (rebase is None or s.cluster.is_pool or len(s.cluster.nodes) < CARRY_FROM_NODES
            or policy.guards or old.held or policy.backfill_order != "queue"):
        return None
    for start, placement, end in old.reservations.values():
        profile.release(placement, start, end)
    if not rebase(now, s._patches):
        return None
    _prune(profile)
    return profile


def _prune(profile) -> None:
    """Leave a carried profile with the steps a profile built anew would have."""
    prune = getattr(profile, "prune", None)
    if prune is not None:
        prune()


def freed_since(s, old: Walk, now: float) -> FreedSpans:
    """Where resources were freed since the old walk's promises were searched."""
    freed = FreedSpans(everything=s._freed.everything)
    if old.moved is not None:
        freed.update(old.moved)
    freed.update(s._freed)
    freed.forget_before(now)
    s._freed = FreedSpans()
    return freed


def restore_promises(s, walk: Walk, old: Walk, now: float) -> None:
    """Put the reservations of still-pending jobs back into a fresh profile.  One that
    no longer fits (a running job was given a later expected end) is dropped.

    A forecast's copy (``Scheduler.stop``) asks its ``stop`` every ``STOP_EVERY``
    promises and, told to, leaves off with ``cut`` set.

    Also says where resources were freed since those promises were searched
    (``walk.freed``): what ended early, promises moved by the old walk after some
    jobs had been walked, promises dropped or shortened here."""
    profile, jobs = walk.profile, s.jobs
    freed = walk.freed = freed_since(s, old, now)
    promises = list(old.held.items()) + list(old.reservations.items())
    stop = s.stop
    for k, (job_id, (t, promised, end)) in enumerate(promises):
        if stop is not None and k % STOP_EVERY == STOP_EVERY - 1 and stop():
            s.cut = True  # a forecast's copy out of time: its profile is not whole
            return
        job = jobs.get(job_id)
        if job is None or job.state is not _PENDING or job_id in s._waiting or t < now:
            freed.add(max(t, now), end)
            continue
        new_end = t + job.estimate
        placement = profile.fits_at(job, t, job.estimate, prefer=promised)
        if placement is None:
            freed.add(t, end)
            continue
        if placement != promised:
            freed.add(t, end)
        if new_end != end:
            freed.add(min(new_end, end), end)
            if walk.changed is None:
                walk.changed = set()
            walk.changed.add(job_id)  # a shorter job may fit where nothing was freed
        profile.reserve(placement, t, new_end)
        walk.held[job_id] = (t, placement, new_end)
        if t < walk.first_promise:
            walk.first_promise = t
    walk.head = old.head


__all__ = ["carried_walk", "freed_since", "restore_promises"]
