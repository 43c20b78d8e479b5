"""Signatures with a shared key: HMAC-SHA256 of the canonical request.

The sender adds ``X-Kairos-Sender``, ``X-Kairos-Time`` (epoch seconds), ``X-Kairos-Nonce``
(random) and ``X-Kairos-Signature`` (hex HMAC of the canonical request, see
:mod:`kairos.trust.request`).  The receiver looks the sender's key up, checks the time is
within its window, compares the signature in constant time and accepts each nonce once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping

from kairos.trust import request as rq
from kairos.trust.replay import NonceCache
from kairos.trust.request import AuthError, Identity

#: The key of a sender, or ``AuthError`` when that sender is not to be believed here.
KeyLookup = Callable[[str], bytes]

_MODE_HINT = "the controller and the nodes must use the same auth setting"


class KeySigner:
    """Signs as ``sender`` with ``key``."""

    def __init__(self, sender: str, key: bytes, *, clock: Callable[[], float] = time.time) -> None:
        self.sender = rq.check_name(sender)
        self._key = key
        self._clock = clock

    def sign(self, method: str, path: str, body: bytes, *,
             caller: tuple[int, int] | None = None) -> dict[str, str]:
        timestamp, nonce = str(int(self._clock())), secrets.token_hex(16)
        caller_text = rq.caller_header(caller) if caller is not None else None
        message = rq.canonical_request(method, path, body, self.sender, timestamp, nonce, caller_text)
        headers = {rq.SENDER: self.sender, rq.TIME: timestamp, rq.NONCE: nonce,
                   rq.SIGNATURE: hmac.new(self._key, message, hashlib.sha256).hexdigest()}
        if caller_text is not None:
            headers[rq.CALLER] = caller_text
        return headers


class KeyVerifier:
    """Checks requests signed with the key ``key_for(sender)`` gives."""

    def __init__(self, key_for: KeyLookup, *, window: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._key_for = key_for
        self.window = window
        self._clock = clock
        self._nonces = NonceCache(window)

    def verify(self, method: str, path: str, body: bytes, headers: Mapping[str, str], *,
               peer_addr: str | None = None) -> Identity:
        fields = rq.lower_keys(headers)
        if rq.SIGNATURE.lower() not in fields and rq.CREDENTIAL.lower() in fields:
            raise AuthError(f"request signed with MUNGE, but this side checks shared-key signatures: {_MODE_HINT}")
        signature = rq.required(fields, rq.SIGNATURE, "the sender must sign its requests (kairos.trust)")
        sender = rq.sender_of(fields)
        key = self._key_for(sender)
        now = self._clock()
        timestamp = rq.timestamp_of(fields, now, self.window)
        nonce = rq.required(fields, rq.NONCE, "the sender must sign its requests (kairos.trust)")
        if len(nonce) > 64 or not nonce.isalnum():
            raise AuthError(f"invalid {rq.NONCE} {nonce[:80]!r}: at most 64 letters or digits")
        caller_text, caller = rq.caller_of(fields)
        message = rq.canonical_request(method, path, body, sender, timestamp, nonce, caller_text)
        expected = hmac.new(key, message, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.lower().encode("utf-8", "replace")):
            raise AuthError(f"bad signature from {sender!r}: the request was changed after it was "
                            "signed, or the two sides do not hold matching keys (a node's key is "
                            "the one derived from the cluster key for that node's name)")
        self._nonces.remember(sender, nonce, int(timestamp), now)
        return Identity(sender=sender, addr=peer_addr, caller=caller)
