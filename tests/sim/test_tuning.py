"""The self-tuner (``kairos.sim.tuning``): its decision rule, its switches, and that it
never sees the future."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from kairos.core import Cluster, Job, Scheduler
from kairos.core.jobs import Request
from kairos.core.policy import Guarded, make_policy
from kairos.predict.panel import PredictorPanel
from kairos.sim.replay import replay
from kairos.sim.tuning import (
    CANDIDATES, EASY, START, Config, Trial, Tuner, check_config, make_backfill, paired_gain,
)
from kairos.sim.workload import Workload, lublin

# ----------------------------------------------------------------- names


def test_a_configuration_reads_and_writes_as_predictor_correction_order():
    config = Config.parse("last2+tsafrir+guarded@S20")
    assert config == Config("last2", "tsafrir", "guarded@S20")
    assert config.label == "last2+tsafrir+guarded@S20"
    with pytest.raises(ValueError, match="predictor\\+correction\\+backfill order"):
        Config.parse("ml+guarded")


@pytest.mark.parametrize("config, wrong", [
    (Config("gpt", "limit", "queue"), "unknown predictor 'gpt'"),
    (Config("oracle", "limit", "queue"), "unknown predictor 'oracle'"),
    (Config("ml", "never", "queue"), "unknown correction 'never'"),
    (Config("ml", "limit", "guarded@X9"), "unknown backfill order 'guarded@X9'"),
    (Config("ml", "limit", "sideways"), "sideways"),
    (Config("last2", "remaining", "guarded"), "reads what ml or mlq learned"),
])
def test_a_tuner_refuses_a_candidate_it_could_not_run(config, wrong):
    with pytest.raises(ValueError, match=wrong):
        check_config(config)
    with pytest.raises(ValueError, match=wrong):
        Tuner(lambda: Cluster.pool(8), candidates=[config])


def test_guarded_variants_carry_their_bound_or_cap():
    assert make_backfill("guarded@S20").slowdown_bound == 20
    assert make_backfill("guarded@48h").wait_cap == 48 * 3600
    assert make_backfill("shortest").backfill_order == "shortest"
    assert all(check_config(c) for c in CANDIDATES)


# ----------------------------------------------------------------- the decision rule


def trial(config, bsld, max_wait):
    bsld = np.asarray(bsld, float)
    return Trial(config, float(bsld.mean()), max_wait, bsld)


def tuner(**options):
    return Tuner(lambda: Cluster.pool(8), **options)


OTHER = Config("last2", "limit", "guarded")


def test_a_clear_winner_within_the_bound_is_applied():
    rng = np.random.default_rng(1)
    current = rng.uniform(5, 15, 500)
    t = tuner()
    decision = t.choose({START: trial(START, current, 3600),
                         OTHER: trial(OTHER, current * 0.7, 3600),
                         EASY: trial(EASY, current * 1.5, 3600)}, now=0.0, jobs=500)
    assert decision.applied and decision.chosen == OTHER
    assert decision.gain == pytest.approx(float((current * 0.3).mean()))
    assert 0 < decision.gain_low < decision.gain < decision.gain_high


def test_a_gain_inside_the_noise_is_not_applied():
    current = np.linspace(40, 60, 300)
    other = current + np.where(np.arange(300) % 2, 30.0, -30.6)  # 0.3 better on average
    t = tuner()
    decision = t.choose({START: trial(START, current, 3600), OTHER: trial(OTHER, other, 3600),
                         EASY: trial(EASY, current * 2, 3600)}, now=0.0, jobs=300)
    assert decision.chosen == OTHER and not decision.applied
    assert decision.gain_low < 0 < decision.gain_high


def test_a_certain_gain_below_the_margin_is_not_applied():
    current = np.full(400, 10.0)
    t = tuner(margin=0.10)
    decision = t.choose({START: trial(START, current, 3600), OTHER: trial(OTHER, current - 0.5, 3600),
                         EASY: trial(EASY, current, 3600)}, now=0.0, jobs=400)
    assert decision.gain == pytest.approx(0.5) and decision.gain_low > 0
    assert not decision.applied


def test_a_candidate_that_starves_is_not_chosen_however_good():
    current = np.full(400, 10.0)
    t = tuner(bound=1.25, wait_floor=0.0)
    decision = t.choose({START: trial(START, current, 100_000),
                         OTHER: trial(OTHER, current / 5, 130_000),  # > 1.25 x EASY's 100,000
                         EASY: trial(EASY, current * 2, 100_000)}, now=0.0, jobs=400)
    assert decision.wait_limit == 125_000
    assert decision.chosen == START and not decision.applied


def test_the_wait_bound_follows_easys_longest_wait_so_far():
    current = np.full(400, 10.0)
    t = tuner(bound=1.25, wait_floor=0.0)
    t.choose({START: trial(START, current, 1), EASY: trial(EASY, current, 200_000)}, 0.0, 400)
    decision = t.choose({START: trial(START, current, 1),
                         OTHER: trial(OTHER, current / 2, 240_000),
                         EASY: trial(EASY, current, 10_000)}, 1.0, 400)
    # EASY waited 200,000 s in an earlier window: 240,000 s is within 1.25 x that.
    assert decision.wait_limit == 250_000 and decision.applied and decision.chosen == OTHER


def test_a_current_configuration_starving_far_past_the_bound_is_left_without_the_margin():
    current = np.full(400, 10.0)
    t = tuner(bound=1.25, wait_floor=0.0)
    decision = t.choose({START: trial(START, current, 400_000),  # > 1.5 x 125,000
                         OTHER: trial(OTHER, current + 1, 100_000),
                         EASY: trial(EASY, current + 2, 100_000)}, 0.0, 400)
    assert decision.applied and decision.chosen == OTHER and decision.gain < 0
    assert "starved" in decision.reason


def test_paired_gain_is_the_mean_difference_with_a_bootstrap_interval():
    gain, low, high = paired_gain(np.array([3.0, 5.0, 7.0, 9.0]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert gain == pytest.approx(3.5)
    assert 2.0 <= low <= gain <= high <= 5.0
    assert paired_gain(np.array([]), np.array([])) == (0.0, 0.0, 0.0)


# ----------------------------------------------------------------- switching


def pending_job(i, submit, limit, cpus=8):
    return Job(i, "u", submit, Request.procs(cpus), limit)


def test_reconfigure_gives_pending_jobs_the_new_estimates_and_policy():
    sched = Scheduler(Cluster.pool(8), "easy", "sjf")
    sched.submit(pending_job(1, 0.0, 1000.0), 0.0)
    assert [a.job_id for a in sched.schedule(0.0)] == [1]
    sched.submit(pending_job(2, 1.0, 5000.0), 1.0)
    sched.submit(pending_job(3, 1.0, 100.0), 1.0)
    assert sched.schedule(1.0) == []
    said = {2: 50.0, 3: 100.0}
    sched.reconfigure(policy=Guarded(), estimate=lambda job: said[job.id])
    assert sched.policy.backfill_order == "guarded"
    assert [j.estimate for j in sched.pending()] == [50.0, 100.0]  # re-sorted (sjf)
    assert sched.running[1].estimate == 1000.0  # running jobs keep theirs
    sched.end(1, 1000.0)
    assert [a.job_id for a in sched.schedule(1000.0)] == [2]
    sched.check_invariants()


def test_a_panel_answers_with_its_active_member_and_remembers_every_answer():
    class Fixed:
        def __init__(self, name, value):
            self.name, self.value, self.seen = name, value, []

        def estimate(self, job, now):
            return self.value

        def observe(self, job, now):
            self.seen.append(job.id)

    a, b = Fixed("a", 10.0), Fixed("b", 20.0)
    panel = PredictorPanel({"a": a, "b": b}, "a")
    job = pending_job(1, 0.0, 100.0)
    assert panel.estimate(job, 0.0) == 10.0
    panel.active = "b"
    assert panel.answer(job, "b") == 20.0 and panel.name == "b"
    assert panel.answer(pending_job(2, 0.0, 100.0), "a") == 100.0  # never asked: its limit
    job.start, job.end = 0.0, 5.0
    panel.observe(job, 5.0)
    assert a.seen == b.seen == [1] and list(panel.finished) == [job]
    panel.forget_before(1.0)
    assert not panel.finished and 1 not in panel.answers
    with pytest.raises(ValueError, match="not one of the panel's"):
        PredictorPanel({"a": a}, "c")


# ----------------------------------------------------------------- online, past only


def small_tuner(span: float) -> Tuner:
    """Tunings every tenth of the workload, on quick-learning predictors."""
    return Tuner(lambda: Cluster.pool(64), every=span / 10, window=span / 5, pooled=2,
                 min_jobs=40, margin=0.0, predictor_options={"ml": {"period": 300}})


def perturbed(workload: Workload, after: float, seed: int) -> Workload:
    """``workload`` with every job submitted after ``after`` changed: other runtimes, some
    jobs gone, other sizes."""
    rng = random.Random(seed)
    jobs, runtimes = [], {}
    for job in workload.jobs:
        runtime = workload.runtimes[job.id]
        if job.submit > after:
            if rng.random() < 0.2:
                continue
            runtime = min(job.time_limit, runtime * rng.uniform(0.2, 3.0))
            job = replace(job, request=Request.procs(rng.randint(1, 32)))
        jobs.append(job)
        runtimes[job.id] = runtime
    return Workload(workload.name + "-perturbed", workload.procs, jobs, runtimes)


def test_the_tuner_never_sees_the_future():
    """Two replays whose workloads differ only after ``cut`` make the same tunings and
    the same starts before ``cut``; and something after ``cut`` does differ, so the test
    can tell."""
    workload = lublin(3000, 64, seed=3)
    span = workload.jobs[-1].submit - workload.jobs[0].submit
    cut = workload.jobs[0].submit + 0.6 * span
    first = replay(workload, tuner=small_tuner(span))
    second = replay(perturbed(workload, cut, seed=4), tuner=small_tuner(span))

    before = [d.as_dict() for d in first.tuning if d.time < cut]
    assert len(before) >= 3, "too few tunings before the cut to test anything"
    assert before == [d.as_dict() for d in second.tuning if d.time < cut]
    assert {d.chosen for d in first.tuning} - {START}, "the tuner never chose anything else"

    started = {j.id: j.start for j in second.jobs}
    early = [j for j in first.jobs if j.start < cut]
    assert early and all(started[j.id] == j.start for j in early)
    later = {(j.id, j.start) for j in first.jobs if j.start >= cut}
    assert later != {(j.id, j.start) for j in second.jobs if j.start >= cut}


def test_an_auto_replay_finishes_every_job_and_reports_its_tunings():
    workload = lublin(2000, 64, seed=5)
    span = workload.jobs[-1].submit - workload.jobs[0].submit
    result = replay(workload, tuner=small_tuner(span))
    assert all(j.end is not None for j in result.jobs)
    assert (result.policy, result.predictor, result.correction) == ("easy+auto", "auto", "auto")
    assert result.tuning and all(
        {t["config"] for t in d.as_dict()["trials"]} == {c.label for c in CANDIDATES}
        for d in result.tuning)
    with pytest.raises(ValueError, match="a tuner or a scheduler"):
        replay(workload, tuner=small_tuner(span),
               scheduler=Scheduler(Cluster.pool(64), make_policy("easy")))


def test_overlapping_windows_count_each_job_once_from_the_newest():
    from kairos.sim.tuning import pool

    old = (np.array([1, 2, 3]), {START: trial(START, [10.0, 20.0, 30.0], 50.0)})
    new = (np.array([3, 4]), {START: trial(START, [33.0, 40.0], 70.0)})
    pooled = pool([old, new])[START]
    assert sorted(pooled.bsld.tolist()) == [10.0, 20.0, 33.0, 40.0]
    assert pooled.max_wait == 70.0


def test_a_panel_forgets_answers_by_age_even_for_jobs_that_never_finish():
    class Fixed:
        name = "a"

        def estimate(self, job, now):
            return 5.0

        def observe(self, job, now):
            pass

    panel = PredictorPanel({"a": Fixed()}, "a")
    for i in range(3):
        panel.estimate(pending_job(i, float(i), 100.0), float(i))
    panel.forget_before(2.0)
    assert set(panel.answers) == {2}


# ----------------------------------------------------------------- in another process


def test_the_replays_give_the_same_trials_in_a_worker_process():
    """What a live controller sends to its worker process (the window, a cluster per
    candidate and each predictor's answers as a plain dict) replays to exactly the trials
    the tuner gets in this process, candidate by candidate."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from kairos.sim.tuning import replay_trials

    workload = lublin(600, 64, seed=7)
    span = workload.jobs[-1].submit - workload.jobs[0].submit
    t = small_tuner(span)
    t.window = span  # the whole past: a few hundred finished jobs
    result = replay(workload, tuner=t)
    now = max(j.end for j in result.jobs)
    history = t.window_of(list(t.panel.finished), now)
    assert history is not None and len(history) >= 200
    configs = t.configs()
    assert all(t.portable(c) for c in configs)
    here = [t.trial(history, c, "submit") for c in configs]
    plans = [(c, t.machine(), t.answers(history, c)) for c in configs]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        away = pool.submit(replay_trials, history, "submit", plans).result(timeout=120)
    assert [x.config for x in away] == configs
    for a, b in zip(here, away):
        assert (a.avg_bsld, a.max_wait) == (b.avg_bsld, b.max_wait), a.config
        np.testing.assert_array_equal(a.bsld, b.bsld)
    # The answers matter (a worker planning with the wrong ones would differ), and the
    # candidates differ from each other (one in another's place would show).
    assert t.answers(history, START) != t.answers(history, OTHER)
    assert len({x.avg_bsld for x in here}) >= 3
    wrong = replay_trials(history, "submit", [(START, t.machine(), t.answers(history, OTHER))])
    assert wrong[0].avg_bsld != here[0].avg_bsld

