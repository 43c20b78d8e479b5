"""salloc's options: the table of every option Slurm 22.05's salloc takes, and what
Kairos does with each (honoured, accepted with a warning that it changes nothing here,
or refused with the reason), in the order getopt lists them.

The spellings of the options salloc shares with sbatch and srun, and what Kairos does
with the shared ones it does not honour, come from ``kairos.slurm.job_options``.
Variables salloc reads, as in 22.05: ``SALLOC_ACCOUNT SALLOC_CONSTRAINT
SALLOC_EXCLUSIVE SALLOC_GPUS SALLOC_GPUS_PER_NODE SALLOC_GRES SALLOC_IMMEDIATE
SALLOC_KILL_CMD SALLOC_MEM_PER_CPU SALLOC_MEM_PER_NODE SALLOC_PARTITION SALLOC_QOS
SALLOC_TIMELIMIT``.
"""

from __future__ import annotations

from kairos.slurm.job_options import shared, unhonoured as _un
from kairos.slurm.option_engine import Arg, GetoptParser, OptionDef, OptionTable

_R, _N, _O = Arg.REQUIRED, Arg.NONE, Arg.OPTIONAL
_NO_BELL = "salloc rings no bell"

OPTIONS: tuple[OptionDef, ...] = (
    shared("account", "SALLOC_ACCOUNT"),
    _un("acctg-freq"),
    shared("begin"),
    OptionDef("bell", None, _N, ignored=True, why=_NO_BELL),
    _un("bb"),
    _un("bbf"),
    _un("cluster-constraint"),
    shared("chdir"),
    _un("cluster"),
    _un("clusters"),
    shared("comment"),
    _un("container"),
    _un("context"),
    _un("contiguous"),
    shared("constraint", "SALLOC_CONSTRAINT"),
    _un("core-spec"),
    _un("cores-per-socket"),
    _un("cpu-freq"),
    _un("cpus-per-gpu"),
    shared("cpus-per-task"),
    _un("deadline"),
    _un("delay-boot"),
    shared("dependency"),
    shared("distribution", ignored=True, why="each srun lays its tasks out in blocks"),
    shared("exclude"),
    shared("exclusive", "SALLOC_EXCLUSIVE"),
    _un("extra-node-info"),
    _un("get-user-env"),
    _un("gid"),
    _un("gpu-bind"),
    _un("gpu-freq"),
    shared("gpus", "SALLOC_GPUS"),
    shared("gpus-per-node", "SALLOC_GPUS_PER_NODE"),
    _un("gpus-per-socket"),
    _un("gpus-per-task"),
    shared("gres", "SALLOC_GRES"),
    _un("gres-flags"),
    shared("help"),
    _un("hint"),
    shared("hold"),
    shared("immediate", "SALLOC_IMMEDIATE"),
    shared("job-name"),
    OptionDef("kill-command", "K", _O, "SALLOC_KILL_CMD"),
    _un("licenses"),
    _un("mail-type"),
    _un("mail-user"),
    _un("mcs-label"),
    shared("mem", "SALLOC_MEM_PER_NODE"),
    _un("mem-bind"),
    shared("mem-per-cpu", "SALLOC_MEM_PER_CPU"),
    _un("mem-per-gpu"),
    _un("mincpus"),
    _un("network"),
    shared("nice"),
    OptionDef("no-bell", None, _N, ignored=True, why=_NO_BELL),
    _un("no-kill"),
    OptionDef("no-shell", None, _N, refused="an allocation lasts as long as salloc holds "
                                            "it; run the commands under salloc"),
    _un("nodefile"),
    shared("nodelist"),
    shared("nodes"),
    shared("ntasks"),
    _un("ntasks-per-core"),
    _un("ntasks-per-gpu"),
    shared("ntasks-per-node"),
    _un("ntasks-per-socket"),
    _un("ntasks-per-tres"),
    _un("overcommit"),
    _un("oversubscribe"),
    shared("partition", "SALLOC_PARTITION"),
    _un("power"),
    _un("prefer"),
    _un("priority"),
    _un("profile"),
    shared("qos", "SALLOC_QOS"),
    shared("quiet"),
    _un("reboot"),
    _un("reservation"),
    shared("signal", "SALLOC_SIGNAL"),
    _un("sockets-per-node"),
    _un("spread-job"),
    _un("switches"),
    shared("tasks-per-node"),
    _un("thread-spec"),
    _un("threads-per-core"),
    shared("time", "SALLOC_TIMELIMIT"),
    shared("time-min"),
    _un("tmp"),
    _un("uid"),
    _un("use-min-nodes"),
    shared("verbose"),
    shared("version"),
    shared("usage"),
    OptionDef("wait-all-nodes", None, _R, ignored=True,
              why="nodes are ready when they are allocated"),
    shared("wckey", "SALLOC_WCKEY"),
    _un("x11"),
)

ALIASES = {"tasks-per-node": "ntasks-per-node"}
INFO_OPTIONS = ("help", "usage", "version")
TABLE = OptionTable(OPTIONS, GetoptParser, "salloc")

USAGE = ("Usage: salloc [-N numnodes] [-n num-processors] [-c cpus-per-task]\n"
         "              [-p partition] [-t minutes] [-D path] [-J jobname]\n"
         "              [-w hosts...] [-x hosts...] [--mem=MB] [-G gpus] [-K[signal]]\n"
         "              [command [args...]]")


def help_text() -> str:
    """``salloc --help``: what Kairos honours, what it accepts with no effect, what it
    refuses."""
    from kairos.slurm.option_engine import grouped_help

    return grouped_help("salloc", "[command [args...]]", OPTIONS)
