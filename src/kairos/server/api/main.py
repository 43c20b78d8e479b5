"""Assemble the API: routers under ``/api/v1``, errors as HTTP statuses, the controller
built at startup and its loop run beside the server.

Nothing is created at import time: ``create_app(settings)`` builds the store, the node
agent and the controller when the server starts (``lifespan``), so tests make as many
independent apps as they like.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from kairos import __version__
from kairos.server.api.routes import accounting, cluster, jobs, members, metrics, steps, tuning
from kairos.server.errors import NotFound
from kairos.server.permissions import PermissionDenied


def create_app(settings, *, controller=None) -> FastAPI:
    """The API for ``settings`` (a ``kairos.server.config.Settings``).  ``controller``:
    an already built one (tests); by default one is built from ``settings`` at startup."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        from kairos.server.runtime import build_controller

        ctl = controller if controller is not None else build_controller(settings)
        app.state.controller = ctl
        app.state.trust = ctl.trust
        task = asyncio.create_task(ctl.run(), name="kairos-controller")
        try:
            yield
        finally:
            ctl.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await ctl.commit()
            ctl.store.close()

    app = FastAPI(title="Kairos", version=__version__, lifespan=lifespan,
                  summary="A workload manager for clusters where HPC and AI meet.")
    for router in (jobs.router, steps.router, cluster.router, accounting.router, members.router,
                   tuning.router):
        app.include_router(router, prefix="/api/v1")
    app.include_router(metrics.router)

    @app.exception_handler(ValueError)
    async def bad_request(request: Request, exc: ValueError):
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(PermissionDenied)
    async def forbidden(request: Request, exc: PermissionDenied):
        return JSONResponse({"detail": str(exc)}, status_code=403)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound):
        return JSONResponse({"detail": str(exc)}, status_code=404)

    return app
