"""Fixtures for the live manager's tests: a real, empty database of each kind, and
controllers run in this process (``bench``) with an in-process agent.

``db_url`` runs a test once on a fresh SQLite file and once on PostgreSQL.  The
PostgreSQL server is ``KAIROS_TEST_POSTGRES_URL`` (default: the local ``test`` database
as ``postgres``, trust authentication); each test gets its own schema (through the
connection's ``search_path``), dropped afterwards, so tests never see each other's rows
and leave the database as they found it.  Without a reachable server the PostgreSQL run
is skipped, saying why.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from urllib.parse import quote

import pytest
import sqlalchemy as sa

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    return os.environ.get("KAIROS_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def with_search_path(url: str, schema: str) -> str:
    """``url`` whose connections use ``schema`` for unqualified table names."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'kairos.db'}"


@pytest.fixture
def postgres_schema_url():
    """A URL into a fresh PostgreSQL schema, dropped after the test (or skip)."""
    base = postgres_url()
    engine = sa.create_engine(base)
    schema = f"kairos_test_{uuid.uuid4().hex[:12]}"
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as e:
        engine.dispose()
        pytest.skip(f"no PostgreSQL at {sa.engine.make_url(base).render_as_string(hide_password=True)} "
                    f"({str(e.orig).strip().splitlines()[0]}); set KAIROS_TEST_POSTGRES_URL to a "
                    f"server where the user may create schemas")
    try:
        yield with_search_path(base, schema)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request) -> str:
    """An empty database: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_schema_url")


class FakeClock:
    """The controller's clock, moved by the test."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


class Bench:
    """A controller in this process: a real store (SQLite) and core, the in-process agent
    and a clock the test moves.  ``step()`` runs one round of the loop."""

    def __init__(self, home, config: str, controller_uid: int, cpus: int) -> None:
        from kairos.node.facts import NodeFacts
        from kairos.server.config import build_cluster, load_settings
        from kairos.server.controller import Controller
        from kairos.server.nodes import NodeRegistry
        from kairos.server.store import Store
        from kairos.testing.agent import InProcessAgent

        home.mkdir(parents=True, exist_ok=True)
        (home / "config.toml").write_text(config)
        self.settings = load_settings(home)
        self.clock = FakeClock()
        self.loop = asyncio.new_event_loop()
        self.store = Store(self.settings.db_url)
        self.store.create()
        self.agent = InProcessAgent(cpus, self.clock)
        facts = NodeFacts(name="node1", cpus=list(range(cpus)), mem_mib=8000)
        self.controller = Controller(self.settings, self.store,
                                     NodeRegistry.local("node1", self.agent),
                                     build_cluster(self.settings, facts),
                                     clock=self.clock, controller_uid=controller_uid)

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def step(self) -> None:
        self.run(self.controller.step())

    def commit(self) -> None:
        self.run(self.controller.commit())

    def submit(self, caller, **fields) -> int:
        from kairos.model import Submission

        fields.setdefault("script", "#!/bin/sh\ntrue\n")
        fields.setdefault("work_dir", "/tmp")
        return self.controller.submit(Submission(**fields), caller)["job_id"]

    def close(self) -> None:
        self.commit()
        self.store.close()
        self.loop.close()


@pytest.fixture
def make_bench(tmp_path):
    """``make_bench(config="", controller_uid=4242, cpus=4)``: in-process controllers
    whose invariants are checked after the test.  The controller's own uid is not the
    test's, so ownership rules are checked whoever runs the suite."""
    made: list[Bench] = []

    def make(config: str = "", controller_uid: int = 4242, cpus: int = 4) -> Bench:
        bench = Bench(tmp_path / f"home{len(made)}", config, controller_uid, cpus)
        made.append(bench)
        return bench

    yield make
    for bench in made:
        bench.controller.check_invariants()
        bench.close()


@pytest.fixture
def bench(make_bench) -> Bench:
    return make_bench()
