"""The two drivers decide alike: the twin's replay loop (direct method calls, ends then
arrivals then one pass per instant) and the event interface the live controller uses
(``handle_all``), whatever order simultaneous events arrive in."""

from __future__ import annotations

import heapq

from hypothesis import given, settings
from hypothesis import strategies as st

from kairos.core import Cluster, Job, Request, Scheduler, StartJob
from kairos.core.events import JobEnded, JobSubmitted, SchedulePass, handle_all
from kairos.sim.replay import replay
from kairos.sim.workload import Workload
from tests.core.estimators import LastRuntime


jobs_strategy = st.lists(
    st.tuples(st.integers(0, 6), st.integers(1, 8), st.integers(1, 6), st.integers(0, 4),
              st.sampled_from("ab")),  # submit step, cpus, runtime, extra limit, user
    min_size=1, max_size=25)


def workload_of(specs) -> Workload:
    jobs, runtimes = [], {}
    for i, (submit, cpus, runtime, extra, user) in enumerate(specs, 1):
        jobs.append(Job(i, user, float(submit * 5), Request.procs(cpus),
                        time_limit=float(runtime * 5 + extra * 5)))
        runtimes[i] = float(runtime * 5)
    jobs.sort(key=lambda j: (j.submit, j.id))
    return Workload("events", 8, jobs, runtimes)


def drive_with_events(workload: Workload, shuffle) -> dict[int, float]:
    """A driver that only speaks events: at each instant every event that happens then
    (ends, arrivals) is handed over in a shuffled order, with one pass."""
    sched = Scheduler(Cluster.pool(workload.procs), "easy", estimator=LastRuntime())
    arrivals = [Job(j.id, j.user, j.submit, j.request, j.time_limit) for j in workload.jobs]
    running: list[tuple[float, int]] = []
    starts: dict[int, float] = {}
    i = 0
    while i < len(arrivals) or running:
        t = min(arrivals[i].submit if i < len(arrivals) else float("inf"),
                running[0][0] if running else float("inf"))
        events = []
        while running and running[0][0] == t:
            events.append(JobEnded(t, heapq.heappop(running)[1]))
        while i < len(arrivals) and arrivals[i].submit == t:
            events.append(JobSubmitted(t, arrivals[i]))
            i += 1
        events.append(SchedulePass(t))
        for action in handle_all(sched, shuffle(events)):
            if isinstance(action, StartJob):
                starts[action.job_id] = t
                heapq.heappush(running, (t + workload.runtimes[action.job_id], action.job_id))
    return starts


@settings(max_examples=150, deadline=None)
@given(jobs_strategy, st.randoms(use_true_random=False))
def test_twin_and_event_driver_decide_alike(specs, rng):
    workload = workload_of(specs)
    twin = {j.id: j.start for j in replay(workload, "easy", predictor=LastRuntime()).jobs}

    def shuffle(events):
        events = list(events)
        rng.shuffle(events)
        return events

    assert drive_with_events(workload, shuffle) == twin


def test_simultaneous_ends_are_applied_in_job_id_order():
    # Found by the property above: eight 1-CPU jobs of user a end at 5 together; the
    # predictor keeps the last runtime it saw, so the order of the ends decides what the
    # next job is planned with.  Applied in job id order, as the twin does, whatever
    # order they arrive in.
    specs = [(0, 1, 1, 0, "a")] * 4 + [(0, 4, 5, 0, "a"), (0, 5, 1, 0, "a")] + \
        [(0, 1, 1, 0, "a")] * 2 + [(0, 2, 2, 0, "b"), (0, 1, 1, 0, "b")] + \
        [(0, 1, 1, 0, "a")] * 2 + [(3, 4, 1, 1, "b")]
    workload = workload_of(specs)
    twin = {j.id: j.start for j in replay(workload, "easy", predictor=LastRuntime()).jobs}
    assert drive_with_events(workload, lambda events: list(reversed(events))) == twin
