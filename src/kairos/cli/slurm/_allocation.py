"""An allocation-only job held by the command that asked for it (``srun`` outside a
job, ``salloc``): asked for, waited for, kept alive, given back.

The controller gets a ``Submission`` with ``allocation=True`` (no batch script); the
command polls the job until it runs (printing Slurm's ``job N queued and waiting for
resources`` and ``job N has been allocated resources`` when it had to wait), then says
every ``KEEPALIVE_S`` seconds that it is still there, from a thread with its own
connection, and at the end releases the job with the exit code of what ran in it.  A
Ctrl-C (or SIGTERM) while waiting cancels the request, as Slurm's ``Job allocation N
has been revoked``.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from kairos.cli.client import ApiError, Client
from kairos.cli.slurm._signals import Signals
from kairos.core.jobs import JobState

#: Seconds between keepalives (the controller gives up on a holder silent for 60).
KEEPALIVE_S = 10.0
#: How long a new job may stay pending before the command says it waits.
QUIET_WAIT_S = 0.3
#: Signals that end a command waiting for its allocation.
STOPPING = frozenset({signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGTERM})


@dataclass
class Words:
    """How a command words its allocation's life (srun and salloc differ)."""

    prog: str
    refused: str  #: before the controller's reason: "Unable to allocate resources"
    pending: bool = False  #: salloc says "Pending job allocation N" first
    granted: bool = False  #: salloc says "Granted job allocation N"
    revoked_end: str = ""  #: "." after salloc's "has been revoked"


class Stopped(Exception):
    """The command's own exit status, decided while getting its allocation."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Allocation:
    """A running allocation-only job this command holds."""

    def __init__(self, client: Client, job: dict[str, Any], words: Words) -> None:
        self.client = client
        self.job_id = int(job["job_id"])
        self.node_list = str(job.get("node_list") or "")
        self.words = words
        self._stop = threading.Event()
        self._revoked = threading.Event()
        self._thread = threading.Thread(target=self._keep_alive, name="keepalive", daemon=True)
        self._thread.start()

    @property
    def revoked(self) -> bool:
        """Whether the controller ended the job while it was held (time limit, scancel)."""
        return self._revoked.is_set()

    def _keep_alive(self) -> None:
        client = Client(self.client.path, timeout=KEEPALIVE_S)
        try:
            while not self._stop.wait(KEEPALIVE_S):
                try:
                    state = _state(client.keepalive(self.job_id))
                except ApiError as error:
                    if error.status in (400, 404):
                        self._revoked.set()
                    continue
                if state is not None and state is not JobState.RUNNING:
                    self._revoked.set()
        finally:
            client.close()

    def release(self, exit_code: int) -> None:
        """Give the allocation back, with the exit code of what ran in it."""
        self._stop.set()
        try:
            self.client.release_allocation(self.job_id, exit_code)
        except (ApiError, OSError):
            pass  # the job has ended already: nothing to give back


def obtain(client: Client, submission: dict[str, Any], words: Words, signals: Signals, *,
           quiet: bool, immediate: float | None = None) -> Allocation:
    """Ask for an allocation and wait until it runs; raises ``Stopped`` with the exit
    status when it is refused, revoked, cancelled by a signal or (``immediate``) not
    granted in time."""
    try:
        job_id = int(client.submit(submission)["job_id"])
    except ApiError as error:
        _say(words, f"error: {words.refused}: {error.message}")
        raise Stopped(1) from None
    began = time.monotonic()
    announced = False
    delay = 0.01
    while True:
        job = _job(client, job_id)
        state = _state(job)
        if state is JobState.RUNNING and job.get("node_list"):
            break
        if state is None or state.finished:
            _say(words, f"Job allocation {job_id} has been revoked{words.revoked_end}")
            raise Stopped(1)
        waited = time.monotonic() - began
        if immediate is not None and waited >= immediate:
            _cancel(client, job_id)
            _say(words, f"error: {words.refused}: Requested nodes are busy")
            raise Stopped(1)
        if not announced and waited >= QUIET_WAIT_S:
            announced = True
            if not quiet:
                if words.pending:
                    _say(words, f"Pending job allocation {job_id}")
                _say(words, f"job {job_id} queued and waiting for resources")
        got = [s for s in signals.wait(delay) if s in STOPPING]
        if got:
            _cancel(client, job_id)
            _say(words, f"Job allocation {job_id} has been revoked{words.revoked_end}")
            if words.pending:
                _say(words, "Job aborted due to signal")
            elif got[0] != signal.SIGINT:
                _say(words, f"Force Terminated JobId={job_id}")
            raise Stopped(1)
        delay = min(delay * 2, 0.5)
    if announced and not quiet:
        _say(words, f"job {job_id} has been allocated resources")
    if words.granted and not quiet:
        _say(words, f"Granted job allocation {job_id}")
    return Allocation(client, job, words)


def _job(client: Client, job_id: int) -> dict[str, Any]:
    try:
        return client.job(str(job_id))
    except ApiError as error:
        if error.status == 404:
            return {"state": JobState.CANCELLED.name}
        raise


def _state(info: dict[str, Any]) -> JobState | None:
    """The state a controller's answer names (None when it names none)."""
    name = info.get("state")
    return JobState.__members__.get(str(name)) if name is not None else None


def _cancel(client: Client, job_id: int) -> None:
    try:
        client.cancel(ids=[str(job_id)])
    except (ApiError, OSError):
        pass


def _say(words: Words, text: str) -> None:
    print(f"{words.prog}: {text}", file=sys.stderr, flush=True)
