"""What is free *now*, and how to ask about the future (``profile``).

``PoolResources`` counts processors of one pool; ``NodeResources`` keeps a free vector
``[cpus, mem, gpus of type 0, gpus of type 1, ...]`` per node plus free licenses, and
chooses nodes for a job (``place``).  A placement is an opaque handle the scheduler stores
on the job and hands back on ``release``.

Placement honours Slurm's node-selection options (``Request``): partitions, features
(all of, any of), ``-x`` (never these nodes), ``-w`` (these nodes, then others in
cluster order) and ``--exclusive`` (only idle nodes, taken whole).  A spread request
(``-n`` without ``-N``) takes as many nodes as its tasks need, with a share of each
that depends on how many of them it runs (``kairos.core.spread``).  Now and in the
future alike: the availability profile asks ``place`` too, with the free vectors it
expects at a later time.  All of a job's nodes are chosen at once, or none.

Nodes may join while the scheduler runs (``add_node``): the vectors grow, a GPU type
never seen before gets a new column at the end (placements made earlier stay valid,
they are just shorter), and ``generation`` moves on so older profiles are stale.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import NamedTuple

from kairos.core import spread
from kairos.core.cluster import Cluster, Node, NodeState, Partition
from kairos.core.jobs import Job, Request
from kairos.core.profile import (InvalidFeature, InvalidNodeName, NodeProfile, PoolProfile,
                                 Unsatisfiable)
from kairos.core.timeline import TimelineProfile


class NodeShare(NamedTuple):
    """What a running job holds on one node (``Scheduler.allocation``)."""

    name: str
    cpus: int
    mem: int  #: MiB
    gpus: dict[str, int]  #: GPU type -> count


class PoolResources:
    def __init__(self, cluster: Cluster) -> None:
        self.capacity = cluster.nodes[0].cpus
        self.free = self.capacity

    def check(self, job: Job) -> None:
        """Raise ``Unsatisfiable`` if ``job`` could never run here."""
        req = job.request
        if req.exclusive or req.nodelist or req.exclude or req.any_features:
            raise Unsatisfiable(
                f"job {job.id}: a processor pool has no nodes to choose from "
                "(-w, -x, --exclusive and --constraint need a cluster of nodes)"
            )
        if req.cpus > self.capacity:
            raise Unsatisfiable(
                f"job {job.id} asks for {req.cpus} processors; the machine has {self.capacity}"
            )

    def allocate(self, placement: int) -> None:
        self.free -= placement

    def release(self, placement: int) -> None:
        self.free += placement

    def claim(self, job: Job, nodes, cpus=None) -> int:
        """The placement of a job already running (``Scheduler.adopt``)."""
        return job.request.cpus

    def profile(self, now: float, ends: list[tuple]) -> PoolProfile:
        return PoolProfile(now, self.free, self.capacity, ends)

    def describe(self, placement: int) -> list[str]:
        return ["pool"]

    def allocation(self, placement: int) -> list[NodeShare]:
        return [NodeShare("pool", placement, 0, {})]

    def holds(self, placement: int, name: str) -> bool:
        return name == "pool"


class NodeResources:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.gpu_types = cluster.gpu_types
        self._gpu_index = {t: 2 + k for k, t in enumerate(self.gpu_types)}
        self.capacity = [self._vector(n.cpus, n.mem, n.gpus) for n in cluster.nodes]
        self.free = [list(v) for v in self.capacity]
        self.licenses = dict(cluster.licenses)
        self._candidates: dict[tuple, list[int]] = {}
        #: bumped by ``forget_candidates``: a profile built before a node or partition
        #: change is stale, because jobs that did not fit then may fit now
        self.generation = 0
        #: plan with ``NodeProfile`` (a free vector per node at every step) instead of
        #: ``TimelineProfile``: the same answers, slowly; a reference for tests and
        #: benchmarks
        self.reference = False
        #: (partition, request) -> whether it fits the empty cluster (``check``)
        self._fits_empty: dict[tuple, bool] = {}
        self._features: frozenset[str] | None = None

    def _vector(self, cpus: int, mem: int, gpus: dict[str, int]) -> list[int]:
        v = [cpus, mem] + [0] * len(self.gpu_types)
        for t, n in gpus.items():
            v[self._gpu_index[t]] = n
        return v

    def add_node(self, node: Node) -> None:
        """Count a node that has just joined ``cluster.nodes`` (at the end), all free.
        A GPU type it is the first to bring gets a column after the others."""
        for gpu_type in self.cluster.gpu_types[len(self.gpu_types):]:
            self._gpu_index[gpu_type] = 2 + len(self.gpu_types)
            self.gpu_types.append(gpu_type)
            for vector in self.capacity + self.free:
                vector.append(0)
        capacity = self._vector(node.cpus, node.mem, node.gpus)
        self.capacity.append(capacity)
        self.free.append(list(capacity))
        self.forget_candidates()

    # ------------------------------------------------------------------ which nodes

    def candidates(self, job: Job) -> list[int]:
        """Indices of the nodes ``job`` may use now: ``selectable`` ones that are up."""
        nodes = self.cluster.nodes
        return [i for i in self._selectable_cached(job) if nodes[i].state is NodeState.UP]

    def _selectable_cached(self, job: Job) -> list[int]:
        """``selectable``, kept per partition and node selection until the nodes change."""
        req = job.request
        key = (job.partition, req.features, req.any_features, req.exclude)
        cached = self._candidates.get(key)
        if cached is None:
            cached = self._candidates[key] = self.selectable(job)
        return cached

    def selectable(self, job: Job) -> list[int]:
        """Indices of the nodes ``job`` may ever use, whatever their state: in its
        partition, with its features, not excluded."""
        part = self.cluster.partition(job.partition)
        return [i for i, node in enumerate(self.cluster.nodes)
                if _in_partition(node, part) and _serves(job.request, node)]

    def forget_candidates(self) -> None:
        """Call after node or partition changes (also makes older profiles stale)."""
        self._candidates.clear()
        self._fits_empty.clear()
        self._features = None
        self.generation += 1

    # ------------------------------------------------------------------ submission

    def check(self, job: Job) -> None:
        """Raise ``Unsatisfiable`` if ``job`` could never run here, saying why (a
        subclass naming Slurm's words for an unknown feature or node)."""
        req = job.request
        negative = [
            what for what, n in [("memory", req.mem_per_node)]
            + [(f"GPUs of type {t!r}" if t else "GPUs", n) for t, n in req.gpus_per_node]
            + [(f"{name!r} licenses", n) for name, n in req.licenses]
            if n < 0
        ]
        if negative:
            raise Unsatisfiable(f"job {job.id}: negative amount of {', '.join(negative)}")
        try:
            part = self.cluster.partition(job.partition)
        except KeyError:
            names = ", ".join(p.name for p in self.cluster.partitions)
            raise Unsatisfiable(f"job {job.id}: no partition {job.partition!r} (have: {names})") from None
        if job.time_limit > part.max_time:
            raise Unsatisfiable(
                f"job {job.id}: time limit {job.time_limit:g}s exceeds partition {part.name!r}'s {part.max_time:g}s"
            )
        if part.max_nodes is not None and req.nodes > part.max_nodes:
            raise Unsatisfiable(f"job {job.id}: {req.nodes} nodes exceeds partition {part.name!r}'s {part.max_nodes}")
        for t, _ in req.gpus_per_node:
            if t is not None and t not in self._gpu_index:
                have = ", ".join(self.gpu_types) or "none"
                raise Unsatisfiable(f"job {job.id}: no GPUs of type {t!r} (have: {have})")
        for name, n in _license_demand(req.licenses):
            if self.cluster.licenses.get(name, 0) < n:
                raise Unsatisfiable(
                    f"job {job.id}: asks for {n} {name!r} license(s); the cluster has {self.cluster.licenses.get(name, 0)}"
                )
        self._check_selection(job, part)
        key = (job.partition, req)
        fits = self._fits_empty.get(key)
        if fits is None:
            # Placing reads the free vectors only: the capacities stand for an empty cluster.
            fits = self.place(job, self.capacity, dict(self.cluster.licenses),
                              all_nodes=True) is not None
            self._fits_empty[key] = fits
        if not fits:
            if req.spread:
                raise Unsatisfiable(
                    f"job {job.id}: {_describe_spread(req)}{_describe_selection(req)} "
                    f"do not fit in partition {part.name!r}"
                    + (f" (at most {part.max_nodes} nodes)" if part.max_nodes is not None else "")
                )
            raise Unsatisfiable(
                f"job {job.id}: {req.nodes} node(s) with {req.cpus_per_node} CPUs, "
                f"{req.mem_per_node} MiB and {_describe_gpus(req.gpus_per_node)} each"
                f"{_describe_selection(req)} do not exist in partition {part.name!r}"
            )

    def _check_selection(self, job: Job, part: Partition) -> None:
        """The node names and features ``job`` gives exist, and its ``-w`` nodes may
        serve it."""
        req = job.request
        index = self.cluster.node_index
        for option, names in (("-w", req.nodelist), ("-x", req.exclude)):
            unknown = sorted(name for name in names if name not in index)
            if unknown:
                raise InvalidNodeName(
                    f"job {job.id}: no node named {', '.join(unknown)} (in {option})")
        if self._features is None:
            self._features = frozenset(f for node in self.cluster.nodes for f in node.features)
        known = self._features
        missing = sorted((req.features | req.any_features) - known)
        if missing:
            raise InvalidFeature(f"job {job.id}: no node has features {missing}")
        for name in sorted(req.nodelist):
            node = self.cluster.nodes[index[name]]
            if not _in_partition(node, part):
                raise Unsatisfiable(f"job {job.id}: node {name} (in -w) is not in partition {part.name!r}")
            if not _serves(req, node):
                raise Unsatisfiable(f"job {job.id}: node {name} (in -w) lacks the features "
                                    f"the constraint asks for")

    # ------------------------------------------------------------------ placement

    def place(self, job: Job, free: list[list[int]], licenses: dict[str, int], *,
              all_nodes: bool = False, among: Iterable[int] | None = None):
        """Choose nodes for ``job`` given free vectors; None if it does not fit.

        Nodes are taken in cluster order (like Slurm with equal node weights), the
        ``-w`` nodes first; a spread request takes as many as its tasks need
        (``kairos.core.spread``).  ``all_nodes``: whatever their state (the submission
        check).  ``among``: the candidates that may have room, in cluster order, read once (a
        profile that knows which do not saves looking at them; the same choice).
        """
        req = job.request
        wanted = _license_demand(req.licenses)
        for name, n in wanted:
            if licenses.get(name, 0) < n:
                return None
        if among is not None:
            nodes = among
        else:
            nodes = self.candidates(job) if not all_nodes else self._selectable_cached(job)
        if req.exclusive or req.nodelist or req.spread:
            if req.spread:
                return spread.place(self, job, nodes, free, wanted)
            return self._place_selected(req, nodes, free, wanted)
        cpn, mem = req.cpus_per_node, req.mem_per_node
        chosen = []
        for i in nodes:
            v = free[i]
            if v[0] < cpn or v[1] < mem:
                continue
            alloc = self.gpu_share(v, req.gpus_per_node)
            if alloc is None:
                continue
            vec = [cpn, mem] + alloc
            chosen.append((i, tuple(vec)))
            if len(chosen) == req.nodes:
                return (tuple(chosen), wanted)
        return None

    def _place_selected(self, req: Request, nodes: list[int], free: list[list[int]], wanted):
        """``place`` for ``-w`` and ``--exclusive``: every ``-w`` node (usable, with
        room) and then first fit; the shares in cluster order (the first node is where
        a batch script runs, as in Slurm)."""
        index = self.cluster.node_index
        required = {index[name] for name in req.nodelist if name in index}
        if len(required) < len(req.nodelist) or (required and not required <= set(nodes)):
            return None
        chosen = []
        for i in sorted(required):
            share = self._share(req, i, free[i])
            if share is None:
                return None
            chosen.append((i, share))
        for i in nodes:
            if len(chosen) == req.nodes:
                break
            if i not in required:
                share = self._share(req, i, free[i])
                if share is not None:
                    chosen.append((i, share))
        if len(chosen) < req.nodes:
            return None
        chosen.sort()
        return (tuple(chosen), wanted)

    def _share(self, req: Request, i: int, free: list[int]) -> tuple[int, ...] | None:
        """What ``req`` takes of node ``i`` when ``free`` is free there, or None.  An
        exclusive job needs the node idle and takes all its CPUs and GPUs (memory: what
        it asked for, as Slurm)."""
        if req.exclusive:
            capacity = self.capacity[i]
            if free != capacity:
                return None
            free = capacity
        if free[0] < req.cpus_per_node or free[1] < req.mem_per_node:
            return None
        alloc = self.gpu_share(free, req.gpus_per_node)
        if alloc is None:
            return None
        if req.exclusive:
            return (free[0], req.mem_per_node, *free[2:])
        return (req.cpus_per_node, req.mem_per_node, *alloc)

    def claim(self, job: Job, nodes, cpus=None) -> tuple:
        """The placement of a job already running on the named ``nodes``
        (``Scheduler.adopt``): its request's share of each, GPUs by type as the nodes
        have them, whatever is free there now.  Unknown or missing names are replaced by
        the first nodes of its partition, so a job is never refused adoption.  A spread
        job's shares differ from node to node: ``cpus``, the CPUs it was recorded
        holding on each of ``nodes``, says what they are."""
        req = job.request
        if req.spread:
            return spread.claim(self, job, list(nodes), cpus, _license_demand(req.licenses))
        chosen = [self.cluster.node_index[n] for n in nodes if n in self.cluster.node_index]
        if len(chosen) < req.nodes:
            spare = [i for i in self.selectable(job) if i not in chosen]
            spare += [i for i in range(len(self.cluster.nodes)) if i not in chosen + spare]
            chosen += spare[:req.nodes - len(chosen)]
        per_node = []
        for i in chosen[:req.nodes]:
            capacity = self.capacity[i]
            if req.exclusive:
                per_node.append((i, (capacity[0], req.mem_per_node, *capacity[2:])))
                continue
            gpus = self.gpu_share(capacity, req.gpus_per_node)
            if gpus is None:  # the node lost GPUs: count what it still has
                gpus = [0] * len(self.gpu_types)
            per_node.append((i, (req.cpus_per_node, req.mem_per_node, *gpus)))
        return (tuple(per_node), _license_demand(req.licenses))

    def gpu_share(self, v: list[int], wants) -> list[int] | None:
        """The GPUs per type that ``wants`` takes of free vector ``v`` (a typed want
        first, then any type from the first types with some left), or None."""
        alloc = [0] * len(self.gpu_types)
        any_type = 0
        for t, n in wants:
            if t is None:
                any_type += n
            else:
                k = self._gpu_index[t] - 2
                if v[2 + k] - alloc[k] < n:
                    return None
                alloc[k] += n
        for k in range(len(alloc)):
            if any_type == 0:
                break
            take = min(any_type, v[2 + k] - alloc[k])
            alloc[k] += take
            any_type -= take
        return alloc if any_type == 0 else None

    # ------------------------------------------------------------------ bookkeeping

    def allocate(self, placement) -> None:
        self._apply(placement, -1)

    def release(self, placement) -> None:
        self._apply(placement, +1)

    def _apply(self, placement, sign: int) -> None:
        per_node, licenses = placement
        for i, vec in per_node:
            free = self.free[i]
            for d, amount in enumerate(vec):
                free[d] += sign * amount
        for name, n in licenses:
            self.licenses[name] += sign * n

    def profile(self, now: float, ends: list[tuple]) -> NodeProfile | TimelineProfile:
        kind = NodeProfile if self.reference else TimelineProfile
        return kind(now, self.free, self.licenses, ends, self)

    def describe(self, placement) -> list[str]:
        """Node names of a placement, in cluster order (for SLURM_JOB_NODELIST and
        squeue; a batch script runs on the first)."""
        return [self.cluster.nodes[i].name for i, _ in placement[0]]

    def allocation(self, placement) -> list[NodeShare]:
        """What a placement holds on each of its nodes, in cluster order."""
        names, types = self.cluster.nodes, self.gpu_types
        return [NodeShare(names[i].name, vec[0], vec[1],
                          {types[k]: n for k, n in enumerate(vec[2:]) if n})
                for i, vec in placement[0]]

    def holds(self, placement, name: str) -> bool:
        """Whether a placement has a share of the node called ``name``."""
        i = self.cluster.node_index.get(name)
        return any(node == i for node, _ in placement[0])


def make_resources(cluster: Cluster) -> PoolResources | NodeResources:
    """Fresh bookkeeping of what is free now in ``cluster`` (everything, at first)."""
    return PoolResources(cluster) if cluster.is_pool else NodeResources(cluster)


def _in_partition(node: Node, part: Partition) -> bool:
    return part.nodes is None or node.name in part.nodes


def _serves(req: Request, node: Node) -> bool:
    """Whether ``node`` meets ``req``'s constraint and is not excluded."""
    return (req.features <= node.features
            and (not req.any_features or not req.any_features.isdisjoint(node.features))
            and node.name not in req.exclude)


@functools.lru_cache(maxsize=4096)
def _license_demand(licenses: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    """Total count per license name, zero counts dropped: a request may name a license
    twice, and both must come out of the same cluster-wide count."""
    total: dict[str, int] = {}
    for name, n in licenses:
        total[name] = total.get(name, 0) + n
    return tuple((name, n) for name, n in total.items() if n != 0)


def _describe_gpus(wants) -> str:
    """``2 GPUs``, ``1 a100 GPU and 2 GPUs of any type``, ``no GPUs``."""
    if not wants:
        return "no GPUs"
    parts = [f"{n} {t + ' ' if t else ''}GPU{'s' if n != 1 else ''}" for t, n in wants]
    return " and ".join(parts)


def _describe_spread(req: Request) -> str:
    """``3 task(s) of 1 CPU with 50 MiB and no GPUs on each node``: what a spread
    request asks, for the message of one that never fits."""
    cpus = f"{req.cpus_per_task} CPU{'s' if req.cpus_per_task != 1 else ''}"
    memory = f"{req.mem_per_cpu} MiB per CPU" if req.mem_per_cpu else f"{req.mem_per_node} MiB"
    return (f"{req.tasks} task(s) of {cpus} with {memory} and "
            f"{_describe_gpus(req.gpus_per_node)} on each node")


def _describe_selection(req: Request) -> str:
    """`` and features ['ib']``, `` (whole nodes)``...: the node-selection options of
    a request, for the message of a job that never fits."""
    parts = []
    if req.features:
        parts.append(f" and features {sorted(req.features)}")
    if req.any_features:
        parts.append(f" and any of features {sorted(req.any_features)}")
    if req.exclusive:
        parts.append(" (whole nodes)")
    if req.nodelist:
        parts.append(f", including {', '.join(sorted(req.nodelist))},")
    if req.exclude:
        parts.append(f", excluding {', '.join(sorted(req.exclude))},")
    return "".join(parts)
