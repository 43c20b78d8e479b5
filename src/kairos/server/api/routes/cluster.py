"""``/api/v1/nodes``, ``/partitions``, ``/status``: the machine and the controller."""

from __future__ import annotations

import os
import time

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from kairos import __version__
from kairos.server import views
from kairos.server.api.deps import CallerDep, ControllerDep
from kairos.server.api.json import json_response

router = APIRouter(tags=["cluster"])


@router.get("/nodes", summary="Nodes (sinfo -N, scontrol show node)")
async def nodes(controller: ControllerDep):
    return json_response(views.nodes(controller))


class NodeUpdate(BaseModel):
    """``scontrol update NodeName=...``: the new state and why."""

    model_config = ConfigDict(extra="forbid")

    state: str = Field(description="DRAIN, DOWN or RESUME")
    reason: str | None = None


@router.patch("/nodes/{name}", summary="Drain, down or resume a node (scontrol update NodeName=)")
async def update_node(name: str, body: NodeUpdate, controller: ControllerDep, caller: CallerDep):
    from kairos.server import membership

    try:
        membership.update_node(controller, name, body.state, body.reason, caller)
    except membership.MembershipError as e:
        raise HTTPException(404, str(e)) from None
    await controller.commit()
    return json_response(next(n for n in views.nodes(controller) if n["name"] == name))


@router.get("/partitions", summary="Partitions (sinfo, scontrol show partition)")
async def partitions(controller: ControllerDep):
    return json_response(views.partitions(controller))


@router.get("/status", summary="The controller: version, uptime, queue sizes")
async def status(controller: ControllerDep):
    states = views.state_counts(controller)
    return {
        "version": __version__, "pid": os.getpid(), "user": controller.settings_user,
        "uptime": time.time() - controller.started_at, "cluster": controller.settings.cluster_name,
        "database": controller.store_description, "home": str(controller.settings.home),
        "jobs": states, "passes": controller.passes,
        "last_pass_seconds": controller.last_pass_seconds,
    }
