"""Authenticated messages between the controller and the node daemons.

Every HTTP request between the controller and a node daemon carries a signature of its
canonical request (method, path with query, SHA-256 of the body, sender, timestamp,
nonce; see :mod:`kairos.trust.request`).  The sender's ``Signer.sign(method, path,
body)`` gives the headers to add; the receiver's ``Verifier.verify(method, path, body,
headers, peer_addr=...)`` returns the sender's :class:`Identity` or raises
:class:`AuthError` (answer 401/403), or :class:`TrustUnavailable` when this side cannot
check anything (its munged is down: answer 503).  :func:`controller_trust` and
:func:`node_trust` build both from an ``auth`` setting: ``"munge"``, ``"key"`` or
``"auto"`` (MUNGE when :func:`munge_status` says it works, else the key file).

**MUNGE** (:mod:`kairos.trust.munge`).  Proves: the request was signed by a process
running as root (or the configured service user) on a host whose munged holds the
cluster's MUNGE key, for this very request, recently (munged's TTL and this side's
window), and only once (munged refuses a credential it decoded before).  Does not prove
which host: every host shares the one MUNGE key, so a node's identity rests on its
address, the TCP peer address when the caller passes it (the network vouches), else
the origin address the sender's munged wrote into the credential (root on any host
with the key can run a munged with any ``--origin``).  Without an address for a sender,
any host with the MUNGE key can speak as it.

**Shared key** (:mod:`kairos.trust.sharedkey`, :mod:`kairos.trust.keys`).  The
controller holds a cluster key; each node holds only its own key, derived from it for
its name.  Proves: the request was signed by a holder of that node's key (the node, or
the controller), unchanged, within the window of this host's clock (60 s by default),
and not seen before (a per-sender nonce cache).  Does not prove which user on that
host signed: anyone who can read the key file can sign, hence the mode check on key
files.  A node cannot sign as another node.

Neither mode encrypts (bodies travel in the clear) or signs responses.  A MUNGE
credential does not name its receiver: one captured on its way to a node could be
replayed to another node within its TTL (each munged refuses only what it decoded
itself), whereas a shared-key signature to a node is made with that node's own key.
A node daemon that forwards a
local user's request adds ``caller=(uid, gid)`` to ``sign``; the caller is signed with
the request and comes back as ``Identity.caller``.

Standard library only, and light: the names below load on first use.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "AuthError": "request", "TrustUnavailable": "request", "Identity": "request",
    "Signer": "request", "Verifier": "request", "canonical_request": "request",
    "create_cluster_key": "keys", "derive_node_key": "keys", "write_node_key": "keys",
    "read_key": "keys",
    "KeySigner": "sharedkey", "KeyVerifier": "sharedkey",
    "MungeSigner": "munge", "MungeVerifier": "munge",
    "MungeStatus": "factory", "munge_status": "factory", "controller_trust": "factory",
    "node_trust": "factory", "ControllerTrust": "factory", "NodeTrust": "factory",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'kairos.trust' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"kairos.trust.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
