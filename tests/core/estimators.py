"""Runtime estimators for core tests."""

from __future__ import annotations

from kairos.core import Job


class LastRuntime:
    """Predicts each user's last finished runtime (the time limit before any): the order
    of an end and a submission at one instant then shows in the decisions."""

    name = "last"

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def estimate(self, job: Job, now: float) -> float:
        return self.last.get(job.user, job.time_limit)

    def observe(self, job: Job, now: float) -> None:
        self.last[job.user] = job.end - job.start
