"""``ml``: Kairos's own runtime predictor, gradient-boosted trees learned online.

At submission a job's row of ``kairos.predict.features.FEATURES`` (the request, the
calendar and its user's recent history) goes through a LightGBM model; the answer is
capped at the request and floored at 1 s.  Each finished job adds the row it had at its
submission, labelled with its real runtime, to a sliding window of the most recent
``window`` finished jobs; the model is refit on that window after ``first`` finished jobs,
then each time the count doubles, then every ``period`` jobs.  Until the first fit it
answers like ``last2`` (the mean of the user's last two runtimes, else the request).

Options (the defaults were picked by replaying the five traces with requested times under
EASY backfilling, judging average bounded slowdown rather than prediction error):

* ``target``: ``"log"`` (default) learns log(1 + runtime), so the model answers a
  geometric mean and under-predicts more often than not; ``"ratio"`` learns
  runtime / request and multiplies back (worse on every trace tried);
* ``objective``: ``"l2"`` (default), ``"l1"`` or ``"quantile"`` (with ``alpha``): the
  quantile objective fits several times slower and was not better overall;
* ``blend``: weight of the user's mean of last two runtimes (``last2``) in a geometric
  mean with the model's answer (0, the default: the model alone);
* ``scale``: a last multiplicative factor (default 0.85).  Short predictions let jobs
  backfill; one that proves too short only moves the job's expected end (the scheduler's
  correction), it never kills the job, and short jobs dominate the bounded slowdown;
* ``quantile``: plan at this quantile of the runtime instead of the point answer (None,
  the default, plans with the point answer): the model's raw answer plus the
  ``quantile``-quantile of its own recent errors (``kairos.predict.uncertainty``); the
  ``scale`` still applies, so set it to 1 to plan at the quantile itself;
* ``window`` (20,000 jobs), ``first`` (200), ``period`` (10,000): the refit schedule;
  ``trees`` (50), ``leaves`` (31), ``learning_rate`` (0.2), ``min_leaf`` (20),
  ``max_bin`` (63), ``bagging`` (the share of the window each tree sees, 1 = all),
  ``categorical`` (treat the label-encoded columns as LightGBM categories), ``threads``
  (1: fits are small, and one thread keeps them fast on a busy machine), ``seed``.
  Refits were most of the cost: these settings make them 3-8x cheaper than the
  earlier ones (50,000 jobs, every 5,000, 100 trees at 0.1, 255 bins), for the same
  average bounded slowdown over the five traces within the replays' noise
  (``docs/prediction.md``).

Besides the point answer it keeps, for the recent finished jobs, the error of the answer
each had at its submission: ``quantiles(job, now, qs)`` reads runtime quantiles off them,
and ``conditional_ratio`` is what the ``remaining`` correction
(``kairos.core.corrections``) asks when a job outlives its estimate.

Each answer goes through ``kairos.predict.booster.RowPredictor`` (LightGBM's single-row
path: the same score as ``Booster.predict``, without its per-call cost), and the window
is a ring of NumPy rows (``kairos.predict.window``).

Scheduling outcomes move by several percent between neighbouring settings (a replay is
chaotic), so no single setting should be read too finely.

A refit falls due inside ``observe``; its ``fitter`` (``kairos.predict.fitting``) trains
on the caller's thread by default, or on a live controller's worker thread.
``fit_seconds`` adds the training time up so replays can report the whole cost.
"""

from __future__ import annotations

import math
import time
from collections import deque

import numpy as np

from kairos.core.jobs import Job
from kairos.predict.booster import RowPredictor
from kairos.predict.features import CATEGORICAL, FEATURES, FeatureTracker, job_runtime
from kairos.predict.fitting import fit_now
from kairos.predict.uncertainty import Quantiles
from kairos.predict.window import Window

__all__ = ["DEFAULTS", "LearnedPredictor"]

#: The default options (see the module docstring).
DEFAULTS: dict = {
    "target": "log",
    "objective": "l2",
    "alpha": 0.5,
    "scale": 0.85,
    "blend": 0.0,
    "window": 20_000,
    "first": 200,
    "period": 10_000,
    "trees": 50,
    "leaves": 31,
    "learning_rate": 0.2,
    "min_leaf": 20,
    "max_bin": 63,
    "bagging": 1.0,
    "quantile": None,
    "categorical": False,
    "threads": 1,
    "seed": 0,
}

#: The error samples are taken from the window every this many finished jobs (at 10,
#: 20, 40, ... before).
REFRESH = 500
#: What ml said of a job is forgotten this long (seconds) after it was asked, if the job
#: has not finished by then: a live controller's jobs cancelled while pending never do.
#: The job, should it still finish, is learned from without its answer's error.
PENDING_HORIZON = 90 * 86400.0

#: The ``remaining`` correction needs at least this many recent jobs that ran as long.
MIN_TAIL = 20


class LearnedPredictor:
    """LightGBM on online features, refit on a sliding window of finished jobs."""

    name = "ml"

    def __init__(self, **options) -> None:
        unknown = set(options) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown option(s) for ml: {', '.join(sorted(unknown))} "
                             f"(known: {', '.join(DEFAULTS)})")
        self.options = {**DEFAULTS, **options}
        o = self.options
        if o["target"] not in ("log", "ratio"):
            raise ValueError(f"target must be 'log' or 'ratio', not {o['target']!r}")
        if o["objective"] not in ("l2", "l1", "quantile"):
            raise ValueError(f"objective must be 'l2', 'l1' or 'quantile', not {o['objective']!r}")
        if int(o["first"]) < 1 or int(o["period"]) < 1 or int(o["window"]) < 1:
            raise ValueError("first, period and window must be at least 1")
        q = o["quantile"]
        if q is not None and not 0 < float(q) < 1:
            raise ValueError(f"quantile must lie strictly between 0 and 1 (or be None), not {q!r}")
        if not 0 < float(o["bagging"]) <= 1:
            raise ValueError(f"bagging is a share of the window in (0, 1], not {o['bagging']!r}")
        self.tracker = FeatureTracker()
        #: (row, raw answer, planned estimate, when asked) of jobs submitted and not yet
        #: finished; ``_asked`` orders them by age, so that those of jobs that never
        #: finish (cancelled while pending) go after ``PENDING_HORIZON``
        self.pending: dict[int, tuple[list[float], float, float, float]] = {}
        self._asked: deque[tuple[float, int]] = deque()
        #: the most recent finished jobs: rows, labels, errors
        self.window = Window(int(o["window"]), len(FEATURES))
        self.booster = None
        self._predict = None  # RowPredictor of the booster
        self.finished = 0
        self.next_fit = int(o["first"])
        self.fits = 0
        self.fit_seconds = 0.0
        self.trained_on = 0
        #: runs a refit that fell due: ``fitter(self, self.training_set())``
        self.fitter = fit_now
        #: label - raw answer (recent jobs that had a model), and runtime / planned estimate
        self.residuals = Quantiles()
        self.ratios = Quantiles()
        self.errors_at = 0  # ``finished`` when the two were last sorted
        self._i_limit = FEATURES.index("log_req_time")
        self._i_mean2 = FEATURES.index("mean2")

    # ---------------------------------------------------------------- the protocol

    def estimate(self, job: Job, now: float) -> float:
        row = self.tracker.features(job, now)
        raw, value = self._answer(row, job.time_limit)
        self.pending[job.id] = (row, raw, value, now)
        asked = self._asked
        asked.append((now, job.id))
        while asked[0][0] < now - PENDING_HORIZON:
            t, old = asked.popleft()
            if self.pending.get(old, (0, 0, 0, None))[3] == t:
                del self.pending[old]
        return value

    def observe(self, job: Job, now: float) -> None:
        entry = self.pending.pop(job.id, None)
        if entry is None:  # never estimated (e.g. it had an explicit time_min)
            row, raw, planned = self.tracker.peek(job, job.submit), math.nan, math.nan
        else:
            row, raw, planned, _ = entry
        runtime = job_runtime(job, now)
        self.tracker.observe(job, now)
        label = self._label(runtime, job.time_limit)
        if label is not None:
            self.window.append(row, label, label - raw, runtime / planned if planned > 0 else math.nan)
        self.finished += 1
        if self.finished - self.errors_at >= min(REFRESH, max(10, self.errors_at)):
            # the samples change only here, on a schedule of finished jobs, so answers do
            # not depend on who asked when (a forecast, the scheduler)
            w = self.window
            self.residuals.set(w.recent(w.residual))
            self.ratios.set(w.recent(w.ratio))
            self.errors_at = self.finished
        if self.finished >= self.next_fit:
            if len(self.window) >= 2:
                self.fitter(self, self.training_set())
            self.next_fit += min(self.next_fit, int(self.options["period"]))

    # ---------------------------------------------------------------- uncertainty

    def residual(self, q: float) -> float:
        """The q-quantile of the model's recent errors (label - raw answer); 0 without."""
        r = self.residuals.of(q)
        return 0.0 if math.isnan(r) else r

    def quantiles(self, job: Job, now: float, qs=(0.1, 0.5, 0.9)) -> list[float]:
        """Runtime quantiles (seconds, capped at the request, >= 1 s) of ``job`` if it
        were submitted at ``now``; nothing is recorded.  Without a model, each is the
        point answer."""
        row = self.tracker.peek(job, now)
        limit = job.time_limit
        if self._predict is None:
            value = self._answer(row, limit)[1]
            return [value for _ in qs]
        raw = self._predict(row)
        return [max(1.0, min(limit, self._value(raw + self.residual(q), row, limit))) for q in qs]

    def conditional_ratio(self, x: float, q: float) -> float:
        """Among the recent finished jobs that ran more than ``x`` times their planned
        estimate, the q-quantile of runtime / planned estimate; NaN when fewer than
        ``MIN_TAIL`` did.  What the ``remaining`` correction plans an overdue job with."""
        return self.ratios.above(x, q, MIN_TAIL)

    # ---------------------------------------------------------------- the model

    def _label(self, runtime: float, limit: float) -> float | None:
        if self.options["target"] == "log":
            return math.log1p(runtime)
        if not 0 < limit < math.inf:
            return None
        return runtime / limit

    def _value(self, raw: float, row: list[float], limit: float) -> float:
        """Seconds from a raw answer (log or ratio target); NaN when it cannot say."""
        if self.options["target"] == "log":
            return math.expm1(raw)
        if limit < math.inf:
            return raw * limit
        return row[self._i_mean2]  # no request to scale: the user's history (or NaN)

    def _answer(self, row: list[float], limit: float) -> tuple[float, float]:
        """(raw model answer or NaN, planned estimate capped at ``limit``, >= 1 s)."""
        if self._predict is None:
            value = row[self._i_mean2]
            if math.isnan(value):  # no history
                return math.nan, limit
            return math.nan, max(1.0, min(value, limit))
        raw = self._predict(row)
        o = self.options
        q = o["quantile"]
        value = self._value(raw if q is None else raw + self.residual(q), row, limit)
        if math.isnan(value):
            return raw, limit
        blend = o["blend"]
        if blend > 0:
            mean2 = row[self._i_mean2]
            if not math.isnan(mean2):  # geometric blend with the user's last two runtimes
                value = math.exp((1 - blend) * math.log(max(value, 1.0))
                                 + blend * math.log(max(min(mean2, limit), 1.0)))
        value *= o["scale"]
        return raw, max(1.0, min(value, limit))

    def predict_row(self, row: list[float], limit: float) -> float:
        """The prediction for a row made by the tracker, capped at ``limit``, >= 1 s."""
        return self._answer(row, limit)[1]

    def params(self) -> dict:
        """LightGBM's parameters for the current options."""
        o = self.options
        objective = {"l2": "regression", "l1": "regression_l1", "quantile": "quantile"}[o["objective"]]
        p = {
            "objective": objective,
            "num_leaves": int(o["leaves"]),
            "learning_rate": float(o["learning_rate"]),
            "min_data_in_leaf": int(o["min_leaf"]),
            "max_bin": int(o["max_bin"]),
            "num_threads": int(o["threads"]),
            "seed": int(o["seed"]),
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }
        if float(o["bagging"]) < 1:
            p["bagging_fraction"] = float(o["bagging"])
            p["bagging_freq"] = 1
        if o["objective"] == "quantile":
            p["alpha"] = float(o["alpha"])
        return p

    def set_booster(self, booster) -> None:
        """Answer with ``booster`` from now on (a refit, or a loaded model)."""
        self.booster = booster
        self._predict = None if booster is None else RowPredictor(booster, len(FEATURES))

    def fit(self) -> None:
        """Refit on the window now, on this thread (``observe`` refits on its schedule)."""
        if len(self.window) >= 2:
            fit_now(self, self.training_set())

    def prepare(self) -> None:
        import lightgbm  # noqa: F401 - a second or more, once

    def training_set(self) -> tuple[np.ndarray, np.ndarray]:
        """A copy of the window's rows and labels, oldest first."""
        X, y, _, _ = self.window.arrays()
        return np.array(X), np.array(y)

    def train(self, rows: tuple[np.ndarray, np.ndarray]) -> tuple[object, int, float]:
        """(LightGBM booster, rows learned, seconds) for a ``training_set()``."""
        import lightgbm as lgb

        began = time.perf_counter()
        X, y = rows
        cats = list(CATEGORICAL) if self.options["categorical"] else []
        params = self.params()
        data = lgb.Dataset(X, y, feature_name=list(FEATURES), categorical_feature=cats,
                           params={"verbose": -1, "max_bin": params["max_bin"]}, free_raw_data=True)
        booster = lgb.train(params, data, num_boost_round=int(self.options["trees"]))
        return booster, len(y), time.perf_counter() - began

    def install(self, model: tuple[object, int, float]) -> None:
        booster, rows, seconds = model
        self.set_booster(booster)
        self.fits += 1
        self.trained_on = rows
        self.fit_seconds += seconds
