"""Slurm-compatible commands (``sbatch``, ``squeue``, ``scancel``, ...) for the live manager.

Each module has a ``main(argv) -> int`` that parses Slurm's option syntax with
``kairos.slurm`` and talks to the controller through ``kairos.cli.client``.  They import
only the standard library at start-up so that the commands answer fast.
"""
