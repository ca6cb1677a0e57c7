"""Alembic, configured in code: the migration scripts ship inside the package.

Decisions: no ``alembic.ini`` is read at run time; the caller passes an open connection (inside
its transaction) so that the store's SQLite pragmas and error handling apply to migrations too.
For development, ``alembic_config(url)`` gives a ``Config`` usable with ``alembic.command`` (for
example ``command.revision(cfg, "message", autogenerate=True)``).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
HEAD = "head"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` pointing at the packaged scripts (and at ``url`` when given)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(connection: Connection, revision: str = HEAD) -> None:
    """Upgrade the schema on ``connection`` to ``revision``; a no-op when already there."""
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision of the packaged scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
