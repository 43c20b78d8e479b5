"""The nonces seen lately, per sender: a request signed once is accepted once.

A signed request is accepted while its timestamp is within the window of the
receiver's clock, so its nonce must be remembered until ``timestamp + window``, and no
longer.  Each sender gets a bounded table; a sender that fills its table within one
window is refused (fail closed) rather than having old nonces forgotten early.  Only
nonces of requests whose signature checked out are recorded, so a stranger cannot fill
the tables.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from kairos.trust.request import AuthError

#: Nonces remembered per sender: 64k requests per window (about 1000 a second).
DEFAULT_CAPACITY = 65536


class NonceCache:
    """``remember(sender, nonce, timestamp, now)``: refuses a nonce seen in the window."""

    def __init__(self, window: float, capacity: int = DEFAULT_CAPACITY) -> None:
        self.window = window
        self.capacity = capacity
        self._seen: dict[str, OrderedDict[str, float]] = {}
        self._lock = threading.Lock()

    def remember(self, sender: str, nonce: str, timestamp: float, now: float) -> None:
        with self._lock:
            seen = self._seen.setdefault(sender, OrderedDict())
            self._forget_expired(seen, now)
            if nonce in seen:
                raise AuthError(f"request from {sender!r} replayed: its nonce was seen within "
                                f"the last {self.window:g} s (each signed request is accepted once)")
            if len(seen) >= self.capacity:
                for old in [old for old, expiry in seen.items() if expiry < now]:
                    del seen[old]
            if len(seen) >= self.capacity:
                raise AuthError(f"more than {self.capacity} requests from {sender!r} within "
                                f"{self.window:g} s: refused until older ones expire")
            seen[nonce] = timestamp + self.window

    @staticmethod
    def _forget_expired(seen: OrderedDict[str, float], now: float) -> None:
        # Arrival order is nearly expiry order (timestamps are within the window of the
        # clock), so popping from the front while expired forgets almost all of them; a
        # full table is swept entirely before anything is refused.
        while seen:
            nonce, expiry = next(iter(seen.items()))
            if expiry >= now:
                return
            del seen[nonce]
