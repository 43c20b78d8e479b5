"""Processes that outlive the command that started them: node daemons and munged of a
test cluster.

Each one runs in a session (and process group) of its own, so that a terminal's Ctrl-C
does not reach it and stopping it reaches its helpers too, with its output appended to a
log file.  It is remembered by pid *and* kernel start time, so that a later command (the
teardown of ``kairos down``, or the cleanup after a crash) can stop it without ever
signalling an unrelated process that inherited its pid.  It can also carry a mark in its
environment, which its children inherit: :func:`find_marked` finds them all again even
when the record of what was started is lost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from kairos.node.supervisor.procs import start_ticks


@dataclass(frozen=True)
class Detached:
    """A started process: ``label`` says what it is (``"kn1 munged"``), ``log`` where
    its output goes."""

    pid: int
    ticks: int
    label: str
    log: str

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping) -> Detached:
        return cls(int(data["pid"]), int(data["ticks"]), str(data["label"]), str(data["log"]))


def start(argv: Sequence[str], *, label: str, log: Path, cwd: Path,
          env: Mapping[str, str] | None = None) -> Detached:
    """Start ``argv`` detached, its stdout and stderr appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        child = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 cwd=cwd, env=None if env is None else dict(env), start_new_session=True)
    ticks = start_ticks(child.pid)
    # A command that failed at once is already a zombie: still readable, and still this pid.
    return Detached(child.pid, ticks or 0, label, str(log))


def alive(proc: Detached) -> bool:
    """Whether ``proc`` still runs (not a recycled pid, not a zombie); reaps it when it is
    this process's child and has ended."""
    _reap(proc.pid)
    if start_ticks(proc.pid) != proc.ticks:
        return False
    try:
        with open(f"/proc/{proc.pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state in (b"Z", b"X"):
        _reap(proc.pid)  # it ended after the first look: a child of ours is collected now
        return False
    return True


def stop(procs: Iterable[Detached], grace: float = 5.0) -> None:
    """SIGTERM each live process's group, then SIGKILL what is left after ``grace`` s."""
    live = [p for p in procs if alive(p)]
    for proc in live:
        _signal_group(proc.pid, signal.SIGTERM)
    live = wait_gone(live, grace)
    for proc in live:
        _signal_group(proc.pid, signal.SIGKILL)
    wait_gone(live, 2.0)


def stop_pids(pids: Iterable[int], grace: float = 5.0) -> None:
    """SIGTERM then SIGKILL plain pids, found just now (the processes of a namespace)."""
    procs = [Detached(pid, start_ticks(pid) or 0, "", "") for pid in pids]
    live = [p for p in procs if p.ticks and alive(p)]
    for proc in live:
        _kill(proc.pid, signal.SIGTERM)
    for proc in wait_gone(live, grace):
        _kill(proc.pid, signal.SIGKILL)


def find_marked(variable: str, value: str) -> list[Detached]:
    """The processes (this one aside) whose environment has ``variable=value``."""
    mark = f"{variable}={value}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                marked = mark in f.read().split(b"\0")
        except OSError:
            continue
        ticks = start_ticks(int(name)) if marked else None
        if ticks:
            found.append(Detached(int(name), ticks, f"{_command_name(int(name))} (pid {name})", ""))
    return found


def wait_gone(procs: list[Detached], timeout: float) -> list[Detached]:
    """Wait up to ``timeout`` s for ``procs`` to end; those still running."""
    give_up = time.monotonic() + timeout
    while True:
        procs = [p for p in procs if alive(p)]
        if not procs or time.monotonic() >= give_up:
            return procs
        time.sleep(0.02)


def _signal_group(pid: int, signum: int) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
            return
    except ProcessLookupError:
        return
    _kill(pid, signum)


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _command_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
