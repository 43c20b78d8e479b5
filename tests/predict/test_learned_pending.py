"""ml forgets what it said of jobs that never finish (cancelled while pending), so a
live controller's memory does not grow with them."""

from __future__ import annotations

from kairos.core.jobs import Job, Request
from kairos.predict.learned import PENDING_HORIZON, LearnedPredictor


def test_answers_of_jobs_that_never_finish_are_forgotten_after_the_horizon():
    ml = LearnedPredictor()
    ml.estimate(Job(1, "u", 0.0, Request.procs(1), 600.0), 0.0)
    ml.estimate(Job(2, "u", 10.0, Request.procs(1), 600.0), 10.0)
    assert set(ml.pending) == {1, 2}
    later = PENDING_HORIZON + 5.0
    ml.estimate(Job(3, "u", later, Request.procs(1), 600.0), later)
    assert set(ml.pending) == {2, 3}
    # A job asked again (requeued) keeps its new answer when its old one ages out.
    ml.estimate(Job(2, "u", later, Request.procs(1), 600.0), later)
    ml.estimate(Job(4, "u", later + 20, Request.procs(1), 600.0), later + 20)
    assert set(ml.pending) == {2, 3, 4}
    # and a job that finishes without an answer is still learned from
    job = Job(5, "u", 0.0, Request.procs(1), 600.0)
    job.start, job.end = 0.0, 30.0
    ml.observe(job, 30.0)
    assert ml.finished == 1
