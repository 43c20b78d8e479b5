"""Jobs: what was asked for (``Request``; ``parse_constraint`` reads Slurm's feature
expressions for it), how it relates to others (``Dependency``) and where it stands
(``JobState``).

A ``Job`` is a plain mutable record.  Only the ``Scheduler`` changes its state fields; the
request fields are fixed at submission (an admin update goes through the scheduler too).
"""

from __future__ import annotations

import enum
import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field


class JobState(enum.Enum):
    """Slurm's job states, valued by their compact code (``squeue %t``), in the order
    Slurm lists them: the one state vocabulary of every layer.

    The core decides PENDING and RUNNING and records the final state a driver reports;
    the live manager also passes through REQUEUED.  The other members exist so that
    ``squeue -t SUSPENDED`` and the like are understood everywhere.
    """

    PENDING = "PD"
    RUNNING = "R"
    SUSPENDED = "S"
    COMPLETED = "CD"
    CANCELLED = "CA"
    FAILED = "F"
    TIMEOUT = "TO"
    NODE_FAIL = "NF"
    PREEMPTED = "PR"
    BOOT_FAIL = "BF"
    DEADLINE = "DL"
    OUT_OF_MEMORY = "OOM"
    COMPLETING = "CG"
    CONFIGURING = "CF"
    RESIZING = "RS"
    RESV_DEL_HOLD = "RD"
    REQUEUED = "RQ"
    REQUEUE_FED = "RF"
    REQUEUE_HOLD = "RH"
    REVOKED = "RV"
    SIGNALING = "SI"
    SPECIAL_EXIT = "SE"
    STAGE_OUT = "SO"
    STOPPED = "ST"

    @property
    def code(self) -> str:
        """The short code ``squeue`` prints (PD, R, CD, ...)."""
        return self.value

    @property
    def active(self) -> bool:
        """Holding or about to hold resources (time keeps counting)."""
        return self in _ACTIVE

    @property
    def finished(self) -> bool:
        """Neither pending nor holding resources: the job's record is final."""
        return self not in _ACTIVE and self is not JobState.PENDING

    @classmethod
    def parse(cls, token: str) -> "JobState":
        """A state from its code or name, any case (``pd``, ``PENDING``); ValueError
        naming the token otherwise."""
        text = token.strip().upper()
        member = cls.__members__.get(text)
        if member is not None:
            return member
        try:
            return cls(text)
        except ValueError:
            raise ValueError(f"Invalid job state specified: {token}") from None


_ACTIVE = frozenset({JobState.RUNNING, JobState.COMPLETING, JobState.SUSPENDED,
                     JobState.CONFIGURING, JobState.SIGNALING, JobState.STAGE_OUT})


class DependencyKind(enum.Enum):
    """``sbatch --dependency`` types."""

    AFTER = "after"  #: the other job has started (or ended)
    AFTERANY = "afterany"  #: the other job has ended, whatever the outcome
    AFTEROK = "afterok"  #: the other job completed with exit code 0
    AFTERNOTOK = "afternotok"  #: the other job ended in any state but COMPLETED
    SINGLETON = "singleton"  #: no other job of this user with this name is running


@dataclass(frozen=True, slots=True)
class Dependency:
    kind: DependencyKind
    job_id: int | None = None  #: None only for SINGLETON


@dataclass(frozen=True, slots=True)
class Request:
    """Resources a job asks for.

    ``tasks * cpus_per_task`` CPUs spread over ``nodes`` nodes (as evenly as Slurm's block
    distribution: ``ceil(tasks / nodes)`` tasks on each).  Memory and GPUs are per node.
    GPUs are keyed by type; the type ``None`` means "any type".  Licenses are
    cluster-wide counts.

    ``spread`` (Slurm's ``-n`` without ``-N``): ``nodes`` is only the least number of
    nodes; the tasks go to as many nodes as they need (at most one node per task), each
    node taking as many whole tasks as it has room for (``kairos.core.spread``).  Every
    node of the allocation needs ``mem_per_node`` and ``gpus_per_node``; a spread
    request may instead give ``mem_per_cpu``, since its nodes hold different numbers
    of CPUs (a request that does not spread has it folded into ``mem_per_node``).
    ``layout`` says how many tasks each node of an allocation runs.

    Which nodes may serve it (Slurm's node-selection options):

    * ``features``: a node must have every one (``--constraint=a&b``);
      ``any_features``: a node must have at least one (``--constraint=a|b``; each node
      may have a different one).  ``parse_constraint`` turns Slurm's text into these.
    * ``exclusive`` (``--exclusive``): whole nodes.  A node qualifies only when nothing
      else runs on it, and the job then holds all its CPUs and GPUs (and the memory it
      asked for, as Slurm), so nothing else can start there.  ``cpus_per_node`` stays
      the least a node must have; what the job holds on each node is in its placement
      (``Scheduler.allocation``).
    * ``nodelist`` (``-w``): these nodes must all be in the allocation; with fewer
      names than ``nodes`` the others are chosen freely.  More names than ``nodes`` is
      an error, as in Slurm when ``-N`` is given (sbatch raises ``-N`` otherwise).
    * ``exclude`` (``-x``): never these nodes.
    """

    nodes: int = 1
    tasks: int = 1
    cpus_per_task: int = 1
    mem_per_node: int = 0  #: MiB; 0 = no memory constraint
    gpus_per_node: tuple[tuple[str | None, int], ...] = ()
    licenses: tuple[tuple[str, int], ...] = ()
    features: frozenset[str] = frozenset()  #: every one of these on each node
    any_features: frozenset[str] = frozenset()  #: at least one of these on each node
    exclusive: bool = False  #: whole nodes, shared with no other job
    nodelist: frozenset[str] = frozenset()  #: nodes the allocation must include
    exclude: frozenset[str] = frozenset()  #: nodes the allocation must avoid
    spread: bool = False  #: ``nodes`` is a minimum: tasks may spread over more
    mem_per_cpu: int = 0  #: MiB per CPU held, for a spread request; 0 = none
    #: Total CPUs over all nodes, and CPUs on each node (derived; stored because every
    #: scheduling pass reads them).  A spread request's ``cpus_per_node`` is the least a
    #: node of it holds: one task's CPUs.
    cpus: int = field(init=False, default=0)
    cpus_per_node: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.nodes < 1 or self.tasks < 1 or self.cpus_per_task < 1:
            raise ValueError(
                f"a job needs at least 1 node, 1 task and 1 CPU per task "
                f"(got nodes={self.nodes}, tasks={self.tasks}, cpus_per_task={self.cpus_per_task})"
            )
        if self.tasks < self.nodes:
            raise ValueError(f"{self.tasks} task(s) cannot cover {self.nodes} node(s)")
        if self.mem_per_node < 0:
            raise ValueError(f"memory per node cannot be negative (got {self.mem_per_node} MiB)")
        for kind, items in (("GPU", self.gpus_per_node), ("license", self.licenses)):
            for name, count in items:
                if count < 0:
                    raise ValueError(f"{kind} count for {name or 'any type'!r} cannot be negative (got {count})")
        if len(self.nodelist) > self.nodes:
            raise ValueError(
                f"Node count specification invalid: the node list names {len(self.nodelist)} "
                f"nodes ({', '.join(sorted(self.nodelist))}) but the job asks for {self.nodes}"
            )
        both = self.nodelist & self.exclude
        if both:
            raise ValueError(f"Invalid node name specified: {', '.join(sorted(both))} both "
                             "required (-w) and excluded (-x)")
        if self.mem_per_cpu < 0:
            raise ValueError(f"memory per CPU cannot be negative (got {self.mem_per_cpu} MiB)")
        if self.mem_per_cpu and (not self.spread or self.mem_per_node):
            raise ValueError("memory per CPU is for a spread request without memory per node; "
                             "give memory per node instead")
        object.__setattr__(self, "cpus", self.tasks * self.cpus_per_task)
        per_node = 1 if self.spread else math.ceil(self.tasks / self.nodes)
        object.__setattr__(self, "cpus_per_node", per_node * self.cpus_per_task)

    @property
    def gpus(self) -> int:
        """Total GPUs over all nodes (of a spread request: over its least nodes)."""
        return self.nodes * sum(n for _, n in self.gpus_per_node)

    def layout(self, node_cpus: Sequence[int] = ()) -> list[int]:
        """How many tasks each node of an allocation runs, given the CPUs it holds on
        each (in the order of its node list; empty: ``nodes`` nodes, not known yet).

        Slurm's block distribution: the tasks as evenly as the nodes go, the first
        nodes taking one more (``-N 2 -n 3``: 2 and 1).  A spread request's nodes hold
        what their tasks need, so they run what their CPUs hold: each one task, then
        the first ones as many more as they have room for (``fill_tasks``)."""
        count = len(node_cpus) or self.nodes
        if self.spread and node_cpus:
            counts = fill_tasks([c // self.cpus_per_task for c in node_cpus], self.tasks)
            if counts is not None:
                return counts
        base, extra = divmod(self.tasks, count)
        return [base + (1 if k < extra else 0) for k in range(count)]

    @staticmethod
    def procs(n: int) -> "Request":
        """The SWF processor model: ``n`` processors from one pool (shared instances)."""
        return _procs_request(n)


@functools.lru_cache(maxsize=65536)
def _procs_request(n: int) -> Request:
    return Request(nodes=1, tasks=n)


def fill_tasks(room: Sequence[int], tasks: int) -> list[int] | None:
    """``tasks`` tasks on nodes with ``room`` tasks of room each, in order: one on each
    node, then each node in turn filled up; None when they do not all fit or a node
    has no room at all (an allocation never holds a node without a task)."""
    if len(room) > tasks or any(r < 1 for r in room) or sum(room) < tasks:
        return None
    counts = [1] * len(room)
    left = tasks - len(room)
    for k, r in enumerate(room):
        more = min(left, r - 1)
        counts[k] += more
        left -= more
    return counts


def parse_constraint(text: str | None) -> tuple[frozenset[str], frozenset[str]]:
    """``(features, any_features)`` for Slurm's ``--constraint`` text: ``a&b`` (every
    one), ``a|b`` (at least one), or one name.  Empty text is no constraint.

    Raises ``ValueError`` starting with Slurm's "Invalid feature specification" for
    what Kairos does not support (brackets, counts ``a*2``, parentheses, mixing ``&``
    with ``|``) and for malformed text (an empty name, blanks, a comma).
    """
    text = (text or "").strip()
    if not text:
        return frozenset(), frozenset()
    unsupported = next((why for marks, why in _UNSUPPORTED if any(m in text for m in marks)), None)
    if unsupported is not None:
        raise ValueError(f"Invalid feature specification {text!r}: {unsupported}; "
                         "write a&b (every feature) or a|b (any of them)")
    if "&" in text and "|" in text:
        raise ValueError(f"Invalid feature specification {text!r}: mixing & and | is not "
                         "supported; use only & (every feature) or only | (any of them)")
    operator = "|" if "|" in text else "&"
    names = text.split(operator)
    for name in names:
        if not _FEATURE_NAME.fullmatch(name):
            what = "an empty feature name" if not name else f"{name!r} is not a feature name"
            raise ValueError(f"Invalid feature specification {text!r}: {what}; "
                             "write a&b (every feature) or a|b (any of them)")
    if operator == "|" and len(names) > 1:
        return frozenset(), frozenset(names)
    return frozenset(names), frozenset()


#: (characters, why) for the parts of Slurm's constraint syntax Kairos refuses.
_UNSUPPORTED = (
    ("[]", "brackets (matching OR, multiple counts) are not supported"),
    ("*", "node counts (feature*N) are not supported"),
    ("()", "parentheses are not supported"),
)
_FEATURE_NAME = re.compile(r"[^\s&|,!\[\]()*]+")


@dataclass(slots=True, eq=False)
class Job:
    """One batch job.

    Times are seconds on whatever clock drives the scheduler (virtual or wall).
    ``estimate`` is the runtime the scheduler plans with: the time limit unless a predictor
    supplied something better; a job is never killed for outliving its estimate, only its
    ``time_limit``.
    """

    id: int
    user: str
    submit: float
    request: Request
    time_limit: float = math.inf
    estimate: float = -1.0  #: planning runtime; < 0 means "use time_limit"
    name: str = ""
    group: str = ""
    account: str = ""
    partition: str = ""
    qos: str = "normal"
    time_min: float | None = None
    dependencies: tuple[Dependency, ...] = ()
    begin: float = 0.0  #: earliest start (``--begin``)
    held: bool = False  #: user or admin hold (``--hold``, ``scontrol hold``)
    nice: int = 0
    admin_priority: float | None = None  #: set by ``scontrol update Priority=``
    array_job_id: int | None = None
    array_task_id: int | None = None
    meta: dict = field(default_factory=dict)  #: opaque to the core (trace fields, paths)
    #: at most this many tasks of the array run at once (``--array=0-99%4``)
    array_limit: int | None = None

    # Decided by the scheduler.
    state: JobState = JobState.PENDING
    reason: str = "None"  #: why a pending job waits (Slurm's reason names)
    start: float | None = None
    end: float | None = None
    expected_end: float | None = None  #: start + estimate, corrected when overdue
    placement: object = None  #: opaque allocation handle from the cluster
    priority: float = 0.0
    reserved_start: float | None = None  #: the start time a backfill reservation promises
    corrections: int = 0  #: times the expected end was moved out (job outlived it)
    exit_code: int = 0

    def __post_init__(self) -> None:
        if self.estimate < 0:
            self.estimate = self.time_limit

    @property
    def wait(self) -> float | None:
        return None if self.start is None else self.start - self.submit


#: The fields of a ``Job`` that the scheduler decides (below "Decided by the
#: scheduler" above); every other field of its constructor is what was submitted, and a
#: copy of the job for another replay keeps it (``kairos.sim.replay.fresh_copy``).
DECIDED_BY_SCHEDULER = frozenset({
    "state", "reason", "start", "end", "expected_end", "placement", "priority",
    "reserved_start", "corrections", "exit_code",
})
