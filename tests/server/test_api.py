"""The API's edge: schemas generated from the job model, validation before anything is
queued, and job lists that the commands read back into the same record."""

from __future__ import annotations

import dataclasses
import json

import pytest
from fastapi.testclient import TestClient

from kairos.model import LiveJob, Submission
from kairos.model.job import PUBLIC_FIELDS
from kairos.server.api import create_app
from kairos.server.permissions import Caller
from kairos.server.schemas import JobInfo, JobSubmit


def test_the_wire_schemas_are_the_models_fields():
    assert list(JobSubmit.model_fields) == [f.name for f in dataclasses.fields(Submission)]
    assert list(JobInfo.model_fields) == list(PUBLIC_FIELDS)
    assert JobSubmit.model_json_schema()["properties"]["ntasks"]["minimum"] == 1
    assert JobSubmit.model_json_schema()["properties"]["time_limit"]["anyOf"][0]["exclusiveMinimum"] == 0


@pytest.fixture
def api(bench):
    app = create_app(bench.settings, controller=bench.controller)
    app.state.default_caller = Caller(65534, 65534)
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize("body, field", [
    ({"script": "#!/bin/sh\n", "work_dir": "/tmp", "ntasks": 0}, "ntasks"),
    ({"script": "#!/bin/sh\n", "work_dir": "/tmp", "time_limit": -5}, "time_limit"),
    ({"script": "#!/bin/sh\n", "work_dir": "/tmp", "colour": "red"}, "colour"),
    ({"work_dir": "/tmp"}, "script"),
    ({"script": "#!/bin/sh\n", "work_dir": "/tmp", "time_limit": float("inf")}, "time_limit"),
    ({"script": "#!/bin/sh\n", "work_dir": "/tmp", "begin": float("nan")}, "begin"),
])
def test_a_malformed_submission_is_refused_at_the_edge(api, bench, body, field):
    # json.dumps writes NaN and Infinity as the standard library reads them
    response = api.post("/api/v1/jobs", content=json.dumps(body),
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert any(error["loc"][:2] == ["body", field] for error in response.json()["detail"])
    assert bench.controller.next_id == 1 and bench.controller.jobs == {}


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[1, 2]"])
def test_a_body_that_is_no_submission_is_refused_saying_so(api, bench, raw):
    response = api.post("/api/v1/jobs", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"
    assert response.json()["detail"][0]["msg"]
    assert bench.controller.next_id == 1 and bench.controller.jobs == {}


def test_the_api_document_shows_the_submit_body(api):
    spec = api.get("/openapi.json").json()
    body = spec["paths"]["/api/v1/jobs"]["post"]["requestBody"]
    assert body["required"] is True
    ref = body["content"]["application/json"]["schema"]["$ref"]
    assert spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["title"] == "JobSubmit"


def test_jobs_go_out_as_job_info_and_come_back_as_the_same_record(api, bench):
    submission = Submission("#!/bin/sh\ntrue\n", "/tmp", name="train", ntasks=2,
                            gpus=[], array="0-1", time_limit=60)
    assert api.post("/api/v1/jobs", json=submission.to_json()).json() == {"job_id": 1, "job_ids": [1, 2]}
    listed = api.get("/api/v1/jobs").json()
    assert [set(info) for info in listed] == [set(PUBLIC_FIELDS)] * 2
    jobs = [LiveJob.from_wire(info) for info in listed]
    assert [(j.label, j.name, j.ntasks, j.time_limit, j.user) for j in jobs] == [
        ("1_0", "train", 2, 60.0, "nobody"), ("1_1", "train", 2, 60.0, "nobody")]
    assert api.get("/api/v1/jobs", params={"states": "bogus"}).status_code == 400


def test_a_request_without_credentials_is_refused(bench):
    app = create_app(bench.settings, controller=bench.controller)
    with TestClient(app) as client:
        response = client.get("/api/v1/priority")
        assert response.status_code == 200  # reading needs no identity
        response = client.post("/api/v1/jobs", json={"script": "#!/bin/sh\n", "work_dir": "/"})
        assert response.status_code == 401
        response = client.post("/api/v1/jobs", json={"colour": "red"})  # nor its body read
        assert response.status_code == 401
