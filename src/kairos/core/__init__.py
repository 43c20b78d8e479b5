"""The scheduling core: pure, deterministic, clock-agnostic.

It is told of submissions, completions and the current time (``Scheduler.submit``,
``Scheduler.end``, ``Scheduler.schedule``) and answers which jobs to start where and which
reservations it holds.  Nothing in here reads a clock, touches I/O or draws random numbers:
the digital twin (``kairos.sim``) and the live controller drive the very same object.
"""

from kairos.core.jobs import Dependency, DependencyKind, Job, JobState, Request
from kairos.core.cluster import Cluster, Node, NodeState, Partition
from kairos.core.actions import KillJob, StartJob
from kairos.core.scheduler import Scheduler
from kairos.core.policy import POLICIES, Backfill, make_policy
from kairos.core.order import ORDERS, QueueOrder, make_order

__all__ = [
    "Backfill", "Cluster", "Dependency", "DependencyKind", "Job", "JobState", "Node",
    "NodeState", "ORDERS", "POLICIES", "Partition", "QueueOrder", "Request", "Scheduler",
    "KillJob", "StartJob", "make_order", "make_policy",
]
