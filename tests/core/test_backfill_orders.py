"""Backfill orders: ``aged`` against ``shortest`` on hand-worked scenarios, and the EASY
guarantee for ``aged`` on random workloads (hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kairos.core import Cluster, Scheduler
from kairos.core.jobs import Job, Request
from kairos.core.policy import BACKFILL_ORDERS, Backfill, make_policy
from kairos.core.policy.backfill import PROTECT_AFTER, expected_slowdown
from kairos.sim.replay import replay
from tests.core.conftest import make_workload
from tests.core.test_properties import SETTINGS, Guess, Watch, workloads


class Fixed:
    """A predictor that answers from a table (seconds, by job id)."""

    name = "fixed"

    def __init__(self, table):
        self.table = table

    def estimate(self, job, now):
        return self.table[job.id]

    def observe(self, job, now):
        pass


def starts_under(workload, order, *, protect_after=PROTECT_AFTER, predictor=None):
    policy = Backfill("easy", 1, backfill_order=order, protect_after=protect_after)
    scheduler = Scheduler(Cluster.pool(workload.procs), policy, estimator=predictor)
    return {j.id: j.start for j in replay(workload, scheduler=scheduler).jobs}


def test_aged_is_a_known_order_and_make_policy_builds_it():
    assert BACKFILL_ORDERS == ("queue", "shortest", "aged", "guarded")
    policy = make_policy("easy", backfill_order="aged", protect_after=60)
    assert policy.name == "easy+aged" and policy.protect_after == 60
    with pytest.raises(ValueError, match="protect_after"):
        Backfill("easy", 1, backfill_order="aged", protect_after=-1)
    with pytest.raises(ValueError, match="unknown backfill order 'oldest'"):
        make_policy("easy", backfill_order="oldest")


def test_expected_slowdown_counts_the_wait_and_floors_short_estimates():
    job = Job(1, "u", 100, Request.procs(1), time_limit=50)
    assert expected_slowdown(job, 200) == (100 + 50) / 50
    tiny = Job(2, "u", 100, Request.procs(1), time_limit=2)
    assert expected_slowdown(tiny, 100) == 2 / 10


def test_aged_lets_a_long_waiting_job_into_the_hole_that_short_arrivals_keep_taking():
    # 4 procs, exact estimates.  J1 (3 procs) runs 0-300; J2 (4 procs) is the head,
    # reserved at 300.  One proc is free until 300.  S3 (50 s) and L4 (100 s) arrive at
    # 2; S5, S6, S7, S8 (50 s each) arrive at 50, 100, 150, 200.
    #   shortest: each time the proc frees, the newest 50 s job is shorter than L4:
    #     S3 2-52, S5 52-102, S6 102-152, S7 152-202, S8 202-252; at 252 L4 would end at
    #     352 > 300, so it waits for J2 (300-310) and starts at 310.
    #   aged: at 2 both have expected slowdown 1 (queue order: S3 2-52).  At 52 L4 has
    #     waited 50 s: (50 + 100) / 100 = 1.5 against S5's (2 + 50) / 50 = 1.04, so L4
    #     runs 52-152.  At 152 S5 (3.04) beats S6 (2.04): 152-202; S6 202-252; S7 would
    #     end at 302 > 300, so S7 and S8 start after J2, at 310.
    rows = [(1, 0, 3, 300, 300), (2, 1, 4, 10, 10), (3, 2, 1, 50, 50), (4, 2, 1, 100, 100),
            (5, 50, 1, 50, 50), (6, 100, 1, 50, 50), (7, 150, 1, 50, 50), (8, 200, 1, 50, 50)]
    w = make_workload(rows, procs=4)
    shortest = starts_under(w, "shortest")
    aged = starts_under(w, "aged")
    assert shortest == {1: 0, 2: 300, 3: 2, 4: 310, 5: 52, 6: 102, 7: 152, 8: 202}
    assert aged == {1: 0, 2: 300, 3: 2, 4: 52, 5: 152, 6: 202, 7: 310, 8: 310}


def test_aged_protects_a_long_waiting_head_from_a_prediction_that_is_too_short():
    # 2 procs.  J1 (1 proc, 100 s) runs 0-100; J2 (2 procs, 10 s) is the head, reserved
    # at 100.  J3 (1 proc, runs 80 s, limit 200 s) arrives at 60 predicted to take 30 s:
    # by its prediction it ends at 90, before the reservation.
    #   shortest (and aged before protect_after): J3 backfills at 60, really runs until
    #     140, and J2 starts at 140 instead of 100.
    #   aged with protect_after = 50: J2 has waited 60 s, so J3 must fit for its limit
    #     (60 + 200 > 100): it waits; J2 runs 100-110 and J3 starts at 110.
    rows = [(1, 0, 1, 100, 100), (2, 0, 2, 10, 10), (3, 60, 1, 80, 200)]
    w = make_workload(rows, procs=2)
    table = {1: 100, 2: 10, 3: 30}
    assert starts_under(w, "shortest", predictor=Fixed(table)) == {1: 0, 2: 140, 3: 60}
    assert starts_under(w, "aged", protect_after=70, predictor=Fixed(table)) == {1: 0, 2: 140, 3: 60}
    assert starts_under(w, "aged", protect_after=50, predictor=Fixed(table)) == {1: 0, 2: 100, 3: 110}


def test_queue_and_shortest_ignore_protect_after():
    rows = [(1, 0, 1, 100, 100), (2, 0, 2, 10, 10), (3, 60, 1, 80, 200)]
    w = make_workload(rows, procs=2)
    table = {1: 100, 2: 10, 3: 30}
    for order in ("queue", "shortest"):
        assert (starts_under(w, order, protect_after=0, predictor=Fixed(table))
                == starts_under(w, order, protect_after=math.inf, predictor=Fixed(table)))


@SETTINGS
@given(workloads(), st.sampled_from([0.0, 5.0, 30.0, PROTECT_AFTER, math.inf]))
def test_aged_never_delays_the_reserved_head(workload, protect_after):
    # Runtimes never exceed estimates here, so EASY's promise to the head must hold,
    # whether or not the head is protected with requested times yet.
    watch = Watch(workload.procs)
    scheduler = Scheduler(Cluster.pool(workload.procs),
                          Backfill("easy", 1, backfill_order="aged", protect_after=protect_after))
    result = replay(workload, scheduler=scheduler, observe=watch)
    starts = {j.id: j.start for j in result.jobs}
    assert all(s is not None for s in starts.values())
    for job_id, promised in watch.promises.items():
        assert starts[job_id] <= min(promised), (job_id, starts[job_id], promised)


@SETTINGS
@given(workloads(), st.lists(st.sampled_from([0.0, 0.05, 0.3, 1.0]), min_size=1, max_size=5),
       st.sampled_from([0.0, 30.0, math.inf]), st.sampled_from(["limit", "tsafrir"]))
def test_aged_with_wrong_predictions_never_overfills_or_cuts_a_job_short(workload, factors,
                                                                          protect_after, correction):
    watch = Watch(workload.procs)
    scheduler = Scheduler(Cluster.pool(workload.procs),
                          Backfill("easy", 1, backfill_order="aged", protect_after=protect_after),
                          estimator=Guess(factors), correct=correction)
    result = replay(workload, scheduler=scheduler, observe=watch)
    for job in result.jobs:
        assert job.start >= job.submit
        assert job.end - job.start == workload.runtimes[job.id], "a job was cut short"
