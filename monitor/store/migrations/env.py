"""Alembic environment, driven from ``monitor.store.migrate`` (no alembic.ini at run time).

Decisions:

* Online only, on the connection that ``migrate.upgrade`` puts in ``config.attributes``; the
  caller owns the connection and its transaction, so the upgrade commits or rolls back whole.
* The version table is unqualified, so on PostgreSQL it lands in the first schema of the
  connection's ``search_path`` (one schema per test, or per deployment if wanted).
* ``target_metadata`` is the store's own metadata, for ``alembic revision --autogenerate`` via
  ``monitor.store.migrate.alembic_config(url)``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from monitor.store.tables import STORE_METADATA

config = context.config


def run_on(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=STORE_METADATA,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url or pass a connection in config.attributes")
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            run_on(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
run_migrations_online()
