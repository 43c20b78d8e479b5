"""Runtime predictors: the rules by hand, the flattened forest, persistence, and that no
predictor ever sees a runtime before the job has ended."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest

from kairos.core.jobs import Job, Request
from kairos.predict import PREDICTORS, make_predictor
from kairos.predict.features import FEATURES, FeatureTracker
from kairos.predict.model_io import (
    FORMAT,
    load,
    read_meta,
    save,
    trace_end,
    train_from_workload,
    walk_trace,
)
from kairos.sim.workload import Workload, load_trace, lublin

#: Small, quick settings for the learnt predictors (the defaults need thousands of jobs).
QUICK = {
    "ml": {"first": 50, "period": 150, "trees": 15, "window": 2000},
    "mlq": {"first": 50, "period": 150, "trees": 15, "window": 2000},
    "rf": {"n_estimators": 10, "every_jobs": 100, "every_seconds": 0.0},
}


def mkjob(job_id, user="a", submit=0.0, limit=1000.0, cpus=1, app=-1, queue=-1, mem=-1,
          group="g", partition=""):
    return Job(job_id, user, submit, Request.procs(cpus), time_limit=limit, group=group,
               partition=partition, meta={"app": app, "queue": queue, "req_mem": mem})


def finish(job, start, runtime):
    job.start = start
    job.end = start + runtime
    return job


def small_workload(n=1200, seed=3):
    return lublin(n, 64, seed=seed, users=12)


# ----------------------------------------------------------------------- baselines


def test_registry_names():
    assert set(PREDICTORS) == {"user", "last2", "rf", "ml", "mlq", "oracle"}
    with pytest.raises(ValueError, match="unknown predictor"):
        make_predictor("nope")
    with pytest.raises(ValueError, match="unknown option"):
        make_predictor("ml", nope=1)


def test_user_is_the_request():
    p = make_predictor("user")
    assert p.name == "user"
    assert p.estimate(mkjob(1, limit=3600), 0) == 3600
    p.observe(finish(mkjob(1, limit=3600), 0, 10), 10)
    assert p.estimate(mkjob(2, limit=7200), 20) == 7200


def test_last2_by_hand():
    p = make_predictor("last2")
    assert p.estimate(mkjob(1, limit=1000), 0) == 1000  # no history: the request
    p.observe(finish(mkjob(1), 0, 100), 100)
    assert p.estimate(mkjob(2, limit=1000), 100) == 100  # one: its runtime
    assert p.estimate(mkjob(3, user="b", limit=500), 100) == 500  # others: their own
    p.observe(finish(mkjob(2), 100, 300), 400)
    assert p.estimate(mkjob(4, limit=1000), 400) == 200  # (100 + 300) / 2
    p.observe(finish(mkjob(4), 400, 50), 450)
    assert p.estimate(mkjob(5, limit=1000), 450) == 175  # (300 + 50) / 2
    assert p.estimate(mkjob(6, limit=120), 450) == 120  # capped at the request


def test_oracle_reads_the_truth_and_needs_it():
    w = small_workload(50)
    p = make_predictor("oracle", workload=w)
    for j in w.jobs:
        assert p.estimate(j, j.submit) == min(w.runtimes[j.id], j.time_limit)
    with pytest.raises(ValueError, match="true runtimes"):
        make_predictor("oracle")


# ----------------------------------------------------------------------- features


def test_features_by_hand():
    t = FeatureTracker()
    col = {n: i for i, n in enumerate(FEATURES)}
    j1 = mkjob(1, user="a", submit=3600 * 25, limit=1000, cpus=4, app=7, queue=2, mem=64)
    r1 = t.features(j1, j1.submit)
    assert r1[col["user"]] == 0 and r1[col["app"]] == 0 and r1[col["queue"]] == 0
    assert r1[col["procs"]] == 4 and r1[col["req_mem"]] == 64
    assert r1[col["log_req_time"]] == pytest.approx(math.log1p(1000))
    assert r1[col["hour"]] == 1 and r1[col["weekday"]] == 1
    for name in ("last1", "mean2", "mean5", "app_last", "same_req_last", "since_prev", "ratio1"):
        assert math.isnan(r1[col[name]]), name
    assert r1[col["finished"]] == 0 and r1[col["outstanding"]] == 0

    j2 = mkjob(2, user="b", submit=100_000, limit=500, app=8)
    r2 = t.features(j2, j2.submit)
    assert r2[col["user"]] == 1 and r2[col["app"]] == 1 and r2[col["queue"]] == 1

    t.observe(finish(j1, 90_000, 200), 90_200)
    j3 = mkjob(3, user="a", submit=100_100, limit=1000, app=7)
    t.observe(finish(mkjob(9, user="a", limit=400, app=5), 90_300, 400), 100_050)
    r3 = t.features(j3, j3.submit)
    assert r3[col["user"]] == 0  # stable code
    assert r3[col["last1"]] == 400
    assert r3[col["mean2"]] == 300
    assert r3[col["mean5"]] == 300 and r3[col["median5"]] == 300 and r3[col["max5"]] == 400
    assert r3[col["ratio1"]] == 1.0 and r3[col["ratio_mean5"]] == pytest.approx(0.6)
    assert r3[col["ratio_max5"]] == 1.0
    assert r3[col["app_last"]] == 200  # the last run of app 7, not the last run
    assert r3[col["same_req_last"]] == 200  # the last run that asked for 1000 s
    assert r3[col["finished"]] == 2
    assert r3[col["outstanding"]] == -1  # job 9 was never submitted through the tracker
    assert r3[col["since_prev"]] == 100_100 - 3600 * 25


def test_feature_state_round_trip():
    w = small_workload(300)
    t = FeatureTracker()
    for j in w.jobs[:200]:
        t.features(j, j.submit)
        t.observe(finish(Job(j.id, j.user, j.submit, j.request, j.time_limit, meta=j.meta),
                         j.submit, w.runtimes[j.id]), j.submit + w.runtimes[j.id])
    u = FeatureTracker.from_state(json.loads(json.dumps(t.state())))
    for j in w.jobs[200:]:
        a, b = t.features(j, j.submit), u.features(j, j.submit)
        assert np.array_equal(np.array(a), np.array(b), equal_nan=True)


# ----------------------------------------------------------------------- forest


def test_flat_forest_equals_sklearn():
    from sklearn.ensemble import RandomForestRegressor

    from kairos.predict.forest import FlatForest

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 30, 3000), rng.integers(1, 128, 3000),
                         rng.lognormal(8, 2, 3000), rng.random(3000)])
    y = X[:, 2] * rng.random(3000) + 10 * X[:, 0]
    model = RandomForestRegressor(n_estimators=50, max_depth=10, random_state=0).fit(X, y)
    flat = FlatForest(model)
    rows = np.vstack([X[:200], rng.normal(size=(200, 4)) * X.std(axis=0) + X.mean(axis=0)])
    # values right at split thresholds take the left branch in both
    t0 = model.estimators_[0].tree_
    rows[0, t0.feature[0]] = t0.threshold[0]
    expected = model.predict(rows)
    got = np.array([flat.predict_one(r) for r in rows.tolist()])
    assert np.array_equal(got, expected)


# ----------------------------------------------------------------------- persistence


@pytest.mark.parametrize("name", ["user", "last2", "rf", "ml", "mlq"])
def test_save_load_round_trip(tmp_path, name):
    w = small_workload(1500)
    head = Workload(w.name, w.procs, w.jobs[:1000], w.runtimes)
    p = train_from_workload(head, name, **QUICK.get(name, {}))
    folder = save(p, tmp_path / "model")
    meta = read_meta(folder)
    assert meta["format"] == FORMAT and meta["predictor"] == name
    assert meta["trained_on"] == w.name
    if name in ("rf", "ml", "mlq"):
        assert meta["jobs"] == 1000
    q = load(folder)
    assert q.name == name
    tail = Workload(w.name, w.procs, w.jobs[1000:], w.runtimes)
    assert walk_trace(tail, p) == walk_trace(tail, q)


def test_load_refuses_other_formats(tmp_path):
    p = train_from_workload(small_workload(400), "ml", **QUICK["ml"])
    folder = save(p, tmp_path / "m")
    meta = json.loads((folder / "meta.json").read_text())
    meta["format"] = FORMAT + 1
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=f"format {FORMAT + 1}"):
        load(folder)
    with pytest.raises(ValueError, match="no meta.json"):
        load(tmp_path / "empty")
    with pytest.raises(ValueError, match="cannot be trained"):
        train_from_workload(small_workload(10), "oracle")


# ----------------------------------------------------------------------- leakage


#: The cut-offs of the leakage check: the submissions of these jobs of the workload.
CUTS = (400, 900, 1300)


@dataclass
class FutureChanges:
    """What changed in a predictor's predictions when every job still running at a
    cut-off, or submitted after it, ran longer."""

    lengthened: int  #: jobs made to run longer
    leaked: list[int]  #: jobs submitted up to the cut-off whose prediction changed
    later: int  #: jobs submitted after the cut-off whose prediction changed


def leakage_check(workload: Workload, make, cuts: tuple[int, ...]) -> dict[int, FutureChanges]:
    """The leakage check, for each ``k`` in ``cuts``: cut at the submission of the k-th
    job, lengthen every job not ended by then, and walk the trace again with a predictor
    made afresh by ``make(workload)``.  A predictor that learns only from ended jobs (as
    the scheduler lets it) changes no prediction of a job submitted up to the cut-off."""
    ends = {j.id: trace_end(workload, j) for j in workload.jobs}
    base = walk_trace(workload, make(workload))
    found = {}
    for k in cuts:
        cut = workload.jobs[k].submit
        changed = dict(workload.runtimes)
        for j in workload.jobs:
            if j.submit <= cut < ends[j.id] or j.submit > cut:
                changed[j.id] = workload.runtimes[j.id] * 3 + 100
        lengthened = Workload(workload.name, workload.procs, workload.jobs, changed)
        other = walk_trace(lengthened, make(lengthened))
        differ = [j for j in workload.jobs if other[j.id] != base[j.id]]
        found[k] = FutureChanges(
            lengthened=sum(changed[i] != r for i, r in workload.runtimes.items()),
            leaked=[j.id for j in differ if j.submit <= cut],
            later=sum(j.submit > cut for j in differ),
        )
    return found


class PeeksAtRunningJobs:
    """A cheat: last2's rule, but each job's runtime is taken from the trace when the job
    is submitted, not when it ends, so jobs still running inform the next predictions."""

    name = "peeks-at-running-jobs"

    def __init__(self, workload: Workload) -> None:
        self.runtimes = workload.runtimes
        self.last: dict[str, list[float]] = {}

    def estimate(self, job: Job, now: float) -> float:
        seen = self.last.get(job.user, [])
        self.last[job.user] = (seen + [self.runtimes[job.id]])[-2:]
        return sum(seen) / len(seen) if seen else job.time_limit

    def observe(self, job: Job, now: float) -> None:
        pass


@pytest.mark.parametrize("name", [n for n in PREDICTORS if n != "oracle"])
def test_no_predictor_sees_the_future(name):
    """Every predictor passes the leakage check at every cut-off (only ended jobs may
    inform a prediction), and what it learns later does show."""
    def make(workload):
        return make_predictor(name, workload=workload, **QUICK.get(name, {}))

    for k, found in leakage_check(small_workload(1500), make, CUTS).items():
        assert found.lengthened > 50
        assert found.leaked == [], (name, k)
        if name != "user":  # the change is visible later on
            assert found.later > 0, (name, k)


@pytest.mark.parametrize("cheat", [
    lambda wl: make_predictor("oracle", workload=wl),  # reads each job's own runtime
    PeeksAtRunningJobs,  # reads the runtimes of jobs still running
], ids=["oracle", "peeks-at-running-jobs"])
def test_the_leakage_check_catches_a_cheat(cheat):
    """The same check fails for predictors that peek at runtimes not yet known."""
    found = leakage_check(small_workload(1500), cheat, CUTS)
    assert any(changes.leaked for changes in found.values())


# ----------------------------------------------------------------------- real traces


def test_trace_walk_and_train(trace_path, tmp_path):
    w = load_trace(trace_path("KTH-SP2"), limit=3000)
    p = train_from_workload(w, "ml", first=200, period=1000)
    assert p.fits >= 3 and p.trained_on > 2000
    q = load(save(p, tmp_path / "kth"))
    assert read_meta(tmp_path / "kth")["trained_on"] == w.name
    job = w.jobs[-1]
    assert 1.0 <= q.estimate(job, job.submit) <= job.time_limit


@pytest.mark.slow
def test_ml_on_kth(trace_path):
    """On a whole trace, ml's estimates are closer than the requests (in log terms) and
    its EASY schedule has a lower average bounded slowdown than with the requests."""
    from kairos.sim.metrics import summarize
    from kairos.sim.replay import replay

    w = load_trace(trace_path("KTH-SP2"))
    truth = np.log1p(np.array([w.runtimes[j.id] for j in w.jobs]))
    err = {}
    for name in ("user", "ml"):
        pred = walk_trace(w, make_predictor(name))
        err[name] = float(np.abs(np.log1p(np.array([pred[j.id] for j in w.jobs])) - truth).mean())
    assert err["ml"] < err["user"]
    bsld = {name: summarize(replay(w, "easy", predictor=name))["avg_bsld"] for name in ("user", "ml")}
    assert bsld["ml"] < bsld["user"]


def test_forest_on_distinct_rows_is_scikit_learns():
    """``fit_forest`` fits RandomForestRegressor's trees on merged copies of equal rows:
    the same bootstrap draws and splits, answers apart only where scikit-learn's own
    rounding broke a tie between equal splits."""
    from sklearn.ensemble import RandomForestRegressor

    from kairos.predict.forest import FlatForest, fit_forest

    rng = np.random.default_rng(0)
    n = 4000
    X = np.column_stack([rng.integers(0, 30, n), rng.integers(0, 3, n),
                         rng.choice([1, 2, 4, 8, 64], n), rng.choice([600.0, 3600.0, 86400.0], n)])
    y = rng.lognormal(7, 2, n) + 50 * X[:, 0]
    assert len(np.unique(X, axis=0)) < n / 2  # requests repeat, as in a job window
    theirs = RandomForestRegressor(n_estimators=50, max_depth=10, random_state=0).fit(X, y)
    other_seed = RandomForestRegressor(n_estimators=50, max_depth=10, random_state=1).fit(X, y)
    ours = FlatForest(fit_forest(X, y, n_estimators=50, max_depth=10, seed=0))
    threaded = FlatForest(fit_forest(X, y, n_estimators=50, max_depth=10, seed=0, threads=3))
    rows = np.vstack([X[:300], rng.integers(0, 40, (300, 4)) * [1.0, 0.1, 3.0, 3000.0]])
    expected = theirs.predict(rows)
    got = np.array([ours.predict_one(r) for r in rows.tolist()])
    assert [threaded.predict_one(r) for r in rows.tolist()] == got.tolist()
    same = np.isclose(got, expected, rtol=1e-9, atol=0)
    assert same.mean() > 0.9
    assert not np.isclose(other_seed.predict(rows), expected, rtol=1e-9, atol=0).any()
    ours_off = np.mean(np.abs(got - expected) / expected)
    seed_off = np.mean(np.abs(other_seed.predict(rows) - expected) / expected)
    assert ours_off < seed_off / 20


def test_rf_loads_a_folder_saved_with_a_scikit_learn_forest(tmp_path):
    """Folders saved before ``fit_forest`` hold a ``RandomForestRegressor``: they load,
    and answer with that forest."""
    import joblib
    from sklearn.ensemble import RandomForestRegressor

    w = small_workload(600)
    p = train_from_workload(w, "rf", **QUICK["rf"])
    folder = save(p, tmp_path / "model")
    assert isinstance(joblib.load(folder / "model.joblib"), list)
    rows, runtimes = p.training_set()
    old = RandomForestRegressor(n_estimators=5, max_depth=10, random_state=7).fit(rows, runtimes)
    joblib.dump(old, folder / "model.joblib")
    q = load(folder)
    np.testing.assert_allclose([q.flat.predict_one(r) for r in rows.tolist()], old.predict(rows),
                               rtol=1e-12)
