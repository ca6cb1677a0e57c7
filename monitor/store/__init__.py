"""Storage: SQLModel tables, Alembic migrations and the ``SqlStore`` adapter.

store = SqlStore("sqlite:///var/monitor.db")   # or postgresql+psycopg://user@host/db
store.migrate()                                # idempotent; run at start-up
...
store.close()
"""

from monitor.store.sql import SqlStore, link_key

__all__ = ["SqlStore", "link_key"]
