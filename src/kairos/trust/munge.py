"""Signatures with MUNGE: the credential's payload is the canonical request.

The sender asks its munged for a credential whose payload is the canonical request
(nonce empty) and sends it in ``X-Kairos-Credential``, with ``X-Kairos-Sender`` and
``X-Kairos-Time``.  The receiver's munged decodes it, which proves it was made by a
munged holding the same MUNGE key, by the process uid/gid it reports, and refuses it
when expired, from the future or already decoded once (replayed).  This side then
checks the uid is allowed, the payload is this very request, and the address
(the TCP peer the caller passes in, else the origin munged put in the credential) is one
of the claimed sender's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping

from kairos.trust import libmunge
from kairos.trust import request as rq
from kairos.trust.libmunge import MungeCode, MungeError
from kairos.trust.request import AuthError, Identity, TrustUnavailable

#: The addresses ``sender`` may speak from; None: any address (no address check);
#: ``AuthError`` when that sender is not to be believed here.
AddressLookup = Callable[[str], Collection[str] | None]

_CLOCKS = "clocks out of step (synchronize them with NTP/chrony)"
_REFUSALS = {
    MungeCode.CRED_REPLAYED: "MUNGE credential replayed: munged decoded it once already "
                             "(each signed request is accepted once)",
    MungeCode.CRED_EXPIRED: f"MUNGE credential expired: a replayed request, or {_CLOCKS}",
    MungeCode.CRED_REWOUND: f"MUNGE credential made in this host's future: {_CLOCKS}",
    MungeCode.CRED_INVALID: "MUNGE credential invalid: the sender's munged uses another key "
                            "than this host's (every host needs the same munge.key), or the "
                            "credential was altered",
    MungeCode.CRED_UNAUTHORIZED: "MUNGE credential restricted to another user",
    MungeCode.BAD_REALM: "MUNGE credential of an unknown security realm",
}


class MungeSigner:
    """Signs as ``sender`` with credentials from the munged on ``socket`` (default: the
    system's); ``ttl`` in seconds (default: munged's)."""

    def __init__(self, sender: str, *, socket: str | None = None, ttl: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.sender = rq.check_name(sender)
        self.socket, self.ttl = socket, ttl
        self._clock = clock

    def sign(self, method: str, path: str, body: bytes, *,
             caller: tuple[int, int] | None = None) -> dict[str, str]:
        timestamp = str(int(self._clock()))
        caller_text = rq.caller_header(caller) if caller is not None else None
        payload = rq.canonical_request(method, path, body, self.sender, timestamp, "", caller_text)
        try:
            credential = libmunge.encode(payload, socket=self.socket, ttl=self.ttl)
        except MungeError as exc:
            raise TrustUnavailable(f"cannot sign with MUNGE: {exc}") from exc
        headers = {rq.SENDER: self.sender, rq.TIME: timestamp, rq.CREDENTIAL: credential}
        if caller_text is not None:
            headers[rq.CALLER] = caller_text
        return headers


class MungeVerifier:
    """Checks MUNGE-signed requests with the munged on ``socket``: made by one of
    ``uids``, from one of the addresses ``addresses_of(sender)`` gives."""

    def __init__(self, addresses_of: AddressLookup, *, uids: Collection[int] = (0,),
                 socket: str | None = None, window: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._addresses_of = addresses_of
        self.uids = frozenset(uids)
        self.socket = socket
        self.window = window
        self._clock = clock

    def verify(self, method: str, path: str, body: bytes, headers: Mapping[str, str], *,
               peer_addr: str | None = None) -> Identity:
        fields = rq.lower_keys(headers)
        if rq.CREDENTIAL.lower() not in fields and rq.SIGNATURE.lower() in fields:
            raise AuthError("request signed with a shared key, but this side checks MUNGE "
                            "credentials: the controller and the nodes must use the same auth setting")
        credential = rq.required(fields, rq.CREDENTIAL, "the sender must sign its requests (kairos.trust)")
        sender = rq.sender_of(fields)
        expected = self._addresses_of(sender)
        if isinstance(expected, str):
            expected = (expected,)
        timestamp = rq.timestamp_of(fields, self._clock(), self.window)
        caller_text, caller = rq.caller_of(fields)
        decoded = self._decode(credential, sender)
        if decoded.uid not in self.uids:
            raise AuthError(f"MUNGE credential from {sender!r} made by uid {decoded.uid}, not by "
                            f"{_uid_list(self.uids)}: only the daemons may sign (run them as root, "
                            "or configure their service user)")
        nonce = fields.get(rq.NONCE.lower(), "")
        if decoded.payload != rq.canonical_request(method, path, body, sender, timestamp, nonce, caller_text):
            raise AuthError(f"MUNGE credential from {sender!r} was made for another request: the "
                            "method, path, body or headers changed after it was signed")
        address = peer_addr if peer_addr is not None else decoded.origin
        if expected is not None and address not in expected:
            seen = "its TCP peer address" if peer_addr is not None else "the origin in its credential"
            raise AuthError(f"request claims to come from {sender!r} (address {', '.join(sorted(expected))}) "
                            f"but {seen} is {address}: a node cannot speak for another (check the "
                            "node's registered address, and munged's --origin on the sender's host)")
        return Identity(sender=sender, uid=decoded.uid, gid=decoded.gid, addr=address, caller=caller)

    def _decode(self, credential: str, sender: str) -> libmunge.Credential:
        try:
            return libmunge.decode(credential, socket=self.socket)
        except MungeError as exc:
            if not isinstance(exc.code, MungeCode) or not exc.code.about_credential:
                raise TrustUnavailable(f"cannot check MUNGE credentials: {exc}") from exc
            refusal = _REFUSALS.get(exc.code, "not a MUNGE credential munged can read")
            raise AuthError(f"request from {sender!r} refused: {refusal} ({exc})") from exc


def _uid_list(uids: Collection[int]) -> str:
    return "uid " + " or ".join(str(uid) for uid in sorted(uids))
