"""Multifactor priority: Slurm's priority/multifactor as a queue order.

A pending job's priority is a weighted sum of factors, each in [0, 1]::

    priority = W_age       * age
             + W_fairshare * fairshare
             + W_jobsize   * jobsize
             + W_partition * partition
             + W_qos       * qos
             - nice

    age       = min(now - eligible, max_age) / max_age    (eligible = max(submit, begin))
    fairshare = 2 ** (-U / S)                            (see ``kairos.core.fairshare``)
    jobsize   = 1 - (cpus - 1) / total_cpus   favouring small jobs (PriorityFavorSmall=YES)
              = cpus / total_cpus             otherwise
    partition = tier of the job's partition / the highest tier   (0 when none configured)
    qos       = priority of the job's QOS / the highest QOS priority (0 when none)

An admin-set ``job.admin_priority`` replaces the sum (``scontrol update Priority=``).

The queue sorts on ``(-priority, submit, id)``.  Priorities are recomputed only by
``recalc``, which the scheduler calls every ``recalc_period`` seconds (Slurm's
PriorityCalcPeriod) on all pending jobs, and once on each newly submitted job before it is
queued; ``key`` itself only reads the stored ``job.priority``.
"""

from __future__ import annotations

from kairos.core.fairshare import WEEK, FairShare
from kairos.core.jobs import Job


def _clamp(x: float) -> float:
    return min(max(x, 0.0), 1.0)


def _tier_factor(tiers: dict[str, float], name: str) -> float:
    """``tiers[name]`` over the highest tier, in [0, 1]; 0 when no tier is positive."""
    top = max(tiers.values(), default=0.0)
    if top <= 0.0:
        return 0.0
    return _clamp(tiers.get(name, 0.0) / top)


class MultifactorPriority:
    """Slurm-like multifactor priority.

    Default weights (Slurm leaves every weight at 0 until configured): fair share
    dominates, so a gap of 0.1 in fair-share factor is worth a full ``max_age`` of
    waiting; age, job size and partition add up to 1000 each; QOS counts only once given
    a weight.  That is ``weight_age=1000``, ``weight_fairshare=10000``,
    ``weight_jobsize=1000``, ``weight_partition=1000``, ``weight_qos=0``.

    ``max_age`` (PriorityMaxAge) is the wait after which the age factor stops growing;
    ``total_cpus`` normalises job size (until it is known, through the constructor or
    ``configure``, the job-size factor is 0 for every job).
    """

    name = "multifactor"

    def __init__(
        self,
        *,
        weight_age: float = 1000.0,
        weight_fairshare: float = 10000.0,
        weight_jobsize: float = 1000.0,
        weight_partition: float = 1000.0,
        weight_qos: float = 0.0,
        max_age: float = WEEK,
        recalc_period: float = 300.0,
        fairshare: FairShare | None = None,
        favor_small: bool = True,
        partition_tiers: dict[str, float] | None = None,
        qos_priority: dict[str, float] | None = None,
        total_cpus: int | None = None,
    ) -> None:
        if max_age <= 0:
            raise ValueError(f"max_age must be > 0, got {max_age}")
        if recalc_period <= 0:
            raise ValueError(f"recalc_period must be > 0, got {recalc_period}")
        #: factor name -> weight (PriorityWeightAge, PriorityWeightFairshare, ...)
        self.weights: dict[str, float] = {
            "age": weight_age,
            "fairshare": weight_fairshare,
            "jobsize": weight_jobsize,
            "partition": weight_partition,
            "qos": weight_qos,
        }
        self.max_age = max_age  #: seconds of waiting for the full age factor
        self.recalc_period = recalc_period  #: seconds between recalculations
        self.fairshare = fairshare if fairshare is not None else FairShare()
        self.favor_small = favor_small
        self.partition_tiers: dict[str, float] = dict(partition_tiers or {})
        self.qos_priority: dict[str, float] = dict(qos_priority or {})
        self.total_cpus: int | None = None
        if total_cpus is not None:
            self.configure(total_cpus)

    def configure(self, total_cpus: int) -> None:
        """Tell the order how many CPUs the cluster has (normalises the job-size factor)."""
        if total_cpus <= 0:
            raise ValueError(f"total_cpus must be > 0, got {total_cpus}")
        self.total_cpus = total_cpus

    # -- factors ---------------------------------------------------------------------------

    def age_factor(self, job: Job, now: float) -> float:
        eligible = max(job.submit, job.begin)
        return _clamp((now - eligible) / self.max_age)

    def size_factor(self, job: Job) -> float:
        if self.total_cpus is None:
            return 0.0
        cpus = job.request.cpus
        if self.favor_small:
            return _clamp(1.0 - (cpus - 1) / self.total_cpus)
        return _clamp(cpus / self.total_cpus)

    def partition_factor(self, job: Job) -> float:
        return _tier_factor(self.partition_tiers, job.partition)

    def qos_factor(self, job: Job) -> float:
        return _tier_factor(self.qos_priority, job.qos)

    def factors(self, job: Job, now: float) -> dict[str, float]:
        """Each normalised factor, ``nice``, and the resulting ``priority`` (for ``sprio``).

        A pure read: running jobs are charged only by ``recalc``, so this matches the
        priority ``recalc`` stores when asked at the same ``now``.
        """
        out = {
            "age": self.age_factor(job, now),
            "fairshare": self.fairshare.factor(job.user),
            "jobsize": self.size_factor(job),
            "partition": self.partition_factor(job),
            "qos": self.qos_factor(job),
        }
        total = 0.0
        for name, weight in self.weights.items():
            total += weight * out[name]
        total -= job.nice
        out["nice"] = float(job.nice)
        out["priority"] = total if job.admin_priority is None else float(job.admin_priority)
        return out

    def priority(self, job: Job, now: float) -> float:
        return self.factors(job, now)["priority"]

    # -- the QueueOrder protocol -------------------------------------------------------

    def key(self, job: Job) -> tuple:
        """``(-priority, submit, id)`` from the priority the last ``recalc`` stored."""
        return (-job.priority, job.submit, job.id)

    def recalc(self, jobs: list[Job], now: float, *, charge: bool = True) -> None:
        """Charge running jobs' usage up to ``now`` (unless ``charge`` is False), then
        store each job's priority.

        All users of ``jobs`` join the share total before any factor is computed, so the
        result does not depend on the order of ``jobs``.  A job just submitted is
        prioritised with the usage as of the last periodic recalculation, as Slurm
        does (charging every running job at each submission cost O(running jobs)).
        """
        if charge:
            self.fairshare.charge_running(now)
        for job in jobs:
            self.fairshare.see(job.user)
        for job in jobs:
            job.priority = self.priority(job, now)

    def job_started(self, job: Job, now: float) -> None:
        self.fairshare.job_started(job, now)

    def job_ended(self, job: Job, now: float) -> None:
        self.fairshare.job_ended(job, now)
