"""What the query commands show of a job, beyond its fields: the line it is printed on
and the values several commands compute from it (time run, first node, TRES).

Jobs arrive as ``kairos.model.LiveJob`` records.  A line of squeue or sacct is a
``JobLine``: one job, or several pending tasks of one array.  Pending tasks of one
array with the same reason share a line (``12_[3-7]``) in squeue and sacct unless
``-r``, as in Slurm; unlike Slurm, on purpose, the array's throttle (``%2``) is not
shown.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kairos.core.jobs import JobState
from kairos.slurm import hostlist
from kairos.slurm.arrays import format_array
from kairos.slurm.output.notation import format_size

if TYPE_CHECKING:
    from kairos.model import LiveJob


@dataclass(frozen=True, slots=True)
class JobLine:
    """A job as one line of output; ``tasks`` is set when the line stands for several
    pending tasks of one array (``"3-7"``), ``job`` being then the lowest task."""

    job: LiveJob
    tasks: str | None = None

    @property
    def label(self) -> str:
        """``12``, ``12_3`` for an array task, ``12_[3-7]`` for pending tasks."""
        if self.tasks is not None:
            return f"{self.job.array_job_id}_[{self.tasks}]"
        return self.job.label

    @property
    def task_text(self) -> str:
        """squeue's ARRAY_TASK_ID: ``3``, ``3-7``, or ``N/A`` for a job of its own."""
        if self.tasks is not None:
            return self.tasks
        task = self.job.array_task_id
        return "N/A" if task is None else str(task)


def job_lines(jobs: Iterable[LiveJob], *, expand_arrays: bool) -> list[JobLine]:
    """One line per job, or (without ``expand_arrays``, squeue's and sacct's ``-r``)
    pending array tasks collapsed as ``collapse_pending_arrays`` does."""
    if expand_arrays:
        return [JobLine(job) for job in jobs]
    return collapse_pending_arrays(list(jobs))


def collapse_pending_arrays(jobs: Sequence[LiveJob]) -> list[JobLine]:
    """Pending tasks of one array with the same reason become one line (``12_[3-7]``),
    as squeue and sacct show them without ``-r``; the line goes where its first task
    was."""
    groups: dict[tuple[int, str | None], list[LiveJob]] = {}
    for job in jobs:
        if _pending_task(job):
            groups.setdefault((array_master_id(job), job.reason), []).append(job)
    lines = []
    for job in jobs:
        if not _pending_task(job):
            lines.append(JobLine(job))
            continue
        members = groups.pop((array_master_id(job), job.reason), None)
        if members is None:  # already shown with its group
            continue
        if len(members) == 1:
            lines.append(JobLine(job))
            continue
        first = min(members, key=lambda m: m.array_task_id or 0)
        lines.append(JobLine(first, format_array([m.array_task_id or 0 for m in members])))
    return lines


def _pending_task(job: LiveJob) -> bool:
    return job.state is JobState.PENDING and job.array_task_id is not None


def array_master_id(job: LiveJob) -> int:
    """The array's job id for a task, the job's own id otherwise."""
    return job.array_job_id if job.array_job_id is not None else job.job_id


def started(job: LiveJob) -> bool:
    """Whether the job has run: it has a start time and is not pending (again)."""
    return job.start_time is not None and job.state is not JobState.PENDING


def elapsed(job: LiveJob, now: float) -> float:
    """Seconds run so far (running) or in all (finished); 0 before the start."""
    if not started(job):
        return 0.0
    assert job.start_time is not None
    end = now if job.state.active or job.end_time is None else job.end_time
    return max(0.0, end - job.start_time)


def first_node(job: LiveJob) -> str:
    """The first name of the job's node list (its batch host)."""
    if not job.node_list:
        return ""
    try:
        names = hostlist.expand(job.node_list)
    except ValueError:
        return job.node_list
    return names[0] if names else ""


def shown_priority(job: LiveJob) -> int:
    """The priority as Slurm prints it: a whole number."""
    return int(job.priority or 0)


def min_cpus(job: LiveJob) -> str:
    """CPUs on each node: the CPUs of the tasks one node runs."""
    tasks_per_node = max(1, math.ceil(job.ntasks / max(1, job.nodes)))
    return str(job.cpus_per_task * tasks_per_node)


def tres(job: LiveJob) -> str:
    """``cpu=4,mem=8G,node=1,billing=4[,gres/gpu=2]``, Slurm's TRES string order."""
    parts = [f"cpu={job.cpus}"]
    if job.mem_per_node:
        parts.append(f"mem={format_size(job.mem_per_node * job.nodes, 'M')}")
    parts += [f"node={job.nodes}", f"billing={job.cpus}"]
    gpu_total = sum(count for _, count in job.gpus) * job.nodes
    if gpu_total:
        parts.append(f"gres/gpu={gpu_total}")
    return ",".join(parts)
