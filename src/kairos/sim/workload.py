"""Workloads for the digital twin: real traces (SWF) and synthetic Lublin-Feitelson ones.

A ``Workload`` is what a replay needs: the jobs as the scheduler sees them at submission
(sorted by submit time), the true runtime of each (which only the simulator knows), the
machine size, and enough of the source to write a simulated schedule back as SWF.

``load_trace`` turns an SWF file into a ``Workload`` with the conventions of the
literature (see its docstring); ``lublin`` makes a synthetic one from the jobs the model
in ``kairos.sim.lublin`` draws; ``default_workload`` picks one when the user named none,
and ``describe_workload`` says which it picked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kairos.core.cluster import Cluster, Node
from kairos.core.jobs import Job, Request
from kairos.sim.lublin import generate
from kairos.sim.swf import SwfError, SwfRecords, read_swf

__all__ = [
    "DEFAULT_LUBLIN_JOBS", "DEFAULT_LUBLIN_PROCS", "TRACES_ENV", "Workload", "default_workload",
    "describe_workload", "find_trace", "find_traces", "load_trace", "lublin", "on_nodes", "trace_name",
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


def on_nodes(workload: Workload, cpus_per_node: int) -> tuple[Workload, Cluster]:
    """The workload on a cluster of nodes instead of one pool of processors:
    ``ceil(procs / cpus_per_node)`` nodes of ``cpus_per_node`` CPUs, each job asking for
    its processors as tasks spread over as few nodes as hold them (Slurm's ``-n``
    without ``-N``).  For replaying traces through the node-level scheduler.  The trace's
    partition numbers are dropped, as the pool model ignores them: every node is in the
    one default partition."""
    if cpus_per_node < 1:
        raise ValueError(f"a node needs at least one CPU (got {cpus_per_node})")
    count = -(-workload.procs // cpus_per_node)
    cluster = Cluster([Node(f"n{k:05d}", cpus=cpus_per_node) for k in range(count)])
    jobs = [dataclasses.replace(j, request=Request(nodes=1, tasks=j.request.cpus, spread=True),
                                partition="")
            for j in workload.jobs]
    name = f"{workload.name} on {count:,} nodes of {cpus_per_node}"
    return dataclasses.replace(workload, name=name, jobs=jobs), cluster


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


def describe_workload(workload: Workload, trace: str | os.PathLike | None) -> str:
    """One line saying which workload runs and where it came from: ``trace`` as the user
    named it (None: ``default_workload`` chose)."""
    if trace is not None:
        source = f"trace {trace}"
    elif workload.records is not None:
        source = f"trace from ${TRACES_ENV}"
    elif os.environ.get(TRACES_ENV):
        source = f"synthetic: no trace given and none found in ${TRACES_ENV}"
    else:
        source = f"synthetic: no trace given; set {TRACES_ENV} to a folder of SWF files"
    skipped = sum((workload.skipped or {}).values())
    return (f"workload {workload.name} ({source}): {len(workload.jobs):,} jobs on "
            f"{workload.procs:,} processors" + (f", {skipped:,} skipped" if skipped else ""))


# ---------------------------------------------------------------------------------------
# Synthetic workloads


def lublin(
    n_jobs: int,
    procs: int,
    *,
    seed: int = 0,
    load: float | None = 0.8,
    users: int = 64,
    job_types: bool = False,
) -> Workload:
    """A synthetic workload after the Lublin-Feitelson model: the jobs that
    ``kairos.sim.lublin.generate`` draws (its docstring gives the model, the time limits,
    the users and the ``load``), on a machine of ``procs`` processors.

    Job ids are 1..n in submit order; user = the user's number ("1", "2", ...), group =
    account = the group's number; ``meta`` = {"app": -1, "queue": the job's class (SWF
    field 15), "req_mem": -1}.  Deterministic for a given seed.
    """
    drawn = generate(n_jobs, procs, seed=seed, load=load, users=users, job_types=job_types)
    n, procs = len(drawn), int(procs)
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
                ids, drawn.submit.tolist(), drawn.procs.tolist(), drawn.time_limit.tolist(),
                drawn.user.tolist(), drawn.group.tolist(), drawn.queue.tolist(),
            )
        ]
    return Workload(
        name=f"lublin-{n}-{procs}",
        procs=procs,
        jobs=jobs,
        runtimes=dict(zip(ids, drawn.runtime.tolist())),
    )
