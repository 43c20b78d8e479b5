"""What both kinds of signature share: the canonical request, the headers, the errors.

A signature covers the canonical request, one line per field::

    METHOD
    PATH_WITH_QUERY
    SHA256_HEX(BODY)
    SENDER
    TIMESTAMP
    NONCE

and, only when a node daemon forwards a local user's request, a seventh line
``UID,GID`` (the ``X-Kairos-Caller`` header), so that the caller a daemon vouches for
cannot be changed on the way.  The path is the request target exactly as sent, query
included; the signer and the verifier must both use the raw one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

SENDER = "X-Kairos-Sender"
TIME = "X-Kairos-Time"
NONCE = "X-Kairos-Nonce"
SIGNATURE = "X-Kairos-Signature"
CREDENTIAL = "X-Kairos-Credential"
CALLER = "X-Kairos-Caller"

#: The sender name of every controller-to-node message.
CONTROLLER = "controller"

#: Node names as hostnames are spelled; no newline can slip into the canonical request.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_CALLER = re.compile(r"(\d{1,10}),(\d{1,10})")


class AuthError(PermissionError):
    """A request that does not prove who sent it; the message says what was wrong and
    how to fix it."""


class TrustUnavailable(OSError):
    """This side cannot sign or verify at all (munged not answering, no key file)."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who sent a verified request.

    ``uid``/``gid`` are those MUNGE vouches for (None with a shared key); ``addr`` is the
    address checked against the sender's (MUNGE), or the TCP peer the caller passed in;
    ``caller`` is the local user a node daemon vouches for, when it forwards a request.
    """

    sender: str
    uid: int | None = None
    gid: int | None = None
    addr: str | None = None
    caller: tuple[int, int] | None = None


class Signer(Protocol):
    def sign(self, method: str, path: str, body: bytes, *,
             caller: tuple[int, int] | None = None) -> dict[str, str]: ...


class Verifier(Protocol):
    def verify(self, method: str, path: str, body: bytes, headers: Mapping[str, str], *,
               peer_addr: str | None = None) -> Identity: ...


def check_name(name: str) -> str:
    """``name`` if it can be a sender; ``ValueError`` otherwise."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"invalid sender name {name!r}: letters, digits, '.', '_' and '-' only")
    return name


def canonical_request(method: str, path: str, body: bytes, sender: str, timestamp: str,
                      nonce: str, caller: str | None = None) -> bytes:
    """The bytes a signature covers (see the module's docstring)."""
    lines = [method.upper(), path, hashlib.sha256(body).hexdigest(), sender, timestamp, nonce]
    if caller is not None:
        lines.append(caller)
    return "\n".join(lines).encode()


def caller_header(caller: tuple[int, int]) -> str:
    uid, gid = caller
    return f"{int(uid)},{int(gid)}"


def lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers with lower-case names (HTTP names are case-insensitive)."""
    return {key.lower(): value for key, value in headers.items()}


def required(headers: dict[str, str], name: str, hint: str) -> str:
    """Header ``name`` of lower-cased ``headers``; ``AuthError`` with ``hint`` if absent."""
    value = headers.get(name.lower())
    if not value:
        raise AuthError(f"request has no {name} header: {hint}")
    return value


def sender_of(headers: dict[str, str]) -> str:
    sender = required(headers, SENDER, "the sender must sign its requests (kairos.trust)")
    if not _NAME.fullmatch(sender):
        raise AuthError(f"invalid {SENDER} {sender[:80]!r}: a node name or 'controller'")
    return sender


def timestamp_of(headers: dict[str, str], now: float, window: float) -> str:
    """The ``X-Kairos-Time`` header, checked to be within ``window`` seconds of ``now``."""
    text = required(headers, TIME, "the sender must sign its requests (kairos.trust)")
    if not text.isdigit() or len(text) > 12:
        raise AuthError(f"invalid {TIME} {text[:40]!r}: whole seconds since the epoch")
    skew = now - int(text)
    if abs(skew) > window:
        raise AuthError(f"request signed at {text}, {abs(skew):.0f} s {'before' if skew > 0 else 'after'} "
                        f"this host's clock (at most {window:g} s allowed): a replayed request, or "
                        "clocks out of step (synchronize them with NTP/chrony)")
    return text


def caller_of(headers: dict[str, str]) -> tuple[str | None, tuple[int, int] | None]:
    """The ``X-Kairos-Caller`` header as signed text and as (uid, gid), if present."""
    text = headers.get(CALLER.lower())
    if text is None:
        return None, None
    match = _CALLER.fullmatch(text)
    if match is None:
        raise AuthError(f"invalid {CALLER} {text[:40]!r}: 'UID,GID'")
    return text, (int(match[1]), int(match[2]))
