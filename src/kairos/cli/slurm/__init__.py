"""Slurm-compatible commands (``sbatch``, ``srun``, ``squeue``, ...) for the live manager.

Each module has a ``main(argv) -> int`` that parses Slurm's option syntax with
``kairos.slurm`` and talks to the controller through ``kairos.cli.client``.  They import
only the standard library at start-up so that the commands answer fast.
"""

#: The commands, by the name Slurm gives them; each is the module ``kairos.cli.slurm.<name>``.
SLURM_COMMANDS = ("sbatch", "srun", "salloc", "sattach", "squeue", "scancel", "scontrol",
                  "sinfo", "sacct", "sstat", "sprio", "sshare")
