"""``--dependency`` rules: is a job free to start as far as other jobs are concerned?"""

from __future__ import annotations

from kairos.core.jobs import DependencyKind, Job, JobState

_ENDED_OK = {JobState.COMPLETED}


def dependency_status(job: Job, jobs: dict[int, Job], outcomes: dict[int, JobState]) -> str:
    """``"ok"`` when every dependency is met (Slurm's default: all must hold), else the
    pending reason: ``"Dependency"`` (may still be met) or ``"DependencyNeverSatisfied"``.

    ``jobs`` holds pending and running jobs, ``outcomes`` the final state of finished ones.
    A dependency on an unknown job id counts as met, as in Slurm once the job has aged out.
    """
    waiting = False
    for dep in job.dependencies:
        kind = dep.kind
        if kind is DependencyKind.SINGLETON:
            if any(
                other.user == job.user and other.name == job.name and other.id != job.id
                and (other.state is JobState.RUNNING or other.id < job.id)
                for other in jobs.values()
            ):
                waiting = True
            continue
        other = jobs.get(dep.job_id)
        if other is not None:  # pending or running
            if kind is DependencyKind.AFTER and other.state is JobState.RUNNING:
                continue
            waiting = True
            continue
        outcome = outcomes.get(dep.job_id)
        if outcome is None:
            continue
        if kind is DependencyKind.AFTEROK and outcome not in _ENDED_OK:
            return "DependencyNeverSatisfied"
        if kind is DependencyKind.AFTERNOTOK and outcome in _ENDED_OK:
            return "DependencyNeverSatisfied"
    return "Dependency" if waiting else "ok"
