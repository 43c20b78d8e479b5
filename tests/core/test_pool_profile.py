"""The processor pool's profile (``kairos.core.profile.PoolProfile``) against a plain
step-by-step reading of the same availability: on random running jobs and
reservations, ``earliest`` (which jumps over windows it scans from their ends) gives
the first start a try of every step gives; ``earlier`` (a held promise asked whether
it can move, with its own slot still in the profile) gives what releasing the promise
and trying every step in the freed windows gives; and ``move`` leaves the profile as a
release and a reserve would.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from kairos.core import Job, Request
from kairos.core.policy.freed import FreedSpans
from kairos.core.profile import PoolProfile

TIMES = st.sampled_from([0, 1, 2, 3, 5, 8, 10, 13, 20, 30, 50])


@st.composite
def recipes(draw):
    """A pool at time 10 with running jobs ending later and reservations in it (each
    taken where it fits, as a walk would), as what builds it (``build``)."""
    capacity = draw(st.integers(1, 12))
    now = 10.0
    ends, free = [], capacity
    for job_id in range(draw(st.integers(0, 6))):
        cpus = draw(st.integers(1, capacity))
        if cpus <= free:
            free -= cpus
            ends.append((now + draw(st.integers(1, 60)), job_id, cpus))
    ends.sort()
    wanted = [(draw(st.integers(1, capacity)), now + draw(TIMES), float(draw(TIMES)))
              for _ in range(draw(st.integers(0, 6)))]
    return capacity, now, free, ends, wanted


def build(recipe) -> PoolProfile:
    capacity, now, free, ends, wanted = recipe
    profile = PoolProfile(now, free, capacity, ends)
    for cpus, start, d in wanted:
        if profile.fits_at(job(cpus, d), start, d) is not None:
            profile.reserve(cpus, start, start + d)
    return profile


def free_at(profile: PoolProfile, t: float) -> int:
    """Processors free at time ``t``, read off the fully built profile."""
    while profile._extend():
        pass
    i = max(k for k, s in enumerate(profile.T) if s <= t)
    return profile.F[i]


def fits(profile: PoolProfile, cpus: int, start: float, d: float) -> bool:
    """Whether ``cpus`` are free from ``start`` for ``d`` seconds (a zero-length job
    holds them at ``start``), trying every step in the window."""
    while profile._extend():
        pass
    end = max(start + d, math.nextafter(start, math.inf))
    return free_at(profile, start) >= cpus and all(
        f >= cpus for t, f in zip(profile.T, profile.F) if start < t < end)


def job(cpus: int, d: float) -> Job:
    return Job(1, "u", 0.0, Request.procs(cpus), time_limit=max(d, 1.0))


@settings(max_examples=400, deadline=None)
@given(recipes(), st.data())
def test_earliest_is_the_first_step_that_fits(recipe, data):
    profile = build(recipe)
    cpus = data.draw(st.integers(1, profile.capacity))
    d = float(data.draw(TIMES))
    t, placement = profile.earliest(job(cpus, d), d)
    assert placement == cpus
    steps = list(profile.T)  # earliest may have built more of the profile: all of it now
    assert t == next(s for s in steps if fits(profile, cpus, s, d))


def promised(recipe, data):
    """The profile of ``recipe`` with one more promise in it, at or after the earliest
    start of its job: ``(profile, cpus, duration, start)``, or None when it does not
    fit there."""
    cpus = data.draw(st.integers(1, recipe[0]))
    d = float(data.draw(TIMES))
    later = data.draw(TIMES)
    profile = build(recipe)
    t0 = profile.earliest(job(cpus, d), d)[0] + later
    if profile.fits_at(job(cpus, d), t0, d) is None:
        return None
    profile.reserve(cpus, t0, t0 + d)
    return profile, cpus, d, t0


@settings(max_examples=400, deadline=None)
@given(recipes(), st.data())
def test_a_promise_moves_where_a_release_and_a_search_would_move_it(recipe, data):
    drawn = promised(recipe, data)
    if drawn is None:
        return
    profile, cpus, d, t0 = drawn
    freed = FreedSpans()
    for _ in range(data.draw(st.integers(1, 3))):
        a = profile.now + data.draw(TIMES)
        freed.add(a, a + data.draw(TIMES))
    found = profile.earlier(cpus, d, t0, freed.starts, freed.ends)
    # What the walk did before: release the promise, then try every start in the
    # freed windows, earliest first.
    profile.release(cpus, t0, t0 + d)
    windows = freed.windows(profile.now, t0, d)
    candidates = [s for s in profile.T if any(lo <= s < hi for lo, hi in windows)]
    assert found == next((s for s in candidates if fits(profile, cpus, s, d)), None)


@settings(max_examples=400, deadline=None)
@given(recipes(), st.data())
def test_a_move_leaves_the_profile_a_release_and_a_reserve_would(recipe, data):
    drawn = promised(recipe, data)
    if drawn is None:
        return
    profile, cpus, d, t0 = drawn
    to = profile.now + data.draw(TIMES)
    other = build(recipe)  # the same profile, before the promise
    other.earliest(job(cpus, d), d)
    if to >= t0 or other.fits_at(job(cpus, d), to, d) is None:
        return
    other.reserve(cpus, t0, t0 + d)
    profile.move(cpus, t0, t0 + d, to, to + d)
    other.release(cpus, t0, t0 + d)
    other.reserve(cpus, to, to + d)
    assert (profile.T, profile.F, sorted(profile._tail)) == (other.T, other.F, sorted(other._tail))
