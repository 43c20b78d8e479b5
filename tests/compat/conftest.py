"""Two backends for the Slurm compatibility suite: Kairos (always) and a real Slurm 22.05
peer (when one answers), each driven only through its own user commands.

Why: Kairos promises that scripts and habits written for Slurm work unchanged.  The
only convincing check is to submit the same batch scripts to both and compare what a
user sees: output files, the ``SLURM_*`` environment, final states and exit codes.

Both backends are built on the drivers of :mod:`kairos.testing`; what is added here is
the comparison's own logic (one time budget per backend, how each says how a job ended):

* :class:`KairosBackend` runs a real controller in a temporary ``KAIROS_HOME`` (one per
  test module, like ``tests/live``'s ``live`` fixture) through the real ``kairos``
  executable (:class:`~kairos.testing.home.KairosHome`).  Final states come from
  ``kairos sacct``.
* :class:`SlurmBackend` uses the peer's ``sbatch``/``squeue``/``scontrol``/``scancel``
  (:class:`~kairos.testing.slurm_peer.SlurmPeer`).  The peer keeps no accounting
  database (``sacct`` answers "Slurm accounting storage is disabled"), so final states
  and exit codes come from ``scontrol show job -o``, which keeps finished jobs for
  MinJobAge (300 s by default).  Every job gets ``--mem=50M`` on both sides: without it
  the peer gives each job the whole node's memory and runs them one at a time.  The peer
  may be shared with other people, so a backend only ever cancels job ids it submitted
  itself, and a peer too busy to start our jobs in time raises :class:`PeerBusy` (the
  comparison is skipped, not failed).

``slurm_peer`` finds the peer: real Slurm commands on ``PATH`` (not a Kairos shim) and a
``sinfo`` that lists a usable node.  With ``KAIROS_COMPAT_START_PEER=1`` it first runs the
peer's start script (``shared/peers/slurm/start.sh`` beside the repository, or
``KAIROS_COMPAT_PEER_SCRIPT``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest

from kairos.testing import slurm_peer as peer_harness
from kairos.testing.commands import clean_environment
from kairos.testing.home import KairosHome
from kairos.testing.slurm_peer import PeerBusy, PeerProbe, SlurmPeer
from kairos.testing.states import has_ended

__all__ = ["Backend", "Final", "KairosBackend", "PeerBusy", "SlurmBackend"]

SCRIPTS = Path(__file__).parent / "scripts"
REPO = Path(__file__).resolve().parents[2]

#: Kairos's cluster name when config.toml does not set one.
KAIROS_CLUSTER = "kairos"
#: Given to every job on both sides (see the module docstring).
COMMON_OPTIONS = ("--mem=50M",)
_SCONTROL_FIELD = re.compile(r"(?:^|\s)(JobId|ArrayTaskId|JobState|ExitCode)=(\S*)")


@dataclass(frozen=True)
class Final:
    """How one job, or one array task, ended, as ``sacct -X -o State,ExitCode`` says."""

    task: int | None
    state: str
    exit_code: str  #: ``code:signal``


class Backend(ABC):
    """A workload manager driven through its Slurm-style commands, from ``workdir``."""

    name: str
    wait_timeout: float  #: the longest one wait may take
    budget: float  #: the longest all waits together may take, from :meth:`start_clock`

    def __init__(self, driver: KairosHome | SlurmPeer) -> None:
        self.driver = driver
        self.workdir = driver.workdir
        self.deadline = float("inf")

    def start_clock(self) -> None:
        self.deadline = time.monotonic() + self.budget

    @abstractmethod
    def finals(self, job_id: int) -> list[Final]:
        """How ``job_id`` ended (one row per array task), once it has."""

    @abstractmethod
    def timed_out(self, what: str) -> Exception:
        """The error to raise when ``what`` did not happen in time."""

    def run(self, tool: str, *args: str, cwd: Path | None = None,
            env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
        return self.driver.run(tool, *args, cwd=cwd, env=env, check=check)

    def sbatch(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> int:
        """Submit with ``--parsable`` (and :data:`COMMON_OPTIONS`); the job id."""
        return self.driver.submit(*COMMON_OPTIONS, *args, cwd=cwd, env=env)

    def squeue(self, job_id: int | str, fields: str) -> list[str]:
        """``squeue -h -t all -j ID -o FIELDS``: one line per job or task."""
        out = self.run("squeue", "-h", "-t", "all", "-j", str(job_id), "-o", fields)
        return out.stdout.splitlines()

    def states(self, job_id: int) -> list[str]:
        return [line.strip() for line in self.squeue(job_id, "%T")]

    def wait_until(self, what: str, done: Callable[[], bool], timeout: float | None = None,
                   poll: float = 0.2) -> None:
        deadline = min(time.monotonic() + (timeout or self.wait_timeout), self.deadline)
        while not done():
            if time.monotonic() > deadline:
                raise self.timed_out(what)
            time.sleep(poll)

    def wait_for_state(self, job_id: int, state: str) -> None:
        self.wait_until(f"job {job_id} to be {state}", lambda: self.states(job_id) == [state])

    def wait(self, job_id: int) -> list[Final]:
        """Wait until every task of ``job_id`` has ended; how each ended."""
        return self.wait_all({"job": job_id})["job"]

    def wait_all(self, ids: dict[str, int]) -> dict[str, list[Final]]:
        """Wait until every job in ``ids`` (label -> id) has ended; how each ended."""
        listed = ",".join(str(i) for i in ids.values())

        def ended() -> bool:
            rows = [line.split("|") for line in self.squeue(listed, "%A|%T")]
            return ({int(job) for job, _ in rows} >= set(ids.values())
                    and all(has_ended(state.strip()) for _, state in rows))

        self.wait_until(f"jobs {listed} to end", ended)
        return self.finals_of(ids)

    def finals_of(self, ids: dict[str, int]) -> dict[str, list[Final]]:
        return {label: self.finals(job_id) for label, job_id in ids.items()}

    def cancel(self, job_id: int) -> None:
        self.run("scancel", str(job_id))

    def release(self, job_id: int) -> None:
        self.run("scontrol", "release", str(job_id))

    @cached_property
    def node_name(self) -> str:
        return self.run("sinfo", "-h", "-o", "%N").stdout.split()[0]

    @cached_property
    def node_names(self) -> list[str]:
        """Every node's name (``sinfo -N``)."""
        return sorted(set(self.run("sinfo", "-h", "-N", "-o", "%N").stdout.split()))

    @cached_property
    def default_partition(self) -> str:
        names = self.run("sinfo", "-h", "-o", "%P").stdout.split()
        return next(n for n in names if n.endswith("*")).rstrip("*")

    @cached_property
    def cluster_name(self) -> str:
        """What the backend calls its cluster (``SLURM_CLUSTER_NAME``)."""
        return self.read_cluster_name()

    @abstractmethod
    def read_cluster_name(self) -> str:
        """Ask the backend for :attr:`cluster_name`."""

    def scenario_dir(self, name: str) -> Path:
        """A fresh submit directory for one scenario, holding copies of the scripts."""
        directory = self.workdir / name
        directory.mkdir()
        for script in SCRIPTS.glob("*.sh"):
            shutil.copy2(script, directory / script.name)
        return directory


class KairosBackend(Backend):
    """A Kairos controller in its own ``KAIROS_HOME``, started by the first command."""

    name = "kairos"
    wait_timeout = 30.0
    budget = 120.0

    def __init__(self, controller: KairosHome) -> None:
        super().__init__(controller)
        self.controller = controller

    def finals(self, job_id: int) -> list[Final]:
        return self.finals_of({"job": job_id})["job"]

    def finals_of(self, ids: dict[str, int]) -> dict[str, list[Final]]:
        """One ``sacct -X -P -n -o JobID,State,ExitCode`` for all of ``ids``."""
        out = self.run("sacct", "-j", ",".join(str(i) for i in ids.values()), "-X", "-P",
                       "-n", "-o", "JobID,State,ExitCode").stdout
        by_job: dict[int, list[Final]] = {}
        for line in out.splitlines():
            job, state, exit_code = line.split("|")
            master, _, task = job.partition("_")
            by_job.setdefault(int(master), []).append(
                Final(int(task) if task else None, state.split()[0], exit_code))
        return {label: sorted(by_job.get(job_id, []), key=lambda r: r.task or 0)
                for label, job_id in ids.items()}

    def timed_out(self, what: str) -> Exception:
        return AssertionError(f"kairos: waited {self.wait_timeout:.0f} s for {what}")

    def read_cluster_name(self) -> str:
        return KAIROS_CLUSTER  # Kairos has no command that prints it

    def stop(self) -> None:
        self.controller.stop()


class SlurmBackend(Backend):
    """The real Slurm peer, through its own commands."""

    name = "slurm"
    wait_timeout = 240.0
    budget = 360.0

    def __init__(self, peer: SlurmPeer) -> None:
        super().__init__(peer)
        self.peer = peer

    def finals(self, job_id: int) -> list[Final]:
        out = self.run("scontrol", "show", "job", "-o", str(job_id)).stdout
        rows = []
        for line in out.splitlines():
            fields = dict(_SCONTROL_FIELD.findall(line))
            if not fields:
                continue
            task = fields.get("ArrayTaskId")
            rows.append(Final(int(task) if task else None, fields["JobState"],
                              fields["ExitCode"]))
        return sorted(rows, key=lambda r: r.task or 0)

    def timed_out(self, what: str) -> Exception:
        return self.peer.busy_error(what)

    def read_cluster_name(self) -> str:
        return self.peer.cluster_name

    def cancel_leftovers(self) -> None:
        """scancel this backend's own jobs, by id (those that ended refuse it)."""
        self.peer.cancel()


def submit_environment() -> dict[str, str]:
    """The environment sbatch runs in: this one without inherited Slurm or Kairos
    settings (a test run inside a Slurm job must not leak its job's variables) nor the
    ``COMPAT_*`` variables the scenarios set themselves."""
    return clean_environment("COMPAT_")


@pytest.fixture(scope="session")
def slurm_peer() -> PeerProbe:
    """The Slurm peer, found once per session (started first when
    ``KAIROS_COMPAT_START_PEER=1``)."""
    started = ""
    if os.environ.get("KAIROS_COMPAT_START_PEER") == "1":
        script = peer_harness.default_start_script(REPO)
        problem = peer_harness.start(script)
        started = f" (start attempt: {problem or f'{script} succeeded'})"
    probe = peer_harness.locate()
    if probe.bin_dir is None:
        return PeerProbe(None, f"no Slurm peer: {probe.reason}; run "
                         "shared/peers/slurm/start.sh or set KAIROS_COMPAT_START_PEER=1"
                         + started)
    return probe


@pytest.fixture(scope="module")
def kairos(tmp_path_factory) -> Iterable[KairosBackend]:
    """One Kairos controller for the module (started by the first command)."""
    base = tmp_path_factory.mktemp("compat-kairos")
    backend = KairosBackend(KairosHome.create(base / "home", base / "work",
                                              env=submit_environment()))
    yield backend
    backend.stop()


@pytest.fixture(scope="module")
def slurm(slurm_peer: PeerProbe, tmp_path_factory) -> Iterable[SlurmBackend]:
    """The Slurm peer, submitting from a temporary directory; skips without a peer."""
    if slurm_peer.bin_dir is None:
        pytest.skip(slurm_peer.reason)
    work = tmp_path_factory.mktemp("compat-slurm")
    work.chmod(0o755)
    backend = SlurmBackend(SlurmPeer(slurm_peer.bin_dir, work, env=submit_environment()))
    yield backend
    backend.cancel_leftovers()
