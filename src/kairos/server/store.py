"""The accounting database: every job the live manager has seen, pending to finished.

The controller keeps its working state in memory (the core's ``Scheduler``); this store
is what survives it.  It answers four needs:

* **Durability of acknowledged submissions.**  The controller answers ``sbatch`` only
  after the batch holding the job is committed by ``write()``.  Each ``write()`` is one
  transaction, so a batch is either all there or not there at all.
* **Recovery.**  After a crash ``unfinished()`` gives back the pending and running jobs,
  with the ``spec`` (script, environment, ...) needed to start or requeue them.
* **Accounting.**  ``accounting()`` is what ``sacct`` asks; ``outcomes()`` feeds
  dependencies (``afterok`` on a job finished before a restart); ``usage_since()`` seeds
  fair share.
* **Job ids that are never reused.**  Ids are handed out from memory (no I/O on the
  submit path: ``reserve_job_ids()`` here, or the controller's own counter); every
  ``write()`` raises the persisted high-water mark in ``meta`` to one past the largest id
  it inserts (or to its ``next_job_id`` argument), in the same transaction as the rows.
  An id is acknowledged only once its row is committed, so after a crash the next id is
  past every acknowledged one.  Ids handed out but never committed may be handed out
  again: nobody was told about them.

Rows go in and come out as plain dicts keyed by ``JobInfo``'s names (``docs/live.md``)
plus the columns below that only the server needs.  SQLAlchemy Core, not the ORM: the
submit path writes thousands of rows a second and needs nothing but ``executemany``.

SQLite (the default, one file in ``KAIROS_HOME``) runs in WAL mode with
``synchronous=NORMAL``: a committed transaction survives a crash of the process (it is in
the WAL file), and the file stays consistent after a crash of the machine, though the
last few commits before a power loss may be lost.  PostgreSQL is reached with a
``postgresql+psycopg://`` URL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, Engine

#: Bumped whenever a table changes shape; a database written by another version is
#: refused rather than misread.
SCHEMA_VERSION = 1
#: The first job id of a fresh database (Slurm's FirstJobId default).
FIRST_JOB_ID = 1
#: States of jobs that are not finished yet; every other state is final.
UNFINISHED_STATES = ("PENDING", "RUNNING", "COMPLETING")
#: The most values bound in one ``IN (...)`` list (SQLite's limit is far higher; this
#: keeps statements small).
_IN_CHUNK = 500

_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")

metadata = sa.MetaData()


def _required(name: str, type_) -> sa.Column:
    return sa.Column(name, type_, nullable=False)


def _optional(name: str, type_) -> sa.Column:
    return sa.Column(name, type_, nullable=True)


jobs = sa.Table(
    "jobs", metadata,
    # --- JobInfo (docs/live.md), in the contract's order
    sa.Column("job_id", sa.BigInteger, primary_key=True, autoincrement=False),
    _optional("array_job_id", sa.BigInteger),
    _optional("array_task_id", sa.Integer),
    _required("name", sa.Text),
    _required("user", sa.Text),
    _required("uid", sa.Integer),
    _required("gid", sa.Integer),
    _required("group", sa.Text),
    _required("account", sa.Text),
    _required("partition", sa.Text),
    _required("qos", sa.Text),
    _required("state", sa.Text),
    _required("reason", sa.Text),
    _required("priority", sa.Double),
    _required("nice", sa.Integer),
    _required("held", sa.Boolean),
    _required("submit_time", sa.Double),
    _optional("eligible_time", sa.Double),
    _optional("start_time", sa.Double),
    _optional("end_time", sa.Double),
    _optional("expected_start", sa.Double),
    _optional("time_limit", sa.Double),
    _optional("time_min", sa.Double),
    _required("nodes", sa.Integer),
    _required("ntasks", sa.Integer),
    _required("cpus_per_task", sa.Integer),
    _required("cpus", sa.Integer),
    _optional("mem_per_node", sa.BigInteger),
    _required("gpus", _JSON),
    _optional("dependency", sa.Text),
    _optional("begin", sa.Double),
    _required("work_dir", sa.Text),
    _optional("stdout", sa.Text),
    _optional("stderr", sa.Text),
    _required("command", sa.Text),
    _optional("node_list", sa.Text),
    _required("cpu_ids", _JSON),
    _required("gpu_ids", _JSON),
    _required("exit_code", sa.Integer),
    _required("signal", sa.Integer),
    _optional("cpu_time", sa.Double),
    _optional("max_rss", sa.BigInteger),
    _required("restarts", sa.Integer),
    # --- what only the server needs
    _optional("spec", _JSON),  #: the SubmitSpec: everything needed to (re)start the job
    _optional("supervisor_pid", sa.Integer),
    _optional("array_task_count", sa.Integer),
    _optional("array_task_min", sa.Integer),
    _optional("array_task_max", sa.Integer),
    _optional("array_task_step", sa.Integer),
    _optional("expected_end", sa.Double),
    _optional("admin_priority", sa.Double),  #: set by ``scontrol update Priority=``
    _optional("array_limit", sa.Integer),  #: an array's ``%N`` throttle
    _required("cpus_per_task_set", sa.Boolean),  #: ``-c`` was given (SLURM_CPUS_PER_TASK)
    _required("updated", sa.Double),  #: when the row last changed (epoch seconds)
    sa.Index("ix_jobs_state", "state"),
    sa.Index("ix_jobs_user", "user"),
    sa.Index("ix_jobs_submit_time", "submit_time"),
    sa.Index("ix_jobs_end_time", "end_time"),
    sa.Index("ix_jobs_array_job_id", "array_job_id"),
)

meta = sa.Table(
    "meta", metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

COLUMNS: frozenset[str] = frozenset(jobs.c.keys())
#: Columns an inserted row must name; every other column has a default below.
REQUIRED_ON_INSERT = ("job_id", "user", "state", "submit_time")
#: What an inserted row gets for a column it leaves out.  Shared list objects are fine:
#: rows are serialized, never mutated.
INSERT_DEFAULTS: dict[str, object] = {
    **{name: None for name in COLUMNS},
    "name": "", "uid": -1, "gid": -1, "group": "", "account": "", "partition": "",
    "qos": "normal", "reason": "None", "priority": 0.0, "nice": 0, "held": False,
    "nodes": 1, "ntasks": 1, "cpus_per_task": 1, "cpus": 1, "gpus": [], "work_dir": "",
    "command": "", "cpu_ids": [], "gpu_ids": [], "exit_code": 0, "signal": 0, "restarts": 0,
    "cpus_per_task_set": False,
}

_SCHEMA_KEY = "schema_version"
_NEXT_ID_KEY = "next_job_id"


class StoreError(ValueError):
    """The database cannot be used as configured (bad URL, unreachable, bad rows)."""


class SchemaVersionError(StoreError):
    """The database was written by a Kairos with a different table layout."""


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
        """Create the tables if missing (idempotent) and check the schema version.

        Raises ``SchemaVersionError`` when the database holds another layout and
        ``StoreError`` when it cannot be reached.
        """
        try:
            metadata.create_all(self.engine, checkfirst=True)
            with self.engine.begin() as conn:
                stored = dict(conn.execute(sa.select(meta.c.key, meta.c.value)).all())
                self._check_version(stored.get(_SCHEMA_KEY))
                missing = {_SCHEMA_KEY: str(SCHEMA_VERSION), _NEXT_ID_KEY: str(FIRST_JOB_ID)}
                rows = [{"key": k, "value": v} for k, v in missing.items() if k not in stored]
                if rows:
                    conn.execute(meta.insert(), rows)
        except sa.exc.OperationalError as e:
            raise StoreError(f"cannot open the database {self.safe_url}: {e.orig}") from e
        with self._lock:
            self._next_id = self._stored_next_id()

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def _check_version(self, stored: str | None) -> None:
        if stored is None or stored == str(SCHEMA_VERSION):
            return
        raise SchemaVersionError(
            f"the database {self.safe_url} has schema version {stored}, but this Kairos "
            f"reads version {SCHEMA_VERSION}; run the Kairos that wrote it, or point "
            f"[database] url in config.toml at another database (for SQLite, move the "
            f"file aside to start afresh)"
        )

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

    def write(self, inserts: Sequence[Mapping] = (), updates: Sequence[Mapping] = (), *,
              now: float | None = None, next_job_id: int | None = None) -> None:
        """Insert new rows and update existing ones, all in one transaction.

        ``inserts`` are whole rows (missing columns get ``INSERT_DEFAULTS``; ``job_id``,
        ``user``, ``state`` and ``submit_time`` are required).  ``updates`` are partial:
        ``job_id`` plus the changed columns; an update of an unknown id changes nothing.
        ``updated`` is stamped with ``now`` (default: the wall clock) unless given.
        ``next_job_id``, when given, is the caller's next free id; the persisted
        high-water mark becomes at least that (it never goes down).  On any error
        nothing of the batch is written.
        """
        stamp = time.time() if now is None else now
        rows = [_full_row(row, stamp) for row in inserts]
        groups = _group_updates(updates, stamp)
        mark = max([row["job_id"] + 1 for row in rows] + [next_job_id or 0])
        if not rows and not groups and not mark:
            return
        with self.engine.begin() as conn:
            if rows:
                conn.execute(self._insert, rows)
            for columns, params in groups.items():
                conn.execute(self._update_statement(columns), params)
            if mark:
                conn.execute(self._raise_mark, {"mark": mark, "mark_text": str(mark)})
        if mark:
            with self._lock:
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

    def get(self, job_id: int) -> dict | None:
        """The row of ``job_id``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.job_id == job_id)).first()
        return None if row is None else dict(row._mapping)

    def unfinished(self) -> list[dict]:
        """Pending and running jobs (with their ``spec``), by job id."""
        query = sa.select(jobs).where(jobs.c.state.in_(UNFINISHED_STATES)).order_by(jobs.c.job_id)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def outcomes(self, ids: Iterable[int] | None = None) -> dict[int, str]:
        """Final state of each finished job (of ``ids`` only, when given)."""
        query = sa.select(jobs.c.job_id, jobs.c.state).where(jobs.c.state.not_in(UNFINISHED_STATES))
        with self.engine.connect() as conn:
            if ids is None:
                return dict(conn.execute(query).all())
            found: dict[int, str] = {}
            for chunk in _chunks(sorted(set(ids))):
                found.update(conn.execute(query.where(jobs.c.job_id.in_(chunk))).all())
            return found

    def accounting(self, *, ids: Iterable[int] | None = None,
                   array_ids: Iterable[tuple[int, int]] | None = None,
                   users: Iterable[str] | None = None, states: Iterable[str] | None = None,
                   start: float | None = None, end: float | None = None,
                   limit: int | None = None) -> list[dict]:
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
        query = sa.select(jobs).where(*_accounting_filters(ids, array_ids, users, states, start, end))
        query = query.order_by(jobs.c.job_id)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

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


def _make_engine(url: URL, busy_timeout: float) -> Engine:
    if url.get_backend_name() == "postgresql":
        return sa.create_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": busy_timeout})
    milliseconds = int(busy_timeout * 1000)

    @sa.event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={milliseconds}")
        cursor.close()

    return engine


def _full_row(row: Mapping, stamp: float) -> dict:
    """``row`` completed with defaults; unknown or missing required columns raise."""
    unknown = row.keys() - COLUMNS
    if unknown:
        raise StoreError(f"job row {row.get('job_id')}: unknown column(s) {sorted(unknown)}")
    missing = [name for name in REQUIRED_ON_INSERT if row.get(name) is None]
    if missing:
        raise StoreError(f"job row {row.get('job_id')}: missing required column(s) {missing}")
    full = {**INSERT_DEFAULTS, **row}
    if full["updated"] is None:
        full["updated"] = stamp
    return full


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
        filters.append(jobs.c.state.in_(list(states)))
    if end is not None:
        filters.append(jobs.c.submit_time <= end)
    if start is not None:
        filters.append(sa.or_(jobs.c.end_time.is_(None), jobs.c.end_time >= start))
    return filters


def _chunks(values: Sequence[int]) -> Iterator[Sequence[int]]:
    for i in range(0, len(values), _IN_CHUNK):
        yield values[i:i + _IN_CHUNK]
