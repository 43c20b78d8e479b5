"""Guarded backfilling (``kairos.core.policy.guarded``): a hand-worked case where
shortest-first starves a wide job and ``guarded`` bounds its wait, and its guarantee on
random workloads with wrong predictions (hypothesis): a protected job starts no later
than the promise it got when protected, promises never move later, and every job that
waits past its patience is protected."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kairos.core import Cluster, Scheduler
from kairos.core.jobs import Job, Request
from kairos.core.policy import Guarded, make_policy
from kairos.sim.replay import replay
from kairos.sim.workload import on_nodes
from tests.core.conftest import make_workload
from tests.core.test_backfill_orders import Fixed
from tests.core.test_properties import SETTINGS, Guess, Watch, workloads


def starts_under(workload, policy, predictor):
    scheduler = Scheduler(Cluster.pool(workload.procs), policy, estimator=predictor)
    return {j.id: j.start for j in replay(workload, scheduler=scheduler).jobs}


def test_make_policy_builds_guarded_for_easy_only():
    policy = make_policy("easy", backfill_order="guarded")
    assert isinstance(policy, Guarded) and policy.name == "easy+guarded"
    with pytest.raises(ValueError, match="applies to the easy policy"):
        make_policy("conservative", backfill_order="guarded")
    with pytest.raises(ValueError, match="slowdown_bound"):
        Guarded(slowdown_bound=0.5)
    with pytest.raises(ValueError, match="wait_cap"):
        Guarded(wait_cap=-1)


def test_patience_is_a_slowdown_bound_with_requested_times_capped_by_a_wait():
    policy = Guarded(slowdown_bound=20, wait_cap=3600)
    short = Job(1, "u", 0, Request.procs(1), time_limit=60)
    tiny = Job(2, "u", 0, Request.procs(1), time_limit=1)
    long = Job(3, "u", 0, Request.procs(1), time_limit=7200)
    assert policy.patience(short) == 20 * 60
    assert policy.patience(tiny) == 20 * 10  # bounded slowdown's 10 s floor
    assert policy.patience(long) == 3600


def stream():
    # 4 procs.  Narrow jobs (2 procs each) arrive every 50 s from 0; each runs 100 s,
    # asks for 150 s and is predicted to take 10 s.  W (4 procs, runs 10 s, asks 20 s)
    # arrives at 5 and is the reserved job.
    rows = [(k, 50 * (k - 1), 2, 100, 150) for k in range(1, 21)]
    rows.append((99, 5, 4, 10, 20))
    table = {k: 10 for k in range(1, 21)}
    table[99] = 10
    return make_workload(rows, procs=4), table


def test_shortest_first_starves_a_wide_job_and_guarded_bounds_its_wait():
    w, table = stream()
    shortest = starts_under(w, make_policy("easy", backfill_order="shortest"), Fixed(table))
    # Each narrow job is predicted to end before W's reservation (the running one's
    # expected end, moved to its limit once overdue), backfills, outlives its
    # prediction, and is still running when the other ends: W waits for the stream.
    assert shortest[99] == 1050
    # Guarded, W's patience is 10 x 20 s: it is protected at the first pass from 205 s,
    # at 250 (job 5 ends, job 6 arrives), and promised 350, when job 6's predecessor
    # (started 200) must have ended by its requested time.  Job 6, which could run
    # to 400, may not start; job 5's end at 300 frees the machine and W starts.
    policy = Guarded(slowdown_bound=10, wait_cap=math.inf)
    guarded = starts_under(w, policy, Fixed(table))
    assert guarded[99] == 300
    assert guarded[99] <= 250 + 150  # protected at 250, no later than its promise


def test_guarded_is_shortest_first_until_someone_is_protected():
    w, table = stream()
    shortest = starts_under(w, make_policy("easy", backfill_order="shortest"), Fixed(table))
    never = starts_under(w, Guarded(slowdown_bound=math.inf, wait_cap=math.inf), Fixed(table))
    assert never == shortest


class Promises:
    """After each pass: every promise held (``walk.promises``), which must never move
    later, and capacity (``Watch``)."""

    def __init__(self, procs):
        self.watch = Watch(procs)
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.protected_at: dict[int, float] = {}

    def __call__(self, now, scheduler, starts):
        self.watch(now, scheduler, starts)
        for job_id, (t, _) in scheduler._walk.promises.items():
            assert t > now
            assert t <= self.last.get(job_id, math.inf), f"job {job_id}'s promise moved later"
            self.first.setdefault(job_id, t)
            self.protected_at.setdefault(job_id, now)
            self.last[job_id] = t
        for action in starts:
            self.protected_at.setdefault(action.job_id, now)


@SETTINGS
@given(workloads(), st.lists(st.sampled_from([0.0, 0.05, 0.3, 1.0]), min_size=1, max_size=5),
       st.sampled_from([1.0, 2.0, 10.0, math.inf]), st.sampled_from([0.0, 20.0, 100.0, math.inf]),
       st.sampled_from(["limit", "tsafrir"]))
def test_a_protected_job_starts_by_its_first_promise(workload, factors, bound, cap, correction):
    # Runtimes never exceed time limits here (as a scheduler enforces), predictions are
    # wrong both ways.
    policy = Guarded(slowdown_bound=bound, wait_cap=cap)
    promises = Promises(workload.procs)
    scheduler = Scheduler(Cluster.pool(workload.procs), policy,
                          estimator=Guess(factors), correct=correction)
    result = replay(workload, scheduler=scheduler, observe=promises)
    for job in result.jobs:
        assert job.start >= job.submit
        assert job.end - job.start == workload.runtimes[job.id], "a job was cut short"
        if job.id in promises.first:
            assert job.start <= promises.first[job.id], (job.id, job.start, promises.first[job.id])
        # Protected at the first pass once its patience ran out (or started by then).
        due = job.submit + policy.patience(job)
        if job.start > due:
            assert promises.protected_at[job.id] <= min(p for p in passes(result) if p >= due)


def passes(result):
    """The instants at which the replay ran a pass: every submission and end."""
    return sorted({j.submit for j in result.jobs} | {j.end for j in result.jobs})


@SETTINGS
@given(workloads(), st.lists(st.sampled_from([0.0, 0.05, 0.3, 1.0]), min_size=1, max_size=5))
def test_with_immediate_protection_every_wait_is_bounded_by_the_first_promise(workload, factors):
    # Patience 0: every job that does not start at once is promised a start at its
    # submission, computed with requested times, and keeps it.
    policy = Guarded(slowdown_bound=1.0, wait_cap=0.0)
    promises = Promises(workload.procs)
    scheduler = Scheduler(Cluster.pool(workload.procs), policy, estimator=Guess(factors))
    result = replay(workload, scheduler=scheduler, observe=promises)
    for job in result.jobs:
        if job.start > job.submit:
            assert promises.protected_at[job.id] == job.submit
            assert job.start <= promises.first[job.id]


@SETTINGS
@given(workloads(), st.lists(st.sampled_from([0.0, 0.05, 0.3, 1.0]), min_size=1, max_size=5),
       st.sampled_from([1, 2, 4]), st.sampled_from([1.0, 10.0]), st.sampled_from([0.0, 20.0]))
def test_on_nodes_a_protected_job_starts_by_its_first_promise(workload, factors, cpus_per_node,
                                                              bound, cap):
    # The same guarantee where placements are node shares (promises keep their nodes).
    workload, cluster = on_nodes(workload, cpus_per_node)
    promises = Promises(cluster.total_cpus)
    scheduler = Scheduler(cluster, Guarded(slowdown_bound=bound, wait_cap=cap),
                          estimator=Guess(factors))
    result = replay(workload, scheduler=scheduler, observe=promises)
    for job in result.jobs:
        assert job.end - job.start == workload.runtimes[job.id]
        if job.id in promises.first:
            assert job.start <= promises.first[job.id], (job.id, job.start, promises.first[job.id])
