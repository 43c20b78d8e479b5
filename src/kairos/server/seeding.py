"""What the runtime predictor had learned before a restart, taught again at start.

A predictor learns from every job that ends (``RuntimeEstimator.observe``) and lives in
the controller's memory, so a restarted controller's would start from nothing: ``rf``,
``ml`` and ``last2`` would plan with users' time limits until enough new jobs had
finished, and the self-tuner's panel (``auto = true``) would have no answers for the
jobs its first what-ifs replay.  ``teach`` hands it the jobs the accounting database
holds instead, before recovery queues the pending jobs and before the first pass.

It replays the last ``predictor_history`` jobs to finish (``[controller]``, 20,000 by
default: ``ml`` refits on its last 20,000, so a longer past would not reach its model;
0 for none) the way the scheduler met them live, in time order:

* each job's submission: ``estimate(job, submit time)`` on the core job the controller
  built from the same record (user, name, account, partition, QOS, the request and its
  time limit), skipped for an explicit ``--time-min`` as the scheduler skips it.  A
  predictor learns at submissions too: ``ml``'s training row is the one the job had
  when it was submitted, from the jobs that had ended by then (its user's recent
  runtimes, how many of the user's jobs were outstanding), and the panel keeps each
  member's answer for the tuner.  Jobs cancelled while pending count here (the live
  predictor saw them submitted) and nowhere else;
* the end of each job that ran: ``observe(job, end time)`` with its start and end.

An end comes before a submission at the same instant, as in the core
(``kairos.core.events.ORDER``).  Only final states are read, and only ends up to the
controller's clock, so nothing is learned from a pending or running job or from the
future; those jobs are recovery's (``kairos.server.recovery``), which queues the
pending ones with the taught predictor's answers.  The store keeps one row per job, so
a requeued job is learned from its last run only, and with the time limit it had last.

A predictor may offer ``learn_past(replay)`` to learn such a past for less than live:
``rf`` makes only the last of the refits that fall due in it (its answers on the way
are thrown away; a panel keeps its members' answers, so it learns as live).

The database is read once: the columns a core job needs and the few keys of each
submission its request reads (not its environment and script), newest ends first, on
the ``end_time`` index.  Reading and building the core jobs is most of the cost (about
3 s for 20,000 jobs on a busy two-core machine), then ``ml``'s refits, on the same
schedule as live (after 200, 400, 800, ... jobs).
"""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa

from kairos.core.jobs import Job, JobState
from kairos.model.job import LiveJob
from kairos.model.submission import Submission
from kairos.server.tables import jobs as jobs_table

log = logging.getLogger("kairos.seeding")
# One line per start, worth keeping in the controller's log (which shows warnings only
# otherwise), as the self-tuner's decisions are.
log.setLevel(logging.INFO)

_FINISHED = tuple(s.name for s in JobState if s.finished)
#: The columns ``LiveJob.to_core_job`` reads, and the run's times and state.
_COLUMNS = ("job_id", "user", "name", "group", "account", "partition", "qos",
            "submit_time", "time_limit", "time_min", "begin", "held", "nice",
            "array_job_id", "array_task_id", "array_limit", "admin_priority",
            "nodes", "ntasks", "cpus_per_task", "mem_per_node", "gpus",
            "state", "exit_code", "start_time", "end_time")
#: What the request reads of the submission (``LiveJob.request``), taken out of it by
#: the database: the whole one holds the job's environment and script, and decoding
#: them was most of the time a read took.  (key, how to read it, its default in records
#: older than the key)
_SUBMISSION = (("nodes", "as_integer", None), ("mem_per_cpu", "as_integer", None),
               ("spread", "as_boolean", False), ("exclusive", "as_boolean", False),
               ("nodelist", "as_json", ()), ("exclude", "as_json", ()),
               ("constraint", "as_string", None))
#: Replay order at one instant: ends, then submissions, then the end of a job recorded
#: as ending no later than it was submitted (clocks of different hosts).
_END, _SUBMIT, _LATE_END = 0, 2, 3


def teach(controller) -> int | None:
    """Teach ``controller``'s predictor (or its self-tuner's panel) the jobs that
    finished before it started; how many ended runs it learned from, or None when it
    plans with time limits."""
    estimator = controller.scheduler.estimator
    limit = controller.settings.predictor_history
    if estimator is None or limit <= 0:
        return None
    began = time.perf_counter()
    finished = finished_jobs(controller.store, limit, controller.clock())
    learned = replay(estimator, finished)
    members = getattr(estimator, "members", None)
    who = (f"predictors {', '.join(members)}" if members is not None
           else f"predictor {estimator.name}")
    log.info("%s learned from the last %d finished job(s) in the accounting database "
             "(%d that ran; predictor_history = %d) in %.2f s",
             who, len(finished), learned, limit, time.perf_counter() - began)
    return learned


def finished_jobs(store, limit: int, now: float) -> list[Job]:
    """The last ``limit`` jobs to finish by ``now``, oldest end first, as core jobs;
    those that ran carry their ``start`` and ``end``."""
    c = jobs_table.c
    picked = [getattr(c.submission[key], read)().label(f"submission_{key}")
              for key, read, _ in _SUBMISSION]
    query = (sa.select(*(c[name] for name in _COLUMNS), *picked)
             .where(c.state.in_(_FINISHED), c.end_time.is_not(None), c.end_time <= now)
             .order_by(c.end_time.desc(), c.job_id.desc())
             .limit(limit))
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    width = len(_COLUMNS)
    out = []
    for row in reversed(rows):
        record = LiveJob.from_row(dict(zip(_COLUMNS, row)))
        if row[width] is not None:  # the node count is in every submission kept
            record.submission = Submission("", "", **{
                key: default if value is None else value
                for (key, _, default), value in zip(_SUBMISSION, row[width:])})
        try:
            job = record.to_core_job()
        except ValueError:  # a request this Kairos no longer reads: nothing to learn
            continue
        job.state, job.exit_code = record.state, record.exit_code
        if record.start_time is not None:
            job.start, job.end = record.start_time, record.end_time
        out.append(job)
    return out


def replay(estimator, jobs: list[Job]) -> int:
    """Submit and end ``jobs`` (from ``finished_jobs``) to ``estimator`` in time order;
    how many ends it observed."""
    events = []
    for job in jobs:
        if job.time_min is None:  # the user's own estimate: the scheduler asks nobody
            events.append((job.submit, _SUBMIT, job.id, job))
        if job.start is not None:
            if job.end > job.submit:
                events.append((job.end, _END, job.id, job))
            else:
                events.append((job.submit, _LATE_END, job.id, job))
    events.sort(key=lambda e: e[:3])

    def run() -> None:
        for at, kind, _, job in events:
            if kind == _SUBMIT:
                estimator.estimate(job, at)
            else:
                estimator.observe(job, at)

    in_bulk = getattr(estimator, "learn_past", None)
    if in_bulk is None:
        run()
    else:  # a predictor that can skip work whose only result is answers nobody keeps
        in_bulk(run)
    return sum(kind != _SUBMIT for _, kind, _, _ in events)
