"""Spread requests (Slurm's ``-n`` without ``-N``): tasks on as many nodes as they
need, placed now and in the backfill profile's future, adopted after a restart, and
checked at submission; then random workloads mixing them with gang jobs (hypothesis):
no node ever holds more than it has, every task has a node, every chosen node runs at
least one task, and the bookkeeping matches the placements.
"""

from __future__ import annotations

import heapq

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kairos.core import Cluster, Job, JobState, Node, NodeState, Partition, Request, Scheduler
from kairos.core.jobs import fill_tasks
from kairos.core.profile import Unsatisfiable
from kairos.core.resources import NodeResources
from tests.core.node_jobs import started
from tests.core.test_node_selection_properties import clusters, node_events


def spread(id: int, tasks: int, submit: float = 0.0, limit: float = 100.0, **fields) -> Job:
    """A spread job of ``tasks`` tasks (``nodes`` is 1 unless given)."""
    for name in ("nodelist", "exclude", "features"):
        if name in fields:
            fields[name] = frozenset(fields[name])
    job_fields = {k: fields.pop(k) for k in ("partition",) if k in fields}
    return Job(id, "u", submit, Request(tasks=tasks, spread=True, **fields), time_limit=limit,
               **job_fields)


def one_cpu_nodes(count: int = 3, **node) -> Cluster:
    return Cluster([Node(f"n{k}", 1, mem=1000, **node) for k in range(1, count + 1)])


def shares(s: Scheduler, job_id: int) -> dict[str, tuple]:
    return {share.name: (share.cpus, share.mem) for share in s.allocation(job_id)}


# -- placement -----------------------------------------------------------------------


def test_three_tasks_on_one_cpu_nodes_take_three_nodes_one_task_each():
    s = Scheduler(one_cpu_nodes(), "easy")
    s.submit(spread(1, 3, mem_per_node=50), 0)
    assert started(s.schedule(0)) == {1: 0}
    assert shares(s, 1) == {"n1": (1, 50), "n2": (1, 50), "n3": (1, 50)}
    assert s.jobs[1].request.layout([1, 1, 1]) == [1, 1, 1]


def test_on_idle_two_cpu_nodes_the_tasks_take_as_few_nodes_as_they_fill():
    s = Scheduler(Cluster([Node(f"n{k}", 2) for k in (1, 2, 3)]), "easy")
    s.submit(spread(1, 3), 0)
    s.submit(spread(2, 1, cpus_per_task=1), 0)  # one task: one node
    assert started(s.schedule(0)) == {1: 0, 2: 0}
    assert shares(s, 1) == {"n1": (2, 0), "n2": (1, 0)}
    assert shares(s, 2) == {"n2": (1, 0)}  # first fit: n2 has a CPU left
    assert s.jobs[1].request.layout([2, 1]) == [2, 1]


def test_busy_cpus_push_tasks_onto_more_nodes():
    s = Scheduler(Cluster([Node(f"n{k}", 2) for k in (1, 2, 3)]), "easy")
    s.submit(Job(1, "u", 0, Request(tasks=1), time_limit=100), 0)  # 1 CPU of n1
    s.submit(spread(2, 4, cpus_per_task=1), 0)
    assert started(s.schedule(0)) == {1: 0, 2: 0}
    assert shares(s, 2) == {"n1": (1, 0), "n2": (2, 0), "n3": (1, 0)}


def test_whole_tasks_only_cpus_per_task_memory_and_gpus_on_each_node():
    cluster = Cluster([Node("n1", 3, mem=1000), Node("n2", 4, mem=100),
                       Node("n3", 4, mem=1000, gpus={"a100": 1}), Node("n4", 4, mem=1000)])
    res = NodeResources(cluster)
    # 2 CPUs a task: n1 runs one (3 // 2), n2 has too little memory, then n3.
    place = res.place(spread(1, 3, cpus_per_task=2, mem_per_node=500), res.free, {})
    assert place[0] == ((0, (2, 500, 0)), (2, (4, 500, 0)))
    # GPUs on each node: only n3 has one, and it has room for one task of 4 CPUs... or
    # four of 1: the tasks never leave the nodes that have what each node needs.
    place = res.place(spread(2, 4, gpus_per_node=(("a100", 1),)), res.free, {})
    assert place[0] == ((2, (4, 0, 1)),)
    assert res.place(spread(3, 5, gpus_per_node=(("a100", 1),)), res.free, {}) is None


def test_memory_per_cpu_bounds_the_tasks_a_node_takes():
    res = NodeResources(Cluster([Node("n1", 8, mem=300), Node("n2", 8, mem=1000)]))
    place = res.place(spread(1, 5, mem_per_cpu=100), res.free, {})
    assert place[0] == ((0, (3, 300)), (1, (2, 200)))  # n1's memory holds 3 tasks


def test_nodelist_nodes_come_first_and_exclusive_takes_idle_nodes_whole():
    cluster = Cluster([Node(f"n{k}", 2) for k in (1, 2, 3)])
    res = NodeResources(cluster)
    place = res.place(spread(1, 3, nodelist={"n3"}), res.free, {})
    assert place[0] == ((0, (1, 0)), (2, (2, 0)))  # n3 filled first, then n1, in order
    s = Scheduler(cluster, "easy")
    s.submit(Job(1, "u", 0, Request(tasks=1), time_limit=100), 0)  # n1 is not idle
    s.submit(spread(2, 3, exclusive=True), 0)
    assert started(s.schedule(0)) == {1: 0, 2: 0}
    assert shares(s, 2) == {"n2": (2, 0), "n3": (2, 0)}
    assert s.resources.free == [[1, 0], [0, 0], [0, 0]]


def test_a_minimum_node_count_and_the_partitions_max_nodes():
    cluster = Cluster([Node(f"n{k}", 4) for k in (1, 2, 3)],
                      partitions=[Partition("all", default=True),
                                  Partition("two", max_nodes=2)])
    res = NodeResources(cluster)
    place = res.place(spread(1, 4, nodes=2), res.free, {})
    assert place[0] == ((0, (3, 0)), (1, (1, 0)))  # at least 2 nodes, each a task
    job = spread(2, 9, partition="two")
    assert res.place(job, res.free, {}) is None  # 3 nodes needed, 2 allowed
    with pytest.raises(Unsatisfiable, match="at most 2 nodes"):
        res.check(job)


def test_a_spread_request_that_never_fits_says_what_it_asked():
    res = NodeResources(one_cpu_nodes())
    with pytest.raises(Unsatisfiable) as refused:
        res.check(spread(7, 4, mem_per_node=50))
    assert str(refused.value) == ("job 7: 4 task(s) of 1 CPU with 50 MiB and no GPUs on each "
                                  "node do not fit in partition 'default'")
    with pytest.raises(Unsatisfiable, match=r"2 task\(s\) of 2 CPUs with 10 MiB per CPU"):
        res.check(spread(8, 2, cpus_per_task=2, mem_per_cpu=10))
    res.check(spread(9, 3))  # the three nodes together hold it


def test_fill_tasks_and_layout():
    assert fill_tasks([2, 2, 2], 5) == [2, 2, 1]
    assert fill_tasks([1, 3, 3], 5) == [1, 3, 1]
    assert fill_tasks([1, 1], 3) is None and fill_tasks([1, 1, 1], 2) is None
    assert fill_tasks([2, 0], 2) is None
    assert Request(nodes=3, tasks=7).layout() == [3, 2, 2]  # Slurm's block
    assert Request(nodes=2, tasks=3).layout([2, 2]) == [2, 1]
    assert Request(tasks=5, spread=True).layout([3, 1, 1]) == [3, 1, 1]
    assert Request(tasks=5, spread=True).layout([8, 8]) == [4, 1]  # whole (exclusive) nodes


def test_request_rules():
    assert Request(tasks=3, spread=True, cpus_per_task=2).cpus_per_node == 2
    assert Request(tasks=3, spread=True).cpus == 3
    with pytest.raises(ValueError, match="memory per CPU is for a spread request"):
        Request(tasks=3, mem_per_cpu=10)
    with pytest.raises(ValueError, match="memory per CPU is for a spread request"):
        Request(tasks=3, spread=True, mem_per_cpu=10, mem_per_node=10)


# -- the future: reservations --------------------------------------------------------


def test_a_spread_job_gets_a_reservation_and_backfill_respects_it():
    # n1 is busy until 100; the 3-task job must wait for it, with a reservation at 100.
    # A 1-task job of 50 s fits before it on n2; one of 200 s would delay it.
    s = Scheduler(one_cpu_nodes(), "easy")
    s.submit(Job(1, "u", 0, Request(tasks=1), time_limit=100), 0)
    assert started(s.schedule(0)) == {1: 0}
    s.submit(spread(2, 3, submit=1, limit=100), 1)
    s.submit(Job(3, "u", 1, Request(tasks=1), time_limit=200), 1)
    s.submit(Job(4, "u", 1, Request(tasks=1), time_limit=50), 1)
    assert started(s.schedule(1)) == {4: 1}
    assert s.reservations == {2: 100}
    assert s.jobs[2].reason == "Resources" and s.jobs[3].reason == "Priority"
    s.end(1, 100)
    s.end(4, 51)
    assert started(s.schedule(100)) == {2: 100}
    assert shares(s, 2) == {"n1": (1, 0), "n2": (1, 0), "n3": (1, 0)}


def test_conservative_promises_hold_for_spread_jobs():
    s = Scheduler(Cluster([Node(f"n{k}", 2) for k in (1, 2)]), "conservative")
    s.submit(Job(1, "u", 0, Request(tasks=2), time_limit=100), 0)  # n1 whole
    assert started(s.schedule(0)) == {1: 0}
    s.submit(spread(2, 4, submit=1, limit=50), 1)  # needs both nodes: at 100
    s.submit(spread(3, 2, submit=1, limit=50), 1)  # fits on n2 now, but would delay 2?
    acts = started(s.schedule(1))
    assert s.reservations[2] == 100
    assert acts == {3: 1}  # ends at 51, before 2's promise
    assert shares(s, 3) == {"n2": (2, 0)}


# -- adoption after a restart --------------------------------------------------------


def test_adoption_counts_the_recorded_shares_not_a_guess():
    cluster = Cluster([Node(f"n{k}", 2) for k in (1, 2)])
    s = Scheduler(cluster, "easy")
    job = spread(1, 3)
    job.start, job.expected_end = 0.0, 100.0
    s.adopt(job, 10, nodes=["n1", "n2"], cpus=[2, 1])
    assert s.resources.free == [[0, 0], [1, 0]]
    s.submit(Job(2, "u", 10, Request(tasks=1), time_limit=10), 10)
    assert started(s.schedule(10)) == {2: 10}  # n2's last CPU
    again = Scheduler(cluster, "easy")
    old = spread(3, 3)
    old.start, old.expected_end = 0.0, 100.0
    again.adopt(old, 10, nodes=["n1", "n2"])  # no record: laid on the nodes as they hold
    assert again.resources.free == [[0, 0], [1, 0]]


def test_a_test_only_claim_without_nodes_takes_what_the_tasks_need():
    res = NodeResources(one_cpu_nodes())
    claim = res.claim(spread(1, 2), ())
    assert res.describe(claim) == ["n1", "n2"]


# -- random workloads ------------------------------------------------------------------


@st.composite
def workloads(draw):
    cluster = draw(clusters())
    names = [n.name for n in cluster.nodes]
    jobs, runtimes, t = [], {}, 0
    for job_id in range(1, draw(st.integers(1, 12)) + 1):
        t += draw(st.sampled_from([0, 0, 1, 5, 20]))
        tasks = draw(st.integers(1, 8))
        fields = dict(
            cpus_per_task=draw(st.sampled_from([1, 1, 2])),
            exclusive=draw(st.integers(0, 4)) == 0,
            nodelist=draw(st.sets(st.sampled_from(names), max_size=1))
            if draw(st.integers(0, 4)) == 0 else set(),
        )
        memory = draw(st.sampled_from(["none", "node", "cpu"]))
        if memory == "node":
            fields["mem_per_node"] = draw(st.sampled_from([100, 500, 1000]))
        estimate = draw(st.sampled_from([1, 5, 10, 50]))
        if draw(st.booleans()):
            fields["nodes"] = max(1, len(fields["nodelist"]))
            if memory == "cpu":
                fields["mem_per_cpu"] = draw(st.sampled_from([100, 300]))
            job = spread(job_id, max(tasks, fields["nodes"]), submit=t, limit=estimate, **fields)
        else:
            nodes = draw(st.sampled_from([1, 1, 2]))
            if len(fields["nodelist"]) > nodes:
                fields["nodelist"] = set()
            job = Job(job_id, "u", t, Request(
                nodes=nodes, tasks=max(nodes, tasks // 2), cpus_per_task=fields["cpus_per_task"],
                mem_per_node=fields.get("mem_per_node", 0), exclusive=fields["exclusive"],
                nodelist=frozenset(fields["nodelist"])), time_limit=estimate)
        jobs.append(job)
        runtimes[job_id] = draw(st.integers(1, estimate))
    return cluster, jobs, runtimes, draw(node_events(cluster))


def check_spread(s: Scheduler, now: float) -> None:
    """No node over its capacity, free vectors match placements, and every running
    spread job has all its tasks on at least ``nodes`` and at most ``tasks`` nodes, each
    with at least one task and what every node of the job needs."""
    res, nodes = s.resources, s.cluster.nodes
    used = [[0] * len(v) for v in res.capacity]
    for job in s.running.values():
        req, (per, _) = job.request, job.placement
        indices = [i for i, _ in per]
        assert indices == sorted(set(indices)), (job.id, per)
        for i, vec in per:
            for d, amount in enumerate(vec):
                used[i][d] += amount
        if not req.spread:
            continue
        assert req.nodes <= len(per) <= req.tasks, (job.id, per)
        assert {nodes[i].name for i in indices} >= req.nodelist
        cpus = [vec[0] for _, vec in per]
        tasks = req.layout(cpus)
        assert sum(tasks) == req.tasks and min(tasks) >= 1, (job.id, per, tasks)
        for (i, vec), n in zip(per, tasks):
            assert vec[0] >= n * req.cpus_per_task
            if req.exclusive:  # whole nodes, memory as asked (all of it, asked per CPU)
                assert vec[0] == res.capacity[i][0]
                assert vec[1] == (res.capacity[i][1] if req.mem_per_cpu else req.mem_per_node)
            else:
                assert vec[0] == n * req.cpus_per_task
                assert vec[1] == (req.mem_per_node or n * req.cpus_per_task * req.mem_per_cpu)
    for i, node in enumerate(nodes):
        assert all(u <= c for u, c in zip(used[i], res.capacity[i])), f"{node.name} over at {now}"
        assert [c - u for c, u in zip(res.capacity[i], used[i])] == res.free[i]


@given(workloads(), st.sampled_from(["fcfs", "easy", "conservative"]))
def test_random_spread_workloads_never_over_allocate_and_all_run(workload, policy):
    cluster, jobs, runtimes, events = workload
    s = Scheduler(cluster, policy)
    arrivals = sorted(jobs, key=lambda j: (j.submit, j.id))
    changes = list(events)
    restore_at = max([e[0] for e in changes], default=0) + 1
    running: list[tuple[float, int]] = []
    accepted = {}
    k = 0
    for _ in range(10_000):
        down = changes or any(n.state is not NodeState.UP for n in cluster.nodes)
        times = [arrivals[k].submit] if k < len(arrivals) else []
        times += [running[0][0]] if running else []
        times += [changes[0][0]] if changes else []
        times += [restore_at] if down else []
        if not times:
            break
        now = min(times)
        while running and running[0][0] == now:
            s.end(heapq.heappop(running)[1], now)
        while changes and changes[0][0] == now:
            _, name, state = changes.pop(0)
            if name is None:
                if "late" not in cluster.node_index:
                    s.add_node(Node("late", 4, mem=2000, features=frozenset({"ib"})))
            else:
                s.set_node_state(name, state)
        if now >= restore_at and not changes:
            for node in cluster.nodes:
                s.set_node_state(node.name, NodeState.UP)
        while k < len(arrivals) and arrivals[k].submit == now:
            job = arrivals[k]
            k += 1
            try:
                s.submit(job, now)
            except Unsatisfiable as e:
                assert str(e).startswith(f"job {job.id}")
                continue
            accepted[job.id] = job
        for action in s.schedule(now):
            heapq.heappush(running, (now + runtimes[action.job_id], action.job_id))
            placed = s.running[action.job_id].placement[0]
            assert all(cluster.nodes[i].state is NodeState.UP for i, _ in placed)
        check_spread(s, now)
        s.check_invariants()
    assert not s.jobs, f"jobs never ran: {sorted(s.jobs)}"
    assert all(j.state is JobState.COMPLETED for j in accepted.values())


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3000)), min_size=1, max_size=5),
       st.integers(1, 12), st.sampled_from([1, 2, 3]), st.sampled_from([0, 200]),
       st.booleans())
def test_a_spread_placement_fits_exactly_when_the_room_adds_up(free, tasks, cpt, mem, exclusive):
    """On any free vectors: a placement never takes more than a node has free, places
    every task, at least one on each node it takes; and there is one whenever the room
    of the nodes together holds the tasks."""
    cluster = Cluster([Node(f"n{k}", 6, mem=3000) for k in range(len(free))])
    res = NodeResources(cluster)
    vectors = [[c, m] for c, m in free]
    job = spread(1, tasks, cpus_per_task=cpt, mem_per_node=mem, exclusive=exclusive)
    place = res.place(job, [list(v) for v in vectors], {})
    room = [0 if (exclusive and v != [6, 3000]) or v[1] < mem else
            (6 if exclusive else v[0]) // cpt for v in vectors]
    if sum(room) < tasks:
        assert place is None
        return
    assert place is not None
    per, _ = place
    counts = job.request.layout([vec[0] for _, vec in per])
    assert sum(counts) == tasks and all(n >= 1 for n in counts) and len(per) <= tasks
    for (i, vec), n in zip(per, counts):
        assert all(take <= have for take, have in zip(vec, vectors[i])), (vec, vectors[i])
        assert n * cpt <= vec[0] and room[i] >= n
