"""Asking a controller that may be restarting.

A controller started again after a crash (``kairos up``) takes a moment to answer; a
command that a job runs in that moment (``srun`` making its step) waits for it rather
than failing the job's work, as Slurm's commands retry an unreachable slurmctld.  The
controller does not answer when the node daemon a job's commands talk to says so (HTTP
502), when that daemon cannot check credentials yet (503, 504), or when the socket
refuses the connection (status 0).  ``patiently`` asks again for up to
``CONTROLLER_WAIT_S`` seconds, saying once that it waits; a signal that stops the
command ends the wait.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Collection
from typing import TypeVar

from kairos.cli.client import ApiError
from kairos.cli.slurm._signals import Signals

#: How long a command waits for a controller that does not answer (Slurm's default
#: SlurmctldTimeout is 120 s; a restart of Kairos' controller takes seconds).
CONTROLLER_WAIT_S = 60.0
#: The statuses of a request that no controller answered.
UNANSWERED = frozenset({0, 502, 503, 504})
#: The longest pause between two tries.
MAX_PAUSE_S = 1.0

T = TypeVar("T")


def unanswered(error: ApiError) -> bool:
    """Whether ``error`` says no controller answered (rather than one that refused)."""
    return error.status in UNANSWERED


def patiently(ask: Callable[[], T], *, prog: str, signals: Signals,
              stopping: Collection[int], quiet: bool = False,
              wait: float = CONTROLLER_WAIT_S) -> T:
    """``ask()``, again while the controller does not answer, for up to ``wait``
    seconds; the last ``ApiError`` when it never does or a signal in ``stopping``
    comes (other signals are dropped meanwhile: nothing runs yet to pass them to)."""
    deadline = time.monotonic() + wait
    pause = 0.1
    told = False
    while True:
        try:
            return ask()
        except ApiError as error:
            if not unanswered(error) or time.monotonic() >= deadline:
                raise
            if not told and not quiet:
                print(f"{prog}: error: {error.message}; retrying for up to {wait:g} s",
                      file=sys.stderr, flush=True)
            told = True
            if any(number in stopping for number in signals.wait(pause)):
                raise
            pause = min(pause * 2, MAX_PAUSE_S)
