"""A forecast's copy that may be stopped walks its queue a stretch at a time, asking
``stop`` in between (``Scheduler._walk_until_stopped``): never stopped, it must forecast
exactly what one whole walk per pass forecasts, on a processor pool and on nodes, for
every policy; stopped inside its first pass, it must say so rather than guess."""

from __future__ import annotations

import copy
import random
import sys

import pytest

from kairos.core import Cluster, Job, Node, Request, Scheduler
from kairos.core import promises
from kairos.core.forecast import UNKNOWN, forecast, forecast_starts

POLICIES = ("fcfs", "easy", "conservative")


def _busy(cluster: Cluster, policy: str, seed: int, jobs: int = 60) -> Scheduler:
    """Random jobs submitted over time and passes run until ``now`` = 400, so some
    run, some hold promises and some wait behind them."""
    rng = random.Random(seed)
    s = Scheduler(cluster, policy)
    most = max(n.cpus for n in cluster.nodes) if not cluster.is_pool else cluster.total_cpus
    for k in range(1, jobs + 1):
        submit = rng.uniform(0, 400)
        limit = rng.choice((60, 300, 900, 3600))
        if cluster.is_pool:
            request = Request.procs(rng.randint(1, most))
        else:
            nodes = rng.randint(1, 3)
            request = Request(nodes=nodes, tasks=nodes * rng.randint(1, most))
        job = Job(k, f"u{k % 5}", submit, request, time_limit=limit)
        job.estimate = limit * rng.uniform(0.2, 1.0)
        s.submit(job, submit)
        s.schedule(submit)
    s.schedule(400)
    return s


CLUSTERS = {
    "pool": lambda: Cluster.pool(16),
    "nodes": lambda: Cluster([Node(f"n{k}", cpus=4 if k % 2 else 8) for k in range(6)]),
}


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("kind", sorted(CLUSTERS))
def test_a_walk_in_stretches_forecasts_what_one_whole_walk_does(monkeypatch, policy, kind):
    monkeypatch.setattr(promises, "STOP_EVERY", 3)
    for seed in range(8):
        s = _busy(CLUSTERS[kind](), policy, seed)
        assert len(s.pending()) > 3 * promises.STOP_EVERY  # several stretches
        whole = forecast(s, 400)
        asked = []
        stretched = forecast(s, 400, stop=lambda: asked.append(1) and False)
        assert stretched == whole, (policy, kind, seed)
        assert asked  # it was asked, between stretches and passes


@pytest.mark.parametrize("policy", POLICIES)
def test_a_first_pass_stopped_midway_knows_only_the_jobs_it_started(monkeypatch, policy):
    monkeypatch.setattr(promises, "STOP_EVERY", 3)
    s = _busy(CLUSTERS["nodes"](), policy, seed=1)
    whole = forecast(s, 400)
    cut = forecast(s, 400, stop=lambda: True)
    started_now = {k for k, f in cut.items() if f is not UNKNOWN}
    # What it knows is right, and it is only jobs that start in that very pass.
    assert all(cut[k] == whole[k] and whole[k].start == 400 for k in started_now)
    assert any(f is UNKNOWN for f in cut.values())
    assert set(forecast_starts(s, 400, stop=lambda: True)) == started_now


def _run_forward(s: Scheduler, now: float, extra: Job | None = None) -> dict:
    """What the scheduler itself would do if every job ran exactly its expected time and
    nothing more came (but ``extra``, submitted now): a deep copy of it, run forward.
    The forecast's definition, written apart from ``kairos.core.forecast`` on purpose
    (its loop looks alike): a copy made the other way, to compare against."""
    from kairos.core.forecast import Forecast
    from kairos.core.jobs import JobState

    twin = copy.deepcopy(s)
    if extra is not None:
        twin.submit(copy.copy(extra), now)
    wanted = {j.id for j in twin.pending()}
    found: dict[int, Forecast] = {}
    t = now
    while True:
        for action in twin.schedule(t):
            if action.job_id in wanted:
                found[action.job_id] = Forecast(
                    t, tuple(twin.resources.describe(action.placement)))
        if len(found) == len(wanted) or not twin.running:
            break
        t = max(t, min(job.expected_end for job in twin.running.values()))
        for job in [j for j in twin.running.values() if j.expected_end <= t]:
            twin.end(job.id, t, JobState.COMPLETED)
    return found


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("kind", ["pool", "nodes"])
def test_a_forecast_is_the_scheduler_itself_run_forward(kind, policy):
    """At passes all along replays (jobs ending early and late, promises moving, now and
    then a job cancelled), the forecast is what a deep copy of the scheduler does when
    run forward: conservative's copy starts from the scheduler's own promises, which a
    search anew would not give (a promise is made around those of the jobs behind it)."""
    from kairos.sim.replay import replay
    from kairos.sim.workload import lublin, on_nodes

    checked = 0
    for seed in range(2):
        workload = lublin(200, 32, seed=seed)
        cluster = None
        if kind == "nodes":
            workload, cluster = on_nodes(workload, 8)
        passes = 0

        def compare(now, s, starts):
            nonlocal checked, passes
            passes += 1
            if passes % 5 == 0 and s.pending():
                if passes % 15 == 0:  # a cancel: the next pass builds its profile anew
                    s.cancel(s.pending()[-1].id, now)
                    if not s.pending():
                        return
                expected = _run_forward(s, now)
                got = forecast(s, now)
                assert {k: f for k, f in got.items() if k in expected} == expected, (seed, now)
                checked += 1
                # A job queued in the copy only (sbatch --test-only), as if submitted now.
                new = Job(10_000 + passes, "t", now, Request(tasks=4), time_limit=600)
                expected = _run_forward(s, now, new)
                got = forecast(s, now, [new.id], extra=[new])
                assert got[new.id] == expected[new.id], (seed, now)

        replay(workload, policy, cluster=cluster, observe=compare)
    assert checked > 30


def test_a_conservative_copy_stopped_while_putting_promises_back_knows_nothing(monkeypatch):
    """The copy starts from the scheduler's promises; when they must be put back into a
    profile built anew (here after a cancel, as the scheduler's next pass would) and it
    is stopped before they all are, it forecasts nothing rather than plan on a part."""
    monkeypatch.setattr(promises, "STOP_EVERY", 3)
    s = _busy(CLUSTERS["nodes"](), "conservative", seed=2)
    s.cancel(s.pending()[-1].id, 400)
    assert len(s.reservations) > 3  # promises to put back
    asked = []
    cut = forecast(s, 400, stop=lambda: asked.append(sys._getframe(1).f_code.co_name) or True)
    assert asked == ["restore_promises"] and all(f is UNKNOWN for f in cut.values())


@pytest.mark.parametrize("kind", ["pool", "nodes"])
def test_forecasts_leave_the_scheduler_as_it_was(kind):
    """The copy carries on a fork of the scheduler's profile and promises: a replay that
    forecasts at every third pass starts every job when one that never forecasts does."""
    from kairos.sim.replay import replay
    from kairos.sim.workload import lublin, on_nodes

    workload, cluster = lublin(200, 32, seed=3), None
    if kind == "nodes":
        workload, cluster = on_nodes(workload, 8)
    passes = 0

    def forecast_now_and_then(now, s, starts):
        nonlocal passes
        passes += 1
        if passes % 3 == 0:
            forecast(s, now)

    quiet = replay(workload, "conservative", cluster=cluster)
    asked = replay(workload, "conservative", cluster=cluster, observe=forecast_now_and_then)
    assert passes > 50
    assert [(j.id, j.start) for j in asked.jobs] == [(j.id, j.start) for j in quiet.jobs]
