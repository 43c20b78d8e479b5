"""The Lublin-Feitelson workload model: synthetic jobs for the twin when no trace is at hand.

U. Lublin and D. G. Feitelson, "The workload on parallel supercomputers: modeling the
characteristics of rigid jobs", J. Parallel and Distributed Computing 63(11),
pp. 1105-1122, 2003.

``generate`` draws jobs from the model as arrays: sizes, runtimes, submit times, and what
the model leaves out and a replay needs (time limits, users).  ``kairos.sim.workload.lublin``
turns them into a ``Workload``.  The model lives apart from the workloads so that its
published parameters and distributions read (and check against the paper) on their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


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


@dataclass(frozen=True)
class SyntheticJobs:
    """Jobs drawn from the model, in submit order: one array per attribute, all of one
    length."""

    submit: np.ndarray  #: seconds from midnight of the first day, whole
    procs: np.ndarray  #: processors
    runtime: np.ndarray  #: seconds, whole, at least 1
    time_limit: np.ndarray  #: seconds: a round limit at or above the runtime
    user: np.ndarray  #: user number, 1 .. ``users``
    group: np.ndarray  #: group number: users in eights
    queue: np.ndarray  #: the job's class as SWF field 15 (1 batch, 0 interactive, -1 none)

    def __len__(self) -> int:
        return len(self.submit)


def generate(
    n_jobs: int,
    procs: int,
    *,
    seed: int = 0,
    load: float | None = 0.8,
    users: int = 64,
    job_types: bool = False,
) -> SyntheticJobs:
    """``n_jobs`` jobs for a machine of ``procs`` processors, drawn from the model with
    its published default parameters:

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
    ``None`` keeps the model's own arrival rate.  Users: ``users`` users numbered 1, 2, ...
    with Zipf-like shares (user k submits in proportion to 1/k), in groups of 8 (groups
    numbered 1, 2, ...).  Deterministic for a given seed.
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
    return SyntheticJobs(submit=times, procs=sizes, runtime=runtimes, time_limit=limits,
                         user=user_ids, group=group_ids, queue=queues)
