"""``rf``: Metastack's runtime predictor, as a baseline.

Metastack (an enhanced Slurm) asks, at submission, a scikit-learn random forest of 50
trees of depth at most 10 for the job's runtime.  Its features are the user, the partition,
the requested CPUs, memory and nodes and the time limit (categorical ones label-encoded);
its target is the elapsed time; a cron job retrains it on the last three months of
accounting history.

Here, on the twin's virtual clock:

* the features are ``FOREST_FEATURES``: user, partition and queue (label-encoded online),
  requested CPUs, memory and nodes, and the time limit;
* the forest is refit on the jobs that finished in the last ``window_days`` (90) days, when
  at least ``every_jobs`` (1,000) jobs have finished since the last fit *and* at least
  ``every_seconds`` (one day) has passed - the rarer of the two, the way a nightly cron
  would only find something new when jobs ended;
* before the first fit it answers the request; its answers are capped at the request.

scikit-learn's ``predict`` costs about 2 ms for one row, mostly call overhead, so after
each fit the trees are flattened into plain lists (``FlatForest``) and one row is walked
in pure Python, with the same float32 comparisons and the same summation order, hence the
same value.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from kairos.core.jobs import Job
from kairos.predict.features import LabelEncoder, job_queue, job_req_mem, job_runtime
from kairos.predict.fitting import fit_now

__all__ = ["FOREST_FEATURES", "FlatForest", "ForestPredictor"]

FOREST_FEATURES: tuple[str, ...] = (
    "user", "partition", "queue", "procs", "req_mem", "nodes", "req_time",
)

_DAY = 86_400.0


class FlatForest:
    """A fitted ``RandomForestRegressor`` (or one ``DecisionTreeRegressor``) as flat
    lists, predicting one row in pure Python exactly as scikit-learn does."""

    __slots__ = ("feature", "left", "n_trees", "right", "roots", "threshold", "value")

    def __init__(self, model) -> None:
        trees = getattr(model, "estimators_", None) or [model]
        left: list[int] = []
        right: list[int] = []
        feature: list[int] = []
        threshold: list[float] = []
        value: list[float] = []
        roots: list[int] = []
        for est in trees:
            t = est.tree_
            off = len(left)
            roots.append(off)
            cl = t.children_left
            leaf = cl == -1
            left.extend(np.where(leaf, -1, cl + off).tolist())
            right.extend(np.where(leaf, -1, t.children_right + off).tolist())
            feature.extend(t.feature.tolist())
            threshold.extend(t.threshold.tolist())
            value.extend(t.value[:, 0, 0].tolist())
        self.roots = roots
        self.left = left
        self.right = right
        self.feature = feature
        self.threshold = threshold
        self.value = value
        self.n_trees = len(trees)

    def predict_one(self, row) -> float:
        """The forest's prediction for one row (a sequence of numbers)."""
        # scikit-learn compares float32 features with float64 thresholds.
        x = np.asarray(row, dtype=np.float32).tolist()
        left, right, feature, threshold, value = (
            self.left, self.right, self.feature, self.threshold, self.value)
        total = 0.0
        for node in self.roots:
            nxt = left[node]
            while nxt != -1:
                node = nxt if x[feature[node]] <= threshold[node] else right[node]
                nxt = left[node]
            total += value[node]
        return total / self.n_trees


class ForestPredictor:
    """Metastack's random forest, refit periodically on a sliding window."""

    name = "rf"

    def __init__(self, *, n_estimators: int = 50, max_depth: int = 10,
                 window_days: float = 90.0, every_jobs: int = 1000,
                 every_seconds: float = _DAY, seed: int = 0, n_jobs: int | None = None) -> None:
        self.options = {
            "n_estimators": n_estimators, "max_depth": max_depth, "window_days": window_days,
            "every_jobs": every_jobs, "every_seconds": every_seconds, "seed": seed,
        }
        self.n_jobs = n_jobs
        self.encoders = tuple(LabelEncoder() for _ in range(3))
        #: (end time, row, runtime) of recently finished jobs, oldest first
        self.window: deque[tuple[float, list[float], float]] = deque()
        self.model = None  # the fitted sklearn forest
        self.flat: FlatForest | None = None
        self.finished = 0
        self.since_fit = 0
        self.last_fit = -math.inf
        self.fits = 0
        self.fit_seconds = 0.0
        self.trained_on = 0  # rows in the last fit
        #: runs a refit that fell due: ``fitter(self, self.training_set())``
        self.fitter = fit_now
        #: while ``learn_past`` runs: the rows of the last fit due with any, or None
        self._deferred: list | None = None
        self._deferring = False

    def row(self, job: Job) -> list[float]:
        enc_user, enc_part, enc_queue = self.encoders
        req = job.request
        limit = job.time_limit
        return [
            float(enc_user(job.user)), float(enc_part(job.partition)),
            float(enc_queue(job_queue(job))), float(req.cpus), job_req_mem(job),
            float(req.nodes), limit if limit < math.inf else -1.0,
        ]

    def estimate(self, job: Job, now: float) -> float:
        row = self.row(job)
        if self.flat is None:
            return job.time_limit
        value = self.flat.predict_one(row)
        return min(max(value, 1.0), job.time_limit)

    def observe(self, job: Job, now: float) -> None:
        self.window.append((now, self.row(job), job_runtime(job, now)))
        self.finished += 1
        self.since_fit += 1
        o = self.options
        if self.since_fit >= o["every_jobs"] and now - self.last_fit >= o["every_seconds"]:
            self.fit(now)

    def learn_past(self, replay) -> None:
        """Run ``replay()``, the estimates and ends of a past nobody plans with (a
        restarted controller's, ``kairos.server.seeding``), making only the last of the
        fits that fall due in it: the model is the one learning live ended with, on the
        same rows, and the earlier fits would only have changed answers nobody keeps."""
        self._deferred, self._deferring = None, True
        try:
            replay()
        finally:
            self._deferring = False
        if self._deferred is not None:
            rows, self._deferred = self._deferred, None
            fit_now(self, rows)

    def fit(self, now: float) -> None:
        """Refit on the jobs that finished in the last ``window_days`` before ``now`` (by
        ``fitter``; an empty window leaves the model as it was)."""
        o = self.options
        horizon = now - o["window_days"] * _DAY
        w = self.window
        while w and w[0][0] < horizon:
            w.popleft()
        self.since_fit = 0
        self.last_fit = now
        if not w:
            return
        if self._deferring:
            self._deferred = self.training_set()
        else:
            self.fitter(self, self.training_set())

    def prepare(self) -> None:
        import sklearn.ensemble  # noqa: F401 - a second or more, once

    def training_set(self) -> list:
        """A copy of the window: (end time, row, runtime), oldest first."""
        return list(self.window)

    def train(self, rows: list) -> tuple[object, FlatForest, int, float]:
        """(forest, its flat copy, rows learned, seconds) for a ``training_set()``."""
        import time

        from sklearn.ensemble import RandomForestRegressor

        o = self.options
        began = time.perf_counter()
        X = np.array([r for _, r, _ in rows], dtype=np.float64)
        y = np.array([v for _, _, v in rows], dtype=np.float64)
        model = RandomForestRegressor(
            n_estimators=o["n_estimators"], max_depth=o["max_depth"],
            random_state=o["seed"], n_jobs=self.n_jobs)
        model.fit(X, y)
        flat = FlatForest(model)
        return model, flat, len(rows), time.perf_counter() - began

    def install(self, model: tuple[object, FlatForest, int, float]) -> None:
        self.model, self.flat, rows, seconds = model
        self.fits += 1
        self.trained_on = rows
        self.fit_seconds += seconds
