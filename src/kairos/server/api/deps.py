"""Dependencies shared by the routes: the controller, the calling user, a calling node.

A user is known in one of two ways.  On the controller's Unix socket the kernel says who
is at the other end (peer credentials).  On its TCP port (a cluster), requests come from
node daemons, signed (``kairos.trust``); a daemon forwarding a request of a user on its
host vouches for that user's uid and gid, which are signed with the request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from kairos.core.jobs import JobState
from kairos.node.peercred import SCOPE_KEY
from kairos.server.controller import Controller
from kairos.server.permissions import Caller


async def get_controller(request: Request) -> Controller:
    return request.app.state.controller


async def get_caller(request: Request) -> Caller:
    peer = request.scope.get(SCOPE_KEY)
    if peer is not None:
        return Caller(uid=peer.uid, gid=peer.gid, pid=peer.pid)
    if getattr(request.app.state, "trust", None) is not None and _signed(request):
        identity = await node_identity(request)
        if identity.caller is None:
            raise HTTPException(403, f"node {identity.sender} forwarded a request without "
                                     "saying whose it is")
        return Caller(uid=identity.caller[0], gid=identity.caller[1])
    override = getattr(request.app.state, "default_caller", None)
    if override is None:
        raise HTTPException(401, "unknown caller: connect through the controller's Unix "
                                 "socket, or through the node daemon of your host")
    return override


async def node_identity(request: Request):
    """The node that signed this request (``kairos.trust``), or 401/403/503 saying why
    not.  Nodes the controller does not know yet may only register."""
    from kairos.trust import AuthError, TrustUnavailable

    trust = getattr(request.app.state, "trust", None)
    if trust is None:
        raise HTTPException(404, "this controller runs no cluster: add [cluster] to its "
                                 "config.toml")
    body = await request.body()
    target = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string") or b""
    path = target.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
    peer = request.client.host if request.client else None
    try:
        return trust.verifier.verify(request.method, path, body, request.headers,
                                     peer_addr=peer)
    except AuthError as e:
        raise HTTPException(403, f"refused: {e}") from None
    except TrustUnavailable as e:
        raise HTTPException(503, f"cannot check who is calling: {e}") from None


def _signed(request: Request) -> bool:
    return any(name.startswith("x-kairos-") for name in request.headers)


ControllerDep = Annotated[Controller, Depends(get_controller)]
CallerDep = Annotated[Caller, Depends(get_caller)]


def split(values: list[str] | None) -> list[str] | None:
    """Query lists arrive as repeated parameters or comma lists; accept both."""
    if not values:
        return None
    out = [v for value in values for v in value.split(",") if v]
    return out or None


def split_states(values: list[str] | None) -> set[JobState] | None:
    """State names or codes, as ``split`` accepts them, as ``JobState`` members; an
    unknown one is a ValueError (HTTP 400) naming it."""
    names = split(values)
    return None if names is None else {JobState.parse(name) for name in names}
