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

from kairos.slurm import COMMANDS, DECLINED


#: Where the ``kairos`` package lies (a source tree or site-packages).
_PACKAGES = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: A shim starts Python without ``site`` (a quarter of a bare start) to hand the command
#: to the user's command server (``kairos.cli.fastpath``); only when it must run the
#: command itself does it load ``site``, for the packages the command may need.
_SHIM = """#!{python} -S
import sys
sys.path.append({packages!r})
from kairos.cli.fastpath import run
code = run({name!r}, sys.argv[1:])
if code is None:
    import site
    site.main()
    from kairos.cli.entry import run_slurm_command
    code = run_slurm_command({name!r}, sys.argv[1:])
sys.exit(code)
"""


def write_shims(directory: Path, python: str = sys.executable) -> Path:
    """Write one script per Slurm command into ``directory`` (created, readable by every
    user: jobs run as their owners); the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o755)
    for name in (*COMMANDS, *DECLINED):
        path = directory / name
        text = _SHIM.format(python=python, packages=_PACKAGES, name=name)
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
