"""Slurm's vocabulary as pure functions: time formats, hostlists, ``--array``,
``--dependency`` and ``--gres`` specs, output file patterns and ``#SBATCH`` parsing.

Kairos speaks Slurm's language so that existing job scripts and habits keep working.
These modules use the standard library only and import nothing heavy, because the
Slurm-compatible commands (``sbatch``, ``squeue``, ...) import them and must start fast.
"""
