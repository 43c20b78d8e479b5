"""The emulated nodes' HTTP side (``kairos node --emulate``), as ``kairos.node.api`` is
a real node daemon's.

* ``POST /node/v1/bundle``: the commands of several nodes, one part per node, each
  signed by the controller for that node (``kairos.trust.bundle``) and checked as if it
  had come alone to ``/node/v1/<name>/commands``;
* ``POST /node/v1/<name>/commands`` and ``GET /node/v1/<name>/status``: one node's, as
  on a real node.

There is no Unix socket for local users: nothing runs on an emulated node.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from fastapi import FastAPI, HTTPException, Request, Response

from kairos.model.json_text import dumps
from kairos.trust import AuthError, TrustUnavailable
from kairos.trust.bundle import check_part, parts_of


def create_emulator_app(emulator) -> FastAPI:
    """The API of ``emulator`` (a ``kairos.node.emulator.Emulator``)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.create_task(emulator.run(), name="kairos-emulator")
        try:
            yield
        finally:
            emulator.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(title="Kairos emulated nodes", lifespan=lifespan,
                  summary="Emulated nodes: jobs run for a time, without processes.")
    known = set(emulator.names)

    def carry_out(name: str, body: bytes) -> dict:
        try:
            payload = orjson.loads(body)
            return {"done": emulator.carry_out(name, payload["commands"],
                                               payload.get("session"), payload.get("first"))}
        except (ValueError, KeyError, TypeError) as e:
            raise HTTPException(400, f"malformed commands: {e}") from None

    def checked(name: str, verify):
        """``verify(verifier)`` with node ``name``'s verifier; its result, or the HTTP
        error a node would answer."""
        if name not in known:
            raise HTTPException(404, f"this emulator has no node {name}")
        try:
            return verify(emulator.trust.of(name).verifier)
        except AuthError as e:
            raise HTTPException(403, f"refused: {e}") from None
        except TrustUnavailable as e:
            raise HTTPException(503, f"cannot check who is calling: {e}") from None

    @app.post("/node/v1/bundle", summary="Several nodes' commands, one signed part each")
    async def bundle(request: Request):
        try:
            parts = parts_of(orjson.loads(await request.body()))
        except ValueError as e:
            raise HTTPException(400, f"malformed bundle: {e}") from None
        peer = request.client.host if request.client else None
        answers = []
        for part in parts:
            try:
                path = part.get("path", "") if isinstance(part, dict) else ""
                name = _node_of(path)
                checked_part = checked(name, lambda v: check_part(v, part, peer_addr=peer))
                answers.append({"status": 200, "body": carry_out(name, checked_part.body)})
            except HTTPException as e:
                answers.append({"status": e.status_code, "body": {"detail": e.detail}})
            except ValueError as e:
                answers.append({"status": 400, "body": {"detail": str(e)}})
        return Response(dumps({"answers": answers}), media_type="application/json")

    @app.post("/node/v1/{name}/commands", summary="One node's commands, in order")
    async def commands(name: str, request: Request):
        body = await request.body()
        peer = request.client.host if request.client else None
        target = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
        checked(name, lambda v: v.verify("POST", target, body, request.headers, peer_addr=peer))
        return carry_out(name, body)

    @app.get("/node/v1/{name}/status", summary="What this node runs")
    async def status(name: str, request: Request):
        peer = request.client.host if request.client else None
        target = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
        checked(name, lambda v: v.verify("GET", target, b"", request.headers, peer_addr=peer))
        return {"name": name, "running": emulator.emulation.running(name),
                "registered": name in emulator.registered, "emulated": True}

    return app


def _node_of(path: str) -> str:
    """The node a command path is for (``/node/v1/<name>/commands``)."""
    head, _, rest = path.partition("/node/v1/")
    name, _, tail = rest.partition("/")
    if head or tail != "commands" or not name:
        raise ValueError(f"{path!r} is not a node's commands path (/node/v1/<name>/commands)")
    return name
