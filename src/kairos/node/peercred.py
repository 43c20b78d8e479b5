"""Who is calling: Unix peer credentials of an API socket.

The controller's API (and a node daemon's, for the commands run on its host) listens on
a Unix socket.  The kernel tells the server the uid, gid and pid
of the process at the other end (``SO_PEERCRED``), so no token or password exists to
leak: the socket file's mode decides who may connect at all (0600 for a per-user
controller, 0666 for a shared one run by root), and the credentials decide what each
caller may change.

uvicorn does not pass socket details to the application, so ``PeerCredentialsProtocol``
(uvicorn's httptools protocol plus two lines) reads them when a connection opens and
adds them to every request's ASGI scope under ``"kairos.peer"``.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


SCOPE_KEY = "kairos.peer"
_UCRED = struct.Struct("3i")  # pid, uid, gid


@dataclass(frozen=True, slots=True)
class Peer:
    """The process at the other end of a Unix socket, as the kernel says."""

    uid: int
    gid: int
    pid: int = 0


def peer_credentials(sock: socket.socket) -> Peer | None:
    """The peer's (uid, gid, pid) on a Unix socket; None on any other socket."""
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return Peer(uid=uid, gid=gid, pid=pid)


class PeerCredentialsProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, with the peer's credentials in each request's scope."""

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.peer = peer_credentials(transport.get_extra_info("socket"))

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[SCOPE_KEY] = self.peer  # type: ignore[literal-required]
