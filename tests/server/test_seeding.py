"""A starting controller's predictor learns the jobs the accounting database holds
(``kairos.server.seeding``): the ones that finished, in the order they ended, each
submission and end as the scheduler met them live, so that after a restart the
predictor (and the self-tuner's panel) knows what it knew before."""

from __future__ import annotations

import logging
import pwd
import random

import numpy as np
import pytest

from kairos.core.jobs import JobState
from kairos.model import LiveJob, Submission
from kairos.server import seeding
from kairos.server.controller import Controller
from kairos.server.nodes import NodeRegistry
from kairos.server.permissions import Caller
from kairos.server.runtime import _estimator
from kairos.server.store import Store

T0 = 1_700_000_000.0
NOBODY = Caller(pwd.getpwnam("nobody").pw_uid, pwd.getpwnam("nobody").pw_gid)


class Recorder:
    """A predictor that writes down what it is told."""

    name = "recorder"

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, float]] = []

    def estimate(self, job, now: float) -> float:
        self.calls.append(("estimate", job.id, now))
        return job.time_limit

    def observe(self, job, now: float) -> None:
        assert job.start is not None and job.end is not None
        self.calls.append(("observe", job.id, now))


def record(job_id: int, state: JobState, submit: float, start: float | None = None,
           end: float | None = None, **fields) -> LiveJob:
    return LiveJob(job_id=job_id, user="alice", name="sim", partition="local",
                   state=state, submit_time=T0 + submit,
                   start_time=None if start is None else T0 + start,
                   end_time=None if end is None else T0 + end, time_limit=3600.0,
                   submission=Submission("#!/bin/sh\ntrue\n", "/tmp"), **fields)


@pytest.fixture
def store(db_url):
    """On SQLite and PostgreSQL: the submission's keys are read by each one's JSON
    operators."""
    s = Store(db_url)
    s.create()
    yield s
    s.close()


def test_finished_jobs_are_replayed_in_the_order_they_ended_and_unfinished_ones_skipped(store):
    store.write([
        record(1, JobState.COMPLETED, submit=0, start=1, end=50),
        record(2, JobState.FAILED, submit=2, start=3, end=20),  # ended before job 1
        record(3, JobState.RUNNING, submit=4, start=5),
        record(4, JobState.PENDING, submit=6),
        record(5, JobState.CANCELLED, submit=7, end=30),  # cancelled while pending
        record(6, JobState.COMPLETED, submit=20, start=21, end=40),  # submitted as 2 ended
        record(7, JobState.COMPLETED, submit=8, start=9, end=35, time_min=60.0),
        record(8, JobState.TIMEOUT, submit=10, start=11, end=500),  # after "now"
    ])
    jobs = seeding.finished_jobs(store, 100, now=T0 + 100)
    assert [j.id for j in jobs] == [2, 5, 7, 6, 1]
    recorder = Recorder()
    assert seeding.replay(recorder, jobs) == 4
    assert recorder.calls == [
        ("estimate", 1, T0), ("estimate", 2, T0 + 2), ("estimate", 5, T0 + 7),
        ("observe", 2, T0 + 20), ("estimate", 6, T0 + 20),  # the end first, as live
        ("observe", 7, T0 + 35),  # never asked: its own --time-min
        ("observe", 6, T0 + 40), ("observe", 1, T0 + 50)]
    # A bound keeps the last jobs to end (their submissions with them).
    assert [j.id for j in seeding.finished_jobs(store, 2, now=T0 + 100)] == [6, 1]


def test_a_finished_job_has_the_request_the_controller_built_from_its_record(store):
    shaped = Submission("#!/bin/sh\ntrue\n", "/tmp", nodes=2, ntasks=6, cpus_per_task=2,
                        spread=True, mem_per_cpu=512, exclusive=True, nodelist=["n1", "n2"],
                        exclude=["n3"], constraint="a&b", environment={"HOME": "/tmp"})
    records = [
        record(1, JobState.COMPLETED, submit=0, start=1, end=5, nodes=2, ntasks=6,
               cpus_per_task=2, mem_per_node=None, gpus=(("a100", 1),)),
        record(2, JobState.COMPLETED, submit=0, start=1, end=6, nodes=3, ntasks=6,
               cpus_per_task=2, gpus=(("a100", 1),)),
        record(3, JobState.COMPLETED, submit=0, start=1, end=7, nodes=2, mem_per_node=100),
    ]
    records[1].submission = shaped
    records[2].submission = None  # kept without one
    store.write(records)
    jobs = seeding.finished_jobs(store, 10, now=T0 + 100)
    assert [j.request for j in jobs] == [r.to_core_job().request for r in records]
    assert jobs[1].request.spread and jobs[1].request.mem_per_cpu == 512


def test_a_job_recorded_as_ending_when_it_was_submitted_is_asked_first(store):
    store.write([record(1, JobState.FAILED, submit=10, start=10, end=10)])
    recorder = Recorder()
    seeding.replay(recorder, seeding.finished_jobs(store, 10, now=T0 + 100))
    assert recorder.calls == [("estimate", 1, T0 + 10), ("observe", 1, T0 + 10)]


# ---------------------------------------------------------------- on a controller


def with_estimator(bench, name: str | None) -> Controller:
    """A new controller on the bench's database planning with predictor ``name``, as
    ``build_controller`` makes it (a restart when the bench already had one)."""
    controller = Controller(bench.settings, bench.store, NodeRegistry.local("node1", bench.agent),
                            bench.controller.cluster, clock=bench.clock, controller_uid=4242,
                            estimator=_estimator(name))
    bench.controller = controller
    return controller


def run(bench, runtimes: list[float]) -> None:
    """One job after the other, each running ``runtimes[i]`` seconds."""
    for runtime in runtimes:
        job_id = bench.submit(NOBODY, time_limit=3600)
        bench.step()
        bench.clock.advance(runtime)
        bench.agent.finish(job_id)
        bench.step()
        bench.clock.advance(5)
    bench.commit()


def test_last2_after_a_restart_answers_from_the_runs_before_it(make_bench, caplog):
    bench = make_bench('[controller]\npredictor = "last2"\n')
    with_estimator(bench, "last2")
    run(bench, [100, 300, 200])
    probe = lambda c: c.scheduler.estimator.estimate(  # noqa: E731
        LiveJob(job_id=99, user="nobody", time_limit=3600.0).to_core_job(), bench.clock())
    # Without the database's history the restarted predictor knows nothing.
    assert probe(with_estimator(bench, "last2")) == 3600.0
    caplog.set_level(logging.INFO, logger="kairos.seeding")
    again = with_estimator(bench, "last2")
    assert seeding.teach(again) == 3
    assert probe(again) == (300 + 200) / 2
    [line] = [r.getMessage() for r in caplog.records if r.name == "kairos.seeding"]
    assert line.startswith("predictor last2 learned from the last 3 finished job(s) in the "
                           "accounting database (3 that ran; predictor_history = 20000) in ")


def test_no_history_no_predictor_or_a_zero_bound_is_nothing_to_do(make_bench):
    bench = make_bench('[controller]\npredictor = "ml"\n')
    assert seeding.teach(with_estimator(bench, "ml")) == 0  # an empty database
    assert seeding.teach(with_estimator(bench, None)) is None
    bench = make_bench('[controller]\npredictor = "last2"\npredictor_history = 0\n')
    run(bench, [100, 100])
    controller = with_estimator(bench, "last2")
    assert seeding.teach(controller) is None
    assert controller.scheduler.estimator.history == {}


def test_the_tuners_panel_learns_again_what_it_had_learned_live(make_bench):
    from tests.server.test_tuning_live import AUTO, run_jobs

    bench = make_bench(AUTO)
    run_jobs(bench)
    held = bench.submit(NOBODY, time_limit=3600, hold=True)  # cancelled while pending
    bench.step()
    bench.controller.cancel([str(held)], NOBODY)
    bench.clock.advance(10)
    own = bench.submit(NOBODY, time_limit=3600, time_min=60.0)  # the user's own estimate
    bench.step()
    bench.clock.advance(40)
    bench.agent.finish(own)
    bench.step()
    bench.commit()
    live = bench.controller.scheduler.estimator

    again = with_estimator(bench, None)  # auto: the tuner's scheduler and panel
    panel = again.scheduler.estimator
    assert panel is not live and panel.answers == {} and not panel.finished
    assert seeding.teach(again) == 41
    assert panel.answers == live.answers and held in panel.answers and own not in panel.answers
    assert [j.id for j in panel.finished] == [j.id for j in live.finished]
    assert panel.members["last2"].state() == live.members["last2"].state()
    ml, ml_live = panel.members["ml"], live.members["ml"]
    assert ml.tracker.state() == ml_live.tracker.state()
    assert set(ml.pending) == set(ml_live.pending) == {held}
    for ours, theirs in zip(ml.window.arrays(), ml_live.window.arrays()):
        np.testing.assert_array_equal(ours, theirs)
    assert ml.finished == ml_live.finished == 41
    # Each row carries how its answer at submission fared (NaN: never asked).
    ratios = ml.window.arrays()[3]
    assert not np.isnan(ratios[:-1]).any() and np.isnan(ratios[-1])


def test_rf_ends_its_past_with_the_model_it_would_have_had_fitting_only_once():
    from kairos.predict.forest import ForestPredictor
    from kairos.predict.panel import PredictorPanel

    rng = random.Random(3)
    jobs = []
    for i in range(1, 421):  # 20 more after the last fit
        submit = T0 + 600 * i
        job = LiveJob(job_id=i, user=f"u{i % 5}", partition="local", submit_time=submit,
                      time_limit=rng.choice([600.0, 3600.0]), ntasks=rng.choice([1, 4]),
                      submission=Submission("", "")).to_core_job()
        job.start = submit + 10
        job.end = job.start + rng.uniform(1, job.time_limit)
        jobs.append(job)
    jobs.sort(key=lambda j: j.end)
    options = dict(n_estimators=5, every_jobs=50, every_seconds=3600, window_days=1)
    quick, live = ForestPredictor(**options), ForestPredictor(**options)
    seeding.replay(quick, jobs)
    seeding.replay(PredictorPanel({"rf": live}, "rf"), jobs)  # answers kept: every fit
    assert live.fits > 2 and quick.fits == 1
    assert 0 < quick.trained_on < len(jobs)  # the window dropped the oldest
    assert (quick.trained_on, quick.last_fit, quick.since_fit) == \
        (live.trained_on, live.last_fit, live.since_fit)
    for ours, theirs in zip(quick.window.arrays(), live.window.arrays()):
        assert ours.tolist() == theirs.tolist()
    rows = [quick.row(j) for j in jobs]
    assert [quick.flat.predict_one(r) for r in rows] == [live.flat.predict_one(r) for r in rows]
