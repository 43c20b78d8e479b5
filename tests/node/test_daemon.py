"""The node daemon's word to the controller: what it says it runs when it registers."""

from __future__ import annotations

from pathlib import Path

from kairos.core.jobs import JobState
from kairos.node.agent import Finished, StepFinished
from kairos.node.daemon import NodeDaemon, NodeOptions
from kairos.node.facts import NodeFacts
from kairos.node.wire import LaunchFailed, encode


class _Agent:
    """What the daemon asks of its agent when it registers."""

    kill_wait = 30.0
    wakeup_fd = -1

    def running(self) -> list[int]:
        return [3]

    def held(self) -> list[int]:
        return [9]


def _daemon(home: Path) -> NodeDaemon:
    options = NodeOptions(name="n1", home=home, controller=("127.0.0.1", 6820),
                          addr="127.0.0.1", port=6818)
    facts = NodeFacts(name="n1", cpus=[0, 1], mem_mib=1000)
    return NodeDaemon(options, facts, _Agent(), trust=None)


def test_a_registration_counts_the_jobs_whose_end_the_controller_has_not_taken(tmp_path):
    # A controller that restarted takes a job missing from "running" for one it lost
    # (and runs it again): jobs that ended while it was away are still this node's.
    daemon = _daemon(tmp_path)
    daemon._outbox += [
        encode(Finished(5, JobState.COMPLETED, 0, 0, 1.0, 2.0, None, None, "")),
        encode(LaunchFailed(6, "no such user")),
        encode(StepFinished(9, 0, JobState.COMPLETED, 0, 0, {0: (0, 0)}, 1.0, 2.0, None,
                            None, "")),
    ]
    said = daemon.registration()
    assert said["running"] == [3, 5, 6]
    assert said["held"] == [9]
    assert (said["name"], said["cpus"], said["mem_mib"]) == ("n1", 2, 1000)
    daemon._outbox.clear()
    assert daemon.registration()["running"] == [3]
