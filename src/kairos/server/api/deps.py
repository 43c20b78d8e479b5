"""Dependencies shared by the routes: the controller and the calling user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from kairos.core.jobs import JobState
from kairos.server.auth import SCOPE_KEY
from kairos.server.controller import Controller
from kairos.server.permissions import Caller


async def get_controller(request: Request) -> Controller:
    return request.app.state.controller


async def get_caller(request: Request) -> Caller:
    caller = request.scope.get(SCOPE_KEY)
    if caller is None:
        override = getattr(request.app.state, "default_caller", None)
        if override is None:
            raise HTTPException(401, "unknown caller: connect through the Unix socket")
        return override
    return caller


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
