"""The supervisor on its own: standard library only, its failure record, how it finds a job's processes."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time

from kairos.node import supervisor
from kairos.node.agent import SUPERVISOR_PATH
from tests.node.conftest import make_spec, wait_for


def test_supervisor_imports_only_the_standard_library():
    tree = ast.parse(SUPERVISOR_PATH.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported.discard("__future__")
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)


def test_unusable_launch_file_is_recorded_as_a_failed_launch(tmp_path):
    (tmp_path / "launch.json").write_text(json.dumps({"job_id": 1}))
    done = subprocess.run([sys.executable, "-I", "-S", str(SUPERVISOR_PATH), str(tmp_path)], timeout=10)
    assert done.returncode == 1
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["state"] == "FAILED" and status["reason"].startswith("JobLaunchFailure: launch.json")


def test_processes_are_found_by_tree_walk_and_by_full_scan():
    child = subprocess.Popen(["sleep", "5"], start_new_session=True)
    try:
        walked = supervisor.job_processes(os.getpid(), child.pid)
        scanned = supervisor._scan_proc(os.getpid(), child.pid)
        assert child.pid in walked and child.pid in scanned
        assert isinstance(walked[child.pid], int) and isinstance(scanned[child.pid], int)  # resident KiB
        assert os.getpid() not in walked
        # By session alone: a process that is not our descendant is still found.
        assert child.pid in supervisor._scan_proc(1, child.pid)
    finally:
        child.kill()
        child.wait()


def test_cpu_time_is_accounted(agent, workdir):
    burn = f"{sys.executable} -c \"import time; t = time.process_time()\nwhile time.process_time() - t < 0.3: pass\""
    agent.launch(1, make_spec(workdir, burn))
    finished = wait_for(agent, 1)
    assert finished.state == "COMPLETED"
    assert 0.25 <= finished.cpu_time < 5


def test_state_file_names_the_job_and_its_supervisor(agent, workdir):
    launched = agent.launch(1, make_spec(workdir, "sleep 0.3"))
    state_path = agent.jobdir(1) / "state.json"
    give_up = time.monotonic() + 5
    while not state_path.exists() and time.monotonic() < give_up:
        time.sleep(0.01)
    state = json.loads(state_path.read_text())
    assert state["supervisor_pid"] == launched.pid
    assert state["supervisor_start_ticks"] == supervisor.start_ticks(launched.pid)
    assert os.getsid(state["job_pid"]) == os.getpgid(state["job_pid"]) == state["job_pid"]
    assert abs(state["start"] - launched.start) < 1
    assert wait_for(agent, 1).state == "COMPLETED"
