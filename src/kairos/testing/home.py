"""A Kairos controller in a temporary home, driven the way its users drive it.

The live tests, the compatibility suite and the live benchmark each need a real
controller that shares nothing with the machine's own Kairos: its own ``KAIROS_HOME``
(config.toml, database, socket, job records) driven through the real ``kairos``
executable and the real Unix-socket API.  :class:`KairosHome` writes that home, runs
``kairos`` subcommands in it, submits with ``sbatch --parsable``, waits for jobs to end
through the API client, starts and stops the controller, and at the end kills whatever
jobs a stopped controller left running, so that no test leaks processes into the next.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from kairos.cli.client import Client
from kairos.core.jobs import JobState

from .commands import parsable_job_id, run_command
from .states import ENDED, has_ended

#: The ``kairos`` executable installed beside this Python.
KAIROS = str(Path(sys.executable).parent / "kairos")

#: ``[controller]`` settings for tests: a one-second grace before SIGKILL and frequent
#: scheduling passes, so that nothing waits on timers.
QUICK_SETTINGS: Mapping[str, float] = {"kill_wait": 1, "scheduler_interval": 0.2}


def write_config(home: Path, settings: Mapping[str, float] = QUICK_SETTINGS,
                 extra: str = "") -> Path:
    """Write ``home/config.toml``: ``settings`` in its ``[controller]`` table, then
    ``extra`` (more TOML) as given; the file's path."""
    home.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"{name} = {toml_value(value)}\n" for name, value in settings.items())
    path = home / "config.toml"
    path.write_text("[controller]\n" + lines + extra)
    return path


def toml_value(value) -> str:
    """``value`` as TOML: booleans in lower case, strings quoted, numbers as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, str) else repr(value)


class KairosHome:
    """A controller living in ``home``, commands run from ``workdir``.

    Nothing is started here: the first command that needs the controller starts it (as
    for a user), or :meth:`up` does.  ``env`` is the environment the commands run in
    (default: this process's), always with this ``KAIROS_HOME`` and no ``KAIROS_SOCKET``.
    """

    def __init__(self, home: Path, workdir: Path, *, env: Mapping[str, str] | None = None,
                 command_timeout: float = 60.0, executable: str = KAIROS) -> None:
        self.home = home
        self.workdir = workdir
        self.executable = executable
        self.command_timeout = command_timeout
        base = dict(os.environ if env is None else env)
        base.pop("KAIROS_SOCKET", None)
        self.env = {**base, "KAIROS_HOME": str(home)}
        self.socket = home / "kairos.sock"
        self._clients: list[Client] = []

    @classmethod
    def create(cls, home: Path, workdir: Path, *, settings: Mapping[str, float] = QUICK_SETTINGS,
               extra_config: str = "", **options) -> KairosHome:
        """Write the home's config.toml (see :func:`write_config`), make ``workdir``, and
        return the controller's driver (``options`` as for the constructor)."""
        write_config(home, settings, extra_config)
        workdir.mkdir(parents=True, exist_ok=True)
        return cls(home, workdir, **options)

    # -- commands -----------------------------------------------------------------------

    def run(self, *args: str, check: bool = True, input: str | None = None,
            cwd: Path | None = None, env: Mapping[str, str] | None = None,
            timeout: float | None = None) -> subprocess.CompletedProcess:
        """``kairos ARGS`` from ``cwd`` (default: the work directory), ``env`` added to
        the home's environment; :class:`~kairos.testing.commands.CommandFailed` when
        ``check`` and it exits non-zero."""
        return run_command([self.executable, *args], display="kairos " + " ".join(args),
                           cwd=cwd or self.workdir, env={**self.env, **(env or {})},
                           timeout=timeout or self.command_timeout, check=check, input=input)

    def submit(self, *args: str, cwd: Path | None = None,
               env: Mapping[str, str] | None = None) -> int:
        """``kairos sbatch --parsable ARGS``; the job id."""
        return parsable_job_id(self.run("sbatch", "--parsable", *args, cwd=cwd, env=env).stdout)

    def sbatch(self, script: str, *options: str, name: str = "job.sh") -> int:
        """Write ``script`` to ``name`` in the work directory and submit it with
        ``options``; the job id."""
        path = self.workdir / name
        path.write_text(script)
        return self.submit(*options, str(path))

    # -- the API ------------------------------------------------------------------------

    def client(self, timeout: float = 60.0) -> Client:
        """A new API client (its own keep-alive connection), closed by :meth:`down`."""
        client = Client(self.socket, timeout=timeout)
        self._clients.append(client)
        return client

    def wait(self, job_id: int | str, states: frozenset[JobState] = ENDED,
             timeout: float = 30.0) -> list[dict]:
        """Wait until every record of ``job_id`` (all tasks of an array) is in one of
        ``states``; the records.  TimeoutError after ``timeout`` seconds."""
        client = Client(self.socket)
        deadline = time.monotonic() + timeout
        try:
            while True:
                rows = client.accounting(ids=[str(job_id)])
                if rows and all(has_ended(row["state"], states) for row in rows):
                    return rows
                if time.monotonic() > deadline:
                    raise TimeoutError(f"job {job_id} still {[row['state'] for row in rows]} "
                                       f"after {timeout:g} s")
                time.sleep(0.05)
        finally:
            client.close()

    # -- the controller's life ----------------------------------------------------------

    def up(self) -> None:
        self.run("up")

    def down(self) -> None:
        """Close this driver's API clients and stop the controller (if one runs)."""
        for client in self._clients:
            client.close()
        self._clients.clear()
        # From the caller's directory: the work directory may be gone by now.
        run_command([self.executable, "down"], display="kairos down", cwd=None, env=self.env,
                    timeout=self.command_timeout, check=False)

    def restart(self) -> None:
        """A fresh controller process: nothing of earlier work left in its memory."""
        self.down()
        self.up()

    def kill_left_behind(self) -> int:
        """SIGKILL the supervisors and jobs a stopped controller left running; how many
        were signalled."""
        from kairos.node.agent import kill_left_behind  # the node agent: only when needed

        return kill_left_behind(self.home)

    def stop(self) -> None:
        """Stop the controller and kill any job it left behind (safe to call twice, and
        after the home was removed: nothing is made again then)."""
        if not self.home.exists():
            return
        self.down()
        self.kill_left_behind()
