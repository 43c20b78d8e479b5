"""A node daemon's HTTP side.

* ``POST /node/v1/<name>/commands``: the controller's commands, signed by the controller
  for this very node (``kairos.trust``), carried out in order.
* ``GET /node/v1/<name>/status``: what the daemon runs (signed too).
* ``/api/v1/...`` on the daemon's Unix socket only: the requests of the commands users and
  jobs run on this host, forwarded to the controller with the caller the kernel names.

Served on two sockets by one server: TCP at the node's address (the controller's
commands) and ``<home>/kairos.sock`` (local users; mode 0666, like a shared controller's:
every local user may talk to it, and each is known by peer credentials).
"""

from __future__ import annotations

import json

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response

from kairos.node.peercred import SCOPE_KEY

_FORWARDED_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]


def create_node_app(daemon) -> FastAPI:
    """The daemon's API (``daemon``: a ``kairos.node.daemon.NodeDaemon``)."""
    import asyncio
    import contextlib

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.create_task(daemon.run(), name="kairos-node")
        try:
            yield
        finally:
            daemon.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(title="Kairos node", lifespan=lifespan,
                  summary="Runs the controller's jobs on one host.")

    async def from_controller(name: str, request: Request) -> bytes:
        """The request's body once it is proven to come from the controller, for us."""
        from kairos.trust import AuthError, TrustUnavailable

        if name != daemon.options.name:
            raise HTTPException(404, f"this is node {daemon.options.name}, not {name}")
        body = await request.body()
        try:
            daemon.trust.verifier.verify(request.method, _target(request), body,
                                         request.headers, peer_addr=_peer(request))
        except AuthError as e:
            raise HTTPException(403, f"refused: {e}") from None
        except TrustUnavailable as e:
            raise HTTPException(503, f"cannot check who is calling: {e}") from None
        return body

    @app.post("/node/v1/{name}/commands", summary="The controller's commands, in order")
    async def commands(name: str, request: Request):
        body = await from_controller(name, request)
        try:
            payload = json.loads(body)
            done = daemon.carry_out(payload["commands"], payload.get("session"),
                                    payload.get("first"))
        except (ValueError, KeyError, TypeError) as e:
            raise HTTPException(400, f"malformed commands: {e}") from None
        return {"done": done}

    @app.get("/node/v1/{name}/status", summary="What this node runs")
    async def status(name: str, request: Request):
        await from_controller(name, request)
        return {"name": daemon.options.name, "running": daemon.agent.running(),
                "registered": daemon.registered.is_set()}

    @app.api_route("/api/v1/{path:path}", methods=_FORWARDED_METHODS,
                   summary="A local user's request, forwarded to the controller")
    async def forward(path: str, request: Request):
        peer = request.scope.get(SCOPE_KEY)
        if peer is None:
            raise HTTPException(403, "user requests go through the node's Unix socket")
        body = await request.body()
        try:
            response = await daemon.call(request.method, _target(request), content=body,
                                         caller=(peer.uid, peer.gid))
        except OSError as e:
            raise HTTPException(502, f"the controller {daemon.controller_url} does not "
                                     f"answer: {e}") from None
        return Response(response.content, status_code=response.status_code,
                        media_type=response.headers.get("content-type"))

    return app


def _target(request: Request) -> str:
    """The raw request target, as the sender signed it."""
    path = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    query = (request.scope.get("query_string") or b"").decode("latin-1")
    return path + ("?" + query if query else "")


def _peer(request: Request) -> str | None:
    return request.client.host if request.client else None
