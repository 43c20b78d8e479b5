"""Fixtures for the live manager's tests: a real, empty database of each kind.

``db_url`` runs a test once on a fresh SQLite file and once on PostgreSQL.  The
PostgreSQL server is ``KAIROS_TEST_POSTGRES_URL`` (default: the local ``test`` database
as ``postgres``, trust authentication); each test gets its own schema (through the
connection's ``search_path``), dropped afterwards, so tests never see each other's rows
and leave the database as they found it.  Without a reachable server the PostgreSQL run
is skipped, saying why.
"""

from __future__ import annotations

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
