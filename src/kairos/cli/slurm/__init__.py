"""Slurm-compatible commands (``sbatch``, ``srun``, ``squeue``, ...) for the live manager.

Each module has a ``main(argv) -> int`` that parses Slurm's option syntax with
``kairos.slurm`` and talks to the controller through ``kairos.cli.client``.  They import
only the standard library at start-up so that the commands answer fast.
"""

from kairos.slurm import COMMANDS as SLURM_COMMANDS

__all__ = ["SLURM_COMMANDS"]
