"""Read views of the controller's state: what squeue, scontrol, sinfo, sprio and sshare
are answered with.  Nothing here changes anything.

Jobs are shown from their ``LiveJob``s, with what only the core knows of a pending job
filled in at the moment of asking: why it waits, its priority, what is left of its
dependencies and, for ``squeue --start``, a forecast start.
"""

from __future__ import annotations

import math
import operator
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable

from kairos.core.dependencies import DependencyStatus, dependency_states
from kairos.core.forecast import forecast, forecast_starts
from kairos.core.jobs import DependencyKind, Job, JobState
from kairos.model.job import PUBLIC_FIELDS, LiveJob
from kairos.server.admission import SubmitError
from kairos.server.nodes import controller_user


def by_label(controller, label: str) -> list[LiveJob]:
    """The jobs a user means by ``label``: ``12`` (a job, or every task of array 12) or
    ``12_3`` (one task)."""
    label = str(label).strip()
    try:
        if "_" in label:
            array_id, task = (int(x) for x in label.split("_", 1))
            tasks = controller.arrays.get(array_id, {})
            job = controller.jobs.get(tasks.get(task, -1))
            return [job] if job is not None else []
        job_id = int(label)
    except ValueError:
        raise SubmitError(f"invalid job id {label!r}") from None
    if job_id in controller.arrays:
        return [controller.jobs[i] for i in controller.arrays[job_id].values()
                if i in controller.jobs]
    job = controller.jobs.get(job_id)
    return [job] if job is not None else []


def select(controller, ids: Iterable[str] | None = None, *, users=None, names=None,
           states: Iterable[JobState] | None = None, partitions=None,
           active_only: bool = False) -> list[LiveJob]:
    """Jobs matching Slurm-style filters (any of each list; all lists must match)."""
    if ids:
        chosen = [job for label in ids for job in by_label(controller, label)]
    else:
        chosen = list(controller.jobs.values())
    states = set(states) if states else None
    return [
        job for job in chosen
        if not (active_only and job.state.finished)
        and (not users or job.user in users)
        and (not names or job.name in names)
        and (states is None or job.state in states)
        and (not partitions or job.partition in partitions)
    ]


def job_views(controller, jobs: list[LiveJob], *, start: bool = False) -> list[dict]:
    """``JobInfo`` dicts with the core's live reason, priority and dependencies
    (``start``: with forecast start times, as ``squeue --start``)."""
    live = list(_live_values(controller, jobs, start).items())
    out = []
    for i, job in enumerate(jobs):
        info = job.to_wire()
        for name, values in live:
            if i in values:
                info[name] = values[i]
        out.append(info)
    return out


def job_table(controller, jobs: list[LiveJob], fields: list[str], *,
              start: bool = False) -> list[tuple]:
    """The values of ``fields`` (``JobInfo`` names) of each job, as ``job_views`` gives
    them, one tuple per job: what the list endpoint's columnar layout sends (a command
    that prints a few columns of 60,000 jobs needs neither the dicts nor the rest).

    Made a field at a time (one ``map`` in C over the jobs), the live values put in
    their places, then turned into rows by ``zip``."""
    unknown = [name for name in fields if name not in _PUBLIC]
    if unknown:
        raise ValueError(f"unknown job field(s): {', '.join(unknown)}")
    if not fields:
        return [() for _ in jobs]
    columns = [list(map(_WIRE_VALUE.get(name) or operator.attrgetter(name), jobs))
               for name in fields]
    for name, values in _live_values(controller, jobs, start, frozenset(fields)).items():
        for column in (c for f, c in zip(fields, columns) if f == name):
            for i, value in values.items():
                column[i] = value
    return list(zip(*columns))


#: How ``job_table`` reads a field whose wire value is not the job's own (``to_wire``).
_WIRE_VALUE = {"state": operator.attrgetter("state._name_")}


def _live_values(controller, jobs: list[LiveJob], start: bool,
                 wanted: frozenset[str] | None = None) -> dict[str, dict[int, object]]:
    """What the views show of the jobs other than their own fields, field by field
    (``{place in jobs: value}``; the ``wanted`` fields only, all by default): the core's
    reason, priority and dependencies of a pending job, the forecast start (``start``)
    and the nodes of a pending spread job; a job that left PENDING waits for nothing."""
    def wants(name: str) -> bool:
        return wanted is None or name in wanted

    scheduler = controller.scheduler
    waiting = JobState.PENDING
    pending = [(i, job) for i, job in enumerate(jobs) if job.state is waiting]
    cores = scheduler.jobs
    found = [(i, core) for i, job in pending
             if (core := cores.get(job.job_id)) is not None]
    out: dict[str, dict[int, object]] = {}
    if wants("reason"):
        out["reason"] = {i: core.reason if core.reason != "None" else "Priority"
                         for i, core in found}
    if wants("priority"):
        out["priority"] = {i: core.priority for i, core in found}
    if wants("dependency"):
        left = {i: None for i, job in enumerate(jobs) if job.state is not waiting}
        left.update((i, dependencies_left(scheduler, core)) for i, core in found
                    if core.dependencies)
        out["dependency"] = left
    if start and pending and wants("expected_start"):
        forecasts = forecast_starts(scheduler, controller.clock(),
                                    [job.job_id for _, job in pending],
                                    stop=forecast_stop(controller))
        out["expected_start"] = {i: None if math.isinf(t) else t for i, job in pending
                                 if (t := forecasts.get(job.job_id)) is not None}
    if wants("nodes"):
        out["nodes"] = {i: max(job.nodes, _fewest_nodes(controller, job)) for i, job in pending
                        if job.submission is not None and job.submission.spread}
    return {name: values for name, values in out.items() if values}


_PUBLIC = frozenset(PUBLIC_FIELDS)


def forecast_stop(controller) -> Callable[[], bool]:
    """The ``stop`` of the start forecasts one request asks for: true once they have had
    ``forecast_budget`` seconds (the controller answers nothing else meanwhile; on a
    large cluster with a long queue a whole forecast takes minutes).  Jobs not reached
    show no forecast, as Slurm shows none beyond its backfill's reach."""
    deadline = time.monotonic() + controller.settings.forecast_budget
    return lambda: time.monotonic() >= deadline


def _fewest_nodes(controller, job: LiveJob) -> int:
    """The fewest nodes a pending spread job (``-n`` without ``-N``) can run on: its
    CPUs over the largest node of its partition, which is what Slurm shows for it
    (``-n3`` on 2-CPU nodes: 2 nodes) until it starts on the nodes it gets."""
    cluster = controller.cluster
    partition = next((p for p in cluster.partitions if p.name == job.partition), None)
    sizes = [n.cpus for n in cluster.nodes
             if partition is None or partition.nodes is None or n.name in partition.nodes]
    if not sizes or max(sizes) <= 0:
        return 1
    return math.ceil(job.ntasks * job.cpus_per_task / max(sizes))


def test_only(controller, core: Job, now: float) -> dict:
    """``sbatch --test-only``: when and where the job would start (the nodes of its
    forecast; without one, the first nodes of its partition).  Only the forecast's copy
    queues it: the scheduler is left as it was (its next pass resumes)."""
    from kairos.slurm.hostlist import compress

    scheduler = controller.scheduler
    scheduler.plan_estimate(core, now)  # as a submission would, but queued in the copy only
    found = forecast(scheduler, now, [core.id], stop=forecast_stop(controller),
                     extra=(core,))[core.id]
    known = found.known and not math.isinf(found.start)
    nodes = found.nodes if known else scheduler.resources.describe(
        scheduler.resources.claim(core, ()))
    return {"job_id": core.id, "expected_start": found.start if known else None,
            "node_list": compress(nodes), "cpus": core.request.cpus,
            "partition": core.partition}


def dependencies_left(scheduler, job: Job) -> str | None:
    """Slurm's view of a pending job's dependencies: those not met, each
    ``kind:id(unfulfilled)`` or ``kind:id(failed)`` (``singleton(unfulfilled)``); None
    when none is left."""
    parts = []
    for dep, status in dependency_states(job, scheduler.jobs, scheduler.outcomes):
        if status is DependencyStatus.MET:
            continue
        if dep.kind is DependencyKind.SINGLETON:
            parts.append(f"singleton({status.value})")
        else:
            parts.append(f"{dep.kind.value}:{dep.job_id}({status.value})")
    return ",".join(parts) or None


def nodes(controller) -> list[dict]:
    """Each node's state, capacity and allocation (``sinfo -N``, ``scontrol show node``).

    ``state`` is sinfo's word: idle, mixed or allocated for a node in service, drain
    (sinfo shows drained or draining) or down; ``responding`` is False for a node that
    stopped answering (Slurm marks it ``*``)."""
    resources, cluster = controller.scheduler.resources, controller.cluster
    gpu_types = getattr(resources, "gpu_types", [])
    members = _members(cluster)
    os_name = " ".join(os.uname()[:3:2])
    out = []
    for i, node in enumerate(cluster.nodes):
        cap, free = resources.capacity[i], resources.free[i]
        cpus_alloc = cap[0] - free[0]
        status = controller.nodes.status.get(node.name)
        state = node.state.value
        if state == "up":
            state = "idle" if cpus_alloc == 0 else ("allocated" if free[0] == 0 else "mixed")
        out.append({
            "name": node.name, "state": state, "cpus": node.cpus, "cpus_alloc": cpus_alloc,
            "mem": node.mem, "mem_alloc": cap[1] - free[1], "gpus": dict(node.gpus),
            "gpus_alloc": {t: cap[2 + k] - free[2 + k] for k, t in enumerate(gpu_types)},
            "partitions": [name for name, names in members
                           if names is None or node.name in names],
            "features": sorted(node.features),
            "boot_time": status.boot_time if status and status.addr else _boot_time(),
            "os": os_name,
            "reason": status.reason if status else None,
            "reason_time": status.reason_time if status else None,
            "reason_user": (status.reason_user or controller_user())
                           if status and status.reason else None,
            "responding": status.responding if status else True,
            "addr": status.addr if status else None,
            "last_seen": status.last_seen if status else None,
        })
    return out


def partitions(controller) -> list[dict]:
    """Each partition with its limits and nodes (``sinfo``, ``scontrol show partition``)."""
    cluster = controller.cluster
    configs = {p.name: p for p in controller.settings.partitions}
    out = []
    for p, (_, listed) in zip(cluster.partitions, _members(cluster)):
        inside = [n for n in cluster.nodes if listed is None or n.name in listed]
        names = [n.name for n in inside]
        conf = configs.get(p.name)
        out.append({
            "name": p.name, "default": p.default, "up": p.up,
            "max_time": None if math.isinf(p.max_time) else p.max_time,
            "default_time": getattr(conf, "default_time", None),
            "max_nodes": p.max_nodes, "nodes": names, "priority_tier": p.priority_tier,
            "total_cpus": sum(n.cpus for n in inside),
            "total_nodes": len(names),
        })
    return out


def _members(cluster) -> list[tuple[str, frozenset[str] | None]]:
    """Each partition's name and node names as a set (None: every node), so that
    asking about thousands of nodes does not search lists."""
    return [(p.name, None if p.nodes is None else frozenset(p.nodes))
            for p in cluster.partitions]


def priorities(controller, ids=None, users=None) -> list[dict]:
    """``sprio``: each pending job's weighted priority factors."""
    order, now = controller.scheduler.order, controller.clock()
    if not hasattr(order, "factors"):
        return []
    out = []
    for job in select(controller, ids, users=users, states=[JobState.PENDING]):
        core = controller.scheduler.jobs.get(job.job_id)
        if core is None:
            continue
        raw = order.factors(core, now)
        weighted = {k: raw[k] * w for k, w in order.weights.items()}
        weighted["nice"] = raw["nice"]
        weighted["site"] = 0.0
        out.append({"job_id": job.label, "user": job.user, "account": job.account,
                    "partition": job.partition, "priority": raw["priority"],
                    "factors": weighted})
    return out


def shares(controller, users=None) -> list[dict]:
    """``sshare``: each user's shares, decayed usage and fair-share factor."""
    order, now = controller.scheduler.order, controller.clock()
    fs = getattr(order, "fairshare", None)
    if fs is None:
        return []
    fs.charge_running(now)
    known = set(fs.shares) if hasattr(fs, "shares") else set()
    known |= {job.user for job in controller.jobs.values()}
    total = fs.total_usage(now) or 0.0
    out = []
    for user in sorted(known):
        if users and user not in users:
            continue
        fs.see(user)
        usage = fs.usage(user, now)
        out.append({"account": "root", "user": user, "raw_shares": 1,
                    "norm_shares": fs.normalized_shares(user), "raw_usage": usage,
                    "effective_usage": usage / total if total else 0.0,
                    "fairshare": fs.factor(user)})
    return out


def state_counts(controller) -> dict[str, int]:
    """Jobs in memory per state name (finished ones for ``MIN_JOB_AGE``)."""
    counts = Counter(job.state for job in controller.jobs.values())
    return {state.name: n for state, n in counts.items()}


def _boot_time() -> float:
    try:
        import psutil

        return psutil.boot_time()
    except Exception:  # noqa: BLE001 - facts are best effort
        return 0.0
