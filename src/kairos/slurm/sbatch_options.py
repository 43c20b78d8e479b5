"""sbatch's options: the table of every option Slurm 22.05's sbatch takes, and reading
them from words.

The table says, for each option, its spellings, whether it takes a value, the
``SBATCH_*`` variable that may set it and what Kairos does with it: honours it, accepts
it with a warning that it changes nothing here, or refuses it with the reason;
``usage_text`` (``sbatch --help``), the parser and the compatibility matrix
(``kairos.slurm.compatibility``) are made from it.  The spellings of the options sbatch
shares with srun and salloc, and what Kairos does with the shared ones it does not
honour, come from ``kairos.slurm.job_options``; the table is kept in the order of
Slurm's getopt table (``GETOPT_ORDER``).

Words are read the way Slurm 22.05's sbatch (``getopt_long``) reads them, by the engine
all three commands share (``kairos.slurm.option_engine``): ``--time=5``, ``--time 5``,
``-t5``, ``-t 5``, bundled flags (``-Hv``), unambiguous prefixes of long options
(``--part``); a value follows its option whatever it looks like (``-J -x``); the first
non-option ends the options (on the command line it is the script), and so does ``--``;
an option whose value is optional (``--nice``, ``-k``) takes one only when it is
attached (``--nice=5``, ``-k5``), so ``--nice job.sh`` is ``--nice`` and a script; the
first error is reported, in getopt's words.  The parser is the shared
``SlurmArgumentParser`` (argparse) speaking sbatch's error words: one line, without the
command's name (``kairos sbatch`` prints ``sbatch: error:`` before it, and a
directive's line number).

Reading gives ``Setting``s, each knowing where it came from (``line 3``,
``SBATCH_QOS``, or the command line), so that a bad value is reported where it was
written.  ``kairos.slurm.sbatch_submission`` turns them into a ``Submission``.
"""

from __future__ import annotations

from collections.abc import Sequence

from kairos.slurm.job_options import shared, unhonoured_in_batch
from kairos.slurm.option_engine import (
    Arg, GetoptParser, OptionDef, OptionTable, Setting, SlurmOptionError, located, grouped_help,
)

__all__ = ["Arg", "COMMAND_LINE_ONLY", "INFO_OPTIONS", "OPTIONS", "OptionDef",
           "SbatchArgumentParser", "SbatchError", "Setting", "located", "read_options",
           "usage_text"]

#: A submission sbatch refuses: a bad option, directive, value or script.  The message
#: names the script line (``line 3: ...``) or the environment variable it came from.
SbatchError = SlurmOptionError


# --- the table ---------------------------------------------------------------------------

OPTIONS: tuple[OptionDef, ...] = (
    shared("job-name", "SBATCH_JOB_NAME"),
    shared("output", "SBATCH_OUTPUT"),
    shared("error", "SBATCH_ERROR"),
    shared("time", "SBATCH_TIMELIMIT"),
    shared("time-min"),
    shared("cpus-per-task"),
    shared("ntasks"),
    shared("nodelist"),  # before "nodes": getopt's order for "--node"
    shared("nodes"),
    shared("ntasks-per-node"),
    shared("mem", "SBATCH_MEM_PER_NODE"),
    shared("mem-per-cpu", "SBATCH_MEM_PER_CPU"),
    shared("gres", "SBATCH_GRES"),
    shared("gpus", "SBATCH_GPUS"),
    shared("gpus-per-node", "SBATCH_GPUS_PER_NODE"),
    shared("exclude"),  # before "exclusive": getopt's order for "--excl"
    shared("exclusive", "SBATCH_EXCLUSIVE"),
    shared("constraint", "SBATCH_CONSTRAINT"),
    shared("partition", "SBATCH_PARTITION"),
    shared("qos", "SBATCH_QOS"),
    shared("account", "SBATCH_ACCOUNT"),
    OptionDef("array", "a", Arg.REQUIRED, "SBATCH_ARRAY_INX"),
    shared("dependency"),
    shared("begin"),
    shared("hold"),
    shared("chdir"),
    shared("export", "SBATCH_EXPORT"),
    OptionDef("wrap", None, Arg.REQUIRED),
    OptionDef("parsable", None, Arg.NONE),
    shared("test-only"),
    shared("nice"),
    OptionDef("requeue", None, Arg.NONE, "SBATCH_REQUEUE"),
    OptionDef("no-requeue", None, Arg.NONE, "SBATCH_NO_REQUEUE"),
    shared("signal", "SBATCH_SIGNAL"),
    shared("open-mode", "SBATCH_OPEN_MODE"),
    shared("comment"),
    shared("wckey", "SBATCH_WCKEY"),
    shared("help"),
    shared("usage"),
    shared("version"),
    shared("quiet"),
    shared("verbose"),
    shared("tasks-per-node"),
    OptionDef("ignore-pbs", None, Arg.NONE, "SBATCH_IGNORE_PBS"),
    OptionDef("wait", "W", Arg.NONE, "SBATCH_WAIT"),
    # sbatch's own options Kairos does not honour
    OptionDef("batch", None, Arg.REQUIRED, "SBATCH_BATCH",
              refused="the batch script runs on the job's first node; give the features "
                      "every node must have with -C/--constraint"),
    OptionDef("export-file", None, Arg.REQUIRED,
              refused="give the variables with --export, or set them in the script"),
    OptionDef("input", "i", Arg.REQUIRED, "SBATCH_INPUT",
              refused="the batch script's standard input is /dev/null; redirect it in "
                      "the script (command < file)"),
    OptionDef("wait-all-nodes", None, Arg.REQUIRED, "SBATCH_WAIT_ALL_NODES", ignored=True,
              why="nodes are ready when they are allocated"),
    shared("kill-on-invalid-dep", ignored=True,
           why="a job whose dependency can never be met stays pending "
               "(DependencyNeverSatisfied) until it is cancelled"),
)

#: The variables that may set the options sbatch does not honour, as Slurm 22.05 reads
#: them: a refused one is refused, an ignored one warned about, as on the command line.
_UNHONOURED_ENV = {
    "acctg-freq": "SBATCH_ACCTG_FREQ", "clusters": "SBATCH_CLUSTERS",
    "container": "SBATCH_CONTAINER", "core-spec": "SBATCH_CORE_SPEC",
    "cpus-per-gpu": "SBATCH_CPUS_PER_GPU", "delay-boot": "SBATCH_DELAY_BOOT",
    "distribution": "SBATCH_DISTRIBUTION", "get-user-env": "SBATCH_GET_USER_ENV",
    "gpu-bind": "SBATCH_GPU_BIND", "gpu-freq": "SBATCH_GPU_FREQ",
    "gpus-per-task": "SBATCH_GPUS_PER_TASK", "gres-flags": "SBATCH_GRES_FLAGS",
    "hint": "SBATCH_HINT", "mem-bind": "SBATCH_MEM_BIND", "mem-per-gpu": "SBATCH_MEM_PER_GPU",
    "network": "SBATCH_NETWORK", "no-kill": "SBATCH_NO_KILL",
    "overcommit": "SBATCH_OVERCOMMIT", "power": "SBATCH_POWER", "profile": "SBATCH_PROFILE",
    "reservation": "SBATCH_RESERVATION", "spread-job": "SBATCH_SPREAD_JOB",
    "switches": "SBATCH_REQ_SWITCH", "thread-spec": "SBATCH_THREAD_SPEC",
    "threads-per-core": "SBATCH_THREADS_PER_CORE", "use-min-nodes": "SBATCH_USE_MIN_NODES",
}

#: Every long option of Slurm 22.05's sbatch, in the order its getopt table lists them
#: (the order an ambiguous prefix names the possibilities in; the peer's).
GETOPT_ORDER = (
    "account", "acctg-freq", "array", "batch", "begin", "bb", "bbf", "cluster-constraint",
    "chdir", "cluster", "clusters", "comment", "container", "context", "contiguous",
    "constraint", "core-spec", "cores-per-socket", "cpu-freq", "cpus-per-gpu",
    "cpus-per-task", "deadline", "delay-boot", "dependency", "distribution", "error",
    "exclude", "exclusive", "export", "export-file", "extra-node-info", "get-user-env",
    "gid", "gpu-bind", "gpu-freq", "gpus", "gpus-per-node", "gpus-per-socket",
    "gpus-per-task", "gres", "gres-flags", "help", "hint", "hold", "ignore-pbs", "input",
    "job-name", "kill-on-invalid-dep", "licenses", "mail-type", "mail-user", "mcs-label",
    "mem", "mem-bind", "mem-per-cpu", "mem-per-gpu", "mincpus", "network", "nice",
    "no-kill", "no-requeue", "nodefile", "nodelist", "nodes", "ntasks", "ntasks-per-core",
    "ntasks-per-gpu", "ntasks-per-node", "ntasks-per-socket", "ntasks-per-tres",
    "open-mode", "output", "overcommit", "oversubscribe", "parsable", "partition", "power",
    "prefer", "priority", "profile", "propagate", "qos", "quiet", "reboot", "requeue",
    "reservation", "signal", "sockets-per-node", "spread-job", "switches",
    "tasks-per-node", "test-only", "thread-spec", "threads-per-core", "time", "time-min",
    "tmp", "uid", "use-min-nodes", "usage", "verbose", "version", "wait", "wait-all-nodes",
    "wckey", "wrap",
)


def _in_getopt_order(defined: tuple[OptionDef, ...]) -> tuple[OptionDef, ...]:
    """``defined`` and, for every other option of Slurm's sbatch, what ``BATCH`` or
    ``UNHONOURED`` says sbatch does with it, in getopt's order."""
    by_long = {o.long: o for o in defined}
    for long in GETOPT_ORDER:
        if long not in by_long:
            by_long[long] = unhonoured_in_batch(long, _UNHONOURED_ENV.get(long))
    return tuple(sorted(by_long.values(), key=lambda o: GETOPT_ORDER.index(o.long)))


OPTIONS = _in_getopt_order(OPTIONS)
#: Other spellings of an option, as sbatch takes them: the option whose meaning they share.
ALIASES = {"tasks-per-node": "ntasks-per-node"}
COMMAND_LINE_ONLY = frozenset({"wrap", "help", "usage", "version"})
INFO_OPTIONS = ("help", "usage", "version")


class SbatchArgumentParser(GetoptParser):
    """The shared parser in sbatch's words: getopt's sentence alone on one line, an
    unknown option naming ``sbatch --help`` and its name without a value."""

    def __init__(self, prog: str = "sbatch") -> None:
        super().__init__(prog)

    def _present(self, words: str) -> str:
        return words

    def _present_unknown(self, words: str) -> str:
        return f"{words} (see sbatch --help)"

    def _present_other(self, message: str) -> str:
        return message

    def _unknown_spelling(self, token: str) -> str:
        return token.partition("=")[0]


TABLE = OptionTable(OPTIONS, SbatchArgumentParser, "sbatch")


def read_options(tokens: Sequence[str], origin: str = "") -> tuple[list[Setting], list[str]]:
    """The settings in ``tokens`` (in order) and the rest: the words from the first
    non-option on, as given (starting with ``--`` when that ended the options).

    Raises ``SbatchError`` (prefixed with ``origin``) in getopt's words for the first
    unknown or ambiguous option, value given to a flag or missing value.
    """
    return TABLE.read(tokens, origin)


# --- sbatch --help -----------------------------------------------------------------------

def usage_text() -> str:
    """``sbatch --help``: what Kairos honours, what it accepts with a warning that it
    changes nothing, what it refuses."""
    return grouped_help("sbatch", "[script [args...]]", OPTIONS)
