"""The step supervisor's one connection to the ``srun`` that launched the step.

The frames are those of :mod:`kairos.model.stepio`. Writes never block the supervisor:
frames wait in a buffer that the main loop flushes when the socket can take more, and
the loop stops reading the tasks' output while the buffer is full, so a slow ``srun``
slows the tasks down (their pipes fill up) rather than growing the supervisor without
bound. When the connection breaks, the tasks run on to their end, as under Slurm: their
output is dropped from then on and the break is kept in :attr:`SrunLink.lost`, which the
supervisor writes into status.json.
"""

from __future__ import annotations

import socket
import time

from kairos.model import stepio

#: Seconds to reach srun's listener before the step's launch fails.
CONNECT_TIMEOUT_S = 10.0
#: Buffered output (bytes) above which the tasks' output waits for srun to read.
HIGH_WATER = 4 << 20
#: How much one read from a task's pipe takes.
CHUNK = 64 << 10


class SrunLink:
    """A connected, non-blocking socket to srun with an output buffer."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.outgoing = bytearray()
        self.reader = stepio.Reader()
        self.lost = ""  # why the connection broke, once it has
        self.last_progress = time.monotonic()  # when srun last took bytes, or the buffer last filled from empty

    @classmethod
    def connect(cls, host: str, port: int, token: str, node: str, tasks: list[int]) -> SrunLink:
        """Connect and say HELLO; ``OSError`` when srun cannot be reached."""
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(stepio.hello(token, node, tasks))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return cls(sock)

    @property
    def open(self) -> bool:
        return not self.lost

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, data: bytes) -> None:
        """Queue frames for srun (dropped once the connection is lost)."""
        if not self.lost:
            if not self.outgoing:
                self.last_progress = time.monotonic()
            self.outgoing += data

    def send_output(self, kind: bytes, task: int, data: bytes) -> None:
        self.send(b"".join(stepio.frames(kind, task, data)))

    def send_exit(self, task: int, exit_code: int, signum: int) -> None:
        self.send(stepio.exited(task, exit_code, signum))

    def full(self) -> bool:
        return len(self.outgoing) >= HIGH_WATER

    def stalled_for(self) -> float:
        """Seconds srun has taken nothing of what waits for it (0 when nothing waits)."""
        return time.monotonic() - self.last_progress if self.outgoing and not self.lost else 0.0

    def flush(self) -> None:
        """Send what the socket takes now."""
        while self.outgoing and not self.lost:
            try:
                sent = self.sock.send(self.outgoing)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self.lose(f"the connection to srun broke: {e.strerror or e}")
                return
            if sent:
                self.last_progress = time.monotonic()
            del self.outgoing[:sent]

    def receive(self) -> list[tuple[bytes, int, bytes]]:
        """The frames srun sent (its INPUT); an end of stream or garbage loses the link."""
        try:
            data = self.sock.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError as e:
            self.lose(f"the connection to srun broke: {e.strerror or e}")
            return []
        if not data:
            self.lose("srun closed the connection")
            return []
        try:
            return self.reader.feed(data)
        except stepio.ProtocolError as e:
            self.lose(f"srun sent something that is not a step frame: {e}")
            return []

    def lose(self, why: str) -> None:
        if not self.lost:
            self.lost = why
        self.outgoing.clear()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
