"""The per-node timeline profile (``kairos.core.timeline``) against the reference
``NodeProfile`` (a free vector per node at every step): on random node clusters and
queues, with node changes, both give the same schedule, pass by pass: the same starts
on the same nodes with the same shares, the same reservations and the same reasons.
The reference side also searches every conservative promise again at every pass (the
fast side only where something was freed, ``kairos.core.policy.freed``) and builds its
profile anew at every fresh pass (the fast side carries it on, ``kairos.core.promises``).
"""

from __future__ import annotations

import copy
import math
import heapq
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kairos.core import Cluster, Job, Node, NodeState, Partition, Scheduler, promises
from kairos.core.profile import NodeProfile, Unsatisfiable
from kairos.core.node_timeline import flatten, nested_spans, runs, shifted
from kairos.core.timeline import TimelineProfile
from tests.core.node_jobs import job

FEATURES = ("ib", "fast")


@st.composite
def clusters(draw):
    """Up to 10 nodes of a few kinds (so that nodes share timelines), maybe licenses
    and a second partition."""
    kinds = []
    for _ in range(draw(st.integers(1, 3))):
        gpus = {"a100": n} if (n := draw(st.integers(0, 2))) else {}
        if draw(st.integers(0, 3)) == 0:
            gpus["v100"] = 1
        kinds.append((draw(st.sampled_from([2, 4, 8])), draw(st.sampled_from([1000, 4000])), gpus,
                      frozenset(draw(st.sets(st.sampled_from(FEATURES), max_size=2)))))
    nodes = []
    for k in range(draw(st.integers(1, 10))):
        cpus, mem, gpus, features = draw(st.sampled_from(kinds))
        nodes.append(Node(f"n{k}", cpus, mem=mem, gpus=dict(gpus), features=features))
    partitions = None
    if len(nodes) > 1 and draw(st.booleans()):
        partitions = [Partition("all", default=True),
                      Partition("sub", nodes=tuple(n.name for n in nodes[len(nodes) // 2:]))]
    licenses = {"lic": draw(st.integers(1, 3))} if draw(st.booleans()) else None
    return Cluster(nodes, partitions=partitions, licenses=licenses)


@st.composite
def queues(draw, cluster):
    names = [n.name for n in cluster.nodes]
    jobs, runtimes, t = [], {}, 0
    for job_id in range(1, draw(st.integers(1, 25)) + 1):
        t += draw(st.sampled_from([0, 0, 0, 1, 5, 20]))
        nodes = draw(st.sampled_from([1, 1, 1, 2, 3, 4]))
        spread = draw(st.integers(0, 5)) == 0
        tasks = nodes * draw(st.sampled_from([1, 1, 2, 4]))
        nodelist = draw(st.sets(st.sampled_from(names), max_size=min(nodes, 2))) \
            if draw(st.integers(0, 5)) == 0 else set()
        exclude = draw(st.sets(st.sampled_from(names), max_size=2)) - nodelist \
            if draw(st.integers(0, 5)) == 0 else set()
        constraint = draw(st.sampled_from(["none"] * 4 + ["all", "any"]))
        wanted = draw(st.sets(st.sampled_from(FEATURES), min_size=1, max_size=2))
        estimate = draw(st.sampled_from([1, 5, 10, 50, 100]))
        fields = dict(
            nodes=nodes, tasks=tasks,
            mem_per_node=draw(st.sampled_from([0, 0, 500, 1000, 3000])),
            gpus_per_node=(draw(st.sampled_from([(None, 1), ("a100", 1), (None, 2)])),)
            if draw(st.integers(0, 3)) == 0 else (),
            licenses=(("lic", 1),) if cluster.licenses and draw(st.integers(0, 3)) == 0 else (),
            exclusive=draw(st.integers(0, 5)) == 0, nodelist=nodelist, exclude=exclude,
            features=wanted if constraint == "all" else set(),
            any_features=wanted if constraint == "any" else set(),
            partition=draw(st.sampled_from(["", "", "sub"])) if len(cluster.partitions) > 1 else "",
        )
        j = job(job_id, submit=t, limit=estimate, **fields)
        if spread:
            req = j.request
            per_cpu = 0 if req.mem_per_node else draw(st.sampled_from([0, 0, 300]))
            j.request = type(req)(nodes=1, tasks=req.tasks, mem_per_node=req.mem_per_node,
                                  cpus_per_task=draw(st.sampled_from([1, 1, 2])),
                                  mem_per_cpu=per_cpu,
                                  gpus_per_node=req.gpus_per_node, licenses=req.licenses,
                                  features=req.features, any_features=req.any_features,
                                  exclusive=req.exclusive, nodelist=frozenset(list(req.nodelist)[:1]),
                                  exclude=req.exclude, spread=True)
        jobs.append(j)
        runtimes[job_id] = draw(st.integers(0, estimate))
    events = []
    for _ in range(draw(st.integers(0, 3))):
        events.append((draw(st.sampled_from([0, 1, 3, 10, 25])), draw(st.sampled_from(names)),
                       draw(st.sampled_from(list(NodeState)))))
    return jobs, runtimes, sorted(events, key=lambda e: (e[0], e[1]))


def run(cluster: Cluster, jobs: list[Job], runtimes, events, policy: str, order: str,
        reference: bool) -> list:
    """Replay on a copy, one pass per instant; what each pass decided."""
    cluster, jobs = copy.deepcopy((cluster, jobs))
    s = Scheduler(cluster, policy, order)
    s.resources.reference = reference
    s.policy.reference = reference  # conservative: every promise searched again
    arrivals = sorted(jobs, key=lambda j: (j.submit, j.id))
    changes = list(events)
    running: list[tuple[float, int]] = []
    log = []
    k = 0
    for _ in range(2_000):
        times = [arrivals[k].submit] if k < len(arrivals) else []
        times += [running[0][0]] if running else []
        times += [changes[0][0]] if changes else []
        if not times:
            break
        now = min(times)
        while running and running[0][0] == now:
            s.end(heapq.heappop(running)[1], now)
        while changes and changes[0][0] == now:
            _, name, state = changes.pop(0)
            s.set_node_state(name, state)
        if not changes:
            for node in cluster.nodes:
                s.set_node_state(node.name, NodeState.UP)
        while k < len(arrivals) and arrivals[k].submit == now:
            try:
                s.submit(arrivals[k], now)
            except Unsatisfiable as e:
                log.append(("refused", arrivals[k].id, str(e)))
            k += 1
        actions = s.schedule(now)
        for a in actions:
            heapq.heappush(running, (now + runtimes[a.job_id], a.job_id))
        profile = type(s._walk.profile) if s._walk is not None else None
        assert profile in (None, NodeProfile if reference else TimelineProfile)
        log.append((now, [(a.job_id, a.placement, a.expected_end) for a in actions],
                    sorted(s.reservations.items()),
                    sorted((j.id, j.reason) for j in s.pending())))
        s.check_invariants()
    return log


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from(["fcfs", "easy", "conservative", "easy+shortest"]),
       st.sampled_from(["submit", "multifactor"]))
def test_the_timeline_profile_schedules_as_the_reference(data, policy, order):
    cluster = data.draw(clusters())
    jobs, runtimes, events = data.draw(queues(cluster))
    if policy == "easy+shortest":
        from kairos.core.policy import Backfill
        policy = Backfill("easy", 1, backfill_order="shortest")
    # EASY and FCFS carry their profile on large clusters only: here on any.
    with mock.patch.object(promises, "CARRY_FROM_NODES", 1):
        fast = run(cluster, jobs, runtimes, events, policy, order, reference=False)
    slow = run(cluster, jobs, runtimes, events, policy, order, reference=True)
    assert fast == slow


def test_a_moved_promise_slot_passing_makes_the_next_walk_fresh():
    """Found by the property test above.  Job 2 (both nodes) is promised 50, job 3 (in
    multifactor order before it) 100.  Job 1 ends at 28: job 2 starts, and its old slot
    from 50 is free, but job 3 was walked before the move.  Job 5 arrives at 51, past
    that slot: the reference walks afresh (a step lies in between), job 3 takes 78 and
    job 5 the next slot; resuming the walk instead gave job 5 the 78 job 3 could have."""
    from kairos.core import Request

    def exclusive(nodes):
        return Request(nodes=nodes, tasks=nodes, exclusive=True)

    cluster = Cluster([Node("n0", 2, mem=1000), Node("n1", 2, mem=1000)])
    spec = [(1, 0, 1, 50, 28), (2, 0, 2, 50, 25), (3, 6, 1, 100, 100), (4, 31, 1, 1, 1),
            (5, 51, 1, 1, 1)]
    jobs = [Job(i, "u", submit, exclusive(n), time_limit=limit) for i, submit, n, limit, _ in spec]
    runtimes = {i: runtime for i, _, _, _, runtime in spec}
    with mock.patch.object(promises, "CARRY_FROM_NODES", 1):
        fast = run(cluster, jobs, runtimes, [], "conservative", "multifactor", reference=False)
    slow = run(cluster, jobs, runtimes, [], "conservative", "multifactor", reference=True)
    assert fast == slow
    at_51 = next(entry for entry in fast if entry[0] == 51)
    assert at_51[2] == [(3, 78), (4, 78), (5, 79)]


def test_alike_nodes_share_a_class():
    # Eight idle nodes of one kind and two busy until 50: two classes, not ten.
    cluster = Cluster([Node(f"n{i}", 4, mem=1000) for i in range(10)])
    s = Scheduler(cluster, "easy")
    s.submit(job(1, nodes=2, tasks=8, limit=50), 0)
    s.schedule(0)
    profile = s.resources.profile(0, list(s._ends))
    assert isinstance(profile, TimelineProfile)
    assert sorted(len(members) for members in profile._classes.values()) == [2, 8]
    assert profile.fits_now(job(2, nodes=9, tasks=9), 10) is None
    assert profile.fits_now(job(3, nodes=8, tasks=8), 10) is not None


def test_a_carried_profile_keeps_only_the_steps_of_one_built_anew():
    """Found by the property test above.  Jobs 1 and 2 hold a CPU each until 10 and 20,
    job 3 (both CPUs) is reserved from 20.  Job 1 ends at 3: the carried profile gives
    back its CPU until 10, which left a step at 10 where nothing changes; a new job at
    12 then found the walk stale (a step passed) where the per-step profile, built
    anew, resumed it, and the two gave different pending reasons."""
    cluster = Cluster([Node("n0", 2, mem=1000)])
    jobs = [job(1, limit=10, tasks=1), job(2, limit=20, tasks=1), job(3, limit=5, tasks=2)]
    profiles = []
    for reference in (False, True):
        s = Scheduler(copy.deepcopy(cluster), "easy")
        s.resources.reference = reference
        with mock.patch.object(promises, "CARRY_FROM_NODES", 1):
            for j in copy.deepcopy(jobs):
                s.submit(j, 0)
            assert sorted(a.job_id for a in s.schedule(0)) == [1, 2]
            assert s.reservations == {3: 20}
            s.end(1, 3)
            assert s.schedule(3) == []
        assert s.reservations == {3: 20}
        profiles.append(list(s._walk.profile.T))
    assert profiles[0] == profiles[1] == [3, 20, 25]


@given(st.lists(st.integers(0, 4), min_size=1, max_size=8), st.data())
def test_nested_spans_add_up_to_the_least_level_of_a_window(levels, data):
    """A spread request's bound (``TimelineProfile._find_task_spans``): the spans holding a
    window count the tasks a node has room for throughout it."""
    times = [-math.inf] + [10 * k for k in range(1, len(levels))]
    spans = nested_spans(times, levels)
    first = data.draw(st.integers(0, len(levels) - 1))
    last = data.draw(st.integers(first, len(levels) - 1))
    start, end = times[first], (times[last] if last else 0) + 5
    held = sum(h for a, b, h in spans if a <= start and b >= end)
    assert held == min(levels[first:last + 1])
    assert all(h > 0 and a < b for a, b, h in spans)


@settings(max_examples=300)
@given(st.lists(st.booleans(), max_size=12))
def test_runs_are_the_nested_spans_of_room_or_none(oks):
    """Where one node has room for a request (``TimelineProfile._find_good``): the runs
    of true, apart and in time order, as the general stack would make them."""
    times = [-math.inf] + [10 * k for k in range(1, len(oks))]
    spans = runs(times, oks)
    assert spans == nested_spans(times, oks)
    assert all(b1 <= a2 for (_, b1, _), (a2, _, _) in zip(spans, spans[1:]))


def _shifted_step_by_step(tl, a, b, vec, sign):
    """``shifted`` the plain way: every step listed, the change split in, added, and
    every pair of equal neighbours merged."""
    times, vecs = [-math.inf, *tl[1::2]], list(tl[0::2])
    for t in (a, b):
        if t not in (-math.inf, math.inf):
            j = max(k for k, s in enumerate(times) if s <= t)
            if times[j] != t:
                times.insert(j + 1, t)
                vecs.insert(j + 1, vecs[j])
    for j, t in enumerate(times):
        end = times[j + 1] if j + 1 < len(times) else math.inf
        if a <= t and end <= b:
            vecs[j] = tuple(v + sign * d for v, d in zip(vecs[j], vec))
    merged_t, merged_v = [times[0]], [vecs[0]]
    for t, v in zip(times[1:], vecs[1:]):
        if v != merged_v[-1]:
            merged_t.append(t)
            merged_v.append(v)
    return tuple(x for pair in zip(merged_v, [*merged_t[1:], None]) for x in pair)[:-1]


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2)), min_size=1, max_size=8),
       st.one_of(st.sampled_from(range(0, 100, 10)), st.integers(0, 90)),
       st.one_of(st.sampled_from(range(10, 110, 10)), st.integers(1, 100)), st.booleans(),
       st.booleans(),
       st.tuples(st.integers(0, 2), st.integers(0, 2)), st.sampled_from([1, -1]))
def test_shifted_changes_only_the_window_and_merges_equal_steps(vecs, a, length, from_origin,
                                                                 forever, vec, sign):
    """A node's timeline with a share added or taken over ``[a, b)``: as listing every
    step would give, equal neighbours merged, on timelines built with none (the
    invariant ``shifted`` keeps and relies on), ``a`` and ``b`` on or between steps."""
    tl = flatten([-math.inf] + [10 * k for k in range(1, len(vecs))], vecs)
    a = -math.inf if from_origin else a
    b = math.inf if forever else (0 if from_origin else a) + length
    assert shifted(tl, a, b, vec, sign) == _shifted_step_by_step(tl, a, b, vec, sign)


def test_a_spread_request_is_placed_only_where_its_tasks_could_fit():
    """Five one-CPU nodes busy until 10, 20, 30, 40 and 50, one idle: four tasks spread
    fit from 30.  The search counts the tasks the nodes have room for, so it tries a
    placement there only, not at every step where one node has room."""
    from kairos.core import Request

    cluster = Cluster([Node(f"n{i}", 1, mem=1000) for i in range(6)])
    s = Scheduler(cluster, "easy")
    for i in range(5):
        s.submit(job(i + 1, limit=10 * (i + 1)), 0)
    assert len(s.schedule(0)) == 5
    profile = s.resources.profile(0, list(s._ends))
    wide = Job(9, "u", 0, Request(nodes=1, tasks=4, spread=True), time_limit=5)
    tried = []
    place = s.resources.place
    with mock.patch.object(s.resources, "place",
                           side_effect=lambda *a, **kw: tried.append(1) or place(*a, **kw)):
        start, placement = profile.earliest(wide, 5)
    assert start == 30 and len(placement[0]) == 4
    assert len(tried) == 1
