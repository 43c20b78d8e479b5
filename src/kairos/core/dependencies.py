"""``--dependency`` rules: is a job free to start as far as other jobs are concerned?

One derivation serves both the scheduler (may the job be queued?) and the views that
show users what is left of a job's dependencies (``squeue %E``).
"""

from __future__ import annotations

import enum

from kairos.core.jobs import Dependency, DependencyKind, Job, JobState


class DependencyStatus(enum.Enum):
    MET = "met"
    WAITING = "unfulfilled"  #: may still be met
    FAILED = "failed"  #: can never be met


def dependency_states(job: Job, jobs: dict[int, Job],
                      outcomes: dict[int, JobState]) -> list[tuple[Dependency, DependencyStatus]]:
    """Each of ``job``'s dependencies with its status.

    ``jobs`` holds pending and running jobs, ``outcomes`` the final state of finished ones.
    A dependency on an unknown job id counts as met, as in Slurm once the job has aged out.
    """
    return [(dep, _status(dep, job, jobs, outcomes)) for dep in job.dependencies]


def dependency_status(job: Job, jobs: dict[int, Job], outcomes: dict[int, JobState]) -> str:
    """``"ok"`` when every dependency is met (Slurm's default: all must hold), else the
    pending reason: ``"Dependency"`` (may still be met) or ``"DependencyNeverSatisfied"``."""
    states = {status for _, status in dependency_states(job, jobs, outcomes)}
    if DependencyStatus.FAILED in states:
        return "DependencyNeverSatisfied"
    return "Dependency" if DependencyStatus.WAITING in states else "ok"


def _status(dep: Dependency, job: Job, jobs: dict[int, Job],
            outcomes: dict[int, JobState]) -> DependencyStatus:
    kind = dep.kind
    if kind is DependencyKind.SINGLETON:
        blocked = any(
            other.user == job.user and other.name == job.name and other.id != job.id
            and (other.state is JobState.RUNNING or other.id < job.id)
            for other in jobs.values()
        )
        return DependencyStatus.WAITING if blocked else DependencyStatus.MET
    other = jobs.get(dep.job_id)
    if other is not None:  # pending or running
        if kind is DependencyKind.AFTER and other.state is JobState.RUNNING:
            return DependencyStatus.MET
        return DependencyStatus.WAITING
    outcome = outcomes.get(dep.job_id)
    if outcome is None:
        return DependencyStatus.MET
    if kind is DependencyKind.AFTEROK and outcome is not JobState.COMPLETED:
        return DependencyStatus.FAILED
    if kind is DependencyKind.AFTERNOTOK and outcome is JobState.COMPLETED:
        return DependencyStatus.FAILED
    return DependencyStatus.MET
