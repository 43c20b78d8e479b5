"""The job sequences of RLScheduler's protocol: a trace's pool under the protocol's
filters, the offsets of the windows drawn from it, and each window as a ``Workload``.

The filters and conventions (processors, runtimes, requested times) are the protocol's,
not ``kairos.sim.workload.load_trace``'s: ``load_pool`` gives them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from kairos.core.jobs import Job, Request
from kairos.sim.swf import SwfError, read_swf
from kairos.sim.workload import Workload, trace_name

#: Jobs in one sequence.
SEQUENCE_LENGTH = 1024
#: Sequences are drawn from this many jobs at the start of a trace (after filtering).
POOL_SIZE = 10_000
#: No sequence starts before this job of the pool (the released evaluation code keeps a
#: sequence's worth of jobs ahead of every sequence).
FIRST_OFFSET = SEQUENCE_LENGTH
#: The runtime the released code gives a job whose runtime field is negative.
TEN_SECONDS = 10.0


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
