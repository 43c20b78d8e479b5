"""Signals as events of a command's loop (srun, salloc).

The signals a command handles do nothing in their handlers; the interpreter writes each
one's number into a pipe (``signal.set_wakeup_fd``), which the command's ``select``
waits on with its sockets.  So a signal never interrupts the command halfway through
writing output or talking to the controller: it is handled where the loop reads it.
"""

from __future__ import annotations

import os
import select
import signal
from collections.abc import Iterable


class Signals:
    """Catch ``handled`` until ``restore()``; ``take()``/``wait()`` give those that came."""

    def __init__(self, handled: Iterable[int]) -> None:
        self.fd, self._write_fd = os.pipe()
        for fd in (self.fd, self._write_fd):
            os.set_blocking(fd, False)
        self._old_wakeup = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        self._old = {number: signal.signal(number, _noted) for number in handled}

    def take(self) -> list[int]:
        """The signals that came since the last call, in order."""
        got = b""
        try:
            while chunk := os.read(self.fd, 512):
                got += chunk
        except BlockingIOError:
            pass
        return list(got)

    def wait(self, timeout: float) -> list[int]:
        """Sleep up to ``timeout`` seconds, less if a signal comes; the signals."""
        if timeout > 0:
            select.select([self.fd], [], [], timeout)
        return self.take()

    def restore(self) -> None:
        for number, handler in self._old.items():
            signal.signal(number, handler)
        signal.set_wakeup_fd(self._old_wakeup)
        for fd in (self.fd, self._write_fd):
            os.close(fd)


def _noted(number: int, frame: object) -> None:
    """The handler: the wakeup pipe has the signal already."""
