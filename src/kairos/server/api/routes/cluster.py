"""``/api/v1/nodes``, ``/partitions``, ``/status``, ``/config``: the machine and the
controller."""

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


@router.get("/config", summary="The controller's settings (scontrol show config)")
async def config(controller: ControllerDep):
    """What the controller runs by, as facts (seconds, names, numbers); the commands
    print them in Slurm's words.  Read-only."""
    import socket

    from kairos.server.allocations import KEEPALIVE_TIMEOUT
    from kairos.server.controller import MIN_JOB_AGE
    from kairos.slurm.arrays import DEFAULT_MAX_ARRAY_SIZE

    settings = controller.settings
    cluster = settings.cluster
    return {
        "cluster_name": settings.cluster_name, "version": __version__,
        "boot_time": controller.started_at, "next_job_id": controller.next_id,
        "min_job_age": MIN_JOB_AGE, "kill_wait": settings.kill_wait,
        "inactive_limit": KEEPALIVE_TIMEOUT, "max_array_size": DEFAULT_MAX_ARRAY_SIZE,
        "policy": settings.policy, "order": settings.order,
        "controller_host": socket.gethostname(), "controller_user": controller.settings_user,
        "controller_uid": os.geteuid(),
        "controller_address": None if cluster is None else cluster.listen[0],
        "controller_port": None if cluster is None else cluster.listen[1],
        "node_timeout": None if cluster is None else cluster.node_timeout,
        "return_to_service": None if cluster is None else cluster.return_to_service,
    }
