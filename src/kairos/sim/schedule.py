"""A replayed schedule written back as SWF: the trace as it would have run.

Each simulated job keeps its record as read, with field 3 (wait) set to its simulated
wait, so the file is a trace in its own right: replaying it again gives the same jobs.
A generated workload has no records; its jobs get records made from what they know.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kairos.sim.replay import ReplayResult
from kairos.sim.swf import with_wait, write_swf


def write_schedule(result: ReplayResult, path: Path) -> Path:
    """Write the simulated jobs of ``result`` to ``path`` as SWF (``.gz`` compresses), by
    job number, with the workload's header, its machine size and a note of the run."""
    workload = result.workload
    jobs = sorted((j for j in result.jobs if j.start is not None), key=lambda j: j.id)
    if workload.records is not None:
        records = [with_wait(workload.records[j.id], j.start - j.submit) for j in jobs]
    else:
        users: dict[str, int] = {}
        records = [record_from_job(j, users) for j in jobs]
    header = list(workload.header_lines)
    if "MaxProcs" not in (workload.header or {}):
        header.append(f"; MaxProcs: {workload.procs}")  # keep the file replayable
    header += [f"; Note: simulated by Kairos with policy {result.policy}, queue order "
               f"{result.order}; field 3 is the simulated wait"]
    return write_swf(path, header, records)


def record_from_job(job: Any, users: dict[str, int]) -> tuple:
    """An SWF record for a simulated job that came from no file: -1 for what a job
    doesn't know.

    User names that are not numbers get numbers in order of first appearance, kept in
    ``users`` from one job to the next."""
    def number(value: Any) -> int | float:
        v = float(value)
        return int(v) if v.is_integer() else v

    user = str(job.user)
    uid = int(user) if user.isdigit() else users.setdefault(user, len(users) + 1)
    group = str(job.group)
    limit = job.time_limit if job.time_limit != float("inf") else -1
    cpus = job.request.cpus
    return (job.id, number(job.submit), number(job.start - job.submit),
            number(job.end - job.start) if job.end is not None else -1,
            cpus, -1, -1, cpus, number(limit), -1, 1, uid,
            int(group) if group.isdigit() else -1, -1, -1, -1, -1, -1)


def per_policy_path(path: Path, label: str) -> Path:
    """Where the schedule of one of several compared runs goes: ``schedule.swf`` ->
    ``schedule.easy.swf`` for the run labelled ``easy`` (``.swf.gz`` and other suffixes
    kept)."""
    name = path.name
    for suffix in (".swf.gz", ".swf", ".gz"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return path.with_name(f"{name[:-len(suffix)]}.{label}{suffix}")
    return path.with_name(f"{name}.{label}")
