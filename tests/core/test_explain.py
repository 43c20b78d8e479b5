"""Explanations of pending jobs (``kairos.core.explain``) on clusters small enough to
work out by hand: the reason and its rule, the jobs and reservations in the way, the
forecast and its interval, and the what-ifs the twin confirms."""

from __future__ import annotations

import math

import pytest

from kairos.core import Cluster, Dependency, DependencyKind, Job, Node, Partition, Request, Scheduler
from kairos.core.explain import Holder, Reservation, Waiting, WhatIf, explain
from kairos.core.forecast import forecast_starts
from tests.core.node_jobs import job, started


class Predicted:
    """An estimator that answers from a table (job id -> runtime)."""

    name = "table"

    def __init__(self, table):
        self.table = table

    def estimate(self, job, now):
        return self.table.get(job.id, job.time_limit)

    def observe(self, job, now):
        pass


def pool_job(job_id, procs, limit, submit=0.0, **kw) -> Job:
    return Job(job_id, kw.pop("user", "u"), submit, Request.procs(procs), time_limit=limit, **kw)


def test_a_job_behind_one_running_job_starts_when_it_ends():
    # 4 procs.  J1 (4 procs) runs from 0 to its limit 100; J2 (4 procs, 50 s) waits for it.
    s = Scheduler(Cluster.pool(4), "easy")
    s.submit(pool_job(1, 4, 100, user="ann"), 0)
    s.submit(pool_job(2, 4, 50), 0)
    assert started(s.schedule(0)) == {1: 0}
    e = explain(s, 10, 2)
    assert e.reason == "Resources" and "first in the queue" in e.rule
    assert e.start == 100 and e.interval == (100, 100)
    assert e.holders == (Holder(1, "ann", ("pool",), 100, 100),)
    assert e.reservation == Reservation(2, "u", 100)
    assert e.ahead == 0 and e.blocking == ()
    assert e.what_ifs == ()  # nothing it could change starts it before 100


def test_the_interval_runs_from_expected_ends_to_time_limits():
    # J1 (limit 100) is predicted to run 40 s: the forecast is 40, and 100 if J1 runs
    # to its limit.
    s = Scheduler(Cluster.pool(4), "easy", estimator=Predicted({1: 40}))
    s.submit(pool_job(1, 4, 100), 0)
    s.submit(pool_job(2, 4, 50), 0)
    s.schedule(0)
    e = explain(s, 10, 2)
    assert (e.start, e.start_at_limits, e.interval) == (40, 100, (40, 100))
    assert e.holders[0].expected_end == 40 and e.holders[0].limit_end == 100


def test_a_shorter_limit_lets_it_backfill_before_the_reservation():
    # 4 procs, EASY.  J1 (2 procs) runs until 100.  J2 (4 procs, 50 s) holds the
    # reservation at 100.  J3 (2 procs, 200 s) would delay it, so it waits for J2:
    # 150.  With a limit of 90 s it ends by 100 and starts now (10).
    s = Scheduler(Cluster.pool(4), "easy")
    s.submit(pool_job(1, 2, 100), 0)
    s.schedule(0)
    s.submit(pool_job(2, 4, 50, user="bob"), 5)
    s.submit(pool_job(3, 2, 200), 5)
    s.schedule(5)
    e = explain(s, 10, 3, granularity=10)
    assert e.reason == "Priority" and "ahead of it" in e.rule
    assert e.ahead == 1 and e.blocking == (Reservation(2, "bob", 100),)
    assert e.reservation is None
    assert e.start == 150 == forecast_starts(s, 10, [3])[3]
    # Half the limit (100 s) would end after 100; half the CPUs still overlap J2.
    assert e.what_ifs == (WhatIf("time_limit", {"time_limit": 90}, 10, ("pool",)),)


def test_whole_minutes_by_default():
    s = Scheduler(Cluster.pool(4), "easy")
    s.submit(pool_job(1, 2, 1000), 0)
    s.schedule(0)
    s.submit(pool_job(2, 4, 500), 0)
    s.submit(pool_job(3, 2, 2000), 0)
    s.schedule(0)
    # The window before J2's reservation at 1000 is 990 s: 16 whole minutes.
    e = explain(s, 10, 3)
    assert [(w.kind, w.changes, w.start) for w in e.what_ifs] == [
        ("time_limit", {"time_limit": 960}, 10)]


def test_a_held_job_says_held_and_when_it_would_start_if_released():
    s = Scheduler(Cluster.pool(4), "easy")
    s.submit(pool_job(1, 4, 100), 0)
    s.submit(pool_job(2, 1, 10, held=True), 0)
    s.schedule(0)
    e = explain(s, 20, 2)
    assert e.reason == "JobHeldUser" and "released" in e.rule
    assert math.isinf(e.start) and e.holders == ()
    assert e.what_ifs == (WhatIf("release", {"held": False}, 100, ("pool",)),)


def test_a_dependency_says_which_job_it_waits_for():
    # J2 afterok:J1; J1 runs until 100; J2 starts when it ends (the forecast assumes it
    # completes).
    s = Scheduler(Cluster.pool(4), "easy")
    s.submit(pool_job(1, 1, 100), 0)
    s.submit(pool_job(2, 1, 10, dependencies=(Dependency(DependencyKind.AFTEROK, 1),)), 0)
    s.schedule(0)
    e = explain(s, 10, 2)
    assert e.reason == "Dependency" and "depends on" in e.rule
    assert e.dependencies == (Waiting("afterok", 1, "unfulfilled", "RUNNING"),)
    assert e.start == 100
    assert e.ahead == 0  # not in the queue proper yet


def test_a_failed_dependency_never_starts():
    s = Scheduler(Cluster.pool(4), "easy")
    s.submit(pool_job(1, 1, 100), 0)
    s.schedule(0)
    s.end(1, 5, s.jobs[1].state.FAILED)
    s.submit(pool_job(2, 1, 10, dependencies=(Dependency(DependencyKind.AFTEROK, 1),)), 6)
    s.schedule(6)
    e = explain(s, 10, 2)
    assert e.reason == "DependencyNeverSatisfied" and "never" in e.rule
    assert e.dependencies == (Waiting("afterok", 1, "failed", "FAILED"),)
    assert math.isinf(e.start) and e.what_ifs == ()


def test_another_partition_where_nodes_are_free():
    # n1 (partition a, default) is full until 100; n2 (partition b) is free; c's
    # MaxTime is too short for the job and d is down: neither is proposed.
    cluster = Cluster([Node("n1", 2), Node("n2", 2), Node("n3", 2), Node("n4", 2)], [
        Partition("a", nodes=("n1",), default=True), Partition("b", nodes=("n2",)),
        Partition("c", nodes=("n3",), max_time=50), Partition("d", nodes=("n4",), up=False)])
    s = Scheduler(cluster, "easy")
    s.submit(job(1, tasks=2, user="ann"), 0)
    s.submit(job(2, tasks=2), 0)
    s.schedule(0)
    e = explain(s, 10, 2)
    assert e.start == 100 and e.nodes == ("n1",)
    assert e.holders == (Holder(1, "ann", ("n1",), 100, 100),)
    assert e.what_ifs == (WhatIf("partition", {"partition": "b"}, 10, ("n2",)),)
    assert explain(s, 10, 2, partition_allowed=lambda name: name != "b").what_ifs == ()


def test_fewer_nodes_start_on_the_nodes_that_are_free():
    # Four 1-CPU nodes; J1 holds n1 and n2 until 100; J2 wants all four.
    s = Scheduler(Cluster([Node(f"n{i}", 1) for i in range(1, 5)]), "easy")
    s.submit(job(1, nodes=2, tasks=2), 0)
    s.submit(job(2, nodes=4, tasks=4, limit=60), 0)
    s.schedule(0)
    e = explain(s, 10, 2)
    assert e.start == 100 and e.nodes == ("n1", "n2", "n3", "n4")
    assert [h.nodes for h in e.holders] == [("n1", "n2")]
    assert e.what_ifs == (WhatIf("fewer_nodes", {"nodes": 2, "tasks": 2}, 10, ("n3", "n4")),)


def test_fcfs_names_its_rule():
    s = Scheduler(Cluster.pool(2), "fcfs")
    s.submit(pool_job(1, 2, 100), 0)
    s.submit(pool_job(2, 2, 100), 0)
    s.submit(pool_job(3, 1, 10), 0)
    s.schedule(0)
    assert "strictly in queue order" in explain(s, 0, 2).rule


def test_the_scheduler_is_left_as_it_was():
    s = Scheduler(Cluster.pool(4), "easy")
    s.submit(pool_job(1, 2, 100), 0)
    s.schedule(0)
    s.submit(pool_job(2, 4, 50), 5)
    s.submit(pool_job(3, 2, 200), 5)
    s.schedule(5)
    before = (dict(s.reservations), [(j.id, j.reason, j.time_limit, j.request) for j in s.pending()],
              s.resources.free)
    explain(s, 10, 3)
    explain(s, 10, 2)
    assert (dict(s.reservations), [(j.id, j.reason, j.time_limit, j.request) for j in s.pending()],
            s.resources.free) == before
    s.check_invariants()


def test_only_pending_jobs_are_explained():
    s = Scheduler(Cluster.pool(4), "easy")
    s.submit(pool_job(1, 1, 100), 0)
    s.schedule(0)
    with pytest.raises(ValueError, match="job 1 is RUNNING"):
        explain(s, 1, 1)
    with pytest.raises(KeyError, match="job 9"):
        explain(s, 1, 9)


def test_a_job_that_keeps_running_past_its_start_is_not_in_its_way():
    # n1 (4 CPUs): J1 (2 CPUs) until 100, J2 (1 CPU) until 300.  J3 (3 CPUs) starts at
    # 100 beside J2: only J1 is in its way.
    s = Scheduler(Cluster([Node("n1", 4)]), "easy")
    s.submit(job(1, tasks=2), 0)
    s.submit(job(2, tasks=1, limit=300), 0)
    s.submit(job(3, tasks=3), 0)
    s.schedule(0)
    e = explain(s, 10, 3)
    assert e.start == 100 and [h.job_id for h in e.holders] == [1]


def _serial_queue() -> Scheduler:
    """4 procs, J1 running to 100; J2, J3, J4 (4 procs each, 100 s) start one after the
    other at 100, 200 and 300: each simulated end is one more pass."""
    s = Scheduler(Cluster.pool(4), "easy")
    for k in range(1, 5):
        s.submit(pool_job(k, 4, 100), 0)
    s.schedule(0)
    return s


def _stop_after(passes: int):
    """A ``stop`` that says True from its ``passes``-th question on."""
    asked = 0

    def stop() -> bool:
        nonlocal asked
        asked += 1
        return asked >= passes
    return stop


def test_a_stopped_forecast_leaves_the_jobs_it_did_not_reach_unknown():
    from kairos.core.forecast import UNKNOWN, forecast

    s = _serial_queue()
    assert forecast_starts(s, 0) == {2: 100, 3: 200, 4: 300}
    # Stopped after the pass at 100: J2 is known, J3 and J4 are not (not "never").
    assert forecast_starts(s, 0, stop=_stop_after(2)) == {2: 100}
    found = forecast(s, 0, stop=_stop_after(2))
    assert found[2].start == 100 and found[2].known
    assert found[3] is UNKNOWN and found[4] is UNKNOWN and not found[4].known
    # Held, J4 never starts; a forecast run to the end says so (inf), a stopped one does not.
    s.hold(4)
    assert forecast_starts(s, 0)[4] == math.inf
    assert 4 not in forecast_starts(s, 0, stop=_stop_after(1))


def test_an_explanation_whose_forecast_stopped_says_its_start_is_not_known():
    s = _serial_queue()
    e = explain(s, 0, 4, stop=lambda: True)  # no time at all: one pass, then stop
    assert not e.known and math.isnan(e.start)
    assert all(math.isnan(t) for t in e.interval)
    assert e.holders == () and e.what_ifs == ()
    # The reason and the reservations ahead need no forecast.
    assert e.reason == "Priority" and e.ahead == 2
    assert explain(s, 0, 4).known and explain(s, 0, 4).start == 300
