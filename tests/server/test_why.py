"""``GET /api/v1/jobs/{id}/why`` on an in-process controller with a clock the test
moves: the explanation of a pending job, its agreement with ``squeue --start``, and
the answers for jobs that do not wait, that are unknown or that are someone else's."""

from __future__ import annotations

import pwd

import pytest
from fastapi.testclient import TestClient

from kairos.server.api import create_app
from kairos.server.permissions import Caller
from kairos.server.schemas import WhyInfo


def caller(name: str) -> Caller:
    pw = pwd.getpwnam(name)
    return Caller(pw.pw_uid, pw.pw_gid)


NOBODY, DAEMON = caller("nobody"), caller("daemon")


@pytest.fixture
def queued(make_bench):
    """4 CPUs, EASY in submit order.  J1 (2 CPUs, 600 s) runs from t0; J2 (4 CPUs,
    300 s) holds the reservation at t0+600; J3 (2 CPUs, 3600 s) would delay it."""
    bench = make_bench('[controller]\norder = "submit"\npolicy = "easy"\n')
    bench.submit(NOBODY, ntasks=2, time_limit=600)
    bench.step()
    bench.submit(DAEMON, ntasks=4, time_limit=300)
    bench.submit(NOBODY, ntasks=2, time_limit=3600)
    bench.step()
    bench.clock.advance(60)
    app = create_app(bench.settings, controller=bench.controller)
    app.state.default_caller = NOBODY
    with TestClient(app) as client:
        yield bench, app, client


def test_a_pending_job_is_explained_and_agrees_with_squeue_start(queued):
    bench, _, api = queued
    t0 = bench.clock.now - 60
    response = api.get("/api/v1/jobs/3/why")
    assert response.status_code == 200, response.text
    info = WhyInfo.model_validate(response.json()).model_dump()
    assert info["reason"] == "Priority" and info["jobs_ahead"] == 1
    assert info["blocking"] == [{"job_id": "2", "user": "daemon", "start": t0 + 600}]
    # J2 runs 600-900; J3 starts when it ends, on the node J1 and J2 held.
    assert info["expected_start"] == t0 + 900 and info["start_interval"] == (t0 + 900, t0 + 900)
    assert [(h["job_id"], h["expected_end"]) for h in info["holders"]] == [("1", t0 + 600)]
    # 540 s (to the reservation, in whole minutes) lets it start now.
    assert [(w["kind"], w["changes"], w["start"]) for w in info["what_ifs"]] == [
        ("time_limit", {"time_limit": 540.0}, bench.clock.now)]
    squeue = api.get("/api/v1/jobs", params={"ids": "2,3", "start": True}).json()
    assert {j["job_id"]: j["expected_start"] for j in squeue}[3] == info["expected_start"]


def test_only_the_owner_or_an_admin_may_ask(queued):
    _, app, api = queued
    app.state.default_caller = DAEMON
    response = api.get("/api/v1/jobs/3/why")
    assert response.status_code == 403 and "belongs to nobody" in response.json()["detail"]
    assert api.get("/api/v1/jobs/2/why").status_code == 200


def test_a_running_job_says_since_when_and_where(queued):
    response = queued[2].get("/api/v1/jobs/1/why")
    assert response.status_code == 409
    assert response.json()["detail"].startswith("job 1 is RUNNING since ")
    assert "on node1" in response.json()["detail"]


def test_an_unknown_job_is_not_found(queued):
    response = queued[2].get("/api/v1/jobs/99/why")
    assert response.status_code == 404 and response.json()["detail"] == "Invalid job id specified: 99"


def test_forecasts_stop_at_the_controllers_budget_and_say_so(make_bench):
    """``forecast_budget``: a request's forecasts stop once they have had that long; the
    jobs not reached show no start (squeue --start) and ``why`` says it is not known."""
    from kairos.cli.why import render

    bench = make_bench('[controller]\norder = "submit"\npolicy = "easy"\n'
                       'forecast_budget = 1e-9\n')
    bench.submit(NOBODY, ntasks=4, time_limit=600)
    bench.step()
    bench.submit(NOBODY, ntasks=4, time_limit=300)
    bench.step()
    assert bench.settings.forecast_budget == 1e-9
    app = create_app(bench.settings, controller=bench.controller)
    app.state.default_caller = NOBODY
    with TestClient(app) as api:
        info = api.get("/api/v1/jobs/2/why").json()
        assert info["forecast_known"] is False and info["expected_start"] is None
        assert info["start_interval"] == [None, None] and info["what_ifs"] == []
        assert info["reason"] == "Resources"  # what needs no forecast is still there
        assert "not known: the forecast stopped at the controller's forecast_budget" in render(info)
        squeue = api.get("/api/v1/jobs", params={"ids": "2", "start": True}).json()
        assert squeue[0]["expected_start"] is None
    # With the default budget the same job has its forecast: the end of J1's limit.
    bench = make_bench('[controller]\norder = "submit"\npolicy = "easy"\n')
    bench.submit(NOBODY, ntasks=4, time_limit=600)
    bench.step()
    bench.submit(NOBODY, ntasks=4, time_limit=300)
    bench.step()
    app = create_app(bench.settings, controller=bench.controller)
    app.state.default_caller = NOBODY
    with TestClient(app) as api:
        info = api.get("/api/v1/jobs/2/why").json()
        assert info["forecast_known"] is True and info["expected_start"] is not None


def test_test_only_names_the_nodes_of_its_forecast():
    """``sbatch --test-only`` reports where the job is forecast to start, not the first
    nodes of its partition (the view, on a two-node core: node1 is busy until 600)."""
    from types import SimpleNamespace

    from kairos.core import Cluster, Job, Node, Request, Scheduler
    from kairos.server import views

    s = Scheduler(Cluster([Node("node1", cpus=4), Node("node2", cpus=4)]), "easy")
    s.submit(Job(1, "u", 0, Request(tasks=4), time_limit=600), 0)
    s.schedule(0)
    controller = SimpleNamespace(scheduler=s, settings=SimpleNamespace(forecast_budget=2.0))
    walk = s._walk
    result = views.test_only(controller, Job(2, "u", 10, Request(tasks=2), time_limit=60), 10)
    assert (result["expected_start"], result["node_list"]) == (10, "node2")
    assert list(s.jobs) == [1] and 2 not in s.outcomes  # nothing queued or remembered
    assert s._walk is walk and not s._stale  # the scheduler's next pass goes on as it was
    # Both nodes busy: it starts when node1 frees, there.
    s.submit(Job(3, "u", 20, Request(tasks=4), time_limit=900), 20)
    s.schedule(20)
    result = views.test_only(controller, Job(4, "u", 30, Request(tasks=4), time_limit=60), 30)
    assert (result["expected_start"], result["node_list"]) == (600, "node1")
