"""``/api/v1/cluster``: what node daemons say to the controller (register, heartbeat,
report), each request signed by the node (``kairos.trust``).

A node may speak only as itself; one the controller does not know (it restarted, or the
node was never registered) is answered 409, which tells its daemon to register again.

``/cluster/bundle`` takes many such requests in one (``kairos.trust.bundle``), for a
process that speaks for many nodes (``kairos node --emulate``): each part is checked
and answered exactly as if it had come alone, and all of them share one commit.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from kairos.server import membership
from kairos.server.api.deps import ControllerDep, node_identity
from kairos.server.api.json import json_response

router = APIRouter(prefix="/cluster", tags=["cluster"])
NodeIdentity = Annotated[object, Depends(node_identity)]


class Registration(BaseModel):
    """What a node daemon says of itself."""

    model_config = ConfigDict(extra="forbid")

    name: str
    addr: str = Field(description="where the daemon takes the controller's commands")
    port: int = Field(ge=1, le=65535)
    cpus: int = Field(ge=1)
    mem_mib: int = Field(ge=0)
    gpus: dict[str, int] = {}
    features: list[str] = []
    boot_time: float = 0.0
    version: str = ""
    running: list[int] = Field([], description="batch jobs it runs or has not reported yet")
    held: list[int] = Field([], description="jobs it holds cores for, or runs steps of, "
                                            "without their batch script")
    bundles: bool = Field(False, description="it takes its commands in bundles too, at "
                                             "/node/v1/bundle (one process for many nodes)")
    commands: dict | None = Field(None, description="the session of the controller's "
                                  "numbered commands it last took, and how many "
                                  "(session, taken)")


class Heartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    running: list[int] = []


class Events(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[dict] = Field(max_length=10_000)


def _as_itself(identity, name: str) -> None:
    if identity.sender != name:
        raise HTTPException(403, f"node {identity.sender} may not speak for node {name}")


def _register(controller, identity, body: Registration) -> dict:
    _as_itself(identity, body.name)
    try:
        return membership.register(controller, body.name, body.model_dump(), body.addr, body.port)
    except membership.MembershipError as e:
        raise HTTPException(403, str(e)) from None


def _heartbeat(controller, identity, body: Heartbeat) -> dict:
    try:
        membership.heartbeat(controller, identity.sender, body.running)
    except membership.NotRegistered as e:
        raise HTTPException(409, str(e)) from None
    return {"ok": True}


def _events(controller, identity, body: Events) -> dict:
    from kairos.node.wire import decode_event

    try:
        decoded = [decode_event(e) for e in body.events]
    except ValueError as e:
        raise HTTPException(400, f"node {identity.sender}: {e}") from None
    try:
        membership.events(controller, identity.sender, decoded)
    except membership.NotRegistered as e:
        raise HTTPException(409, str(e)) from None
    return {"taken": len(decoded)}


@router.post("/register", summary="A node daemon joins (or rejoins) the cluster")
async def register(body: Registration, identity: NodeIdentity, controller: ControllerDep):
    reply = _register(controller, identity, body)
    await controller.commit()
    return reply


@router.post("/heartbeat", summary="A node daemon is alive")
async def heartbeat(body: Heartbeat, identity: NodeIdentity, controller: ControllerDep):
    return _heartbeat(controller, identity, body)


@router.post("/events", summary="What happened on a node (launches, ends)")
async def events(body: Events, identity: NodeIdentity, controller: ControllerDep):
    return _events(controller, identity, body)


#: What a bundle's part may ask, by path: its body's model and its handler.
_BUNDLED = {
    "/api/v1/cluster/register": (Registration, _register),
    "/api/v1/cluster/heartbeat": (Heartbeat, _heartbeat),
    "/api/v1/cluster/events": (Events, _events),
}


@router.post("/bundle", summary="Many nodes' signed requests in one (an emulator's)")
async def bundle(request: Request, controller: ControllerDep):
    """Each part is a register, heartbeat or events request signed by its node, checked
    and answered as if sent alone: ``{"answers": [{"status": ..., "body": ...}]}`` in the
    parts' order."""
    from pydantic import ValidationError

    from kairos.trust import AuthError, TrustUnavailable
    from kairos.trust.bundle import check_part, parts_of

    trust = getattr(request.app.state, "trust", None)
    if trust is None:
        raise HTTPException(404, "this controller runs no cluster: add [cluster] to its "
                                 "config.toml")
    try:
        parts = parts_of(orjson.loads(await request.body()))
    except ValueError as e:
        raise HTTPException(400, f"malformed bundle: {e}") from None
    peer = request.client.host if request.client else None
    answers = []
    for part in parts:
        try:
            checked = check_part(trust.verifier, part, peer_addr=peer)
            model, handle = _BUNDLED.get(checked.path, (None, None))
            if model is None:
                raise HTTPException(404, f"{checked.path} cannot be bundled; bundle one of "
                                         f"{', '.join(_BUNDLED)}")
            try:
                body = model.model_validate_json(checked.body)
            except ValidationError as e:
                raise HTTPException(422, str(e)) from None
            answers.append({"status": 200, "body": handle(controller, checked.identity, body)})
        except HTTPException as e:
            answers.append({"status": e.status_code, "body": {"detail": e.detail}})
        except AuthError as e:
            answers.append({"status": 403, "body": {"detail": f"refused: {e}"}})
        except TrustUnavailable as e:
            answers.append({"status": 503, "body": {"detail": f"cannot check who is calling: {e}"}})
        except ValueError as e:
            answers.append({"status": 400, "body": {"detail": str(e)}})
    await controller.commit()
    # Plain dicts built here: encoded as they are, not walked by FastAPI's encoder (an
    # emulator's bundles carry hundreds of heartbeats and events a second).
    return json_response({"answers": answers})
