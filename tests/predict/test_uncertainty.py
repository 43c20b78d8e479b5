"""ml's uncertainty: error quantiles, planning at a quantile, the ``remaining``
correction; and the fast paths it answers through (single-row LightGBM, the ring window)."""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pytest

from kairos.core.corrections import (
    CORRECTIONS,
    RemainingTime,
    extend_to_limit,
    make_correction,
)
from kairos.core.jobs import Job, Request
from kairos.predict import make_predictor
from kairos.predict.booster import RowPredictor
from kairos.predict.model_io import load, save, train_from_workload, walk_trace
from kairos.predict.uncertainty import Quantiles
from kairos.predict.window import Window
from kairos.sim.workload import Workload
from tests.predict.test_predictors import CUTS, QUICK, leakage_check, small_workload

QUANTILE = {**QUICK["ml"], "quantile": 0.7, "scale": 1.0}


# ----------------------------------------------------------------------- pieces


def test_quantiles_by_hand():
    q = Quantiles([5.0, 1.0, math.nan, 3.0, 2.0, 4.0])
    assert len(q) == 5
    assert q.of(0.0) == 1.0 and q.of(0.5) == 3.0 and q.of(1.0) == 5.0
    assert q.above(2.0, 0.0) == 3.0 and q.above(2.0, 1.0) == 5.0
    assert q.above(2.0, 0.5) == 4.0
    assert math.isnan(q.above(5.0, 0.5))  # nothing above
    assert math.isnan(q.above(2.0, 0.5, min_count=4))  # only three above
    assert math.isnan(Quantiles().of(0.5))


def test_window_keeps_the_latest_oldest_first():
    w = Window(4, 2)
    ref: deque = deque(maxlen=4)
    for i in range(11):
        w.append([i, -i], float(i), residual=i / 10, ratio=i * 2.0)
        ref.append(i)
        X, y, res, ratio = w.arrays()
        assert y.tolist() == [float(v) for v in ref]
        assert X[:, 0].tolist() == [float(v) for v in ref]
        assert ratio.tolist() == [v * 2.0 for v in ref]
    assert len(w) == 4
    with pytest.raises(ValueError, match="at least one"):
        Window(0, 2)


def test_row_predictor_equals_booster_predict():
    import lightgbm as lgb

    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 6))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = np.nan_to_num(X[:, 0]) * 3 + rng.normal(size=3000)
    booster = lgb.train({"objective": "regression", "verbose": -1, "num_threads": 1},
                        lgb.Dataset(X, y), num_boost_round=20)
    fast = RowPredictor(booster, 6)
    rows = X[:300]
    expected = booster.predict(rows)
    got = np.array([fast(r.tolist()) for r in rows])
    assert np.array_equal(got, expected)


# ----------------------------------------------------------------------- the predictor


def trained(n=1500, **options):
    w = small_workload(n)
    return w, train_from_workload(w, "ml", **{**QUICK["ml"], **options})


def test_quantiles_are_ordered_and_capped():
    w, p = trained()
    spread = 0
    for job in w.jobs[-200:]:
        q10, q50, q90 = p.quantiles(job, job.submit, (0.1, 0.5, 0.9))
        assert 1.0 <= q10 <= q50 <= q90 <= job.time_limit
        spread += q90 > q10
    assert len(p.residuals) > 100  # sorted on the first question
    assert spread > 100  # the errors have a spread: the quantiles are not all one value


def test_quantile_planning_moves_the_answer_the_right_way():
    w = small_workload(1500)
    low = walk_trace(w, make_predictor("ml", **{**QUANTILE, "quantile": 0.2}))
    high = walk_trace(w, make_predictor("ml", **{**QUANTILE, "quantile": 0.8}))
    assert all(low[j.id] <= high[j.id] for j in w.jobs)
    assert sum(low[j.id] < high[j.id] for j in w.jobs) > 500
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        make_predictor("ml", quantile=1.5)


@pytest.mark.parametrize("options", [QUANTILE, QUICK["ml"]], ids=["quantile", "point"])
def test_learns_only_from_finished_jobs(options):
    """Lengthening jobs that had not ended by a cut-off moves no prediction made up to
    it (the error samples the quantiles read come from ended jobs only)."""
    found = leakage_check(small_workload(1500), lambda wl: make_predictor("ml", **options), CUTS)
    for k, changes in found.items():
        assert changes.leaked == [], k
        assert changes.later > 0, k


def test_conditional_ratio_sees_only_ended_jobs():
    w = small_workload(1500)
    p = make_predictor("ml", **QUICK["ml"])
    walk_trace(w, p, drain=False)
    before = [p.conditional_ratio(x, 0.5) for x in (0.5, 1.0, 2.0)]
    assert len(p.ratios) > 0
    # a job submitted, never finished, changes nothing
    job = Job(10**6, "newcomer", w.jobs[-1].submit, Request.procs(1), time_limit=3600)
    p.estimate(job, job.submit)
    assert [p.conditional_ratio(x, 0.5) for x in (0.5, 1.0, 2.0)] == before


def test_save_load_keeps_the_errors(tmp_path):
    w = small_workload(1500)
    head = Workload(w.name, w.procs, w.jobs[:1000], w.runtimes)
    p = train_from_workload(head, "ml", **QUANTILE)
    p.conditional_ratio(1.0, 0.5)  # sorts the samples
    q = load(save(p, tmp_path / "m"))
    assert np.array_equal(q.residuals.sorted, p.residuals.sorted)
    assert q.errors_at == p.errors_at
    tail = Workload(w.name, w.procs, w.jobs[1000:], w.runtimes)
    assert walk_trace(tail, p) == walk_trace(tail, q)


# ----------------------------------------------------------------------- the correction


class Tail:
    """A stand-in predictor whose recent runtime / estimate ratios are given."""

    name = "tail"

    def __init__(self, ratios, min_count=1):
        self.q = Quantiles(ratios)
        self.min_count = min_count

    def conditional_ratio(self, x, q):
        return self.q.above(x, q, self.min_count)


def running(estimate=100.0, limit=10_000.0, start=0.0):
    job = Job(1, "u", 0.0, Request.procs(1), time_limit=limit)
    job.estimate = estimate
    job.start = start
    return job


def test_remaining_by_hand():
    fix = RemainingTime(Tail([0.5, 1.0, 2.0, 3.0, 4.0, 20.0]), quantile=0.5, floor=60)
    job = running()
    # at 150 s (1.5x the estimate) the jobs that ran that long: 2, 3, 4, 20 -> median 3
    assert fix(job, 150.0) == 300.0
    # at 390 s: 4 and 20 -> the lower of the two, 4x = 400 s, but at least a minute ahead
    assert fix(job, 390.0) == 450.0
    # past every ratio seen: no evidence, plan with the limit
    assert fix(job, 2500.0) == 10_000.0
    # never past the limit
    assert fix(running(limit=250.0), 150.0) == 250.0


def test_remaining_floor_and_monotone_in_the_quantile():
    rng = np.random.default_rng(0)
    tail = Tail(rng.lognormal(0, 1.2, 5000))
    qs = (0.1, 0.3, 0.5, 0.7, 0.9)
    fixes = [RemainingTime(tail, quantile=q, floor=60.0) for q in qs]
    for estimate in (10.0, 300.0, 7200.0):
        job = running(estimate=estimate, limit=200_000.0)
        for now in np.linspace(estimate * 1.01, estimate * 40, 50):
            ends = [f(job, float(now)) for f in fixes]
            assert all(e >= min(now + 60.0, job.start + job.time_limit) for e in ends)
            assert ends == sorted(ends)


def test_remaining_is_built_on_a_predictor():
    assert "remaining" in CORRECTIONS  # a name the CLI and the replay accept
    with pytest.raises(ValueError, match="estimator="):
        make_correction("remaining")
    with pytest.raises(ValueError, match="conditional_ratio"):
        make_correction("remaining", estimator=make_predictor("last2"))
    assert make_correction("remaining", estimator=None) is extend_to_limit
    assert isinstance(make_correction("remaining", estimator=make_predictor("ml")), RemainingTime)
    with pytest.raises(ValueError, match="between 0 and 1"):
        RemainingTime(Tail([1.0]), quantile=1.0)


def test_replay_with_remaining():
    from kairos.sim.metrics import summarize
    from kairos.sim.replay import replay

    w = small_workload(1200)
    r = replay(w, "easy", predictor=make_predictor("ml", **QUICK["ml"]), correction="remaining")
    assert r.correction == "remaining"
    assert all(j.start is not None and j.end is not None for j in r.jobs)
    assert summarize(r)["avg_bsld"] >= 1.0
