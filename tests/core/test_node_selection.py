"""Slurm's node-selection options in the core, worked by hand: ``--exclusive`` (whole
nodes), ``-w`` (these nodes), ``-x`` (not these), ``--constraint`` (``a&b``, ``a|b``),
and what is refused at submission in Slurm's words.

A placement is ``(((node_index, (cpus, mem, gpu_type_0, ...)), ...), licenses)``.
"""

from __future__ import annotations

import pytest

from kairos.core import Cluster, Node, Partition, Request, Scheduler
from kairos.core.jobs import parse_constraint
from kairos.core.profile import InvalidFeature, InvalidNodeName, Unsatisfiable
from kairos.core.resources import NodeShare
from tests.core.node_jobs import job, nodes_of, started

# -- --exclusive ------------------------------------------------------------------------


def test_exclusive_jobs_take_idle_nodes_whole():
    # n0: 4 CPUs; n1: 8 CPUs and 2 a100 (free vectors [cpus, mem, a100]).  EASY, all at 0:
    #   J1 1 CPU 100 s        -> n0 (first fit)
    #   J2 exclusive 50 s     -> n0 is not idle: n1, all 8 CPUs and both GPUs
    #   J3 1 CPU 100 s        -> n1 has nothing left: n0
    #   J4 exclusive 10 s     -> no idle node: the head, reserved on n1 at 50
    #   J5 1 CPU 100 s        -> n0 (2 CPUs left), which J4's slot does not need
    cluster = Cluster([Node("n0", 4, mem=8000), Node("n1", 8, mem=8000, gpus={"a100": 2})])
    s = Scheduler(cluster, "easy")
    s.submit(job(1), 0)
    s.submit(job(2, limit=50, exclusive=True), 0)
    s.submit(job(3), 0)
    s.submit(job(4, limit=10, exclusive=True), 0)
    s.submit(job(5), 0)
    assert started(s.schedule(0)) == {1: 0, 2: 0, 3: 0, 5: 0}
    assert [nodes_of(s, i) for i in (1, 2, 3, 5)] == [["n0"], ["n1"], ["n0"], ["n0"]]
    # The whole node's CPUs and GPUs; memory only as asked for (none), as in Slurm.
    assert s.allocation(2) == [NodeShare("n1", 8, 0, {"a100": 2})]
    assert s.allocation(1) == [NodeShare("n0", 1, 0, {})]
    assert s.resources.free == [[1, 8000, 0], [0, 8000, 0]]
    assert s.reservations == {4: 50}
    assert s.jobs[4].reason == "Resources"
    s.end(2, 50)
    assert started(s.schedule(50)) == {4: 50}
    assert nodes_of(s, 4) == ["n1"]
    s.check_invariants()


def test_exclusive_memory_and_shares_on_unequal_nodes():
    # Two nodes of 2 and 6 CPUs.  An exclusive 2-node job with 1000 MiB per node holds
    # every CPU of each (2 and 6) and 1000 MiB of each: what squeue counts as its CPUs
    # comes from the allocation, not from cpus_per_node (1).
    cluster = Cluster([Node("a", 2, mem=4000), Node("b", 6, mem=4000)])
    s = Scheduler(cluster, "fcfs")
    s.submit(job(1, nodes=2, tasks=2, mem_per_node=1000, exclusive=True), 0)
    assert started(s.schedule(0)) == {1: 0}
    assert s.allocation(1) == [NodeShare("a", 2, 1000, {}), NodeShare("b", 6, 1000, {})]
    assert sum(share.cpus for share in s.allocation(1)) == 8
    assert s.jobs[1].request.cpus_per_node == 1
    # Nothing else fits beside it, even a job asking for no memory at all.
    s.submit(job(2), 0)
    assert started(s.schedule(0)) == {}
    s.end(1, 10)
    assert started(s.schedule(10)) == {2: 10}


def test_an_exclusive_job_waits_for_an_idle_node_under_backfill():
    # n0 and n1, 4 CPUs.  EASY, all at 0:
    #   J1 4 CPUs 100 s          -> n0
    #   J2 1 CPU 30 s, -w n1     -> n1
    #   J3 exclusive 10 s        -> no idle node; n1 is idle first, at 30: reserved
    #   J4 1 CPU 50 s            -> n0 is full; n1 has room but it would still run at
    #                               30 and J3 needs n1 idle then: waits
    #   J5 1 CPU 20 s            -> n1 until 20, before J3's slot: starts
    # At 30 J3 takes n1 whole; J4 still waits (n0 full, n1 held whole).
    cluster = Cluster([Node("n0", 4), Node("n1", 4)])
    s = Scheduler(cluster, "easy")
    s.submit(job(1, tasks=4), 0)
    s.submit(job(2, limit=30, nodelist={"n1"}), 0)
    s.submit(job(3, limit=10, exclusive=True), 0)
    s.submit(job(4, limit=50), 0)
    s.submit(job(5, limit=20), 0)
    assert started(s.schedule(0)) == {1: 0, 2: 0, 5: 0}
    assert (nodes_of(s, 2), nodes_of(s, 5)) == (["n1"], ["n1"])
    assert s.reservations == {3: 30}
    assert s.jobs[4].reason == "Priority"
    s.end(5, 20)
    assert started(s.schedule(20)) == {}
    s.end(2, 30)
    assert started(s.schedule(30)) == {3: 30}
    assert s.allocation(3) == [NodeShare("n1", 4, 0, {})]
    assert s.jobs[4].state.name == "PENDING"


# -- -w / --nodelist ---------------------------------------------------------------------


def test_nodelist_nodes_are_in_the_allocation_and_the_rest_is_first_fit():
    # n0..n3, 4 CPUs each; EASY, all at 0.
    #   J1 2 nodes, 1 CPU each, -w n2   -> n2 and the first other fit, n0: [n0, n2] in
    #                                      cluster order (the script runs on n0)
    #   J2 4 CPUs, -w n2                 -> n2 has 3 free: waits for J1 (100), reserved
    #                                      on n2 though n1 and n3 are idle
    #   J3 4 CPUs 1000 s                 -> n1 (first whole node), off J2's slot
    #   J4 3 CPUs 1000 s, -w n2          -> would hold n2 past 100: waits
    #   J5 3 CPUs 50 s, -w n2            -> fits on n2 before 100: starts
    cluster = Cluster([Node(f"n{k}", 4) for k in range(4)])
    s = Scheduler(cluster, "easy")
    s.submit(job(1, nodes=2, tasks=2, nodelist={"n2"}), 0)
    s.submit(job(2, tasks=4, nodelist={"n2"}), 0)
    s.submit(job(3, tasks=4, limit=1000), 0)
    s.submit(job(4, tasks=3, limit=1000, nodelist={"n2"}), 0)
    s.submit(job(5, tasks=3, limit=50, nodelist={"n2"}), 0)
    assert started(s.schedule(0)) == {1: 0, 3: 0, 5: 0}
    assert nodes_of(s, 1) == ["n0", "n2"]
    assert (nodes_of(s, 3), nodes_of(s, 5)) == (["n1"], ["n2"])
    assert s.reservations == {2: 100}
    assert (s.jobs[2].reason, s.jobs[4].reason) == ("Resources", "Priority")
    s.end(5, 50)
    s.end(1, 100)
    assert started(s.schedule(100)) == {2: 100}
    assert nodes_of(s, 2) == ["n2"]


def test_nodelist_naming_every_node_of_a_multi_node_job():
    cluster = Cluster([Node("a", 2), Node("b", 2), Node("c", 2)])
    s = Scheduler(cluster, "fcfs")
    s.submit(job(1, nodes=2, tasks=2, nodelist={"c", "a"}), 0)
    assert started(s.schedule(0)) == {1: 0}
    assert nodes_of(s, 1) == ["a", "c"]


# -- -x / --exclude and --constraint ----------------------------------------------------


def test_excluded_nodes_are_never_used():
    # Only n0 is free enough for J2 but J2 excludes it: it waits for n1 though n0 idles.
    cluster = Cluster([Node("n0", 4), Node("n1", 4)])
    s = Scheduler(cluster, "easy")
    s.submit(job(1, tasks=4, exclude={"n0"}), 0)
    s.submit(job(2, tasks=4, exclude={"n0"}), 0)
    assert started(s.schedule(0)) == {1: 0}
    assert nodes_of(s, 1) == ["n1"]
    assert s.reservations == {2: 100}
    assert s.resources.free[0] == [4, 0]


def test_constraint_any_of_lets_each_node_have_a_different_feature():
    # n0 has "a", n1 "b", n2 neither.  J1 (2 nodes, a|b) takes n0 and n1; J2 (a|b) has
    # none left and waits; J3 (a&b) can never run (no node has both): refused.  J4
    # (no constraint) goes to n2.
    cluster = Cluster([Node("n0", 2, features=frozenset({"a"})),
                       Node("n1", 2, features=frozenset({"b"})), Node("n2", 2)])
    s = Scheduler(cluster, "easy")
    s.submit(job(1, nodes=2, tasks=4, any_features={"a", "b"}), 0)
    s.submit(job(2, tasks=2, any_features={"a", "b"}), 0)
    with pytest.raises(Unsatisfiable, match=r"features \['a', 'b'\]"):
        s.submit(job(3, features={"a", "b"}), 0)
    s.submit(job(4, tasks=2), 0)
    assert started(s.schedule(0)) == {1: 0, 4: 0}
    assert (nodes_of(s, 1), nodes_of(s, 4)) == (["n0", "n1"], ["n2"])
    assert s.reservations == {2: 100}


@pytest.mark.parametrize("text, features, any_features", [
    ("", set(), set()),
    (None, set(), set()),
    ("ib", {"ib"}, set()),
    (" ib ", {"ib"}, set()),
    ("ib&fast", {"ib", "fast"}, set()),
    ("ib|fast", set(), {"ib", "fast"}),
    ("a|a", set(), {"a"}),
    ("x86-64_v3.1", {"x86-64_v3.1"}, set()),
])
def test_parse_constraint(text, features, any_features):
    assert parse_constraint(text) == (frozenset(features), frozenset(any_features))


@pytest.mark.parametrize("text, phrase", [
    ("[a|b]", "brackets"),
    ("a*2", "node counts"),
    ("(a&b)|c", "parentheses"),
    ("a&b|c", "mixing & and |"),
    ("a&", "an empty feature name"),
    ("a||b", "an empty feature name"),
    ("a,b", "'a,b' is not a feature name"),
    ("a b", "'a b' is not a feature name"),
])
def test_parse_constraint_refuses_what_is_not_supported(text, phrase):
    with pytest.raises(ValueError) as info:
        parse_constraint(text)
    message = str(info.value)
    assert message.startswith("Invalid feature specification") and phrase in message, message


# -- refused at submission ---------------------------------------------------------------


def refusing_cluster() -> Cluster:
    # c0 and c1 in partition "cpu" (default); g0 with feature "gpu" in "gpu" only.
    return Cluster(
        [Node("c0", 4, features=frozenset({"ib"})), Node("c1", 4), Node("g0", 4, features=frozenset({"gpu"}))],
        partitions=[Partition("cpu", nodes=("c0", "c1"), default=True), Partition("gpu", nodes=("g0",))],
    )


REFUSED = [
    # (what, fields, exception type, Slurm's words, a phrase of the message)
    ("unknown -w node", dict(nodelist={"c9"}), InvalidNodeName,
     "Invalid node name specified", "no node named c9 (in -w)"),
    ("unknown -x node", dict(exclude={"zz"}), InvalidNodeName,
     "Invalid node name specified", "no node named zz (in -x)"),
    ("unknown feature", dict(features={"nvme"}), InvalidFeature,
     "Invalid feature specification", "no node has features ['nvme']"),
    ("unknown feature among alternatives", dict(any_features={"ib", "nvme"}), InvalidFeature,
     "Invalid feature specification", "['nvme']"),
    ("-w node in another partition", dict(nodelist={"g0"}), Unsatisfiable,
     "Requested node configuration is not available", "node g0 (in -w) is not in partition 'cpu'"),
    ("-w node without the feature", dict(nodelist={"c1"}, features={"ib"}), Unsatisfiable,
     "Requested node configuration is not available", "node c1 (in -w) lacks the features"),
    ("every node of the partition excluded", dict(exclude={"c0", "c1"}), Unsatisfiable,
     "Requested node configuration is not available", "excluding c0, c1"),
    ("more exclusive nodes than idle ones could be", dict(nodes=3, tasks=3, exclusive=True),
     Unsatisfiable, "Requested node configuration is not available", "(whole nodes)"),
    ("-w node too small", dict(tasks=5, nodelist={"c0"}), Unsatisfiable,
     "Requested node configuration is not available", "including c0"),
]


@pytest.mark.parametrize("what, fields, kind, slurm, phrase", REFUSED, ids=[r[0] for r in REFUSED])
def test_a_selection_that_can_never_be_met_is_refused_at_submit(what, fields, kind, slurm, phrase):
    s = Scheduler(refusing_cluster(), "easy")
    with pytest.raises(kind) as info:
        s.submit(job(1, **fields), 0)
    assert info.value.slurm_error == slurm
    assert str(info.value).startswith("job 1: ") and phrase in str(info.value), str(info.value)
    assert s.jobs == {}


def test_a_constraint_on_a_pool_is_refused():
    s = Scheduler(Cluster.pool(8), "easy")
    for fields in (dict(exclusive=True), dict(nodelist={"pool"}), dict(any_features={"a", "b"})):
        with pytest.raises(Unsatisfiable, match="a processor pool has no nodes to choose from"):
            s.submit(job(1, **fields), 0)


@pytest.mark.parametrize("fields, message", [
    (dict(nodelist={"a", "b"}), "Node count specification invalid: the node list names 2 nodes (a, b) but the job asks for 1"),
    (dict(nodes=2, tasks=2, nodelist={"a"}, exclude={"a", "b"}), "Invalid node name specified: a both required (-w) and excluded (-x)"),
])
def test_malformed_selections_are_refused_when_the_request_is_made(fields, message):
    for name in ("nodelist", "exclude"):
        if name in fields:
            fields[name] = frozenset(fields[name])
    with pytest.raises(ValueError) as info:
        Request(**fields)
    assert str(info.value) == message
