"""Job steps: ``StepRequest`` (what ``srun`` asks for) and ``LiveStep`` (one step, from
launch to accounting).

A step runs tasks inside a running job's allocation: ``srun`` in a batch script, or the
step an ``srun`` outside any job makes in the allocation it just got.  The controller
lays its tasks out on the job's nodes, each node's step supervisor runs its share, and
the step ends when every node has reported.  Steps are numbered 0, 1, ... per job;
``sacct`` shows them as ``JOBID.0``, ``JOBID.1`` beside the batch script (``JOBID.batch``).

Standard library only, like ``kairos.model.job``: the commands import it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from kairos.core.jobs import JobState


@dataclass(slots=True)
class StepRequest:
    """One ``srun`` inside an allocation (``POST /api/v1/jobs/{job_id}/steps``).

    Shape options left None take the allocation's (Slurm's srun inside a job: all its
    nodes, its task count); ``io`` is srun's listener (``kairos.model.stepio``), None to
    send output to the ``stdout``/``stderr`` file patterns only.
    """

    argv: list[str]  #: the command and its arguments
    cwd: str
    env: dict[str, str] = field(default_factory=dict)  #: srun's environment
    name: str | None = None  #: ``-J``; default the command's name
    ntasks: int | None = None  #: ``-n``
    nodes: int | None = None  #: ``-N``
    ntasks_per_node: int | None = None
    cpus_per_task: int | None = None  #: ``-c``
    exact: bool = False  #: ``--exact``: only the CPUs asked for
    overlap: bool = False  #: ``--overlap``: share CPUs with other steps
    nodelist: list[str] = field(default_factory=list)  #: ``-w`` (within the allocation)
    exclude: list[str] = field(default_factory=list)  #: ``-x``
    io: dict[str, Any] | None = None  #: ``{"host", "port", "token"}``
    stdout: str | None = None  #: ``-o`` pattern (``%t``, ``%n``, ``%N``, ``%j``, ``%s``)
    stderr: str | None = None  #: ``-e`` pattern
    stdin: str | None = None  #: ``-i``: ``all``, ``none``, a task id or a pattern
    time_limit: float | None = None  #: ``-t`` for the step (seconds)
    distribution: str | None = None  #: ``-m`` as given (SLURM_DISTRIBUTION); None: Slurm's default

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepRequest:
        return cls(**{k: v for k, v in data.items() if k in _REQUEST_FIELDS})


_REQUEST_FIELDS = frozenset(f.name for f in dataclasses.fields(StepRequest))


@dataclass(slots=True, eq=False)
class LiveStep:
    """One step of a job."""

    job_id: int
    step_id: int
    name: str = ""
    user: str = ""
    state: JobState = JobState.RUNNING
    node_list: str = ""  #: compressed hostlist of its nodes
    nodes: int = 1
    ntasks: int = 1
    cpus: int = 1  #: CPUs it holds over all its nodes
    tasks_per_node: str = "1"  #: Slurm's form: ``2(x3),1``
    start_time: float | None = None
    end_time: float | None = None
    exit_code: int = 0  #: the highest of its tasks'
    signal: int = 0
    cpu_time: float | None = None
    max_rss: int | None = None  #: KiB
    command: str = ""  #: the command line, space-separated
    reason: str = "None"
    # --- kept by the controller, never sent
    layout: dict[str, list[int]] = field(default_factory=dict)  #: node -> task ids
    cpus_by_node: dict[str, int] = field(default_factory=dict)  #: CPUs it holds per node
    waiting_for: list[str] = field(default_factory=list)  #: nodes that have not reported
    overlap: bool = False
    updated: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.job_id}.{self.step_id}"

    def to_wire(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in PUBLIC_FIELDS}
        out["state"] = self.state.name
        return out

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> LiveStep:
        values = {k: v for k, v in data.items() if k in _PUBLIC_SET}
        values["state"] = JobState[data["state"]]
        return cls(**values)

    def to_row(self) -> dict[str, Any]:
        row = {name: getattr(self, name) for name in ROW_FIELDS}
        row["state"] = self.state.name
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> LiveStep:
        values = {k: v for k, v in row.items() if k in _ROW_SET}
        values["state"] = JobState[row["state"]]
        return cls(**values)


_PRIVATE = ("layout", "cpus_by_node", "waiting_for", "overlap", "updated")
ROW_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(LiveStep))
PUBLIC_FIELDS: tuple[str, ...] = tuple(n for n in ROW_FIELDS if n not in _PRIVATE)
_ROW_SET = frozenset(ROW_FIELDS)
_PUBLIC_SET = frozenset(PUBLIC_FIELDS)
