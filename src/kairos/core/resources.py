"""What is free *now*, and how to ask about the future (``profile``).

``PoolResources`` counts processors of one pool; ``NodeResources`` keeps a free vector
``[cpus, mem, gpus of type 0, gpus of type 1, ...]`` per node plus free licenses, and
chooses nodes for a job (``place``).  A placement is an opaque handle the scheduler stores
on the job and hands back on ``release``.
"""

from __future__ import annotations

import functools

from kairos.core.cluster import Cluster, NodeState
from kairos.core.jobs import Job
from kairos.core.profile import NodeProfile, PoolProfile, Unsatisfiable


class PoolResources:
    def __init__(self, cluster: Cluster) -> None:
        self.capacity = cluster.nodes[0].cpus
        self.free = self.capacity

    def check(self, job: Job) -> None:
        """Raise ``Unsatisfiable`` if ``job`` could never run here."""
        if job.request.cpus > self.capacity:
            raise Unsatisfiable(
                f"job {job.id} asks for {job.request.cpus} processors; the machine has {self.capacity}"
            )

    def allocate(self, placement: int) -> None:
        self.free -= placement

    def release(self, placement: int) -> None:
        self.free += placement

    def claim(self, job: Job, nodes) -> int:
        """The placement of a job already running (``Scheduler.adopt``)."""
        return job.request.cpus

    def profile(self, now: float, ends: list[tuple]) -> PoolProfile:
        return PoolProfile(now, self.free, self.capacity, ends)

    def describe(self, placement: int) -> list[str]:
        return ["pool"]


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

    def _vector(self, cpus: int, mem: int, gpus: dict[str, int]) -> list[int]:
        v = [cpus, mem] + [0] * len(self.gpu_types)
        for t, n in gpus.items():
            v[self._gpu_index[t]] = n
        return v

    def candidates(self, job: Job) -> list[int]:
        """Indices of the nodes ``job`` may use: its partition's, up, with its features."""
        key = (job.partition, job.request.features)
        cached = self._candidates.get(key)
        if cached is None:
            part = self.cluster.partition(job.partition)
            allowed = set(part.nodes) if part.nodes is not None else None
            cached = [
                i for i, n in enumerate(self.cluster.nodes)
                if (allowed is None or n.name in allowed)
                and job.request.features <= n.features
            ]
            self._candidates[key] = cached
        nodes = self.cluster.nodes
        return [i for i in cached if nodes[i].state is NodeState.UP]

    def forget_candidates(self) -> None:
        """Call after node or partition changes (also makes older profiles stale)."""
        self._candidates.clear()
        self.generation += 1

    def check(self, job: Job) -> None:
        """Raise ``Unsatisfiable`` if ``job`` could never run here, saying why."""
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
        empty = [list(v) for v in self.capacity]
        if self.place(job, empty, dict(self.cluster.licenses), all_nodes=True) is None:
            features = f" and features {sorted(req.features)}" if req.features else ""
            raise Unsatisfiable(
                f"job {job.id}: {req.nodes} node(s) with {req.cpus_per_node} CPUs, "
                f"{req.mem_per_node} MiB and {_describe_gpus(req.gpus_per_node)} each{features} "
                f"do not exist in partition {part.name!r}"
            )

    def place(self, job: Job, free: list[list[int]], licenses: dict[str, int], *,
              all_nodes: bool = False):
        """Choose nodes for ``job`` given free vectors; None if it does not fit.

        Nodes are taken in cluster order (like Slurm with equal node weights)."""
        req = job.request
        wanted = _license_demand(req.licenses)
        for name, n in wanted:
            if licenses.get(name, 0) < n:
                return None
        cpn, mem = req.cpus_per_node, req.mem_per_node
        chosen = []
        nodes = self.candidates(job) if not all_nodes else self._all_candidates(job)
        for i in nodes:
            v = free[i]
            if v[0] < cpn or v[1] < mem:
                continue
            alloc = self._gpu_alloc(v, req.gpus_per_node)
            if alloc is None:
                continue
            vec = [cpn, mem] + alloc
            chosen.append((i, tuple(vec)))
            if len(chosen) == req.nodes:
                return (tuple(chosen), wanted)
        return None

    def claim(self, job: Job, nodes) -> tuple:
        """The placement of a job already running on the named ``nodes``
        (``Scheduler.adopt``): its request's share of each, GPUs by type as the nodes
        have them, whatever is free there now.  Unknown or missing names are replaced by
        the first nodes of its partition, so a job is never refused adoption."""
        req = job.request
        chosen = [self.cluster.node_index[n] for n in nodes if n in self.cluster.node_index]
        if len(chosen) < req.nodes:
            spare = [i for i in self._all_candidates(job) if i not in chosen]
            spare += [i for i in range(len(self.cluster.nodes)) if i not in chosen + spare]
            chosen += spare[:req.nodes - len(chosen)]
        per_node = []
        for i in chosen[:req.nodes]:
            gpus = self._gpu_alloc(self.capacity[i], req.gpus_per_node)
            if gpus is None:  # the node lost GPUs: count what it still has
                gpus = [0] * len(self.gpu_types)
            per_node.append((i, (req.cpus_per_node, req.mem_per_node, *gpus)))
        return (tuple(per_node), _license_demand(req.licenses))

    def _all_candidates(self, job: Job) -> list[int]:
        part = self.cluster.partition(job.partition)
        allowed = set(part.nodes) if part.nodes is not None else None
        return [
            i for i, n in enumerate(self.cluster.nodes)
            if (allowed is None or n.name in allowed) and job.request.features <= n.features
        ]

    def _gpu_alloc(self, v: list[int], wants) -> list[int] | None:
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

    def profile(self, now: float, ends: list[tuple]) -> NodeProfile:
        return NodeProfile(now, self.free, self.licenses, ends, self)

    def describe(self, placement) -> list[str]:
        """Node names of a placement (for SLURM_JOB_NODELIST and squeue)."""
        return [self.cluster.nodes[i].name for i, _ in placement[0]]


def make_resources(cluster: Cluster) -> PoolResources | NodeResources:
    """Fresh bookkeeping of what is free now in ``cluster`` (everything, at first)."""
    return PoolResources(cluster) if cluster.is_pool else NodeResources(cluster)


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
