"""Database fixtures: a migrated ``SqlStore`` on SQLite and on PostgreSQL, and plain URLs.

Use ``from tests.dbfixtures import store`` (or ``sqlite_url``, ``pg_url``) in a test module.

PostgreSQL isolation: each test gets a fresh schema ``t_<hex>`` that the URL selects with
``options=-csearch_path=t_<hex>`` and that is dropped at teardown. The server comes from
``MONITOR_TEST_PG_URL``; when it cannot be reached the test fails (never skips).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from monitor.store import SqlStore

PG_URL_ENV = "MONITOR_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def base_pg_url() -> str:
    return os.environ.get(PG_URL_ENV, DEFAULT_PG_URL)


def url_with_search_path(url: str, schema: str) -> str:
    """``url`` with ``options=-csearch_path=<schema>`` added (URL-encoded)."""
    with_options = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return with_options.render_as_string(hide_password=False)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file URL in the test's tmp_path (the file does not exist yet)."""
    return f"sqlite:///{tmp_path / 'monitor.db'}"


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema, dropped (with everything in it) at teardown."""
    base = base_pg_url()
    schema = f"t_{uuid.uuid4().hex}"
    engine = create_engine(base, poolclass=NullPool)
    problem = None
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except SQLAlchemyError as e:
        problem = f"{e.__class__.__name__}: {str(e).splitlines()[0]}"
    if problem is not None:
        engine.dispose()
        shown = make_url(base).render_as_string(hide_password=True)
        pytest.fail(
            f"PostgreSQL is unreachable at {shown} ({problem}). "
            f"Start it or set {PG_URL_ENV} to a reachable server.",
            pytrace=False,
        )
    try:
        yield schema
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


@pytest.fixture
def pg_url(pg_schema: str) -> str:
    """A PostgreSQL URL whose search_path is a fresh schema of its own."""
    return url_with_search_path(base_pg_url(), pg_schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh database URL on each backend (SQLite file; PostgreSQL schema)."""
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Iterator[SqlStore]:
    """A migrated, empty ``SqlStore`` on each backend."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    s = SqlStore(url)
    try:
        s.migrate()
        yield s
    finally:
        s.close()
