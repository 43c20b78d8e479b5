"""``/api/v1/nodes``, ``/partitions``, ``/status``: the machine and the controller."""

from __future__ import annotations

import os
import time

from fastapi import APIRouter

from kairos import __version__
from kairos.server import views
from kairos.server.api.deps import ControllerDep
from kairos.server.api.json import json_response

router = APIRouter(tags=["cluster"])


@router.get("/nodes", summary="Nodes (sinfo -N, scontrol show node)")
async def nodes(controller: ControllerDep):
    return json_response(views.nodes(controller))


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
