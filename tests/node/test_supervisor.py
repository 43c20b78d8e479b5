"""The supervisor on its own: standard library only, its failure record, how it finds a job's processes."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kairos.core.jobs import JobState

from kairos.node.agent import SUPERVISOR_PATH, supervisor_command
from kairos.node.supervisor.procs import job_processes, scan_proc, start_ticks
from tests.node.conftest import make_spec, me, wait_for

PACKAGE = "kairos.node.supervisor"
#: The one module outside the standard library and the package a supervisor may import:
#: the frames a step's supervisor sends to srun.
STEP_WIRE = "kairos.model.stepio"


def imported_names(source: Path) -> set[str]:
    """Every name a source file imports, in full (``from a import b`` is ``a.b``)."""
    tree = ast.parse(source.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{source.name}: relative import; use the full name"
            if node.module != "__future__":
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def outside_the_standard_library(names) -> set[str]:
    return {name for name in names
            if name.split(".")[0] not in sys.stdlib_module_names and name != PACKAGE and not name.startswith(PACKAGE + ".")}


def test_every_supervisor_module_imports_only_the_standard_library_its_package_and_the_step_wire():
    sources = sorted(SUPERVISOR_PATH.parent.glob("*.py"))
    assert len(sources) > 2
    step_wire_users = set()
    for source in sources:
        outside = outside_the_standard_library(imported_names(source))
        assert outside <= {STEP_WIRE}, source.name
        if outside:
            step_wire_users.add(source.name)
    assert step_wire_users == {"srunlink.py", "steploop.py"}


def test_supervisor_started_as_the_agent_starts_it_loads_only_the_standard_library(tmp_path):
    """Started the agent's way, a whole job through: nothing but the standard library, this
    package and its two parents, whose ``__init__`` must stay free of imports."""
    (tmp_path / "launch.json").write_text(json.dumps(dict(
        me(), job_id=1, script="#!/bin/sh\necho hi\n", work_dir=str(tmp_path), stdout=str(tmp_path / "out"), env={})))
    python, *rest = supervisor_command(sys.executable, tmp_path)
    done = subprocess.run([python, "-X", "importtime", *rest], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "status.json").read_text())["state"] == "COMPLETED"
    loaded = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
              if line.startswith("import time:") and "imported package" not in line}
    assert f"{PACKAGE}.loop" in loaded  # the package itself ran, not some other supervisor
    assert outside_the_standard_library(loaded) <= {"kairos", "kairos.node"}


def test_step_supervisor_started_as_the_agent_starts_it_loads_only_the_step_wire_besides(tmp_path):
    """A step's supervisor also loads the frames srun reads, and ``kairos.model``, whose
    ``__init__`` must stay free of imports as well."""
    (tmp_path / "launch.json").write_text(json.dumps(dict(
        me(), kind="step", job_id=1, step_id=0, argv=["true"], cwd=str(tmp_path), tasks=[0, 1],
        env={"PATH": os.environ["PATH"]})))
    python, *rest = supervisor_command(sys.executable, tmp_path)
    done = subprocess.run([python, "-X", "importtime", *rest], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["state"] == "COMPLETED" and [t["task"] for t in status["tasks"]] == [0, 1]
    loaded = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
              if line.startswith("import time:") and "imported package" not in line}
    assert f"{PACKAGE}.steploop" in loaded and STEP_WIRE in loaded
    assert outside_the_standard_library(loaded) <= {"kairos", "kairos.node", "kairos.model", STEP_WIRE}


@pytest.mark.parametrize("flags", [["-I", "-S"], ["-S"]], ids=["isolated", "script-dir-on-path"])
def test_unusable_launch_file_is_recorded_as_a_failed_launch(tmp_path, flags):
    (tmp_path / "launch.json").write_text(json.dumps({"job_id": 1}))
    done = subprocess.run([sys.executable, *flags, str(SUPERVISOR_PATH), str(tmp_path)], timeout=10)
    assert done.returncode == 1
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["state"] == "FAILED" and status["reason"].startswith("JobLaunchFailure: launch.json")


def test_processes_are_found_by_tree_walk_and_by_full_scan():
    child = subprocess.Popen(["sleep", "5"], start_new_session=True)
    try:
        walked = job_processes(os.getpid(), child.pid)
        scanned = scan_proc(os.getpid(), child.pid)
        assert child.pid in walked and child.pid in scanned
        assert isinstance(walked[child.pid], int) and isinstance(scanned[child.pid], int)  # resident KiB
        assert os.getpid() not in walked
        # By session alone: a process that is not our descendant is still found.
        assert child.pid in scan_proc(1, child.pid)
    finally:
        child.kill()
        child.wait()


def test_cpu_time_is_accounted(agent, workdir):
    burn = f"{sys.executable} -c \"import time; t = time.process_time()\nwhile time.process_time() - t < 0.3: pass\""
    agent.launch(1, make_spec(workdir, burn))
    finished = wait_for(agent, 1)
    assert finished.state is JobState.COMPLETED
    assert 0.25 <= finished.cpu_time < 5


def test_state_file_names_the_job_and_its_supervisor(agent, workdir):
    launched = agent.launch(1, make_spec(workdir, "sleep 0.3"))
    state_path = agent.jobdir(1) / "state.json"
    give_up = time.monotonic() + 5
    while not state_path.exists() and time.monotonic() < give_up:
        time.sleep(0.01)
    state = json.loads(state_path.read_text())
    assert state["supervisor_pid"] == launched.pid
    assert state["supervisor_start_ticks"] == start_ticks(launched.pid)
    assert os.getsid(state["job_pid"]) == os.getpgid(state["job_pid"]) == state["job_pid"]
    assert abs(state["start"] - launched.start) < 1
    assert wait_for(agent, 1).state is JobState.COMPLETED
