"""Nodes that come, go and drain while the scheduler runs, worked by hand:
``Scheduler.add_node`` (Slurm's dynamic nodes), ``Scheduler.set_node_state`` (UP,
DRAIN, DOWN), and what running and waiting jobs see.
"""

from __future__ import annotations

import pytest

from kairos.core import Cluster, JobState, Node, NodeState, Partition, Scheduler
from kairos.core.forecast import forecast_starts
from kairos.core.profile import Unsatisfiable
from kairos.core.resources import NodeShare
from tests.core.node_jobs import job, nodes_of, started

# -- add_node -----------------------------------------------------------------------------


def test_a_node_that_joins_is_used_at_the_next_pass():
    # n0 (4 CPUs).  J1 fills it until 100; J2 (4 CPUs) is reserved at 100.  n1 joins
    # at 10: J2 starts on it then, its reservation forgotten.
    s = Scheduler(Cluster([Node("n0", 4)]), "easy")
    s.submit(job(1, tasks=4), 0)
    s.submit(job(2, tasks=4), 0)
    assert started(s.schedule(0)) == {1: 0}
    assert s.reservations == {2: 100}
    s.add_node(Node("n1", 4))
    assert s.resources.capacity == [[4, 0], [4, 0]]
    assert s.resources.free == [[0, 0], [4, 0]]
    assert started(s.schedule(10)) == {2: 10}
    assert nodes_of(s, 2) == ["n1"]
    assert s.reservations == {}
    s.check_invariants()


def test_a_joining_node_enters_the_partitions_that_take_all_or_name_it():
    # A dynamic cluster: "gpu" names g0, which has not registered yet.  Until it does a
    # "gpu" job is refused (no node could ever run it); once it has, "gpu" jobs and
    # jobs of "all" may use it, jobs of "cpu" (which names only n0) may not.
    cluster = Cluster(
        [Node("n0", 2)],
        partitions=[Partition("all", default=True), Partition("cpu", nodes=("n0",)),
                    Partition("gpu", nodes=("g0",))],
        dynamic=True,
    )
    s = Scheduler(cluster, "easy")
    with pytest.raises(Unsatisfiable, match="do not exist in partition 'gpu'"):
        s.submit(job(1, partition="gpu"), 0)
    s.add_node(Node("g0", 8))
    s.submit(job(1, partition="gpu"), 0)
    s.submit(job(2, tasks=2), 0)                    # "all": n0 first
    s.submit(job(3, tasks=4), 0)                    # "all": only g0 has room
    s.submit(job(4, tasks=2, partition="cpu"), 0)   # "cpu": n0 only, full: waits
    assert started(s.schedule(0)) == {1: 0, 2: 0, 3: 0}
    assert (nodes_of(s, 1), nodes_of(s, 2), nodes_of(s, 3)) == (["g0"], ["n0"], ["g0"])
    assert s.jobs[4].reason == "Resources"


def test_a_node_with_a_new_gpu_type_adds_a_column_and_keeps_old_placements():
    # n0 has 2 "v100": vectors are [cpus, mem, v100].  J1 runs on n0 with one v100.
    # g0 joins with 2 "a100": the type is new, so every vector gets an a100 column at
    # the end (not in sorted order: J1's placement, made before, stays valid).
    s = Scheduler(Cluster([Node("n0", 4, gpus={"v100": 2})]), "easy")
    s.submit(job(1, gpus_per_node=(("v100", 1),)), 0)
    assert started(s.schedule(0)) == {1: 0}
    s.add_node(Node("g0", 4, gpus={"a100": 2}))
    assert s.resources.gpu_types == ["v100", "a100"]
    assert s.resources.capacity == [[4, 0, 2, 0], [4, 0, 0, 2]]
    assert s.resources.free == [[3, 0, 1, 0], [4, 0, 0, 2]]
    s.submit(job(2, gpus_per_node=(("a100", 2),)), 1)
    s.submit(job(3, gpus_per_node=((None, 1),)), 1)  # any type: n0's second v100
    assert started(s.schedule(1)) == {2: 1, 3: 1}
    assert s.allocation(2) == [NodeShare("g0", 1, 0, {"a100": 2})]
    assert s.allocation(3) == [NodeShare("n0", 1, 0, {"v100": 1})]
    for i in (1, 2, 3):
        s.end(i, 50)
    assert s.resources.free == s.resources.capacity


def test_a_dynamic_cluster_may_start_empty():
    # Nothing can run before a node registers (the job is refused, as Slurm refuses a
    # request no configured node meets); the multifactor order learns the cluster's
    # size from the nodes that join.
    s = Scheduler(Cluster([], dynamic=True), "easy", "multifactor")
    with pytest.raises(Unsatisfiable):
        s.submit(job(1), 0)
    s.add_node(Node("n0", 4))
    assert s.order.total_cpus == 4
    s.submit(job(1), 0)
    assert started(s.schedule(0)) == {1: 0}


def test_a_known_name_or_a_pool_takes_no_new_node():
    s = Scheduler(Cluster([Node("n0", 4)]), "easy")
    with pytest.raises(ValueError, match="node 'n0' is already known"):
        s.add_node(Node("n0", 8))
    with pytest.raises(ValueError, match="a processor pool takes no nodes"):
        Scheduler(Cluster.pool(4), "easy").add_node(Node("n1", 4))
    assert len(s.cluster.nodes) == 1 and s.resources.capacity == [[4, 0]]
    with pytest.raises(ValueError, match="names unknown node 'g0'"):
        Cluster([Node("n0", 1)], partitions=[Partition("gpu", nodes=("g0",))])


# -- DRAIN, DOWN, UP ---------------------------------------------------------------------


@pytest.mark.parametrize("state", [NodeState.DRAIN, NodeState.DOWN])
def test_a_drained_or_down_node_keeps_its_jobs_and_takes_no_new_ones(state):
    # n0 and n1, 4 CPUs.  J1 (2 CPUs) on n0; n0 is drained (or down).  J1 keeps running
    # and is what a failure of n0 would end.  J2 (-w n0) waits with Slurm's reason;
    # J3 (2 CPUs) goes to n1 though n0 has room.  n0 back up: J2 starts there.
    cluster = Cluster([Node("n0", 4), Node("n1", 4)])
    s = Scheduler(cluster, "easy")
    s.submit(job(1, tasks=2), 0)
    assert started(s.schedule(0)) == {1: 0}
    s.set_node_state("n0", state)
    assert cluster.nodes[0].state is state
    assert s.running_on("n0") == [1] and s.running_on("n1") == []
    s.submit(job(2, submit=1, tasks=2, nodelist={"n0"}), 1)
    s.submit(job(3, submit=1, tasks=2), 1)
    assert s.jobs[2].reason == "ReqNodeNotAvail, UnavailableNodes:n0"
    assert started(s.schedule(1)) == {3: 1}
    assert nodes_of(s, 3) == ["n1"]
    assert s.jobs[2].reason == "ReqNodeNotAvail, UnavailableNodes:n0"
    assert 1 in s.running and s.reservations == {}
    s.set_node_state("n0", NodeState.UP)
    assert started(s.schedule(2)) == {2: 2}
    assert nodes_of(s, 2) == ["n0"]
    s.check_invariants()


def test_a_queued_job_whose_node_goes_down_waits_until_it_is_back():
    # J1 fills n1 until 100; J2 (-w n1) is reserved there at 100.  n1 goes DOWN at 10:
    # J1's end is the driver's business (running_on); J2 leaves the queue with
    # ReqNodeNotAvail and holds no reservation.  The driver ends J1 as NODE_FAIL; n1
    # comes back at 20 and J2 starts.
    cluster = Cluster([Node("n0", 4), Node("n1", 4)])
    s = Scheduler(cluster, "conservative")
    s.submit(job(1, tasks=4, nodelist={"n1"}), 0)
    s.submit(job(2, tasks=4, nodelist={"n1"}), 0)
    assert started(s.schedule(0)) == {1: 0}
    assert s.reservations == {2: 100}
    s.set_node_state("n1", NodeState.DOWN)
    assert s.running_on("n1") == [1]
    s.end(1, 10, JobState.NODE_FAIL)
    assert started(s.schedule(10)) == {}
    assert s.reservations == {}
    assert s.jobs[2].reason == "ReqNodeNotAvail, UnavailableNodes:n1"
    assert [j.id for j in s.pending()] == [2]
    s.set_node_state("n1", NodeState.UP)
    assert started(s.schedule(20)) == {2: 20}


def test_reasons_name_only_the_unavailable_nodes():
    cluster = Cluster([Node("a", 1), Node("b", 1), Node("c", 1)])
    s = Scheduler(cluster, "easy")
    s.set_node_state("c", NodeState.DRAIN)
    s.set_node_state("a", NodeState.DOWN)
    s.submit(job(1, nodes=3, tasks=3, nodelist={"a", "b", "c"}), 0)
    assert started(s.schedule(0)) == {}
    assert s.jobs[1].reason == "ReqNodeNotAvail, UnavailableNodes:a,c"
    s.set_node_state("a", NodeState.UP)
    assert started(s.schedule(1)) == {}
    assert s.jobs[1].reason == "ReqNodeNotAvail, UnavailableNodes:c"
    s.set_node_state("c", NodeState.UP)
    assert started(s.schedule(2)) == {1: 2}
    assert nodes_of(s, 1) == ["a", "b", "c"]


def test_a_reservation_on_a_drained_node_moves_to_another():
    # Conservative.  J1 fills n0 until 100 and J2 fills n1 until 50; J3 (4 CPUs) is
    # promised n1 at 50.  n1 is drained at 10: the promise cannot be kept there, and J3
    # is planned on n0 at 100 instead.
    cluster = Cluster([Node("n0", 4), Node("n1", 4)])
    s = Scheduler(cluster, "conservative")
    s.submit(job(1, tasks=4), 0)
    s.submit(job(2, tasks=4, limit=50), 0)
    s.submit(job(3, tasks=4), 0)
    assert started(s.schedule(0)) == {1: 0, 2: 0}
    assert s.reservations == {3: 50}
    s.set_node_state("n1", NodeState.DRAIN)
    assert started(s.schedule(10)) == {}
    assert s.reservations == {3: 100}
    s.end(2, 50)
    assert started(s.schedule(50)) == {}
    s.end(1, 100)
    assert started(s.schedule(100)) == {3: 100}
    assert nodes_of(s, 3) == ["n0"]


def test_unknown_node_names_and_jobs_that_do_not_run():
    s = Scheduler(Cluster([Node("n0", 4)]), "easy")
    with pytest.raises(KeyError, match="no node named 'x'"):
        s.set_node_state("x", NodeState.DOWN)
    with pytest.raises(KeyError):
        s.running_on("x")
    s.submit(job(1), 0)
    with pytest.raises(KeyError):
        s.node_names(1)  # pending: holds no node
    s.schedule(0)
    assert s.node_names(1) == ["n0"]


def test_a_forecast_sees_joined_nodes_and_their_gpu_columns():
    # g0 joins with an "a100", a type n0 does not have, so its column comes after
    # "v100".  J1 holds g0's a100 until 100; J2 wants one too.  The forecast's copy of
    # the scheduler must read J1's placement in the same columns: J2 starts at 100.
    s = Scheduler(Cluster([Node("n0", 4, gpus={"v100": 2})]), "easy")
    s.add_node(Node("g0", 4, gpus={"a100": 1}))
    assert s.cluster.gpu_types == s.resources.gpu_types == ["v100", "a100"]
    s.submit(job(1, gpus_per_node=(("a100", 1),)), 0)
    s.submit(job(2, gpus_per_node=(("a100", 1),)), 0)
    assert started(s.schedule(0)) == {1: 0}
    assert forecast_starts(s, 0) == {2: 100}
