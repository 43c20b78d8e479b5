"""Scheduling metrics of a replay: slowdown, waits, utilization and fairness.

``summarize`` turns a ``ReplayResult`` into one flat, JSON-ready dict (plain ``int``,
``float``, ``str``, ``None``; no NumPy scalars), the single source for the CLI's tables,
its ``--json`` output and the comparison plots.

Definitions (times in seconds, for every simulated job that started and ended):

- ``wait = start - submit`` and ``runtime = end - start``;
- bounded slowdown ``bsld = max((wait + runtime) / max(runtime, 10), 1)``: the 10 s bound
  keeps very short jobs from dominating the average;
- ``makespan = last end - first submit``;
- ``utilization = sum(cpus * runtime) / (procs * makespan)``;
- Jain's fairness index over the users' average bounded slowdowns,
  ``(sum x)^2 / (n * sum x^2)``: 1 when every user sees the same average slowdown,
  ``1/n`` when one user takes all of it.

Runtime estimates (what the scheduler planned with: ``job.estimate``, the requested time
unless a predictor supplied one): ``pred_mae`` (mean absolute error, s), ``pred_under``
(share of jobs predicted shorter than they ran), ``pred_ratio`` (mean of
predicted / actual, runtimes floored at 1 s).  Start-time forecasts (made at
submission, ``kairos.core.forecast``): ``forecasts`` (how many), ``forecast_p50_error``
and ``forecast_p90_error`` of ``|forecast - actual start|`` (s), and
``forecast_within``: the share forecast within 10% of the job's wait or 1 min
(``FORECAST_CLOSE``, ``FORECAST_SLACK``), whichever is larger.

A metric that is undefined (no jobs, a zero makespan, a zero replay time) is ``None``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from kairos.sim.replay import ReplayResult

#: Runtimes below this many seconds count as this long in the bounded slowdown.
BSLD_BOUND = 10.0

#: A forecast is close when it errs by at most this share of the job's wait ...
FORECAST_CLOSE = 0.10
#: ... or by at most this many seconds.
FORECAST_SLACK = 60.0

#: The keys of ``summarize``'s result that describe the run rather than measure it.
RUN_KEYS = ("trace", "policy", "order", "predictor", "correction", "procs")


def bounded_slowdown(wait: np.ndarray, runtime: np.ndarray) -> np.ndarray:
    """``max((wait + runtime) / max(runtime, 10), 1)``, element-wise."""
    wait = np.asarray(wait, dtype=float)
    runtime = np.asarray(runtime, dtype=float)
    return np.maximum((wait + runtime) / np.maximum(runtime, BSLD_BOUND), 1.0)


def jain_index(values: np.ndarray) -> float | None:
    """Jain's fairness index of non-negative ``values``: 1 when all are equal."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return None
    squares = float(np.sum(x * x))
    if squares == 0.0:
        return 1.0
    return float(np.sum(x)) ** 2 / (x.size * squares)


def summarize(result: ReplayResult, *, per_user: bool = False) -> dict[str, Any]:
    """The metrics of one replay as a flat dict (see the module docstring).

    With ``per_user``, the dict also holds ``per_user``: one entry per user, sorted by
    user (numerically when user names are numbers, as in SWF traces), with ``user``,
    ``jobs``, ``avg_wait`` and ``avg_bsld``.
    """
    workload = result.workload
    done = [j for j in result.jobs if j.start is not None and j.end is not None]
    skipped = {str(k): int(v) for k, v in (workload.skipped or {}).items()}
    out: dict[str, Any] = {
        "trace": workload.name,
        "policy": result.policy,
        "order": result.order,
        "predictor": getattr(result, "predictor", "user"),
        "correction": getattr(result, "correction", "limit"),
        "procs": int(workload.procs),
        "jobs": len(result.jobs),
        "unfinished": len(result.jobs) - len(done),
        "skipped": sum(skipped.values()),
        "skipped_by_reason": skipped,
    }
    out.update(_job_metrics(done, workload.procs))
    out.update(_estimate_metrics(done))
    out.update(_forecast_metrics(done, getattr(result, "forecasts", {}) or {}))
    users = _per_user(done)
    out["users"] = len(users)
    bslds = np.array([u["avg_bsld"] for u in users], dtype=float)
    out["fairness_jain"] = jain_index(bslds)
    out["worst_user_avg_bsld"] = float(bslds.max()) if bslds.size else None
    if per_user:
        out["per_user"] = users
    wall = float(result.wall_seconds)
    out["replay_seconds"] = wall
    out["jobs_per_second"] = len(result.jobs) / wall if wall > 0 else None
    return out


def _job_metrics(jobs: list, procs: int) -> dict[str, Any]:
    """Slowdown, wait, utilization and makespan over finished ``jobs``."""
    keys = ("avg_bsld", "max_bsld", "avg_wait", "p50_wait", "p90_wait", "p99_wait",
            "max_wait", "utilization", "makespan")
    if not jobs:
        return dict.fromkeys(keys)
    submit = np.array([j.submit for j in jobs], dtype=float)
    start = np.array([j.start for j in jobs], dtype=float)
    end = np.array([j.end for j in jobs], dtype=float)
    cpus = np.array([j.request.cpus for j in jobs], dtype=float)
    wait = start - submit
    runtime = end - start
    bsld = bounded_slowdown(wait, runtime)
    p50, p90, p99 = np.percentile(wait, [50, 90, 99])
    makespan = float(end.max() - submit.min())
    busy = float(np.sum(cpus * runtime))
    return {
        "avg_bsld": float(bsld.mean()),
        "max_bsld": float(bsld.max()),
        "avg_wait": float(wait.mean()),
        "p50_wait": float(p50),
        "p90_wait": float(p90),
        "p99_wait": float(p99),
        "max_wait": float(wait.max()),
        "utilization": busy / (procs * makespan) if procs > 0 and makespan > 0 else None,
        "makespan": makespan,
    }


def _estimate_metrics(jobs: list) -> dict[str, Any]:
    """How good the runtimes the scheduler planned with were."""
    if not jobs:
        return dict.fromkeys(("pred_mae", "pred_under", "pred_ratio"))
    predicted = np.array([j.estimate for j in jobs], dtype=float)
    actual = np.array([j.end - j.start for j in jobs], dtype=float)
    return {
        "pred_mae": float(np.mean(np.abs(predicted - actual))),
        "pred_under": float(np.mean(predicted < actual)),
        "pred_ratio": float(np.mean(np.maximum(predicted, 1.0) / np.maximum(actual, 1.0))),
    }


def _forecast_metrics(jobs: list, forecasts: dict[int, float]) -> dict[str, Any]:
    """Error of the start times forecast at submission."""
    by_id = {j.id: j for j in jobs}
    pairs = [(abs(f - by_id[i].start), by_id[i].start - by_id[i].submit)
             for i, f in forecasts.items() if i in by_id and np.isfinite(f)]
    if not pairs:
        return {"forecasts": 0, "forecast_p50_error": None, "forecast_p90_error": None,
                "forecast_within": None}
    errors, waits = np.array(pairs, dtype=float).T
    p50, p90 = np.percentile(errors, [50, 90])
    close = errors <= np.maximum(FORECAST_CLOSE * waits, FORECAST_SLACK)
    return {"forecasts": int(errors.size), "forecast_p50_error": float(p50),
            "forecast_p90_error": float(p90), "forecast_within": float(close.mean())}


def _per_user(jobs: list) -> list[dict[str, Any]]:
    """Each user's job count, average wait and average bounded slowdown."""
    if not jobs:
        return []
    users = [str(j.user) for j in jobs]
    wait = np.array([j.start - j.submit for j in jobs], dtype=float)
    runtime = np.array([j.end - j.start for j in jobs], dtype=float)
    bsld = bounded_slowdown(wait, runtime)
    names, index = np.unique(np.array(users, dtype=object), return_inverse=True)
    counts = np.bincount(index)
    wait_sum = np.bincount(index, weights=wait)
    bsld_sum = np.bincount(index, weights=bsld)
    rows = [
        {
            "user": str(name),
            "jobs": int(n),
            "avg_wait": float(w / n),
            "avg_bsld": float(b / n),
        }
        for name, n, w, b in zip(names, counts, wait_sum, bsld_sum)
    ]
    rows.sort(key=lambda r: _user_sort_key(r["user"]))
    return rows


def _user_sort_key(user: str) -> tuple:
    """Numeric user ids in numeric order, then names in alphabetical order."""
    try:
        return (0, int(user), user)
    except ValueError:
        return (1, 0, user)
