"""Placing a spread request: Slurm's ``-n`` without ``-N``, tasks on as many nodes as
they need.

A request that does not spread takes the same share of each of exactly ``nodes``
nodes (``NodeResources.place``).  A spread one (``Request.spread``) asks for tasks, not
nodes: on nodes of one CPU, ``-n 3`` is three nodes with one task each; on idle nodes
of two, two nodes with two tasks and one.  The nodes are taken in the usual order
(the ``-w`` nodes first, then cluster order), each as many whole tasks as it has room
for (its free CPUs, and memory with ``mem_per_cpu``), until every task has a node and
there are at least ``nodes`` of them; every node also needs ``mem_per_node`` and
``gpus_per_node``, and an exclusive request takes idle nodes whole.  Each chosen node
runs at least one task (``fill_tasks``), so there are never more nodes than tasks,
nor more than the partition's ``MaxNodes``.

The share of each node is what its tasks hold, so nodes differ: a job adopted after a
restart is counted with the CPUs it was recorded holding on each (``claim``).  Nothing
here runs for a request that does not spread, and the processor pool of the trace
replays never spreads.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import chain

from kairos.core.jobs import Job, Request, fill_tasks


def place(resources, job: Job, nodes: Iterable[int], free: list[list[int]], wanted):
    """The placement of spread ``job`` on the usable ``nodes`` (in cluster order, read
    once) with ``free`` vectors, or None when its tasks do not all fit
    (``NodeResources.place``)."""
    req = job.request
    index = resources.cluster.node_index
    required = sorted({index[name] for name in req.nodelist if name in index})
    if len(required) < len(req.nodelist) or (required and not set(nodes).issuperset(required)):
        return None
    least = max(req.nodes, len(required))
    chosen: list[tuple[int, int]] = []  # (node, tasks it has room for)
    room = 0
    taken = set(required)
    for i in chain(required, (i for i in nodes if i not in taken)):
        fits = task_room(resources, req, i, free[i])
        if fits < 1:
            if i in taken:
                return None  # a -w node without room: the job does not fit now
            continue
        chosen.append((i, min(fits, req.tasks)))
        room += fits
        if room >= req.tasks and len(chosen) >= least:
            break
    else:
        return None
    if len(chosen) > _max_nodes(resources, job):
        return None
    counts = fill_tasks([fits for _, fits in chosen], req.tasks)
    per_node = sorted((i, _share(resources, req, i, free[i], n))
                      for (i, _), n in zip(chosen, counts))
    return (tuple(per_node), wanted)


def claim(resources, job: Job, names: Sequence[str], cpus: Sequence[int] | None, licenses):
    """The placement of spread ``job`` already running on the nodes ``names``
    (``NodeResources.claim``): with ``cpus``, the CPUs it was recorded holding on each;
    without, its tasks laid on those nodes as they have room (on the first nodes of
    its partition when none is known).  Never refused: whatever is free there now."""
    req = job.request
    index = resources.cluster.node_index
    if cpus is not None and len(cpus) == len(names):
        held = [(index[n], c) for n, c in zip(names, cpus) if n in index]
        if held:
            counts = req.layout([c for _, c in held])
            return (tuple(sorted((i, _held(resources, req, i, c, n))
                                 for (i, c), n in zip(held, counts))), licenses)
    chosen = [index[n] for n in names if n in index][:req.tasks]
    room = [resources.capacity[i][0] // req.cpus_per_task for i in chosen]
    if not chosen:
        for i in resources.selectable(job) or range(len(resources.cluster.nodes)):
            if len(chosen) >= req.nodes and sum(room) >= req.tasks or len(chosen) == req.tasks:
                break
            chosen.append(i)
            room.append(resources.capacity[i][0] // req.cpus_per_task)
    counts = fill_tasks(room, req.tasks) or req.layout([req.cpus_per_task] * len(chosen))
    per_node = [(i, _held(resources, req, i, n * req.cpus_per_task, n))
                for i, n in zip(chosen, counts)]
    return (tuple(sorted(per_node)), licenses)


def task_room(resources, req: Request, i: int, free: list[int]) -> int:
    """How many of ``req``'s tasks node ``i`` has room for when ``free`` is free there
    (an exclusive request's: as many as the idle node's CPUs hold, its memory being
    the job's whole).  More free never means less room (a profile's bounds rely on it)."""
    if req.exclusive:
        capacity = resources.capacity[i]
        if free != capacity:
            return 0
        free = capacity
    if free[1] < req.mem_per_node:
        return 0
    fits = free[0] // req.cpus_per_task
    if req.mem_per_cpu:
        in_memory = free[1] // (req.mem_per_cpu * req.cpus_per_task)
        if req.exclusive:  # the node's memory is the job's: it needs room for one task
            fits = fits if in_memory else 0
        else:
            fits = min(fits, in_memory)
    if fits < 1 or (req.gpus_per_node and resources.gpu_share(free, req.gpus_per_node) is None):
        return 0
    return fits


def _share(resources, req: Request, i: int, free: list[int], tasks: int) -> tuple[int, ...]:
    """What ``tasks`` of ``req``'s tasks take of node ``i`` (an exclusive request: the
    whole node's CPUs and GPUs)."""
    cpus = tasks * req.cpus_per_task
    if req.exclusive:
        return _whole(resources, req, i)
    memory = req.mem_per_node or cpus * req.mem_per_cpu
    return (cpus, memory, *resources.gpu_share(free, req.gpus_per_node))


def _whole(resources, req: Request, i: int) -> tuple[int, ...]:
    """An exclusive request's share of node ``i``: all its CPUs and GPUs, and the memory
    it asked for (all of it, asked per CPU)."""
    capacity = resources.capacity[i]
    return (capacity[0], capacity[1] if req.mem_per_cpu else req.mem_per_node, *capacity[2:])


def _held(resources, req: Request, i: int, cpus: int, tasks: int) -> tuple[int, ...]:
    """What a running spread job holding ``cpus`` CPUs of node ``i`` for ``tasks`` of its
    tasks counts for there (GPUs by type as the node has them; none if it lost them)."""
    if req.exclusive:
        return _whole(resources, req, i)
    capacity = resources.capacity[i]
    memory = req.mem_per_node or tasks * req.cpus_per_task * req.mem_per_cpu
    gpus = resources.gpu_share(capacity, req.gpus_per_node)
    if gpus is None:
        gpus = [0] * len(resources.gpu_types)
    return (cpus, memory, *gpus)


def _max_nodes(resources, job: Job) -> float:
    """The most nodes ``job`` may hold: one per task, and its partition's MaxNodes."""
    try:
        limit = resources.cluster.partition(job.partition).max_nodes
    except KeyError:
        limit = None
    return min(job.request.tasks, math.inf if limit is None else limit)
