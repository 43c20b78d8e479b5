"""Fixtures for the commands that run steps: a stand-in controller that launches steps
with a real node agent, and a way to run ``kairos srun``/``salloc`` as users do (a
process of their own, Kairos's srun first on PATH)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

import pytest

from tests.cli.slurm.fake_controller import FakeController

KAIROS = str(Path(sys.executable).with_name("kairos"))


@pytest.fixture
def controller(tmp_path):
    fake = FakeController(tmp_path)
    fake.add_job(12, ntasks=2)
    yield fake
    fake.close()


@pytest.fixture
def shims(tmp_path) -> Path:
    """A directory where srun, salloc and sstat are Kairos's (as ``kairos shims`` makes)."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for name in ("srun", "salloc", "sstat", "sattach"):
        shim = directory / name
        shim.write_text(f'#!/bin/sh\nexec "{KAIROS}" {name} "$@"\n')
        shim.chmod(0o755)
    return directory


class Commands:
    """Runs the commands against the stand-in controller, inside job 12 by default."""

    def __init__(self, controller: FakeController, shims: Path, workdir: Path) -> None:
        self.controller = controller
        self.workdir = workdir
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("SLURM_", "SRUN_", "SALLOC_"))}
        base.update(KAIROS_SOCKET=controller.socket_path,
                    PATH=f"{shims}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}")
        self.outside = base
        self.inside = dict(base, SLURM_JOB_ID="12", SLURM_JOB_NODELIST=controller.node)

    def run(self, *argv: str, stdin: bytes | BinaryIO | None = None, inside: bool = True,
            timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
        """Run a command to its end; ``stdin``: bytes to pipe to it, or a file to give it
        (default: /dev/null)."""
        piped = isinstance(stdin, bytes)
        return subprocess.run([KAIROS, *argv], env=self._env(inside, env), cwd=self.workdir,
                              input=stdin if piped else None,
                              stdin=None if piped else (stdin or subprocess.DEVNULL),
                              capture_output=True, timeout=timeout)

    def start(self, *argv: str, inside: bool = True) -> subprocess.Popen:
        return subprocess.Popen([KAIROS, *argv], env=self._env(inside, None), cwd=self.workdir,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    def _env(self, inside: bool, extra: dict | None) -> dict:
        env = dict(self.inside if inside else self.outside)
        env.update(extra or {})
        return env


@pytest.fixture
def commands(controller, shims, tmp_path) -> Commands:
    workdir = tmp_path / "work"
    workdir.mkdir()
    return Commands(controller, shims, workdir)


def wait_for_output(process: subprocess.Popen, marker: bytes, timeout: float = 10) -> bytes:
    """Read the process's stdout until ``marker`` has come (it is line-buffered by srun)."""
    seen = b""
    deadline = time.monotonic() + timeout
    os.set_blocking(process.stdout.fileno(), False)
    while marker not in seen:
        if time.monotonic() > deadline:
            process.send_signal(signal.SIGKILL)
            raise AssertionError(f"no {marker!r} in {seen!r}")
        chunk = process.stdout.read()
        if chunk:
            seen += chunk
        else:
            time.sleep(0.02)
    os.set_blocking(process.stdout.fileno(), True)
    return seen
