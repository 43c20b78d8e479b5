"""RLScheduler's protocol run on the twin: the configurations compared, one sequence
replayed under each, every sequence of a trace (in parallel processes if asked), and the
statistics the results are given with.

``PUBLISHED`` holds the paper's figures that the results stand beside.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kairos.sim.metrics import bounded_slowdown
from kairos.sim.replay import replay
from kairos.sim.rlscheduler.released import RELEASED_VARIANTS, released_rules_bsld
from kairos.sim.rlscheduler.sequences import Pool, load_pool, make_sequence, sample_offsets
from kairos.sim.workload import Workload

#: Published average bounded slowdown with backfilling (Zhang et al., SC 2020; the same
#: values are in the table of the authors' repository README, which also gives F1 for
#: Lublin-1).  Keys: trace file prefix -> (row label, {configuration: value}).
PUBLISHED: dict[str, tuple[str, dict[str, float]]] = {
    "SDSC-SP2": ("SDSC-SP2", {"FCFS": 1595.1, "SJF": 2167.8, "F1": 1098.2, "RL": 397.8}),
    "HPC2N": ("HPC2N", {"FCFS": 127.4, "SJF": 122.0, "F1": 72.0, "RL": 86.1}),
    "lublin_256": ("Lublin-1", {"FCFS": 235.8, "SJF": 73.3, "F1": 75.1, "RL": 58.6}),
}


@dataclass(frozen=True)
class Config:
    """One way of replaying a sequence: a label, the queue order, the keyword arguments
    of ``replay`` and whether the sequence keeps the trace's own clock."""

    label: str
    order: str
    kwargs: dict = field(default_factory=dict)
    trace_clock: bool = False
    published_as: str | None = None  #: the published column it stands beside
    released: str | None = None  #: the released simulator's score it corresponds to


#: Static orders under EASY with requested times.
BASELINES: tuple[Config, ...] = (
    Config("FCFS", "submit", published_as="FCFS", released="fcfs"),
    Config("SJF", "sjf", published_as="SJF", released="sjf"),
    Config("F1", "f1", published_as="F1"),
    # The released code scores F1 on the trace's own submit times, not shifted ones.
    Config("F1, trace clock", "f1", trace_clock=True, published_as="F1", released="f1"),
)

#: Kairos's prediction-driven configurations.  Each runs only when this Kairos has runtime
#: predictors (``kairos.predict.make_predictor``) and ``replay`` takes every keyword given
#: here; otherwise the table lists it as not available.  Add or change entries here.
PREDICTIVE: tuple[Config, ...] = (
    # EASY++ (Tsafrir et al. 2007): FCFS queue, predictions, shortest-predicted backfill first.
    Config("EASY++ last2", "submit",
           {"predictor": "last2", "correction": "tsafrir", "backfill_order": "shortest"}),
    Config("EASY++ ml", "submit",
           {"predictor": "ml", "correction": "tsafrir", "backfill_order": "shortest"}),
    Config("EASY++ oracle (true runtimes)", "submit",
           {"predictor": "oracle", "correction": "tsafrir", "backfill_order": "shortest"}),
    # The queue itself sorted by prediction (``sjf`` sorts by the estimate the predictor set).
    Config("SPF last2", "sjf",
           {"predictor": "last2", "correction": "tsafrir", "backfill_order": "shortest"}),
    Config("SPF ml", "sjf",
           {"predictor": "ml", "correction": "tsafrir", "backfill_order": "shortest"}),
)


def average_bsld(workload: Workload, config: Config) -> float:
    """Average bounded slowdown of one sequence replayed by Kairos under ``config``."""
    result = replay(workload, "easy", config.order, **config.kwargs)
    jobs = result.jobs
    if any(j.start is None or j.end is None for j in jobs):
        raise RuntimeError(f"{workload.name}: {config.label}: some jobs never ran")
    wait = np.array([j.start - j.submit for j in jobs])
    run = np.array([j.end - j.start for j in jobs])
    return float(bounded_slowdown(wait, run).mean())


def predictive_status(config: Config) -> str | None:
    """None when ``config`` can run on this Kairos, else why not."""
    params = inspect.signature(replay).parameters
    missing = [k for k in config.kwargs if k not in params]
    if missing:
        return f"replay() takes no {', '.join(missing)}"
    try:
        from kairos.predict import make_predictor  # noqa: F401
    except ImportError as e:
        return f"no runtime predictors ({e})"
    return None


#: Trace pools of a worker process, by (path, negative-runtime rule).
_POOLS: dict[tuple[str, str], Pool] = {}


def evaluate_sequence(pool: Pool, start: int, configs: list[Config],
                      released: tuple[str, ...] = ()) -> dict[str, float | str]:
    """One sequence under every configuration: label -> average bounded slowdown, or
    "unavailable: why" for a prediction-driven one this Kairos cannot run; for each
    variant named in ``released`` (``RELEASED_VARIANTS``), also "<variant>:<score>" ->
    the value under those rules."""
    shifted = make_sequence(pool, start)
    own_clock = None
    out: dict[str, float | str] = {}
    for c in configs:
        if c.trace_clock:
            own_clock = own_clock or make_sequence(pool, start, shift=False)
            w = own_clock
        else:
            w = shifted
        try:
            out[c.label] = average_bsld(w, c)
        except (ImportError, TypeError, ValueError, KeyError) as e:
            if not c.kwargs:
                raise
            out[c.label] = f"unavailable: {type(e).__name__}: {e}"
        if c.released:
            for variant in released:
                out[f"{variant}:{c.released}"] = released_rules_bsld(
                    pool, start, c.released, **RELEASED_VARIANTS[variant])
    return out


def _evaluate_in_worker(path: str, negative_runtimes: str, start: int, configs: list[Config],
                        released: tuple[str, ...]) -> dict[str, float | str]:
    pool = _POOLS.get((path, negative_runtimes))
    if pool is None:
        pool = _POOLS[(path, negative_runtimes)] = load_pool(path, negative_runtimes=negative_runtimes)
    return evaluate_sequence(pool, start, configs, released)


def bootstrap_ci(values: np.ndarray, *, level: float = 0.95, resamples: int = 10_000,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [tail, 1.0 - tail])
    return float(lo), float(hi)


def groups_of_ten(values: np.ndarray) -> tuple[float, float, int]:
    """(smallest, largest, count) of the means of disjoint consecutive groups of 10."""
    k = len(values) // 10
    if k == 0:
        return (math.nan, math.nan, 0)
    means = np.asarray(values[: 10 * k], dtype=float).reshape(k, 10).mean(axis=1)
    return float(means.min()), float(means.max()), k


@dataclass
class TraceRun:
    key: str  #: PUBLISHED key
    pool: Pool
    offsets: list[int]
    results: dict[str, list[float]] = field(default_factory=dict)  #: label -> per-sequence
    unavailable: dict[str, str] = field(default_factory=dict)  #: label -> why not run


def run_trace(key: str, path: Path, configs: list[Config], *, sequences: int, seed: int,
              negative_runtimes: str, released: tuple[str, ...] = (), workers: int = 1,
              advance: Callable[[], None] = lambda: None) -> TraceRun:
    """Draw the sequences of one trace and replay each under every configuration."""
    pool = load_pool(path, negative_runtimes=negative_runtimes)
    offsets = sample_offsets(len(pool), sequences, seed)
    run = TraceRun(key, pool, offsets)
    live: list[Config] = []
    for c in configs:
        reason = predictive_status(c) if c.kwargs else None
        if reason is None:
            live.append(c)
        else:
            run.unavailable[c.label] = reason
    per_sequence: list[dict[str, float | str] | None] = [None] * len(offsets)
    if workers <= 1:
        for i, start in enumerate(offsets):
            per_sequence[i] = evaluate_sequence(pool, start, live, released)
            advance()
    else:
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as ex:
            futures = {
                ex.submit(_evaluate_in_worker, str(path), negative_runtimes, start, live, released): i
                for i, start in enumerate(offsets)
            }
            for f in concurrent.futures.as_completed(futures):
                per_sequence[futures[f]] = f.result()
                advance()
    for values in per_sequence:
        assert values is not None
        for label, v in values.items():
            if isinstance(v, str):
                run.unavailable.setdefault(label, v.removeprefix("unavailable: "))
            else:
                run.results.setdefault(label, []).append(v)
    for label in run.unavailable:
        run.results.pop(label, None)
    return run
