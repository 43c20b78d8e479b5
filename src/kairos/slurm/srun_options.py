"""srun's options: the table of every option Slurm 22.05's srun takes, and what Kairos
does with each.

Every option srun knows is here, in the order getopt lists them, so that a command line
written for Slurm is never silently misread: each option is honoured, accepted with a
warning that it changes nothing here (``ignored``), or refused with the reason
(``refused``).  The spellings of the options srun shares with sbatch and salloc come
from ``kairos.slurm.job_options``; the words are read by the engine all three share
(``kairos.slurm.option_engine``), with srun's error words (``srun: unrecognized option
'--foo'`` and ``Try "srun --help" for more information``).

Options that shape a new allocation (``-p``, ``-A``, ``--mem``, ``-G``, ``--begin``...)
have no effect on a step inside an existing job: srun says so there.  Variables srun
reads, as in 22.05: ``SLURM_ACCOUNT SLURM_CPU_BIND SLURM_DEPENDENCY SLURM_DISABLE_STATUS
SLURM_EXACT SLURM_EXPORT_ENV SLURM_JOB_NAME`` (outside a job only)
``SLURM_KILL_BAD_EXIT SLURM_LABELIO SLURM_MPI_TYPE SLURM_OVERLAP SLURM_PARTITION
SLURM_QOS SLURM_STDERRMODE SLURM_STDINMODE SLURM_STDOUTMODE SLURM_TIMELIMIT
SLURM_UNBUFFEREDIO SLURM_WAIT SLURM_WORKING_DIR SRUN_CPUS_PER_TASK``.
"""

from __future__ import annotations

from kairos.slurm.job_options import shared, unhonoured as _un
from kairos.slurm.option_engine import Arg, GetoptParser, OptionDef, OptionTable

_R, _N, _O = Arg.REQUIRED, Arg.NONE, Arg.OPTIONAL
_AFFINITY = "tasks are not bound to particular CPUs or GPUs: a step uses its job's"
_NOT_COPIED = "nothing is copied to the nodes: every node runs the program from the same path"
_NO_SCRIPTS = "Kairos runs no prolog or epilog programs of a user's"
_HETEROGENEOUS = "heterogeneous jobs are not supported"


def _own(long: str, short: str | None, arg: Arg, env: str | None = None, **how) -> OptionDef:
    return OptionDef(long, short, arg, env, **how)


OPTIONS: tuple[OptionDef, ...] = (
    _own("accel-bind", None, _R, ignored=True, why=_AFFINITY),
    shared("account", "SLURM_ACCOUNT"),
    _un("acctg-freq"),
    _own("bcast", None, _O, ignored=True, why=_NOT_COPIED),
    _own("bcast-exclude", None, _R, ignored=True, why=_NOT_COPIED),
    shared("begin"),
    _un("bb"),
    _un("bbf"),
    _un("cluster-constraint"),
    shared("chdir", "SLURM_WORKING_DIR"),
    _un("cluster"),
    _un("clusters"),
    shared("comment"),
    _own("compress", None, _O, ignored=True, why=_NOT_COPIED),
    _un("container"),
    _un("context"),
    _un("contiguous"),
    shared("constraint"),
    _un("core-spec"),
    _un("cores-per-socket"),
    _own("cpu-bind", None, _R, "SLURM_CPU_BIND"),
    _own("cpu_bind", None, _R),
    _un("cpu-freq"),
    _un("cpus-per-gpu"),
    shared("cpus-per-task", "SRUN_CPUS_PER_TASK"),
    _un("deadline"),
    _own("debugger-test", None, _N, refused="parallel debuggers are not supported"),
    _un("delay-boot"),
    shared("dependency", "SLURM_DEPENDENCY"),
    _own("disable-status", "X", _N, "SLURM_DISABLE_STATUS"),
    shared("distribution", "SLURM_DISTRIBUTION"),
    _own("epilog", None, _R, refused=_NO_SCRIPTS),
    shared("error", "SLURM_STDERRMODE"),
    _own("exact", None, _N, "SLURM_EXACT"),
    shared("exclude"),
    shared("exclusive"),
    shared("export", "SLURM_EXPORT_ENV"),
    _un("extra-node-info"),
    _un("gid"),
    _un("gpu-bind"),
    _un("gpu-freq"),
    shared("gpus"),
    shared("gpus-per-node"),
    _un("gpus-per-socket"),
    _un("gpus-per-task"),
    shared("gres"),
    _un("gres-flags"),
    shared("help"),
    _own("het-group", None, _R, refused=_HETEROGENEOUS),
    _un("hint"),
    shared("hold"),
    shared("immediate"),
    _own("input", "i", _R, "SLURM_STDINMODE"),
    _own("interactive", None, _N, refused="interactive steps are not supported; use salloc"),
    _own("jobid", None, _R),
    shared("job-name", "SLURM_JOB_NAME"),
    _own("kill-on-bad-exit", "K", _O, "SLURM_KILL_BAD_EXIT"),
    _own("label", "l", _N, "SLURM_LABELIO"),
    _un("licenses"),
    _un("mail-type"),
    _un("mail-user"),
    _own("threads", "T", _R, ignored=True, why="each node's daemon starts its own tasks"),
    _un("mcs-label"),
    shared("mem"),
    _un("mem-bind"),
    shared("mem-per-cpu"),
    _un("mem-per-gpu"),
    _un("mincpus"),
    _own("mpi", None, _R, "SLURM_MPI_TYPE"),
    _own("msg-timeout", None, _R, ignored=True, why="Kairos has no such timeout"),
    _own("multi-prog", None, _N, refused="give each task its program in a wrapper script "
                                         "that looks at $SLURM_PROCID"),
    _un("network"),
    shared("nice"),
    _own("no-allocate", "Z", _N, refused="every step runs in an allocation"),
    _un("no-kill"),
    _un("nodefile"),
    shared("nodelist"),
    shared("nodes"),
    shared("ntasks"),
    _un("ntasks-per-core"),
    _un("ntasks-per-gpu"),
    shared("ntasks-per-node"),
    _un("ntasks-per-socket"),
    _un("ntasks-per-tres"),
    shared("open-mode"),
    shared("output", "SLURM_STDOUTMODE"),
    _un("overcommit"),
    _own("overlap", None, _N, "SLURM_OVERLAP"),
    _un("oversubscribe"),
    _own("pack-group", None, _R, refused=_HETEROGENEOUS),
    shared("partition", "SLURM_PARTITION"),
    _un("power"),
    _un("prefer"),
    _own("preserve-env", "E", _N, ignored=True,
         why="the node and task counts are those of the command line or the allocation"),
    _un("priority"),
    _un("profile"),
    _own("prolog", None, _R, refused=_NO_SCRIPTS),
    _un("propagate"),
    _own("pty", None, _N, refused="pseudo-terminals are not supported; use salloc for an "
                                  "interactive shell"),
    shared("qos", "SLURM_QOS"),
    shared("quiet"),
    _own("quit-on-interrupt", None, _N),
    _un("reboot"),
    _own("relative", "r", _R, refused="give the nodes with -w/--nodelist instead"),
    _un("reservation"),
    _own("resv-ports", None, _O, ignored=True, why="no ports are reserved for MPI"),
    _own("send-libs", None, _O, ignored=True, why=_NOT_COPIED),
    shared("signal", "SLURM_SIGNAL"),
    _own("slurmd-debug", None, _R, ignored=True, why="Kairos has no such log level"),
    _un("sockets-per-node"),
    _un("spread-job"),
    _un("switches"),
    _own("task-epilog", None, _R, refused=_NO_SCRIPTS),
    _own("task-prolog", None, _R, refused=_NO_SCRIPTS),
    shared("tasks-per-node"),
    _un("test-only"),
    _un("thread-spec"),
    _un("threads-per-core"),
    shared("time", "SLURM_TIMELIMIT"),
    shared("time-min"),
    _un("tmp"),
    _un("uid"),
    _own("unbuffered", "u", _N, "SLURM_UNBUFFEREDIO"),
    _un("use-min-nodes"),
    shared("verbose"),
    shared("version"),
    shared("usage"),
    _own("wait", "W", _R, "SLURM_WAIT"),
    shared("wckey", "SLURM_WCKEY"),
    _own("whole", None, _N, ignored=True, why="a step holds its job's CPUs on each node "
                                              "unless --exact"),
    _un("x11"),
)

#: Other spellings of an option, as srun takes them: the option whose meaning they share.
ALIASES = {"tasks-per-node": "ntasks-per-node", "cpu_bind": "cpu-bind"}

#: Options that shape a new allocation: inside a job, a step has its job's.
JOB_ONLY = frozenset({
    "account", "begin", "comment", "constraint", "dependency", "gpus", "gpus-per-node",
    "gres", "hold", "immediate", "mem", "mem-per-cpu", "nice", "partition", "qos",
    "signal", "time-min", "wckey",
})

INFO_OPTIONS = ("help", "usage", "version")

TABLE = OptionTable(OPTIONS, GetoptParser, "srun")

USAGE = ("Usage: srun [-N nnodes] [-n ntasks] [-i in] [-o out] [-e err]\n"
         "            [-c ncpus] [-p partition] [-t minutes] [-D path] [-J jobname]\n"
         "            [--jobid=id] [-l] [-u] [-K] [-w hosts...] [-x hosts...]\n"
         "            [--exact] [--overlap] [--export=env_vars|NONE] [--mpi=none]\n"
         "            executable [args...]")


def help_text() -> str:
    """``srun --help``: what Kairos honours, what it accepts with no effect, what it
    refuses."""
    from kairos.slurm.option_engine import grouped_help

    return grouped_help("srun", "executable [args...]", OPTIONS)
