"""Invariants of every policy on random workloads (hypothesis).

Each workload is replayed through the real twin; an observer looks at the scheduler after
every pass.  Runtimes never exceed estimates (the SWF convention), which is what lets
reservations be promises.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kairos.sim.replay import replay
from kairos.testing.textbook_easy import textbook_easy
from tests.core.conftest import make_workload


@st.composite
def workloads(draw, max_jobs=30):
    procs = draw(st.integers(1, 16))
    n = draw(st.integers(1, max_jobs))
    rows, t = [], 0
    for job_id in range(1, n + 1):
        t += draw(st.sampled_from([0, 0, 1, 2, 5, 10, 30]))
        size = draw(st.integers(1, procs))
        runtime = draw(st.sampled_from([0, 1, 5, 10, 20, 50, 100]))
        estimate = runtime + draw(st.sampled_from([0, 0, 1, 10, 50, 200]))
        user = draw(st.sampled_from(["alice", "bob", "carol"]))
        rows.append((job_id, t, size, runtime, estimate, user))
    return make_workload(rows, procs)


SETTINGS = settings()  # examples per profile: see tests/conftest.py
POLICIES = ["fcfs", "easy", "conservative"]
ORDERS = ["submit", "sjf", "multifactor"]


class Watch:
    """Records what each pass promised and checks capacity as it goes."""

    def __init__(self, procs):
        self.procs = procs
        self.promises: dict[int, list[float]] = {}

    def __call__(self, now, scheduler, starts):
        used = sum(j.request.cpus for j in scheduler.running.values())
        assert used <= self.procs, f"{used} processors in use on a {self.procs}-processor machine at {now}"
        scheduler.check_invariants()
        for job_id, t in scheduler.reservations.items():
            assert t >= now
            self.promises.setdefault(job_id, []).append(t)


@SETTINGS
@given(workloads(), st.sampled_from(POLICIES), st.sampled_from(ORDERS))
def test_capacity_and_causality(workload, policy, order):
    watch = Watch(workload.procs)
    result = replay(workload, policy, order, observe=watch)
    assert len(result.jobs) == len(workload.jobs)
    for job in result.jobs:
        assert job.start is not None and job.start >= job.submit
        assert job.end == job.start + workload.runtimes[job.id]


@SETTINGS
@given(workloads(), st.sampled_from(["submit", "sjf"]))
def test_fcfs_starts_in_queue_order(workload, order):
    result = replay(workload, "fcfs", order)
    if order == "submit":
        queue = sorted(result.jobs, key=lambda j: (j.submit, j.id))
        starts = [j.start for j in queue]
        assert starts == sorted(starts), "a later job started before an earlier one"
    else:
        # Under a non-submit order, a job may only start before a job that is ahead of it
        # in the order if that job had not been submitted yet.
        for a in result.jobs:
            for b in result.jobs:
                ahead = (a.estimate, a.submit, a.id) < (b.estimate, b.submit, b.id)
                if ahead and a.submit <= b.start:
                    assert a.start <= b.start


@SETTINGS
@given(workloads())
def test_easy_never_delays_the_reserved_head(workload):
    watch = Watch(workload.procs)
    result = replay(workload, "easy", "submit", observe=watch)
    starts = {j.id: j.start for j in result.jobs}
    for job_id, promised in watch.promises.items():
        assert starts[job_id] <= min(promised), (job_id, starts[job_id], promised)
        assert promised == sorted(promised, reverse=True), "a reservation moved later"


@SETTINGS
@given(workloads(), st.sampled_from(ORDERS))
def test_conservative_keeps_every_reservation(workload, order):
    watch = Watch(workload.procs)
    result = replay(workload, "conservative", order, observe=watch)
    starts = {j.id: j.start for j in result.jobs}
    for job_id, promised in watch.promises.items():
        assert starts[job_id] <= min(promised), (job_id, starts[job_id], promised)
        assert promised == sorted(promised, reverse=True), "a reservation moved later"


@SETTINGS
@given(workloads(max_jobs=40))
def test_easy_matches_the_textbook_formulation(workload):
    rows = [(j.id, j.submit, j.request.cpus, workload.runtimes[j.id], j.estimate) for j in workload.jobs]
    expected = textbook_easy(rows, workload.procs)
    result = replay(workload, "easy")
    assert {j.id: j.start for j in result.jobs} == expected


@SETTINGS
@given(workloads())
def test_replay_is_deterministic(workload):
    first = replay(workload, "conservative", "multifactor")
    second = replay(workload, "conservative", "multifactor")
    assert [(j.id, j.start) for j in first.jobs] == [(j.id, j.start) for j in second.jobs]


@SETTINGS
@given(workloads())
def test_shortest_first_backfilling_never_delays_the_reserved_head(workload):
    watch = Watch(workload.procs)
    result = replay(workload, "easy", "submit", backfill_order="shortest", observe=watch)
    starts = {j.id: j.start for j in result.jobs}
    for job_id, promised in watch.promises.items():
        assert starts[job_id] <= min(promised), (job_id, starts[job_id], promised)


class Guess:
    """A predictor that is often wrong in both directions (drawn by hypothesis)."""

    name = "guess"

    def __init__(self, factors):
        self.factors = factors

    def estimate(self, job, now):
        return job.time_limit * self.factors[job.id % len(self.factors)]

    def observe(self, job, now):
        pass


@SETTINGS
@given(workloads(), st.lists(st.sampled_from([0.0, 0.05, 0.3, 1.0]), min_size=1, max_size=5),
       st.sampled_from(POLICIES), st.sampled_from(["limit", "tsafrir", "metastack"]),
       st.sampled_from(["queue", "shortest"]))
def test_wrong_predictions_never_kill_a_job_or_overfill_the_machine(workload, factors, policy, correction, order):
    watch = Watch(workload.procs)
    result = replay(workload, policy, predictor=Guess(factors), correction=correction,
                    backfill_order=order, observe=watch)
    for job in result.jobs:
        assert job.start >= job.submit
        assert job.end - job.start == workload.runtimes[job.id], "a job was cut short"
