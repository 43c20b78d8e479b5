"""Train a predictor from a trace, save it, load it back.

A saved predictor is a folder:

* ``meta.json``: ``{"format": 1, "kairos_version", "predictor", "features",
  "trained_on", "jobs", "options"}`` - ``jobs`` is how many finished jobs it has learned
  from, ``trained_on`` the workload's name (or null);
* ``state.json``: what it learned that is not a model (label encodings, per-user
  histories, counters);
* ``model.txt`` (``ml``: LightGBM's own text format) or ``model.joblib`` (``rf``: the
  scikit-learn trees, a list, or a ``RandomForestRegressor`` in folders saved before);
* ``window.npz``: the recent finished jobs it refits on, so that it keeps learning online
  after loading (for ``ml`` also the errors of their predictions: ``residual``, ``ratio``).

``load`` refuses a folder of another format with a clear ``ValueError``.

``train_from_workload`` walks a trace in submit order (``walk_trace``): each job is
estimated at its submission and observed at its *real* end in the trace, submit + wait
(SWF field 3; 0 when unknown) + runtime.  That is what a predictor deployed on the
machine the trace came from would have seen.  In a replay, ends depend on the simulated
schedule instead; the trace's own ends are the stand-in for offline training and for
measuring prediction accuracy.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

import kairos
from kairos.predict import make_predictor
from kairos.predict.baselines import LastTwo, UserEstimate
from kairos.predict.features import FEATURES, FeatureTracker, LabelEncoder

__all__ = ["FORMAT", "load", "save", "trace_end", "train_from_workload", "walk_trace"]

#: The version of the folder layout this Kairos writes and reads.
FORMAT = 1

_SAVABLE = ("user", "last2", "rf", "ml", "mlq")


def trace_end(workload, job) -> float:
    """When ``job`` really ended in the trace: submit + wait (field 3, 0 if unknown) +
    runtime."""
    wait = 0.0
    records = workload.records
    if records is not None and job.id in records:
        w = records[job.id][2]
        if w is not None and w >= 0:
            wait = float(w)
    return job.submit + wait + workload.runtimes[job.id]


def walk_trace(workload, predictor, *, drain: bool = True,
               each: Callable[[object, float], None] | None = None) -> dict[int, float]:
    """Run ``predictor`` over ``workload`` in submit order with the trace's real ends.

    Each job is estimated when submitted and observed when it ended in the trace
    (``trace_end``); at one instant, ends come before submissions.  With ``drain``, jobs
    still running after the last submission are observed too.  Returns each job's
    prediction, clamped to ``[1, time_limit]`` as the scheduler would.  ``each(job,
    prediction)`` is called after every estimate.
    """
    runtimes = workload.runtimes
    ends: list[tuple[float, int, object]] = []
    out: dict[int, float] = {}
    estimate, observe = predictor.estimate, predictor.observe
    pop, push = heapq.heappop, heapq.heappush
    for job in workload.jobs:
        t = job.submit
        while ends and ends[0][0] <= t:
            end, _, j = pop(ends)
            observe(j, end)
        p = estimate(job, t)
        limit = job.time_limit
        p = limit if p > limit else (max(p, 1.0))
        out[job.id] = p
        if each is not None:
            each(job, p)
        end = trace_end(workload, job)
        j = dataclasses.replace(job)
        j.start = end - runtimes[job.id]
        j.end = end
        push(ends, (end, job.id, j))
    if drain:
        while ends:
            end, _, j = pop(ends)
            observe(j, end)
    return out


def train_from_workload(workload, name: str = "ml", **options):
    """A predictor called ``name`` trained on ``workload`` (see ``walk_trace``); learnt
    models are refit on their window once more at the end."""
    if name == "oracle":
        raise ValueError("the oracle cannot be trained: it reads the true runtimes")
    predictor = make_predictor(name, workload=workload, **options)
    walk_trace(workload, predictor, drain=True)
    if name in ("ml", "mlq"):
        predictor.fit()
    elif name == "rf" and len(predictor.window):
        predictor.fit(predictor.window.last_time())
    predictor.source = workload.name
    return predictor


# ------------------------------------------------------------------------- save


def _jobs_seen(predictor) -> int:
    if isinstance(predictor, LastTwo):
        return sum(len(h) for h in predictor.history.values())
    return int(getattr(predictor, "finished", 0))


def save(predictor, path: str | os.PathLike) -> Path:
    """Write ``predictor`` (``user``, ``last2``, ``rf`` or ``ml``) to the folder ``path``
    (created if needed; files of the same names are replaced).  Returns the folder."""
    name = getattr(predictor, "name", None)
    if name not in _SAVABLE:
        raise ValueError(f"cannot save predictor {name!r} (savable: {', '.join(_SAVABLE)})")
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    features: list[str] = []
    options: dict = {}
    state: dict = {}
    if name == "last2":
        state = predictor.state()
    elif name in ("ml", "mlq"):
        features = list(FEATURES)
        options = dict(predictor.options)
        state = {
            "tracker": predictor.tracker.state(), "finished": predictor.finished,
            "next_fit": predictor.next_fit, "fits": predictor.fits,
            "trained_on": predictor.trained_on, "errors_at": predictor.errors_at,
        }
        if predictor.booster is not None:
            (folder / "model.txt").write_text(predictor.booster.model_to_string())
        X, y, residual, ratio = predictor.window.arrays()
        np.savez_compressed(folder / "window.npz", X=X, y=y, residual=residual, ratio=ratio,
                            residuals=predictor.residuals.sorted, ratios=predictor.ratios.sorted)
    elif name == "rf":
        from kairos.predict.forest import FOREST_FEATURES

        features = list(FOREST_FEATURES)
        options = dict(predictor.options)
        state = {
            "encoders": [e.codes for e in predictor.encoders], "finished": predictor.finished,
            "since_fit": predictor.since_fit,
            "last_fit": None if predictor.last_fit == -math.inf else predictor.last_fit,
            "fits": predictor.fits, "trained_on": predictor.trained_on,
        }
        if predictor.model is not None:
            import joblib

            joblib.dump(predictor.model, folder / "model.joblib")
        t, X, y = predictor.window.arrays()
        np.savez_compressed(folder / "window.npz", t=t, X=X, y=y)
    meta = {
        "format": FORMAT,
        "kairos_version": kairos.__version__,
        "predictor": name,
        "features": features,
        "trained_on": getattr(predictor, "source", None),
        "jobs": _jobs_seen(predictor),
        "options": options,
    }
    (folder / "state.json").write_text(json.dumps(state))
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return folder


def read_meta(path: str | os.PathLike) -> dict:
    """The ``meta.json`` of a saved predictor, checked for its format."""
    folder = Path(path)
    meta_file = folder / "meta.json"
    if not meta_file.is_file():
        raise ValueError(f"{folder}: not a saved Kairos predictor (no meta.json)")
    try:
        meta = json.loads(meta_file.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{meta_file}: unreadable ({e})") from None
    fmt = meta.get("format") if isinstance(meta, dict) else None
    if fmt != FORMAT:
        raise ValueError(
            f"{folder}: saved predictor format {fmt!r} (by Kairos "
            f"{meta.get('kairos_version', '?') if isinstance(meta, dict) else '?'}); "
            f"this Kairos ({kairos.__version__}) reads format {FORMAT} only: retrain it with "
            f"'kairos predict train'")
    if meta.get("predictor") not in _SAVABLE:
        raise ValueError(f"{folder}: unknown predictor {meta.get('predictor')!r}")
    return meta


def load(path: str | os.PathLike):
    """The predictor saved in the folder ``path`` (see ``save``)."""
    folder = Path(path)
    meta = read_meta(folder)
    name = meta["predictor"]
    state = json.loads((folder / "state.json").read_text())
    if name == "user":
        p = UserEstimate()
    elif name == "last2":
        p = LastTwo.from_state(state)
    elif name in ("ml", "mlq"):
        if meta["features"] != list(FEATURES):
            raise ValueError(f"{folder}: saved with features {meta['features']}, "
                             f"this Kairos computes {list(FEATURES)}: retrain it")
        # a folder from before ``max_bin`` was an option was fit with LightGBM's 255 bins
        p = make_predictor(name, **{"max_bin": 255, **meta["options"]})
        p.tracker = FeatureTracker.from_state(state["tracker"])
        p.finished = state["finished"]
        p.next_fit = state["next_fit"]
        p.fits = state["fits"]
        p.trained_on = state["trained_on"]
        model = folder / "model.txt"
        if model.is_file():
            import lightgbm as lgb

            p.set_booster(lgb.Booster(model_str=model.read_text()))
        with np.load(folder / "window.npz") as w:
            # residual and ratio (the errors quantiles are read from) came later: absent
            # in older folders, where they start empty
            p.window.extend(w["X"], w["y"], w["residual"] if "residual" in w else None,
                            w["ratio"] if "ratio" in w else None)
            if "residuals" in w:  # the samples its quantiles were last read from
                p.residuals.update(w["residuals"])
                p.ratios.update(w["ratios"])
                p.errors_at = state["errors_at"]
    else:  # rf
        from kairos.predict.forest import FOREST_FEATURES, FlatForest

        if meta["features"] != list(FOREST_FEATURES):
            raise ValueError(f"{folder}: saved with features {meta['features']}, "
                             f"this Kairos computes {list(FOREST_FEATURES)}: retrain it")
        p = make_predictor("rf", **meta["options"])
        p.encoders = tuple(LabelEncoder(c) for c in state["encoders"])
        p.finished = state["finished"]
        p.since_fit = state["since_fit"]
        p.last_fit = -math.inf if state["last_fit"] is None else state["last_fit"]
        p.fits = state["fits"]
        p.trained_on = state["trained_on"]
        model = folder / "model.joblib"
        if model.is_file():
            import joblib

            p.model = joblib.load(model)
            p.flat = FlatForest(p.model)
        with np.load(folder / "window.npz") as w:
            p.window.extend(w["t"], w["X"].reshape(-1, len(FOREST_FEATURES)), w["y"])
    p.source = meta.get("trained_on")
    return p
