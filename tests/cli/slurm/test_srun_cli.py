"""``kairos srun`` end to end: a real srun process, a stand-in controller, and the real
node side (``LocalAgent`` step supervisors running real tasks that connect back to
srun).  Expected outputs, messages and exit statuses are the Slurm 22.05 peer's."""

from __future__ import annotations

import signal
import statistics
import time

from tests.cli.slurm.conftest import wait_for_output


def lines(data: bytes) -> list[str]:
    return data.decode().splitlines()


def test_output_of_every_task_and_stdin_to_all_of_them(commands):
    result = commands.run("srun", "-n2", "cat", stdin=b"hi\n")  # the peer prints hi twice
    assert (result.returncode, result.stdout, result.stderr) == (0, b"hi\nhi\n", b"")


def test_much_input_from_a_pipe_or_a_file_reaches_every_task(commands, tmp_path):
    data = bytes(range(256)) * 20000
    result = commands.run("srun", "-n2", "-l", "wc", "-c", stdin=data)
    assert sorted(lines(result.stdout)) == [f"0: {len(data)}", f"1: {len(data)}"]
    source = tmp_path / "input.bin"
    source.write_bytes(data)
    with open(source, "rb") as file:  # a file cannot be waited on: read as it is taken
        result = commands.run("srun", "-n2", "-l", "wc", "-c", stdin=file)
    assert sorted(lines(result.stdout)) == [f"0: {len(data)}", f"1: {len(data)}"]
    result = commands.run("srun", "-n2", "-l", "-i", "0", "cat", stdin=b"only task 0\n")
    assert result.stdout == b"0: only task 0\n"


def test_label_and_both_streams(commands):
    body = 'echo "out $SLURM_PROCID"; echo "err $SLURM_PROCID" >&2'
    result = commands.run("srun", "-n3", "-l", "sh", "-c", body)
    assert result.returncode == 0
    assert sorted(lines(result.stdout)) == ["0: out 0", "1: out 1", "2: out 2"]
    assert sorted(lines(result.stderr)) == ["0: err 0", "1: err 1", "2: err 2"]


def test_partial_lines_and_binary_data(commands):
    result = commands.run("srun", "-n1", "-l", "printf", "partial")
    assert result.stdout == b"0: partial\n"
    write = "import sys; sys.stdout.buffer.write(bytes(range(256)) * 3000)"
    result = commands.run("srun", "-n1", "python3", "-c", write)
    assert result.returncode == 0 and result.stdout == bytes(range(256)) * 3000


def test_a_task_exiting_3(commands):
    result = commands.run("srun", "-n2", "sh", "-c", '[ "$SLURM_PROCID" = 1 ] && exit 3; exit 0')
    assert result.returncode == 3
    node = commands.controller.node
    assert lines(result.stderr) == [f"srun: error: {node}: task 1: Exited with exit code 3"]


def test_a_task_killed_by_a_signal(commands):
    node = commands.controller.node
    result = commands.run("srun", "-n2", "sh", "-c", '[ "$SLURM_PROCID" = 1 ] && kill -9 $$; exit 0')
    assert result.returncode == 137
    assert lines(result.stderr) == [f"srun: error: {node}: task 1: Killed",
                                    "srun: Force Terminated StepId=12.0"]
    result = commands.run("srun", "-n1", "sh", "-c", "ulimit -c 0; kill -SEGV $$")
    assert result.returncode == 139
    assert lines(result.stderr) == [f"srun: error: {node}: task 0: Segmentation fault"]


def test_kill_on_bad_exit_ends_the_others(commands):
    began = time.monotonic()
    body = '[ "$SLURM_PROCID" = 1 ] && exit 3; exec sleep 30'
    result = commands.run("srun", "-n2", "-K", "sh", "-c", body)
    assert time.monotonic() - began < 10 and result.returncode == 143
    err = lines(result.stderr)
    assert err[:2] == [f"srun: error: {commands.controller.node}: task 1: Exited with exit code 3",
                       "srun: Terminating StepId=12.0"]
    assert f"srun: error: {commands.controller.node}: task 0: Terminated" in err


def test_step_creation_waits_while_other_steps_hold_the_cpus(commands):
    commands.controller.busy_answers = 1
    result = commands.run("srun", "-n1", "echo", "done")
    assert result.returncode == 0 and result.stdout == b"done\n"
    assert lines(result.stderr) == [
        "srun: Job 12 step creation temporarily disabled, retrying (Requested nodes are busy)",
        "srun: Step created for job 12"]
    assert commands.controller.paths("POST").count("/api/v1/jobs/12/steps") == 2


def test_a_step_that_can_never_fit_is_an_error(commands):
    commands.controller.refuse_steps = "More processors requested than permitted"
    result = commands.run("srun", "-n9", "true")
    assert result.returncode == 1
    assert result.stderr == (b"srun: error: Unable to create step for job 12: More processors "
                             b"requested than permitted\n")


def test_srun_waits_for_a_controller_that_is_restarting(commands):
    commands.controller.unanswered = 4  # nodes, then the step: both asked again
    result = commands.run("srun", "-n2", "echo", "ran")
    assert result.returncode == 0 and result.stdout == b"ran\nran\n"
    assert lines(result.stderr) == [
        "srun: error: the controller http://10.0.0.1:6820 does not answer: All connection "
        "attempts failed; retrying for up to 60 s"]


def test_a_job_that_does_not_exist(commands):
    result = commands.run("srun", "true", env={"SLURM_JOB_ID": "404", "SLURM_JOB_NODELIST": ""})
    assert result.returncode == 1
    assert lines(result.stderr) == [  # the peer's words
        "srun: error: Unable to confirm allocation for job 404: Invalid job id specified",
        "srun: Check SLURM_JOB_ID environment variable. Expired or invalid job 404"]


def test_the_step_request(commands):
    commands.run("srun", "-n2", "-c1", "--exact", "-J", "named", "-o", "out-%t.txt", "true")
    body = next(b for m, p, b in commands.controller.requests if p == "/api/v1/jobs/12/steps")
    assert (body["ntasks"], body["cpus_per_task"], body["exact"], body["name"]) == (2, 1, True, "named")
    assert body["io"]["host"] == "127.0.0.1" and len(body["io"]["token"]) == 32
    assert body["stdin"] == "all" and body["env"]["SLURM_JOB_ID"] == "12"
    assert sorted(p.name for p in commands.workdir.iterdir()) == ["out-0.txt", "out-1.txt"]


def test_outside_a_job_srun_makes_an_allocation_and_gives_it_back(commands):
    controller = commands.controller
    controller.pending_for = 1.0
    result = commands.run("srun", "-n2", "-l", "sh", "-c", 'echo "$SLURM_JOB_ID"', inside=False)
    assert result.returncode == 0
    job_id = max(controller.jobs)
    assert sorted(lines(result.stdout)) == [f"0: {job_id}", f"1: {job_id}"]
    assert lines(result.stderr) == [f"srun: job {job_id} queued and waiting for resources",
                                    f"srun: job {job_id} has been allocated resources"]
    submitted = controller.jobs[job_id]["submission"]
    assert submitted["allocation"] and submitted["name"] == "sh" and submitted["ntasks"] == 2
    assert controller.released == {job_id: 0}
    controller.pending_for = 0
    result = commands.run("srun", "sh", "-c", "exit 5", inside=False)
    assert result.returncode == 5
    assert result.stderr == f"srun: error: {controller.node}: task 0: Exited with exit code 5\n".encode()
    assert controller.released[max(controller.jobs)] == 5


def test_an_allocation_that_can_never_be_granted(commands):
    commands.controller.refuse_jobs = "Requested node configuration is not available"
    result = commands.run("srun", "-N9", "true", inside=False)
    assert result.returncode == 1
    assert result.stderr == (b"srun: error: Unable to allocate resources: Requested node "
                             b"configuration is not available\n")
    assert not commands.controller.jobs.keys() - {12}  # no job id used


def test_ctrl_c_while_waiting_cancels_the_request(commands):
    commands.controller.pending_for = 60
    process = commands.start("srun", "true", inside=False)
    time.sleep(1.5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    job_id = max(commands.controller.jobs)
    assert process.returncode == 1
    assert lines(err) == [f"srun: job {job_id} queued and waiting for resources",
                          f"srun: Job allocation {job_id} has been revoked"]
    assert commands.controller.jobs[job_id]["state"] == "CANCELLED"


def test_one_ctrl_c_shows_the_tasks_two_end_the_step(commands):
    process = commands.start("srun", "-n2", "sh", "-c", 'echo ready; exec sleep 30')
    seen = wait_for_output(process, b"ready\nready\n")
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=15)
    assert process.returncode == 130  # the tasks died of the SIGINT srun sent them
    assert lines(err)[:5] == [
        "srun: interrupt (one more within 1 sec to abort)",
        "srun: StepId=12.0 tasks 0-1: running",
        "srun: sending Ctrl-C to StepId=12.0",
        "srun: forcing job termination",
        "srun: Job step aborted: Waiting up to 32 seconds for job step to finish."]
    # then, as on the peer, perhaps the node's note that the step was cancelled
    assert all("*** STEP 12.0 ON" in line for line in lines(err)[5:])
    assert seen + out == b"ready\nready\n"


def test_signals_are_passed_to_the_tasks_and_sigterm_ends_the_step(commands):
    body = 'trap "echo usr1 $SLURM_PROCID" USR1; echo ready; while :; do sleep 0.05; done'
    process = commands.start("srun", "-n2", "sh", "-c", body)
    seen = wait_for_output(process, b"ready\nready\n")
    process.send_signal(signal.SIGUSR1)
    seen += wait_for_output(process, b"usr1 1")
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=15)
    assert b"usr1 0" in seen + out
    assert process.returncode == 143
    err = [line for line in lines(err) if line != "User defined signal 1"]  # sh's, for sleep
    assert err[:2] == ["srun: forcing job termination",
                       "srun: Job step aborted: Waiting up to 32 seconds for job step to finish."]
    assert err[-1] == f"srun: error: {commands.controller.node}: tasks 0-1: Terminated"


def test_a_node_that_never_connects_does_not_hang_srun(commands):
    commands.controller.ghost_nodes = ["n9"]
    began = time.monotonic()
    result = commands.run("srun", "-n3", "-l", "-i", "none", "echo", "hi")
    assert time.monotonic() - began < 10
    assert result.returncode == 1
    assert sorted(lines(result.stdout)) == ["0: hi", "1: hi"]
    assert lines(result.stderr) == ["srun: error: Node failure on n9"]


def test_a_node_lost_while_its_step_runs_ends_the_step(commands):
    commands.controller.ghost_nodes = ["n9"]
    commands.controller.ghost_fail_after = 1.0
    began = time.monotonic()
    result = commands.run("srun", "-n3", "-l", "-i", "none", "sh", "-c", "echo ready; exec sleep 30")
    assert time.monotonic() - began < 15
    assert result.returncode == 143
    assert sorted(lines(result.stdout)) == ["0: ready", "1: ready"]
    err = lines(result.stderr)
    assert err[:2] == ["srun: error: Node failure on n9",
                       "srun: Job step aborted: Waiting up to 32 seconds for job step to finish."]
    assert err[-1] == f"srun: error: {commands.controller.node}: tasks 0-1: Terminated"


def test_warnings_and_refusals(commands):
    asked = commands.controller.requests
    result = commands.run("srun", "--cpu-bind=q", "-n1", "true")
    assert result.returncode == 0
    assert result.stderr == (b"srun: warning: --cpu-bind is ignored: binding is per allocation "
                             b"(a step uses its job's cores)\n")
    assert commands.run("srun", "-Q", "--cpu-bind=q", "true").stderr == b""
    before = len(asked)
    result = commands.run("srun", "--pty", "bash")
    assert result.returncode == 1 and result.stderr.startswith(b"srun: error: --pty is not supported")
    result = commands.run("srun", "--foo", "true")
    assert result.returncode == 255 and result.stderr == (
        b"srun: unrecognized option '--foo'\nTry \"srun --help\" for more information\n")
    result = commands.run("srun")
    assert (result.returncode, result.stderr) == (1, b"srun: fatal: No command given to execute.\n")
    assert len(asked) == before  # refused before asking the controller anything


def test_eight_tasks_of_true(commands):
    """``srun -n 8 true`` from the start of srun to its exit (median of seven)."""
    took = []
    for _ in range(7):
        began = time.perf_counter()
        assert commands.run("srun", "-n", "8", "true").returncode == 0
        took.append(time.perf_counter() - began)
    median = statistics.median(took)
    print(f"srun -n 8 true, whole command: median {median * 1000:.0f} ms "
          f"({', '.join(f'{t * 1000:.0f}' for t in took)})")
    assert median < 2.0
