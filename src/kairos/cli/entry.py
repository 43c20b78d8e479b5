"""The ``kairos`` executable: Slurm-compatible commands first, everything else by Typer.

``kairos sbatch|squeue|scancel|scontrol|sinfo|sacct|sprio|sshare ...`` go straight to
their argparse implementations in ``kairos.cli.slurm`` without importing Typer, Rich or
the server, so they start about as fast as Python does.  The same functions back the
optional shims (``kairos shims DIR`` writes ``DIR/sbatch`` and friends).
"""

from __future__ import annotations

import importlib
import sys

from kairos.cli.slurm import SLURM_COMMANDS
from kairos.slurm import DECLINED


def run_slurm_command(name: str, argv: list[str]) -> int:
    if name in DECLINED:
        print(f"{name}: error: Kairos does not provide {name}: {DECLINED[name]}",
              file=sys.stderr)
        return 1
    module = importlib.import_module(f"kairos.cli.slurm.{name}")
    try:
        return module.main(argv)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def main() -> None:
    if len(sys.argv) > 1 and (sys.argv[1] in SLURM_COMMANDS or sys.argv[1] in DECLINED):
        from kairos.cli import fastpath

        code = fastpath.run(sys.argv[1], sys.argv[2:])
        sys.exit(run_slurm_command(sys.argv[1], sys.argv[2:]) if code is None else code)
    from kairos.cli.main import app

    app()


def shim() -> None:
    """Entry point of a shim: the command is the program's own name."""
    import os

    name = os.path.basename(sys.argv[0])
    if name not in SLURM_COMMANDS and name not in DECLINED:
        sys.exit(f"kairos: {name} is not a Slurm command Kairos provides")
    from kairos.cli import fastpath

    code = fastpath.run(name, sys.argv[1:])
    sys.exit(run_slurm_command(name, sys.argv[1:]) if code is None else code)
