"""``/api/v1/tuning``: the self-tuner (``kairos tune``): how the controller plans, its
decisions, and a tuning on request."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from kairos.server import tuning
from kairos.server.api.deps import CallerDep, ControllerDep
from kairos.server.api.json import json_response

router = APIRouter(tags=["tuning"])


@router.get("/tuning",
            summary="The self-tuner: configuration, next tuning, decisions (kairos tune)")
async def state(controller: ControllerDep):
    return json_response(tuning.info(controller))


@router.post("/tuning", summary="Tune now and wait for the decision (admins; kairos tune --now)",
             responses={409: {"description": "self-tuning is off, or too few finished jobs"}})
async def tune(controller: ControllerDep, caller: CallerDep):
    """Replays the recent finished jobs under every candidate, applies the decision as
    the periodic tuning does, and answers with it (``decision``) and the tuner's state."""
    controller.permissions.check_admin(caller, "tune the scheduler")
    try:
        decision = await tuning.tune_now(controller)
    except tuning.TuningRefused as e:
        raise HTTPException(409, str(e)) from None
    return json_response({**tuning.info(controller), "decision": decision})
