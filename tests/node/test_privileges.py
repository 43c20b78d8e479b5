"""A job of another user, run by a root supervisor: it runs as that user, in that user's files."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from kairos.core.jobs import JobState

from kairos.node.agent import LaunchSpec
from tests.node.conftest import wait_for

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
