"""Runtime estimates in the core: predictions, corrections, shortest-first backfilling,
adoption of running jobs and start-time forecasts (expected values worked out by hand)."""

from __future__ import annotations

import math

import pytest

from kairos.core import Cluster, Job, Request, Scheduler
from kairos.core.corrections import TSAFRIR_STEPS, extend_to_limit, make_correction, metastack, tsafrir
from kairos.core.forecast import forecast_starts
from kairos.sim.replay import replay
from tests.core.conftest import make_workload


class Fixed:
    """A predictor that answers from a table and records what it was told."""

    name = "fixed"

    def __init__(self, table):
        self.table, self.seen = table, []

    def estimate(self, job, now):
        return self.table[job.id]

    def observe(self, job, now):
        self.seen.append((job.id, job.end - job.start, now))


def started(actions):
    return {a.job_id: a.at for a in actions}


def test_prediction_is_clamped_to_one_second_and_the_limit():
    s = Scheduler(Cluster.pool(4), "easy", estimator=Fixed({1: 0.0, 2: 10_000.0, 3: 50.0}))
    jobs = [Job(i, "u", 0, Request.procs(1), time_limit=100) for i in (1, 2, 3)]
    for j in jobs:
        s.submit(j, 0)
    assert [j.estimate for j in jobs] == [1.0, 100, 50.0]


def test_explicit_time_min_is_not_predicted():
    s = Scheduler(Cluster.pool(4), "easy", estimator=Fixed({1: 5.0}))
    job = Job(1, "u", 0, Request.procs(1), time_limit=100, estimate=30, time_min=30)
    s.submit(job, 0)
    assert job.estimate == 30


def test_the_predictor_hears_of_each_end_and_nothing_else():
    pred = Fixed({1: 10.0, 2: 10.0})
    s = Scheduler(Cluster.pool(1), "easy", estimator=pred)
    s.submit(Job(1, "u", 0, Request.procs(1), time_limit=100), 0)
    s.submit(Job(2, "u", 0, Request.procs(1), time_limit=100), 0)
    s.schedule(0)
    assert pred.seen == []
    s.end(1, 7)
    assert pred.seen == [(1, 7, 7)]


def test_a_job_outliving_its_prediction_is_not_killed_and_its_end_moves_out():
    # 2 procs.  J1 (2 procs) predicted 10 s, really 30 s, limit 100.  J2 (2 procs) waits.
    # At 10 J1 is overdue: with the "limit" correction its expected end becomes 100, so
    # J2's reservation moves to 100; J1 really ends at 30 and J2 starts then.
    w = make_workload([(1, 0, 2, 30, 100), (2, 1, 2, 5, 100)], procs=2)
    seen = []

    def watch(now, sched, starts):
        seen.append((now, dict(sched.reservations)))

    result = replay(w, "easy", predictor=Fixed({1: 10.0, 2: 5.0}), observe=watch)
    starts = {j.id: (j.start, j.end) for j in result.jobs}
    assert starts == {1: (0, 30), 2: (30, 35)}
    assert (1, {2: 10}) in seen  # planned on the prediction first


@pytest.mark.parametrize("name, expected", [
    # started at 0, predicted end 10, limit 10,000 s; now = 12 (first correction)
    ("limit", 10_000),
    ("tsafrir", 12 + 60),
    ("metastack", 10 + 3600),
])
def test_corrections_first_step(name, expected):
    job = Job(1, "u", 0, Request.procs(1), time_limit=10_000)
    job.start, job.expected_end = 0, 10
    assert make_correction(name)(job, 12) == expected


def test_tsafrir_steps_grow_and_stop_at_the_limit():
    job = Job(1, "u", 0, Request.procs(1), time_limit=4000)
    job.start = 0
    ends = []
    now = 10
    for k in range(4):
        job.corrections = k
        end = tsafrir(job, now)
        ends.append(end)
        now = end + 1
    assert ends[0] == 10 + TSAFRIR_STEPS[0]
    assert ends[1] == ends[0] + 1 + TSAFRIR_STEPS[1]
    assert ends[-1] <= 4000 + 1  # capped at the limit, then a moment past it


def test_every_correction_lands_after_now_even_past_the_limit():
    job = Job(1, "u", 0, Request.procs(1), time_limit=50)
    job.start, job.expected_end = 0, 50
    for correct in (extend_to_limit, tsafrir, metastack):
        assert correct(job, 60) > 60


def test_shortest_first_backfilling_picks_the_short_job_for_the_hole():
    # 4 procs.  J1 (3 procs) runs until 100; J2 (4 procs) is the head, reserved at 100
    # (until 110).  One proc is free until 100.  J3 (1 proc, 90 s) and J4 (1 proc, 50 s)
    # both fit that hole, one at a time.  Queue order: J3 takes it (2-92); J4 would end
    # at 142 > 100, so it waits for J2: 110.  Shortest first: J4 takes it (2-52); J3
    # would end at 142, so it waits for J2: 110.
    rows = [(1, 0, 3, 100, 100), (2, 1, 4, 10, 10), (3, 2, 1, 90, 90), (4, 2, 1, 50, 50)]
    w = make_workload(rows, procs=4)
    queue = {j.id: j.start for j in replay(w, "easy").jobs}
    shortest = {j.id: j.start for j in replay(w, "easy", backfill_order="shortest").jobs}
    assert queue[3] == 2 and queue[4] == 110
    assert shortest[4] == 2 and shortest[3] == 110


def test_adopt_takes_over_a_running_job():
    s = Scheduler(Cluster.pool(4), "easy")
    job = Job(7, "u", 0, Request.procs(3), time_limit=100)
    job.start, job.placement, job.expected_end = 0, 3, 100
    s.adopt(job, 20)
    s.submit(Job(8, "u", 20, Request.procs(2), time_limit=10), 20)
    assert started(s.schedule(20)) == {}
    assert s.reservations == {8: 100}
    s.check_invariants()


def test_forecast_runs_the_same_policy_forward_and_leaves_the_scheduler_alone():
    # 4 procs, EASY.  Running: A (4 procs) expected until 100.  Pending: B (4 procs,
    # 50 s), C (2 procs, 30 s), D (2 procs, 200 s), all submitted at 10.
    # Forward: 100 B starts (until 150); 150 C and D start.
    s = Scheduler(Cluster.pool(4), "easy")
    s.submit(Job(1, "a", 0, Request.procs(4), time_limit=100), 0)
    s.schedule(0)
    for job_id, n, limit in ((2, 4, 50), (3, 2, 30), (4, 2, 200)):
        s.submit(Job(job_id, "b", 10, Request.procs(n), time_limit=limit), 10)
    s.schedule(10)
    before = (dict(s.reservations), [j.id for j in s.pending()], dict(s.resources.__dict__))
    assert forecast_starts(s, 10) == {2: 100, 3: 150, 4: 150}
    assert forecast_starts(s, 10, [3]) == {3: 150}
    assert (dict(s.reservations), [j.id for j in s.pending()], dict(s.resources.__dict__)) == before


def test_forecast_of_a_held_job_is_infinite():
    s = Scheduler(Cluster.pool(4), "easy")
    s.submit(Job(1, "a", 0, Request.procs(1), time_limit=10, held=True), 0)
    assert forecast_starts(s, 0) == {1: math.inf}


def test_forecasts_are_recorded_at_submission_in_the_twin():
    rows = [(1, 0, 4, 100, 100), (2, 10, 4, 50, 50), (3, 20, 4, 10, 10)]
    result = replay(make_workload(rows, procs=4), "easy", forecast_every=1)
    # Each forecast is exact here: estimates are true runtimes and nothing arrives
    # ahead of a job in submit order.
    assert result.forecasts == {1: 0, 2: 100, 3: 150}
