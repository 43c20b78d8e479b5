"""Conservative backfilling searches a promise again only where resources were freed
(``kairos.core.policy.freed``).  The spans themselves, and, on random queues driven
through everything that frees or takes resources (early and late ends, cancels, holds,
shorter limits, a predictor's revised ends), the very same schedule as searching every
promise again at every pass.
"""

from __future__ import annotations

import heapq
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kairos.core import Cluster, Job, Request, Scheduler
from kairos.core.policy.freed import FreedSpans


def spans(f: FreedSpans) -> list[tuple[float, float]]:
    return list(zip(f.starts, f.ends))


def test_spans_merge_when_they_touch_or_overlap():
    f = FreedSpans()
    f.add(10, 20)
    f.add(30, 40)
    assert spans(f) == [(10, 20), (30, 40)]
    f.add(20, 25)  # touches the first
    assert spans(f) == [(10, 25), (30, 40)]
    f.add(5, 35)  # swallows both
    assert spans(f) == [(5, 40)]
    f.add(50, 50)  # an instant (a zero-length job)
    assert spans(f) == [(5, 40), (50, math.nextafter(50, math.inf))]
    f.forget_before(40)
    assert spans(f) == [(50, math.nextafter(50, math.inf))]


def test_windows_are_the_starts_whose_window_meets_a_span():
    f = FreedSpans()
    f.add(100, 110)
    # A 30 s job promised at 200: starts from 70 (window reaches 100) to 110 meet it.
    assert f.windows(0, 200, 30) == [(70, 110)]
    # Promised at 90: only starts before 90.
    assert f.windows(0, 90, 30) == [(70, 90)]
    # Promised at 60: no earlier window meets the span.
    assert f.windows(0, 60, 30) == []
    # Now is 80: earlier starts are gone.
    assert f.windows(80, 200, 30) == [(80, 110)]
    f.add(150, 160)
    assert f.windows(0, 200, 60) == [(40, 160)]  # the two ranges overlap: one
    assert FreedSpans(everything=True).windows(0, 200, 30) is None


@st.composite
def scripts(draw):
    procs = draw(st.integers(2, 16))
    steps = []
    t = 0
    next_id = 1
    for _ in range(draw(st.integers(5, 60))):
        t += draw(st.sampled_from([0, 1, 3, 10, 40]))
        kind = draw(st.sampled_from(["submit"] * 6 + ["end", "end", "cancel", "hold", "release",
                                                      "limit", "revise"]))
        if kind == "submit":
            limit = draw(st.sampled_from([1, 10, 50, 100, 400]))
            steps.append((t, "submit", next_id, draw(st.integers(1, procs)), limit,
                          draw(st.sampled_from(["a", "b", "c"]))))
            next_id += 1
        elif kind == "end":
            # which running job (by rank) and when, relative to its expected end
            steps.append((t, "end", draw(st.integers(0, 5)), draw(st.sampled_from([-1.0, 0.5, 0.0]))))
        elif kind == "revise":
            steps.append((t, "revise", draw(st.integers(0, 5)), draw(st.sampled_from([0.3, 0.8, 1.5]))))
        else:
            steps.append((t, kind, draw(st.integers(0, 8)), draw(st.sampled_from([0.2, 0.5]))))
    return procs, steps


def drive(procs: int, steps, order: str, reference: bool) -> list:
    """Run ``steps`` against one scheduler; what every pass decided."""
    s = Scheduler(Cluster.pool(procs), "conservative", order)
    s.policy.reference = reference
    log = []
    due: list[tuple[float, int]] = []  # running jobs' expected ends, when they end then
    late: set[int] = set()  # jobs that outlive their expected end (corrected by a pass)

    def decide(now):
        actions = s.schedule(now)
        for a in actions:
            heapq.heappush(due, (a.expected_end, a.job_id))
        s.check_invariants()
        log.append((now, [(a.job_id, a.placement) for a in actions], sorted(s.reservations.items()),
                    sorted((j.id, j.reason) for j in s.pending())))

    for step in steps:
        now = step[0]
        while due and due[0][0] <= now:
            end, job_id = heapq.heappop(due)
            if job_id in s.running and job_id not in late:
                s.end(job_id, end)
                decide(end)
        kind = step[1]
        running = sorted(s.running)
        pending = sorted(j.id for j in s.pending())
        if kind == "submit":
            _, _, job_id, cpus, limit, user = step
            s.submit(Job(job_id, user, now, Request(tasks=cpus), time_limit=limit), now)
        elif kind == "end" and running:
            job_id = running[step[2] % len(running)]
            if step[3] < 0:
                late.add(job_id)
            else:
                s.end(job_id, now)  # early, or late if it was overdue
        elif kind == "revise" and running:
            job = s.running[running[step[2] % len(running)]]
            s.set_expected_end(job.id, max(now + 1, job.start + step[3] * (job.expected_end - job.start)))
        elif kind in ("cancel", "hold", "release", "limit") and pending:
            job = s.jobs[pending[step[2] % len(pending)]]
            if kind == "cancel":
                s.cancel(job.id, now)
            elif kind == "hold" and not job.held:
                s.hold(job.id)
            elif kind == "release" and job.held:
                s.release(job.id)
            elif kind == "limit":
                s.set_time_limit(job.id, max(1.0, job.time_limit * step[3]), now)
        decide(now)
    return log


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scripts(), st.sampled_from(["submit", "sjf", "multifactor"]))
def test_searching_only_where_freed_gives_the_same_schedule(script, order):
    procs, steps = script
    assert drive(procs, steps, order, reference=False) == drive(procs, steps, order, reference=True)
