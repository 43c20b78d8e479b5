"""Workloads for the digital twin: real traces (SWF) and the Lublin-Feitelson model.

A ``Workload`` is what a replay needs: the jobs as the scheduler sees them at submission
(sorted by submit time), the true runtime of each (which only the simulator knows), the
machine size, and enough of the source to write a simulated schedule back as SWF.

``load_trace`` turns an SWF file into a ``Workload`` with the conventions of the
literature (see its docstring); ``lublin`` generates a synthetic one; ``default_workload``
picks one when the user named none.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kairos.core.jobs import Job, Request
from kairos.sim.swf import SwfError, SwfRecords, read_swf

__all__ = [
    "DEFAULT_LUBLIN_JOBS", "DEFAULT_LUBLIN_PROCS", "TRACES_ENV", "Workload", "default_workload",
    "find_trace", "find_traces", "load_trace", "lublin", "trace_name",
]

#: Environment variable naming a folder of SWF traces.
TRACES_ENV = "KAIROS_TRACES"
#: The synthetic workload used when no trace is at hand.
DEFAULT_LUBLIN_JOBS = 10_000
DEFAULT_LUBLIN_PROCS = 256
#: The trace ``default_workload`` prefers when several are available.
PREFERRED_TRACE = "KTH-SP2"

_request = functools.lru_cache(maxsize=None)(Request.procs)


@contextlib.contextmanager
def _bulk():
    """Pause the cyclic garbage collector while building many acyclic objects: its
    repeated passes over a growing heap otherwise more than double the cost."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class Workload:
    """Jobs to replay on a machine of ``procs`` processors."""

    name: str  #: e.g. "KTH-SP2-1996-2.1-cln" or "lublin-10000-256"
    procs: int  #: machine size (processors)
    jobs: list[Job]  #: sorted by (submit, id); job ids unique
    runtimes: dict[int, float]  #: job id -> true runtime in seconds
    skipped: dict[str, int] = field(default_factory=dict)  #: reason -> jobs left out
    header: dict[str, str] = field(default_factory=dict)  #: SWF header (empty if generated)
    header_lines: list[str] = field(default_factory=list)  #: raw header lines
    #: job id -> original SWF record (read-only mapping); None for generated workloads
    records: Mapping[int, tuple] | None = None

    def __len__(self) -> int:
        return len(self.jobs)

    @property
    def work(self) -> float:
        """Total processor-seconds of all jobs (true runtimes)."""
        rt = self.runtimes
        return float(sum(rt[j.id] * j.request.cpus for j in self.jobs))

    def offered_load(self) -> float:
        """Work / (machine size x submit span): the load the jobs offer the machine.

        The span is from the first to the last submission; 0.0 with fewer than two jobs
        or a zero span.
        """
        if len(self.jobs) < 2:
            return 0.0
        span = self.jobs[-1].submit - self.jobs[0].submit
        if span <= 0:
            return 0.0
        return self.work / (self.procs * span)

    def swf_record(self, job: Job) -> tuple:
        """The job's SWF record: the original one when the workload came from a file,
        else one made from the job (wait unknown, status completed)."""
        if self.records is not None and job.id in self.records:
            return self.records[job.id]
        runtime = self.runtimes.get(job.id, -1)
        n = job.request.cpus
        meta = job.meta
        limit = job.time_limit if math.isfinite(job.time_limit) else -1
        return (
            job.id, _num(job.submit), -1, _num(runtime), n, -1, -1, n, _num(limit),
            meta.get("req_mem", -1), 1, _int_or(job.user, -1), _int_or(job.group, -1),
            meta.get("app", -1), meta.get("queue", -1), _int_or(job.partition, -1), -1, -1,
        )


def _num(v: float) -> float | int:
    v = float(v)
    return int(v) if v.is_integer() else v


def _int_or(s: str, default: int) -> int:
    try:
        return int(s)
    except (TypeError, ValueError):
        return default


def trace_name(path: str | os.PathLike) -> str:
    """``KTH-SP2-1996-2.1-cln`` for ``.../KTH-SP2-1996-2.1-cln.swf.gz``."""
    name = Path(path).name
    for suffix in (".gz", ".swf"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name


# ---------------------------------------------------------------------------------------
# Traces


def _column(values: np.ndarray) -> list:
    """Python ints when every value is integral, else floats."""
    if np.array_equal(values, np.floor(values)):
        return values.astype(np.int64).tolist()
    return [int(v) if v.is_integer() else v for v in values.tolist()]


def load_trace(
    path: str | os.PathLike, *, procs: int | None = None, limit: int | None = None
) -> Workload:
    """Load an SWF trace as a ``Workload``, with the conventions of the literature.

    * processors = field 8 (requested) if > 0, else field 5 (allocated);
    * runtime = field 4;
    * estimate = max(field 9, runtime) if field 9 (requested time) > 0, else runtime; it
      is both the job's ``time_limit`` and its ``estimate``;
    * machine size = ``procs``, else the header's ``MaxProcs``, else ``MaxNodes``;
    * jobs left out, each counted under the first reason that applies: "no processors"
      (<= 0), "wider than machine" (more processors than the machine), "negative
      runtime" (runtime < 0);
    * user = field 12 ("unknown" for -1), group = account = field 13, partition = field
      16 ("" for -1), ``meta`` = {"app": field 14, "queue": field 15, "req_mem": field 10}.

    ``limit`` is the number of job lines read from the start of the file (before any job
    is left out).  Raises ``SwfError`` for a malformed file or an unknown machine size.
    """
    trace = read_swf(path, limit=limit)
    if procs is not None:
        if int(procs) != procs or procs <= 0:
            raise ValueError(f"procs must be a positive integer, not {procs!r}")
        machine = int(procs)
    else:
        found = trace.header_int("MaxProcs", "MaxNodes")
        if found is None:
            raise SwfError(
                f"{trace.path}: the header gives no machine size (no positive MaxProcs or "
                f"MaxNodes); pass the number of processors with --procs N"
            )
        machine = found

    d = trace.data
    runtime = d[:, 3]
    width = np.where(d[:, 7] > 0, d[:, 7], d[:, 4])
    no_procs = width <= 0
    too_wide = ~no_procs & (width > machine)
    negative = ~no_procs & ~too_wide & (runtime < 0)
    keep = ~(no_procs | too_wide | negative)
    skipped = {
        reason: int(count)
        for reason, count in (
            ("no processors", np.count_nonzero(no_procs)),
            ("wider than machine", np.count_nonzero(too_wide)),
            ("negative runtime", np.count_nonzero(negative)),
        )
        if count
    }

    k = d[keep]
    if len(k):
        k = k[np.lexsort((k[:, 0], k[:, 1]))]  # by (submit, id)
    rt = k[:, 3]
    est = np.where(k[:, 8] > 0, np.maximum(k[:, 8], rt), rt)
    ids = k[:, 0].astype(np.int64).tolist()
    submits = k[:, 1].tolist()
    runtimes = rt.tolist()
    estimates = est.tolist()
    widths = np.ceil(np.where(k[:, 7] > 0, k[:, 7], k[:, 4])).astype(np.int64).tolist()
    users = _column(k[:, 11])
    groups = _column(k[:, 12])
    partitions = _column(k[:, 15])
    apps = _column(k[:, 13])
    queues = _column(k[:, 14])
    mems = _column(k[:, 9])

    user_s = {u: ("unknown" if u == -1 else str(u)) for u in set(users)}
    group_s = {g: str(g) for g in set(groups)}
    part_s = {p: ("" if p == -1 else str(p)) for p in set(partitions)}
    req = _request
    with _bulk():
        jobs = [
            # Positional up to ``partition`` (id, user, submit, request, time_limit,
            # estimate, name, group, account, partition): measurably faster for big traces.
            Job(
                i, user_s[u], s, req(w), e, e, "", group_s[g], group_s[g], part_s[p],
                meta={"app": a, "queue": q, "req_mem": m},
            )
            for i, s, e, w, u, g, p, a, q, m in zip(
                ids, submits, estimates, widths, users, groups, partitions, apps, queues, mems
            )
        ]
    return Workload(
        name=trace_name(trace.path),
        procs=machine,
        jobs=jobs,
        runtimes=dict(zip(ids, runtimes)),
        skipped=skipped,
        header=trace.header,
        header_lines=trace.header_lines,
        records=SwfRecords(trace.data),
    )


def find_traces(folder: str | os.PathLike | None = None) -> list[Path]:
    """SWF files (``*.swf``, ``*.swf.gz``) in ``folder``, else in ``$KAIROS_TRACES``.

    Sorted by name; empty when there is no such folder or it holds none.
    """
    if folder is None:
        folder = os.environ.get(TRACES_ENV) or None
        if folder is None:
            return []
    p = Path(folder).expanduser()
    if not p.is_dir():
        return []
    found = [f for f in p.iterdir() if f.is_file() and f.name.lower().endswith((".swf", ".swf.gz"))]
    return sorted(found, key=lambda f: f.name)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def find_trace(name: str, folder: str | os.PathLike | None = None) -> Path | None:
    """The trace in ``folder`` (else ``$KAIROS_TRACES``) that ``name`` designates.

    ``name`` matches a file's full stem (``KTH-SP2-1996-2.1-cln``) or its beginning
    (``kth-sp2``), case-insensitively; the first match in name order wins.
    """
    key = _norm(trace_name(name))
    if not key:
        return None
    traces = find_traces(folder)
    for t in traces:
        if _norm(trace_name(t)) == key:
            return t
    for t in traces:
        if _norm(trace_name(t)).startswith(key + "-"):
            return t
    return None


def default_workload(
    trace: str | os.PathLike | None = None,
    *,
    procs: int | None = None,
    limit: int | None = None,
) -> Workload:
    """The workload to use when the user may not have named one.

    * ``trace`` given: load it (a path, or a name found in ``$KAIROS_TRACES`` such as
      ``kth-sp2``);
    * else, when ``$KAIROS_TRACES`` names a folder holding traces: load the preferred one
      (KTH-SP2 if present, else the first in name order);
    * else a Lublin-Feitelson workload of 10,000 jobs on 256 processors, seed 0 (``procs``
      replaces the 256, ``limit`` caps the number of jobs).

    ``Workload.name`` says which was chosen.
    """
    if trace is not None:
        path = Path(trace).expanduser()
        if not path.exists():
            found = find_trace(str(trace))
            if found is None:
                raise SwfError(
                    f"{trace}: no such file"
                    + (f", and no trace of that name in ${TRACES_ENV}" if os.environ.get(TRACES_ENV) else "")
                )
            path = found
        return load_trace(path, procs=procs, limit=limit)
    traces = find_traces()
    if traces:
        preferred = [t for t in traces if t.name.upper().startswith(PREFERRED_TRACE)]
        return load_trace((preferred or traces)[0], procs=procs, limit=limit)
    n = DEFAULT_LUBLIN_JOBS if limit is None else max(0, min(DEFAULT_LUBLIN_JOBS, limit))
    return lublin(n, procs or DEFAULT_LUBLIN_PROCS, seed=0)


# ---------------------------------------------------------------------------------------
# The Lublin-Feitelson model


@dataclass(frozen=True)
class _LublinParams:
    """One job class of the model (published defaults, for a machine of 2**7 nodes)."""

    serial: float  #: probability of a serial job
    pow2: float  #: probability of a power-of-two parallel job (of all jobs)
    ulow: float  #: two-stage uniform on log2(size): low, med, high (high = log2 machine)
    umed: float
    uhi: float
    uprob: float  #: probability of the [low, med] stage
    a1: float  #: hyper-gamma on ln(runtime): gamma(a1, scale b1) with probability p ...
    b1: float
    a2: float  #: ... else gamma(a2, scale b2)
    b2: float
    pa: float  #: p = pa * size + pb, clipped to [0, 1]
    pb: float
    aarr: float  #: gamma(aarr * arar, scale barr) on ln(inter-arrival) at the peak hour
    barr: float
    anum: float  #: gamma(anum, scale bnum) over the day's half-hours: the daily cycle
    bnum: float
    arar: float
    queue: int  #: SWF field 15 for this class (-1: no class)


_REF_LOG2 = 7.0  # the published parameters are for a 128-node machine
_REF_NODES = 2 ** 7
# "Whole sample" parameters: one class of jobs.
_ALL = _LublinParams(
    serial=0.244, pow2=0.576, ulow=0.8, umed=4.5, uhi=7.0, uprob=0.86,
    a1=4.2, b1=0.94, a2=312.0, b2=0.03, pa=-0.0054, pb=0.78,
    aarr=10.2303, barr=0.4871, anum=8.1737, bnum=3.9631, arar=1.0225, queue=-1,
)
_BATCH = _LublinParams(
    serial=0.2927, pow2=0.6686, ulow=1.2, umed=5.0, uhi=7.0, uprob=0.875,
    a1=6.57, b1=0.823, a2=639.1, b2=0.0156, pa=-0.003, pb=0.6986,
    aarr=6.0415, barr=0.8531, anum=6.1271, bnum=5.2740, arar=1.0519, queue=1,
)
_INTERACTIVE = _LublinParams(
    serial=0.1541, pow2=0.625, ulow=1.0, umed=3.0, uhi=5.5, uprob=0.705,
    a1=3.8351, b1=0.6605, a2=7.073, b2=0.6856, pa=-0.0118, pb=0.9156,
    aarr=6.5510, barr=0.6621, anum=8.9186, bnum=3.6680, arar=0.9797, queue=0,
)

_MAX_LOG_RUNTIME = 12.0  # runtimes above e**12 s (~45 h) are drawn again
_MAX_LOG_INTERARRIVAL = 13.0  # inter-arrival times above e**13 s (~5 days) likewise
_BUCKETS = 48  # half hours in a day
_BUCKET_S = 86_400 / _BUCKETS
_DAY_SHIFT = 11  # the daily-cycle gamma is fitted on half-hours 11..58 (wrapping)
#: Round time limits users pick (seconds); beyond the last, whole days.
_LIMIT_MENU = np.array(
    [m * 60 for m in (5, 10, 15, 20, 30, 45)]
    + [h * 3600 for h in (1, 1.5, 2, 3, 4, 6, 8, 12, 18, 24, 36, 48, 72)],
    dtype=np.float64,
)


def _gamma_pdf(x: np.ndarray, shape: float, scale: float) -> np.ndarray:
    x = np.maximum(x, 1e-300)
    return np.exp((shape - 1) * np.log(x) - x / scale - math.lgamma(shape) - shape * math.log(scale))


def _daily_weights(anum: float, bnum: float) -> np.ndarray:
    """Relative arrival intensity of each half-hour of the day (mean 1), starting at 0:00.

    Half-hour ``i`` of the fitted range gets the mass of gamma(anum, bnum) on
    [i - 0.5, i + 0.5] (Simpson's rule); the range 11..58 wraps onto the day.
    """
    w = np.empty(_BUCKETS)
    sub = 64  # Simpson intervals per half-hour
    for i in range(_DAY_SHIFT, _BUCKETS + _DAY_SHIFT):
        x = np.linspace(i - 0.5, i + 0.5, sub + 1)
        y = _gamma_pdf(x, anum, bnum)
        mass = (y[0] + y[-1] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum()) / (3 * sub)
        w[(i - 1) % _BUCKETS] = mass
    return w / w.mean()


def _truncated_gamma(rng: np.random.Generator, shape: float, scale: float, n: int, cap: float,
                     mix: tuple[float, float, np.ndarray] | None = None) -> np.ndarray:
    """``n`` draws from gamma(shape, scale), or from the hyper-gamma ``mix`` = (shape2,
    scale2, probability of the first gamma per draw), redrawing values above ``cap``."""
    out = np.empty(n)
    todo = np.arange(n)
    while len(todo):
        if mix is None:
            v = rng.gamma(shape, scale, len(todo))
        else:
            a2, b2, p = mix
            first = rng.random(len(todo)) < p[todo]
            v = np.where(first, rng.gamma(shape, scale, len(todo)), rng.gamma(a2, b2, len(todo)))
        out[todo] = v
        todo = todo[v > cap]
    return out


def _sizes(rng: np.random.Generator, c: _LublinParams, n: int, procs: int) -> np.ndarray:
    """Job sizes: serial, else 2**x for x two-stage uniform, rounded to a power of two for
    the power-of-two share.  The log2 bounds move with the machine size."""
    shift = math.log2(procs) - _REF_LOG2
    uhi = max(c.ulow, c.uhi + shift)
    umed = min(max(c.ulow, c.umed + shift), uhi)
    u = rng.random(n)
    low_stage = rng.random(n) <= c.uprob
    x = rng.random(n)
    par = np.where(low_stage, c.ulow + x * (umed - c.ulow), umed + x * (uhi - umed))
    par = np.where(u <= c.serial + c.pow2, np.floor(par + 0.5), par)
    size = np.floor(np.exp2(par) + 0.5)
    size = np.where(u <= c.serial, 1.0, size)
    return np.clip(size, 1, procs).astype(np.int64)


def _runtimes(rng: np.random.Generator, c: _LublinParams, sizes: np.ndarray, procs: int) -> np.ndarray:
    ref_size = sizes * (_REF_NODES / procs)
    p = np.clip(c.pa * ref_size + c.pb, 0.0, 1.0)
    log_rt = _truncated_gamma(rng, c.a1, c.b1, len(sizes), _MAX_LOG_RUNTIME, mix=(c.a2, c.b2, p))
    return np.maximum(np.floor(np.exp(log_rt)), 1.0)


class _Arrivals:
    """Arrival times of one job class: peak-hour inter-arrival "points" spent through
    the day's half-hours, each costing its daily-cycle weight."""

    def __init__(self, rng: np.random.Generator, c: _LublinParams, n: int) -> None:
        gaps = np.exp(_truncated_gamma(rng, c.aarr * c.arar, c.barr, n, _MAX_LOG_INTERARRIVAL))
        self.points = np.cumsum(gaps / _BUCKET_S)
        self.weights = _daily_weights(c.anum, c.bnum)
        self.cum = np.concatenate(([0.0], np.cumsum(self.weights)))

    def times(self, scale: float) -> np.ndarray:
        """Arrival times (s) with the inter-arrival points multiplied by ``scale``."""
        pts = self.points * scale
        per_day = self.cum[-1]
        days = np.floor(pts / per_day)
        rest = pts - days * per_day
        b = np.clip(np.searchsorted(self.cum, rest, side="right") - 1, 0, _BUCKETS - 1)
        frac = np.clip((rest - self.cum[b]) / self.weights[b], 0.0, 1.0)
        return (days * _BUCKETS + b + frac) * _BUCKET_S


def _time_limits(rng: np.random.Generator, runtimes: np.ndarray) -> np.ndarray:
    factor = 10.0 ** rng.random(len(runtimes))  # log-uniform on [1, 10]
    want = runtimes * factor
    idx = np.searchsorted(_LIMIT_MENU, want, side="left")
    day = 86_400.0
    beyond = np.ceil(want / day) * day
    menu = _LIMIT_MENU[np.minimum(idx, len(_LIMIT_MENU) - 1)]
    return np.where(idx < len(_LIMIT_MENU), menu, beyond)


def lublin(
    n_jobs: int,
    procs: int,
    *,
    seed: int = 0,
    load: float | None = 0.8,
    users: int = 64,
    job_types: bool = False,
) -> Workload:
    """A synthetic workload after the Lublin-Feitelson model.

    U. Lublin and D. G. Feitelson, "The workload on parallel supercomputers: modeling the
    characteristics of rigid jobs", J. Parallel and Distributed Computing 63(11),
    pp. 1105-1122, 2003.

    The model, with its published default parameters:

    * size: serial with probability 0.244; otherwise 2**x with x from a two-stage uniform
      (on [0.8, 4.5] with probability 0.86, else on [4.5, log2 machine]), rounded to an
      integral x (a power of two) for a share 0.576 of all jobs.  The published bounds are
      for 128 processors; here they move with log2(procs) (the upper stage always ends at
      the machine size);
    * runtime: ln(runtime) is hyper-gamma, gamma(4.2, 0.94) with probability
      p = -0.0054 * size + 0.78 (clipped to [0, 1]) else gamma(312, 0.03), redrawn above
      e**12 s; ``size`` here is the job's size scaled to the model's 128-processor
      machine (size * 128 / procs), so the size-runtime relation keeps its shape on any
      machine.  Runtimes are whole seconds, at least 1;
    * arrivals: ln(inter-arrival) at the peak hour is gamma(10.2303 * 1.0225, 0.4871),
      redrawn above e**13 s, and spent through the day's half-hours whose weights follow
      gamma(8.1737, 3.9631) (the daily cycle); the first day starts at midnight.  Submit
      times are whole seconds.

    With ``job_types=True`` the model's two classes are used instead, each with its own
    published parameters and arrival stream: batch (SWF queue 1) and interactive (queue 0).

    The model has no user estimates.  Each job's ``time_limit`` (= ``estimate``) is its
    runtime times a factor drawn log-uniformly from [1, 10], rounded up to the next
    "round" limit users pick: 5, 10, 15, 20, 30, 45 minutes, 1, 1.5, 2, 3, 4, 6, 8, 12,
    18, 24, 36, 48, 72 hours, then whole days.

    ``load``: the inter-arrival times are scaled (keeping the daily cycle) so that the
    offered load, total processor-seconds / (``procs`` x submit span), is ``load``;
    ``None`` keeps the model's own arrival rate.  Users: ``users`` users ("1", "2", ...)
    with Zipf-like shares (user k submits in proportion to 1/k), in groups of 8 (group =
    account = "1", "2", ...).  Job ids are 1..n in submit order.  Deterministic for a
    given seed.
    """
    n = int(n_jobs)
    procs = int(procs)
    if n < 0:
        raise ValueError(f"n_jobs must be >= 0, not {n_jobs}")
    if procs < 1:
        raise ValueError(f"procs must be >= 1, not {procs}")
    if load is not None and not load > 0:
        raise ValueError(f"load must be > 0, not {load}")
    if users < 1:
        raise ValueError(f"users must be >= 1, not {users}")
    rng = np.random.default_rng(seed)
    classes = (_BATCH, _INTERACTIVE) if job_types else (_ALL,)

    # Draw n candidates per class; the n earliest arrivals over all classes are kept.
    parts = []
    for c in classes:
        sizes = _sizes(rng, c, n, procs)
        runtimes = _runtimes(rng, c, sizes, procs)
        parts.append((c, sizes, runtimes, _Arrivals(rng, c, n)))

    def assemble(scale: float):
        times = np.concatenate([a.times(scale) for _, _, _, a in parts])
        times = np.floor(times)
        order = np.argsort(times, kind="stable")[:n]
        return times[order], order

    sizes_all = np.concatenate([s for _, s, _, _ in parts])
    rt_all = np.concatenate([r for _, _, r, _ in parts])
    queue_all = np.concatenate([np.full(n, c.queue, dtype=np.int64) for c, _, _, _ in parts])

    scale = 1.0
    times, order = assemble(scale)
    if load is not None and n >= 2:
        for _ in range(6):
            span = times[-1] - times[0]
            work = float(np.sum(sizes_all[order] * rt_all[order]))
            if span <= 0:
                break
            offered = work / (procs * span)
            if abs(offered / load - 1) < 1e-3:
                break
            scale *= offered / load
            times, order = assemble(scale)

    sizes = sizes_all[order]
    runtimes = rt_all[order]
    queues = queue_all[order]
    limits = _time_limits(rng, runtimes)
    shares = 1.0 / np.arange(1, users + 1)
    user_ids = rng.choice(users, size=n, p=shares / shares.sum()) + 1
    group_ids = (user_ids - 1) // 8 + 1
    names = {u: str(u) for u in range(1, users + 1)}
    groups = {g: str(g) for g in range(1, (users - 1) // 8 + 2)}

    ids = list(range(1, n + 1))
    req = _request
    with _bulk():
        jobs = [
            Job(
                i, names[u], s, req(w), e, e, "", groups[g], groups[g], "",
                meta={"app": -1, "queue": q, "req_mem": -1},
            )
            for i, s, w, e, u, g, q in zip(
                ids, times.tolist(), sizes.tolist(), limits.tolist(), user_ids.tolist(),
                group_ids.tolist(), queues.tolist(),
            )
        ]
    return Workload(
        name=f"lublin-{n}-{procs}",
        procs=procs,
        jobs=jobs,
        runtimes=dict(zip(ids, runtimes.tolist())),
    )
