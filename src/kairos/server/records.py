"""Job records: the one place where a submission becomes core ``Job``s and database rows.

Three shapes of a job exist in the live manager: the ``SubmitSpec`` a client sends, the
core's ``Job`` (what the scheduler needs), and the record (a ``JobInfo`` dict plus the
spec, what the store keeps and the API shows).  They are converted here and nowhere else.
"""

from __future__ import annotations

import functools
import grp
import math
import pwd
from dataclasses import dataclass

from kairos.core.jobs import Dependency, DependencyKind, Job, JobState, Request

#: records that are no longer pending or running
FINAL_STATES = frozenset(s.name for s in JobState if s.finished)

_KINDS = {
    "after": DependencyKind.AFTER,
    "afterany": DependencyKind.AFTERANY,
    "afterok": DependencyKind.AFTEROK,
    "afternotok": DependencyKind.AFTERNOTOK,
    "singleton": DependencyKind.SINGLETON,
}


class SubmitError(ValueError):
    """A submission that cannot be queued; the message says why and how to fix it."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, from the Unix socket's peer credentials."""

    uid: int
    gid: int
    pid: int = 0

    @property
    def user(self) -> str:
        return user_name(self.uid)

    @property
    def group(self) -> str:
        return group_name(self.gid)


@functools.lru_cache(maxsize=1024)
def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


@functools.lru_cache(maxsize=1024)
def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def core_request(spec: dict) -> Request:
    """The core's resource request for a spec (``--mem-per-cpu`` becomes per node)."""
    nodes, ntasks, cpt = spec["nodes"], spec["ntasks"], spec["cpus_per_task"]
    if nodes < 1 or ntasks < 1 or cpt < 1:
        raise SubmitError("nodes, ntasks and cpus-per-task must be at least 1")
    ntasks = max(ntasks, nodes)  # Slurm: at least one task per node
    cpus_per_node = -(-ntasks // nodes) * cpt
    mem = spec.get("mem_per_node") or 0
    if spec.get("mem_per_cpu"):
        mem = spec["mem_per_cpu"] * cpus_per_node
    gpus = tuple((t, int(n)) for t, n in spec.get("gpus") or ())
    return Request(nodes=nodes, tasks=ntasks, cpus_per_task=cpt, mem_per_node=mem,
                   gpus_per_node=gpus)


def dependencies(parsed: list[tuple[str, object]], arrays: dict[int, dict[int, int]]) -> tuple:
    """Core dependencies from ``kairos.slurm.deps`` pairs.  A dependency on an array job
    means one on each of its tasks (Slurm's rule); ``12_3`` names one task."""
    out = []
    for kind, target in parsed:
        k = _KINDS[kind]
        if k is DependencyKind.SINGLETON:
            out.append(Dependency(k))
            continue
        for job_id in _dependency_targets(target, arrays):
            out.append(Dependency(k, job_id))
    return tuple(out)


def _dependency_targets(target, arrays: dict[int, dict[int, int]]) -> list[int]:
    if isinstance(target, str) and "_" in target:
        array_id, index = (int(x) for x in target.split("_", 1))
        tasks = arrays.get(array_id)
        if tasks is None or index not in tasks:
            raise SubmitError(f"Job dependency problem: no array task {target}")
        return [tasks[index]]
    job_id = int(target)
    tasks = arrays.get(job_id)
    return list(tasks.values()) if tasks else [job_id]


def to_core_job(record: dict, deps: tuple) -> Job:
    """A core ``Job`` for a pending record (at submission, or reloaded after a crash)."""
    limit = record["time_limit"]
    job = Job(
        record["job_id"], record["user"], record["submit_time"], core_request(record),
        time_limit=math.inf if limit is None else limit,
        name=record["name"], group=record["group"], account=record["account"] or "",
        partition=record["partition"], qos=record["qos"],
        time_min=record["time_min"], dependencies=deps, begin=record["begin"] or 0.0,
        held=record["held"], nice=record["nice"],
        array_job_id=record["array_job_id"], array_task_id=record["array_task_id"],
        array_limit=record.get("array_limit"),
    )
    if record.get("admin_priority") is not None:
        job.admin_priority = record["admin_priority"]
    return job


def public(record: dict) -> dict:
    """The ``JobInfo`` view of a record (everything but the spec and bookkeeping)."""
    return {k: v for k, v in record.items() if k not in _PRIVATE}


_PRIVATE = frozenset({"spec", "supervisor_pid", "expected_end", "updated", "admin_priority",
                      "array_limit", "cpus_per_task_set"})


def job_label(record: dict) -> str:
    """``123`` or ``120_3``: the id users type."""
    if record.get("array_job_id") is not None and record.get("array_task_id") is not None:
        return f"{record['array_job_id']}_{record['array_task_id']}"
    return str(record["job_id"])
