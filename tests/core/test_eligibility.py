"""Which pending jobs may be considered at all: dependencies, ``--begin``, holds, cancels
and admin priorities, and the event interface that drives them.

Every scenario runs on small node clusters with explicit times; the expected starts and
pending reasons are worked out in the comments.
"""

from __future__ import annotations

import pytest

from kairos.core import (
    Cluster, Dependency, DependencyKind, Job, JobState, KillJob, Node, Scheduler, StartJob,
)
from kairos.core.dependencies import dependency_status
from kairos.core.events import (
    JobCancelled, JobEnded, JobSubmitted, SchedulePass, handle, handle_all, in_order,
)
from kairos.core.jobs import Request
from tests.core.estimators import LastRuntime

AFTER, AFTERANY, AFTEROK, AFTERNOTOK, SINGLETON = (
    DependencyKind.AFTER, DependencyKind.AFTERANY, DependencyKind.AFTEROK,
    DependencyKind.AFTERNOTOK, DependencyKind.SINGLETON,
)


def job(id: int, submit: float = 0.0, limit: float = 100.0, cpus: int = 1,
        deps: tuple = (), **kw) -> Job:
    """A job of user ``u`` (unless given) asking for ``cpus`` CPUs on one node.
    ``deps``: ``(kind, job_id)`` pairs, or bare ``SINGLETON``."""
    dependencies = tuple(
        Dependency(SINGLETON) if d is SINGLETON else Dependency(d[0], d[1]) for d in deps
    )
    return Job(id, kw.pop("user", "u"), submit, Request(tasks=cpus), time_limit=limit,
               dependencies=dependencies, **kw)


def started(actions) -> dict[int, float]:
    return {a.job_id: a.at for a in actions if isinstance(a, StartJob)}


def one_node(cpus: int = 4, policy: str = "easy", order: str = "submit") -> Scheduler:
    return Scheduler(Cluster([Node("n0", cpus)]), policy, order)


# -- dependencies -------------------------------------------------------------------------


def test_afterok_waits_for_success_then_starts():
    # 4 CPUs.  J1 (1 CPU, 100 s) runs; J2 afterok:J1 would fit now but waits with reason
    # Dependency, and gets no reservation.  J1 completes at 30: J2 starts at 30.
    s = one_node()
    s.submit(job(1), 0)
    s.submit(job(2, deps=[(AFTEROK, 1)]), 0)
    assert started(s.schedule(0)) == {1: 0}
    assert s.jobs[2].reason == "Dependency"
    assert s.reservations == {}
    assert started(s.schedule(10)) == {}
    s.end(1, 30, JobState.COMPLETED)
    assert started(s.schedule(30)) == {2: 30}


def test_afterok_on_a_failed_job_is_never_satisfied_and_stays_pending():
    # J1 fails at 30: J2 (afterok:J1) can never run.  It is not dropped: it stays
    # pending with reason DependencyNeverSatisfied (Slurm's default), pass after pass,
    # until cancelled.  J3 (no dependency) is not held up by it.
    s = one_node()
    s.submit(job(1), 0)
    s.submit(job(2, deps=[(AFTEROK, 1)]), 0)
    assert started(s.schedule(0)) == {1: 0}
    s.end(1, 30, JobState.FAILED, exit_code=1)
    assert started(s.schedule(30)) == {}
    assert s.jobs[2].reason == "DependencyNeverSatisfied"
    s.submit(job(3, submit=40), 40)
    assert started(s.schedule(40)) == {3: 40}
    s.end(3, 500)
    assert started(s.schedule(1000)) == {}
    assert s.jobs[2].state is JobState.PENDING
    assert [j.id for j in s.pending()] == [2]
    assert s.cancel(2, 1001) == []
    assert s.outcomes[2] is JobState.CANCELLED and s.pending() == []


# (kind, how J1 ends, starts?)  J1 always starts at 0 and ends at 30.
OUTCOMES = [
    (AFTEROK, JobState.COMPLETED, True),
    (AFTEROK, JobState.FAILED, False),
    (AFTEROK, JobState.CANCELLED, False),
    (AFTEROK, JobState.TIMEOUT, False),
    (AFTERNOTOK, JobState.COMPLETED, False),
    (AFTERNOTOK, JobState.FAILED, True),
    (AFTERNOTOK, JobState.TIMEOUT, True),
    (AFTERNOTOK, JobState.NODE_FAIL, True),
    (AFTERANY, JobState.COMPLETED, True),
    (AFTERANY, JobState.FAILED, True),
    (AFTERANY, JobState.CANCELLED, True),
]


@pytest.mark.parametrize("kind, outcome, runs", OUTCOMES,
                         ids=[f"{k.value}-{o.name}" for k, o, _ in OUTCOMES])
def test_dependency_kinds_against_outcomes(kind, outcome, runs):
    s = one_node()
    s.submit(job(1), 0)
    s.submit(job(2, deps=[(kind, 1)]), 0)
    assert started(s.schedule(0)) == {1: 0}
    assert s.jobs[2].reason == "Dependency"  # every kind waits while J1 runs
    s.end(1, 30, outcome)
    assert started(s.schedule(30)) == ({2: 30} if runs else {})
    if not runs:
        assert s.jobs[2].reason == "DependencyNeverSatisfied"


def test_after_waits_for_the_other_job_to_start():
    # 4 CPUs.  J1 fills the node until 50.  J2 (2 CPUs) is pending behind it; J3
    # after:J2 waits with Dependency while J2 is pending, not for J2's end.  J1 ends at
    # 50: J2 starts; J3 is free to start from then on (in the very pass that starts J2),
    # alongside J2.
    s = one_node()
    s.submit(job(1, cpus=4, limit=50), 0)
    s.submit(job(2, cpus=2), 0)
    s.submit(job(3, cpus=2, deps=[(AFTER, 2)]), 0)
    assert started(s.schedule(0)) == {1: 0}
    assert (s.jobs[2].reason, s.jobs[3].reason) == ("Resources", "Dependency")
    s.end(1, 50)
    starts = started(s.schedule(50))
    starts.update(started(s.schedule(50)))
    assert starts == {2: 50, 3: 50}


def test_after_dependent_starts_in_the_same_pass_as_its_parent():
    # As above, with one pass per instant (as the twin drives it): nothing happens
    # between 50 and J2's end at 150, so J3 would wait 100 s for no reason.
    s = one_node()
    s.submit(job(1, cpus=4, limit=50), 0)
    s.submit(job(2, cpus=2), 0)
    s.submit(job(3, cpus=2, deps=[(AFTER, 2)]), 0)
    assert started(s.schedule(0)) == {1: 0}
    s.end(1, 50)
    assert started(s.schedule(50)) == {2: 50, 3: 50}


def test_after_a_job_cancelled_while_pending_is_satisfied():
    # Slurm: after: "begin after the jobs have started or been cancelled".  afterok on
    # the same cancelled job never is.
    s = one_node(cpus=1)
    s.submit(job(1, limit=100), 0)
    s.submit(job(2, limit=100), 0)
    s.submit(job(3, deps=[(AFTER, 2)]), 0)
    s.submit(job(4, deps=[(AFTEROK, 2)]), 0)
    assert started(s.schedule(0)) == {1: 0}
    assert s.cancel(2, 10) == []
    s.end(1, 20)
    assert started(s.schedule(20)) == {3: 20}
    assert s.jobs[4].reason == "DependencyNeverSatisfied"


def test_every_dependency_must_hold():
    # J3 needs afterok:J1 and afterany:J2.  J1 completes at 10 (J2 still running): J3
    # waits.  J2 fails at 20: afterany is met, J3 starts.
    s = one_node()
    s.submit(job(1, limit=10), 0)
    s.submit(job(2, limit=20), 0)
    s.submit(job(3, deps=[(AFTEROK, 1), (AFTERANY, 2)]), 0)
    assert started(s.schedule(0)) == {1: 0, 2: 0}
    s.end(1, 10)
    assert started(s.schedule(10)) == {}
    assert s.jobs[3].reason == "Dependency"
    s.end(2, 20, JobState.FAILED)
    assert started(s.schedule(20)) == {3: 20}


def test_dependency_status_rules():
    # The pure function: pending/running jobs in ``jobs``, finished ones in ``outcomes``.
    running = job(1)
    running.state = JobState.RUNNING
    pending = job(2)
    jobs = {1: running, 2: pending}
    outcomes = {3: JobState.COMPLETED, 4: JobState.FAILED}

    def status(*deps):
        return dependency_status(job(9, deps=deps), jobs, outcomes)

    assert status() == "ok"
    assert status((AFTER, 1)) == "ok"  # started
    assert status((AFTER, 2)) == "Dependency"  # not started yet
    assert status((AFTEROK, 1)) == "Dependency"
    assert status((AFTEROK, 3)) == "ok"
    assert status((AFTEROK, 4)) == "DependencyNeverSatisfied"
    assert status((AFTERNOTOK, 4)) == "ok"
    assert status((AFTEROK, 99)) == "ok"  # unknown (aged-out) job ids count as met
    # Never-satisfied wins over still-waiting, whatever the order.
    assert status((AFTEROK, 1), (AFTEROK, 4)) == "DependencyNeverSatisfied"
    assert status((AFTEROK, 4), (AFTEROK, 1)) == "DependencyNeverSatisfied"


# -- singleton ----------------------------------------------------------------------------


def test_singleton_waits_for_the_same_name_and_user():
    # 4 CPUs, all 1-CPU jobs.  J1 "x" of u runs.  J2 "x" of u, singleton: waits.  J3 "x"
    # of v, singleton: another user, runs.  J4 "y" of u, singleton: another name, runs.
    # J5 "x" of u, singleton, submitted after J2: waits for J2 as well (an earlier
    # pending job of the same name blocks it).  J1 ends at 40: only J2 starts.  J2 ends
    # at 60: J5 starts.
    s = one_node()
    s.submit(job(1, name="x"), 0)
    s.submit(job(2, name="x", deps=[SINGLETON]), 0)
    s.submit(job(3, name="x", user="v", deps=[SINGLETON]), 0)
    s.submit(job(4, name="y", deps=[SINGLETON]), 0)
    s.submit(job(5, name="x", deps=[SINGLETON]), 0)
    assert started(s.schedule(0)) == {1: 0, 3: 0, 4: 0}
    assert (s.jobs[2].reason, s.jobs[5].reason) == ("Dependency", "Dependency")
    s.end(1, 40)
    assert started(s.schedule(40)) == {2: 40}
    assert s.jobs[5].reason == "Dependency"
    s.end(2, 60)
    assert started(s.schedule(60)) == {5: 60}


def test_a_queued_singleton_does_not_start_beside_a_same_name_job():
    # 6 CPUs, EASY.  J1 (4 CPUs, no name) runs until 100.  J2 "x" singleton (4 CPUs):
    # no other "x" job exists, so it is eligible, queued, and reserved at 100.  J3 "x"
    # (2 CPUs, 500 s, no singleton) backfills into the 2 spare CPUs (at 100, 6 - 2 = 4
    # are free: J2's reservation still fits).  At 100 J1 ends and J2 fits, but J3 "x" is
    # running: J2 must wait until J3 ends (500).
    s = one_node(cpus=6)
    s.submit(job(1, cpus=4, limit=100), 0)
    s.submit(job(2, cpus=4, name="x", deps=[SINGLETON]), 0)
    s.submit(job(3, cpus=2, limit=500, name="x"), 0)
    assert started(s.schedule(0)) == {1: 0, 3: 0}
    s.end(1, 100)
    assert started(s.schedule(100)) == {}
    s.end(3, 500)
    assert started(s.schedule(500)) == {2: 500}


# -- --begin ------------------------------------------------------------------------------


def test_begin_time_holds_a_job_until_then():
    # J1 --begin=50 on an idle node: reason BeginTime, no reservation, until the pass at
    # 50 (not 49) starts it.  J2 submitted at 10 without --begin runs at once.
    s = one_node()
    s.submit(job(1, begin=50.0), 0)
    assert started(s.schedule(0)) == {}
    assert s.jobs[1].reason == "BeginTime" and s.reservations == {}
    s.submit(job(2, submit=10), 10)
    assert started(s.schedule(10)) == {2: 10}
    assert started(s.schedule(49)) == {}
    assert started(s.schedule(50)) == {1: 50}


def test_a_begin_time_in_the_past_is_no_constraint():
    s = one_node()
    s.submit(job(1, submit=100, begin=50.0), 100)
    assert started(s.schedule(100)) == {1: 100}


# -- hold and release ---------------------------------------------------------------------


def test_submitted_held_until_released():
    s = one_node()
    s.submit(job(1, held=True), 0)
    assert started(s.schedule(0)) == {}
    assert s.jobs[1].reason == "JobHeldUser"
    s.release(1)
    assert started(s.schedule(5)) == {1: 5}


def test_hold_a_queued_job_then_release_it_keeps_its_place():
    # 1 CPU.  J1 runs until 100; J2 (submitted 1) and J3 (submitted 2) wait.  J2 is held
    # at 10: when J1 ends at 100, J3 starts although it is behind J2.  J2 is released at
    # 110; J4 (submitted 105) is behind J2 in submit order, so at J3's end (200) J2
    # starts, not J4.
    s = one_node(cpus=1)
    s.submit(job(1), 0)
    assert started(s.schedule(0)) == {1: 0}
    s.submit(job(2, submit=1), 1)
    s.submit(job(3, submit=2), 2)
    assert started(s.schedule(2)) == {}
    s.hold(2)
    assert s.jobs[2].reason == "JobHeldUser"
    s.end(1, 100)
    assert started(s.schedule(100)) == {3: 100}
    s.submit(job(4, submit=105), 105)
    assert started(s.schedule(105)) == {}
    s.release(2)
    assert started(s.schedule(110)) == {}
    assert [j.id for j in s.pending()] == [2, 4]
    s.end(3, 200)
    assert started(s.schedule(200)) == {2: 200}


def test_hold_applies_only_to_pending_jobs():
    s = one_node()
    s.submit(job(1), 0)
    s.schedule(0)
    with pytest.raises(ValueError, match="RUNNING"):
        s.hold(1)
    s.submit(job(2, begin=50.0), 0)
    s.hold(2)  # waiting for its begin time and held: both must clear
    s.schedule(50)
    assert s.jobs[2].reason == "JobHeldUser"
    s.release(2)
    assert started(s.schedule(60)) == {2: 60}


# -- cancel -------------------------------------------------------------------------------


def test_cancel_a_pending_job():
    # A queued job and a waiting (dependency) job are both gone at once, with no action
    # for the driver.  Dependents see CANCELLED: afterok never, afternotok runs.
    s = one_node(cpus=1)
    s.submit(job(1), 0)
    s.submit(job(2), 0)
    s.submit(job(3, deps=[(AFTEROK, 1)]), 0)
    s.submit(job(4, deps=[(AFTEROK, 2)]), 0)
    s.submit(job(5, deps=[(AFTERNOTOK, 2)]), 0)
    assert started(s.schedule(0)) == {1: 0}
    assert s.cancel(2, 5) == [] and s.cancel(3, 5) == []
    assert s.outcomes[2] is s.outcomes[3] is JobState.CANCELLED
    assert 2 not in s.jobs and 3 not in s.jobs
    assert started(s.schedule(5)) == {}  # J5 is eligible now but the CPU is J1's
    assert s.jobs[4].reason == "DependencyNeverSatisfied"
    s.end(1, 100)
    assert started(s.schedule(100)) == {5: 100}
    assert [j.id for j in s.pending()] == [4]


def test_cancel_the_easy_head_lets_the_next_job_start():
    # 4 CPUs.  J1 (2 CPUs) runs until 100.  J2 (4 CPUs) is the head, reserved at 100.
    # J3 (2 CPUs, 200 s) would overlap that reservation: it waits.  Cancelling J2 at 10
    # frees the way: J3 starts at 10.
    s = one_node()
    s.submit(job(1, cpus=2), 0)
    s.submit(job(2, cpus=4), 0)
    s.submit(job(3, cpus=2, limit=200), 0)
    assert started(s.schedule(0)) == {1: 0}
    assert s.reservations == {2: 100}
    s.cancel(2, 10)
    assert started(s.schedule(10)) == {3: 10}
    assert s.reservations == {}


def test_cancel_a_running_job_asks_the_driver_to_kill_it():
    # J1 runs; cancel returns KillJob and J1 keeps its CPU until the driver reports the
    # end with CANCELLED (at 12); J2 then starts.  Dependents see CANCELLED.
    s = one_node(cpus=1)
    s.submit(job(1), 0)
    s.submit(job(2), 0)
    s.submit(job(3, deps=[(AFTERNOTOK, 1)]), 0)
    assert started(s.schedule(0)) == {1: 0}
    assert s.cancel(1, 10) == [KillJob(1, 10, "cancelled")]
    assert s.jobs[1].state is JobState.RUNNING
    assert started(s.schedule(10)) == {}
    done = s.end(1, 12, JobState.CANCELLED)
    assert (done.state, done.end) == (JobState.CANCELLED, 12)
    assert started(s.schedule(12)) == {2: 12}
    s.end(2, 20)
    assert started(s.schedule(20)) == {3: 20}


# -- admin priority -----------------------------------------------------------------------


def test_set_priority_reorders_under_multifactor():
    # 1 CPU, multifactor order.  J1 runs until 100.  J2 (submitted 1) and J3 (submitted
    # 2): same user and size, so J2 is ahead by age.  An admin priority of 10**6 on J3
    # (far above any computed one: the weights sum to 13000) puts it first: J3 starts at
    # 100, J2 at 200.
    s = one_node(cpus=1, order="multifactor")
    s.submit(job(1), 0)
    assert started(s.schedule(0)) == {1: 0}
    s.submit(job(2, submit=1), 1)
    s.submit(job(3, submit=2), 2)
    assert started(s.schedule(2)) == {}
    assert [j.id for j in s.pending()] == [2, 3]
    s.set_priority(3, 10**6, 3)
    assert [j.id for j in s.pending()] == [3, 2]
    assert s.jobs[3].priority == 10**6
    s.end(1, 100)
    assert started(s.schedule(100)) == {3: 100}
    s.end(3, 200)
    assert started(s.schedule(200)) == {2: 200}


def test_set_priority_none_restores_the_computed_order():
    # As above, then the override is removed at 4.  J3's priority is recomputed at once
    # (age 2 s) while J2's dates from its submission (age 0): J3 stays ahead until the
    # next recalculation of every job (multifactor: every 300 s), after which J2 is ahead
    # by age again.  J1 ends at 1000: J2 starts first.
    s = one_node(cpus=1, order="multifactor")
    s.submit(job(1, limit=1000), 0)
    s.schedule(0)
    s.submit(job(2, submit=1), 1)
    s.submit(job(3, submit=2), 2)
    s.set_priority(3, 10**6, 3)
    s.set_priority(3, None, 4)
    assert s.jobs[3].admin_priority is None and s.jobs[3].priority < 10**6
    assert started(s.schedule(300)) == {}  # 300 s since the recalculation at 0
    assert [j.id for j in s.pending()] == [2, 3]
    s.end(1, 1000)
    assert started(s.schedule(1000)) == {2: 1000}


def test_set_priority_of_a_held_job_applies_on_release():
    # J3 is held when it gets priority 10**6; on release it enters the queue ahead of J2.
    s = one_node(cpus=1, order="multifactor")
    s.submit(job(1), 0)
    s.schedule(0)
    s.submit(job(2, submit=1), 1)
    s.submit(job(3, submit=2, held=True), 2)
    s.set_priority(3, 10**6, 3)
    s.release(3)
    assert started(s.schedule(4)) == {}
    assert [j.id for j in s.pending()] == [3, 2]
    s.end(1, 100)
    assert started(s.schedule(100)) == {3: 100}


def test_set_priority_of_a_running_job_is_refused():
    s = one_node(order="multifactor")
    s.submit(job(1), 0)
    s.schedule(0)
    with pytest.raises(ValueError, match="not PENDING"):
        s.set_priority(1, 5.0, 1)


# -- the event interface ------------------------------------------------------------------


def event_stream() -> list:
    """Submissions, ends, a cancel and passes on a 2-node cluster, in ``ORDER`` at equal
    times.  J3 depends on J1 (afterok), J5 is cancelled while pending, J3 fails.  The
    ends match the decisions worked out in ``test_the_event_stream_decisions``."""
    jobs = [
        job(1, cpus=4, limit=50), job(2, cpus=2, limit=100), job(3, cpus=4, deps=[(AFTEROK, 1)]),
        job(4, submit=5, cpus=4, limit=30), job(5, submit=5, cpus=4), job(6, submit=20, cpus=2, limit=10),
    ]
    events = [JobSubmitted(j.submit, j) for j in jobs]
    events += [JobEnded(30, 1), JobEnded(30, 6), JobCancelled(25, 5), JobEnded(100, 2),
               JobEnded(110, 3, JobState.FAILED, 1), JobEnded(120, 4)]
    events += [SchedulePass(t) for t in (0, 5, 20, 25, 30, 100, 110, 120)]
    return in_order(events)


def apply_directly(scheduler: Scheduler, events) -> list:
    """What a driver does without ``handle``: one method call per event."""
    actions = []
    for e in events:
        if isinstance(e, JobSubmitted):
            scheduler.submit(e.job, e.at)
        elif isinstance(e, JobEnded):
            scheduler.end(e.job_id, e.at, e.state, e.exit_code)
        elif isinstance(e, JobCancelled):
            actions += scheduler.cancel(e.job_id, e.at)
        else:
            actions += scheduler.schedule(e.at)
    return actions


def two_nodes() -> Scheduler:
    return Scheduler(Cluster([Node("n0", 4), Node("n1", 4)]), "easy")


def test_the_event_stream_decisions():
    # Hand-worked (two 4-CPU nodes, EASY):
    #   0   J1 (4) -> n0, J2 (2) -> n1; J3 waits (afterok:J1)
    #   5   J4 (4): no whole node free; reserved at 50 (J1's end).  J5 (4) waits behind it
    #   20  J6 (2, 10 s) fits n1's spare 2 CPUs and ends before 50: starts
    #   25  J5 cancelled while pending
    #   30  J1 ends early, J6 ends.  J3 (afterok:J1) becomes eligible and, submitted at
    #       0, enters the queue ahead of J4 (submitted at 5): J3 takes n0 (4 free) now,
    #       and J4's reservation moves to 100 (n1, when J2 ends).  A job released by a
    #       dependency outranks the head, as in Slurm.
    #   100 J2 ends: J4 starts on n1.  110: J3 fails.  120: J4 ends.
    s = two_nodes()
    actions = apply_directly(s, event_stream())
    assert started(actions) == {1: 0, 2: 0, 6: 20, 3: 30, 4: 100}
    assert [a for a in actions if not isinstance(a, StartJob)] == []
    assert s.outcomes == {
        1: JobState.COMPLETED, 6: JobState.COMPLETED, 5: JobState.CANCELLED,
        4: JobState.COMPLETED, 2: JobState.COMPLETED, 3: JobState.FAILED,
    }
    assert s.jobs == {}


def test_events_in_give_the_same_decisions_as_method_calls():
    # The same stream through ``handle`` and through direct calls: the same actions and
    # the same final states.
    via_handle = two_nodes()
    actions_handle = [a for e in event_stream() for a in handle(via_handle, e)]
    direct = two_nodes()
    assert actions_handle == apply_directly(direct, event_stream())
    assert via_handle.outcomes == direct.outcomes
    assert via_handle.jobs == direct.jobs == {}
    assert handle_all(two_nodes(), reversed(event_stream())) == actions_handle


def test_simultaneous_events_are_ordered_ends_cancels_submits_pass():
    # One 4-CPU node, a predictor that remembers the user's last runtime.  J1 and J3
    # (1 CPU each, limits 100 and 50) start at 0.  At 10, whatever order they arrive in:
    # J1's end is applied first, so J2 (limit 100), submitted at 10, is predicted at
    # J1's 10 s rather than its limit; the cancel of running J3 is a KillJob; the pass
    # comes last and starts J2 beside J3.  (Applied in arrival order, J2 would plan with
    # 100 s whenever its submission came first.)
    for reverse in (False, True):
        s = Scheduler(Cluster([Node("n0", 4)]), "easy", estimator=LastRuntime())
        assert started(handle_all(s, [JobSubmitted(0, job(1)), JobSubmitted(0, job(3, limit=50)),
                                      SchedulePass(0)])) == {1: 0, 3: 0}
        at_ten = [JobSubmitted(10, job(2, submit=10)), JobCancelled(10, 3), JobEnded(10, 1),
                  SchedulePass(10)]
        actions = handle_all(s, reversed(at_ten) if reverse else at_ten)
        assert actions == [KillJob(3, 10, "cancelled"), StartJob(2, 10, s.jobs[2].placement, 20.0)]
        assert s.jobs[2].estimate == 10


def test_requeue_asks_to_kill_a_running_job_and_refuses_a_pending_one():
    s = one_node(cpus=1)
    s.submit(job(1), 0)
    s.submit(job(2), 0)
    s.schedule(0)
    assert handle(s, JobCancelled(5, 1, requeue=True)) == [KillJob(1, 5, "requeue")]
    with pytest.raises(ValueError, match="only a running job"):
        handle(s, JobCancelled(5, 2, requeue=True))


def test_handle_rejects_an_unknown_event():
    with pytest.raises(TypeError, match="unknown event"):
        handle(one_node(), object())


# -- array throttles, requeue and time-limit updates (what the live controller needs) -----


def test_array_limit_runs_at_most_that_many_tasks_at_once():
    # 4 CPUs, five 1-CPU tasks of array 10 with %2: two run at 0, the rest wait with
    # JobArrayTaskLimit.  Task 10 ends at 5: exactly one more (12) starts at 5.
    s = one_node()
    for i in range(5):
        s.submit(job(10 + i, array_job_id=10, array_task_id=i, array_limit=2), 0)
    assert sorted(started(s.schedule(0))) == [10, 11]
    assert {j.id: j.reason for j in s.pending()}[12] == "JobArrayTaskLimit"
    s.end(10, 5)
    assert started(s.schedule(5)) == {12: 5}
    s.check_invariants()


def test_array_limit_counts_adopted_tasks():
    s = one_node()
    running = job(10, array_job_id=10, array_task_id=0, array_limit=1)
    running.start, running.placement = 0.0, s.resources.place(running, s.resources.free, {})
    running.expected_end = 100.0
    s.adopt(running, 1)
    s.submit(job(11, array_job_id=10, array_task_id=1, array_limit=1), 1)
    assert started(s.schedule(1)) == {}
    s.end(10, 2)
    assert started(s.schedule(2)) == {11: 2}


def test_requeue_puts_a_finished_job_back_under_its_id():
    s = one_node(cpus=1)
    s.submit(job(1), 0)
    s.schedule(0)
    done = s.end(1, 10, JobState.FAILED, exit_code=1)
    s.requeue(done, 20)
    assert [a.job_id for a in s.schedule(20)] == [1]  # once, though the object is reused
    s.end(1, 30)
    assert s.schedule(30) == []
    s.check_invariants()
    s.requeue(s.end(1, 31) if 1 in s.running else done, 40)
    assert [a.job_id for a in s.schedule(40)] == [1]
    with pytest.raises(ValueError, match="only a finished job"):
        s.requeue(s.jobs[1], 41)


def test_time_limit_update_replans_a_running_job():
    # One CPU.  J1 (limit 100) runs; J2 (limit 50) waits, reserved at 100.  Cutting J1's
    # limit to 30 moves J2's reservation to 30; J1 ending at 30 starts J2 then.
    s = one_node(cpus=1)
    s.submit(job(1, limit=100), 0)
    s.submit(job(2, limit=50), 0)
    s.schedule(0)
    assert s.reservations[2] == 100
    s.set_time_limit(1, 30, 5)
    s.schedule(5)
    assert s.reservations[2] == 30
    assert s.jobs[1].expected_end == 30
    with pytest.raises(ValueError, match="positive"):
        s.set_time_limit(1, 0, 6)


def test_qos_max_jobs_per_user_holds_back_a_users_extra_jobs():
    # 4 CPUs; QOS "small" lets a user run one job at a time.  u runs J1; J2 (u, small)
    # waits with QOSMaxJobsPerUserLimit while J3 (v, small) and J4 (u, normal) start.
    s = one_node()
    s.qos_max_jobs_per_user["small"] = 1
    s.submit(job(1, qos="small"), 0)
    s.submit(job(2, qos="small"), 0)
    s.submit(job(3, qos="small", user="v"), 0)
    s.submit(job(4), 0)
    assert sorted(started(s.schedule(0))) == [1, 3, 4]
    assert s.jobs[2].reason == "QOSMaxJobsPerUserLimit"
    s.end(1, 10)
    assert started(s.schedule(10)) == {2: 10}
    s.check_invariants()
