"""Slurm's command names on a job's PATH, running Kairos's commands.

A batch script calls ``srun``, ``scontrol show hostnames`` or ``squeue`` bare.  On a
Slurm cluster those are installed system-wide; a Kairos job gets a directory of small
scripts, one per Slurm command, first on its PATH, so the script reaches Kairos (through
``KAIROS_SOCKET``: the controller, or on a cluster its node's daemon) even on a machine
where another Slurm's commands are installed too.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from kairos.slurm import COMMANDS


def write_shims(directory: Path, python: str = sys.executable) -> Path:
    """Write one script per Slurm command into ``directory`` (created, readable by every
    user: jobs run as their owners); the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o755)
    for name in COMMANDS:
        path = directory / name
        text = (f"#!{python}\n"
                "import sys\n"
                "from kairos.cli.entry import run_slurm_command\n"
                f"sys.exit(run_slurm_command({name!r}, sys.argv[1:]))\n")
        if not path.exists() or path.read_text() != text:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
            tmp.replace(path)
    return directory


def on_path(env: dict[str, str], directory: Path) -> None:
    """Put ``directory`` first on ``env``'s PATH (once)."""
    parts = [p for p in env.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(":")
             if p and p != str(directory)]
    env["PATH"] = ":".join([str(directory), *parts])
