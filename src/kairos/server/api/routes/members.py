"""``/api/v1/cluster``: what node daemons say to the controller (register, heartbeat,
report), each request signed by the node (``kairos.trust``).

A node may speak only as itself; one the controller does not know (it restarted, or the
node was never registered) is answered 409, which tells its daemon to register again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from kairos.server import membership
from kairos.server.api.deps import ControllerDep, node_identity

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


class Heartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    running: list[int] = []


class Events(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[dict] = Field(max_length=10_000)


def _as_itself(identity, name: str) -> None:
    if identity.sender != name:
        raise HTTPException(403, f"node {identity.sender} may not speak for node {name}")


@router.post("/register", summary="A node daemon joins (or rejoins) the cluster")
async def register(body: Registration, identity: NodeIdentity, controller: ControllerDep):
    _as_itself(identity, body.name)
    try:
        reply = membership.register(controller, body.name, body.model_dump(), body.addr, body.port)
    except membership.MembershipError as e:
        raise HTTPException(403, str(e)) from None
    await controller.commit()
    return reply


@router.post("/heartbeat", summary="A node daemon is alive")
async def heartbeat(body: Heartbeat, identity: NodeIdentity, controller: ControllerDep):
    try:
        membership.heartbeat(controller, identity.sender, body.running)
    except membership.NotRegistered as e:
        raise HTTPException(409, str(e)) from None
    return {"ok": True}


@router.post("/events", summary="What happened on a node (launches, ends)")
async def events(body: Events, identity: NodeIdentity, controller: ControllerDep):
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
