"""The accounting database, on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from kairos.core.jobs import JobState
from kairos.model import LiveJob, Submission
from kairos.model.job import ROW_FIELDS
from kairos.server.store import FIRST_JOB_ID, SchemaVersionError, Store, StoreError
from kairos.server.tables import jobs

PENDING, RUNNING, COMPLETED, FAILED = (JobState.PENDING, JobState.RUNNING, JobState.COMPLETED,
                                       JobState.FAILED)
#: A database as Kairos wrote it before migrations existed (schema version 1): six jobs,
#: pending, running, finished and array tasks, dumped from SQLite.
SCHEMA_1_DUMP = Path(__file__).parent / "data" / "kairos-schema-1.sql"


def job(job_id: int, **changes) -> LiveJob:
    """A job with every field set to something other than its default."""
    values = dict(
        job_id=job_id, name="train.sh", user="alice", uid=1000, gid=1000, group="alice",
        account="physics", partition="local", qos="normal", state=PENDING, reason="Priority",
        priority=0.25, nice=0, held=False, submit_time=1_700_000_000.125,
        eligible_time=1_700_000_000.125, expected_start=1_700_000_100.5, time_limit=3600.0,
        nodes=1, ntasks=2, cpus_per_task=2, cpus=4, mem_per_node=8192, gpus=(("a100", 1),),
        work_dir="/home/alice", stdout=f"/home/alice/slurm-{job_id}.out",
        stderr=f"/home/alice/slurm-{job_id}.out", command="train.sh",
        submission=Submission("#!/bin/sh\necho hi\n", "/home/alice", argv=["--epochs", "3"],
                              environment={"PATH": "/usr/bin", "LANG": "C.UTF-8"},
                              submit_host="login1"),
        updated=1_700_000_000.5)
    values.update(changes)
    return LiveJob(**values)


def row(job: LiveJob | None) -> dict | None:
    return None if job is None else job.to_row()


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


def test_the_jobs_table_holds_the_job_record():
    assert sorted(jobs.c.keys()) == sorted(ROW_FIELDS)


def test_every_column_round_trips(store):
    big = 2**40 + 7  # ids and sizes beyond 32 bits
    written = [
        job(1),
        job(big, array_job_id=big, array_task_id=3, state=RUNNING, held=True,
            start_time=1_700_000_050.25, node_list="node1", cpu_ids=(0, 1, 6, 7),
            gpu_ids=(1,), gpus=((None, 2),), mem_per_node=2**35, max_rss=2**34,
            supervisor_pid=4242, array_task_count=16, array_task_min=0,
            array_task_max=15, array_task_step=1, expected_end=1_700_003_650.25,
            admin_priority=1e6, array_limit=2, submission=None, stdout=None, stderr=None,
            nice=-5, priority=1e-9, comment="a comment", wckey="proj"),
    ]
    store.write(written, [])
    for j in written:
        assert row(store.get(j.job_id)) == j.to_row()
    assert store.get(big).state is RUNNING and store.get(big).gpus == ((None, 2),)
    assert store.get(1).submission.argv == ["--epochs", "3"]
    assert store.get(999) is None


def test_json_columns_keep_what_orjson_cannot_write(store):
    # orjson refuses integers beyond 64 bits: such a value is written all the same
    huge = Submission("#!/bin/sh\n", "/tmp", mem_per_node=2**70, environment={"É": "ü 🚀"})
    store.write([job(7, submission=huge, node_cpus=(2**65,))], [])
    again = store.get(7)
    assert again.submission.mem_per_node == 2**70 and again.node_cpus == (2**65,)
    assert again.submission.environment == {"É": "ü 🚀"}


def test_an_insert_without_a_stamp_gets_the_write_time(store):
    store.write([job(5, updated=0.0)], [], now=11.0)
    assert store.get(5).updated == 11.0


@pytest.mark.parametrize("bad, message", [
    ({"job_id": 1, "colour": "red"}, "unknown column"),
    ({"state": "RUNNING"}, "job_id"),
])
def test_malformed_updates_are_refused_and_nothing_is_written(store, bad, message):
    with pytest.raises(StoreError, match=message):
        store.write([job(7)], [bad])
    assert store.get(7) is None


def test_a_failing_batch_leaves_nothing(store):
    store.write([job(1), job(2)], [])
    ids = store.reserve_job_ids(3)
    assert list(ids) == [3, 4, 5]
    # The duplicate id fails inside the database, after other statements of the batch ran.
    with pytest.raises(sa.exc.IntegrityError):
        store.write([job(3), job(4), job(5), job(1)],
                    [{"job_id": 2, "state": "CANCELLED", "end_time": 5.0}])
    assert [store.get(i) for i in ids] == [None, None, None]
    assert store.get(2).state is PENDING
    store = reopen(store)
    assert store.next_job_id() == 3  # the failed batch's ids were never acknowledged
    store.close()


def test_updates_change_only_their_columns(store):
    store.write([job(i) for i in (1, 2, 3)], [], now=100.0)
    changed = [job(1, state=RUNNING, start_time=200.0, cpu_ids=(2, 3), updated=300.0),
               job(2, state=RUNNING, start_time=201.0, cpu_ids=(4, 5), updated=300.0),
               job(3, held=True, reason="JobHeldUser", updated=300.0)]
    names = [("state", "start_time", "cpu_ids"), ("state", "start_time", "cpu_ids"),
             ("held", "reason")]
    updates = [j.to_row(("job_id", *n)) for j, n in zip(changed, names)]
    store.write([], updates + [{"job_id": 77, "state": "RUNNING"}], now=300.0)  # 77: unknown
    for j in changed:
        assert row(store.get(j.job_id)) == j.to_row()
    assert store.get(77) is None
    store.write([], [{"job_id": 1, "state": "COMPLETED", "updated": 400.5}], now=999.0)
    assert store.get(1).updated == 400.5


def test_unfinished_are_pending_and_running_in_id_order(store):
    states = {9: RUNNING, 2: PENDING, 5: COMPLETED, 7: PENDING, 1: FAILED,
              3: RUNNING, 4: JobState.CANCELLED, 8: JobState.TIMEOUT}
    store.write([job(i, state=s) for i, s in states.items()], [])
    unfinished = store.unfinished()
    assert [j.job_id for j in unfinished] == [2, 3, 7, 9]
    assert unfinished[0].submission.argv == ["--epochs", "3"]


def test_outcomes_are_the_final_states(store):
    store.write([job(1, state=COMPLETED), job(2, state=FAILED), job(3, state=RUNNING),
                 job(4, state=JobState.NODE_FAIL)], [])
    assert store.outcomes() == {1: COMPLETED, 2: FAILED, 4: JobState.NODE_FAIL}
    assert store.outcomes([2, 3, 4, 99]) == {2: FAILED, 4: JobState.NODE_FAIL}
    assert store.outcomes([]) == {}


def test_outcomes_of_many_ids(store):
    store.write([job(i, state=COMPLETED) for i in range(1, 1201)], [])
    assert store.outcomes(range(0, 1300, 2)) == {i: COMPLETED for i in range(2, 1201, 2)}


@pytest.fixture
def history(store):
    """Six jobs around the window [100, 200] (submit, start, end)."""
    store.write([
        job(1, user="alice", state=COMPLETED, submit_time=10.0, start_time=20.0, end_time=90.0),
        job(2, user="bob", state=COMPLETED, submit_time=50.0, start_time=60.0, end_time=100.0),
        job(3, user="alice", state=RUNNING, submit_time=150.0, start_time=160.0),
        job(4, user="carol", state=PENDING, submit_time=190.0),
        job(5, user="bob", state=FAILED, submit_time=201.0, start_time=202.0, end_time=210.0),
        job(6, user="alice", state=JobState.CANCELLED, submit_time=120.0, end_time=130.0,
            array_job_id=6, array_task_id=0),
        job(7, user="alice", state=COMPLETED, submit_time=120.0, start_time=125.0,
            end_time=140.0, array_job_id=6, array_task_id=1),
    ], [])
    return store


def selected(found: list[LiveJob]) -> list[int]:
    return [j.job_id for j in found]


def test_accounting_window_keeps_jobs_in_the_system_during_it(history):
    assert selected(history.accounting()) == [1, 2, 3, 4, 5, 6, 7]
    assert selected(history.accounting(start=100.0, end=200.0)) == [2, 3, 4, 6, 7]
    assert selected(history.accounting(start=100.5)) == [3, 4, 5, 6, 7]
    assert selected(history.accounting(end=55.0)) == [1, 2]


def test_accounting_filters_combine(history):
    assert selected(history.accounting(users=["alice"])) == [1, 3, 6, 7]
    assert selected(history.accounting(users=["bob", "carol"], states=[FAILED, PENDING])) == [4, 5]
    assert selected(history.accounting(users=["alice"], start=100.0, end=200.0)) == [3, 6, 7]
    assert selected(history.accounting(states=[RUNNING, PENDING], limit=1)) == [3]
    assert history.accounting(users=["nobody"]) == []


def test_accounting_ids_select_jobs_and_whole_arrays(history):
    assert selected(history.accounting(ids=[6])) == [6, 7]  # the array and its tasks
    assert selected(history.accounting(ids=[2, 7])) == [2, 7]
    assert selected(history.accounting(array_ids=[(6, 1)])) == [7]
    assert selected(history.accounting(ids=[1], array_ids=[(6, 0)])) == [1, 6]
    assert history.accounting(ids=[]) == []


@pytest.mark.parametrize("query", [{}, {"users": ["alice"], "start": 100.0}, {"ids": [6]},
                                   {"states": [RUNNING, PENDING], "limit": 1}])
def test_accounting_info_is_the_jobs_wire_form(history, query):
    history.write([job(8, state=RUNNING, gpus=(("a100", 2), (None, 1)), node_list="n[1-2]",
                       node_cpus=(4, 4), cpu_ids=(0, 1, 2, 3), gpu_ids=(0, 1))], [])
    wire = [j.to_wire() for j in history.accounting(**query)]
    assert history.accounting_info(**query) == wire and wire


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
    store.write([job(i) for i in batch], [])
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
    store.write([job(3)], [], next_job_id=10)
    store.write([], [{"job_id": 3, "state": "RUNNING"}], next_job_id=7)  # never goes down
    assert store.next_job_id() == 10
    store.write([], [], next_job_id=12)  # a mark alone is written too
    store = reopen(store)
    assert store.next_job_id() == 12
    store.close()


def test_ids_stay_ahead_of_rows_written_with_ids_from_elsewhere(store):
    store.write([job(500)], [])
    assert store.next_job_id() == 501
    assert store.reserve_job_ids(0) == range(501, 501)
    with pytest.raises(ValueError, match="negative"):
        store.reserve_job_ids(-1)


def test_create_is_idempotent(store):
    store.write([job(1)], [])
    store.create()
    store = reopen(store)
    assert row(store.get(1)) == job(1).to_row()
    store.close()


def test_a_database_from_a_newer_kairos_is_refused(store):
    url = store.url.render_as_string(hide_password=False)
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    store.close()
    other = Store(url)
    with pytest.raises(SchemaVersionError, match=r"schema revision 9999, which this Kairos does not know"):
        other.create()
    other.close()


def test_an_old_database_is_upgraded_and_loses_nothing(tmp_path):
    # The database a Kairos wrote before migrations existed: its jobs come back whole,
    # with the options as given (-c) moved into each job's submission.
    path = tmp_path / "kairos.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_1_DUMP.read_text())
    store = Store(f"sqlite:///{path}")
    store.create()
    try:
        assert [j.job_id for j in store.unfinished()] == [3, 4, 5, 6]
        assert store.outcomes() == {1: COMPLETED, 2: FAILED}
        assert store.next_job_id() == 7
        running, done, failed = store.get(3), store.get(1), store.get(2)
        assert (running.state, running.cpu_ids, running.supervisor_pid) == (RUNNING, (0, 1, 2, 3), 4242)
        assert running.submission.script == "#!/bin/sh\necho hi\n"
        assert running.submission.cpus_per_task_set and running.submission.work_dir == "/home/alice"
        assert running.submission.gpus == [("a100", 1)] and running.gpus == (("a100", 1),)
        assert (done.cpu_time, done.max_rss, done.end_time) == (55.5, 2048, 1_700_000_070.0)
        assert not failed.submission.cpus_per_task_set and failed.submission.mem_per_cpu == 512
        assert failed.request().mem_per_node == 512 * 4
        task = store.get(6)
        assert (task.array_job_id, task.array_task_id, task.array_limit, task.held,
                task.admin_priority) == (5, 1, 1, True, 5.0)
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT value FROM meta WHERE key = 'schema_version'").first() is None
        store.write([job(7)], [{"job_id": 4, "state": "CANCELLED"}])  # and it is writable
        assert store.get(4).state is JobState.CANCELLED
    finally:
        store.close()


def test_an_old_layout_is_upgraded_on_postgresql_too(postgres_schema_url):
    # The first revision is the old layout; a row written in it comes through the upgrade.
    from kairos.server.store import migrate

    engine = sa.create_engine(postgres_schema_url)
    try:
        with engine.begin() as conn:
            migrate(conn, "a test database", to="0001")
            conn.execute(sa.text(
                "INSERT INTO jobs (job_id, name, \"user\", uid, gid, \"group\", account, partition, "
                "qos, state, reason, priority, nice, held, submit_time, nodes, ntasks, "
                "cpus_per_task, cpus, gpus, work_dir, command, cpu_ids, gpu_ids, exit_code, "
                "signal, restarts, spec, cpus_per_task_set, updated) VALUES (1, 'a', 'alice', "
                "1, 1, 'g', '', 'local', 'normal', 'PENDING', 'None', 0, 0, false, 5, 1, 1, 2, "
                "2, '[]', '/w', 'a', '[]', '[]', 0, 0, 0, "
                "'{\"script\": \"#!/bin/sh\", \"ntasks_set\": true}', true, 5)"))
    finally:
        engine.dispose()
    with Store(postgres_schema_url) as store:
        store.create()
        [pending] = store.unfinished()
        assert pending.submission.cpus_per_task_set and pending.submission.ntasks_set
        assert pending.submission.work_dir == "/w" and pending.cpus_per_task == 2


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
    from kairos.model import LiveJob, Submission
    from kairos.server.store import Store

    store = Store(sys.argv[1])
    store.create()
    previous = []
    while True:
        ids = store.reserve_job_ids(20)
        inserts = [LiveJob(i, "u", submit_time=float(i), submission=Submission(
                       "x" * 2000, "/", environment={"K": "v" * 500})) for i in ids]
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
        ids = [j.job_id for j in rows]
        assert ids[:last] == list(range(1, last + 1)), "an acknowledged row is missing"
        assert len(ids) % 20 == 0, "a batch was half written"
        states = {j.job_id: j.state for j in rows}
        assert all(states[i] is RUNNING for i in range(1, last - 19))
        assert store.next_job_id() > ids[-1]
        if db_url.startswith("sqlite"):
            with store.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    finally:
        store.close()
