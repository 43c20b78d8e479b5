"""Emulated nodes' bookkeeping (``kairos.node.emulation``): runtimes, ends, kills,
time limits, holds and cores, with the time as an argument."""

from __future__ import annotations

import math

import pytest

from kairos.core.jobs import JobState
from kairos.node.agent import Finished, Launched, LaunchSpec
from kairos.node.emulation import EmulatedNode, Emulation, emulated_runtime
from kairos.node.wire import (
    Allocate, Cleanup, Kill, Launch, LaunchFailed, LaunchStep, StepLaunchFailed, TimeLimit,
)
from kairos.node.steps import StepLaunch


def spec(script: str = "#!/bin/sh\ntrue\n", *, runtime: str | None = None, ncpus: int = 1,
         limit: float | None = None, gpus=()) -> LaunchSpec:
    env = {} if runtime is None else {"KAIROS_EMULATE_RUNTIME": runtime}
    return LaunchSpec(user="u", uid=1000, gid=1000, script=script, work_dir="/tmp",
                      stdout="/dev/null", env=env, ncpus=ncpus, time_limit=limit,
                      gpus=list(gpus))


def emulation(count: int = 2) -> Emulation:
    return Emulation([EmulatedNode(f"e{i}", 4, 1024, {"a100": 2}) for i in range(count)])


@pytest.mark.parametrize("script, runtime, expected", [
    ("#!/bin/sh\ntrue\n", "12.5", 12.5),
    ("#!/bin/sh\n#SBATCH -n 2\n# a comment\nsleep 30\n", None, 30.0),
    ("#!/bin/bash\n  exec /bin/sleep 7\n", None, 7.0),
    ("#!/bin/sh\nsleep 30\necho done\n", None, math.inf),
    ("#!/bin/sh\n./simulate\n", None, math.inf),
    ("#!/bin/sh\nsleep 30\n", "2", 2.0),  # the variable wins
])
def test_runtime_from_the_variable_or_a_lone_sleep(script, runtime, expected):
    assert emulated_runtime(spec(script, runtime=runtime)) == expected


@pytest.mark.parametrize("bad", ["soon", "-1", "inf", "nan"])
def test_a_runtime_that_is_not_seconds_fails_the_launch_saying_so(bad):
    em = emulation()
    [failed] = em.carry_out("e0", Launch(1, spec(runtime=bad)), now=0.0)
    assert isinstance(failed, LaunchFailed) and "KAIROS_EMULATE_RUNTIME" in failed.reason


def test_a_job_runs_for_its_runtime_then_completes_with_exit_code_0():
    em = emulation()
    [launched] = em.carry_out("e0", Launch(7, spec(runtime="5", ncpus=2)), now=100.0)
    assert launched == Launched(7, 0, [0, 1], [], 100.0)
    assert em.running("e0") == [7] and em.next_end() == 105.0
    assert em.due(104.9) == []
    [(node, end)] = em.due(105.0)
    assert node == "e0" and isinstance(end, Finished)
    assert (end.state, end.exit_code, end.start, end.end) == (JobState.COMPLETED, 0, 100.0, 105.0)
    assert em.running("e0") == [] and em.next_end() == math.inf
    # Its cores are free again.
    [again] = em.carry_out("e0", Launch(8, spec(runtime="1", ncpus=4)), now=106.0)
    assert again.cpu_ids == [0, 1, 2, 3]


def test_the_time_limit_ends_a_longer_job_as_timeout_and_can_be_moved():
    em = emulation()
    em.carry_out("e0", Launch(1, spec(runtime="100", limit=10)), now=0.0)
    em.carry_out("e0", Launch(2, spec("#!/bin/sh\n./forever\n", limit=20)), now=0.0)
    em.carry_out("e0", TimeLimit(2, 30), now=5.0)
    [(_, first)] = em.due(10.0)
    assert (first.job_id, first.state, first.end, first.signal) == (1, JobState.TIMEOUT, 10.0, 15)
    assert em.due(29.9) == []
    [(_, second)] = em.due(30.0)
    assert (second.job_id, second.state) == (2, JobState.TIMEOUT)


def test_kill_cancels_at_once_and_later_commands_about_it_do_nothing():
    em = emulation()
    em.carry_out("e1", Launch(3, spec(runtime="50")), now=0.0)
    [end] = em.carry_out("e1", Kill(3), now=4.0)
    assert (end.state, end.signal, end.end) == (JobState.CANCELLED, 15, 4.0)
    assert em.carry_out("e1", Kill(3), now=5.0) == []
    assert em.due(100.0) == []
    assert em.carry_out("e1", Cleanup(3), now=6.0) == []
    assert em.running("e1") == []


def test_cores_and_gpus_are_taken_and_a_busy_node_fails_the_launch():
    em = emulation()
    [gpu_job] = em.carry_out("e0", Launch(1, spec(runtime="9", ncpus=1, gpus=[("a100", 2)])), 0.0)
    assert gpu_job.gpu_ids == [0, 1]
    [failed] = em.carry_out("e0", Launch(2, spec(runtime="9", gpus=[(None, 1)])), 0.0)
    assert isinstance(failed, LaunchFailed) and "GPU" in failed.reason
    assert em.carry_out("e0", Allocate(3, 3, []), 0.0) == []  # holds the other 3 cores
    assert em.held("e0") == [3]
    [busy] = em.carry_out("e0", Launch(4, spec(runtime="9")), 0.0)
    assert isinstance(busy, LaunchFailed) and "free core" in busy.reason
    em.carry_out("e0", Cleanup(3), 1.0)
    [fits] = em.carry_out("e0", Launch(4, spec(runtime="9", ncpus=3)), 1.0)
    assert fits.cpu_ids == [1, 2, 3]


def test_steps_cannot_run_on_an_emulated_node():
    em = emulation()
    step = StepLaunch(job_id=1, step_id=0, user="u", uid=1000, gid=1000,
                      argv=["hostname"], env={}, cwd="/tmp", tasks=[0])
    [failed] = em.carry_out("e0", LaunchStep(step), 0.0)
    assert isinstance(failed, StepLaunchFailed) and "emulated" in failed.reason


def test_a_command_delivered_twice_is_answered_as_the_first_time():
    em = emulation()
    first = em.carry_out("e0", Launch(5, spec(runtime="3", ncpus=2)), now=0.0)
    assert em.carry_out("e0", Launch(5, spec(runtime="3", ncpus=2)), now=1.0) == first
    assert em.nodes["e0"].free_cpus == [2, 3]
    em.carry_out("e0", Allocate(6, 1, []), now=1.0)
    assert em.carry_out("e0", Allocate(6, 1, []), now=1.0) == []
    assert em.nodes["e0"].free_cpus == [3]
    [(_, end)] = em.due(3.0)
    assert end.job_id == 5 and em.due(10.0) == []
