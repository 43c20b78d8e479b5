"""A batch of commands sent again is not carried out twice (``kairos.node.wire.Deliveries``):
the controller sends a batch again when it cannot tell whether the node took it."""

from __future__ import annotations

from kairos.node.wire import Deliveries


def test_a_batch_sent_again_is_skipped_and_a_longer_one_gives_only_its_new_part():
    d = Deliveries()
    assert d.fresh(["a", "b"], "s1", 1) == ["a", "b"]
    assert d.fresh(["a", "b"], "s1", 1) == []  # the answer was lost: sent again
    assert d.fresh(["b", "c", "d"], "s1", 2) == ["c", "d"]
    assert d.said() == {"session": "s1", "taken": 4}


def test_another_session_starts_the_count_afresh():
    d = Deliveries()
    d.fresh(["a", "b", "c"], "s1", 1)
    # The controller restarted: its new link numbers from 1 again.
    assert d.fresh(["x"], "s2", 1) == ["x"]
    assert d.said() == {"session": "s2", "taken": 1}
    # The node restarted (it forgot): the controller goes on numbering in its session.
    fresh = Deliveries()
    assert fresh.fresh(["y"], "s2", 2) == ["y"] and fresh.said()["taken"] == 2


def test_batches_without_numbers_are_carried_out_as_they_come():
    d = Deliveries()
    assert d.fresh(["a"], None, None) == ["a"]
    assert d.fresh(["a"], None, None) == ["a"]


def test_a_daemon_launches_a_job_once_when_its_batch_comes_twice(tmp_path):
    from kairos.node.agent import Launched, LaunchSpec
    from kairos.node.daemon import NodeDaemon, NodeOptions
    from kairos.node.facts import NodeFacts
    from kairos.node.wire import Launch, encode

    class Agent:
        kill_wait, wakeup_fd = 30.0, -1

        def __init__(self):
            self.launched = []

        def launch(self, job_id, spec):
            if job_id in self.launched:  # as the real agent: a job runs once here
                raise AssertionError("launched twice")
            self.launched.append(job_id)
            return Launched(job_id, 1234, [0], [], 0.0)

        def poll(self):
            return []

        def running(self):
            return list(self.launched)

        def held(self):
            return []

    agent = Agent()
    daemon = NodeDaemon(NodeOptions(name="n1", home=tmp_path, controller=("127.0.0.1", 6820),
                                    addr="127.0.0.1", port=6818),
                        NodeFacts(name="n1", cpus=[0, 1], mem_mib=1000), agent, trust=None)
    spec = LaunchSpec(user="u", uid=1000, gid=1000, script="#!/bin/sh\ntrue\n",
                      work_dir="/tmp", stdout="/dev/null")
    batch = [encode(Launch(7, spec))]
    assert daemon.carry_out(batch, "s1", 1) == 1
    assert daemon.carry_out(batch, "s1", 1) == 1  # taken, not carried out again
    assert agent.launched == [7]
    assert [e["type"] for e in daemon._outbox] == ["Launched"]
    assert daemon.registration()["commands"] == {"session": "s1", "taken": 1}


def test_a_registration_takes_what_the_node_took_off_the_controllers_outbox():
    from kairos.node.wire import Cleanup, Kill
    from kairos.server.links import RemoteLink

    link = RemoteLink("n1", "127.0.0.1", 6818)
    for job_id in (1, 2, 3):
        link.send(Kill(job_id))
    batch, payload = link.batch(2)
    assert payload["first"] == 1 and payload["session"] == link.session
    assert [c["job_id"] for c in payload["commands"]] == [1, 2]
    # The node took the first two, but its answer was lost; it registers again.
    link.taken_up_to({"session": "another", "taken": 2})
    assert len(link.outbox) == 3  # another session's count says nothing of this one
    link.taken_up_to({"session": link.session, "taken": 2})
    assert [c.job_id for c in link.outbox] == [3] and link.taken == 2
    link.send(Cleanup(3))
    assert link.batch(10)[1]["first"] == 3
