"""sbatch's options: the table of what sbatch accepts, and reading them from words.

The table says, for each option, its spellings, whether it takes a value, the
``SBATCH_*`` variable that may set it and whether Kairos ignores it; ``usage_text``
(``sbatch --help``) and the parser are both made from it.  The spellings of the options
sbatch shares with srun and salloc come from ``kairos.slurm.job_options``.

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

from kairos.slurm.job_options import shared
from kairos.slurm.option_engine import (
    Arg, GetoptParser, OptionDef, OptionTable, Setting, SlurmOptionError, located, spelling,
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
    shared("help"),
    shared("usage"),
    shared("version"),
    *(shared(name, ignored=True) for name in (
        "acctg-freq", "comment", "contiguous", "distribution", "get-user-env", "gpu-bind",
        "gres-flags", "hint", "kill-on-invalid-dep", "mail-type", "mail-user", "mem-bind",
        "no-kill", "open-mode", "oversubscribe", "profile", "propagate", "quiet", "signal",
        "spread-job", "tmp", "use-min-nodes", "verbose", "wckey")),
)
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
    """``sbatch --help``: the options Kairos honours and those it accepts and ignores."""
    used = [o for o in OPTIONS if not o.ignored]
    ignored = [o for o in OPTIONS if o.ignored]
    lines = ["Usage: sbatch [OPTIONS...] [script [args...]]", "", "Options:"]
    lines += [f"  {spelling(o)}" for o in used]
    lines += ["", "Accepted for compatibility, no effect:",
              "  " + " ".join(f"--{o.long}" for o in ignored)]
    return "\n".join(lines) + "\n"
