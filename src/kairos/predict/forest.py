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

The forest is scikit-learn's, fitted the way ``RandomForestRegressor`` fits it but on
fewer rows (``fit_forest``): a 90-day window holds a fifth to under a third as many distinct
requests as jobs, and a tree only ever sees weighted sums of the rows it splits.

scikit-learn's ``predict`` costs about 2 ms for one row, mostly call overhead, so after
each fit the trees are flattened into plain lists (``FlatForest``) and one row is walked
in pure Python, with the same float32 comparisons and the same summation order, hence the
same value; a model answers a request it has answered before from memory.
"""

from __future__ import annotations

import math
import os

import numpy as np

from kairos.core.jobs import Job
from kairos.predict.features import LabelEncoder, job_queue, job_req_mem, job_runtime
from kairos.predict.fitting import fit_now
from kairos.predict.window import TimeWindow

__all__ = ["FOREST_FEATURES", "FlatForest", "ForestPredictor", "fit_forest"]

FOREST_FEATURES: tuple[str, ...] = (
    "user", "partition", "queue", "procs", "req_mem", "nodes", "req_time",
)

_DAY = 86_400.0


def fit_forest(X: np.ndarray, y: np.ndarray, *, n_estimators: int, max_depth: int,
               seed: int, threads: int = 1) -> list:
    """The trees of ``RandomForestRegressor(n_estimators, max_depth, random_state=seed)``
    fitted on ``X``, ``y``, found on the distinct rows of ``X`` only, by ``threads``
    threads (scikit-learn's tree builder runs without the GIL; the trees do not depend on
    how many).

    scikit-learn fits each tree on every row, weighted by how often the tree's bootstrap
    drew it.  Rows with equal features are never split apart and a split is chosen from
    the weighted sums of the runtimes on each side, so each distinct row stands in for its
    copies with their summed weight and their weighted mean runtime: the same seeds, the
    same bootstrap draws, the same splits, except where two splits tie and rounding in
    the sums breaks the tie another way (scikit-learn's own choice there depends on the
    order it happens to add rows in).  On a 90-day window of KTH-SP2, 94% of answers
    equal scikit-learn's to the last bit (a forest of another seed: none), and a fit
    takes 60% of the time."""
    from sklearn.tree import DecisionTreeRegressor

    n = len(y)
    X = np.ascontiguousarray(X, dtype=np.float64)
    # Rows as opaque bytes: np.unique sorts those five times faster than rows of numbers
    # (and the trees do not depend on the order of the rows, only rounding does).
    as_bytes = X.view(np.dtype((np.void, X.itemsize * X.shape[1]))).ravel()
    keys, which = np.unique(as_bytes, return_inverse=True)
    distinct = keys.view(np.float64).reshape(-1, X.shape[1])
    which = which.ravel()
    m = len(distinct)
    # Converted once, as the forest converts before fitting its trees, not at every tree.
    distinct32 = np.ascontiguousarray(distinct, dtype=np.float32)
    seeds = np.random.RandomState(seed)  # as scikit-learn seeds the forest's trees
    tree_seeds = [int(seeds.randint(np.iinfo(np.int32).max)) for _ in range(n_estimators)]

    def fit_tree(tree_seed: int):
        drawn = np.bincount(np.random.RandomState(tree_seed).randint(0, n, n), minlength=n)
        weight = np.bincount(which, weights=drawn, minlength=m)
        total = np.bincount(which, weights=drawn * y, minlength=m)
        mean = np.divide(total, weight, out=np.zeros(m), where=weight > 0)
        tree = DecisionTreeRegressor(max_depth=max_depth, random_state=tree_seed)
        return tree.fit(distinct32, mean, sample_weight=weight, check_input=False)

    if threads <= 1:
        return [fit_tree(s) for s in tree_seeds]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fit_tree, tree_seeds))


class FlatForest:
    """A fitted forest (a ``RandomForestRegressor``, a list of ``DecisionTreeRegressor``
    or one of them) as flat lists, predicting one row in pure Python exactly as
    scikit-learn does."""

    __slots__ = ("feature", "left", "n_trees", "right", "roots", "threshold", "value")

    def __init__(self, model) -> None:
        if isinstance(model, list):
            trees = model
        else:
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
                 every_seconds: float = _DAY, seed: int = 0, threads: int | None = None) -> None:
        self.options = {
            "n_estimators": n_estimators, "max_depth": max_depth, "window_days": window_days,
            "every_jobs": every_jobs, "every_seconds": every_seconds, "seed": seed,
        }
        #: threads a fit runs on (None: one per CPU); the model does not depend on it
        self.threads = threads
        self.encoders = tuple(LabelEncoder() for _ in range(3))
        #: (end time, row, runtime) of recently finished jobs, oldest first
        self.window = TimeWindow(len(FOREST_FEATURES))
        self.model = None  # the fitted trees (a list of scikit-learn's)
        self.flat: FlatForest | None = None
        #: the current model's answers, by request: a window repeats its requests
        self._answers: dict[tuple, float] = {}
        self.finished = 0
        self.since_fit = 0
        self.last_fit = -math.inf
        self.fits = 0
        self.fit_seconds = 0.0
        self.trained_on = 0  # rows in the last fit
        #: runs a refit that fell due: ``fitter(self, self.training_set())``
        self.fitter = fit_now
        #: while ``learn_past`` runs: the rows of the last fit due with any, or None
        self._deferred: tuple | None = None
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
        key = tuple(row)
        value = self._answers.get(key)
        if value is None:
            value = self._answers[key] = self.flat.predict_one(row)
        return min(max(value, 1.0), job.time_limit)

    def observe(self, job: Job, now: float) -> None:
        self.window.append(now, self.row(job), job_runtime(job, now))
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
        self.window.drop_before(now - o["window_days"] * _DAY)
        self.since_fit = 0
        self.last_fit = now
        if not len(self.window):
            return
        if self._deferring:
            self._deferred = self.training_set()
        else:
            self.fitter(self, self.training_set())

    def prepare(self) -> None:
        import sklearn.tree  # noqa: F401 - a second or more, once

    def training_set(self) -> tuple[np.ndarray, np.ndarray]:
        """The window's rows and runtimes, oldest first (views that the window, going
        on, leaves as they are: ``TimeWindow.arrays``)."""
        _, X, y = self.window.arrays()
        return X, y

    def train(self, rows: tuple[np.ndarray, np.ndarray]) -> tuple[object, FlatForest, int, float]:
        """(forest, its flat copy, rows learned, seconds) for a ``training_set()``."""
        import time

        o = self.options
        began = time.perf_counter()
        X, y = rows
        model = fit_forest(X, y, n_estimators=o["n_estimators"], max_depth=o["max_depth"],
                           seed=o["seed"], threads=self.threads or os.cpu_count() or 1)
        flat = FlatForest(model)
        return model, flat, len(y), time.perf_counter() - began

    def install(self, model: tuple[object, FlatForest, int, float]) -> None:
        self.model, self.flat, rows, seconds = model
        self._answers = {}
        self.fits += 1
        self.trained_on = rows
        self.fit_seconds += seconds
