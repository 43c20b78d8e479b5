"""Kairos on RLScheduler's evaluation protocol (Zhang et al., SC 2020), beside its table.

    python benchmarks/rlscheduler_protocol.py                       # 200 sequences, seed 1
    python benchmarks/rlscheduler_protocol.py --sequences 200 --seed 1 --traces SDSC-SP2,HPC2N,lublin_256
    python benchmarks/rlscheduler_protocol.py --negative-runtimes ten --released-rules
    python benchmarks/rlscheduler_protocol.py --ablation --no-predictive
    python benchmarks/rlscheduler_protocol.py --workers 4 --json results.json

Each trace becomes a pool: its first 10,000 jobs once the protocol's filters have run.
From the pool, ``--sequences`` windows of 1,024 consecutive jobs start at random offsets
(``--seed``); each window is replayed alone from an empty machine, its submit times
shifted so that its first job arrives at 0, under EASY backfilling with each queue order
(FCFS, SJF, F1) and, when this Kairos has them, its prediction-driven configurations.
The metric is the average bounded slowdown (10 s bound) of a window, averaged over the
windows.  The table gives the published value, our mean with a bootstrap 95% confidence
interval, the mean of the first 10 windows alone (the paper's sample size, same seed) and
the range of that 10-window mean over disjoint groups of 10 windows, to show how noisy
10 windows are.  With ``--released-rules`` the same windows are also replayed by a small
stand-alone simulator that follows the rules of the authors' released simulator (see
``released_rules_bsld``), which shows how much of a difference comes from the scheduler
rather than from the sequences; ``--ablation`` adds those rules changed one at a time
towards Kairos's EASY.  ``docs/rlscheduler.md`` describes every convention.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import inspect
import json
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from rich.console import Console  # noqa: E402
from rich.progress import (  # noqa: E402
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table  # noqa: E402

from kairos.core.jobs import Job, Request  # noqa: E402
from kairos.sim.metrics import bounded_slowdown  # noqa: E402
from kairos.sim.replay import replay  # noqa: E402
from kairos.sim.swf import SwfError, read_swf  # noqa: E402
from kairos.sim.workload import Workload, find_trace, trace_name  # noqa: E402

#: Jobs in one sequence.
SEQUENCE_LENGTH = 1024
#: Sequences are drawn from this many jobs at the start of a trace (after filtering).
POOL_SIZE = 10_000
#: No sequence starts before this job of the pool (the released evaluation code keeps a
#: sequence's worth of jobs ahead of every sequence).
FIRST_OFFSET = SEQUENCE_LENGTH
#: The runtime the released code gives a job whose runtime field is negative.
TEN_SECONDS = 10.0
DEFAULT_TRACES = "SDSC-SP2,HPC2N,lublin_256"

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


# ---------------------------------------------------------------------------------------
# Sequences


@dataclass
class Pool:
    """The jobs sequences are drawn from: the first ``POOL_SIZE`` jobs of a trace that
    pass the protocol's filters, in submit order (one row per job, SWF columns)."""

    name: str  #: trace name, e.g. "SDSC-SP2-1998-4.2-cln"
    machine: int  #: processors
    rows: np.ndarray  #: (n, 18) SWF fields of the kept jobs
    runtime: np.ndarray  #: seconds (after the negative-runtime rule)
    procs: np.ndarray  #: max(field 5, field 8)
    request: np.ndarray  #: field 9 if > 0, else the runtime
    estimate: np.ndarray  #: max(request, runtime): time limit and planning time
    dropped: dict[str, int]  #: reason -> jobs left out before the pool was full
    header: dict[str, str] = field(default_factory=dict)
    header_lines: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def overruns(self) -> int:
        """Jobs of the pool that ran longer than they requested."""
        return int(np.count_nonzero(self.runtime > self.request))


def load_pool(path: str | os.PathLike, *, pool_size: int = POOL_SIZE, machine: int | None = None,
              negative_runtimes: str = "drop") -> Pool:
    """Read an SWF trace with the protocol's conventions and keep its first ``pool_size``
    jobs.

    * processors = max(field 5 allocated, field 8 requested);
    * runtime = field 4; a job with runtime 0 is left out; so is one with a negative
      runtime, unless ``negative_runtimes="ten"`` (the released code's rule: it runs 10 s);
    * a job with no processors, or more than the machine has, is left out;
    * requested time = field 9 if > 0, else the runtime; the estimate (time limit and
      planning time) is max(requested, runtime), so no job outlives its limit;
    * machine size = ``machine``, else the header's MaxProcs, else MaxNodes.

    Jobs left out are counted by reason (the first that applies, in the order above)
    among the trace's jobs up to the last one the pool holds.
    """
    if negative_runtimes not in ("drop", "ten"):
        raise ValueError(f"negative_runtimes must be 'drop' or 'ten', not {negative_runtimes!r}")
    trace = read_swf(path)
    if machine is None:
        machine = trace.header_int("MaxProcs", "MaxNodes")
        if machine is None:
            raise SwfError(f"{trace.path}: the header gives no machine size (MaxProcs or MaxNodes)")
    d = trace.data
    runtime = d[:, 3].copy()
    negative = runtime < 0
    if negative_runtimes == "ten":
        runtime[negative] = TEN_SECONDS
        negative = np.zeros(len(d), dtype=bool)
    procs = np.maximum(d[:, 4], d[:, 7])
    reasons = (
        ("zero runtime", runtime == 0),
        ("negative runtime", negative),
        ("no processors", procs <= 0),
        ("wider than machine", procs > machine),
    )
    out = np.zeros(len(d), dtype=bool)
    first_reason = []
    for name, mask in reasons:
        first_reason.append((name, mask & ~out))
        out |= mask
    kept = np.flatnonzero(~out)[:pool_size]
    scanned = int(kept[-1]) + 1 if len(kept) else len(d)
    dropped = {name: int(np.count_nonzero(m[:scanned])) for name, m in first_reason}
    dropped = {k: v for k, v in dropped.items() if v}
    rt = runtime[kept]
    request = np.where(d[kept, 8] > 0, d[kept, 8], rt)
    return Pool(
        name=trace_name(trace.path),
        machine=int(machine),
        rows=d[kept],
        runtime=rt,
        procs=np.ceil(procs[kept]).astype(np.int64),
        request=request,
        estimate=np.maximum(request, rt),
        dropped=dropped,
        header=trace.header,
        header_lines=trace.header_lines,
    )


def sample_offsets(pool_len: int, count: int, seed: int, *, length: int = SEQUENCE_LENGTH,
                   first: int = FIRST_OFFSET) -> list[int]:
    """``count`` sequence starts drawn uniformly (with replacement) from
    ``[first, pool_len - length]``: every sequence lies inside the pool."""
    last = pool_len - length
    if last < first:
        raise ValueError(
            f"a pool of {pool_len} jobs holds no sequence of {length} jobs starting at or after job {first}"
        )
    rng = np.random.default_rng(seed)
    return [int(x) for x in rng.integers(first, last + 1, size=count)]


def _label(v: float, unknown: str = "") -> str:
    if v == -1:
        return unknown
    return str(int(v)) if float(v).is_integer() else str(v)


def make_sequence(pool: Pool, start: int, *, length: int = SEQUENCE_LENGTH, shift: bool = True) -> Workload:
    """Jobs ``start`` .. ``start + length - 1`` of ``pool`` as a ``Workload`` of their own,
    submit times shifted so that the first arrives at 0 (unless ``shift`` is False)."""
    if start < 0 or start + length > len(pool):
        raise ValueError(f"jobs {start}..{start + length - 1} are not all in a pool of {len(pool)}")
    sl = slice(start, start + length)
    rows = pool.rows[sl]
    origin = float(rows[0, 1]) if shift else 0.0
    ids = rows[:, 0].astype(np.int64).tolist()
    submits = (rows[:, 1] - origin).tolist()
    estimates = pool.estimate[sl].tolist()
    widths = pool.procs[sl].tolist()
    users = [_label(u, "unknown") for u in rows[:, 11].tolist()]
    groups = [_label(g) for g in rows[:, 12].tolist()]
    jobs = [
        Job(i, u, s, Request.procs(w), e, e, "", g, g, "",
            meta={"app": int(a), "queue": int(q), "req_mem": int(m)})
        for i, u, s, w, e, g, a, q, m in zip(
            ids, users, submits, widths, estimates, groups,
            rows[:, 13].tolist(), rows[:, 14].tolist(), rows[:, 9].tolist(),
        )
    ]
    jobs.sort(key=lambda j: (j.submit, j.id))
    return Workload(
        name=f"{pool.name}[{start}:{start + length}]",
        procs=pool.machine,
        jobs=jobs,
        runtimes=dict(zip(ids, pool.runtime[sl].tolist())),
        header=pool.header,
        header_lines=pool.header_lines,
    )


# ---------------------------------------------------------------------------------------
# Replays


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


def _f1_released(request: float, procs: int, submit: float) -> float:
    # The released code's F1: a non-positive value counts as 0.1.
    r = request if request > 0 else 0.1
    s = submit if submit > 0 else 0.1
    return math.log10(r) * procs + 870.0 * math.log10(s)


def released_rules_bsld(pool: Pool, start: int, score: str, *, length: int = SEQUENCE_LENGTH,
                        easy_backfill: bool = False, keep_head: bool = True) -> float:
    """Average bounded slowdown of one sequence under the rules of the authors' released
    simulator, re-implemented here as a reference (it is not Kairos's scheduler).

    * The queue is sorted by ``score`` ("fcfs": submit time; "sjf": requested time, then
      submit time; "f1": F1 on the trace's own clock, with the requested time as given,
      even when shorter than the runtime); the first job is chosen and kept until it
      starts, even if a better job arrives meanwhile.
    * While it does not fit: its shadow time is the requested end (start + requested
      time) of the running job, in order of requested ends, at which enough processors
      would be free, computed once for the chosen job; the queue is walked in submit
      order and every job that fits now and whose requested time ends strictly before
      the shadow time starts (no "extra processors" rule); then the clock moves to the
      next arrival or real end, one event at a time.
    * Requested time = field 9 when > 0, else the runtime (never raised to the runtime).

    Two switches measure what the rules cost, one step closer to Kairos's EASY each:
    ``easy_backfill`` recomputes the shadow time at every event (an overdue job is
    expected to end now) and also starts a job that ends after it on processors the
    chosen job will not need (EASY's "extra" processors); ``keep_head=False`` re-sorts the
    queue and chooses the first job again at every event.
    """
    sl = slice(start, start + length)
    sub = pool.rows[sl, 1].tolist()
    run = pool.runtime[sl].tolist()
    req = np.where(pool.rows[sl, 8] > 0, pool.rows[sl, 8], pool.runtime[sl]).tolist()
    width = pool.procs[sl].tolist()
    keys: dict[str, Callable[[int], object]] = {
        "fcfs": lambda i: sub[i],
        "sjf": lambda i: (req[i], sub[i]),
        "f1": lambda i: _f1_released(req[i], width[i], sub[i]),
    }
    key = keys[score]
    n = len(sub)
    began: list[float] = [math.nan] * n
    queue = [0]
    running: list[int] = []
    now, nxt, free = sub[0], 1, pool.machine

    def launch(i: int) -> None:
        nonlocal free
        began[i] = now
        free -= width[i]
        running.append(i)
        queue.remove(i)

    def advance() -> None:
        """Move to the next arrival or real end, whichever comes first."""
        nonlocal now, nxt, free
        first = min(running, key=lambda i: began[i] + run[i]) if running else None
        end = began[first] + run[first] if first is not None else math.inf
        if nxt < n and sub[nxt] <= end:
            now = max(now, sub[nxt])
            queue.append(nxt)
            nxt += 1
        else:
            now = max(now, end)
            free += width[first]
            running.remove(first)

    def shadow_of(head: int) -> tuple[float, int]:
        """(shadow time, processors the head leaves spare then)."""
        def expected_end(i: int) -> float:
            end = began[i] + req[i]
            return max(end, now) if easy_backfill else end
        avail, shadow = free, now
        for i in sorted(running, key=expected_end):
            avail += width[i]
            shadow = expected_end(i)
            if avail >= width[head]:
                break
        return shadow, avail - width[head]

    while True:
        queue.sort(key=key)
        head = queue[0]
        if width[head] > free:
            shadow, extra = shadow_of(head)
            while width[head] > free:
                if easy_backfill:
                    shadow, extra = shadow_of(head)
                queue.sort(key=lambda i: sub[i])
                for j in queue[:]:
                    if j == head or width[j] > free:
                        continue
                    if now + req[j] < shadow:
                        launch(j)
                    elif easy_backfill and width[j] <= extra:
                        extra -= width[j]
                        launch(j)
                advance()
                if not keep_head:
                    queue.sort(key=key)
                    head = queue[0]
        launch(head)
        if queue:
            continue
        if nxt >= n:
            break
        while not queue:
            advance()
    wait = np.array(began) - np.array(sub)
    return float(bounded_slowdown(wait, np.array(run)).mean())


#: Variants of the released rules: name -> ``released_rules_bsld`` switches.  The first is
#: the released simulator itself; each next one moves one step towards Kairos's EASY.
RELEASED_VARIANTS: dict[str, dict] = {
    "released": {},
    "+EASY backfill": {"easy_backfill": True},
    "+re-chosen head": {"easy_backfill": True, "keep_head": False},
}


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


# ---------------------------------------------------------------------------------------
# Statistics


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


# ---------------------------------------------------------------------------------------
# Output


def _fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:,.1f}"


def build_table(runs: list[TraceRun], configs: list[Config], *, sequences: int, seed: int,
                negative_runtimes: str, released: bool = False) -> Table:
    rule = "dropped" if negative_runtimes == "drop" else "run 10 s"
    table = Table(
        title=(f"Average bounded slowdown, EASY backfilling with requested times; "
               f"{sequences} sequences of {SEQUENCE_LENGTH} jobs (seed {seed}); negative runtimes {rule}"),
    )
    columns = [("trace", "left"), ("order", "left"), ("published", "right"),
               ("Kairos mean", "right"), ("95% CI (bootstrap)", "right"),
               (f"10 seq. (seed {seed})", "right"), ("10 seq., range over groups", "right")]
    if released:
        columns += [("released rules", "right"), ("95% CI", "right")]
    for col, just in columns:
        table.add_column(col, justify=just)
    blank = [""] * (len(columns) - 4)
    for r in runs:
        label, published = PUBLISHED[r.key]
        for i, c in enumerate(configs):
            pub = published.get(c.published_as) if c.published_as else None
            name = label if i == 0 else ""
            if c.label in r.unavailable:
                table.add_row(name, c.label, _fmt(pub), "n/a: " + r.unavailable[c.label][:60], *blank)
                continue
            v = np.asarray(r.results[c.label])
            lo, hi = bootstrap_ci(v)
            g_lo, g_hi, k = groups_of_ten(v)
            row = [
                name, c.label, _fmt(pub), _fmt(float(v.mean())), f"{_fmt(lo)} - {_fmt(hi)}",
                _fmt(float(v[:10].mean())) if len(v) >= 10 else "-",
                f"{_fmt(g_lo)} - {_fmt(g_hi)} ({k})" if k > 1 else "-",
            ]
            if released:
                rv = r.results.get(f"released:{c.released}") if c.released else None
                if rv:
                    rv = np.asarray(rv)
                    rlo, rhi = bootstrap_ci(rv)
                    row += [_fmt(float(rv.mean())), f"{_fmt(rlo)} - {_fmt(rhi)}"]
                else:
                    row += ["", ""]
            table.add_row(*row)
        if "RL" in published:
            table.add_row("", "RL (RLScheduler)", _fmt(published["RL"]), "-", *blank)
        table.add_section()
    return table


def build_ablation(runs: list[TraceRun], configs: list[Config]) -> Table:
    table = Table(title=("From the released rules to Kairos's EASY, one rule at a time "
                         "(mean average bounded slowdown, same sequences)"))
    for col in ("trace", "order", "published", *RELEASED_VARIANTS, "Kairos"):
        table.add_column(col, justify="left" if col in ("trace", "order") else "right")
    for r in runs:
        label, published = PUBLISHED[r.key]
        first = True
        for c in configs:
            if not c.released or c.label not in r.results:
                continue
            cells = [_fmt(float(np.mean(r.results[f"{v}:{c.released}"])))
                     if f"{v}:{c.released}" in r.results else "-" for v in RELEASED_VARIANTS]
            table.add_row(label if first else "", c.label, _fmt(published.get(c.published_as)),
                          *cells, _fmt(float(np.mean(r.results[c.label]))))
            first = False
        table.add_section()
    return table


def describe_pools(runs: list[TraceRun]) -> Table:
    table = Table(title="Pools (first jobs of each trace after the protocol's filters)")
    for col in ("trace", "machine", "pool jobs", "left out before the pool was full",
                "ran past their request", "offsets"):
        table.add_column(col, justify="left" if col in ("trace", "left out before the pool was full") else "right")
    for r in runs:
        p = r.pool
        dropped = ", ".join(f"{k}: {v:,}" for k, v in p.dropped.items()) or "none"
        table.add_row(p.name, f"{p.machine:,}", f"{len(p):,}", dropped, f"{p.overruns:,}",
                      f"{min(r.offsets):,} - {max(r.offsets):,}")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=200, help="sequences per trace (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sequence offsets (default 1)")
    parser.add_argument("--traces", default=DEFAULT_TRACES,
                        help=f"comma-separated: {', '.join(PUBLISHED)} (default: all)")
    parser.add_argument("--folder", default=os.environ.get("KAIROS_TRACES", str(REPO.parent / "shared" / "traces")),
                        help="folder of SWF traces (default: $KAIROS_TRACES, else ../shared/traces)")
    parser.add_argument("--negative-runtimes", choices=("drop", "ten"), default="drop",
                        help="drop jobs with a negative runtime (default), or run them for 10 s as the released code does")
    parser.add_argument("--released-rules", action="store_true",
                        help="also replay every sequence under the released simulator's rules (FCFS, SJF, F1)")
    parser.add_argument("--ablation", action="store_true",
                        help="also replay under the released rules changed one rule at a time towards Kairos's EASY")
    parser.add_argument("--no-predictive", action="store_true", help="skip Kairos's prediction-driven configurations")
    parser.add_argument("--workers", type=int, default=1, help="processes replaying sequences in parallel (default 1)")
    parser.add_argument("--json", type=Path, help="also write every per-sequence value to this file")
    args = parser.parse_args(argv)
    if args.sequences < 1:
        parser.error("--sequences must be at least 1")

    wanted = [t.strip() for t in args.traces.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in PUBLISHED]
    if unknown:
        parser.error(f"unknown trace(s) {', '.join(unknown)}; choose from {', '.join(PUBLISHED)}")
    paths = {}
    for key in wanted:
        path = find_trace(key, args.folder)
        if path is None:
            parser.error(f"no trace {key!r} in {args.folder}")
        paths[key] = path

    configs = list(BASELINES) + ([] if args.no_predictive else list(PREDICTIVE))
    released: tuple[str, ...] = ()
    if args.ablation:
        released = tuple(RELEASED_VARIANTS)
    elif args.released_rules:
        released = ("released",)
    console = Console(width=max(Console().width, 160))
    runs: list[TraceRun] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        for key, path in paths.items():
            task = progress.add_task(f"{PUBLISHED[key][0]}: replaying sequences", total=args.sequences)
            runs.append(run_trace(key, path, configs, sequences=args.sequences, seed=args.seed,
                                  negative_runtimes=args.negative_runtimes, released=released,
                                  workers=args.workers, advance=lambda t=task: progress.advance(t)))
    console.print(describe_pools(runs))
    console.print(build_table(runs, configs, sequences=args.sequences, seed=args.seed,
                              negative_runtimes=args.negative_runtimes, released=bool(released)))
    if args.ablation:
        console.print(build_ablation(runs, configs))
    if args.json:
        out = {
            "sequences": args.sequences, "seed": args.seed, "length": SEQUENCE_LENGTH,
            "pool_size": POOL_SIZE, "negative_runtimes": args.negative_runtimes,
            "released_variants": list(released),
            "traces": {
                r.key: {
                    "trace": r.pool.name, "machine": r.pool.machine, "dropped": r.pool.dropped,
                    "overruns": r.pool.overruns, "offsets": r.offsets,
                    "published": PUBLISHED[r.key][1], "avg_bsld": r.results,
                    "unavailable": r.unavailable,
                }
                for r in runs
            },
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))
        console.print(f"per-sequence values written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
