"""The self-tuner on a controller in this process (``[controller] auto``): a tuning on
request through ``/api/v1/tuning`` on the jobs the controller really ran, the periodic
tuning that switches the scheduler and is kept across a restart, who may ask, what the
answer is with auto off or too few jobs, and the config keys that go with it."""

from __future__ import annotations

import logging
import pwd
import random
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from kairos.core.corrections import tsafrir
from kairos.server import tuning
from kairos.server.api import create_app
from kairos.server.config import ConfigError, load_settings
from kairos.server.controller import Controller
from kairos.server.nodes import NodeRegistry
from kairos.server.permissions import Caller
from kairos.sim.tuning import CANDIDATES, EASY, START


def caller(name: str) -> Caller:
    pw = pwd.getpwnam(name)
    return Caller(pw.pw_uid, pw.pw_gid)


NOBODY = caller("nobody")
ADMIN = Caller(4242, 4242)  # the controller's own uid (make_bench's controller_uid)
DAY = 86400.0

AUTO = ('[controller]\norder = "submit"\nauto = true\nauto_every = "1-00:00:00"\n'
        'auto_window = "1-00:00:00"\nauto_min_jobs = 5\n')


def run_jobs(bench, n: int = 40, seed: int = 1) -> None:
    """``n`` jobs of 1 to 4 CPUs with one-hour limits, submitted every few seconds and
    ending after a few seconds to a few minutes, until all have finished."""
    rng = random.Random(seed)
    for _ in range(n):
        bench.submit(NOBODY, ntasks=rng.choice([1, 1, 2, 4]), time_limit=3600)
        bench.step()
        bench.clock.advance(rng.choice([5, 30, 60]))
        for job_id in list(bench.agent.jobs):
            if rng.random() < 0.5:
                bench.agent.finish(job_id)
        bench.step()
    while bench.agent.jobs or bench.controller.scheduler.jobs:
        bench.clock.advance(30)
        for job_id in list(bench.agent.jobs):
            bench.agent.finish(job_id)
        bench.step()
    bench.commit()


def api(bench, who: Caller):
    app = create_app(bench.settings, controller=bench.controller)
    app.state.default_caller = who
    return TestClient(app)


def restarted(bench) -> Controller:
    """A new controller on the bench's database, as after a restart."""
    again = Controller(bench.settings, bench.store, NodeRegistry.local("node1", bench.agent),
                       bench.controller.cluster, clock=bench.clock, controller_uid=4242)
    bench.controller = again  # the fixture checks this one at the end
    return again


def easy_by_hand(bench) -> tuple[float, float]:
    """EASY with requested times replayed on the finished jobs as the store has them:
    (average bounded slowdown, maximum wait)."""
    from kairos.sim.metrics import bounded_slowdown
    from kairos.sim.replay import replay
    from kairos.sim.workload import Workload

    rows = [r for r in bench.store.accounting() if r.start_time is not None]
    jobs = [r.to_core_job() for r in rows]
    runtimes = {r.job_id: r.end_time - r.start_time for r in rows}
    result = replay(Workload("by hand", 0, jobs, runtimes), "easy", "submit",
                    cluster=tuning.copy_cluster(bench.controller.cluster))
    wait = np.array([j.start - j.submit for j in result.jobs])
    runtime = np.array([runtimes[j.id] for j in result.jobs])
    return float(bounded_slowdown(wait, runtime).mean()), float(wait.max())


def test_a_tuning_on_request_replays_every_candidate_on_the_jobs_that_ran(make_bench, caplog):
    bench = make_bench(AUTO)
    assert bench.controller.scheduler.policy.name == "easy+guarded"  # the tuner's start
    run_jobs(bench)
    caplog.set_level(logging.INFO, logger="kairos.tuning")
    with api(bench, ADMIN) as client:
        response = client.post("/api/v1/tuning")
        assert response.status_code == 200, response.text
        answer = response.json()
        shown = client.get("/api/v1/tuning").json()
    decision = answer["decision"]
    assert decision["jobs"] == 40 and decision["current"] == START.label
    labels = [c.label for c in CANDIDATES]
    assert answer["candidates"] == labels
    trials = {t["config"]: t for t in decision["trials"]}
    assert set(trials) == set(labels) | {EASY.label}
    for t in trials.values():
        assert t["avg_bsld"] >= 1.0 and t["max_wait"] >= 0.0
    # The what-if of EASY is a replay of what the store says ran.
    avg_bsld, max_wait = easy_by_hand(bench)
    assert trials[EASY.label]["avg_bsld"] == pytest.approx(avg_bsld)
    assert trials[EASY.label]["max_wait"] == max_wait
    assert decision["chosen"] in trials and decision["reason"]
    # Shown, logged in one line, and kept in the database.
    assert shown["decisions"] == [decision] and shown["auto"] is True
    assert shown["next"] == decision["time"] + DAY
    [line] = [r.getMessage() for r in caplog.records if r.name == "kairos.tuning"]
    assert line.startswith("self-tuning: 40 finished jobs; ") and decision["reason"] in line
    assert line.endswith(", in the worker process)")
    assert tuning.load(bench.store) == [decision]
    bench.controller.tuning.cancel()


def trials_in_this_process(self_tuning, now: float) -> dict:
    """label -> (avg bsld, max wait) of every candidate replayed here, as the twin does."""
    tuner = self_tuning.tuner
    history = tuner.window_of(self_tuning.history(now), now)
    return {c.label: (t.avg_bsld, t.max_wait)
            for c in tuner.configs() for t in [tuner.trial(history, c, "submit")]}


def test_the_worker_process_replays_as_this_one_and_a_dead_worker_is_replaced(make_bench,
                                                                              caplog):
    bench = make_bench(AUTO)
    run_jobs(bench)
    self_tuning = bench.controller.tuning
    caplog.set_level(logging.INFO, logger="kairos.tuning")
    try:
        first = bench.run(self_tuning.tune(bench.controller))
        assert self_tuning.in_process
        shown = {t["config"]: (t["avg_bsld"], t["max_wait"]) for t in first["trials"]}
        assert shown == trials_in_this_process(self_tuning, first["time"])
        assert len({avg for avg, _ in shown.values()}) >= 2  # a mix-up would show

        # The worker dies between two tunings: the next one replays in a thread, says
        # so, and decides the same; the one after starts a fresh worker.
        [worker] = self_tuning._pool._processes.values()
        worker.kill()
        worker.join(10)
        again = bench.run(self_tuning.tune(bench.controller))
        assert not self_tuning.in_process and self_tuning._pool is None
        assert again["trials"] == first["trials"] and again["chosen"] == first["chosen"]
        assert any("the worker process failed (BrokenProcessPool" in r.getMessage()
                   for r in caplog.records)
        third = bench.run(self_tuning.tune(bench.controller))
        assert self_tuning.in_process and third["trials"] == first["trials"]
        [worker] = self_tuning._pool._processes.values()
    finally:
        self_tuning.cancel()
    assert _ends(worker, within=10)  # the controller's stop ends its worker


def _ends(process, within: float) -> bool:
    """Whether ``process`` has ended within so many seconds.  The pool's own thread reaps
    its workers too, and the thread that loses that race reads "still running" once
    (multiprocessing's poll), so the answer is asked again until the deadline."""
    deadline = time.monotonic() + within
    while process.is_alive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_periodic_tuning_switches_the_scheduler_and_a_restart_resumes_it(make_bench):
    bench = make_bench(AUTO)
    # As if an earlier tuning, two days ago, had switched to EASY with requested times.
    seeded = {"time": bench.clock.now - 2 * DAY, "jobs": 0, "current": START.label,
              "chosen": EASY.label, "applied": True, "reason": "seeded", "gain": 0.0,
              "gain_low": 0.0, "gain_high": 0.0, "wait_limit": 0.0, "trials": []}
    tuning.save(bench.store, seeded)
    controller = restarted(bench)
    assert controller.tuning.tuner.current == EASY
    assert controller.scheduler.policy.name == "easy"
    assert controller.tuning.due(bench.clock.now)  # a day overdue
    bench.step()  # nothing finished yet: no decision, the next one a day later
    bench.run(controller.tuning._task)
    assert controller.tuning.decisions == [seeded]
    assert controller.tuning.next_time == bench.clock.now + DAY

    run_jobs(bench)
    bench.clock.now = controller.tuning.next_time
    bench.step()
    assert not controller.tuning._task.done()  # the round ended; the replays run beside it
    bench.run(controller.tuning._task)
    decision = controller.tuning.decisions[-1]
    assert decision["current"] == EASY.label and decision["time"] == bench.clock.now
    assert decision["applied"], decision  # these jobs run far shorter than their limits
    chosen = decision["chosen"]
    assert controller.tuning.tuner.current.label == chosen
    assert controller.scheduler.policy.name != "easy"  # a guarded candidate
    assert controller.tuning.tuner.panel.active == chosen.split("+")[0]
    assert decision["gain_low"] > 0 and decision["gain"] > 0

    again = restarted(bench)
    assert again.tuning.tuner.current.label == chosen
    assert again.tuning.decisions == [seeded, decision]
    assert again.tuning.next_time == decision["time"] + DAY


def test_only_an_admin_may_ask_for_a_tuning(make_bench):
    bench = make_bench(AUTO)
    with api(bench, NOBODY) as client:
        refused = client.post("/api/v1/tuning")
        assert refused.status_code == 403
        assert refused.json()["detail"] == "only an administrator may tune the scheduler"
        assert client.get("/api/v1/tuning").json()["auto"] is True  # anyone may look


def test_too_few_finished_jobs_is_no_decision_and_says_how_many(make_bench):
    bench = make_bench(AUTO.replace("auto_min_jobs = 5", "auto_min_jobs = 50"))
    run_jobs(bench, n=3)
    with api(bench, ADMIN) as client:
        refused = client.post("/api/v1/tuning")
        assert refused.status_code == 409
        assert refused.json()["detail"] == (
            "3 job(s) submitted in the last 1-00:00:00 have finished; a tuning needs at "
            "least 50 (auto_min_jobs in [controller])")
        assert client.get("/api/v1/tuning").json()["decisions"] == []


def test_with_auto_off_the_configuration_comes_from_the_file_and_nothing_tunes(make_bench):
    bench = make_bench('[controller]\norder = "submit"\nbackfill_order = "shortest"\n'
                       'correction = "tsafrir"\n')
    assert bench.controller.tuning is None
    assert bench.controller.scheduler.policy.name == "easy+shortest"
    assert bench.controller.scheduler.correct is tsafrir
    with api(bench, ADMIN) as client:
        info = client.get("/api/v1/tuning").json()
        assert info["auto"] is False and info["next"] is None and info["decisions"] == []
        assert info["current"] == {"policy": "easy", "predictor": "user", "correction": "tsafrir",
                                   "backfill_order": "shortest",
                                   "label": "user+tsafrir+shortest"}
        refused = client.post("/api/v1/tuning")
        assert refused.status_code == 409
        assert refused.json()["detail"].startswith("self-tuning is off: set auto = true in "
                                                   "[controller] of ")


@pytest.mark.parametrize("text, message", [
    ('auto = true\npolicy = "conservative"\n',
     r'\[controller\] auto = true tunes EASY backfilling, but policy = "conservative"; '
     r'set policy = "easy" \(or leave it out\), or auto = false'),
    ('auto = true\npredictor = "ml"\nbackfill_order = "guarded"\n',
     r"\[controller\] auto = true chooses the predictor, correction and backfill_order "
     r"itself; remove predictor, backfill_order from \[controller\], or set auto = false"),
    ('auto = "yes"\n', r'auto = "yes": expected true or false'),
    ('auto_every = "UNLIMITED"\n',
     r'auto_every = "UNLIMITED": expected a Slurm duration longer than 0'),
    ('auto_window = 0\n', r"auto_window = 0: expected a Slurm duration longer than 0"),
    ('auto_min_jobs = 0\n', r"auto_min_jobs = 0: expected a whole number, 1 or more"),
    ('backfill_order = "fastest"\n',
     r'backfill_order = "fastest": expected one of: queue, shortest, aged, guarded'),
    ('correction = "guess"\n',
     r'correction = "guess": expected one of: limit, tsafrir, metastack, remaining'),
    ('correction = "remaining"\npredictor = "last2"\n',
     r'correction = "remaining" reads what the predictor learned .* set predictor = "ml"'),
    ('policy = "conservative"\nbackfill_order = "guarded"\n',
     r'backfill_order = "guarded" is EASY\'s, not policy = "conservative"\'s'),
    ('policy = "fcfs"\nbackfill_order = "shortest"\n', r'policy = "fcfs" does not backfill'),
])
def test_each_mistake_names_file_key_and_fix(tmp_path, text, message):
    (tmp_path / "config.toml").write_text("[controller]\n" + text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(tmp_path, env={})
    assert str(caught.value).startswith(f"{tmp_path / 'config.toml'}: ")


def test_the_durations_and_the_new_names_are_read(tmp_path):
    (tmp_path / "config.toml").write_text(
        '[controller]\nauto = true\nauto_every = "2-00:00:00"\nauto_window = "12:00:00"\n'
        'auto_min_jobs = 50\n')
    s = load_settings(tmp_path, env={})
    assert (s.auto, s.auto_every, s.auto_window, s.auto_min_jobs) == (True, 2 * DAY, DAY / 2, 50)
    assert (s.predictor, s.correction, s.backfill_order) == (None, "limit", "queue")
    (tmp_path / "config.toml").write_text(
        '[controller]\npredictor = "mlq"\ncorrection = "remaining"\n')
    s = load_settings(tmp_path, env={})
    assert (s.auto, s.auto_every, s.predictor, s.correction) == (
        False, 21 * DAY, "mlq", "remaining")


def test_a_resumed_configuration_that_no_longer_exists_starts_afresh(make_bench):
    bench = make_bench(AUTO)
    tuning.save(bench.store, {"time": bench.clock.now, "jobs": 0, "current": START.label,
                              "chosen": "gone+limit+guarded", "applied": True, "reason": "",
                              "gain": 0.0, "gain_low": 0.0, "gain_high": 0.0,
                              "wait_limit": 0.0, "trials": []})
    assert restarted(bench).tuning.tuner.current == START



def test_decisions_are_kept_in_either_database(db_url):
    from kairos.server.store import Store

    store = Store(db_url)
    store.create()
    try:
        first = {"time": 1.5, "jobs": 300, "current": START.label, "chosen": EASY.label,
                 "applied": True, "reason": "r", "gain": 0.25, "gain_low": 0.125,
                 "gain_high": 0.5, "wait_limit": 4500.0,
                 "trials": [{"config": EASY.label, "avg_bsld": 2.0, "max_wait": 3600.0}]}
        second = {**first, "time": 2.5, "applied": False, "trials": []}
        tuning.save(store, first)
        tuning.save(store, second)
        assert tuning.load(store) == [first, second]
    finally:
        store.close()
