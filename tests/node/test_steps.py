"""Job steps through the agent: real tasks, their variables, their output streamed to a
stand-in srun or written to files, their ends, cancels and signals."""

from __future__ import annotations

import os
import signal
import time

import pytest

from kairos.core.jobs import JobState
from kairos.model import stepio
from kairos.node.agent import AgentError
from tests.node.conftest import exits, make_spec, make_step, output_of, wait_for, wait_for_step

SHOW_VARS = ["sh", "-c", 'env | grep -E "^SLURMD?_" | sort; echo "to stderr $SLURM_PROCID" >&2']


def variables(text: bytes) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.decode().splitlines())


def test_three_tasks_stream_their_variables_and_output(agent, workdir, srun, facts):
    launched = agent.launch_step(make_step(workdir, SHOW_VARS, io=srun.io, cpus_per_task=2))
    assert agent.running_steps() == [(5, 0)] and launched.pid > 0
    frames = srun.wait_exits(3)
    finished = wait_for_step(agent, 5, 0)
    assert (finished.state, finished.exit_code, finished.reason) == (JobState.COMPLETED, 0, "")
    assert finished.tasks == {0: (0, 0), 1: (0, 0), 2: (0, 0)}

    kind, _, payload = frames[0]
    assert kind == stepio.HELLO
    assert stepio.payload_json(payload) == {"token": "t0ken", "node": facts.name, "tasks": [0, 1, 2]}
    assert exits(frames) == {0: (0, 0), 1: (0, 0), 2: (0, 0)}
    errors = output_of(frames, stepio.ERR)
    pids = set()
    for task, text in output_of(frames).items():
        env = variables(text)
        assert env["SLURM_PROCID"] == str(task) and env["SLURM_LOCALID"] == str(task)
        assert env["SLURM_NODEID"] == "0" and env["SLURM_GTIDS"] == "0,1,2"
        assert env["SLURM_STEPID"] == env["SLURM_STEP_ID"] == "0"
        assert env["SLURM_NTASKS"] == env["SLURM_NPROCS"] == env["SLURM_STEP_NUM_TASKS"] == "3"
        assert env["SLURM_STEP_NUM_NODES"] == "1" and env["SLURM_STEP_TASKS_PER_NODE"] == "3"
        assert env["SLURM_STEP_NODELIST"] == env["SLURMD_NODENAME"] == facts.name
        assert env["SLURM_CPUS_PER_TASK"] == "2"
        assert env["SLURM_JOB_ID"] == "5"  # the controller's, passed through
        pids.add(int(env["SLURM_TASK_PID"]))
        assert errors[task] == f"to stderr {task}\n".encode()
    assert len(pids) == 3
    # Each task's EXIT comes after the last of its output.
    for task in range(3):
        last_output = max(i for i, (k, t, _) in enumerate(frames) if t == task and k in (stepio.OUT, stepio.ERR))
        exit_at = next(i for i, (k, t, _) in enumerate(frames) if t == task and k == stepio.EXIT)
        assert last_output < exit_at


def test_a_node_of_a_larger_step_shows_its_share_and_the_controllers_layout(agent, workdir, srun):
    spec = make_step(workdir, SHOW_VARS, tasks=[3, 4], node_id=1, node_name="n2", ntasks=5, io=srun.io)
    spec.env.update(SLURM_STEP_NODELIST="n[1-2]", SLURM_STEP_NUM_NODES="2", SLURM_STEP_TASKS_PER_NODE="3,2")
    agent.launch_step(spec)
    frames = srun.wait_exits(2)
    assert wait_for_step(agent, 5, 0).tasks == {3: (0, 0), 4: (0, 0)}
    out = output_of(frames)
    assert sorted(out) == [3, 4]
    for local, task in enumerate((3, 4)):
        env = variables(out[task])
        assert (env["SLURM_PROCID"], env["SLURM_LOCALID"], env["SLURM_NODEID"]) == (str(task), str(local), "1")
        assert env["SLURM_GTIDS"] == "3,4" and env["SLURMD_NODENAME"] == "n2" and env["SLURM_NTASKS"] == "5"
        assert (env["SLURM_STEP_NODELIST"], env["SLURM_STEP_NUM_NODES"], env["SLURM_STEP_TASKS_PER_NODE"]) == ("n[1-2]", "2", "3,2")


def test_much_binary_output_waits_for_a_slow_srun_and_arrives_whole(agent, workdir, srun):
    """More than the supervisor buffers for srun: while srun does not read, the tasks wait
    (their pipes are full); then every byte arrives as it was written."""
    write = ["python3", "-c", "import os, sys; sys.stdout.buffer.write(bytes(range(256)) * (40000 + int(os.environ['SLURM_PROCID'])))"]
    srun.hold()
    agent.launch_step(make_step(workdir, write, tasks=[0, 1], io=srun.io))
    time.sleep(1.0)
    assert agent.poll() == [] and agent.running_steps() == [(5, 0)]
    srun.release()
    out = output_of(srun.wait_exits(2, timeout=30))
    assert out[0] == bytes(range(256)) * 40000 and out[1] == bytes(range(256)) * 40001
    assert wait_for_step(agent, 5, 0).state is JobState.COMPLETED


def test_a_task_that_exits_non_zero_fails_the_step_with_its_code(agent, workdir, srun):
    agent.launch_step(make_step(workdir, ["sh", "-c", '[ "$SLURM_PROCID" = 1 ] && exit 3; exit 0'], io=srun.io))
    assert exits(srun.wait_exits(3)) == {0: (0, 0), 1: (3, 0), 2: (0, 0)}
    finished = wait_for_step(agent, 5, 0)
    assert (finished.state, finished.exit_code, finished.signal, finished.reason) == (JobState.FAILED, 3, 0, "NonZeroExitCode")
    assert finished.tasks[1] == (3, 0)


def test_a_task_killed_by_a_signal_fails_the_step(agent, workdir, srun):
    body = 'ulimit -c 0; [ "$SLURM_PROCID" = 2 ] && kill -SEGV $$; exit 0'
    agent.launch_step(make_step(workdir, ["sh", "-c", body], io=srun.io))
    assert exits(srun.wait_exits(3))[2] == (0, signal.SIGSEGV)
    finished = wait_for_step(agent, 5, 0)
    assert (finished.state, finished.signal, finished.reason) == (JobState.FAILED, signal.SIGSEGV, "RaisedSignal:11")
    assert finished.tasks == {0: (0, 0), 1: (0, 0), 2: (0, signal.SIGSEGV)}


def test_a_missing_command_exits_2_as_under_slurm(agent, workdir, srun):
    agent.launch_step(make_step(workdir, ["no-such-command-here"], tasks=[0], io=srun.io))
    frames = srun.wait_exits(1)
    assert exits(frames) == {0: (2, 0)}
    assert b"execve(): no-such-command-here: No such file or directory" in output_of(frames, stepio.ERR)[0]
    assert wait_for_step(agent, 5, 0).state is JobState.FAILED


def ready(count: int):
    """All ``count`` tasks said ``ready`` on stdout."""
    return lambda frames: sum(b"ready" in text for text in output_of(frames).values()) >= count


def test_cancel_of_a_running_step(agent, workdir, srun, facts):
    agent.launch_step(make_step(workdir, ["sh", "-c", "echo ready; exec sleep 30"], io=srun.io))
    srun.wait(ready(3))
    began = time.monotonic()
    assert agent.cancel_step(5, 0)
    finished = wait_for_step(agent, 5, 0)
    assert time.monotonic() - began < 2
    assert (finished.state, finished.reason) == (JobState.CANCELLED, "Cancelled")
    assert finished.tasks == {t: (0, signal.SIGTERM) for t in range(3)}
    frames = srun.wait_exits(3)
    assert f"*** STEP 5.0 ON {facts.name} CANCELLED AT".encode() in output_of(frames, stepio.ERR)[0]
    with pytest.raises(AgentError, match="not running"):
        agent.cancel_step(5, 0)


def test_a_cancel_right_after_the_launch_is_a_cancel(agent, workdir):
    """The supervisor starts with the agent's signals held, so none kills it before it can act."""
    agent.launch_step(make_step(workdir, ["sleep", "30"], tasks=[0]))
    assert agent.cancel_step(5, 0)
    assert wait_for_step(agent, 5, 0).state is JobState.CANCELLED


def test_cancel_of_a_job_ends_its_steps_even_without_a_batch_script_here(agent, workdir):
    agent.launch_step(make_step(workdir, ["sleep", "30"], step_id=0))
    agent.launch_step(make_step(workdir, ["sleep", "30"], step_id=1))
    time.sleep(0.2)
    assert agent.cancel(5)
    assert wait_for_step(agent, 5, 0).state is wait_for_step(agent, 5, 1).state is JobState.CANCELLED
    with pytest.raises(AgentError, match="not running"):
        agent.cancel(5)


def test_signal_to_a_step_reaches_every_task_and_counts_as_a_cancel(agent, workdir, srun):
    body = 'if [ "$SLURM_PROCID" = 0 ]; then trap "echo caught; exit 0" USR1; fi; echo ready; while :; do sleep 0.05; done'
    agent.launch_step(make_step(workdir, ["sh", "-c", body], io=srun.io))
    srun.wait(ready(3))
    assert agent.signal_step(5, 0, signal.SIGUSR1)
    finished = wait_for_step(agent, 5, 0)
    assert finished.tasks == {0: (0, 0), 1: (0, signal.SIGUSR1), 2: (0, signal.SIGUSR1)}
    assert (finished.state, finished.signal) == (JobState.CANCELLED, signal.SIGUSR1)
    assert b"caught" in output_of(srun.wait_exits(3))[0]


def test_time_limit_ends_a_step(agent, workdir, srun):
    agent.launch_step(make_step(workdir, ["sleep", "30"], tasks=[0], io=srun.io, time_limit=0.5, kill_wait=1))
    finished = wait_for_step(agent, 5, 0)
    assert (finished.state, finished.reason) == (JobState.TIMEOUT, "TimeLimit")
    assert finished.end - finished.start < 2
    assert b"DUE TO TIME LIMIT" in output_of(srun.wait_exits(1), stepio.ERR)[0]


def test_file_patterns_put_each_stream_in_its_files(agent, workdir):
    say = ["sh", "-c", 'echo "out $SLURM_PROCID"; echo "err $SLURM_PROCID" >&2']
    agent.launch_step(make_step(workdir, say, step_id=0, stdout="out-%t.txt"))
    agent.launch_step(make_step(workdir, say, step_id=1, stdout=str(workdir / "o-%J-%2t.txt"), stderr="e-%j.%s-%n-%N.txt"))
    agent.launch_step(make_step(workdir, say, step_id=2, stdout="all.txt"))
    for step_id in range(3):
        assert wait_for_step(agent, 5, step_id).state is JobState.COMPLETED
    for task in range(3):  # -e follows -o, as in srun
        assert (workdir / f"out-{task}.txt").read_text() in (f"out {task}\nerr {task}\n", f"err {task}\nout {task}\n")
        assert (workdir / f"o-5.1-{task:02d}.txt").read_text() == f"out {task}\n"
    node = agent.facts.name
    assert sorted((workdir / f"e-5.1-0-{node}.txt").read_text().splitlines()) == ["err 0", "err 1", "err 2"]
    # One file for every task: truncated once, so nothing a task wrote is lost.
    assert sorted((workdir / "all.txt").read_text().splitlines()) == sorted(
        f"{stream} {task}" for stream in ("out", "err") for task in range(3))


def test_an_output_file_that_cannot_be_opened_fails_the_launch(agent, workdir, srun):
    agent.launch_step(make_step(workdir, ["true"], io=srun.io, stdout=str(workdir / "missing" / "o-%t")))
    frames = srun.wait_exits(3)
    assert exits(frames) == {0: (1, 0), 1: (1, 0), 2: (1, 0)}
    assert b"cannot open output file" in output_of(frames, stepio.ERR)[0]
    finished = wait_for_step(agent, 5, 0)
    assert finished.state is JobState.FAILED and finished.reason.startswith("JobLaunchFailure: cannot open output file")


def test_an_unreachable_srun_fails_the_launch(agent, workdir, srun):
    io = dict(srun.io)
    srun.close()
    agent.launch_step(make_step(workdir, ["true"], io=io))
    finished = wait_for_step(agent, 5, 0)
    assert finished.state is JobState.FAILED and "cannot connect to srun" in finished.reason
    assert finished.io_error


def test_stdin_goes_to_task_0_and_ends_with_an_empty_input(agent, workdir, srun):
    agent.launch_step(make_step(workdir, ["sh", "-c", 'echo ready; cat; echo "end $SLURM_PROCID"'], io=srun.io))
    srun.wait(ready(3))
    srun.send(stepio.frame(stepio.INPUT, 0, b"hello "))
    srun.send(stepio.frame(stepio.INPUT, 0, b"world\n"))
    srun.send(stepio.frame(stepio.INPUT, 0, b""))
    out = output_of(srun.wait_exits(3))
    assert out[0] == b"ready\nhello world\nend 0\n"
    assert out[1] == b"ready\nend 1\n" and out[2] == b"ready\nend 2\n"  # /dev/null
    assert wait_for_step(agent, 5, 0).state is JobState.COMPLETED


def test_stdin_for_all_tasks(agent, workdir, srun):
    agent.launch_step(make_step(workdir, ["cat"], io=srun.io, stdin="all"))
    time.sleep(0.2)
    srun.send(stepio.frame(stepio.INPUT, stepio.ALL_TASKS, b"to all\n"))
    srun.send(stepio.frame(stepio.INPUT, 1, b"to one\n"))
    srun.send(stepio.frame(stepio.INPUT, stepio.ALL_TASKS, b""))
    out = output_of(srun.wait_exits(3))
    assert out == {0: b"to all\n", 1: b"to all\nto one\n", 2: b"to all\n"}


def test_tasks_outlive_srun_and_the_break_is_recorded(agent, workdir, srun):
    body = 'echo ready; sleep 0.5; i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; echo done > "done-$SLURM_PROCID"'
    agent.launch_step(make_step(workdir, ["sh", "-c", body], io=srun.io))
    srun.wait(ready(3))
    srun.close()
    finished = wait_for_step(agent, 5, 0)
    assert (finished.state, finished.tasks) == (JobState.COMPLETED, {t: (0, 0) for t in range(3)})
    assert "srun" in finished.io_error
    assert all((workdir / f"done-{t}").exists() for t in range(3))


def test_a_step_uses_its_jobs_cores_and_ends_with_the_job(agent, workdir, facts):
    if len(facts.cpus) < 2:
        pytest.skip("needs two usable CPUs")
    job = agent.launch(5, make_spec(workdir, "sleep 0.6", ncpus=2))
    launched = agent.launch_step(make_step(workdir, ["sh", "-c", "grep Cpus_allowed_list /proc/self/status; exec sleep 30"],
                                           tasks=[0], stdout="cpus.txt"))
    assert launched.cpu_ids == job.cpu_ids
    with pytest.raises(AgentError, match="already running"):
        agent.launch_step(make_step(workdir, ["true"]))
    assert wait_for(agent, 5).state is JobState.COMPLETED
    assert wait_for_step(agent, 5, 0).state is JobState.CANCELLED  # the job's end ends its steps
    low, high = job.cpu_ids[0], job.cpu_ids[-1]
    first_line = (workdir / "cpus.txt").read_text().splitlines()[0]  # then the cancel's note
    assert first_line.split() == ["Cpus_allowed_list:", f"{low}-{high}"]


def test_a_step_holds_the_cores_it_was_given(agent, workdir, facts):
    agent.launch_step(make_step(workdir, ["sleep", "30"], tasks=[0], cpu_ids=[facts.cpus[0]]))
    assert facts.cpus[0] not in agent.free_cpus()
    agent.cancel_step(5, 0)
    wait_for_step(agent, 5, 0)
    assert agent.free_cpus() == facts.cpus


def test_cleanup_removes_the_steps_too_and_waits_for_running_ones(agent, workdir):
    agent.launch_step(make_step(workdir, ["true"], step_id=0))
    wait_for_step(agent, 5, 0)
    agent.launch_step(make_step(workdir, ["sleep", "30"], step_id=1))
    assert agent.stepdir(5, 0).is_dir() and agent.stepdir(5, 1).is_dir()
    agent.cleanup(5)  # step 1 still runs: it is cancelled, the directory goes when it is reported
    assert agent.jobdir(5).is_dir()
    assert wait_for_step(agent, 5, 1).state is JobState.CANCELLED
    assert not agent.jobdir(5).exists()


def test_memory_limit_ends_a_step(agent, workdir):
    grab = ["python3", "-c", "import time; x = b'x' * (300 << 20); time.sleep(10)"]
    agent.launch_step(make_step(workdir, grab, tasks=[0], mem_limit_mib=100))
    finished = wait_for_step(agent, 5, 0)
    assert finished.state is JobState.OUT_OF_MEMORY and finished.reason == "OutOfMemory"


def test_eight_tasks_of_true_start_and_end_quickly(agent, workdir, srun):
    """The time from launch_step to the last EXIT frame (the median of five steps)."""
    took = []
    for step_id in range(5):
        began = time.perf_counter()
        agent.launch_step(make_step(workdir, ["true"], step_id=step_id, tasks=range(8), io=srun.io))
        srun.wait(lambda frames, n=8 * (step_id + 1): len([f for f in frames if f[0] == stepio.EXIT]) >= n)
        took.append(time.perf_counter() - began)
        wait_for_step(agent, 5, step_id)
    median = sorted(took)[len(took) // 2]
    print(f"8-task step, launch to last EXIT: median {median * 1000:.1f} ms ({', '.join(f'{t * 1000:.1f}' for t in took)})")
    assert median < 2.0


def test_steps_are_not_a_batch_jobs_concern(agent, workdir):
    """A step leaves the batch API alone: no batch job 5 appears, signal(5) still refuses."""
    agent.launch_step(make_step(workdir, ["sleep", "30"], tasks=[0]))
    assert agent.running() == [] and agent.running_steps() == [(5, 0)]
    with pytest.raises(AgentError, match="job 5 is not running"):
        agent.signal(5, signal.SIGUSR1)
    assert os.path.isdir(agent.stepdir(5, 0))
