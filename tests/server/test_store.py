"""The accounting database, on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import sqlalchemy as sa

from kairos.server.store import (
    FIRST_JOB_ID, SCHEMA_VERSION, SchemaVersionError, Store, StoreError, jobs, meta,
)


def job_row(job_id: int, **changes) -> dict:
    """A complete JobInfo row (every contract field) plus the server's columns."""
    row = {
        "job_id": job_id, "array_job_id": None, "array_task_id": None, "name": "train.sh",
        "user": "alice", "uid": 1000, "gid": 1000, "group": "alice", "account": "physics",
        "partition": "local", "qos": "normal", "state": "PENDING", "reason": "Priority",
        "priority": 0.25, "nice": 0, "held": False, "submit_time": 1_700_000_000.125,
        "eligible_time": 1_700_000_000.125, "start_time": None, "end_time": None,
        "expected_start": 1_700_000_100.5, "time_limit": 3600.0, "time_min": None, "nodes": 1,
        "ntasks": 2, "cpus_per_task": 2, "cpus": 4, "mem_per_node": 8192,
        "gpus": [["a100", 1]], "dependency": None, "begin": None, "work_dir": "/home/alice",
        "stdout": f"/home/alice/slurm-{job_id}.out", "stderr": f"/home/alice/slurm-{job_id}.out",
        "command": "train.sh", "node_list": None, "cpu_ids": [], "gpu_ids": [], "exit_code": 0,
        "signal": 0, "cpu_time": None, "max_rss": None, "restarts": 0,
        "spec": {"script": "#!/bin/sh\necho hi\n", "argv": ["--epochs", "3"],
                 "environment": {"PATH": "/usr/bin", "LANG": "C.UTF-8"}, "export": "ALL",
                 "submit_host": "login1"},
        "supervisor_pid": None, "array_task_count": None, "array_task_min": None,
        "array_task_max": None, "array_task_step": None, "expected_end": None,
        "admin_priority": None, "array_limit": None, "cpus_per_task_set": False,
        "updated": 1_700_000_000.5,
    }
    row.update(changes)
    return row


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    s.create()
    yield s
    s.close()


def reopen(store: Store) -> Store:
    url = store.url.render_as_string(hide_password=False)
    store.close()
    again = Store(url)
    again.create()
    return again


def test_every_column_round_trips(store):
    big = 2**40 + 7  # ids and sizes beyond 32 bits
    rows = [
        job_row(1),
        job_row(big, array_job_id=big, array_task_id=3, state="RUNNING", held=True,
                start_time=1_700_000_050.25, node_list="node1", cpu_ids=[0, 1, 6, 7],
                gpu_ids=[1], gpus=[[None, 2]], mem_per_node=2**35, max_rss=2**34,
                supervisor_pid=4242, array_task_count=16, array_task_min=0,
                array_task_max=15, array_task_step=1, expected_end=1_700_003_650.25,
                admin_priority=1e6, array_limit=2, cpus_per_task_set=True,
                spec=None, stdout=None, stderr=None, nice=-5, priority=1e-9),
    ]
    store.write(rows, [])
    for row in rows:
        assert store.get(row["job_id"]) == row
    assert store.get(999) is None


def test_missing_columns_get_defaults_and_updated_is_stamped(store):
    store.write([{"job_id": 5, "user": "bob", "state": "PENDING", "submit_time": 10.0}], [], now=11.0)
    row = store.get(5)
    assert (row["qos"], row["cpus"], row["gpus"], row["held"], row["updated"]) == ("normal", 1, [], False, 11.0)


@pytest.mark.parametrize("bad, message", [
    ({"job_id": 1, "user": "a", "state": "PENDING", "submit_time": 0.0, "colour": "red"}, "unknown column"),
    ({"job_id": 1, "state": "PENDING", "submit_time": 0.0}, "missing required column"),
])
def test_malformed_rows_are_refused(store, bad, message):
    with pytest.raises(StoreError, match=message):
        store.write([job_row(7), bad], [])
    assert store.get(7) is None


def test_a_failing_batch_leaves_nothing(store):
    store.write([job_row(1), job_row(2)], [])
    ids = store.reserve_job_ids(3)
    assert list(ids) == [3, 4, 5]
    # The duplicate id fails inside the database, after other statements of the batch ran.
    with pytest.raises(sa.exc.IntegrityError):
        store.write([job_row(3), job_row(4), job_row(5), job_row(1)],
                    [{"job_id": 2, "state": "CANCELLED", "end_time": 5.0}])
    assert [store.get(i) for i in ids] == [None, None, None]
    assert store.get(2)["state"] == "PENDING"
    store = reopen(store)
    assert store.next_job_id() == 3  # the failed batch's ids were never acknowledged
    store.close()


def test_updates_change_only_their_columns(store):
    store.write([job_row(i) for i in (1, 2, 3)], [], now=100.0)
    store.write([], [
        {"job_id": 1, "state": "RUNNING", "start_time": 200.0, "cpu_ids": [2, 3]},
        {"job_id": 2, "state": "RUNNING", "start_time": 201.0, "cpu_ids": [4, 5]},
        {"job_id": 3, "held": True, "reason": "JobHeldUser"},
        {"job_id": 77, "state": "RUNNING"},  # unknown id: changes nothing
    ], now=300.0)
    one, two, three = (store.get(i) for i in (1, 2, 3))
    assert one == job_row(1, state="RUNNING", start_time=200.0, cpu_ids=[2, 3], updated=300.0)
    assert two == job_row(2, state="RUNNING", start_time=201.0, cpu_ids=[4, 5], updated=300.0)
    assert three == job_row(3, held=True, reason="JobHeldUser", updated=300.0)
    assert store.get(77) is None
    store.write([], [{"job_id": 1, "state": "COMPLETED", "updated": 400.5}], now=999.0)
    assert store.get(1)["updated"] == 400.5


def test_an_update_without_a_job_id_is_refused(store):
    with pytest.raises(StoreError, match="job_id"):
        store.write([], [{"state": "RUNNING"}])


def test_unfinished_are_pending_and_running_in_id_order(store):
    states = {9: "RUNNING", 2: "PENDING", 5: "COMPLETED", 7: "PENDING", 1: "FAILED",
              3: "RUNNING", 4: "CANCELLED", 8: "TIMEOUT"}
    store.write([job_row(i, state=s) for i, s in states.items()], [])
    unfinished = store.unfinished()
    assert [r["job_id"] for r in unfinished] == [2, 3, 7, 9]
    assert unfinished[0]["spec"]["argv"] == ["--epochs", "3"]


def test_outcomes_are_the_final_states(store):
    store.write([job_row(1, state="COMPLETED"), job_row(2, state="FAILED"),
                 job_row(3, state="RUNNING"), job_row(4, state="NODE_FAIL")], [])
    assert store.outcomes() == {1: "COMPLETED", 2: "FAILED", 4: "NODE_FAIL"}
    assert store.outcomes([2, 3, 4, 99]) == {2: "FAILED", 4: "NODE_FAIL"}
    assert store.outcomes([]) == {}


def test_outcomes_of_many_ids(store):
    store.write([job_row(i, state="COMPLETED") for i in range(1, 1201)], [])
    assert store.outcomes(range(0, 1300, 2)) == {i: "COMPLETED" for i in range(2, 1201, 2)}


@pytest.fixture
def history(store):
    """Six jobs around the window [100, 200] (submit, start, end)."""
    store.write([
        job_row(1, user="alice", state="COMPLETED", submit_time=10.0, start_time=20.0, end_time=90.0),
        job_row(2, user="bob", state="COMPLETED", submit_time=50.0, start_time=60.0, end_time=100.0),
        job_row(3, user="alice", state="RUNNING", submit_time=150.0, start_time=160.0),
        job_row(4, user="carol", state="PENDING", submit_time=190.0),
        job_row(5, user="bob", state="FAILED", submit_time=201.0, start_time=202.0, end_time=210.0),
        job_row(6, user="alice", state="CANCELLED", submit_time=120.0, end_time=130.0,
                array_job_id=6, array_task_id=0),
        job_row(7, user="alice", state="COMPLETED", submit_time=120.0, start_time=125.0,
                end_time=140.0, array_job_id=6, array_task_id=1),
    ], [])
    return store


def selected(rows: list[dict]) -> list[int]:
    return [r["job_id"] for r in rows]


def test_accounting_window_keeps_jobs_in_the_system_during_it(history):
    assert selected(history.accounting()) == [1, 2, 3, 4, 5, 6, 7]
    assert selected(history.accounting(start=100.0, end=200.0)) == [2, 3, 4, 6, 7]
    assert selected(history.accounting(start=100.5)) == [3, 4, 5, 6, 7]
    assert selected(history.accounting(end=55.0)) == [1, 2]


def test_accounting_filters_combine(history):
    assert selected(history.accounting(users=["alice"])) == [1, 3, 6, 7]
    assert selected(history.accounting(users=["bob", "carol"], states=["FAILED", "PENDING"])) == [4, 5]
    assert selected(history.accounting(users=["alice"], start=100.0, end=200.0)) == [3, 6, 7]
    assert selected(history.accounting(states=["RUNNING", "PENDING"], limit=1)) == [3]
    assert history.accounting(users=["nobody"]) == []


def test_accounting_ids_select_jobs_and_whole_arrays(history):
    assert selected(history.accounting(ids=[6])) == [6, 7]  # the array and its tasks
    assert selected(history.accounting(ids=[2, 7])) == [2, 7]
    assert selected(history.accounting(array_ids=[(6, 1)])) == [7]
    assert selected(history.accounting(ids=[1], array_ids=[(6, 0)])) == [1, 6]
    assert history.accounting(ids=[]) == []


def test_usage_since_counts_allocated_cpu_seconds_after_t(history):
    # 4 CPUs each: bob's job 2 ran 60..100 and job 5 202..210; alice's job 3 runs from 160,
    # job 7 ran 125..140; job 6 never started.
    assert history.usage_since(0.0, now=300.0) == pytest.approx(
        {"alice": 4 * (70 + 140 + 15), "bob": 4 * (40 + 8)})
    assert history.usage_since(130.0, now=300.0) == pytest.approx(
        {"alice": 4 * (140 + 10), "bob": 4 * 8})
    assert history.usage_since(500.0, now=300.0) == {}


def test_job_ids_survive_a_reopen(store):
    assert store.next_job_id() == store.next_job_id() == FIRST_JOB_ID  # a peek
    batch = store.reserve_job_ids(4)
    assert list(batch) == [1, 2, 3, 4]
    store.write([job_row(i) for i in batch], [])
    lost = store.reserve_job_ids(10)  # never written: nobody was told about them
    assert lost == range(5, 15) and store.next_job_id() == 15
    store = reopen(store)
    assert store.next_job_id() == 5
    # The high-water mark outlives the rows (an admin may purge old jobs).
    with store.engine.begin() as conn:
        conn.execute(jobs.delete())
    store = reopen(store)
    assert store.reserve_job_ids(2) == range(5, 7)
    store.close()


def test_a_high_water_mark_from_the_caller_is_kept(store):
    store.write([job_row(3)], [], next_job_id=10)
    store.write([], [{"job_id": 3, "state": "RUNNING"}], next_job_id=7)  # never goes down
    assert store.next_job_id() == 10
    store.write([], [], next_job_id=12)  # a mark alone is written too
    store = reopen(store)
    assert store.next_job_id() == 12
    store.close()


def test_ids_stay_ahead_of_rows_written_with_ids_from_elsewhere(store):
    store.write([job_row(500)], [])
    assert store.next_job_id() == 501
    assert store.reserve_job_ids(0) == range(501, 501)
    with pytest.raises(ValueError, match="negative"):
        store.reserve_job_ids(-1)


def test_create_is_idempotent(store):
    store.write([job_row(1)], [])
    store.create()
    store = reopen(store)
    assert store.get(1) == job_row(1)
    store.close()


def test_another_schema_version_is_refused(store):
    url = store.url.render_as_string(hide_password=False)
    with store.engine.begin() as conn:
        conn.execute(meta.update().where(meta.c.key == "schema_version").values(value="999"))
    store.close()
    other = Store(url)
    with pytest.raises(SchemaVersionError, match=rf"schema version 999, but this Kairos reads version {SCHEMA_VERSION}"):
        other.create()
    other.close()


@pytest.mark.parametrize("url", ["mysql://root@localhost/kairos", "not a url"])
def test_unsupported_urls_are_refused(url):
    with pytest.raises(StoreError, match="use sqlite:///path or postgresql"):
        Store(url)


def test_an_unreachable_postgresql_says_where(tmp_path):
    store = Store("postgresql+psycopg://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(StoreError, match=r"cannot open the database postgresql\+psycopg://nobody:\*\*\*@"):
        store.create()
    store.close()


def test_sqlite_runs_in_wal_mode_and_creates_its_folder(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'home' / 'kairos.db'}")
    store.create()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    store.close()
    assert (tmp_path / "home" / "kairos.db").exists()


WRITER = textwrap.dedent("""
    import sys
    from kairos.server.store import Store

    store = Store(sys.argv[1])
    store.create()
    previous = []
    while True:
        ids = store.reserve_job_ids(20)
        inserts = [{"job_id": i, "user": "u", "state": "PENDING", "submit_time": float(i),
                    "spec": {"script": "x" * 2000, "environment": {"K": "v" * 500}}} for i in ids]
        updates = [{"job_id": i, "state": "RUNNING", "start_time": float(i)} for i in previous]
        store.write(inserts, updates)
        print(ids[-1], flush=True)  # acknowledged: the batch is committed
        previous = ids
""")


def test_a_killed_writer_loses_no_acknowledged_row(db_url):
    with Store(db_url) as schema_first:
        schema_first.create()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, db_url], stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    acknowledged = []
    try:
        while len(acknowledged) < 40:
            line = writer.stdout.readline()
            assert line, "the writer died before it was killed"
            acknowledged.append(int(line))
    finally:
        writer.send_signal(signal.SIGKILL)
        rest, _ = writer.communicate(timeout=30)
    acknowledged += [int(line) for line in rest.split()]
    assert writer.returncode == -signal.SIGKILL

    store = Store(db_url)
    store.create()
    try:
        last = acknowledged[-1]
        rows = store.accounting()
        ids = [r["job_id"] for r in rows]
        assert ids[:last] == list(range(1, last + 1)), "an acknowledged row is missing"
        assert len(ids) % 20 == 0, "a batch was half written"
        states = {r["job_id"]: r["state"] for r in rows}
        assert all(states[i] == "RUNNING" for i in range(1, last - 19))
        assert store.next_job_id() > ids[-1]
        if db_url.startswith("sqlite"):
            with store.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    finally:
        store.close()
