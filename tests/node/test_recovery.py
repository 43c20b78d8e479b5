"""Jobs and steps outlive their controller: kill -9 the process that launched them, adopt them anew."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil

from kairos.core.jobs import JobState
from kairos.model import stepio
from kairos.node.agent import LocalAgent
from tests.node.conftest import make_spec, make_step, output_of, wait_for, wait_for_step

#: A stand-in controller: launches one job, says what it got, then waits to be killed.
CONTROLLER = textwrap.dedent("""
    import dataclasses, json, sys, time
    from pathlib import Path
    from kairos.node.agent import LaunchSpec, LocalAgent
    from kairos.node.facts import detect
    agent = LocalAgent(Path(sys.argv[1]), detect(), kill_wait=1)
    launched = agent.launch(int(sys.argv[2]), LaunchSpec(**json.loads(sys.argv[3])))
    print(json.dumps(dataclasses.asdict(launched)), flush=True)
    time.sleep(60)
""")


def launch_in_doomed_controller(home, job_id: int, spec) -> dict:
    """Launch ``spec`` from a separate process, then kill that process with SIGKILL."""
    spec_json = json.dumps({k: v for k, v in vars(spec).items()})
    proc = subprocess.Popen([sys.executable, "-c", CONTROLLER, str(home), str(job_id), spec_json],
                            stdout=subprocess.PIPE, text=True)
    launched = json.loads(proc.stdout.readline())
    proc.kill()
    proc.wait()
    return launched


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_job_survives_the_controller_and_is_adopted(tmp_path, workdir, facts):
    home = tmp_path / "home"
    body = f"sleep 0.8; echo finished after the controller died > {workdir}/after; exit 0"
    launched = launch_in_doomed_controller(home, 21, make_spec(workdir, body))
    assert alive(launched["pid"]), "the supervisor died with its controller"

    agent = LocalAgent(home, facts, kill_wait=1)
    assert agent.adopt(21, launched["cpu_ids"], launched["gpu_ids"]) is True
    assert agent.running() == [21] and launched["cpu_ids"][0] not in agent.free_cpus()
    finished = wait_for(agent, 21)
    assert (finished.state, finished.exit_code) == (JobState.COMPLETED, 0)
    assert (workdir / "after").read_text() == "finished after the controller died\n"
    assert agent.free_cpus() == facts.cpus
    agent.close()


def test_exit_code_of_a_job_that_ended_while_no_controller_ran(tmp_path, workdir, facts):
    home = tmp_path / "home"
    launched = launch_in_doomed_controller(home, 22, make_spec(workdir, "exit 4"))
    status = home / "jobs" / "22" / "status.json"
    give_up = time.monotonic() + 5
    while not status.exists() and time.monotonic() < give_up:
        time.sleep(0.05)
    agent = LocalAgent(home, facts)
    agent.adopt(22, launched["cpu_ids"], [])
    finished = wait_for(agent, 22)
    assert (finished.state, finished.exit_code, finished.reason) == (JobState.FAILED, 4, "NonZeroExitCode")
    agent.close()


def test_supervisor_killed_outright_is_node_fail_and_its_job_is_killed(tmp_path, workdir, facts):
    home = tmp_path / "home"
    launched = launch_in_doomed_controller(home, 23, make_spec(workdir, "echo $$ > pid; sleep 30"))
    pid_file = workdir / "pid"
    give_up = time.monotonic() + 5
    while not (pid_file.exists() and pid_file.read_text().strip()) and time.monotonic() < give_up:
        time.sleep(0.05)
    job_pid = int(pid_file.read_text())
    os.kill(launched["pid"], signal.SIGKILL)

    agent = LocalAgent(home, facts)
    agent.adopt(23, launched["cpu_ids"], [])
    finished = wait_for(agent, 23)
    assert (finished.state, finished.reason) == (JobState.NODE_FAIL, "supervisor lost")
    give_up = time.monotonic() + 2
    while alive(job_pid) and time.monotonic() < give_up:
        time.sleep(0.05)
    assert not alive(job_pid), "the orphaned job was left running"
    agent.close()


def test_adopt_finds_a_supervisor_by_its_command_line(tmp_path, workdir, facts):
    """A crash between starting the supervisor and its state.json: found by command line."""
    home = tmp_path / "home"
    first = LocalAgent(home, facts, kill_wait=1)
    first.launch(24, make_spec(workdir, "sleep 1"))
    state = home / "jobs" / "24" / "state.json"
    give_up = time.monotonic() + 5
    while not state.exists() and time.monotonic() < give_up:
        time.sleep(0.02)
    state.unlink()
    second = LocalAgent(home, facts)
    assert second.adopt(24, [], []) is True
    assert wait_for(second, 24).state is JobState.COMPLETED
    first.poll()  # reaps its child
    first.close(), second.close()


def test_adopting_a_job_with_no_trace_reports_node_fail(tmp_path, facts):
    agent = LocalAgent(tmp_path / "home", facts)
    assert agent.adopt(25, [facts.cpus[0]], []) is False
    finished = wait_for(agent, 25)
    assert finished.state is JobState.NODE_FAIL
    agent.close()


#: A stand-in controller that launches one step, says what it got, then waits to be killed.
STEP_CONTROLLER = textwrap.dedent("""
    import dataclasses, json, sys, time
    from pathlib import Path
    from kairos.node.agent import LocalAgent, StepLaunch
    from kairos.node.facts import detect
    agent = LocalAgent(Path(sys.argv[1]), detect(), kill_wait=1)
    launched = agent.launch_step(StepLaunch(**json.loads(sys.argv[2])))
    print(json.dumps(dataclasses.asdict(launched)), flush=True)
    time.sleep(60)
""")


def launch_step_in_doomed_controller(home, spec) -> dict:
    proc = subprocess.Popen([sys.executable, "-c", STEP_CONTROLLER, str(home), json.dumps(vars(spec))],
                            stdout=subprocess.PIPE, text=True)
    launched = json.loads(proc.stdout.readline())
    proc.kill()
    proc.wait()
    return launched


def test_a_running_step_survives_its_agent_and_is_adopted(tmp_path, workdir, facts, srun):
    home = tmp_path / "home"
    body = 'echo ready; sleep 0.8; echo "after $SLURM_PROCID"'
    launched = launch_step_in_doomed_controller(home, make_step(workdir, ["sh", "-c", body], io=srun.io, cpu_ids=[facts.cpus[0]]))
    srun.wait(lambda frames: len([f for f in frames if f[0] == stepio.OUT]) >= 3)
    assert alive(launched["pid"]), "the step supervisor died with its agent"

    agent = LocalAgent(home, facts, kill_wait=1)
    assert agent.adopt_steps() == [(5, 0)]
    assert agent.running_steps() == [(5, 0)] and facts.cpus[0] not in agent.free_cpus()
    finished = wait_for_step(agent, 5, 0)
    assert (finished.state, finished.tasks) == (JobState.COMPLETED, {0: (0, 0), 1: (0, 0), 2: (0, 0)})
    assert output_of(srun.wait_exits(3)) == {t: f"ready\nafter {t}\n".encode() for t in range(3)}
    assert agent.free_cpus() == facts.cpus
    agent.close()

    again = LocalAgent(home, facts)
    assert again.adopt_steps() == []  # reported once: not again
    again.close()


def test_a_step_that_ended_while_no_agent_ran_is_reported_on_adoption(tmp_path, workdir, facts):
    home = tmp_path / "home"
    launch_step_in_doomed_controller(home, make_step(workdir, ["sh", "-c", "exit $SLURM_PROCID"], tasks=[0, 1]))
    status = home / "jobs" / "5" / "steps" / "0" / "status.json"
    give_up = time.monotonic() + 5
    while not status.exists() and time.monotonic() < give_up:
        time.sleep(0.05)
    agent = LocalAgent(home, facts)
    assert agent.adopt_steps(5) == [(5, 0)]
    finished = wait_for_step(agent, 5, 0)
    assert (finished.state, finished.exit_code, finished.tasks) == (JobState.FAILED, 1, {0: (0, 0), 1: (1, 0)})
    agent.close()


def test_step_supervisor_killed_outright_is_node_fail_and_its_tasks_are_killed(tmp_path, workdir, facts):
    home = tmp_path / "home"
    launched = launch_step_in_doomed_controller(
        home, make_step(workdir, ["sh", "-c", "echo $$ > pid-$SLURM_PROCID; exec sleep 30"], tasks=[0, 1]))
    pid_files = [workdir / f"pid-{t}" for t in (0, 1)]
    give_up = time.monotonic() + 5
    while not all(p.exists() and p.read_text().strip() for p in pid_files) and time.monotonic() < give_up:
        time.sleep(0.05)
    task_pids = [int(p.read_text()) for p in pid_files]
    os.kill(launched["pid"], signal.SIGKILL)
    give_up = time.monotonic() + 2
    while alive(launched["pid"]) and time.monotonic() < give_up:
        time.sleep(0.02)

    agent = LocalAgent(home, facts)
    assert agent.adopt_step(5, 0) is False
    finished = wait_for_step(agent, 5, 0)
    assert (finished.state, finished.reason) == (JobState.NODE_FAIL, "supervisor lost")
    give_up = time.monotonic() + 2
    while any(alive(pid) for pid in task_pids) and time.monotonic() < give_up:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in task_pids), "the orphaned tasks were left running"
    agent.close()
