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
from functools import partial
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING

from kairos.core.jobs import JobState
from kairos.slurm import hostlist
from kairos.slurm.arrays import format_array
from kairos.slurm.output.notation import format_size

if TYPE_CHECKING:
    from kairos.model import LiveJob


class JobLine(tuple):
    """A job as one line of output; ``tasks`` is set when the line stands for several
    pending tasks of one array (``"3-7"``), ``job`` being then the lowest task.

    A pair ``(job, tasks)``, made in C in bulk (``tuple.__new__(JobLine, (job, None))``):
    squeue makes one per line of tens of thousands."""

    __slots__ = ()

    def __new__(cls, job: LiveJob, tasks: str | None = None) -> JobLine:
        return tuple.__new__(cls, (job, tasks))

    job: LiveJob = property(itemgetter(0))  # type: ignore[assignment]
    tasks: str | None = property(itemgetter(1))  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"JobLine(job={self.job!r}, tasks={self.tasks!r})"

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
        new = tuple.__new__
        return [new(JobLine, (job, None)) for job in jobs]
    return collapse_pending_arrays(list(jobs))


def collapse_pending_arrays(jobs: Sequence[LiveJob]) -> list[JobLine]:
    """Pending tasks of one array with the same reason become one line (``12_[3-7]``),
    as squeue and sacct show them without ``-r``; the line goes where its first task
    was.  A line per job first (in C), then the array tasks alone are looked at: a
    group keeps its first task's place, the others' lines are dropped."""
    pending, new = JobState.PENDING, tuple.__new__
    lines: list[JobLine | None] = list(map(partial(new, JobLine), zip(jobs, repeat(None))))
    groups: dict[tuple[int, str | None], list] = {}
    for i in [i for i, task in enumerate(map(_TASK, jobs)) if task is not None]:
        job = jobs[i]
        if job.state is not pending:
            continue
        key = (job.array_job_id if job.array_job_id is not None else job.job_id, job.reason)
        group = groups.get(key)
        if group is None:
            groups[key] = [i, job]  # the line's place, then the tasks
        else:
            group.append(job)
            lines[i] = None
    if not groups:
        return lines  # type: ignore[return-value]
    for place, *members in groups.values():
        if len(members) > 1:
            tasks = list(map(_TASK, members))
            low, high = min(tasks), max(tasks)
            text = (f"{low}-{high}" if high - low + 1 == len(tasks) == len(set(tasks))
                    else format_array(tasks))  # consecutive tasks (most) without sorting
            lines[place] = new(JobLine, (members[tasks.index(low)], text))
    return list(filter(None, lines))


_TASK = attrgetter("array_task_id")


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
