"""Helpers for tests of node clusters: jobs written with keyword arguments, and what a
pass started."""

from __future__ import annotations

from kairos.core import Job, Request, Scheduler, StartJob

REQUEST_FIELDS = ("nodes", "tasks", "cpus_per_task", "mem_per_node", "gpus_per_node",
                  "licenses", "features", "any_features", "exclusive", "nodelist", "exclude")
_SETS = ("features", "any_features", "nodelist", "exclude")


def job(id: int, submit: float = 0.0, limit: float = 100.0, **kw) -> Job:
    """A job of user ``u``; request fields go to ``Request`` (sets become frozensets),
    the rest to ``Job``."""
    req = {k: kw.pop(k) for k in list(kw) if k in REQUEST_FIELDS}
    for name in _SETS:
        if name in req:
            req[name] = frozenset(req[name])
    return Job(id, kw.pop("user", "u"), submit, Request(**req), time_limit=limit, **kw)


def started(actions) -> dict[int, float]:
    """Job id -> start time of the jobs a pass started."""
    return {a.job_id: a.at for a in actions if isinstance(a, StartJob)}


def nodes_of(s: Scheduler, job_id: int) -> list[str]:
    return s.node_names(job_id)
