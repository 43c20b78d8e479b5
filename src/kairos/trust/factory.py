"""The signer and verifier a controller or a node daemon uses, by its ``auth`` setting.

``auth`` is ``"munge"``, ``"key"`` or ``"auto"`` (MUNGE when it works here, else the
key file).  Every host of a cluster must end up in the same mode: a verifier that
receives the other kind of signature says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Literal

from kairos.trust import libmunge
from kairos.trust.keys import derive_node_key, read_key
from kairos.trust.munge import AddressLookup, MungeSigner, MungeVerifier
from kairos.trust.request import CONTROLLER, AuthError, Signer, TrustUnavailable, Verifier, check_name
from kairos.trust.sharedkey import KeySigner, KeyVerifier

Auth = Literal["auto", "munge", "key"]
Mode = Literal["munge", "key"]
AUTH_SETTINGS: tuple[Auth, ...] = ("auto", "munge", "key")
KeyFile = str | os.PathLike[str] | None


@dataclass(frozen=True, slots=True)
class MungeStatus:
    """Whether MUNGE works here; ``reason`` says why not, and what to do."""

    usable: bool
    reason: str = ""


def munge_status(socket: str | None = None) -> MungeStatus:
    """Whether libmunge loads and the munged on ``socket`` (default: the system's) answers."""
    reason = libmunge.unusable_reason(socket)
    return MungeStatus(usable=reason is None, reason=reason or "")


def choose_mode(auth: Auth, *, key_file: KeyFile = None, munge_socket: str | None = None) -> Mode:
    """The mode ``auth`` means here; ``TrustUnavailable`` when it cannot work."""
    if auth not in AUTH_SETTINGS:
        raise ValueError(f"invalid auth {auth!r}: one of {', '.join(AUTH_SETTINGS)}")
    if auth == "key":
        if key_file is None:
            raise TrustUnavailable("auth = key needs a key file")
        return "key"
    status = munge_status(munge_socket)
    if status.usable:
        return "munge"
    if auth == "munge":
        raise TrustUnavailable(f"auth = munge, but MUNGE is not usable: {status.reason}")
    if key_file is None:
        raise TrustUnavailable(f"MUNGE is not usable ({status.reason}) and no key file is given: "
                               "fix MUNGE, or give a key file")
    return "key"


@dataclass(frozen=True, slots=True)
class ControllerTrust:
    """The controller's side: one verifier for every node, a signer per node."""

    mode: Mode
    verifier: Verifier
    _signer_for: Callable[[str], Signer]

    def signer(self, node: str) -> Signer:
        """Signs messages to ``node`` (sender ``controller``)."""
        return self._signer_for(check_name(node))


@dataclass(frozen=True, slots=True)
class NodeTrust:
    """A node daemon's side: it signs as itself and believes the controller only."""

    name: str
    mode: Mode
    signer: Signer
    verifier: Verifier


def controller_trust(*, auth: Auth = "auto", key_file: KeyFile = None,
                     munge_socket: str | None = None,
                     node_addresses: AddressLookup | None = None,
                     known_node: Callable[[str], bool] | None = None,
                     service_uid: int | None = None, window: float = 60.0) -> ControllerTrust:
    """The controller's signer and verifier.

    ``key_file`` holds the cluster key (key mode).  ``known_node(name)`` says whether a
    node may speak at all (default: any name whose key or credential checks out);
    ``node_addresses(name)`` gives the addresses a node's MUNGE-signed requests must come
    from (None from it, or no callback: not checked, so any host with the MUNGE key could
    speak for any node).  ``service_uid`` is allowed to sign besides root.
    """
    mode = choose_mode(auth, key_file=key_file, munge_socket=munge_socket)

    def believe(sender: str) -> None:
        if sender == CONTROLLER:
            raise AuthError("request signed as 'controller' sent to the controller: only nodes "
                            "send requests here")
        if known_node is not None and not known_node(sender):
            raise AuthError(f"unknown node {sender!r}: add it to the cluster's nodes first")

    if mode == "munge":
        def addresses_of(sender: str) -> Collection[str] | None:
            believe(sender)
            return node_addresses(sender) if node_addresses is not None else None

        signer = MungeSigner(CONTROLLER, socket=munge_socket)
        verifier = MungeVerifier(addresses_of, uids=_uids(service_uid), socket=munge_socket, window=window)
        return ControllerTrust(mode, verifier, lambda node: signer)

    cluster_key = _read(key_file)
    node_keys: dict[str, bytes] = {}  # derived once: a cluster has thousands of nodes

    def node_key(name: str) -> bytes:
        key = node_keys.get(name)
        if key is None:
            key = node_keys[name] = derive_node_key(cluster_key, name)
        return key

    def key_of(sender: str) -> bytes:
        believe(sender)
        return node_key(sender)

    return ControllerTrust(mode, KeyVerifier(key_of, window=window),
                           lambda node: KeySigner(CONTROLLER, node_key(node)))


def node_trust(name: str, *, auth: Auth = "auto", key_file: KeyFile = None,
               munge_socket: str | None = None,
               controller_addresses: str | Collection[str] | None = None,
               service_uid: int | None = None, window: float = 60.0) -> NodeTrust:
    """Node ``name``'s signer and verifier.

    ``key_file`` holds this node's own key (key mode); ``controller_addresses`` are the
    addresses the controller's MUNGE-signed requests must come from (None: not checked);
    ``munge_socket`` is this node's munged (a test cluster runs one per network namespace).
    """
    check_name(name)
    mode = choose_mode(auth, key_file=key_file, munge_socket=munge_socket)

    def believe(sender: str) -> None:
        if sender != CONTROLLER:
            raise AuthError(f"request signed as {sender!r}: a node takes requests from the "
                            "controller only")

    if mode == "munge":
        addresses = (controller_addresses,) if isinstance(controller_addresses, str) else controller_addresses

        def addresses_of(sender: str) -> Collection[str] | None:
            believe(sender)
            return addresses

        return NodeTrust(name, mode, MungeSigner(name, socket=munge_socket),
                         MungeVerifier(addresses_of, uids=_uids(service_uid), socket=munge_socket,
                                       window=window))

    own_key = _read(key_file)

    def key_of(sender: str) -> bytes:
        believe(sender)
        return own_key

    return NodeTrust(name, mode, KeySigner(name, own_key), KeyVerifier(key_of, window=window))


def _read(key_file: KeyFile) -> bytes:
    if key_file is None:  # choose_mode has refused key mode without a file already
        raise TrustUnavailable("auth = key needs a key file")
    return read_key(key_file)


def _uids(service_uid: int | None) -> frozenset[int]:
    return frozenset({0} if service_uid is None else {0, service_uid})
