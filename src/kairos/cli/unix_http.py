"""HTTP/1.1 over a Unix socket, as much as the commands need to talk to the controller:
one request at a time on a kept-alive connection, responses sized by Content-Length or
sent chunked.

Why not ``http.client``: importing it brings the ``email`` package and ``ssl`` along,
about a quarter of a command's start, and workflow managers start ``sbatch`` and
``squeue`` by the thousand.  The controller is our own server (uvicorn), so the subset
spoken here is known: no proxies, no TLS, no 1xx responses, no trailers.
"""

from __future__ import annotations

import socket


class Disconnected(ConnectionError):
    """The server closed the connection before a whole response came back (a kept-alive
    connection it had timed out, or a server going away)."""


class UnixHTTPConnection:
    """One connection to an HTTP server on a Unix socket, opened on first use."""

    def __init__(self, path: str, timeout: float, host: str = "kairos") -> None:
        self.path = path
        self.timeout = timeout
        self.host = host
        self._sock: socket.socket | None = None
        self._file = None

    def request(self, method: str, target: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """Send one request; its status and body.  Raises ``FileNotFoundError`` when no
        socket is at the path, ``ConnectionError`` (:class:`Disconnected` included) when
        the connection fails, ``TimeoutError`` when the server is too slow."""
        if self._sock is None:
            self._open()
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._sock.sendall(head + (body or b""))
        return self._response()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = self._file = None

    def _open(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except BaseException:
            sock.close()
            raise
        self._sock, self._file = sock, sock.makefile("rb")

    def _response(self) -> tuple[int, bytes]:
        status_line = self._file.readline(65537)
        if not status_line:
            raise Disconnected("the server closed the connection")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise ConnectionError(f"not an HTTP response: {status_line[:80]!r}")
        status = int(parts[1])
        fields: dict[bytes, bytes] = {}
        while True:
            line = self._file.readline(65537)
            if not line:
                raise Disconnected("the server closed the connection mid-response")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip()
        if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = self._chunked()
        elif b"content-length" in fields:
            body = self._exactly(int(fields[b"content-length"]))
        else:  # the body runs to the end of the connection
            body = self._file.read()
            fields[b"connection"] = b"close"
        if fields.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, body

    def _chunked(self) -> bytes:
        chunks = []
        while True:
            size = int(self._file.readline(65537).split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self._file.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers, which our server never sends
                return b"".join(chunks)
            chunks.append(self._exactly(size))
            self._file.readline(65537)  # the CRLF after each chunk

    def _exactly(self, size: int) -> bytes:
        data = self._file.read(size)
        if len(data) < size:
            raise Disconnected(f"the server sent {len(data)} of {size} bytes")
        return data
