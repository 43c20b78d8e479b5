"""Several predictors side by side, so that a self-tuning scheduler can switch between them.

A switch is only fair if the predictor switched to has learned all along: every member
of a ``PredictorPanel`` is asked at each submission and told of every finished job, and
the panel remembers each member's answer per job.  The scheduler plans with the
``active`` member's answers; the tuner (``kairos.sim.tuning``) replays the recent past
with another member's recorded answers to see what it would have done, and on a switch
gives the pending jobs that member's answers.  Nothing here looks ahead: an answer is
what the member said at the job's submission, from jobs that had ended by then.
"""

from __future__ import annotations

from collections import deque

from kairos.core.jobs import Job


class PredictorPanel:
    """``members``: name -> predictor (a ``RuntimeEstimator``); ``active``: the one the
    scheduler plans with.  ``finished`` keeps the jobs that ended, oldest first, for the
    tuner's what-if replays (it drops those it no longer needs with ``forget_before``)."""

    def __init__(self, members: dict, active: str) -> None:
        if active not in members:
            raise ValueError(f"the active predictor {active!r} is not one of the panel's "
                             f"({', '.join(members)})")
        self.members = dict(members)
        self.active = active
        #: job id -> each member's answer at the job's submission
        self.answers: dict[int, dict[str, float]] = {}
        #: finished jobs, in the order they ended
        self.finished: deque[Job] = deque()
        #: (time asked, job id), oldest first: answers are dropped by age, so those of
        #: jobs that never finish (cancelled while pending) go too
        self._asked: deque[tuple[float, int]] = deque()

    @property
    def name(self) -> str:
        return self.active

    def estimate(self, job: Job, now: float) -> float:
        answers = {name: member.estimate(job, now) for name, member in self.members.items()}
        self.answers[job.id] = answers
        self._asked.append((now, job.id))
        return answers[self.active]

    def observe(self, job: Job, now: float) -> None:
        for member in self.members.values():
            member.observe(job, now)
        self.finished.append(job)

    def answer(self, job: Job, name: str) -> float:
        """What member ``name`` said of ``job`` at its submission (its time limit when
        the job was submitted before the panel was)."""
        return self.answers.get(job.id, {}).get(name, job.time_limit)

    def forget_before(self, submit: float) -> None:
        """Drop finished jobs submitted before ``submit``, and every answer given before
        it (a job still pending from then plans, after a switch, with its time limit)."""
        self.finished = deque(job for job in self.finished if job.submit >= submit)
        asked, answers = self._asked, self.answers
        while asked and asked[0][0] < submit:
            answers.pop(asked.popleft()[1], None)
