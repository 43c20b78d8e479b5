"""Which hosts are in the cluster, and what happens when one comes, goes quiet or is
taken out of service.

* **Registration** (``register``): a node daemon says who it is and what it runs.  A node
  listed in ``[[nodes]]`` must register from its address; another joins the cluster as
  a dynamic node when ``dynamic_nodes`` allows it (Slurm 22.05's dynamic nodes).  What it
  runs is reconciled with what the controller believes: a job the controller thinks runs
  there but the node does not know is lost (NODE_FAIL); one the node runs but the
  controller does not is killed.  A node speaks (heartbeats, events) only once it has
  registered with this controller process: after a restart each daemon is told to
  register again, as slurmctld asks every slurmd to, so that a job whose launch the
  crash lost is found out.
* **Silence** (``check_silent``): a node not heard from for ``node_timeout`` seconds is
  DOWN, "Not responding"; it returns when it registers again if ``return_to_service``
  says so (1: after not responding; 2: whatever made it DOWN).  A daemon that lived on
  through the silence (its network was cut) is told to register by the answer to its
  next heartbeat.
* **Loss** (``node_lost``, also for ``scontrol update State=DOWN``): every job that holds
  the node ends as NODE_FAIL and, unless submitted with ``--no-requeue`` or an
  allocation of ``srun``/``salloc``, goes back to the queue, held back ``REQUEUE_DELAY`` seconds (Slurm shows such a job pending with
  reason BeginTime); its processes on the other nodes are killed.  Jobs elsewhere are
  untouched.
* **Drain** and **resume** (``set_state``): a drained node finishes its jobs and takes no
  new ones.
"""

from __future__ import annotations

import logging
from typing import Any

from kairos.core.cluster import Node, NodeState
from kairos.core.events import JobEnded, JobRequeued, handle_all
from kairos.core.jobs import JobState
from kairos.node.wire import Cleanup, Kill
from kairos.server.links import RemoteLink
from kairos.server.nodes import NOT_RESPONDING, NodeStatus

log = logging.getLogger("kairos.membership")

#: How long a job requeued after its node failed waits before it may start again: long
#: enough for its processes on the surviving nodes to be killed and report.
REQUEUE_DELAY = 10.0


class MembershipError(PermissionError):
    """A node may not join, or is not known: the message says why and what to change."""


class NotRegistered(LookupError):
    """A node speaks before registering (the controller restarted): register again."""


def register(controller, name: str, facts: dict[str, Any], addr: str, port: int) -> dict:
    """Take ``name``'s registration (``facts`` as the daemon sent them); the reply."""
    settings, now = controller.settings, controller.clock()
    listed = next((n for n in settings.nodes if n.name == name), None)
    if listed is not None and listed.addr != addr:
        raise MembershipError(
            f"node {name} is listed in config.toml with addr = {listed.addr!r} but "
            f"registers from {addr!r}; fix [[nodes]] or the daemon's --addr")
    status = controller.nodes.status.get(name)
    if status is None:
        if listed is None and not settings.cluster.dynamic_nodes:
            raise MembershipError(
                f"node {name} is not listed in config.toml [[nodes]] and dynamic_nodes = "
                f"false: add it, or allow dynamic nodes")
        status = NodeStatus(name, static=listed is not None, state=NodeState.DOWN,
                            reason=NOT_RESPONDING, responding=False)
        controller.nodes.add(status)
    if name not in controller.cluster.node_index:
        controller.scheduler.add_node(Node(
            name, cpus=int(facts["cpus"]), mem=int(facts["mem_mib"]),
            gpus={str(t): int(n) for t, n in (facts.get("gpus") or {}).items()},
            features=frozenset(facts.get("features") or ())))
    status.cpus, status.mem_mib = int(facts["cpus"]), int(facts["mem_mib"])
    status.gpus = dict(facts.get("gpus") or {})
    status.features = tuple(facts.get("features") or ())
    status.addr, status.port, status.last_seen = addr, port, now
    status.boot_time = float(facts.get("boot_time") or 0.0)
    status.version = str(facts.get("version") or "")
    link = controller.nodes.link(name)
    if isinstance(link, RemoteLink):
        link.addr, link.port = addr, port
    else:
        link = RemoteLink(name, addr, port)
        controller.nodes.set_link(name, link)
    if status.state is NodeState.DOWN and _returns(settings, status):
        set_state(controller, name, NodeState.UP, reason=None)
    status.responding = True
    link.registered = True
    link.bundles = bool(facts.get("bundles"))
    link.taken_up_to(facts.get("commands"))
    _reconcile(controller, name, link, set(facts.get("running") or ()),
               set(facts.get("held") or ()))
    controller.save_node(status)
    controller.wake()
    return {"heartbeat_interval": settings.cluster.heartbeat_interval,
            "node_timeout": settings.cluster.node_timeout, "kill_wait": settings.kill_wait}


def update_node(controller, name: str, state: str, reason: str | None, caller) -> None:
    """``scontrol update NodeName=NAME State=DRAIN|DOWN|RESUME Reason=...`` (admins):
    DRAIN finishes the node's jobs and takes no new ones, DOWN ends its jobs
    (NODE_FAIL, requeued unless ``--no-requeue``), RESUME puts it back in service."""
    controller.permissions.check_admin(caller, "change a node's state")
    if name not in controller.nodes.status:
        raise MembershipError(f"Invalid node name specified: {name}")
    wanted = state.strip().upper()
    if wanted in ("DRAIN", "DOWN") and not (reason or "").strip():
        raise ValueError(f"you must specify a reason when setting a node to {wanted}: "
                         f"add Reason=\"...\"")
    target = {"DRAIN": NodeState.DRAIN, "DOWN": NodeState.DOWN, "RESUME": NodeState.UP,
              "UNDRAIN": NodeState.UP, "IDLE": NodeState.UP}.get(wanted)
    if target is None:
        raise ValueError(f"invalid node state specified: {state}; use DRAIN, DOWN or RESUME")
    status = controller.nodes.status[name]
    if target is NodeState.UP and not status.responding:
        raise ValueError(f"node {name} is not responding: it returns to service when "
                         f"its daemon registers again")
    set_state(controller, name, target, reason=reason if target is not NodeState.UP else None,
              user=caller.user)


def heartbeat(controller, name: str, running: list[int]) -> None:
    status = _answering(controller, name)
    status.last_seen = controller.clock()
    controller.nodes.link(name).reported = set(running)


def events(controller, name: str, reported: list) -> None:
    """Events a node daemon sends (launch results, ends), in order."""
    status = _answering(controller, name)
    status.last_seen = controller.clock()
    controller.nodes.deliver(name, reported)
    controller.wake()


#: Seconds between two looks for silent nodes (each looks at every node; silence is
#: counted in tens of seconds, rounds come many times a second on a busy cluster).
SILENCE_CHECK_GAP = 1.0


def check_silent(controller, now: float) -> list[str]:
    """Mark DOWN the nodes silent for too long; their names.

    A round that kept the controller busy longer than a heartbeat interval (a huge
    scheduling pass) is a time when it heard nobody, and nodes whose messages waited
    through it may have been refused as too old: every node gets two heartbeat
    intervals to be heard again before any is judged silent, rather than the whole
    cluster going DOWN for the controller's own deafness."""
    cluster = controller.settings.cluster
    if cluster is None:
        return []
    nodes = controller.nodes
    if controller.last_pass_seconds > cluster.heartbeat_interval \
            and nodes.deaf_pass != controller.passes:
        nodes.deaf_pass = controller.passes
        log.warning("the controller was busy for %.0f s (one scheduling round): no node "
                    "is judged silent for the next %.0f s", controller.last_pass_seconds,
                    2 * cluster.heartbeat_interval)
        nodes.silence_checked = now + 2 * cluster.heartbeat_interval - SILENCE_CHECK_GAP
    if now - nodes.silence_checked < SILENCE_CHECK_GAP:
        return []
    nodes.silence_checked = now
    silent = controller.nodes.silent(now, cluster.node_timeout)
    for name in silent:
        log.warning("node %s has not answered for %.0f s: DOWN", name, cluster.node_timeout)
        controller.nodes.status[name].responding = False
        set_state(controller, name, NodeState.DOWN, reason=NOT_RESPONDING)
    return silent


def set_state(controller, name: str, state: NodeState, *, reason: str | None,
              user: str | None = None) -> None:
    """Put ``name`` in ``state`` (DOWN ends the jobs that hold it, see ``node_lost``)."""
    status = controller.nodes.status[name]
    now = controller.clock()
    status.state = state
    status.reason = reason if state is not NodeState.UP else None
    status.reason_time = now if state is not NodeState.UP else None
    status.reason_user = user if state is not NodeState.UP else None
    controller.scheduler.set_node_state(name, state)
    if state is NodeState.DOWN:
        node_lost(controller, name, now)
    controller.save_node(status)
    controller.wake()


def node_lost(controller, name: str, now: float) -> list[int]:
    """End every job holding ``name`` (see ``fail_jobs``); the jobs' ids."""
    link = controller.nodes.link(name)
    if isinstance(link, RemoteLink):
        link.lose_everything()
    from kairos.server.steps import lose_node

    lost = controller.scheduler.running_on(name)
    fail_jobs(controller, lost, name, now)
    lose_node(controller, name)
    return lost


def fail_jobs(controller, job_ids: list[int], node: str, now: float) -> None:
    """``job_ids`` lost ``node``: each ends as NODE_FAIL, its processes on the other nodes
    are killed, and it goes back to the queue unless submitted with ``--no-requeue``."""
    scheduler, events, requeued = controller.scheduler, [], []
    for job_id in job_ids:
        for other in controller.job_nodes(job_id):
            if other != node:
                controller.send(other, Kill(job_id))
                controller.send(other, Cleanup(job_id))
        core = scheduler.running[job_id]
        events.append(JobEnded(now, job_id, JobState.NODE_FAIL, 0))
        if _requeues(controller.jobs[job_id]):
            core.begin = now + REQUEUE_DELAY
            events.append(JobRequeued(now, core))
            requeued.append(job_id)
    handle_all(scheduler, events)
    for job_id in job_ids:
        controller.node_failed(controller.jobs[job_id], node, now,
                               requeued=job_id in requeued)


def _requeues(job) -> bool:
    """Slurm's default: a batch job is requeued after a node failure unless
    ``--no-requeue``.  An allocation (``srun`` or ``salloc`` outside a job) never is: its
    holder saw its step fail and gives it back; queued again, it would hold nodes for no
    one."""
    submission = job.submission
    return submission is None or (submission.requeue is not False and not submission.allocation)


def _returns(settings, status: NodeStatus) -> bool:
    rule = settings.cluster.return_to_service
    return rule == 2 or (rule == 1 and status.reason == NOT_RESPONDING)


def _registered(controller, name: str) -> NodeStatus:
    status = controller.nodes.status.get(name)
    link = controller.nodes.links.get(name)
    if status is None or status.addr is None or not isinstance(link, RemoteLink) \
            or not link.registered:
        raise NotRegistered(f"node {name} has not registered with this controller")
    return status


def _answering(controller, name: str) -> NodeStatus:
    """``name``'s record, when it may speak without registering again: a node found
    silent (its network was cut, say) is DOWN until it registers, which returns it to
    service and reconciles what it still runs with what the controller believes."""
    status = _registered(controller, name)
    if not status.responding:
        raise NotRegistered(f"node {name} was not responding: register again")
    return status


def _reconcile(controller, name: str, link: RemoteLink, running: set[int],
               held: set[int]) -> None:
    """What the controller believes runs on ``name`` against what the node says.
    ``held``: jobs the node keeps cores for, or runs steps of, away from their batch
    script; those that no longer hold the node here (they ended, or were requeued,
    while it was away) are cleaned up there, their steps killed."""
    now = controller.clock()
    # Among the jobs holding the node (one pass over the running jobs), those whose
    # batch script runs here; sorting every running job's nodes for each of thousands
    # of registrations (a controller restart) would take minutes.
    believed = {job_id for job_id in controller.scheduler.running_on(name)
                if controller.job_nodes(job_id)[0] == name}
    link.reported = set(running)
    link._running = believed & running  # noqa: SLF001 - the link's own bookkeeping
    gone = sorted(believed - running)
    if gone:
        log.warning("node %s does not know job(s) %s it ran: lost", name, gone)
        fail_jobs(controller, gone, name, now)
    for job_id in sorted(running - believed):
        link.send(Kill(job_id))  # an orphan: its job ended while the node was away
    holding = set(controller.scheduler.running_on(name))
    for job_id in sorted(held - holding):
        link.send(Cleanup(job_id))
