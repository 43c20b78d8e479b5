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
* ``window`` (50,000 jobs), ``first`` (200), ``period`` (5,000): the refit schedule;
  ``trees``, ``leaves``, ``learning_rate``, ``min_leaf``, ``categorical`` (treat the
  label-encoded columns as LightGBM categories), ``threads`` (1: fits are small, and one
  thread keeps them fast on a busy machine), ``seed``.

Scheduling outcomes move by several percent between neighbouring settings (a replay is
chaotic), so no single setting should be read too finely.

Fitting happens inside ``observe`` on the caller's thread; ``fit_seconds`` adds it up so
replays can report the whole cost.
"""

from __future__ import annotations

import math
import time
from collections import deque

import numpy as np

from kairos.core.jobs import Job
from kairos.predict.features import CATEGORICAL, FEATURES, FeatureTracker, job_runtime

__all__ = ["DEFAULTS", "LearnedPredictor"]

#: The default options (see the module docstring).
DEFAULTS: dict = {
    "target": "log",
    "objective": "l2",
    "alpha": 0.5,
    "scale": 0.85,
    "blend": 0.0,
    "window": 50_000,
    "first": 200,
    "period": 5_000,
    "trees": 100,
    "leaves": 31,
    "learning_rate": 0.1,
    "min_leaf": 20,
    "categorical": False,
    "threads": 1,
    "seed": 0,
}


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
        self.tracker = FeatureTracker()
        #: rows of jobs submitted and not yet finished, by job id
        self.pending: dict[int, list[float]] = {}
        #: (row, label) of the most recent finished jobs
        self.window: deque[tuple[list[float], float]] = deque(maxlen=int(o["window"]))
        self.booster = None
        self.finished = 0
        self.next_fit = int(o["first"])
        self.fits = 0
        self.fit_seconds = 0.0
        self.trained_on = 0
        self._i_limit = FEATURES.index("log_req_time")
        self._i_mean2 = FEATURES.index("mean2")

    # ---------------------------------------------------------------- the protocol

    def estimate(self, job: Job, now: float) -> float:
        row = self.tracker.features(job, now)
        self.pending[job.id] = row
        return self.predict_row(row, job.time_limit)

    def observe(self, job: Job, now: float) -> None:
        row = self.pending.pop(job.id, None)
        if row is None:  # never estimated (e.g. it had an explicit time_min)
            row = self.tracker.peek(job, job.submit)
        runtime = job_runtime(job, now)
        self.tracker.observe(job, now)
        label = self._label(runtime, job.time_limit)
        if label is not None:
            self.window.append((row, label))
        self.finished += 1
        if self.finished >= self.next_fit:
            self.fit()
            self.next_fit += min(self.next_fit, int(self.options["period"]))

    # ---------------------------------------------------------------- the model

    def _label(self, runtime: float, limit: float) -> float | None:
        if self.options["target"] == "log":
            return math.log1p(runtime)
        if not 0 < limit < math.inf:
            return None
        return runtime / limit

    def predict_row(self, row: list[float], limit: float) -> float:
        """The prediction for a row made by the tracker, capped at ``limit``, >= 1 s."""
        if self.booster is None:
            value = row[self._i_mean2]
            if math.isnan(value):  # no history
                return limit
        else:
            raw = self.booster.predict(np.array((row,), dtype=np.float64), num_threads=1)[0]
            if self.options["target"] == "log":
                value = math.expm1(raw)
            elif limit < math.inf:
                value = raw * limit
            else:  # no request to scale: fall back on the user's history
                value = row[self._i_mean2]
                if math.isnan(value):
                    return limit
            blend = self.options["blend"]
            if blend > 0:
                mean2 = row[self._i_mean2]
                if not math.isnan(mean2):  # geometric blend with the user's last two runtimes
                    value = math.exp((1 - blend) * math.log(max(value, 1.0))
                                     + blend * math.log(max(min(mean2, limit), 1.0)))
            value *= self.options["scale"]
        value = min(value, limit)
        return max(1.0, value)

    def params(self) -> dict:
        """LightGBM's parameters for the current options."""
        o = self.options
        objective = {"l2": "regression", "l1": "regression_l1", "quantile": "quantile"}[o["objective"]]
        p = {
            "objective": objective,
            "num_leaves": int(o["leaves"]),
            "learning_rate": float(o["learning_rate"]),
            "min_data_in_leaf": int(o["min_leaf"]),
            "num_threads": int(o["threads"]),
            "seed": int(o["seed"]),
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }
        if o["objective"] == "quantile":
            p["alpha"] = float(o["alpha"])
        return p

    def fit(self) -> None:
        """Refit on the window now (``observe`` calls this on its schedule)."""
        if len(self.window) < 2:
            return
        import lightgbm as lgb

        began = time.perf_counter()
        X = np.array([r for r, _ in self.window], dtype=np.float64)
        y = np.array([v for _, v in self.window], dtype=np.float64)
        cats = list(CATEGORICAL) if self.options["categorical"] else []
        data = lgb.Dataset(X, y, feature_name=list(FEATURES), categorical_feature=cats,
                           params={"verbose": -1}, free_raw_data=True)
        self.booster = lgb.train(self.params(), data, num_boost_round=int(self.options["trees"]))
        self.fits += 1
        self.trained_on = len(y)
        self.fit_seconds += time.perf_counter() - began
