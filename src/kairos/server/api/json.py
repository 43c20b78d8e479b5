"""Plain JSON responses: lists of JobInfo dicts skip model validation (they are built by
the controller, not received), which keeps ``squeue`` on 10,000 jobs fast."""

from __future__ import annotations

import json

from fastapi.responses import JSONResponse, Response


class JSONList(JSONResponse):
    media_type = "application/json"


def json_response(payload) -> Response:
    """The payload as compact JSON.  Payloads are trees the controller builds, never
    cyclic, so the encoder does not keep a set of the containers it is inside (a tenth
    of encoding a job table of 60,000 rows)."""
    return Response(json.dumps(payload, separators=(",", ":"), allow_nan=False,
                               check_circular=False),
                    media_type="application/json")
