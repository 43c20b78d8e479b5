"""One supervisor process as the agent watches it: a batch job's or a job step's.

The agent starts a supervisor (:mod:`kairos.node.supervisor`) on a directory in a session
of its own, or, after a restart, finds it again by the pid and kernel start time its
``state.json`` records (or by its command line, when it died before writing one), so a
recycled pid is never mistaken for a live supervisor. It then asks whether it still
runs, signals it or the process group it runs, and reads its ``status.json`` once it
has ended.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil

from kairos.node import supervisor as supervisor_package
from kairos.node.supervisor.procs import start_ticks

#: The supervisor's bootstrap, run by its path (see :mod:`kairos.node.supervisor` for why).
SUPERVISOR_PATH = Path(supervisor_package.__file__).resolve().parent / "__main__.py"
#: What the agent sends a supervisor (cancel, new limits): blocked until it has its handlers.
HELD_UNTIL_READY = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


@dataclass
class Supervised:
    """A job or step the agent watches: its ids, its directory, its supervisor."""

    job_id: int
    jobdir: Path  # a step's own directory for a step
    cpu_ids: list[int]
    gpu_ids: list[int]
    proc: subprocess.Popen | None = None  # set when the supervisor is our child
    pid: int | None = None
    start_ticks: int | None = None
    step_id: int | None = None  # None for a batch job

    @classmethod
    def start(cls, python: str, job_id: int, jobdir: Path, cpu_ids: list[int], gpu_ids: list[int],
              step_id: int | None = None) -> Supervised:
        """A new supervisor on ``jobdir``, in a session of its own, logging to supervisor.log.

        It starts with the signals it handles blocked (a signal mask survives ``exec``), so
        a cancel sent before it has set its handlers waits for them instead of killing
        it; it unblocks them once it can act on them.
        """
        before = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_UNTIL_READY)
        try:
            with open(jobdir / "supervisor.log", "ab") as log:
                proc = subprocess.Popen(
                    supervisor_command(python, jobdir),
                    start_new_session=True, close_fds=True, cwd="/",
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                )
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, before)
        return cls(job_id, jobdir, cpu_ids, gpu_ids, proc=proc, pid=proc.pid, step_id=step_id)

    @classmethod
    def find(cls, job_id: int, jobdir: Path, cpu_ids: list[int], gpu_ids: list[int],
             step_id: int | None = None) -> Supervised:
        """The supervisor an earlier agent started on ``jobdir``, wherever it is now."""
        watched = cls(job_id, jobdir, cpu_ids, gpu_ids, step_id=step_id)
        watched.pid, watched.start_ticks = find_supervisor(jobdir)
        return watched

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        if self.pid is None:
            return False
        ticks = start_ticks(self.pid)
        return ticks is not None and ticks == self.start_ticks and not is_zombie(self.pid)

    def ended(self) -> tuple[bool, dict | None]:
        """Whether the supervisor is done, and its status.json (None: it left none)."""
        status = read_json(self.jobdir / "status.json")
        if status is not None:
            return True, status
        if self.alive():
            return False, None
        return True, read_json(self.jobdir / "status.json")  # written just before it exited

    def signal_supervisor(self, signum: int) -> bool:
        if self.pid is None or not self.alive():
            return False
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            return False
        return True

    def signal_group(self, signum: int, before=None) -> bool:
        """``signum`` to the process group state.json names, while the supervisor runs;
        ``before()`` is called first, once it is sure the signal goes out."""
        state = read_json(self.jobdir / "state.json")
        if state is None or (self.jobdir / "status.json").exists() or not self.alive():
            return False
        if before is not None:
            before()
        try:
            os.killpg(int(state["job_pid"]), signum)
        except ProcessLookupError:
            return False
        return True

    def recorded_start(self) -> float | None:
        state = read_json(self.jobdir / "state.json")
        return float(state["start"]) if state and state.get("start") else None


def find_supervisor(jobdir: Path) -> tuple[int | None, int | None]:
    """The supervisor's pid and start ticks, from state.json or by its command line."""
    state = read_json(jobdir / "state.json")
    if state and state.get("supervisor_pid"):
        return int(state["supervisor_pid"]), int(state.get("supervisor_start_ticks") or 0)
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if len(cmdline) >= 2 and cmdline[-1] == str(jobdir) and cmdline[-2] == str(SUPERVISOR_PATH):
            return proc.pid, start_ticks(proc.pid)
    return None, None


def supervisor_command(python: str, jobdir: Path) -> list[str]:
    """The command line of ``jobdir``'s supervisor: isolated (``-I``), without site-packages
    (``-S``), so it starts in milliseconds on the standard library alone."""
    return [python, "-I", "-S", str(SUPERVISOR_PATH), str(jobdir)]


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def is_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True
