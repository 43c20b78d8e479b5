"""``LiveJob``: one job of the live manager, from ``sbatch`` to ``sacct``.

The controller keeps one per pending, running or recently finished job; the store
keeps one row per job; the API sends the public part; the commands read it back.  Every
conversion lives here, so a field is added in one place:

* the database: ``to_row`` / ``from_row`` (the ``jobs`` table's columns are these
  fields, checked by a test);
* the wire: ``to_wire`` / ``from_wire`` (the public fields; ``kairos.server.schemas``
  generates the API's pydantic schema from them), and ``rows_from_wire`` for the
  list endpoint's columnar layout (some fields of many jobs, read only);
* the core: ``request`` and ``to_core_job`` (what the scheduler needs).

States are ``JobState`` members everywhere in memory; only rows and the wire spell them
as names.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kairos.core.jobs import Dependency, Job, JobState, Request, parse_constraint
from kairos.model.submission import Submission

GpuCounts = tuple[tuple[str | None, int], ...]


@dataclass(slots=True, eq=False)
class LiveJob:
    """One job.  The controller changes it through ``Controller``'s transitions only;
    everyone else reads it."""

    job_id: int
    user: str
    uid: int = -1
    gid: int = -1
    group: str = ""
    name: str = ""
    account: str = ""
    partition: str = ""
    qos: str = "normal"
    state: JobState = JobState.PENDING
    reason: str = "None"  #: why a pending job waits (Slurm's reason names)
    priority: float = 0.0
    nice: int = 0
    held: bool = False
    submit_time: float = 0.0
    eligible_time: float | None = None
    start_time: float | None = None
    end_time: float | None = None
    expected_start: float | None = None  #: forecast (``squeue --start``)
    time_limit: float | None = None  #: seconds; None: unlimited
    time_min: float | None = None
    nodes: int = 1  #: asked for; once it starts, the nodes it holds
    ntasks: int = 1
    cpus_per_task: int = 1
    cpus: int = 1
    mem_per_node: int | None = None  #: MiB
    gpus: GpuCounts = ()  #: per node
    dependency: str | None = None  #: as submitted; the view shows what is left of it
    begin: float | None = None
    work_dir: str = ""
    stdout: str | None = None  #: resolved path
    stderr: str | None = None  #: resolved path
    command: str = ""  #: what ``scontrol show job`` calls Command (the job's name)
    node_list: str | None = None
    #: CPUs held on each node of ``node_list``, in its order (set when the job starts;
    #: a spread job's differ from node to node)
    node_cpus: tuple[int, ...] = ()
    cpu_ids: tuple[int, ...] = ()
    gpu_ids: tuple[int, ...] = ()
    exit_code: int = 0
    signal: int = 0
    cpu_time: float | None = None  #: user + system seconds
    max_rss: int | None = None  #: KiB
    restarts: int = 0
    array_job_id: int | None = None
    array_task_id: int | None = None
    array_task_count: int | None = None
    array_task_min: int | None = None
    array_task_max: int | None = None
    array_task_step: int | None = None
    allocation: bool = False  #: no batch script: resources held by srun or salloc
    comment: str | None = None  #: ``--comment``
    wckey: str | None = None  #: ``--wckey``
    # --- kept by the controller and the store, never sent
    submission: Submission | None = None  #: what was asked, to start the job (again)
    supervisor_pid: int | None = None
    expected_end: float | None = None  #: the core's planned end of a running job
    admin_priority: float | None = None  #: ``scontrol update Priority=``
    array_limit: int | None = None  #: the array's ``%N`` throttle
    updated: float = 0.0  #: when the row last changed (epoch seconds)

    # ------------------------------------------------------------------ names

    @property
    def label(self) -> str:
        """``123`` or ``120_3``: the id users type."""
        if self.array_job_id is not None and self.array_task_id is not None:
            return f"{self.array_job_id}_{self.array_task_id}"
        return str(self.job_id)

    @property
    def finished(self) -> bool:
        return self.state.finished

    @classmethod
    def from_submission(cls, submission: Submission, *, job_id: int, user: str, uid: int,
                        gid: int, group: str, partition: str, qos: str,
                        time_limit: float | None, now: float) -> LiveJob:
        """A new pending job for ``submission``, once the controller has settled what
        the submission leaves open (the partition, QOS and time limit it gets)."""
        request = request_of(submission.nodes, submission.ntasks, submission.cpus_per_task,
                             submission.mem_per_node, submission.mem_per_cpu, submission.gpus,
                             submission)
        name = submission.name or "sbatch"
        default_output = "slurm-%A_%a.out" if submission.array else "slurm-%j.out"
        return cls(
            job_id=job_id, user=user, uid=uid, gid=gid, group=group, name=name,
            account=submission.account or "", partition=partition, qos=qos,
            nice=submission.nice, held=submission.hold, submit_time=now,
            time_limit=time_limit, time_min=submission.time_min, nodes=request.nodes,
            ntasks=request.tasks, cpus_per_task=request.cpus_per_task, cpus=request.cpus,
            mem_per_node=request.mem_per_node or None, gpus=request.gpus_per_node,
            dependency=submission.dependency, begin=submission.begin,
            work_dir=submission.work_dir, stdout=submission.stdout or default_output,
            stderr=submission.stderr or submission.stdout or default_output, command=name,
            allocation=submission.allocation, comment=submission.comment,
            wckey=submission.wckey, submission=submission, updated=now,
        )

    # ------------------------------------------------------------------ the core

    def request(self) -> Request:
        """The core's resource request (``--mem-per-cpu`` becomes memory per node; the
        node-selection options and whether the tasks may spread come from the
        submission, and so does the node count asked for: a spread job's ``nodes`` is
        the count it holds once it starts)."""
        nodes = self.submission.nodes if self.submission is not None else self.nodes
        return request_of(nodes, self.ntasks, self.cpus_per_task, self.mem_per_node,
                          self.submission.mem_per_cpu if self.submission else None, self.gpus,
                          self.submission)

    def tasks_by_node(self) -> list[int]:
        """How many of its tasks each node of a running (or ended) job runs, in the
        order of its node list (Slurm's SLURM_TASKS_PER_NODE); before it starts, as
        its request would lay them on ``nodes`` nodes."""
        nodes = max(1, self.nodes)
        held = self.node_cpus or (self.cpus // nodes,) * nodes
        if self.submission is None:  # a command's copy: no spread, no selection to read
            return Request(nodes=nodes, tasks=max(self.ntasks, nodes),
                           cpus_per_task=self.cpus_per_task).layout(held)
        return self.request().layout(held)

    def to_core_job(self, dependencies: tuple[Dependency, ...] = ()) -> Job:
        """A core ``Job`` for this pending job (at submission, or reloaded after a crash)."""
        job = Job(
            self.job_id, self.user, self.submit_time, self.request(),
            time_limit=math.inf if self.time_limit is None else self.time_limit,
            name=self.name, group=self.group, account=self.account,
            partition=self.partition, qos=self.qos, time_min=self.time_min,
            dependencies=dependencies, begin=self.begin or 0.0, held=self.held,
            nice=self.nice, array_job_id=self.array_job_id,
            array_task_id=self.array_task_id, array_limit=self.array_limit,
        )
        job.admin_priority = self.admin_priority
        return job

    # ------------------------------------------------------------------ the wire

    def to_wire(self) -> dict[str, Any]:
        """The public fields as JSON-ready values (``JobInfo`` in the API)."""
        out = {name: getattr(self, name) for name in PUBLIC_FIELDS}
        out["state"] = self.state.name
        out["gpus"] = [list(g) for g in self.gpus]
        out["node_cpus"] = list(self.node_cpus)
        out["cpu_ids"] = list(self.cpu_ids)
        out["gpu_ids"] = list(self.gpu_ids)
        return out

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> LiveJob:
        """The job in a ``JobInfo`` dict (what the commands receive)."""
        if data.keys() <= _PUBLIC_SET:
            values = dict(data)
        else:  # a newer controller may send fields this command does not know
            values = {k: v for k, v in data.items() if k in _PUBLIC_SET}
        values["state"] = JobState[data["state"]]
        values["gpus"] = _gpu_counts(data.get("gpus"))
        values["node_cpus"] = tuple(data.get("node_cpus") or ())
        values["cpu_ids"] = tuple(data.get("cpu_ids") or ())
        values["gpu_ids"] = tuple(data.get("gpu_ids") or ())
        return cls(**values)

    # ------------------------------------------------------------------ the database

    def to_row(self, names: tuple[str, ...] | None = None) -> dict[str, Any]:
        """Column values (all, or just ``names``), as the store writes them."""
        plan = _ROW_PLAN if names is None else [(n, _TO_COLUMN.get(n)) for n in names]
        out = {}
        for name, convert in plan:
            value = getattr(self, name)
            out[name] = value if convert is None or value is None else convert(value)
        return out

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> LiveJob:
        """The job in a database row (a mapping of column names)."""
        values = {k: v for k, v in row.items() if k in _ROW_SET}
        for name, convert in _FROM_COLUMN.items():
            if values.get(name) is not None:
                values[name] = convert(values[name])
        return cls(**values)


def request_of(nodes: int, ntasks: int, cpus_per_task: int, mem_per_node: int | None,
               mem_per_cpu: int | None, gpus, selection: Submission | None = None) -> Request:
    """The core's request for Slurm's shape options: at least one task per node (as
    Slurm), ``--mem-per-cpu`` times the CPUs on a node as memory per node (a spread
    request keeps it per CPU), and the node-selection options of ``selection``
    (``--exclusive``, ``-w``, ``-x``, ``--constraint``) and whether its tasks spread.  The core's ``Request`` does the arithmetic and checks the counts
    and names; a ValueError says, in Slurm's words, what is wrong."""
    features = any_features = nodelist = exclude = frozenset()
    exclusive = spread = False
    if selection is not None:
        features, any_features = parse_constraint(selection.constraint)
        exclusive, spread = selection.exclusive, selection.spread and ntasks > nodes
        nodelist, exclude = frozenset(selection.nodelist), frozenset(selection.exclude)
    request = Request(nodes=nodes, tasks=max(ntasks, nodes), cpus_per_task=cpus_per_task,
                      mem_per_node=mem_per_node or 0,
                      gpus_per_node=tuple((t, int(n)) for t, n in gpus or ()),
                      features=features, any_features=any_features, exclusive=exclusive,
                      nodelist=nodelist, exclude=exclude, spread=spread)
    if mem_per_cpu and spread:  # its nodes hold different numbers of CPUs
        request = dataclasses.replace(request, mem_per_node=0, mem_per_cpu=mem_per_cpu)
    elif mem_per_cpu:
        request = dataclasses.replace(request, mem_per_node=mem_per_cpu * request.cpus_per_node)
    return request


def rows_from_wire(fields: Sequence[str], rows: list[list[Any]]) -> list[Any]:
    """Read-only jobs from the list endpoint's columnar layout (``fields`` and one list
    of values per job), each field it lacks at ``LiveJob``'s default.

    They read as ``LiveJob``s do (attributes, ``label``, ``finished``) but are tuples,
    made in C: tens of thousands are built in a fraction of what ``from_wire`` takes.
    ``rows`` are converted in place."""
    names = tuple(fields)
    for i, name in enumerate(names):
        to_value = _FROM_WIRE.get(name)
        if to_value is not None:
            for row in rows:
                row[i] = to_value(row[i])
    return list(map(functools.partial(tuple.__new__, _row_class(names)), rows))


@functools.lru_cache(maxsize=32)
def _row_class(names: tuple[str, ...]) -> type:
    """A tuple class whose attributes are ``names`` by position and every other public
    field at its default."""
    namespace: dict[str, Any] = {"__slots__": (), "label": LiveJob.label,
                                 "finished": LiveJob.finished}
    for f in dataclasses.fields(LiveJob):
        if f.name in _PUBLIC_SET:
            namespace[f.name] = None if f.default is dataclasses.MISSING else f.default
    for i, name in enumerate(names):
        namespace[name] = property(operator.itemgetter(i))
    return type("WireJob", (tuple,), namespace)


def _gpu_counts(value) -> GpuCounts:
    return tuple((t or None, int(n)) for t, n in value or ())


_PRIVATE = ("submission", "supervisor_pid", "expected_end", "admin_priority", "array_limit",
            "updated")
#: Field names in declaration order.
ROW_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(LiveJob))
#: What ``JobInfo`` carries (everything the controller does not keep to itself).
PUBLIC_FIELDS: tuple[str, ...] = tuple(n for n in ROW_FIELDS if n not in _PRIVATE)
_ROW_SET = frozenset(ROW_FIELDS)
_PUBLIC_SET = frozenset(PUBLIC_FIELDS)

_TO_COLUMN = {
    "state": lambda s: s.name,
    "gpus": lambda g: [list(x) for x in g],
    "node_cpus": list,
    "cpu_ids": list,
    "gpu_ids": list,
    "submission": Submission.to_json,
}
#: (field, converter or None) for every column, in order: ``to_row``'s plan.
_ROW_PLAN = tuple((name, _TO_COLUMN.get(name)) for name in ROW_FIELDS)
#: How ``rows_from_wire`` turns wire values back into ``LiveJob``'s.
_FROM_WIRE = {
    "state": {state.name: state for state in JobState}.__getitem__,  # C, not EnumType's
    "gpus": _gpu_counts,
    "node_cpus": lambda v: tuple(v or ()),
    "cpu_ids": lambda v: tuple(v or ()),
    "gpu_ids": lambda v: tuple(v or ()),
}
_FROM_COLUMN = {
    "state": lambda name: JobState[name],
    "gpus": _gpu_counts,
    "node_cpus": tuple,
    "cpu_ids": tuple,
    "gpu_ids": tuple,
    "submission": Submission.from_json,
}
