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
from collections import Counter
from collections.abc import Iterable

from kairos.core.dependencies import DependencyStatus, dependency_states
from kairos.core.forecast import forecast_starts
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
    out = []
    for job, live in _live_values(controller, jobs, start):
        info = job.to_wire()
        if live:
            info.update(live)
        out.append(info)
    return out


def job_table(controller, jobs: list[LiveJob], fields: list[str], *,
              start: bool = False) -> list[list]:
    """The values of ``fields`` (``JobInfo`` names) of each job, as ``job_views`` gives
    them, one list per job: what the list endpoint's columnar layout sends (a command
    that prints a few columns of 60,000 jobs needs neither the dicts nor the rest)."""
    unknown = [name for name in fields if name not in _PUBLIC]
    if unknown:
        raise ValueError(f"unknown job field(s): {', '.join(unknown)}")
    values = operator.attrgetter(*fields) if fields else (lambda job: ())
    single = len(fields) == 1
    where = {name: i for i, name in enumerate(fields)}
    state = where.get("state")
    out = []
    for job, live in _live_values(controller, jobs, start):
        row = [values(job)] if single else list(values(job))
        if state is not None:
            row[state] = job.state.name
        if live:
            for name, value in live.items():
                i = where.get(name)
                if i is not None:
                    row[i] = value
        out.append(row)
    return out


def _live_values(controller, jobs: list[LiveJob], start: bool):
    """Each job with what its view shows other than its own fields (None: nothing):
    the core's reason, priority and dependencies of a pending job, the forecast start."""
    scheduler = controller.scheduler
    now = controller.clock()
    forecasts: dict[int, float] = {}
    if start:
        pending = [job.job_id for job in jobs if job.state is JobState.PENDING]
        if pending:
            forecasts = forecast_starts(scheduler, now, pending)
    cores = scheduler.jobs
    for job in jobs:
        live: dict | None = None
        if job.state is JobState.PENDING:
            core = cores.get(job.job_id)
            if core is not None:
                live = {"reason": core.reason if core.reason != "None" else "Priority",
                        "priority": core.priority}
                if core.dependencies:
                    live["dependency"] = dependencies_left(scheduler, core)
            if job.job_id in forecasts:
                t = forecasts[job.job_id]
                live = live or {}
                live["expected_start"] = None if math.isinf(t) else t
            if job.submission is not None and job.submission.spread:
                live = live or {}
                live["nodes"] = max(job.nodes, _fewest_nodes(controller, job))
        else:
            live = _NOTHING_LEFT
        yield job, live


#: A job that left PENDING waits for nothing (shared: never changed).
_NOTHING_LEFT = {"dependency": None}


_PUBLIC = frozenset(PUBLIC_FIELDS)


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
    """``sbatch --test-only``: when and where the job would start, queueing nothing."""
    from kairos.slurm.hostlist import compress

    scheduler = controller.scheduler
    scheduler.submit(core, now)
    try:
        t = forecast_starts(scheduler, now, [core.id])[core.id]
    finally:
        scheduler.cancel(core.id, now)
        scheduler.outcomes.pop(core.id, None)
    nodes = scheduler.resources.describe(scheduler.resources.claim(core, ()))
    return {"job_id": core.id, "expected_start": None if math.isinf(t) else t,
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
