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

#: Slurm 22.05's other user commands, which Kairos does not provide: each is a shim too,
#: which says so and why, rather than let the call reach another scheduler installed on
#: the machine.
DECLINED = {
    "sacctmgr": "accounts, users and QOS are declared in the controller's config.toml "
                "([qos.NAME], admins); `kairos sshare` shows the shares",
    "sbcast": "files are not broadcast to the nodes: give the job a directory that every "
              "node shares, or copy the file with `srun --ntasks-per-node=1 cp SRC DEST`",
    "sdiag": "the controller's statistics are `kairos status` and its Prometheus metrics "
             "(GET /metrics on the controller's socket)",
    "sreport": "reports are not provided; `sacct` lists jobs and steps with their usage "
               "(-S/-E for a period, -u for users, -o for fields)",
    "strigger": "event triggers are not supported",
}
