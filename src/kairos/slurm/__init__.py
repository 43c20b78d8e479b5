"""Slurm's vocabulary as pure functions: time formats, hostlists, ``--array``,
``--dependency`` and ``--gres`` specs, output file patterns, ``#SBATCH`` parsing, the
command lines of sbatch, srun and salloc (one option engine, ``option_engine``), and
how srun writes its tasks' output and reports their ends.

Kairos speaks Slurm's language so that existing job scripts and habits keep working.
These modules use the standard library only and import nothing heavy, because the
Slurm-compatible commands (``sbatch``, ``squeue``, ...) import them and must start fast.
"""

#: Slurm's user commands, each provided by ``kairos.cli.slurm.<name>`` (and written as a
#: shim on jobs' PATH, so scripts that call them bare reach Kairos, never another
#: scheduler installed on the machine).
COMMANDS = ("sbatch", "srun", "salloc", "sattach", "squeue", "scancel", "scontrol",
            "sinfo", "sacct", "sstat", "sprio", "sshare")
