"""The controller's rules, in this process: who may change which job, how the core's
actions are carried out, what a refused request leaves behind, and recovery through the
core.  A real store and core, an in-process agent, a clock the test moves; the records
and the core are checked to agree after every test (``make_bench``)."""

from __future__ import annotations

import pwd

import pytest

from kairos.core.jobs import JobState
from kairos.model import Submission
from kairos.server import warning_signals
from kairos.server.admission import SubmitError
from kairos.server.controller import Controller
from kairos.server.nodes import NodeRegistry
from kairos.server.permissions import Caller, PermissionDenied
from kairos.server.recovery import recover


def caller(name: str) -> Caller:
    """A real account of this machine (so its name resolves), never the test's own."""
    pw = pwd.getpwnam(name)
    return Caller(pw.pw_uid, pw.pw_gid)


NOBODY, DAEMON, ROOT = caller("nobody"), caller("daemon"), Caller(0, 0)


def state(bench, job_id: int) -> JobState:
    return bench.controller.jobs[job_id].state


# -- permissions ----------------------------------------------------------------------


def test_only_the_owner_and_admins_change_a_job(make_bench):
    bench = make_bench('[controller]\nadmins = ["daemon"]\n')
    mine, theirs = bench.submit(NOBODY), bench.submit(NOBODY)
    with pytest.raises(PermissionDenied, match="belongs to nobody, not 4242|belongs to nobody"):
        bench.controller.cancel([str(mine)], Caller(4242 + 1, 4242 + 1))
    for action in (bench.controller.hold, bench.controller.requeue):
        with pytest.raises(PermissionDenied):
            action([str(mine)], Caller(4242 + 1, 4242 + 1))
    assert state(bench, mine) is JobState.PENDING
    assert bench.controller.cancel([str(mine)], NOBODY)["cancelled"] == [str(mine)]
    assert bench.controller.cancel([str(theirs)], DAEMON)["cancelled"] == [str(theirs)]  # admin
    assert state(bench, mine) is state(bench, theirs) is JobState.CANCELLED


def test_root_and_the_controllers_own_user_are_admins(make_bench):
    bench = make_bench(controller_uid=DAEMON.uid)
    first, second = bench.submit(NOBODY), bench.submit(NOBODY)
    assert bench.controller.permissions.is_admin(ROOT)
    assert bench.controller.permissions.is_admin(DAEMON)
    assert not bench.controller.permissions.is_admin(NOBODY)
    bench.controller.hold([str(first)], ROOT)
    bench.controller.hold([str(second)], DAEMON)
    assert bench.controller.jobs[first].held and bench.controller.jobs[second].held


def test_some_changes_are_for_admins_only(make_bench):
    bench = make_bench('[controller]\nadmins = ["daemon"]\n')
    job_id = bench.submit(NOBODY, time_limit=600)
    update = bench.controller.update
    with pytest.raises(PermissionDenied, match="raise a time limit"):
        update(str(job_id), {"time_limit": 1200}, NOBODY)
    with pytest.raises(PermissionDenied, match="set a priority"):
        update(str(job_id), {"priority": 10}, NOBODY)
    with pytest.raises(PermissionDenied, match="negative nice"):
        update(str(job_id), {"nice": -5}, NOBODY)
    update(str(job_id), {"time_limit": 300, "nice": 5, "name": "renamed"}, NOBODY)  # lowering is fine
    update(str(job_id), {"time_limit": 1200, "priority": 10, "nice": -5}, DAEMON)
    job = bench.controller.jobs[job_id]
    assert (job.time_limit, job.nice, job.name, job.admin_priority) == (1200, -5, "renamed", 10)
    assert bench.controller.scheduler.jobs[job_id].time_limit == 1200


# -- refused requests leave no trace ------------------------------------------------------


@pytest.mark.parametrize("fields, message", [
    ({"partition": "nope"}, "invalid partition name"),
    ({"qos": "nope"}, "Invalid qos specification"),
    ({"ntasks": 64}, "Requested node configuration is not available"),
    ({"dependency": "afterok:999"}, "job 999 does not exist"),
    ({"array": "0-3", "dependency": "afterok:5_7"}, "no array task 5_7"),
])
def test_a_refused_submission_uses_no_job_id(bench, fields, message):
    with pytest.raises(SubmitError, match=message):
        bench.submit(NOBODY, **fields)
    assert bench.controller.jobs == {} and bench.controller.next_id == 1
    assert bench.submit(NOBODY) == 1


def test_test_only_forecasts_and_queues_nothing(bench):
    bench.submit(NOBODY, ntasks=4)
    bench.step()
    result = bench.controller.submit(
        Submission("#!/bin/sh\n", "/tmp", ntasks=2, time_limit=60, test_only=True), NOBODY)
    assert result["job_id"] == 2 and result["cpus"] == 2
    assert list(bench.controller.jobs) == [1] and bench.controller.next_id == 2


# -- the core decides, the controller carries it out -------------------------------------------


def test_cancelling_a_running_job_is_the_cores_kill(bench):
    job_id = bench.submit(NOBODY)
    bench.step()
    assert state(bench, job_id) is JobState.RUNNING and job_id in bench.agent.jobs
    bench.controller.cancel([str(job_id)], NOBODY)
    # The kill was asked of the agent; the job is RUNNING until its end is reported.
    assert bench.agent.cancelled == [job_id] and state(bench, job_id) is JobState.RUNNING
    bench.step()
    assert state(bench, job_id) is JobState.CANCELLED
    bench.commit()
    assert bench.store.get(job_id).state is JobState.CANCELLED


def test_requeue_of_a_running_job_queues_it_again_under_its_id(make_bench):
    bench = make_bench('[controller]\norder = "submit"\n')
    job_id = bench.submit(NOBODY, ntasks=4)
    waiting = bench.submit(NOBODY, ntasks=4)
    bench.step()
    bench.clock.advance(10)
    bench.controller.requeue([str(job_id)], NOBODY)
    assert bench.agent.cancelled == [job_id]
    bench.step()
    # Requeued before the pass, and first in submit order again: it runs again at once.
    job = bench.controller.jobs[job_id]
    assert (job.state, job.restarts, job.end_time) == (JobState.RUNNING, 1, None)
    assert state(bench, waiting) is JobState.PENDING
    assert bench.agent.cleaned == [job_id]  # its directory went before the relaunch


def test_a_job_the_agent_cannot_launch_fails_with_the_reason(bench):
    bench.agent.fail_launch = "no such user"
    job_id = bench.submit(NOBODY)
    bench.step()  # started and sent to the node
    bench.step()  # the node's answer
    job = bench.controller.jobs[job_id]
    assert (job.state, job.exit_code, job.reason) == (JobState.FAILED, 1, "JobLaunchFailure: no such user")


def test_an_array_runs_under_its_throttle_and_dependencies_wait(bench):
    first = bench.submit(NOBODY, array="0-3%2")
    after = bench.submit(NOBODY, dependency=f"afterok:{first}")
    bench.step()
    assert sorted(bench.agent.jobs) == [1, 2]
    bench.agent.finish(1)
    bench.step()
    assert sorted(bench.agent.jobs) == [2, 3]  # never more than two at once
    for task in (2, 3):
        bench.agent.finish(task)
    bench.step()
    assert state(bench, after) is JobState.PENDING  # task 4 still runs
    bench.agent.finish(4)
    bench.step()
    assert [state(bench, i) for i in (1, 2, 3, 4)] == [JobState.COMPLETED] * 4
    assert state(bench, after) is JobState.RUNNING


# -- restart ------------------------------------------------------------------------------------


def test_recovery_adopts_running_jobs_through_the_core(make_bench):
    bench = make_bench()
    running = bench.submit(NOBODY, ntasks=3)
    queued = bench.submit(NOBODY, ntasks=3)
    bench.step()
    bench.commit()
    # A new controller on the same database and agent, as after a kill -9.
    again = Controller(bench.settings, bench.store, NodeRegistry.local("node1", bench.agent),
                       bench.controller.cluster, clock=bench.clock, controller_uid=4242)
    assert recover(again) == {"pending": 1, "adopted": 1, "requeued": 0}
    assert again.scheduler.running[running].placement is not None
    assert again.scheduler.resources.free[0][0] == 1  # the adopted job's 3 CPUs are taken
    assert again.jobs[queued].state is JobState.PENDING
    again.check_invariants()
    bench.controller = again  # the fixture checks this one at the end


def test_a_restarted_controller_still_warns_the_steps_of_a_job_with_signal(make_bench):
    bench = make_bench()
    warned = bench.submit(NOBODY, ntasks=1, time_limit=600, warn_signal=10, warn_time=60)
    shell_only = bench.submit(NOBODY, ntasks=1, time_limit=600, warn_signal=10,
                              warn_time=60, warn_batch=True)  # the supervisor's to send
    plain = bench.submit(NOBODY, ntasks=1, time_limit=600)
    bench.step()
    assert bench.controller.warning_jobs == {warned}
    start = bench.controller.jobs[warned].start_time
    assert bench.controller._next_warning == start + 600 - 60
    bench.commit()
    again = Controller(bench.settings, bench.store, NodeRegistry.local("node1", bench.agent),
                       bench.controller.cluster, clock=bench.clock, controller_uid=4242)
    assert recover(again)["adopted"] == 3
    assert again.warning_jobs == {warned}
    assert warning_signals.send_due(again, bench.clock()) == start + 600 - 60
    bench.controller = again
    assert {shell_only, plain} <= again.jobs.keys()


def test_a_spread_job_records_the_cpus_it_holds_on_each_node_and_keeps_them(make_bench):
    bench = make_bench()
    job_id = bench.submit(NOBODY, ntasks=3, spread=True, mem_per_cpu=100)
    bench.step()
    job = bench.controller.jobs[job_id]
    assert (job.state, job.nodes, job.node_cpus, job.cpus) == (JobState.RUNNING, 1, (3,), 3)
    assert bench.agent.jobs[job_id].spec.mem_limit_mib == 300  # its node's share
    bench.commit()
    assert bench.store.get(job_id).node_cpus == (3,)
    again = Controller(bench.settings, bench.store, NodeRegistry.local("node1", bench.agent),
                       bench.controller.cluster, clock=bench.clock, controller_uid=4242)
    assert recover(again)["adopted"] == 1
    assert again.scheduler.resources.free[0][:2] == [1, 8000 - 300]
    bench.controller = again
    again.requeue([str(job_id)], NOBODY)
    bench.step()  # killed, queued again, and started again at once
    job = again.jobs[job_id]
    assert (job.state, job.restarts, job.node_cpus) == (JobState.RUNNING, 1, (3,))
    assert job.request().spread and job.request().nodes == 1
