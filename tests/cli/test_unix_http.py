"""The commands' HTTP client against a Unix-socket server that answers each request with
a scripted response: sized bodies, chunked bodies, closing and kept-alive connections,
and servers that hang up mid-response."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from kairos.cli.unix_http import Disconnected, UnixHTTPConnection


class ScriptedServer:
    """Accepts connections and answers the n-th request with ``responses[n]`` (raw
    bytes); records each request's head and body.  ``None`` closes the connection
    instead of answering."""

    def __init__(self, path: Path, responses: list[bytes | None]) -> None:
        self.responses = list(responses)
        self.requests: list[tuple[bytes, bytes]] = []
        self.connections = 0
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while self.responses:
            conn, _ = self.listener.accept()
            self.connections += 1
            with conn, conn.makefile("rb") as reader:
                while self.responses:
                    head = b""
                    while not head.endswith(b"\r\n\r\n"):
                        line = reader.readline()
                        if not line:
                            break
                        head += line
                    if not head:
                        break
                    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), 0)
                    self.requests.append((head, reader.read(length)))
                    response = self.responses.pop(0)
                    if response is None:
                        break
                    conn.sendall(response)
                    if b"Connection: close" in response:
                        break


@pytest.fixture
def socket_path(tmp_path):
    return tmp_path / "http.sock"


def _sized(body: bytes, status: str = "200 OK", extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def test_requests_share_one_kept_alive_connection(socket_path):
    server = ScriptedServer(socket_path, [_sized(b'{"a": 1}'), _sized(b"[]", "404 Not Found")])
    conn = UnixHTTPConnection(str(socket_path), timeout=5)
    assert conn.request("POST", "/api/v1/jobs", b'{"x": 2}',
                        {"Content-Type": "application/json"}) == (200, b'{"a": 1}')
    assert conn.request("GET", "/api/v1/jobs?ids=1") == (404, b"[]")
    assert server.connections == 1
    (first_head, first_body), (second_head, second_body) = server.requests
    assert first_head.startswith(b"POST /api/v1/jobs HTTP/1.1\r\nHost: kairos\r\n")
    assert b"Content-Length: 8\r\n" in first_head and first_body == b'{"x": 2}'
    assert second_head.startswith(b"GET /api/v1/jobs?ids=1 HTTP/1.1\r\n")
    assert b"Content-Length" not in second_head and second_body == b""
    conn.close()


def test_a_chunked_body_is_put_together(socket_path):
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n")
    ScriptedServer(socket_path, [chunked, _sized(b"next")])
    conn = UnixHTTPConnection(str(socket_path), timeout=5)
    assert conn.request("GET", "/x") == (200, b"hello, world")
    assert conn.request("GET", "/y") == (200, b"next")  # the connection is still in step


def test_connection_close_makes_the_next_request_open_a_new_one(socket_path):
    server = ScriptedServer(socket_path, [_sized(b"1", extra="Connection: close\r\n"),
                                          _sized(b"2")])
    conn = UnixHTTPConnection(str(socket_path), timeout=5)
    assert conn.request("GET", "/a") == (200, b"1")
    assert conn.request("GET", "/b") == (200, b"2")
    assert server.connections == 2


def test_a_server_that_hangs_up_is_a_disconnection(socket_path):
    ScriptedServer(socket_path, [None])
    conn = UnixHTTPConnection(str(socket_path), timeout=5)
    with pytest.raises(Disconnected):
        conn.request("GET", "/a")


def test_a_short_body_is_a_disconnection(socket_path):
    ScriptedServer(socket_path, [b"HTTP/1.1 200 OK\r\nConnection: close\r\n"
                                 b"Content-Length: 10\r\n\r\nabc"])
    conn = UnixHTTPConnection(str(socket_path), timeout=5)
    with pytest.raises(Disconnected, match="3 of 10 bytes"):
        conn.request("GET", "/a")


def test_no_socket_is_file_not_found(socket_path):
    with pytest.raises(FileNotFoundError):
        UnixHTTPConnection(str(socket_path), timeout=5).request("GET", "/")
