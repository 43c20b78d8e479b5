"""The options sbatch, srun and salloc share, defined once: a job's shape, its time,
where it runs, how it is charged, and the options Slurm users pass for habit.

Each command's table (``kairos.slurm.sbatch_options``, ``srun_options``,
``salloc_options``) lists the options it takes in its own order (getopt's order, which
decides how an ambiguous prefix is reported) and takes their spellings from here; only
the variable that may set one (``SBATCH_TIMELIMIT``, ``SLURM_TIMELIMIT``,
``SALLOC_TIMELIMIT``) and what Kairos does with it may differ per command.  The values
of the honoured ones are read by ``kairos.slurm.sbatch_submission``, the same for all.
The three commands say what they do with each shared option Kairos does not honour
(``UNHONOURED``): a warning that it changes nothing here, or a refusal with the reason.
sbatch differs only where ``BATCH`` says: batch scripts written for another cluster
carry a few options in their ``#SBATCH`` lines that srun and salloc refuse, and that can
be left out of a batch job without changing what runs or where.
"""

from __future__ import annotations

from kairos.slurm.option_engine import Arg, OptionDef

_R, _N, _O = Arg.REQUIRED, Arg.NONE, Arg.OPTIONAL

#: long name -> (short name, argument) of every shared option.
_SPELLINGS: dict[str, tuple[str | None, Arg]] = {
    # the job's shape and resources
    "job-name": ("J", _R), "output": ("o", _R), "error": ("e", _R), "time": ("t", _R),
    "time-min": (None, _R), "cpus-per-task": ("c", _R), "ntasks": ("n", _R),
    "nodelist": ("w", _R), "nodes": ("N", _R), "ntasks-per-node": (None, _R),
    "mem": (None, _R), "mem-per-cpu": (None, _R), "gres": (None, _R), "gpus": ("G", _R),
    "gpus-per-node": (None, _R), "exclude": ("x", _R), "exclusive": (None, _O),
    "constraint": ("C", _R),
    # where and when it runs, who pays
    "partition": ("p", _R), "qos": ("q", _R), "account": ("A", _R),
    "dependency": ("d", _R), "begin": ("b", _R), "hold": ("H", _N), "chdir": ("D", _R),
    "export": (None, _R), "nice": (None, _O), "immediate": ("I", _O),
    # information
    "help": ("h", _N), "usage": (None, _N), "version": ("V", _N),
    "quiet": ("Q", _N), "verbose": ("v", _N),
    # Slurm's, and nothing Kairos decides (or refuses, per command)
    "acctg-freq": (None, _R), "comment": (None, _R), "contiguous": (None, _N),
    "distribution": ("m", _R), "get-user-env": (None, _O), "gpu-bind": (None, _R),
    "gres-flags": (None, _R), "hint": (None, _R), "mail-type": (None, _R),
    "mail-user": (None, _R), "mem-bind": (None, _R), "no-kill": ("k", _O),
    "open-mode": (None, _R), "oversubscribe": ("s", _N), "profile": (None, _R),
    "propagate": (None, _O), "signal": (None, _R), "spread-job": (None, _N),
    "tmp": (None, _R), "use-min-nodes": (None, _N), "wckey": (None, _R),
    "bb": (None, _R), "bbf": (None, _R), "cluster-constraint": (None, _R),
    "cluster": (None, _R), "clusters": ("M", _R), "container": (None, _R),
    "context": (None, _R), "core-spec": ("S", _R), "cores-per-socket": (None, _R),
    "cpu-freq": (None, _R), "cpus-per-gpu": (None, _R), "deadline": (None, _R),
    "delay-boot": (None, _R), "extra-node-info": ("B", _R), "gid": (None, _R),
    "gpu-freq": (None, _R), "gpus-per-socket": (None, _R), "gpus-per-task": (None, _R),
    "licenses": ("L", _R), "mcs-label": (None, _R), "mem-per-gpu": (None, _R),
    "mincpus": (None, _R), "network": (None, _R), "nodefile": ("F", _R),
    "ntasks-per-core": (None, _R), "ntasks-per-gpu": (None, _R),
    "ntasks-per-socket": (None, _R), "ntasks-per-tres": (None, _R),
    "overcommit": ("O", _N), "power": (None, _R), "prefer": (None, _R),
    "priority": (None, _R), "reboot": (None, _N), "reservation": (None, _R),
    "sockets-per-node": (None, _R), "switches": (None, _R), "tasks-per-node": (None, _R),
    "thread-spec": (None, _R), "threads-per-core": (None, _R), "uid": (None, _R),
    "x11": (None, _O), "kill-on-invalid-dep": (None, _R), "test-only": (None, _N),
}


_AFFINITY = "tasks are not bound to particular CPUs or memory: a step uses its job's cores"
_NO_MAIL = "Kairos sends no mail"
_ONE_CLUSTER = "Kairos manages one cluster; leave the option out"
_ROOT_ONLY = "only root may run a job as another user; submit it as that user"
_REBOOT = "nodes are not rebooted for jobs"
_USAGE = "usage is sampled at the end of each step"
_NO_BURST_BUFFERS = "burst buffers are not supported; stage the data in the script"

#: What sbatch, srun and salloc do with the shared options Kairos does not honour
#: (sbatch: unless ``BATCH`` says otherwise): ``(True, why)``: accepted with a warning,
#: nothing changes; ``(False, why)``: refused, because honouring it would change what
#: runs or where (``why`` then says what to do instead).
UNHONOURED: dict[str, tuple[bool, str]] = {
    "acctg-freq": (True, _USAGE),
    "bb": (False, _NO_BURST_BUFFERS),
    "bbf": (False, _NO_BURST_BUFFERS),
    "cluster-constraint": (False, _ONE_CLUSTER),
    "cluster": (False, _ONE_CLUSTER),
    "clusters": (False, _ONE_CLUSTER),
    "container": (False, "OCI containers are not supported; run the container runtime as "
                         "the command"),
    "context": (False, "SELinux contexts are not supported; leave the option out"),
    "contiguous": (True, "nodes are not chosen by their position"),
    "core-spec": (True, "no cores are set aside for the system"),
    "cores-per-socket": (True, _AFFINITY),
    "cpu-freq": (True, "CPU frequencies are not managed"),
    "cpus-per-gpu": (False, "give the CPUs with -c/--cpus-per-task"),
    "deadline": (False, "deadlines are not supported; scancel the job if it has not "
                        "ended in time"),
    "delay-boot": (True, _REBOOT),
    "extra-node-info": (True, _AFFINITY),
    "get-user-env": (True, "the environment is the command's own"),
    "gid": (False, _ROOT_ONLY),
    "gpu-bind": (True, _AFFINITY),
    "gpu-freq": (True, "GPU frequencies are not managed"),
    "gpus-per-socket": (False, "give GPUs per node with --gpus-per-node"),
    "gpus-per-task": (False, "give GPUs per node with --gpus-per-node"),
    "gres-flags": (True, "GPUs are not bound to sockets"),
    "hint": (True, _AFFINITY),
    "licenses": (False, "licenses are not supported; leave the option out"),
    "mail-type": (True, _NO_MAIL),
    "mail-user": (True, _NO_MAIL),
    "mcs-label": (True, "MCS labels are not supported"),
    "mem-bind": (True, _AFFINITY),
    "mem-per-gpu": (False, "give memory with --mem or --mem-per-cpu"),
    "mincpus": (False, "give the CPUs with -c/--cpus-per-task or --ntasks-per-node"),
    "network": (True, "network options are not managed"),
    "no-kill": (True, "a node failure ends the job on every node"),
    "nodefile": (False, "list the nodes with -w/--nodelist instead"),
    "ntasks-per-core": (True, _AFFINITY),
    "ntasks-per-gpu": (False, "give tasks per node with --ntasks-per-node"),
    "ntasks-per-socket": (True, _AFFINITY),
    "ntasks-per-tres": (False, "give tasks per node with --ntasks-per-node"),
    "overcommit": (True, "each task gets at least one CPU"),
    "oversubscribe": (True, "nodes are shared by CPUs as the job asked"),
    "power": (True, "power is not managed"),
    "prefer": (False, "soft constraints are not supported; use -C/--constraint"),
    "priority": (False, "an administrator sets priorities with scontrol update"),
    "profile": (True, _USAGE),
    "propagate": (True, "the tasks get the limits of the node's daemon"),
    "reboot": (True, _REBOOT),
    "reservation": (False, "reservations are not supported; name the nodes with "
                           "-w/--nodelist"),
    "sockets-per-node": (True, _AFFINITY),
    "spread-job": (True, "nodes are chosen by the scheduler"),
    "switches": (True, "the network's topology is not used"),
    "test-only": (False, "forecast a start with sbatch --test-only"),
    "thread-spec": (True, "no threads are set aside for the system"),
    "threads-per-core": (True, _AFFINITY),
    "tmp": (True, "temporary disk is not counted"),
    "uid": (False, _ROOT_ONLY),
    "use-min-nodes": (True, "node counts are exact"),
    "x11": (False, "X11 forwarding is not supported"),
}


#: sbatch's decision where it differs from ``UNHONOURED``, or for a shared option that
#: srun and salloc each decide on in their own tables: accepted with a warning, because
#: a batch job runs the same script on the same nodes without it.
BATCH: dict[str, tuple[bool, str]] = {
    "distribution": (True, "the steps lay out their tasks as each srun's -m says "
                           "(block by default)"),
    "prefer": (True, "soft constraints are not used: the nodes are chosen without them"),
}


def unhonoured_in_batch(long: str, env: str | None = None) -> OptionDef:
    """The shared option ``long`` as sbatch takes it: with a warning, or refused
    (``BATCH``, else ``UNHONOURED``)."""
    accepted, why = BATCH[long] if long in BATCH else UNHONOURED[long]
    return shared(long, env, ignored=accepted, refused=None if accepted else why,
                  why=why if accepted else "")


def unhonoured(long: str) -> OptionDef:
    """The shared option ``long`` as srun and salloc take it: with a warning, or refused
    (``UNHONOURED``)."""
    accepted, why = UNHONOURED[long]
    return shared(long, ignored=accepted, refused=None if accepted else why,
                  why=why if accepted else "")


def shared(long: str, env: str | None = None, *, ignored: bool = False,
           refused: str | None = None, why: str = "") -> OptionDef:
    """The shared option ``long`` as one command takes it."""
    short, arg = _SPELLINGS[long]
    return OptionDef(long, short, arg, env, ignored=ignored, refused=refused, why=why)
