"""The controller's node, partition, priority and share dicts as typed records, made
where sinfo, scontrol, sprio and sshare receive them (``client.nodes()``,
``client.partitions()``, ``client.priority()``, ``client.shares()``).

Jobs have their own record, ``kairos.model.LiveJob``.  A node's state on the wire is
one word (idle, mixed, allocated, down, drain); Slurm prints it three ways: sinfo's
short ``%t`` (``mix``, ``drng``), its long ``%T`` (``draining``) and scontrol's
``State=MIXED+DRAIN``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

GpuCounts = tuple[tuple[str | None, int], ...]


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


class NodeState(Enum):
    """A node's state on the wire, with sinfo's short (``%t``) and long (``%T``) words."""

    IDLE = "idle"
    MIXED = "mixed"
    ALLOCATED = "allocated"
    DOWN = "down"
    DRAIN = "drain"


@dataclass(frozen=True)
class NodeRecord:
    """One node as ``client.nodes()`` describes it."""

    name: str
    state: NodeState
    cpus: int
    cpus_alloc: int = 0
    mem: int = 0
    mem_alloc: int = 0
    gpus: GpuCounts = ()
    gpus_alloc: GpuCounts = ()
    partitions: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    boot_time: float | None = None
    os: str = ""
    reason: str | None = None
    reason_time: float | None = None  #: when the reason was set
    reason_user: str | None = None  #: who set it (None: the controller)
    responding: bool = True  #: False: silent for too long (Slurm's ``*``)

    @classmethod
    def from_wire(cls, info: Mapping[str, Any]) -> NodeRecord:
        def gres(mapping: Mapping[str, int] | None) -> GpuCounts:
            return tuple((kind or None, int(n)) for kind, n in (mapping or {}).items())
        return cls(
            name=str(info["name"]), state=NodeState(str(info.get("state", "idle")).lower()),
            cpus=int(info.get("cpus") or 0), cpus_alloc=int(info.get("cpus_alloc") or 0),
            mem=int(info.get("mem") or 0), mem_alloc=int(info.get("mem_alloc") or 0),
            gpus=gres(info.get("gpus")), gpus_alloc=gres(info.get("gpus_alloc")),
            partitions=tuple(info.get("partitions") or ()),
            features=tuple(info.get("features") or ()),
            boot_time=_optional_float(info.get("boot_time")), os=str(info.get("os") or ""),
            reason=info.get("reason"), reason_time=_optional_float(info.get("reason_time")),
            reason_user=info.get("reason_user"), responding=bool(info.get("responding", True)),
        )

    @property
    def busy(self) -> bool:
        return self.cpus_alloc > 0

    @property
    def short_state(self) -> str:
        """sinfo's ``%t``; a node that stopped answering gets Slurm's ``*``."""
        if self.state is NodeState.DRAIN:
            word = "drng" if self.busy else "drain"
        else:
            word = {NodeState.MIXED: "mix", NodeState.ALLOCATED: "alloc"}.get(
                self.state, self.state.value)
        return word + self._silent_mark

    @property
    def long_state(self) -> str:
        """sinfo's ``%T``."""
        if self.state is NodeState.DRAIN:
            word = "draining" if self.busy else "drained"
        else:
            word = self.state.value
        return word + self._silent_mark

    @property
    def scontrol_state(self) -> str:
        """scontrol's ``State=``: ``IDLE+DRAIN``, ``DOWN+NOT_RESPONDING``."""
        if self.state is NodeState.DRAIN:
            base = "IDLE" if not self.busy else (
                "ALLOCATED" if self.cpus_alloc >= self.cpus else "MIXED")
            word = f"{base}+DRAIN"
        else:
            word = self.state.name
        return word if self.responding else f"{word}+NOT_RESPONDING"

    @property
    def _silent_mark(self) -> str:
        return "" if self.responding else "*"

    @property
    def has_reason(self) -> bool:
        """Whether ``sinfo -R`` lists the node: down or drained, as in Slurm."""
        return self.state in (NodeState.DOWN, NodeState.DRAIN)

    @property
    def usable(self) -> bool:
        return self.state not in (NodeState.DOWN, NodeState.DRAIN)


@dataclass(frozen=True)
class PartitionRecord:
    """One partition as ``client.partitions()`` describes it."""

    name: str
    default: bool = False
    up: bool = True
    max_time: float | None = None
    default_time: float | None = None
    max_nodes: int | None = None
    nodes: tuple[str, ...] = ()
    priority_tier: int = 1
    total_cpus: int = 0
    total_nodes: int = 0

    @classmethod
    def from_wire(cls, info: Mapping[str, Any]) -> PartitionRecord:
        return cls(
            name=str(info["name"]), default=bool(info.get("default")),
            up=bool(info.get("up", True)), max_time=_optional_float(info.get("max_time")),
            default_time=_optional_float(info.get("default_time")),
            max_nodes=_optional_int(info.get("max_nodes")),
            nodes=tuple(info.get("nodes") or ()),
            priority_tier=int(info.get("priority_tier") or 1),
            total_cpus=int(info.get("total_cpus") or 0),
            total_nodes=int(info.get("total_nodes") or len(info.get("nodes") or ())),
        )

    @property
    def label(self) -> str:
        """The name, with ``*`` for the default partition (sinfo's ``%P``)."""
        return self.name + ("*" if self.default else "")


@dataclass(frozen=True)
class PriorityRecord:
    """One pending job's priority and its weighted factors (``client.priority()``)."""

    job_id: str
    user: str
    account: str
    partition: str
    priority: float
    factors: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, info: Mapping[str, Any]) -> PriorityRecord:
        return cls(job_id=str(info["job_id"]), user=str(info.get("user") or ""),
                   account=str(info.get("account") or ""),
                   partition=str(info.get("partition") or ""),
                   priority=float(info.get("priority") or 0),
                   factors={k: float(v) for k, v in (info.get("factors") or {}).items()})

    def factor(self, name: str) -> str:
        """A weighted factor as sprio prints it: a whole number."""
        return f"{self.factors.get(name, 0.0):.0f}"

    @property
    def sort_key(self) -> tuple[int, str]:
        head = self.job_id.split("_")[0]
        return (int(head) if head.isdigit() else 0, self.job_id)


@dataclass(frozen=True)
class ShareRecord:
    """One association's shares and usage (``client.shares()``); ``user`` empty for an
    account line."""

    account: str
    user: str
    raw_shares: float | None
    norm_shares: float
    raw_usage: float
    effective_usage: float
    fairshare: float | None
    norm_usage: float | None = None
    level_fs: float | None = None

    @classmethod
    def from_wire(cls, info: Mapping[str, Any]) -> ShareRecord:
        return cls(account=str(info.get("account") or ""), user=str(info.get("user") or ""),
                   raw_shares=_optional_float(info.get("raw_shares")),
                   norm_shares=float(info.get("norm_shares") or 0),
                   raw_usage=float(info.get("raw_usage") or 0),
                   effective_usage=float(info.get("effective_usage") or 0),
                   fairshare=_optional_float(info.get("fairshare")),
                   norm_usage=_optional_float(info.get("norm_usage")),
                   level_fs=_optional_float(info.get("level_fs")))
