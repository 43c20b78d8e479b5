"""The machine: nodes, partitions and cluster-wide licenses.

``Cluster.pool(n)`` is the SWF processor model (one pool of ``n`` processors, no
memory or GPUs); any other cluster is scheduled node by node.  Both go through the same
scheduler; only the resource bookkeeping (``kairos.core.resources``) differs.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field


class NodeState(enum.Enum):
    UP = "up"  #: accepts jobs
    DRAIN = "drain"  #: finishes its jobs, takes no new ones
    DOWN = "down"  #: unusable


@dataclass(slots=True)
class Node:
    name: str
    cpus: int
    mem: int = 0  #: MiB
    gpus: dict[str, int] = field(default_factory=dict)  #: GPU type -> count
    features: frozenset[str] = frozenset()
    state: NodeState = NodeState.UP


@dataclass(slots=True)
class Partition:
    name: str
    nodes: tuple[str, ...] | None = None  #: None means every node
    max_time: float = math.inf  #: seconds
    max_nodes: int | None = None
    priority_tier: int = 1
    default: bool = False
    up: bool = True


class Cluster:
    """Static description of the machine (capacities; the scheduler tracks usage)."""

    def __init__(self, nodes: list[Node], partitions: list[Partition] | None = None,
                 licenses: dict[str, int] | None = None, *, pool: bool = False) -> None:
        if not nodes:
            raise ValueError("a cluster needs at least one node")
        names = [n.name for n in nodes]
        if len(set(names)) != len(names):
            raise ValueError("node names must be unique")
        if pool and len(nodes) != 1:
            raise ValueError("a processor pool is a single node")
        self.nodes = nodes
        self.partitions = partitions or [Partition("default", default=True)]
        if not any(p.default for p in self.partitions):
            self.partitions[0].default = True
        self.licenses = dict(licenses or {})
        self.is_pool = pool
        self.node_index = {n.name: i for i, n in enumerate(nodes)}
        for p in self.partitions:
            for name in p.nodes or ():
                if name not in self.node_index:
                    raise ValueError(f"partition {p.name!r} names unknown node {name!r}")

    @classmethod
    def pool(cls, procs: int) -> "Cluster":
        """The SWF model: one pool of ``procs`` processors."""
        if procs < 1:
            raise ValueError(f"a machine needs at least one processor (got {procs})")
        return cls([Node("pool", cpus=procs)], pool=True)

    @property
    def total_cpus(self) -> int:
        return sum(n.cpus for n in self.nodes)

    @property
    def gpu_types(self) -> list[str]:
        return sorted({t for n in self.nodes for t in n.gpus})

    def partition(self, name: str) -> Partition:
        """The named partition, or the default one for an empty name."""
        if not name:
            return next(p for p in self.partitions if p.default)
        for p in self.partitions:
            if p.name == name:
                return p
        raise KeyError(name)
