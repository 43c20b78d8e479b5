"""Several Unix users on one controller (run by root): everyone sees every job, only
owners and admins change them, and jobs run as their owner, never as root.

The caller is identified by the kernel (peer credentials on the Unix socket), so the
test forks a child that becomes ``nobody`` and talks to the same socket.
"""

from __future__ import annotations

import json
import os
import pwd
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")


def as_user(user: str, action) -> dict:
    """Run ``action()`` in a child process that has become ``user``; its result or error."""
    pw = pwd.getpwnam(user)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to the user, call, report, exit
        try:
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            try:
                out = {"ok": action()}
            except Exception as e:  # noqa: BLE001 - reported to the parent
                out = {"error": getattr(e, "message", str(e)), "status": getattr(e, "status", 0)}
            os.write(write, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 65536):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    return json.loads(data)


@pytest.fixture
def shared_live(make_live):
    """A controller whose home other users can reach (pytest's tmp_path is root-only)."""
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="kairos-users-"))
    base.chmod(0o755)
    cluster = make_live(home=base / "home")
    yield cluster
    cluster.stop()
    shutil.rmtree(base, ignore_errors=True)


def test_users_change_only_their_own_jobs_and_jobs_run_as_their_owner(shared_live, tmp_path):
    live = shared_live
    root_job = live.sbatch("#!/bin/sh\nsleep 30\n", "--hold")
    shared = live.home.parent / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    client = live.client()  # connect before forking: the socket exists

    def submit_as_nobody():
        from kairos.cli.client import Client
        from kairos.slurm.sbatch import parse_submission

        spec = parse_submission(["--wrap", "id -un; id -u"], cwd=str(shared), env={},
                                now=time.time(), submit_host="test")
        return Client(live.home / "kairos.sock").submit(spec.to_json())

    def cancel_root_job_as_nobody():
        from kairos.cli.client import Client

        return Client(live.home / "kairos.sock").cancel(ids=[str(root_job)])

    def list_as_nobody():
        from kairos.cli.client import Client

        return [j["job_id"] for j in Client(live.home / "kairos.sock").jobs()]

    denied = as_user("nobody", cancel_root_job_as_nobody)
    assert denied["status"] == 403 and "belongs to root" in denied["error"]
    assert client.job(str(root_job))["state"] == "PENDING"

    submitted = as_user("nobody", submit_as_nobody)["ok"]
    job_id = submitted["job_id"]
    assert root_job in as_user("nobody", list_as_nobody)["ok"]  # everyone sees every job
    [row] = live.wait(job_id)
    assert (row["user"], row["state"]) == ("nobody", "COMPLETED")
    out = shared / f"slurm-{job_id}.out"
    uid = pwd.getpwnam("nobody").pw_uid
    assert out.read_text().split() == ["nobody", str(uid)]
    assert out.stat().st_uid == uid
    # root (an admin) may cancel anybody's job
    client.cancel(ids=[str(root_job)])
    assert live.wait(root_job)[0]["state"] == "CANCELLED"
