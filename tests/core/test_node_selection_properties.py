"""Invariants of node selection on random node clusters (hypothesis): random jobs with
``--exclusive``, ``-w``, ``-x`` and constraints, on random nodes that may drain, go
down, come back and join while jobs run.

After every pass: no node is over-allocated and the free vectors match the running
jobs' placements; an exclusive job is alone on its nodes; ``-w`` nodes are in the
placement and ``-x`` nodes never; every node meets the constraint and is in the
partition; a job starts only on nodes that are up; a pending job holds nothing (a gang
never holds some nodes while it waits for others).  Under EASY, with no node changes
and runtimes within estimates, the head's reservation never moves later.
"""

from __future__ import annotations

import heapq
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kairos.core import Cluster, Job, JobState, Node, NodeState, Partition, Scheduler
from kairos.core.profile import Unsatisfiable
from tests.core.node_jobs import job

FEATURES = ("ib", "fast")
GPU_TYPES = ("a100", "v100")


@st.composite
def clusters(draw):
    types = GPU_TYPES[: draw(st.integers(0, 2))]
    nodes = []
    for k in range(draw(st.integers(1, 4))):
        gpus = {t: n for t in types if (n := draw(st.integers(0, 2)))}
        features = frozenset(draw(st.sets(st.sampled_from(FEATURES), max_size=2)))
        nodes.append(Node(f"n{k}", draw(st.integers(1, 6)),
                          mem=draw(st.sampled_from([1000, 2000, 4000])), gpus=gpus,
                          features=features))
    partitions = None
    if len(nodes) > 1 and draw(st.booleans()):
        partitions = [Partition("all", default=True),
                      Partition("sub", nodes=tuple(n.name for n in nodes[1:]))]
    return Cluster(nodes, partitions=partitions)


@st.composite
def jobs_for(draw, cluster, max_jobs=14):
    names = [n.name for n in cluster.nodes] + ["late"]  # "late" may join later
    jobs, runtimes, t = [], {}, 0
    for job_id in range(1, draw(st.integers(1, max_jobs)) + 1):
        t += draw(st.sampled_from([0, 0, 1, 5, 20]))
        nodes = draw(st.sampled_from([1, 1, 1, 2, 3]))
        nodelist = draw(st.sets(st.sampled_from(names), max_size=min(nodes, 2))) \
            if draw(st.integers(0, 3)) == 0 else set()
        exclude = draw(st.sets(st.sampled_from(names), max_size=2)) - nodelist \
            if draw(st.integers(0, 3)) == 0 else set()
        constraint = draw(st.sampled_from(["none", "none", "none", "all", "any"]))
        wanted = draw(st.sets(st.sampled_from(FEATURES), min_size=1, max_size=2))
        gpu_type = draw(st.sampled_from([None, *cluster.gpu_types]))
        estimate = draw(st.sampled_from([1, 5, 10, 50, 100]))
        fields = dict(
            nodes=nodes, tasks=nodes * draw(st.sampled_from([1, 1, 2, 3])),
            mem_per_node=draw(st.sampled_from([0, 0, 500, 1000])),
            gpus_per_node=((gpu_type, 1),) if draw(st.integers(0, 4)) == 0 else (),
            exclusive=draw(st.integers(0, 3)) == 0, nodelist=nodelist, exclude=exclude,
            features=wanted if constraint == "all" else set(),
            any_features=wanted if constraint == "any" else set(),
            partition=draw(st.sampled_from(["", "", "sub"])) if len(cluster.partitions) > 1 else "",
        )
        jobs.append(job(job_id, submit=t, limit=estimate, **fields))
        runtimes[job_id] = draw(st.integers(1, estimate))
    return jobs, runtimes


@st.composite
def node_events(draw, cluster):
    """(time, node name or None for "late" joining, state) changes."""
    events = []
    for _ in range(draw(st.integers(0, 5))):
        at = draw(st.sampled_from([0, 1, 3, 10, 25, 60]))
        name = draw(st.sampled_from([n.name for n in cluster.nodes]))
        events.append((at, name, draw(st.sampled_from(list(NodeState)))))
    if draw(st.booleans()):
        events.append((draw(st.sampled_from([0, 5, 30])), None, NodeState.UP))
    return sorted(events, key=lambda e: (e[0], e[1] or ""))


def check_pass(s: Scheduler, now: float, started_now: list[Job]) -> None:
    cluster, res = s.cluster, s.resources
    nodes = cluster.nodes
    width = 2 + len(res.gpu_types)
    used = [[0] * width for _ in nodes]
    holders: dict[int, list[Job]] = {}
    for j in s.running.values():
        req, (per, _) = j.request, j.placement
        indices = [i for i, _ in per]
        assert indices == sorted(set(indices)) and len(indices) == req.nodes, (j.id, per)
        names = {nodes[i].name for i in indices}
        assert req.nodelist <= names, f"job {j.id} lacks -w nodes: {names}"
        assert not req.exclude & names, f"job {j.id} on excluded nodes: {names}"
        part = cluster.partition(j.partition)
        for i, vec in per:
            node = nodes[i]
            assert part.nodes is None or node.name in part.nodes
            assert req.features <= node.features
            assert not req.any_features or req.any_features & node.features
            cap = res.capacity[i]
            if req.exclusive:
                assert vec[0] == cap[0] and tuple(vec[2:]) == tuple(cap[2:len(vec)])
            else:
                assert vec[0] == req.cpus_per_node
            assert vec[1] == req.mem_per_node
            for d, amount in enumerate(vec):
                used[i][d] += amount
            holders.setdefault(i, []).append(j)
    for i, js in holders.items():
        if any(j.request.exclusive for j in js):
            assert len(js) == 1, f"{nodes[i].name} shared by {[j.id for j in js]} at {now}"
    for i, node in enumerate(nodes):
        cap = res.capacity[i]
        assert all(u <= c for u, c in zip(used[i], cap)), f"{node.name} over-allocated at {now}"
        assert [c - u for c, u in zip(cap, used[i])] == res.free[i], f"{node.name}: free out of step"
    for j in started_now:
        states = [nodes[i].state for i, _ in j.placement[0]]
        assert all(state is NodeState.UP for state in states), f"job {j.id} started on {states}"
    for j in s.pending():
        assert j.placement is None


def simulate(cluster, jobs, runtimes, policy, events=()):
    """Ends, node changes, arrivals, one pass per instant; ``check_pass`` after each.
    After the last node change every node comes back up, so every accepted job runs.
    Returns the accepted jobs and every reservation seen, per job."""
    s = Scheduler(cluster, policy)
    arrivals = sorted(jobs, key=lambda j: (j.submit, j.id))
    changes = list(events)
    restore_at = max([e[0] for e in changes], default=0) + 1
    running: list[tuple[float, int]] = []
    accepted: dict[int, Job] = {}
    promises: dict[int, list[float]] = {}
    k = 0
    for _ in range(10_000):
        pending_restore = changes or any(n.state is not NodeState.UP for n in cluster.nodes)
        times = [arrivals[k].submit] if k < len(arrivals) else []
        times += [running[0][0]] if running else []
        times += [changes[0][0]] if changes else []
        times += [restore_at] if pending_restore else []
        if not times:
            break
        now = min(times)
        while running and running[0][0] == now:
            s.end(heapq.heappop(running)[1], now)
        while changes and changes[0][0] == now:
            _, name, state = changes.pop(0)
            if name is None:
                if "late" not in cluster.node_index:
                    s.add_node(Node("late", 4, features=frozenset({"ib"}), gpus={"h100": 1}))
            else:
                s.set_node_state(name, state)
        if now >= restore_at and not changes:
            for node in cluster.nodes:
                s.set_node_state(node.name, NodeState.UP)
        while k < len(arrivals) and arrivals[k].submit == now:
            j = arrivals[k]
            k += 1
            try:
                s.submit(j, now)
            except Unsatisfiable as e:
                assert str(e).startswith(f"job {j.id}")
                continue
            accepted[j.id] = j
        actions = s.schedule(now)
        for action in actions:
            heapq.heappush(running, (now + runtimes[action.job_id], action.job_id))
        check_pass(s, now, [accepted[a.job_id] for a in actions])
        s.check_invariants()
        for job_id, t in s.reservations.items():
            assert t >= now
            promises.setdefault(job_id, []).append(t)
    assert not s.jobs, f"jobs never ran: {sorted(s.jobs)}"
    assert all(j.state is JobState.COMPLETED for j in accepted.values())
    return accepted, promises


SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def workloads(draw, with_events=True):
    cluster = draw(clusters())
    jobs, runtimes = draw(jobs_for(cluster))
    events = draw(node_events(cluster)) if with_events else []
    return cluster, jobs, runtimes, events


@SETTINGS
@given(workloads(), st.sampled_from(["fcfs", "easy", "conservative"]))
def test_selection_is_honoured_while_nodes_change(workload, policy):
    cluster, jobs, runtimes, events = workload
    accepted, _ = simulate(cluster, jobs, runtimes, policy, events)
    for j in accepted.values():
        assert j.start >= j.submit and j.end == j.start + runtimes[j.id]


@SETTINGS
@given(workloads(with_events=False))
def test_easy_never_delays_the_head_with_selection_options(workload):
    # As test_nodes' property of the same name: the head's reservation only moves
    # earlier, and it starts no later than the earliest promise.
    cluster, jobs, runtimes, _ = workload
    accepted, promises = simulate(cluster, jobs, runtimes, "easy")
    for job_id, seen in promises.items():
        assert accepted[job_id].start <= min(seen), (job_id, accepted[job_id].start, seen)
        assert seen == sorted(seen, reverse=True), f"job {job_id}'s reservation moved later: {seen}"


@SETTINGS
@given(workloads(with_events=False))
def test_fcfs_with_selection_starts_in_submit_order(workload):
    cluster, jobs, runtimes, _ = workload
    accepted, _ = simulate(cluster, jobs, runtimes, "fcfs")
    order = sorted(accepted.values(), key=lambda j: (j.submit, j.id))
    assert [j.start for j in order] == sorted(j.start for j in order)


def test_the_simulation_meets_every_kind_of_event():
    # A guard on the generator: a fixed workload with each option and each change.
    cluster = Cluster([Node("n0", 2, features=frozenset({"ib"})), Node("n1", 2, features=frozenset({"fast"}))])
    jobs = [job(1, nodes=2, tasks=2, exclusive=True, limit=10),
            job(2, nodelist={"n1"}, limit=10), job(3, exclude={"n1"}, limit=10),
            job(4, any_features={"ib", "fast"}, limit=10, submit=1),
            job(5, nodelist={"late"}, submit=2, limit=10)]
    events = [(0, "n1", NodeState.DRAIN), (3, "n0", NodeState.DOWN), (5, None, NodeState.UP)]
    accepted, _ = simulate(cluster, jobs, {j.id: 5 for j in jobs}, "easy", events)
    assert sorted(accepted) == [1, 2, 3, 4]  # job 5 names a node unknown at its submission
    assert not math.isinf(max(j.end for j in accepted.values()))
