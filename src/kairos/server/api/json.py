"""Plain JSON responses: lists of JobInfo dicts skip model validation (they are built by
the controller, not received), which keeps ``squeue`` on 10,000 jobs fast."""

from __future__ import annotations

import json

from fastapi.responses import JSONResponse, Response


class JSONList(JSONResponse):
    media_type = "application/json"


def json_response(payload) -> Response:
    return Response(json.dumps(payload, separators=(",", ":"), allow_nan=False),
                    media_type="application/json")
