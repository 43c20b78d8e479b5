"""Real jobs through the agent and its supervisors: output, exit codes, signals, limits."""

from __future__ import annotations

import os
import signal
import sys
import time

import psutil
import pytest

from kairos.core.jobs import JobState
from kairos.model import LiveJob

from kairos.node.agent import AgentError, LocalAgent, NodeBusyError
from kairos.node.environment import job_environment
from kairos.node.facts import NodeFacts
from tests.node.conftest import fake_gpu_facts, make_spec, me, wait_for


def output(workdir, name="out.txt") -> str:
    return (workdir / name).read_text()


def wait_for_text(path, text: str, timeout: float = 5.0) -> None:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} did not appear in {path} within {timeout} s")


def test_job_sees_its_environment_output_file_and_work_dir(agent, workdir, facts):
    job = LiveJob(**me(), job_id=12, name="envjob", partition="debug", nodes=1, ntasks=1,
                  cpus_per_task=1, cpus=1, work_dir=str(workdir), restarts=0)
    env = job_environment(job, base_env={"PATH": os.environ["PATH"], "FROM_SUBMITTER": "yes"},
                          node_name=facts.name, cluster_name="lab", submit_host=facts.name)
    launched = agent.launch(12, make_spec(workdir, 'env | sort; echo "cwd=$(pwd)"; echo "args=$*"',
                                          env=env, argv=["a b", "c"], out="slurm-%j.out".replace("%j", "12")))
    assert agent.running() == [12]
    finished = wait_for(agent, 12)
    assert (finished.state, finished.exit_code, finished.signal, finished.reason) == (JobState.COMPLETED, 0, 0, "")
    text = output(workdir, "slurm-12.out")
    assert "SLURM_JOB_ID=12\n" in text and "SLURM_JOB_NAME=envjob\n" in text
    assert "FROM_SUBMITTER=yes\n" in text
    assert f"KAIROS_CPU_IDS={launched.cpu_ids[0]}\n" in text
    assert f"cwd={workdir}\n" in text and "args=a b c\n" in text
    assert finished.start <= finished.end and finished.end - finished.start < 5
    assert finished.cpu_time is not None and finished.max_rss_kib > 0
    assert agent.running() == [] and len(agent.free_cpus()) == len(facts.cpus)


def test_stdout_and_stderr_apart_or_together(agent, workdir):
    agent.launch(1, make_spec(workdir, "echo to-out; echo to-err >&2", out="o.txt", stderr=str(workdir / "e.txt")))
    agent.launch(2, make_spec(workdir, "echo one; echo two >&2; echo three", out="both.txt"))
    assert wait_for(agent, 1).state == wait_for(agent, 2).state is JobState.COMPLETED
    assert output(workdir, "o.txt") == "to-out\n" and output(workdir, "e.txt") == "to-err\n"
    assert output(workdir, "both.txt") == "one\ntwo\nthree\n"


def test_open_mode_truncate_or_append(agent, workdir):
    (workdir / "t.txt").write_text("old\n")
    (workdir / "a.txt").write_text("old\n")
    agent.launch(1, make_spec(workdir, "echo new", out="t.txt"))
    agent.launch(2, make_spec(workdir, "echo new", out="a.txt", open_mode="append"))
    wait_for(agent, 1), wait_for(agent, 2)
    assert output(workdir, "t.txt") == "new\n" and output(workdir, "a.txt") == "old\nnew\n"


def test_nonzero_exit_fails_with_that_code(agent, workdir):
    agent.launch(3, make_spec(workdir, "exit 3"))
    finished = wait_for(agent, 3)
    assert (finished.state, finished.exit_code, finished.signal, finished.reason) == (JobState.FAILED, 3, 0, "NonZeroExitCode")


def test_death_by_signal_fails_with_that_signal(agent, workdir):
    agent.launch(4, make_spec(workdir, "ulimit -c 0; kill -SEGV $$"))
    finished = wait_for(agent, 4)
    assert (finished.state, finished.exit_code, finished.signal) == (JobState.FAILED, 0, 11)
    assert finished.reason == "RaisedSignal:11"


def test_time_limit_sends_term_then_kill(agent, workdir):
    spec = make_spec(workdir, "trap 'echo got TERM' TERM; while :; do sleep 0.1; done", time_limit=1, kill_wait=1)
    began = time.monotonic()
    agent.launch(5, spec)
    finished = wait_for(agent, 5)
    assert finished.state is JobState.TIMEOUT and finished.signal == signal.SIGKILL
    assert 1.9 < time.monotonic() - began < 3.5
    text = output(workdir)
    assert "got TERM" in text and "CANCELLED AT" in text and "DUE TO TIME LIMIT" in text


def test_cancel(agent, workdir):
    agent.launch(6, make_spec(workdir, "echo started; sleep 30"))
    time.sleep(0.3)
    assert agent.cancel(6)
    finished = wait_for(agent, 6, timeout=3)
    assert finished.state is JobState.CANCELLED and finished.signal == signal.SIGTERM
    assert finished.end - finished.start < 2
    assert "started" in output(workdir) and "CANCELLED AT" in output(workdir)


def test_memory_limit_kills_a_job_over_it(agent, workdir):
    grab = f"{sys.executable} -c \"import time; x = b'x' * (300 << 20); time.sleep(10)\""
    agent.launch(7, make_spec(workdir, grab, mem_limit_mib=100))
    finished = wait_for(agent, 7)
    assert finished.state is JobState.OUT_OF_MEMORY and finished.reason == "OutOfMemory"
    assert finished.max_rss_kib >= 80 * 1024  # the polled sum, or the cgroup peak (at most the limit)
    assert finished.end - finished.start < 5


def test_job_under_its_memory_limit_completes(agent, workdir):
    agent.launch(8, make_spec(workdir, f"{sys.executable} -c \"x = b'x' * (20 << 20)\"", mem_limit_mib=200))
    assert wait_for(agent, 8).state is JobState.COMPLETED


def test_jobs_are_pinned_to_their_own_cores(agent, workdir, facts):
    if len(facts.cpus) < 2:
        pytest.skip("needs two usable CPUs")
    body = "grep Cpus_allowed_list /proc/self/status; sleep 0.5"
    first = agent.launch(1, make_spec(workdir, body, out="1.txt"))
    second = agent.launch(2, make_spec(workdir, body, out="2.txt"))
    assert first.cpu_ids != second.cpu_ids and len(first.cpu_ids) == len(second.cpu_ids) == 1
    wait_for(agent, 1), wait_for(agent, 2)
    assert output(workdir, "1.txt").split() == ["Cpus_allowed_list:", str(first.cpu_ids[0])]
    assert output(workdir, "2.txt").split() == ["Cpus_allowed_list:", str(second.cpu_ids[0])]


def test_launch_refuses_what_the_node_cannot_give(agent, workdir, facts):
    with pytest.raises(NodeBusyError, match="CPUs asked"):
        agent.launch(1, make_spec(workdir, "true", ncpus=len(facts.cpus) + 1))
    agent.launch(2, make_spec(workdir, "sleep 5"))
    with pytest.raises(AgentError, match="already running"):
        agent.launch(2, make_spec(workdir, "true"))
    with pytest.raises(NodeBusyError, match="GPUs"):
        agent.launch(3, make_spec(workdir, "true", gpus=[(None, 1)]))
    assert agent.running() == [2]


def test_gpus_are_picked_by_type_and_shown_to_the_job(tmp_path, workdir, facts):
    agent = LocalAgent(tmp_path / "home", fake_gpu_facts(facts), kill_wait=1)
    h100 = agent.launch(1, make_spec(workdir, "echo $CUDA_VISIBLE_DEVICES $SLURM_JOB_GPUS $CUDA_DEVICE_ORDER", out="h.txt",
                                     gpus=[("H100", 1)]))
    cpu_only = agent.launch(2, make_spec(workdir, 'echo "[$CUDA_VISIBLE_DEVICES]"', out="c.txt"))
    assert h100.gpu_ids == [2] and cpu_only.gpu_ids == []
    wait_for(agent, 1), wait_for(agent, 2)
    assert output(workdir, "h.txt") == "2 2 PCI_BUS_ID\n"
    assert output(workdir, "c.txt") == "[]\n"
    agent.close()


def test_gpu_allocation_is_pure_bookkeeping(tmp_path, facts):
    agent = LocalAgent(tmp_path / "home", fake_gpu_facts(facts))
    assert agent.pick_gpus([("a100", 2)]) == [0, 1]
    assert agent.pick_gpus([(None, 1), ("h100", 1)]) == [0, 2]  # typed first, so None does not take the H100
    assert agent.adopt(9, [], [0, 2]) is False  # nothing of job 9 exists: its ids are taken all the same
    assert agent.free_gpus() == [1]
    with pytest.raises(NodeBusyError, match="'h100' GPUs asked, 0 free"):
        agent.pick_gpus([("h100", 1)])
    with pytest.raises(NodeBusyError, match="'v100' GPUs asked"):
        agent.pick_gpus([("v100", 1)])
    agent.close()


def test_cpus_are_contiguous_when_they_can_be(tmp_path):
    facts = NodeFacts("n", list(range(8)), 1000)
    agent = LocalAgent(tmp_path / "home", facts)
    agent.adopt(1, [0, 1, 4], [])
    assert agent.pick_cpus(2) == [2, 3]
    assert agent.pick_cpus(3) == [5, 6, 7]
    assert agent.pick_cpus(4) == [2, 3, 5, 6]  # no run of 4 is free: the lowest free ids
    agent.close()


def test_signal_reaches_the_job(agent, workdir):
    agent.launch(1, make_spec(workdir, "trap 'echo got USR1; exit 0' USR1; echo ready; while :; do sleep 0.05; done"))
    wait_for_text(workdir / "out.txt", "ready")
    assert agent.signal(1, signal.SIGUSR1)
    finished = wait_for(agent, 1)
    assert finished.state is JobState.COMPLETED and "got USR1" in output(workdir)
    with pytest.raises(AgentError, match="not running"):
        agent.signal(1, signal.SIGUSR1)


def test_set_time_limit_on_a_running_job(agent, workdir):
    agent.launch(1, make_spec(workdir, "sleep 1.5", out="longer.txt", time_limit=1))
    agent.launch(2, make_spec(workdir, "sleep 30", out="shorter.txt"))
    time.sleep(0.3)
    assert agent.set_time_limit(1, 30)
    assert agent.set_time_limit(2, 0.5)
    assert wait_for(agent, 2, timeout=4).state is JobState.TIMEOUT
    assert wait_for(agent, 1, timeout=4).state is JobState.COMPLETED


def test_leftover_processes_are_killed_when_the_script_ends(agent, workdir):
    body = (f"sleep 30 & echo $! >> pids\n"
            f"{sys.executable} -c \"import os, time; os.setsid(); print(os.getpid(), flush=True); time.sleep(30)\" >> pids &\n"
            "while [ $(wc -l < pids) -lt 2 ]; do sleep 0.05; done")
    agent.launch(1, make_spec(workdir, body))
    assert wait_for(agent, 1).state is JobState.COMPLETED
    pids = [int(p) for p in (workdir / "pids").read_text().split()]
    assert len(pids) == 2
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_unenterable_work_dir_runs_in_tmp_as_slurm_does(agent, tmp_path, workdir):
    spec = make_spec(workdir, "pwd")
    spec.work_dir = str(tmp_path / "missing")
    agent.launch(1, spec)
    assert wait_for(agent, 1).state is JobState.COMPLETED
    text = output(workdir)
    assert "couldn't chdir to" in text and "going to /tmp instead" in text and text.endswith("/tmp\n")


def test_unopenable_output_file_fails_the_launch(agent, tmp_path, workdir):
    agent.launch(1, make_spec(workdir, "echo hi", stdout=str(tmp_path / "missing" / "out.txt")))
    finished = wait_for(agent, 1)
    assert (finished.state, finished.exit_code) == (JobState.FAILED, 1)
    assert finished.reason.startswith("JobLaunchFailure: cannot open output file")


def test_script_that_cannot_be_executed_fails_the_launch(agent, workdir):
    spec = make_spec(workdir, "")
    spec.script = "echo no interpreter line\n"
    agent.launch(1, spec)
    finished = wait_for(agent, 1)
    assert (finished.state, finished.exit_code) == (JobState.FAILED, 1)
    assert finished.reason.startswith("JobLaunchFailure: cannot execute the batch script")
    assert "cannot execute the batch script" in output(workdir)


def test_cleanup_removes_the_job_directory_only_when_done(agent, workdir):
    agent.launch(1, make_spec(workdir, "sleep 0.2"))
    with pytest.raises(AgentError, match="still running"):
        agent.cleanup(1)
    wait_for(agent, 1)
    assert agent.jobdir(1).is_dir()
    agent.cleanup(1)
    assert not agent.jobdir(1).exists()
