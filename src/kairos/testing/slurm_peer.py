"""The Slurm peer: a real Slurm on this machine to compare Kairos with.

Kairos promises that what users do with Slurm works unchanged, and claims to be faster
at it; both are only convincing beside the real thing.  The compatibility suite submits
the same scripts to Kairos and to a real Slurm 22.05, and the live benchmark times
both.  This module finds that Slurm and drives it through its own commands:

* :func:`find_commands`: the first directory on ``PATH`` whose ``sbatch`` is Slurm's own,
  so a Kairos shim beside this Python is never taken for the peer;
* :func:`answers`: whether its ``sinfo`` lists a node that can run jobs;
* :func:`start`: run the peer's start script (:func:`default_start_script`);
* :func:`locate`: the first two together, as a :class:`PeerProbe`;
* :class:`SlurmPeer`: its commands, run from a work directory.  The peer may be shared
  with other people, so it only ever cancels job ids it submitted itself, and a peer
  too busy to get to our jobs is reported as :class:`PeerBusy`, not as a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .commands import parsable_job_id, run_command

#: Names another start script (the variable the compatibility suite documents).
START_SCRIPT_VARIABLE = "KAIROS_COMPAT_PEER_SCRIPT"
#: Node states in which the peer can run jobs (``sinfo %T``, flags such as ``*`` aside).
USABLE_NODE_STATES = ("idle", "mixed", "allocated", "completing")
#: The source checkout this module belongs to (when it runs from one).
CHECKOUT = Path(__file__).resolve().parents[3]


class PeerBusy(Exception):
    """The Slurm peer did not get to our jobs in time (other people's work ahead)."""


def default_start_script(repository: Path | None = None) -> Path:
    """The peer's start script: ``$KAIROS_COMPAT_PEER_SCRIPT``, else
    ``shared/peers/slurm/start.sh`` beside ``repository`` (default: this checkout)."""
    named = os.environ.get(START_SCRIPT_VARIABLE)
    if named:
        return Path(named)
    return (repository or CHECKOUT).parent / "shared" / "peers" / "slurm" / "start.sh"


def start(script: Path) -> str | None:
    """Run the peer's start script (it starts the peer if need be, as root); None when it
    succeeded, else what went wrong."""
    if not script.is_file():
        return f"no peer start script at {script} (set {START_SCRIPT_VARIABLE})"
    try:
        proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{script} failed: {error}"
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
        return f"{script} exited {proc.returncode}: {last[0] if last else ''}"
    return None


def find_commands(path: str | None = None) -> Path | None:
    """The first directory on ``path`` (default ``$PATH``) whose ``sbatch --version``
    says ``slurm ...``, skipping the directory of this Python (where Kairos's own
    commands are); None when there is none."""
    own_bin = Path(sys.executable).parent.resolve()
    for entry in (path if path is not None else os.environ.get("PATH", "")).split(os.pathsep):
        candidate = Path(entry or ".") / "sbatch"
        if not candidate.is_file() or candidate.parent.resolve() == own_bin:
            continue
        try:
            version = subprocess.run([str(candidate), "--version"], capture_output=True,
                                     text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        if version.lower().startswith("slurm"):
            return candidate.parent
    return None


def answers(bin_dir: Path) -> bool:
    """Whether the peer's ``sinfo`` lists a node that can run jobs."""
    try:
        out = subprocess.run([str(bin_dir / "sinfo"), "-h", "-o", "%T"], capture_output=True,
                             text=True, timeout=15).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return any(state.rstrip("*~#") in USABLE_NODE_STATES for state in out.split())


@dataclass(frozen=True)
class PeerProbe:
    """Where the peer's commands are, or why there is no peer to use."""

    bin_dir: Path | None
    reason: str  #: empty when the peer was found


def locate(path: str | None = None) -> PeerProbe:
    """Find the peer's commands on ``path`` (default ``$PATH``) and check it answers."""
    bin_dir = find_commands(path)
    if bin_dir is None:
        return PeerProbe(None, "no real Slurm sbatch on PATH")
    if not answers(bin_dir):
        return PeerProbe(None, f"{bin_dir / 'sinfo'} lists no usable node")
    return PeerProbe(bin_dir, "")


class SlurmPeer:
    """The peer's commands (from ``bin_dir``), run from ``workdir`` in ``env`` (default:
    this process's environment).  Remembers the job ids it submitted (:attr:`mine`):
    those, and only those, are ever cancelled."""

    def __init__(self, bin_dir: Path, workdir: Path, *, env: Mapping[str, str] | None = None,
                 command_timeout: float = 60.0) -> None:
        self.bin_dir = bin_dir
        self.workdir = workdir
        self.env = dict(os.environ if env is None else env)
        self.command_timeout = command_timeout
        self.mine: set[int] = set()

    def argv(self, tool: str) -> list[str]:
        """The command line that runs the peer's ``tool`` (``sbatch``, ``squeue``...)."""
        return [str(self.bin_dir / tool)]

    def run(self, tool: str, *args: str, check: bool = True, cwd: Path | None = None,
            env: Mapping[str, str] | None = None,
            timeout: float | None = None) -> subprocess.CompletedProcess:
        """The peer's ``tool ARGS`` from ``cwd`` (default: the work directory), ``env``
        added; :class:`~kairos.testing.commands.CommandFailed` when ``check`` and it
        exits non-zero."""
        return run_command([*self.argv(tool), *args], display=f"peer {tool} " + " ".join(args),
                           cwd=cwd or self.workdir, env={**self.env, **(env or {})},
                           timeout=timeout or self.command_timeout, check=check)

    def submit(self, *args: str, cwd: Path | None = None,
               env: Mapping[str, str] | None = None) -> int:
        """``sbatch --parsable ARGS``; the job id, remembered as ours."""
        job_id = parsable_job_id(self.run("sbatch", "--parsable", *args, cwd=cwd, env=env).stdout)
        self.mine.add(job_id)
        return job_id

    def cancel(self, ids: Iterable[int] | None = None) -> None:
        """``scancel`` those of ``ids`` (default: all) that we submitted and have not
        :meth:`forget`-ten; ids that already ended are refused by scancel, harmlessly."""
        ours = sorted(self.mine if ids is None else set(ids) & self.mine)
        for first in range(0, len(ours), 500):  # a bounded command line
            self.run("scancel", *map(str, ours[first:first + 500]), check=False, timeout=300)
        self.mine.difference_update(ours)

    def forget(self, ids: Iterable[int]) -> None:
        """These jobs have ended: nothing of them to cancel any more."""
        self.mine.difference_update(ids)

    @cached_property
    def config(self) -> dict[str, str]:
        """``scontrol show config`` as a mapping (read once)."""
        settings = {}
        for line in self.run("scontrol", "show", "config").stdout.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                settings[key.strip()] = value.strip()
        return settings

    @property
    def cluster_name(self) -> str:
        """What the peer calls its cluster (``SLURM_CLUSTER_NAME`` in its jobs)."""
        return self.config["ClusterName"]

    def records(self) -> int:
        """Job records the peer holds now, everyone's (finished ones until MinJobAge)."""
        return len(self.run("squeue", "-h", "-r", "-t", "all", "-o", "%i").stdout.split())

    def room(self) -> int:
        """How many more job records fit under the peer's MaxJobCount."""
        return int(self.config.get("MaxJobCount", "10000")) - self.records()

    def busy_error(self, what: str) -> PeerBusy:
        """The error for a wait on ``what`` that ran out: the peer's queue shows whose
        work was ahead of ours."""
        queue = self.run("squeue", "-o", "%.10i %.9u %.9T %.20r %j", check=False).stdout
        return PeerBusy(f"the Slurm peer did not get to our jobs in time: "
                        f"waiting for {what}; its queue:\n{queue}")
