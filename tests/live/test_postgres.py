"""The controller on PostgreSQL instead of the embedded SQLite: configured by one line of
``config.toml``, same behaviour, and the accounting survives a ``kill -9``."""

from __future__ import annotations

import os
import signal

import pytest

from tests.server.conftest import postgres_schema_url  # noqa: F401 - a fixture


@pytest.fixture
def pg_live(make_live, postgres_schema_url):  # noqa: F811
    return make_live(f'[database]\nurl = "{postgres_schema_url}"\n')


def test_jobs_and_accounting_on_postgresql(pg_live):
    live = pg_live
    first = live.sbatch("#!/bin/sh\n#SBATCH -a 0-2\necho $SLURM_ARRAY_TASK_ID\n")
    rows = live.wait(first)
    assert [r["state"] for r in rows] == ["COMPLETED"] * 3
    assert "postgresql" in live.run("status").stdout
    assert not (live.home / "kairos.db").exists()

    os.kill(int((live.home / "kairos.pid").read_text()), signal.SIGKILL)
    second = live.sbatch("#!/bin/sh\nexit 2\n")  # starts a new controller on the same database
    assert second == first + 3  # ids continue after the array's tasks
    assert live.wait(second)[0]["state"] == "FAILED"
    out = live.run("sacct", "-X", "-P", "-n", "-o", "JobID,State,ExitCode", "-S", "now-1hour").stdout
    assert out.split() == [f"{first}_0|COMPLETED|0:0", f"{first}_1|COMPLETED|0:0",
                           f"{first}_2|COMPLETED|0:0", f"{second}|FAILED|2:0"]
