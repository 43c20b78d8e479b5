"""A real controller per test module: a daemon in a temporary ``KAIROS_HOME``, driven
through the real ``kairos`` executable and the real Unix-socket API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

KAIROS = str(Path(sys.executable).parent / "kairos")


class Cluster:
    """A running controller and helpers to talk to it the way users do."""

    def __init__(self, home: Path, workdir: Path) -> None:
        self.home = home
        self.workdir = workdir
        self.env = dict(os.environ, KAIROS_HOME=str(home))
        self.env.pop("KAIROS_SOCKET", None)

    def run(self, *args: str, check: bool = True, input: str | None = None,
            cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([KAIROS, *args], capture_output=True, text=True, input=input,
                              cwd=cwd or self.workdir, env={**self.env, **(env or {})},
                              timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"kairos {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def sbatch(self, script: str, *options: str, name: str = "job.sh") -> int:
        path = self.workdir / name
        path.write_text(script)
        out = self.run("sbatch", "--parsable", *options, str(path)).stdout.strip()
        return int(out.split(";")[0])

    def client(self):
        from kairos.cli.client import Client

        return Client(self.home / "kairos.sock")

    def wait(self, job_id: int | str, states=("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT",
                                           "OUT_OF_MEMORY", "NODE_FAIL"), timeout: float = 30):
        """Wait until every record of ``job_id`` (all tasks of an array) is in ``states``."""
        client = self.client()
        deadline = time.monotonic() + timeout
        while True:
            rows = client.accounting(ids=[str(job_id)])
            if rows and all(r["state"] in states for r in rows):
                return rows
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {[r['state'] for r in rows]}")
            time.sleep(0.05)

    def stop(self) -> None:
        subprocess.run([KAIROS, "down"], env=self.env, capture_output=True, timeout=60)


def write_config(home: Path, extra: str = "") -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        "[controller]\nkill_wait = 1\nscheduler_interval = 0.2\n" + extra)


@pytest.fixture
def make_live(tmp_path):
    """``make_live(config="", home=None)``: a controller home with ``config`` added to
    ``config.toml`` (started by the first command that needs it); all stopped at the
    end, with any job still running killed."""
    made: list[Cluster] = []

    def make(config: str = "", home: Path | None = None) -> Cluster:
        home = home or tmp_path / f"home{len(made)}"
        write_config(home, config)
        work = tmp_path / f"work{len(made)}"
        work.mkdir()
        cluster = Cluster(home, work)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.stop()
        _kill_leftover_jobs(cluster.home)


@pytest.fixture
def live(make_live):
    """A fresh controller with the test defaults (short kill wait, frequent passes)."""
    return make_live()


def _kill_leftover_jobs(home: Path) -> None:
    from kairos.node.agent import kill_left_behind

    kill_left_behind(home)
