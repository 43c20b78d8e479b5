"""The wire between a job step's tasks and the ``srun`` that launched them.

``srun`` listens on a TCP port; on every node of the step, the step's supervisor connects
to it once, says who it is (``HELLO``: the step's one-time token, its node, its tasks),
and then multiplexes its tasks' output and exits over that one connection, in frames:

    kind (1 byte) | task id (uint32, big-endian) | length (uint32) | payload

* ``HELLO`` (``H``, task 0): JSON ``{"token", "node", "tasks": [global task ids]}``; a
  connection whose token is wrong is closed unread.
* ``OUT`` / ``ERR`` (``O`` / ``E``): bytes a task wrote to its stdout / stderr, as is.
* ``EXIT`` (``X``): JSON ``{"exit_code": int, "signal": int}``, the task's end.
* ``INPUT`` (``I``, from ``srun`` to the node): bytes for the task's stdin; an empty
  payload closes it.  The task id ``ALL_TASKS`` addresses every task of the node that
  reads ``srun``'s stdin (``srun --input=all``); a task that does not read it drops the
  bytes.

Bytes are never decoded on the way: a task may write binary data.  Standard library
only: both the supervisor (started with ``python -I -S``) and ``srun`` import it.
"""

from __future__ import annotations

import json
import struct
from typing import Any

HELLO, OUT, ERR, EXIT, INPUT = b"H", b"O", b"E", b"X", b"I"
KINDS = frozenset({HELLO, OUT, ERR, EXIT, INPUT})
HEADER = struct.Struct("!cII")
#: The task id of an ``INPUT`` frame meant for every task that reads srun's stdin.
ALL_TASKS = 0xFFFFFFFF
#: The largest payload one frame carries; longer output is cut into several frames.
MAX_PAYLOAD = 1 << 20


class ProtocolError(ValueError):
    """A frame that is not one: the peer is not a Kairos step, or the stream broke."""


def frame(kind: bytes, task: int, payload: bytes = b"") -> bytes:
    """One frame (``payload`` at most ``MAX_PAYLOAD`` bytes)."""
    if kind not in KINDS:
        raise ProtocolError(f"unknown frame kind {kind!r}")
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"a frame carries at most {MAX_PAYLOAD} bytes, not {len(payload)}")
    return HEADER.pack(kind, task, len(payload)) + payload


def frames(kind: bytes, task: int, data: bytes) -> list[bytes]:
    """``data`` as as many frames as it takes (at least one)."""
    if not data:
        return [frame(kind, task)]
    return [frame(kind, task, data[i:i + MAX_PAYLOAD]) for i in range(0, len(data), MAX_PAYLOAD)]


def hello(token: str, node: str, tasks: list[int]) -> bytes:
    return frame(HELLO, 0, json.dumps({"token": token, "node": node, "tasks": tasks}).encode())


def exited(task: int, exit_code: int, signal: int = 0) -> bytes:
    return frame(EXIT, task, json.dumps({"exit_code": exit_code, "signal": signal}).encode())


class Reader:
    """Frames out of a byte stream that arrives in pieces: ``feed`` bytes, get the
    complete frames as ``(kind, task, payload)``."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, int, bytes]]:
        self._buffer += data
        out = []
        while len(self._buffer) >= HEADER.size:
            kind, task, length = HEADER.unpack_from(self._buffer)
            if kind not in KINDS or length > MAX_PAYLOAD:
                raise ProtocolError(f"not a step frame (kind {kind!r}, length {length})")
            end = HEADER.size + length
            if len(self._buffer) < end:
                break
            out.append((kind, task, bytes(self._buffer[HEADER.size:end])))
            del self._buffer[:end]
        return out


def payload_json(payload: bytes) -> dict[str, Any]:
    """A ``HELLO`` or ``EXIT`` payload; ``ProtocolError`` if it is not a JSON object."""
    try:
        value = json.loads(payload)
    except ValueError:
        raise ProtocolError("a frame's JSON payload is not JSON") from None
    if not isinstance(value, dict):
        raise ProtocolError("a frame's JSON payload is not an object")
    return value
