"""Running a workload manager's user commands from tests and benchmarks.

Kairos and the Slurm peer are both driven only through the commands their users type
(``sbatch``, ``squeue``, ...), so that what is checked or timed is what users run.  This
module holds what both drivers share: one way to run a command with a time limit, a
failure that carries the command's output, the job id ``sbatch --parsable`` prints, and
an environment free of the caller's own Slurm or Kairos settings.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


class CommandFailed(RuntimeError):
    """A command exited non-zero; its output is kept for the message."""

    def __init__(self, command: str, proc: subprocess.CompletedProcess) -> None:
        super().__init__(f"{command} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        self.command = command
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def reason(self) -> str:
        """One line that says why: the command's error output, else its output."""
        text = (self.stderr or "").strip() or (self.stdout or "").strip()
        return f"{self.command} exited {self.returncode}: {text}"


def run_command(argv: Sequence[str], *, display: str, cwd: Path | None, env: Mapping[str, str],
                timeout: float, check: bool = True,
                input: str | None = None) -> subprocess.CompletedProcess:
    """Run ``argv`` to completion, output captured as text; :class:`CommandFailed`
    (named ``display``, e.g. ``kairos sbatch ...``) when ``check`` and it exits non-zero."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, input=input, cwd=cwd,
                          env=dict(env), timeout=timeout)
    if check and proc.returncode != 0:
        raise CommandFailed(display, proc)
    return proc


def parsable_job_id(stdout: str) -> int:
    """The job id ``sbatch --parsable`` printed (``123`` or ``123;cluster``)."""
    return int(stdout.strip().split(";")[0])


def clean_environment(*also_drop: str) -> dict[str, str]:
    """This process's environment without inherited Slurm or Kairos settings (a run
    inside a Slurm job must not leak its job's variables into the jobs it submits), nor
    variables starting with any of ``also_drop``."""
    prefixes = ("SLURM_", "SBATCH_", "KAIROS_", *also_drop)
    return {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}
