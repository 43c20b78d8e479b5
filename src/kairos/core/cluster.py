"""The machine: nodes, partitions and cluster-wide licenses.

``Cluster.pool(n)`` is the SWF processor model (one pool of ``n`` processors, no
memory or GPUs); any other cluster is scheduled node by node.  Both go through the same
scheduler; only the resource bookkeeping (``kairos.core.resources``) differs.

Nodes may join later (``Scheduler.add_node``, Slurm's dynamic nodes).  A ``dynamic``
cluster may start without nodes and its partitions may name nodes that have not
registered yet; a node joins every partition whose node list is "all" (``None``) or
names it.
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
                 licenses: dict[str, int] | None = None, *, pool: bool = False,
                 dynamic: bool = False) -> None:
        if not nodes and not dynamic:
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
        #: GPU types, sorted; a type first brought by a joining node comes last, so
        #: that the columns of free vectors (``kairos.core.resources``) never move
        self._gpu_types = sorted({t for n in nodes for t in n.gpus})
        self._total_cpus = sum(n.cpus for n in nodes)  #: kept as nodes join
        for p in self.partitions:
            for name in p.nodes or ():
                if name not in self.node_index and not dynamic:
                    raise ValueError(f"partition {p.name!r} names unknown node {name!r}")

    def node(self, name: str) -> Node:
        """The node called ``name``; KeyError naming it when there is none."""
        index = self.node_index.get(name)
        if index is None:
            raise KeyError(f"no node named {name!r}")
        return self.nodes[index]

    def unavailable(self, names: frozenset[str]) -> list[str]:
        """Those of ``names`` whose node is drained or down, in cluster order."""
        return [n.name for n in self.nodes if n.name in names and n.state is not NodeState.UP]

    def add_node(self, node: Node) -> None:
        """Append a node that joined (use ``Scheduler.add_node``, which also counts
        its resources)."""
        if self.is_pool:
            raise ValueError("a processor pool takes no nodes")
        if node.name in self.node_index:
            raise ValueError(f"node {node.name!r} is already known; change its state instead")
        self.node_index[node.name] = len(self.nodes)
        self.nodes.append(node)
        self._total_cpus += node.cpus
        self._gpu_types += sorted(set(node.gpus) - set(self._gpu_types))

    @classmethod
    def pool(cls, procs: int) -> "Cluster":
        """The SWF model: one pool of ``procs`` processors."""
        if procs < 1:
            raise ValueError(f"a machine needs at least one processor (got {procs})")
        return cls([Node("pool", cpus=procs)], pool=True)

    @property
    def total_cpus(self) -> int:
        return self._total_cpus

    @property
    def gpu_types(self) -> list[str]:
        return list(self._gpu_types)

    def partition(self, name: str) -> Partition:
        """The named partition, or the default one for an empty name."""
        if not name:
            return next(p for p in self.partitions if p.default)
        for p in self.partitions:
            if p.name == name:
                return p
        raise KeyError(name)
