"""The accounting database: every job the live manager has seen, pending to finished.

The controller keeps its working state in memory (the core's ``Scheduler`` and one
``kairos.model.LiveJob`` per job); this store is what survives it.  It answers four needs:

* **Durability of acknowledged submissions.**  The controller answers ``sbatch`` only
  after the batch holding the job is committed by ``write()``.  Each ``write()`` is one
  transaction, so a batch is either all there or not there at all.
* **Recovery.**  After a crash ``unfinished()`` gives back the pending and running jobs,
  with the ``Submission`` (script, environment, ...) needed to start or requeue them.
* **Accounting.**  ``accounting()`` is what ``sacct`` asks; ``outcomes()`` feeds
  dependencies (``afterok`` on a job finished before a restart); ``usage_since()`` seeds
  fair share.
* **Job ids that are never reused.**  Ids are handed out from memory (no I/O on the
  submit path: ``reserve_job_ids()`` here, or the controller's own counter); every
  ``write()`` raises the persisted high-water mark in ``meta`` to one past the largest id
  it inserts (or to its ``next_job_id`` argument), in the same transaction as the rows
  (a write that raises nothing leaves ``meta`` alone).  An id is acknowledged only once
  its row is committed, so after a crash the next id is past every acknowledged one.
  Ids handed out but never committed may be handed out again: nobody was told about
  them.

Jobs go in and come out as ``LiveJob``s (converted by ``LiveJob.to_row``/``from_row``);
partial updates are column dicts.  SQLAlchemy Core, not the ORM: the submit path writes
thousands of rows a second and needs nothing but ``executemany``.  The tables
(``kairos.server.tables``) change only through Alembic migrations
(``kairos/server/migrations``), applied by ``create()``.

SQLite (the default, one file in ``KAIROS_HOME``) runs in WAL mode with
``synchronous=NORMAL``: a committed transaction survives a crash of the process (it is in
the WAL file), and the file stays consistent after a crash of the machine, though the
last few commits before a power loss may be lost.  PostgreSQL is reached with a
``postgresql+psycopg://`` URL.

JSON columns are written by ``kairos.model.json_text`` (orjson; the submit path writes
five per job) and read by orjson.  JSON has no NaN or infinity: they are written as
``null`` (the standard library's ``NaN`` is refused by PostgreSQL anyway), and
submissions holding them are refused at the API's edge.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from kairos.core.jobs import JobState
from kairos.model.job import PUBLIC_FIELDS, LiveJob
from kairos.model.json_text import dumps
from kairos.model.step import LiveStep
from kairos.server.tables import jobs, meta, nodes, steps

#: The first job id of a fresh database (Slurm's FirstJobId default).
FIRST_JOB_ID = 1
#: States of jobs that are not finished yet; every other state is final.
UNFINISHED_STATES = tuple(s.name for s in JobState if not s.finished)
#: The most values bound in one ``IN (...)`` list (SQLite's limit is far higher; this
#: keeps statements small).
_IN_CHUNK = 500
#: The migrations' folder (Alembic's script location).
MIGRATIONS = Path(__file__).with_name("migrations")

COLUMNS: frozenset[str] = frozenset(jobs.c.keys())

_NEXT_ID_KEY = "next_job_id"
#: What databases written before migrations existed keep in ``meta``.
_LEGACY_VERSION_KEY = "schema_version"
#: The revision such a database is at.
_LEGACY_REVISION = "0001"


class StoreError(ValueError):
    """The database cannot be used as configured (bad URL, unreachable, bad rows)."""


class SchemaVersionError(StoreError):
    """The database was written by a newer Kairos, with a layout this one cannot read."""


def migrate(conn: sa.Connection, where: str, *, to: str = "head") -> str:
    """Apply the pending migrations on ``conn`` (inside its transaction) up to ``to``
    (the newest, unless a test asks for an older layout); return the revision the
    database is then at.  A database from before migrations is stamped with
    the revision of its layout first; one from a newer Kairos is refused."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    script = ScriptDirectory.from_config(config)
    current = MigrationContext.configure(conn).get_current_revision()
    if current is None and sa.inspect(conn).has_table("jobs"):
        legacy = conn.execute(sa.text("SELECT value FROM meta WHERE key = :k"),
                              {"k": _LEGACY_VERSION_KEY}).scalar()
        if legacy != "1":
            raise SchemaVersionError(
                f"the database {where} has a jobs table of an unknown layout (schema "
                f"version {legacy}); point [database] url in config.toml at another database")
        command.stamp(config, _LEGACY_REVISION)
        current = _LEGACY_REVISION
    if current is not None and current not in {r.revision for r in script.walk_revisions()}:
        raise SchemaVersionError(
            f"the database {where} is at schema revision {current}, which this Kairos does "
            f"not know (it knows up to {script.get_current_head()}): a newer Kairos wrote "
            f"it; run that one, or point [database] url in config.toml at another database")
    command.upgrade(config, to)
    return MigrationContext.configure(conn).get_current_revision()


class Store:
    """The accounting database at ``url`` (``sqlite:///path`` or ``postgresql+psycopg://``).

    Call ``create()`` once before anything else.  Safe to share between threads: each
    call takes its own pooled connection; id reservation is locked.
    """

    def __init__(self, url: str, *, busy_timeout: float = 10.0) -> None:
        self.url = _parse_url(url)
        self.engine: Engine = _make_engine(self.url, busy_timeout)
        self._lock = threading.Lock()
        self._next_id: int | None = None
        #: the high-water mark known to be in ``meta``: ``write()`` writes it only to
        #: raise it
        self._durable_mark = 0
        self._insert = jobs.insert()
        self._updates: dict[tuple[str, ...], sa.Update] = {}
        self._raise_mark = (
            meta.update()
            .where(meta.c.key == _NEXT_ID_KEY,
                   sa.cast(meta.c.value, sa.BigInteger) < sa.bindparam("mark", type_=sa.BigInteger))
            .values(value=sa.bindparam("mark_text", type_=sa.Text))
        )

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for messages and logs."""
        return self.url.render_as_string(hide_password=True)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ lifecycle

    def create(self) -> None:
        """Bring the database to the newest layout (idempotent): create the tables in an
        empty one, apply pending migrations to an older one.

        Raises ``SchemaVersionError`` when the database was written by a newer Kairos and
        ``StoreError`` when it cannot be reached.
        """
        try:
            with self.engine.begin() as conn:
                migrate(conn, self.safe_url)
                stored = conn.execute(sa.select(meta.c.value).where(meta.c.key == _NEXT_ID_KEY)).scalar()
                if stored is None:
                    conn.execute(meta.insert(), [{"key": _NEXT_ID_KEY, "value": str(FIRST_JOB_ID)}])
        except sa.exc.OperationalError as e:
            raise StoreError(f"cannot open the database {self.safe_url}: {e.orig}") from e
        with self._lock:
            self._next_id = self._stored_next_id()
            self._durable_mark = int(stored or FIRST_JOB_ID)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    # ------------------------------------------------------------------- job ids

    def reserve_job_ids(self, n: int) -> range:
        """``n`` consecutive fresh job ids (no I/O).

        They become permanent when ``write()`` commits rows carrying them: until then a
        crash may hand them out again, which is harmless as long as the controller
        acknowledges a job only after its rows are written.
        """
        if n < 0:
            raise ValueError(f"cannot reserve a negative number of job ids (got {n})")
        with self._lock:
            first = self._next_id if self._next_id is not None else self._stored_next_id()
            self._next_id = first + n
        return range(first, first + n)

    def next_job_id(self) -> int:
        """The id ``reserve_job_ids()`` would hand out next (reserves nothing).

        Right after ``create()`` this is one past every id ever committed.
        """
        with self._lock:
            if self._next_id is None:
                self._next_id = self._stored_next_id()
            return self._next_id

    def _stored_next_id(self) -> int:
        """One past every id ever committed (the high-water mark, or the largest row)."""
        with self.engine.connect() as conn:
            mark = conn.execute(sa.select(meta.c.value).where(meta.c.key == _NEXT_ID_KEY)).scalar()
            largest = conn.execute(sa.select(sa.func.max(jobs.c.job_id))).scalar()
        return max(int(mark or FIRST_JOB_ID), (largest or 0) + 1)

    # -------------------------------------------------------------------- writing

    def write(self, inserts: Sequence[LiveJob] = (), updates: Sequence[Mapping] = (), *,
              now: float | None = None, next_job_id: int | None = None,
              node_rows: Sequence[Mapping] = (), step_rows: Sequence[Mapping] = ()) -> None:
        """Insert new jobs and update existing rows, all in one transaction.

        ``inserts`` are whole jobs.  ``updates`` are partial rows: ``job_id`` plus the
        changed columns (``LiveJob.to_row(names)``); an update of an unknown id changes
        nothing.  ``updated`` is stamped with ``now`` (default: the wall clock) unless
        given.  ``next_job_id``, when given, is the caller's next free id; the persisted
        high-water mark becomes at least that (it never goes down).  On any error
        nothing of the batch is written.
        """
        stamp = time.time() if now is None else now
        rows = [_insert_row(job, stamp) for job in inserts]
        groups = _group_updates(updates, stamp)
        mark = max([row["job_id"] + 1 for row in rows] + [next_job_id or 0])
        if mark <= self._durable_mark:
            mark = 0  # meta says as much already
        if not rows and not groups and not mark and not node_rows and not step_rows:
            return
        with self.engine.begin() as conn:
            if node_rows:
                names = [row["name"] for row in node_rows]
                conn.execute(nodes.delete().where(nodes.c.name.in_(names)))
                conn.execute(nodes.insert(), list(node_rows))
            if step_rows:
                for row in step_rows:
                    conn.execute(steps.delete().where(steps.c.job_id == row["job_id"],
                                                      steps.c.step_id == row["step_id"]))
                conn.execute(steps.insert(), list(step_rows))
            if rows:
                conn.execute(self._insert, rows)
            for columns, params in groups.items():
                conn.execute(self._update_statement(columns), params)
            if mark:
                conn.execute(self._raise_mark, {"mark": mark, "mark_text": str(mark)})
        if mark:
            with self._lock:
                self._durable_mark = max(self._durable_mark, mark)
                if self._next_id is not None and self._next_id < mark:
                    self._next_id = mark

    def _update_statement(self, columns: tuple[str, ...]) -> sa.Update:
        """``UPDATE jobs SET <columns> WHERE job_id = ?`` for executemany, cached."""
        statement = self._updates.get(columns)
        if statement is None:
            statement = (
                jobs.update()
                .where(jobs.c.job_id == sa.bindparam("key_job_id"))
                .values({name: sa.bindparam(f"new_{name}") for name in columns})
            )
            self._updates[columns] = statement
        return statement

    # -------------------------------------------------------------------- reading

    def get(self, job_id: int) -> LiveJob | None:
        """The job ``job_id``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.job_id == job_id)).first()
        return None if row is None else LiveJob.from_row(row._mapping)

    def nodes(self) -> list[dict]:
        """Every node row, by name."""
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.select(nodes).order_by(nodes.c.name))]

    def steps(self, job_ids: Iterable[int] | None = None, *,
              running: bool = False) -> list[LiveStep]:
        """Steps of ``job_ids`` (all jobs when None; only running ones with ``running``),
        by job and step id."""
        query = sa.select(steps).order_by(steps.c.job_id, steps.c.step_id)
        if running:
            query = query.where(steps.c.state == "RUNNING")
        with self.engine.connect() as conn:
            if job_ids is None:
                rows = conn.execute(query).all()
            else:
                rows = []
                for chunk in _chunks(sorted(set(job_ids))):
                    rows += conn.execute(query.where(steps.c.job_id.in_(chunk))).all()
        return [LiveStep.from_row(dict(row._mapping)) for row in rows]

    def unfinished(self) -> list[LiveJob]:
        """Pending and running jobs (with their submission), by job id."""
        query = sa.select(jobs).where(jobs.c.state.in_(UNFINISHED_STATES)).order_by(jobs.c.job_id)
        with self.engine.connect() as conn:
            return [LiveJob.from_row(row._mapping) for row in conn.execute(query)]

    def outcomes(self, ids: Iterable[int] | None = None) -> dict[int, JobState]:
        """Final state of each finished job (of ``ids`` only, when given)."""
        query = sa.select(jobs.c.job_id, jobs.c.state).where(jobs.c.state.not_in(UNFINISHED_STATES))
        with self.engine.connect() as conn:
            if ids is None:
                rows = conn.execute(query).all()
            else:
                rows = []
                for chunk in _chunks(sorted(set(ids))):
                    rows += conn.execute(query.where(jobs.c.job_id.in_(chunk))).all()
        return {job_id: JobState[state] for job_id, state in rows}

    def accounting(self, *, ids: Iterable[int] | None = None,
                   array_ids: Iterable[tuple[int, int]] | None = None,
                   users: Iterable[str] | None = None, states: Iterable[JobState] | None = None,
                   start: float | None = None, end: float | None = None,
                   limit: int | None = None) -> list[LiveJob]:
        """Jobs as ``sacct`` selects them, by job id.

        * ``ids``: a job whose ``job_id`` or ``array_job_id`` is listed (an array's id
          selects all its tasks); ``array_ids``: ``(array_job_id, array_task_id)`` pairs
          (``sacct -j 12_3``).  Given both, a job matching either is selected.
        * ``users``, ``states``: any of these.
        * ``start``, ``end``: the job was in the system at some time in the window:
          submitted by ``end`` and not ended before ``start`` (still running counts).
          ``None`` leaves that side open (``sacct -j`` without ``-S`` passes neither).
        * ``limit``: at most this many rows, the lowest ids first.
        """
        query = _accounting_query(sa.select(jobs), ids, array_ids, users, states, start, end, limit)
        with self.engine.connect() as conn:
            return [LiveJob.from_row(row._mapping) for row in conn.execute(query)]

    def accounting_info(self, *, ids: Iterable[int] | None = None,
                        array_ids: Iterable[tuple[int, int]] | None = None,
                        users: Iterable[str] | None = None,
                        states: Iterable[JobState] | None = None, start: float | None = None,
                        end: float | None = None, limit: int | None = None) -> list[dict]:
        """The jobs ``accounting()`` selects, as ``LiveJob.to_wire`` gives them (the API's
        ``JobInfo``), read from their public columns only: ``sacct`` over a cluster's
        history need not decode every job's submission (its script and environment) to
        drop it again."""
        query = _accounting_query(sa.select(*_PUBLIC_COLUMNS), ids, array_ids, users, states,
                                  start, end, limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        out = []
        for row in rows:
            info = dict(zip(PUBLIC_FIELDS, row))
            info["gpus"] = [[kind or None, int(count)] for kind, count in info["gpus"] or ()]
            out.append(info)
        return out

    def usage_since(self, t: float, *, now: float | None = None) -> dict[str, float]:
        """Allocated CPU-seconds per user from ``t`` to ``now`` (default: the wall clock).

        A job counts ``cpus * seconds run`` for the part of its run after ``t``; running
        jobs count up to ``now``.  This is the core's fair-share billing with GPUs free
        (its default); it is undecayed: replay ``accounting(start=t)`` for decay.
        """
        now = time.time() if now is None else now
        run_from = sa.case((jobs.c.start_time > t, jobs.c.start_time), else_=sa.literal(t, sa.Double))
        run_to = sa.func.coalesce(jobs.c.end_time, sa.literal(now, sa.Double))
        query = (
            sa.select(jobs.c.user, sa.func.sum(jobs.c.cpus * (run_to - run_from)))
            .where(jobs.c.start_time.is_not(None), run_to > run_from)
            .group_by(jobs.c.user)
        )
        with self.engine.connect() as conn:
            return {user: float(total) for user, total in conn.execute(query)}


# ------------------------------------------------------------------------ helpers


def _parse_url(url: str) -> URL:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as e:
        raise StoreError(f"cannot read the database URL {url!r}: {e}; use sqlite:///path "
                         f"or postgresql+psycopg://user@host/dbname") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(f"unsupported database {parsed.drivername!r} in "
                         f"{parsed.render_as_string(hide_password=True)}; "
                         f"use sqlite:///path or postgresql+psycopg://user@host/dbname")
    return parsed


def _json_text(value) -> str:
    """A JSON column's text (``kairos.model.json_text``)."""
    return dumps(value).decode()


#: How JSON columns are written and read (``sa.create_engine``'s options).
_JSON_CODEC = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


def _make_engine(url: URL, busy_timeout: float) -> Engine:
    if url.get_backend_name() == "postgresql":
        return sa.create_engine(url, pool_pre_ping=True, **_JSON_CODEC)
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": busy_timeout}, **_JSON_CODEC)
    milliseconds = int(busy_timeout * 1000)

    @sa.event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={milliseconds}")
        cursor.close()

    return engine


def _insert_row(job: LiveJob, stamp: float) -> dict:
    row = job.to_row()
    if not row["updated"]:
        row["updated"] = stamp
    return row


def _group_updates(updates: Iterable[Mapping], stamp: float) -> dict[tuple[str, ...], list[dict]]:
    """Updates grouped by the columns they set, as executemany parameters."""
    groups: dict[tuple[str, ...], list[dict]] = {}
    for update in updates:
        if update.get("job_id") is None:
            raise StoreError(f"an update needs the job_id of the row to change: {dict(update)}")
        unknown = update.keys() - COLUMNS
        if unknown:
            raise StoreError(f"update of job {update['job_id']}: unknown column(s) {sorted(unknown)}")
        params = {f"new_{k}": v for k, v in update.items() if k != "job_id"}
        params.setdefault("new_updated", stamp)
        params["key_job_id"] = update["job_id"]
        columns = tuple(sorted(k[4:] for k in params if k != "key_job_id"))
        groups.setdefault(columns, []).append(params)
    return groups


#: The columns of ``JobInfo``, in its order.
_PUBLIC_COLUMNS = tuple(jobs.c[name] for name in PUBLIC_FIELDS)


def _accounting_query(query, ids, array_ids, users, states, start, end, limit):
    """``query`` narrowed to what ``accounting()`` selects, by job id."""
    query = query.where(*_accounting_filters(ids, array_ids, users, states, start, end))
    query = query.order_by(jobs.c.job_id)
    return query if limit is None else query.limit(limit)


def _accounting_filters(ids, array_ids, users, states, start, end) -> list:
    filters = []
    selectors = []
    if ids is not None:
        ids = list(ids)
        selectors += [jobs.c.job_id.in_(ids), jobs.c.array_job_id.in_(ids)]
    if array_ids is not None:
        selectors += [sa.and_(jobs.c.array_job_id == a, jobs.c.array_task_id == t) for a, t in array_ids]
    if ids is not None or array_ids is not None:
        filters.append(sa.or_(sa.false(), *selectors))
    if users is not None:
        filters.append(jobs.c.user.in_(list(users)))
    if states is not None:
        filters.append(jobs.c.state.in_([s.name for s in states]))
    if end is not None:
        filters.append(jobs.c.submit_time <= end)
    if start is not None:
        filters.append(sa.or_(jobs.c.end_time.is_(None), jobs.c.end_time >= start))
    return filters


def _chunks(values: Sequence[int]) -> Iterator[Sequence[int]]:
    for i in range(0, len(values), _IN_CHUNK):
        yield values[i:i + _IN_CHUNK]
