"""The scheduling core: pure, deterministic, clock-agnostic.

It is told of submissions, completions and the current time (``Scheduler.submit``,
``Scheduler.end``, ``Scheduler.schedule``) and answers which jobs to start where and which
reservations it holds.  Nothing in here reads a clock, touches I/O or draws random numbers:
the digital twin (``kairos.sim``) and the live controller drive the very same object.

The names below load on first use: the Slurm-compatible commands import the job
vocabulary (``kairos.core.jobs``) and must not pay for the scheduler.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "Dependency": "jobs", "DependencyKind": "jobs", "Job": "jobs", "JobState": "jobs",
    "Request": "jobs", "parse_constraint": "jobs",
    "Cluster": "cluster", "Node": "cluster", "NodeState": "cluster", "Partition": "cluster",
    "KillJob": "actions", "StartJob": "actions",
    "Scheduler": "scheduler",
    "POLICIES": "policy", "Backfill": "policy", "make_policy": "policy",
    "ORDERS": "order", "QueueOrder": "order", "make_order": "order",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'kairos.core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"kairos.core.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
