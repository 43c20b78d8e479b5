"""``Submission``: one ``sbatch``, as the command line and ``#SBATCH`` directives ask.

Built by ``kairos.slurm.sbatch`` on the client, sent as JSON (``POST /api/v1/jobs``),
validated at the API's edge by a pydantic schema generated from this class
(``kairos.server.schemas``), and kept whole with every job it creates: it holds what is
needed to start the job again (script, environment) after a restart or a requeue.

Units: seconds for durations (``None`` = unlimited or unset), epoch seconds for
``begin``, MiB for memory; ``gpus`` is per node, ``(type or None, count)`` pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal


def _limits(**bounds: float) -> dict[str, Any]:
    """Field metadata: numeric bounds (``gt``, ``ge``) the wire schema enforces."""
    return {"bounds": bounds}


@dataclass(slots=True)
class Submission:
    """One submission (every task of an array shares it)."""

    script: str  #: the batch script text, starting with ``#!``
    work_dir: str  #: ``--chdir``, absolute; default the submit directory
    argv: list[str] = field(default_factory=list)  #: arguments after the script name
    name: str | None = None  #: ``-J``; default the script's file name
    stdout: str | None = None  #: ``-o`` pattern
    stderr: str | None = None  #: ``-e`` pattern; None: into stdout
    time_limit: float | None = field(default=None, metadata=_limits(gt=0))  #: ``-t``
    time_min: float | None = field(default=None, metadata=_limits(gt=0))  #: ``--time-min``
    nodes: int = field(default=1, metadata=_limits(ge=1))  #: ``-N``
    ntasks: int = field(default=1, metadata=_limits(ge=1))  #: ``-n``
    cpus_per_task: int = field(default=1, metadata=_limits(ge=1))  #: ``-c``
    #: ``--ntasks-per-node`` when given (the job sees SLURM_NTASKS_PER_NODE)
    ntasks_per_node: int | None = field(default=None, metadata=_limits(ge=1))
    #: ``-n`` without ``-N``: ``nodes`` is a minimum, the tasks go to as many nodes as
    #: they need (Slurm's way).  False in records from before it existed, which held
    #: exactly ``nodes`` nodes.
    spread: bool = False
    mem_per_node: int | None = field(default=None, metadata=_limits(ge=0))  #: ``--mem``
    mem_per_cpu: int | None = field(default=None, metadata=_limits(ge=0))  #: ``--mem-per-cpu``
    gpus: list[tuple[str | None, int]] = field(default_factory=list)  #: per node
    partition: str | None = None
    qos: str | None = None
    account: str | None = None
    array: str | None = None  #: the raw ``--array`` spec (``0-15:4%2``)
    dependency: str | None = None  #: the raw ``--dependency`` spec
    begin: float | None = None  #: ``--begin``, resolved by the client
    hold: bool = False
    nice: int = 0
    environment: dict[str, str] = field(default_factory=dict)  #: what ``--export`` gives
    export: str = "ALL"  #: the raw ``--export`` value
    submit_host: str = ""
    submit_dir: str = ""  #: where sbatch ran (SLURM_SUBMIT_DIR), whatever --chdir says
    test_only: bool = False  #: ``--test-only``: forecast a start, queue nothing
    cpus_per_task_set: bool = False  #: ``-c`` given: the job sees SLURM_CPUS_PER_TASK
    ntasks_set: bool = False  #: ``-n`` given: the job sees SLURM_NTASKS
    exclusive: bool = False  #: ``--exclusive``: whole nodes, shared with no other job
    nodelist: list[str] = field(default_factory=list)  #: ``-w``, expanded (``n[1-3]`` -> n1, n2, n3)
    exclude: list[str] = field(default_factory=list)  #: ``-x``, expanded
    constraint: str | None = None  #: ``-C``: features, ``a&b`` (all) or ``a|b`` (any)
    #: ``--requeue`` (True) / ``--no-requeue`` (False): whether a job that a node
    #: failure ended is queued again; None: the cluster's default
    requeue: bool | None = None
    #: an allocation without a batch script (``salloc``, ``srun`` outside a job): the
    #: client holds it and runs steps in it; ``script`` is then empty
    allocation: bool = False
    #: ``--signal=[B:]SIG[@secs]``: the signal sent ``warn_time`` seconds before the
    #: time limit, to the job's steps, or to the batch shell alone (``warn_batch``)
    warn_signal: int | None = field(default=None, metadata=_limits(ge=1, le=64))
    warn_time: int = field(default=0, metadata=_limits(ge=0, le=65535))
    warn_batch: bool = False
    #: ``--open-mode``; None: Slurm's default, truncate on the first run and append on
    #: the runs after a requeue, so a restart never wipes what the earlier runs wrote
    open_mode: Literal["append", "truncate"] | None = None
    comment: str | None = None  #: ``--comment``
    wckey: str | None = None  #: ``--wckey``
    #: the submitter's umask: the batch script runs with it, as under Slurm (None in
    #: records from before it was kept: the supervisor's)
    umask: int | None = field(default=None, metadata=_limits(ge=0, le=0o777))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (``gpus`` as ``[type, count]`` lists).  Shallow: it shares
        ``argv`` and ``environment`` with the submission (the store writes thousands a
        second, and ``dataclasses.asdict`` would deep-copy every environment)."""
        data = {name: getattr(self, name) for name in _NAMES}
        data["gpus"] = [[gpu_type, count] for gpu_type, count in self.gpus]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Submission:
        """The submission in a dict already checked by the wire schema, or read back
        from the database (where keys a newer Kairos added may be missing: they take
        their defaults)."""
        known = {k: v for k, v in data.items() if k in _FIELDS}
        known["gpus"] = [(gpu_type, int(count)) for gpu_type, count in known.get("gpus") or ()]
        return cls(**known)


_NAMES = tuple(f.name for f in fields(Submission))
_FIELDS = frozenset(_NAMES)
