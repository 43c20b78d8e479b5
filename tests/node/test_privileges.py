"""A job or step of another user, run by a root supervisor: it runs as that user, in that user's files."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from kairos.core.jobs import JobState

from kairos.node.agent import LaunchSpec
from tests.node.conftest import make_step, output_of, wait_for, wait_for_step

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="only root can run jobs as another user")


@pytest.fixture
def shared_dir():
    """A directory the unprivileged user can write to (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="kairos-node-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_job_runs_as_nobody(agent, shared_dir):
    nobody = pwd.getpwnam("nobody")
    spec = LaunchSpec(user="nobody", uid=nobody.pw_uid, gid=nobody.pw_gid,
                      script="#!/bin/sh\nid -u; id -g; id -G; pwd; touch mine\n",
                      work_dir=str(shared_dir), stdout=str(shared_dir / "out.txt"),
                      env={"PATH": "/usr/bin:/bin"})
    agent.launch(1, spec)
    finished = wait_for(agent, 1)
    assert finished.state is JobState.COMPLETED, finished.reason
    uid, gid, groups, cwd = (shared_dir / "out.txt").read_text().splitlines()
    assert (int(uid), int(gid), cwd) == (nobody.pw_uid, nobody.pw_gid, str(shared_dir))
    assert "0" not in groups.split(), "root's supplementary groups leaked into the job"
    assert (shared_dir / "out.txt").stat().st_uid == nobody.pw_uid
    assert (shared_dir / "mine").stat().st_uid == nobody.pw_uid
    assert (agent.jobdir(1) / "script").stat().st_uid == nobody.pw_uid


def nobodys_step(work_dir: Path, argv: list[str], **overrides):
    nobody = pwd.getpwnam("nobody")
    return make_step(work_dir, argv, user="nobody", uid=nobody.pw_uid, gid=nobody.pw_gid, **overrides)


def test_step_runs_as_nobody(agent, shared_dir, srun):
    nobody = pwd.getpwnam("nobody")
    body = 'id -u; id -g; id -G; pwd; touch "mine-$SLURM_PROCID"; echo "err $SLURM_PROCID" >&2'
    agent.launch_step(nobodys_step(shared_dir, ["sh", "-c", body], tasks=[0, 1], io=srun.io, stderr="err-%t.txt"))
    finished = wait_for_step(agent, 5, 0)
    assert finished.state is JobState.COMPLETED, finished.reason
    out = output_of(srun.wait_exits(2))
    for task in (0, 1):
        uid, gid, groups, cwd = out[task].decode().splitlines()
        assert (int(uid), int(gid), cwd) == (nobody.pw_uid, nobody.pw_gid, str(shared_dir))
        assert "0" not in groups.split(), "root's supplementary groups leaked into the step"
        assert (shared_dir / f"mine-{task}").stat().st_uid == nobody.pw_uid
        assert (shared_dir / f"err-{task}.txt").stat().st_uid == nobody.pw_uid  # created as the user
        assert (shared_dir / f"err-{task}.txt").read_text() == f"err {task}\n"


def test_a_steps_files_are_opened_with_the_users_rights_not_roots(agent, tmp_path, shared_dir):
    """tmp_path is root's alone: root could create the file there, nobody cannot."""
    agent.launch_step(nobodys_step(shared_dir, ["true"], tasks=[0], stdout=str(tmp_path / "out-%t.txt")))
    finished = wait_for_step(agent, 5, 0)
    assert finished.state is JobState.FAILED
    assert finished.reason == f"JobLaunchFailure: cannot open output file {tmp_path}/out-0.txt: Permission denied"
    assert not (tmp_path / "out-0.txt").exists()
