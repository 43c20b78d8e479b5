"""The shape of a test cluster on one machine: which node gets which name, CPUs, memory,
home, address and port.

A plan is pure data, made before anything starts and kept in the cluster's state file,
so that every later command (``kairos down``, a test, a benchmark) sees the same
cluster.  The node daemon's command line is built from it.

The test cluster oversubscribes: it describes N "hosts" carved out of one machine, so
with more nodes than cores, nodes share cores (every node still gets at least one CPU),
and an explicit ``cpus_per_node`` times N beyond the core count makes nodes share cores
too.  A node never announces more CPUs than it has distinct core ids (the node daemon
refuses that).  Memory is the machine's usable memory split evenly unless
asked otherwise; nothing stops the nodes' jobs from using more than their share together.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from enum import Enum
from pathlib import Path

import psutil

from kairos.node.facts import MIB, default_reserve_mib
from kairos.node.munged import SOCKET_NAME
from kairos.node.netns import MAX_NODES, Bridge

#: slurmd's port: with namespaces every node has an address of its own and uses it.
DEFAULT_NODE_PORT = 6818
#: The controller's port for node daemons (see the cluster design).
DEFAULT_CONTROLLER_PORT = 6820
LOOPBACK = "127.0.0.1"
_HOSTNAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


class Network(Enum):
    """How the nodes of a test cluster are reached."""

    NAMESPACES = "namespaces"  # one network namespace and address per node
    LOOPBACK = "loopback"      # every node on 127.0.0.1, one port each


@dataclass(frozen=True)
class NodePlan:
    """One node of the test cluster.

    ``cpus`` is what the node announces and ``cpu_ids`` the machine's cores its jobs may
    use; ``netns`` is its network namespace (None on the loopback network) and
    ``munge_socket`` its own munged's socket (None without MUNGE).
    """

    name: str
    index: int
    cpus: int
    cpu_ids: tuple[int, ...]
    mem_mib: int
    home: Path
    addr: str
    port: int
    netns: str | None = None
    munge_socket: Path | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.addr}:{self.port}"


@dataclass(frozen=True)
class TestbedPlan:
    """The whole test cluster: the controller's home, address and port, and its nodes."""

    __test__ = False  # a plan, not a pytest test class

    home: Path
    network: Network
    controller_name: str
    controller_addr: str
    controller_port: int
    nodes: tuple[NodePlan, ...]
    bridge: str | None = None
    controller_munge_socket: Path | None = None

    @property
    def controller(self) -> str:
        """``HOST:PORT`` the node daemons are told to reach the controller at."""
        return f"{self.controller_addr}:{self.controller_port}"

    def node(self, name: str) -> NodePlan:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"no node {name!r} in this test cluster ({', '.join(n.name for n in self.nodes)})")

    def addresses(self) -> dict[str, str]:
        """``{name: address}`` for the controller and every node (the hosts file's lines)."""
        return {self.controller_name: self.controller_addr, **{n.name: n.addr for n in self.nodes}}

    def to_json(self) -> dict:
        data = asdict(self)
        data["network"] = self.network.value
        return _paths_to_text(data)

    @classmethod
    def from_json(cls, data: dict) -> TestbedPlan:
        nodes = tuple(NodePlan(**{**n, "cpu_ids": tuple(n["cpu_ids"]), "home": Path(n["home"]),
                                  "munge_socket": _path(n["munge_socket"])}) for n in data["nodes"])
        return cls(**{**data, "home": Path(data["home"]), "network": Network(data["network"]), "nodes": nodes,
                      "controller_munge_socket": _path(data["controller_munge_socket"])})


def make_plan(home: Path, count: int, *, names: Sequence[str] | None = None, prefix: str = "kn",
              cores: Sequence[int] | None = None, mem_mib: int | None = None,
              cpus_per_node: int | None = None, mem_mib_per_node: int | None = None,
              bridge: Bridge | None = None, controller_name: str | None = None,
              controller_port: int | None = None, node_port: int | None = None) -> TestbedPlan:
    """Plan ``count`` nodes on this machine for the controller living in ``home``.

    Names are ``names`` or ``<prefix>1..<prefix>N``; each node's home is
    ``<home>/testbed/<name>``.  ``cores`` (default: this process's CPUs) are dealt round
    robin (see :func:`cpu_shares`); ``mem_mib`` (default: the machine's usable memory) is
    split evenly.  On a ``bridge`` the controller is its ``.1`` and node i ``.(10+i)``,
    every node on ``node_port`` (default 6818) in namespace ``<bridge>-<name>``; without
    one everything is on 127.0.0.1 and ``node_port`` is the first of consecutive ports
    (default: ports free now).  The controller is named after this machine unless
    ``controller_name`` says otherwise.
    """
    names = list(names) if names is not None else [f"{prefix}{i}" for i in range(1, count + 1)]
    controller_name = controller_name or socket.gethostname().split(".", 1)[0]
    _check_names(names, count, controller_name)
    cores = sorted(os.sched_getaffinity(0)) if cores is None else list(cores)
    mem_mib = usable_mem_mib() if mem_mib is None else mem_mib
    if bridge is not None:
        if count > MAX_NODES:
            raise ValueError(f"{count} nodes do not fit a /24: {MAX_NODES} at most")
        gateway = bridge.gateway
        addrs = [bridge.node_addr(i) for i in range(1, count + 1)]
        ports = [node_port or DEFAULT_NODE_PORT] * count
        controller_port = controller_port or DEFAULT_CONTROLLER_PORT
    else:
        gateway, addrs = LOOPBACK, [LOOPBACK] * count
        wanted = free_ports(count + (controller_port is None))
        ports = [node_port + i for i in range(count)] if node_port else wanted[:count]
        controller_port = controller_port or wanted[-1]
    shares = cpu_shares(cores, count, cpus_per_node)
    each_mem = mem_mib_per_node or max(1, mem_mib // count)
    nodes = tuple(NodePlan(name, i + 1, cpus, ids, each_mem, Path(home) / "testbed" / name, addrs[i], ports[i],
                           bridge.namespace(name) if bridge else None)
                  for i, (name, (cpus, ids)) in enumerate(zip(names, shares)))
    return TestbedPlan(Path(home), Network.NAMESPACES if bridge else Network.LOOPBACK, controller_name,
                       gateway, controller_port, nodes, bridge.name if bridge else None)


def with_munge(plan: TestbedPlan) -> TestbedPlan:
    """The plan with a munged socket for each node in its home, and one for the controller
    (in a folder no node name can take)."""
    nodes = tuple(replace(n, munge_socket=n.home / "munge" / SOCKET_NAME) for n in plan.nodes)
    return replace(plan, nodes=nodes,
                   controller_munge_socket=plan.home / "testbed" / "controller.munge" / SOCKET_NAME)


def cpu_shares(cores: Sequence[int], count: int, cpus_per_node: int | None = None) -> list[tuple[int, tuple[int, ...]]]:
    """``(cpus, core ids)`` for each of ``count`` nodes, cores dealt round robin.

    With as many cores as nodes or more, every core goes to exactly one node (shares
    differ by one at most); with fewer, node i gets core ``i mod len(cores)`` alone.
    ``cpus_per_node`` fixes every node's CPU count instead (at most the number of
    cores): each node takes the next that many cores, round the list, so nodes share
    cores once it wraps.
    """
    cores = sorted(set(cores))
    if not cores:
        raise ValueError("no cores to share between the test cluster's nodes")
    if cpus_per_node is not None and not 1 <= cpus_per_node <= len(cores):
        raise ValueError(f"cpus_per_node is {cpus_per_node}: every node needs 1 CPU at least and "
                         f"{len(cores)} (the cores there are) at most")
    shares = []
    for i in range(count):
        if cpus_per_node is None:
            ids = tuple(cores[i::count]) or (cores[i % len(cores)],)
            shares.append((len(ids), ids))
        else:
            ids = _deal(cores, start=i * cpus_per_node, count=cpus_per_node)
            shares.append((cpus_per_node, ids))
    return shares


def _deal(cores: Sequence[int], start: int, count: int) -> tuple[int, ...]:
    """``count`` distinct cores from position ``start`` on, round the list."""
    return tuple(sorted(cores[(start + j) % len(cores)] for j in range(count)))


def usable_mem_mib() -> int:
    """The machine's memory less the reserve the node facts keep for the system."""
    total = psutil.virtual_memory().total // MIB
    return total - default_reserve_mib(total)


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 now (someone may take them later)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((LOOPBACK, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _check_names(names: list[str], count: int, controller_name: str) -> None:
    if count < 1:
        raise ValueError(f"a test cluster needs at least 1 node, not {count}")
    if len(names) != count:
        raise ValueError(f"{len(names)} node names for {count} nodes")
    if len(set(names)) != len(names):
        raise ValueError(f"node names repeat: {', '.join(names)}")
    if controller_name in names:
        raise ValueError(f"{controller_name!r} names the controller; pick other node names")
    bad = [n for n in names if not _HOSTNAME.match(n)]
    if bad:
        raise ValueError(f"not a node name: {', '.join(bad)} (lower-case letters, digits and '-', "
                         "starting with a letter, 31 characters at most)")


def _paths_to_text(value):
    if isinstance(value, dict):
        return {k: _paths_to_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_paths_to_text(v) for v in value]
    return str(value) if isinstance(value, Path) else value


def _path(value: str | None) -> Path | None:
    return None if value is None else Path(value)
