"""A cluster's controller and its node daemons, in this process: which nodes may speak,
what a registration reconciles, and which jobs a lost node sends back to the queue.

The controller is a real one (``build_controller``: store, core, links) at the head of
a cluster of two nodes; the daemons are played by calls to ``kairos.server.membership``,
and the commands the controller queues for them stay in their links' outboxes."""

from __future__ import annotations

import asyncio

import pytest

from kairos.core.jobs import JobState
from kairos.node.wire import Launch
from kairos.server import membership
from kairos.server.permissions import Caller

ME = Caller(0, 0)
FACTS = {"cpus": 2, "mem_mib": 1000, "running": [], "held": []}
NODES = {"n1": "10.0.0.1", "n2": "10.0.0.2"}


class Head:
    """A cluster's controller built from ``home`` as ``kairos up`` builds it."""

    def __init__(self, home) -> None:
        from kairos.server.config import load_settings
        from kairos.server.runtime import build_controller

        self.loop = asyncio.new_event_loop()
        self.controller = build_controller(load_settings(home))

    def register(self, name: str, running=()) -> None:
        membership.register(self.controller, name, {**FACTS, "running": list(running)},
                            NODES[name], 7000)

    def submit(self, **fields) -> int:
        from kairos.model import Submission

        fields.setdefault("script", "#!/bin/sh\ntrue\n")
        fields.setdefault("work_dir", "/tmp")
        return self.controller.submit(Submission(**fields), ME)["job_id"]

    def step(self) -> None:
        self.loop.run_until_complete(self.controller.step())
        self.loop.run_until_complete(self.controller.commit())

    def job(self, job_id: int):
        return self.controller.jobs[job_id]

    def close(self) -> None:
        """Commit and let go of the store (a controller that stops; twice is once)."""
        if self.loop.is_closed():
            return
        self.loop.run_until_complete(self.controller.commit())
        self.controller.store.close()
        self.loop.close()


@pytest.fixture
def home(tmp_path):
    from kairos.trust import create_cluster_key

    create_cluster_key(tmp_path / "cluster.key")
    (tmp_path / "config.toml").write_text(
        "[controller]\nkill_wait = 1\nscheduler_interval = 0.2\n"
        "[cluster]\nlisten = \"127.0.0.1:6899\"\nauth = \"key\"\n"
        "key_file = \"cluster.key\"\nnode_timeout = 10\nheartbeat_interval = 2\n")
    return tmp_path


@pytest.fixture
def heads(home):
    made: list[Head] = []

    def make() -> Head:
        head = Head(home)
        made.append(head)
        return head

    yield make
    for head in made:
        head.close()


@pytest.fixture
def head(heads) -> Head:
    made = heads()
    for name in NODES:
        made.register(name)
    return made


def _launched(head: Head, node: str) -> list[int]:
    return [c.job_id for c in head.controller.nodes.link(node).outbox if isinstance(c, Launch)]


def test_a_node_speaks_only_once_registered_with_this_controller(heads):
    first = heads()
    with pytest.raises(membership.NotRegistered):
        membership.heartbeat(first.controller, "n1", [])
    first.register("n1")
    membership.heartbeat(first.controller, "n1", [])
    first.close()
    # A restarted controller remembers the node, but hears it only once it registers.
    again = heads()
    assert "n1" in again.controller.nodes.status
    with pytest.raises(membership.NotRegistered):
        membership.heartbeat(again.controller, "n1", [])
    with pytest.raises(membership.NotRegistered):
        membership.events(again.controller, "n1", [])
    again.register("n1")
    membership.heartbeat(again.controller, "n1", [])


def test_a_launch_lost_with_the_controller_is_found_at_registration_and_run_again(heads):
    first = heads()
    for name in NODES:
        first.register(name)
    job = first.submit(nodes=2)
    first.step()
    assert first.job(job).state is JobState.RUNNING and _launched(first, "n1") == [job]
    first.close()  # killed before its sender delivered the launch
    again = heads()
    assert again.job(job).state is JobState.RUNNING  # as the database says
    again.register("n1", running=[])  # n1 never got it
    lost = again.job(job)
    assert (lost.state, lost.restarts) == (JobState.PENDING, 1)


def test_a_job_the_node_still_runs_is_kept_at_registration(heads):
    first = heads()
    for name in NODES:
        first.register(name)
    job = first.submit(nodes=2)
    first.step()
    first.close()
    again = heads()
    again.register("n1", running=[job])
    assert again.job(job).state is JobState.RUNNING


def test_a_silent_node_is_told_to_register_and_then_returns(head):
    job = head.submit(nodes=1, nodelist=["n2"])
    head.step()
    controller = head.controller
    membership.check_silent(controller, controller.clock() + 11)
    status = controller.nodes.status["n2"]
    assert (status.state.name, status.responding) == ("DOWN", False)
    assert head.job(job).state is JobState.PENDING  # requeued
    # Its daemon lived on (its network was cut): its next heartbeat is refused so that
    # it registers, which puts it back in service.
    with pytest.raises(membership.NotRegistered):
        membership.heartbeat(controller, "n2", [])
    head.register("n2")
    assert (status.state.name, status.responding) == ("UP", True)
    membership.heartbeat(controller, "n2", [])


@pytest.mark.parametrize("allocation, requeue, state", [
    (False, None, JobState.PENDING),  # a batch job goes back to the queue
    (False, False, JobState.NODE_FAIL),  # --no-requeue
    (True, None, JobState.NODE_FAIL),  # srun's or salloc's allocation: its holder saw it fail
])
def test_which_jobs_a_lost_node_sends_back_to_the_queue(head, allocation, requeue, state):
    fields = {"allocation": True, "script": ""} if allocation else {}
    if requeue is not None:
        fields["requeue"] = requeue
    job = head.submit(nodes=2, **fields)
    head.step()
    assert head.job(job).state is JobState.RUNNING
    membership.set_state(head.controller, "n2", membership.NodeState.DOWN, reason="bad dimm")
    assert head.job(job).state is state


def test_a_controller_busy_longer_than_a_heartbeat_gives_its_nodes_time_to_be_heard(head):
    # A scheduling round of 5 s (heartbeats every 2 s): nobody could be heard meanwhile.
    controller = head.controller
    now = controller.clock()
    controller.last_pass_seconds, controller.passes = 5.0, controller.passes + 1
    assert membership.check_silent(controller, now + 11) == []
    assert membership.check_silent(controller, now + 13) == []  # within two heartbeats
    assert controller.nodes.status["n1"].responding
    # Still silent after that: DOWN, as usual.
    assert sorted(membership.check_silent(controller, now + 16)) == ["n1", "n2"]
