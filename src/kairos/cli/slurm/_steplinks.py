"""The step's nodes' connections to srun: the listener, the address the nodes are told
to connect to, and each node's link (its frames in, srun's input out).

Every node of a step connects once and says who it is first: a ``HELLO`` frame
(``kairos.model.stepio``) with the step's one-time token, its name and its tasks.  A
connection whose first frame is not that HELLO is closed unread.  Everything srun sends
a node (its standard input, ``StdinRelay``) is queued and written as the socket takes
it, so a node that reads slowly never blocks srun.
"""

from __future__ import annotations

import hmac
import os
import selectors
import socket
import stat
from collections.abc import Callable, Iterator, Mapping

from kairos.model import stepio

#: One frame: (kind, task id, payload).
Frame = tuple[bytes, int, bytes]


def listen() -> socket.socket:
    """srun's listener for the step's nodes, on every address, a port of the kernel's."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("0.0.0.0", 0))
    server.listen(1024)
    server.setblocking(False)
    return server


def io_address(env: Mapping[str, str], node_addresses: list[str]) -> str:
    """The address the step's nodes are to connect to: ``$KAIROS_IO_ADDR`` when set;
    else this host's address on the route to the first node of the job that has a
    network address (the interface the nodes reach this host by: on a test cluster each
    node is a network namespace behind a bridge, and the route to it leaves by the
    bridge); else, when every node lives in the controller's own process, the loopback
    address."""
    chosen = env.get("KAIROS_IO_ADDR")
    if chosen:
        return chosen
    for address in node_addresses:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect((address, 9))  # a UDP "connection" only picks the route
                return probe.getsockname()[0]
        except OSError:
            continue
    return "127.0.0.1"


class NodeLink:
    """One node's connection: the frames read so far, the node, its tasks, what srun
    has still to send it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = stepio.Reader()
        self.node: str | None = None  #: None until its HELLO has come
        self.tasks: list[int] = []
        self.outgoing = bytearray()


class Links:
    """The connections of a step's nodes, on srun's selector.

    ``on_frames(link, frames)`` gets the frames of a link that said HELLO,
    ``on_hello(link)`` each new node, ``on_closed(link)`` each link that ended (after
    its HELLO), ``on_drained()`` each time a link has sent all srun queued for it.
    """

    def __init__(self, selector: selectors.BaseSelector, listener: socket.socket, token: str, *,
                 on_frames: Callable[[NodeLink, list[Frame]], None],
                 on_hello: Callable[[NodeLink], None],
                 on_closed: Callable[[NodeLink], None],
                 on_drained: Callable[[], None]) -> None:
        self.selector = selector
        self.token = token.encode()
        self.on_frames, self.on_hello = on_frames, on_hello
        self.on_closed, self.on_drained = on_closed, on_drained
        self._links: dict[socket.socket, NodeLink] = {}
        selector.register(listener, selectors.EVENT_READ, self._accept)

    def __iter__(self) -> Iterator[NodeLink]:
        """The links whose node has said who it is."""
        return (link for link in list(self._links.values()) if link.node is not None)

    def nodes(self) -> set[str]:
        return {link.node for link in self if link.node is not None}

    def backlog(self) -> int:
        """The most bytes srun has queued for one node."""
        return max((len(link.outgoing) for link in self._links.values()), default=0)

    def send(self, data: bytes) -> None:
        """Queue ``data`` for every node and send what the sockets take now."""
        for link in self:
            link.outgoing += data
            self._flush(link)

    def close(self) -> None:
        for link in list(self._links.values()):
            self._forget(link)

    # ---- the selector's callbacks

    def _accept(self, listener: socket.socket, mask: int) -> None:
        try:
            sock, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        sock.setblocking(False)
        self._links[sock] = NodeLink(sock)
        self.selector.register(sock, selectors.EVENT_READ, self._ready)

    def _ready(self, sock: socket.socket, mask: int) -> None:
        link = self._links.get(sock)
        if link is None:
            return
        if mask & selectors.EVENT_WRITE:
            self._flush(link)
        if mask & selectors.EVENT_READ:
            self._read(link)

    def _read(self, link: NodeLink) -> None:
        try:
            data = link.sock.recv(1 << 18)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        try:
            frames = link.reader.feed(data) if data else []
        except stepio.ProtocolError:
            data, frames = b"", []
        if frames and link.node is None:
            if not self._hello(link, frames[0]):
                self._forget(link)
                return
            frames = frames[1:]
            self.on_hello(link)
        if frames:
            self.on_frames(link, frames)
        if not data:
            self._forget(link)
            if link.node is not None:
                self.on_closed(link)

    def _hello(self, link: NodeLink, frame: Frame) -> bool:
        """Whether the first frame is the step's HELLO; the link learns its node."""
        kind, _, payload = frame
        try:
            body = stepio.payload_json(payload) if kind == stepio.HELLO else {}
        except stepio.ProtocolError:
            body = {}
        if not hmac.compare_digest(str(body.get("token", "")).encode(), self.token):
            return False
        link.node = str(body.get("node") or "")
        link.tasks = [int(t) for t in body.get("tasks") or ()]
        return True

    def _flush(self, link: NodeLink) -> None:
        try:
            while link.outgoing:
                del link.outgoing[:link.sock.send(link.outgoing)]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            link.outgoing.clear()  # the node went away: its part of the input is dropped
        if link.sock not in self._links:
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if link.outgoing else 0)
        self.selector.modify(link.sock, events, self._ready)
        if not link.outgoing:
            self.on_drained()

    def _forget(self, link: NodeLink) -> None:
        if self._links.pop(link.sock, None) is None:
            return
        try:
            self.selector.unregister(link.sock)
        except (KeyError, ValueError):
            pass
        link.sock.close()


class StdinRelay:
    """srun's standard input to the tasks that read it: ``INPUT`` frames addressed to
    every task (``stepio.ALL_TASKS``; each node gives them to the tasks that read
    srun's input) and an empty one at its end.

    Reading pauses while a node has more than ``HIGH_WATER`` bytes of it unsent.  A
    file or ``/dev/null`` cannot be waited on (``epoll`` refuses them): it is always
    ready, and ``pump`` reads it a piece per turn of srun's loop.  srun in the
    background of a terminal does not read it (reading would stop srun, as a
    background job reading its terminal is stopped); the tasks see its end at once.
    """

    HIGH_WATER = 4 << 20

    def __init__(self, fd: int, selector: selectors.BaseSelector, links: Links) -> None:
        self.fd = fd
        self.selector = selector
        self.links = links
        self.started = self.reading = self.done = self.always_ready = False

    @property
    def busy(self) -> bool:
        """Whether there may be more to read right now (srun's loop must not sleep)."""
        return self.always_ready and self.reading

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        if not self._usable():
            self._end()
            return
        try:
            self.selector.register(self.fd, selectors.EVENT_READ, self._readable)
        except OSError:  # PermissionError from epoll: a regular file or /dev/null
            self.always_ready = True
        self.reading = True

    def pump(self) -> None:
        if self.busy:
            self._readable(self.fd, selectors.EVENT_READ)

    def resume(self) -> None:
        """Read again once the nodes have taken most of what was queued."""
        if self.reading or self.done or not self.started or \
                self.links.backlog() > self.HIGH_WATER // 2:
            return
        self.reading = True
        if not self.always_ready:
            self.selector.register(self.fd, selectors.EVENT_READ, self._readable)

    def _readable(self, fd: object, mask: int) -> None:
        if not self.reading:
            return
        if self.links.backlog() > self.HIGH_WATER:
            self._pause()
            return
        try:
            data = os.read(self.fd, 1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            self.links.send(b"".join(stepio.frames(stepio.INPUT, stepio.ALL_TASKS, data)))
        else:
            self._pause()
            self._end()

    def _end(self) -> None:
        self.done = True
        self.links.send(stepio.frame(stepio.INPUT, stepio.ALL_TASKS))

    def _pause(self) -> None:
        if not self.reading:
            return
        self.reading = False
        if not self.always_ready:
            try:
                self.selector.unregister(self.fd)
            except (KeyError, ValueError):
                pass

    def _usable(self) -> bool:
        try:
            mode = os.fstat(self.fd).st_mode
        except OSError:
            return False
        if stat.S_ISCHR(mode) and os.isatty(self.fd):
            try:
                return os.tcgetpgrp(self.fd) == os.getpgrp()
            except OSError:
                return False
        return True
