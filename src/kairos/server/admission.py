"""Admission: whether a submission may be queued, and the jobs it becomes.

Everything ``sbatch`` is refused for on the controller's side is decided here, before
anything is queued or a job id is used: the partition and QOS exist, the time limit is
within the partition's MaxTime and the QOS's MaxWall (a missing one comes from the
partition's DefaultTime), dependencies name jobs that exist, the batch script is within
``max_script_size``, and the cluster could ever run the request.  A refusal is in
Slurm's words and names no job id (none is used).  An array becomes one job per task.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

from kairos.core.jobs import Dependency, DependencyKind, Job
from kairos.core.profile import Unsatisfiable
from kairos.model.job import LiveJob
from kairos.model.submission import Submission
from kairos.server.permissions import Caller


class SubmitError(ValueError):
    """A submission that cannot be queued; the message says why and how to fix it."""


_KINDS = {kind.value: kind for kind in DependencyKind}


@dataclass(slots=True)
class Admitted:
    """What one submission becomes: its jobs (one per array task) and their core jobs."""

    jobs: list[LiveJob]
    core_jobs: list[Job]
    array_tasks: dict[int, int] | None  #: task index -> job id, for an array


class Admission:
    """The controller's admission rules for one cluster and configuration."""

    def __init__(self, settings, cluster, resources) -> None:
        self.settings = settings
        self.cluster = cluster
        self.resources = resources

    def admit(self, submission: Submission, caller: Caller, *, first_id: int, now: float,
              arrays: dict[int, dict[int, int]], known: Callable[[int], bool]) -> Admitted:
        """The jobs ``submission`` becomes, numbered from ``first_id``, or ``SubmitError``.

        ``arrays`` maps array job ids to their tasks' job ids; ``known(job_id)`` says
        whether a job exists (pending, running or finished).  Nothing is changed.
        """
        from kairos.slurm.arrays import parse_array

        if submission.allocation and submission.warn_signal is not None and submission.warn_batch:
            raise SubmitError("--signal=B: signals the batch shell, and an allocation (salloc, "
                              "srun) has none; leave out B: to signal its steps")
        self._check_script_size(submission.script)
        partition = self._partition(submission.partition)
        qos_name = submission.qos or "normal"
        limit = self._time_limit(submission.time_limit, partition, qos_name)
        indices, throttle = [None], None
        if submission.array:
            parsed = parse_array(submission.array)
            indices, throttle = parsed.indices, parsed.limit
        dependencies = resolve_dependencies(submission.dependency, arrays)
        for dep in dependencies:
            if dep.job_id is not None and not known(dep.job_id):
                raise SubmitError(f"Job dependency problem: job {dep.job_id} does not exist")
        ids = list(range(first_id, first_id + len(indices)))
        jobs, core_jobs = [], []
        for job_id, index in zip(ids, indices):
            job = _job_of(
                submission, job_id=job_id, user=caller.user, uid=caller.uid, gid=caller.gid,
                group=caller.group, partition=partition.name, qos=qos_name, time_limit=limit,
                now=now)
            if index is not None:
                job.array_job_id, job.array_task_id, job.array_limit = first_id, index, throttle
                job.array_task_count, job.array_task_min = len(indices), min(indices)
                job.array_task_max, job.array_task_step = max(indices), _step(indices)
            job.stdout, job.stderr = output_paths(job, "%N")
            jobs.append(job)
            core_jobs.append(job.to_core_job(dependencies))
        try:
            self.resources.check(core_jobs[0])
        except Unsatisfiable as e:
            reason = str(e).removeprefix(f"job {core_jobs[0].id}: ")
            raise SubmitError(f"{e.slurm_error}: {reason}") from None
        tasks = dict(zip(indices, ids)) if indices != [None] else None
        return Admitted(jobs, core_jobs, tasks)

    def _check_script_size(self, script: str) -> None:
        """Slurm's ``max_script_size``: a batch script over the limit is refused, in
        Slurm's words, before anything is queued."""
        size = script_bytes(script)
        limit = self.settings.max_script_size
        if size > limit:
            raise SubmitError(
                f"Pathname of a file, directory or other parameter too long: the batch "
                f"script is {size} bytes, over the limit of {limit} bytes "
                f"(max_script_size); keep large data in files the script reads")

    def _partition(self, name: str | None):
        try:
            return self.cluster.partition(name or "")
        except KeyError:
            raise SubmitError(f"invalid partition name specified: {name!r}; partitions: "
                              + ", ".join(p.name for p in self.cluster.partitions)) from None

    def _time_limit(self, limit: float | None, partition, qos_name: str) -> float | None:
        qos = self.settings.qos.get(qos_name)
        if qos is None:
            raise SubmitError(f"Invalid qos specification: {qos_name!r}; QOS: "
                              + ", ".join(sorted(self.settings.qos)))
        if limit is None:
            conf = next((p for p in self.settings.partitions if p.name == partition.name), None)
            limit = getattr(conf, "default_time", None)
            if limit is None and not math.isinf(partition.max_time):
                limit = partition.max_time
            if limit is None or (qos.max_wall is not None and limit > qos.max_wall):
                limit = qos.max_wall if qos.max_wall is not None else limit
        if limit is not None and qos.max_wall is not None and limit > qos.max_wall:
            raise SubmitError(
                f"Job violates accounting/QOS policy (job submit limit, user's size and/or "
                f"time limits): QOS {qos_name} allows at most {qos.max_wall:.0f} s")
        if limit is not None and limit > partition.max_time:
            raise SubmitError(
                f"Requested time limit is invalid (exceeds partition {partition.name}'s "
                f"MaxTime); ask for at most {partition.max_time:.0f} s with --time")
        if limit is not None and limit <= 0:
            raise SubmitError("Requested time limit is invalid: it must be positive")
        return limit


def script_bytes(script: str) -> int:
    """The size of a script as the bytes it was read from: sbatch reads a script's
    bytes that are not UTF-8 as lone surrogates (``surrogateescape``)."""
    try:
        return len(script.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return len(script.encode("utf-8", "surrogatepass"))


def _job_of(submission: Submission, **fields) -> LiveJob:
    """``LiveJob.from_submission``, its request's refusals (bad ``-w``/``-x`` names, an
    unsupported ``--constraint``) as ``SubmitError``s in Slurm's words."""
    try:
        return LiveJob.from_submission(submission, **fields)
    except ValueError as e:
        raise SubmitError(str(e)) from None


def output_paths(job: LiveJob, node: str) -> tuple[str, str]:
    """The job's ``-o``/``-e`` patterns, as submitted, expanded into paths for a batch
    script that runs on ``node``.  Until the job starts its node is not known, and Slurm
    shows ``%N`` as written: pass ``"%N"``."""
    from kairos.slurm.patterns import expand_pattern

    submission = job.submission
    default = "slurm-%A_%a.out" if job.array_task_id is not None else "slurm-%j.out"
    stdout = (submission.stdout if submission else None) or default
    stderr = (submission.stderr if submission else None) or stdout
    return tuple(  # type: ignore[return-value]
        os.path.join(job.work_dir, expand_pattern(
            pattern, job_id=job.job_id, array_job_id=job.array_job_id,
            array_task_id=job.array_task_id, name=job.name, user=job.user, node=node))
        for pattern in (stdout, stderr))


def resolve_dependencies(spec: str | None, arrays: dict[int, dict[int, int]]) -> tuple[Dependency, ...]:
    """The core's dependencies for a ``--dependency`` spec.  A dependency on an array job
    means one on each of its tasks (Slurm's rule); ``12_3`` names one task."""
    from kairos.slurm.deps import parse_dependency

    out = []
    for kind, target in parse_dependency(spec) if spec else ():
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


def _step(indices: list[int]) -> int:
    steps = {b - a for a, b in zip(indices, indices[1:])}
    return steps.pop() if len(steps) == 1 else 1
