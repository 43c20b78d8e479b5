"""Online features of a job, from what is known when it is submitted.

``FeatureTracker`` turns a job into a row of floats at its submission and learns from
every job that finishes.  It only ever sees two kinds of event - a submission
(``features``) and an end (``observe``) - so a row can only draw on jobs that ended before
it was made: the same rule the scheduler imposes on every ``RuntimeEstimator``.

The columns (``FEATURES``, in order):

* categorical, label-encoded online (each distinct value gets the next integer the first
  time it is seen, and keeps it): ``user``, ``group``, ``app`` (SWF field 14, else the job
  name), ``queue`` (SWF field 15, else the QoS), ``partition``;
* the request: ``procs`` (CPUs), ``log_req_time`` (log of 1 + the time limit; NaN when
  there is none), ``req_mem`` (SWF field 10, else memory per node x nodes; -1 when
  unknown), ``nodes``;
* the calendar: ``hour`` and ``weekday`` of the submission (on the trace's clock, whose
  zero is its first day's midnight only approximately);
* the user's history of finished jobs (NaN while there is none): ``last1`` (runtime of the
  last one to finish), ``mean2`` (mean of the last two), ``mean5``, ``median5``, ``max5``
  (over the last five), ``ratio1``, ``ratio_mean5``, ``ratio_max5`` (runtime / requested
  time of the same jobs), ``app_last`` (the last runtime of this user with this app),
  ``same_req_last`` (the last runtime of this user with this very requested time),
  ``finished`` (how many of the user's jobs have finished), ``outstanding`` (the user's
  jobs submitted and not yet finished: the tracker sees no starts, so running and pending
  are one count), ``since_prev`` (seconds since the user's previous submission; NaN for
  the first).

Everything is plain Python on small per-user records (bounded deques): a row costs a few
microseconds.
"""

from __future__ import annotations

import math
from collections import deque

from kairos.core.jobs import Job

__all__ = ["CATEGORICAL", "FEATURES", "HISTORY", "FeatureTracker", "LabelEncoder",
           "job_app", "job_queue", "job_req_mem", "job_runtime"]

FEATURES: tuple[str, ...] = (
    "user", "group", "app", "queue", "partition",
    "procs", "log_req_time", "req_mem", "nodes",
    "hour", "weekday",
    "last1", "mean2", "mean5", "median5", "max5",
    "ratio1", "ratio_mean5", "ratio_max5",
    "app_last", "same_req_last",
    "finished", "outstanding", "since_prev",
)
#: Indices of the label-encoded columns.
CATEGORICAL: tuple[int, ...] = (0, 1, 2, 3, 4)
#: Finished jobs remembered per user.
HISTORY = 5

_NAN = math.nan
_DAY = 86_400.0
_WEEK = 7 * _DAY


def job_app(job: Job):
    """The application a job runs: SWF field 14 for trace jobs, else the job name."""
    return job.meta.get("app", job.name) if job.meta else job.name


def job_queue(job: Job):
    """The queue a job was sent to: SWF field 15 for trace jobs, else the QoS."""
    return job.meta.get("queue", job.qos) if job.meta else job.qos


def job_req_mem(job: Job) -> float:
    """Requested memory: SWF field 10 for trace jobs, else MiB per node x nodes; -1 when
    unknown."""
    if job.meta and "req_mem" in job.meta:
        return float(job.meta["req_mem"])
    mem = job.request.mem_per_node * job.request.nodes
    return float(mem) if mem > 0 else -1.0


class LabelEncoder:
    """A stable online label encoding: the first value seen is 0, the next new one 1, ...

    Values are keyed by ``str(value)`` so an encoding survives a round trip through JSON.
    """

    __slots__ = ("codes",)

    def __init__(self, codes: dict[str, int] | None = None) -> None:
        self.codes: dict[str, int] = dict(codes or {})

    def __call__(self, value) -> int:
        key = str(value)
        codes = self.codes
        code = codes.get(key)
        if code is None:
            code = codes[key] = len(codes)
        return code

    def __len__(self) -> int:
        return len(self.codes)


class _User:
    """What the tracker knows about one user."""

    __slots__ = ("by_app", "by_req", "finished", "last_submit", "ratios", "runtimes", "stats",
                 "submitted")

    def __init__(self) -> None:
        self.runtimes: deque[float] = deque(maxlen=HISTORY)  # most recent last
        self.ratios: deque[float] = deque(maxlen=HISTORY)
        self.finished = 0
        self.submitted = 0
        self.last_submit = _NAN
        self.by_app: dict[str, float] = {}
        self.by_req: dict[float, float] = {}
        #: last1 ... ratio_max5 of the history, recomputed when a job ends (users submit
        #: more often than their jobs end, so a row reuses them)
        self.stats: list[float] = [_NAN] * 8

    def restat(self) -> None:
        rts = self.runtimes
        n = len(rts)
        if not n:
            self.stats = [_NAN] * 8
            return
        last1 = rts[-1]
        s = sorted(rts)
        rs = self.ratios
        self.stats = [
            last1, (rts[-1] + rts[-2]) * 0.5 if n > 1 else last1,
            sum(s) / n, s[n // 2] if n & 1 else (s[n // 2 - 1] + s[n // 2]) * 0.5, s[-1],
            rs[-1], sum(rs) / n, max(rs),
        ]


class FeatureTracker:
    """Rows of ``FEATURES`` for submitted jobs, from the jobs finished so far."""

    names = FEATURES

    def __init__(self) -> None:
        self.encoders = tuple(LabelEncoder() for _ in CATEGORICAL)
        self.users: dict[str, _User] = {}

    def _user(self, name: str) -> _User:
        u = self.users.get(name)
        if u is None:
            u = self.users[name] = _User()
        return u

    def features(self, job: Job, now: float) -> list[float]:
        """The row of ``job``, submitted at ``now``; records the submission."""
        u = self._user(job.user)
        row = self._row(job, now, u)
        u.submitted += 1
        u.last_submit = now
        return row

    def peek(self, job: Job, now: float) -> list[float]:
        """The row ``features`` would give, without recording a submission."""
        return self._row(job, now, self._user(job.user))

    def _row(self, job: Job, now: float, u: _User) -> list[float]:
        enc_user, enc_group, enc_app, enc_queue, enc_part = self.encoders
        app = str(job_app(job))
        limit = job.time_limit
        req = job.request
        t = now % _WEEK
        return [
            enc_user(job.user), enc_group(job.group), enc_app(app), enc_queue(job_queue(job)),
            enc_part(job.partition),
            float(req.cpus),
            math.log1p(limit) if limit < math.inf else _NAN,
            job_req_mem(job),
            float(req.nodes),
            float(int(t % _DAY) // 3600), float(int(t // _DAY)),
            *u.stats,
            u.by_app.get(app, _NAN), u.by_req.get(limit, _NAN),
            float(u.finished), float(u.submitted - u.finished),
            now - u.last_submit,
        ]

    def observe(self, job: Job, now: float) -> None:
        """``job`` finished at ``now``: add its runtime to its user's history."""
        runtime = job_runtime(job, now)
        u = self._user(job.user)
        u.runtimes.append(runtime)
        limit = job.time_limit
        u.ratios.append(runtime / limit if 0 < limit < math.inf else _NAN)
        u.finished += 1
        u.by_app[str(job_app(job))] = runtime
        u.by_req[limit] = runtime
        u.restat()

    # -------------------------------------------------------------- persistence

    def state(self) -> dict:
        """The tracker as JSON-ready data (``from_state`` restores it)."""
        return {
            "encoders": [e.codes for e in self.encoders],
            "users": {
                name: {
                    "runtimes": list(u.runtimes), "ratios": list(u.ratios),
                    "finished": u.finished, "submitted": u.submitted,
                    "last_submit": None if math.isnan(u.last_submit) else u.last_submit,
                    "by_app": u.by_app, "by_req": [[k, v] for k, v in u.by_req.items()],
                }
                for name, u in self.users.items()
            },
        }

    @classmethod
    def from_state(cls, state: dict) -> FeatureTracker:
        t = cls()
        t.encoders = tuple(LabelEncoder(c) for c in state["encoders"])
        for name, d in state["users"].items():
            u = t._user(name)
            u.runtimes.extend(d["runtimes"])
            u.ratios.extend(_NAN if r is None else r for r in d["ratios"])
            u.finished = d["finished"]
            u.submitted = d["submitted"]
            u.last_submit = _NAN if d["last_submit"] is None else d["last_submit"]
            u.by_app = dict(d["by_app"])
            u.by_req = {k: v for k, v in d["by_req"]}
            u.restat()
        return t


def job_runtime(job: Job, now: float) -> float:
    """How long a finished job ran: ``end - start``, else ``now - start``; 0 if it never
    started."""
    if job.start is None:
        return 0.0
    end = job.end if job.end is not None else now
    return max(0.0, end - job.start)
