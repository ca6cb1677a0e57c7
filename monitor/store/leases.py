"""Work shared by replicas: claims with leases on sources and deliveries, exclusive jobs, and
the one-daemon lock of an SQLite file.

The model (documented in the README, *Replicas*):

* Any number of ``monitor run`` processes may share one PostgreSQL database. A due source is
  *claimed* before it is fetched: ``UPDATE sources SET lease_owner, lease_until … WHERE name IN
  (SELECT … FOR UPDATE SKIP LOCKED)``, so two replicas never claim one source at once and
  neither waits for the other. Recording the poll releases the claim. A delivery is claimed the
  same way (its row locked with ``SKIP LOCKED``, then leased) before it is sent, and marking
  it sent or failed releases it.
* A claim is a lease: when a replica dies, its claims expire after the lease and another
  replica takes the work over. A replica whose lease ran out records its poll only if nobody
  else has claimed the source since.
* Jobs that one replica at a time should run (matching a batch, pruning) take a PostgreSQL
  advisory lock with ``pg_try_advisory_lock``: a replica that does not get it skips the job
  this cycle. The lock is named after the schema, so two deployments in one database (or two
  test schemas) do not exclude each other.
* SQLite is the single-process default: ``monitor run`` holds an exclusive ``flock`` on
  ``<database>.lock`` for its whole life, so a second daemon on the same file is refused at once
  with a message saying what to do.

These are PostgreSQL's own tools (row locks, ``SKIP LOCKED``, advisory locks, unique
constraints), not a coordination scheme of our own.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import or_, select, text, update
from sqlalchemy.engine import Connection

from monitor.errors import StorageError
from monitor.store.tables import deliveries as deliveries_t
from monitor.store.tables import sources as sources_t
from monitor.types import UNSENT_STATUSES


def free(lease_until: Any, now: datetime) -> Any:
    """SQL: the row is not claimed, or its claim has expired."""
    return or_(lease_until.is_(None), lease_until < now)


def claim_sources(
    conn: Connection,
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    postgres: bool,
    limit: int | None = None,
) -> list[Any]:
    """Claim active due sources nobody holds (at most ``limit``, the most overdue first);
    returns the claimed rows."""
    due = (
        select(sources_t.c.name)
        .where(
            sources_t.c.active.is_(True),
            or_(sources_t.c.next_poll.is_(None), sources_t.c.next_poll <= now),
            free(sources_t.c.lease_until, now),
        )
        .order_by(sources_t.c.next_poll.asc().nulls_first(), sources_t.c.name)
        .limit(limit)
    )
    if postgres:
        due = due.with_for_update(skip_locked=True)
    stmt = (
        update(sources_t)
        .where(sources_t.c.name.in_(due.scalar_subquery()))
        .values(lease_owner=owner, lease_until=now + lease)
        .returning(*sources_t.c)
    )
    return list(conn.execute(stmt))


def claim_deliveries(
    conn: Connection,
    ids: Sequence[int],
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    postgres: bool,
) -> set[int]:
    """Of ``ids``, claim the deliveries still unsent and unclaimed; returns their ids."""
    if not ids:
        return set()
    query = select(deliveries_t.c.id).where(
        deliveries_t.c.id.in_(list(ids)),
        deliveries_t.c.status.in_(UNSENT_STATUSES),
        free(deliveries_t.c.lease_until, now),
    )
    if postgres:
        query = query.with_for_update(skip_locked=True)
    got = set(conn.execute(query).scalars())
    if got:
        conn.execute(
            update(deliveries_t)
            .where(deliveries_t.c.id.in_(sorted(got)))
            .values(lease_owner=owner, lease_until=now + lease)
        )
    return got


def clear_all(conn: Connection) -> None:
    """Drop every claim (a lone SQLite daemon starting: the claims are a dead one's)."""
    for table in (sources_t, deliveries_t):
        conn.execute(
            update(table)
            .where(table.c.lease_owner.is_not(None))
            .values(lease_owner=None, lease_until=None)
        )


@contextmanager
def advisory_lock(conn: Connection, name: str) -> Iterator[bool]:
    """Try a session-level PostgreSQL advisory lock named ``name`` in the current schema;
    yields whether this session got it and releases it afterwards."""
    key = text("SELECT hashtext(current_schema() || ':' || :name)")
    lock_id = conn.execute(key, {"name": name}).scalar_one()
    got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_id}).scalar())
    conn.commit()
    try:
        yield got
    finally:
        if got:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_id})
            conn.commit()


_KEY = "SELECT hashtext(current_schema() || ':' || :name)"


def hold_shared(conn: Connection, name: str) -> None:
    """Take the transaction-scoped advisory lock ``name`` shared (many holders at once)."""
    conn.execute(text(f"SELECT pg_advisory_xact_lock_shared(({_KEY}))"), {"name": name})


def hold_exclusive(conn: Connection, name: str) -> None:
    """Take the transaction-scoped advisory lock ``name`` alone: waits for the shared ones."""
    conn.execute(text(f"SELECT pg_advisory_xact_lock(({_KEY}))"), {"name": name})


class DaemonLock:
    """An exclusive ``flock`` on ``<sqlite file>.lock``, held while the daemon runs."""

    def __init__(self, database: str, safe_url: str) -> None:
        self.path = Path(database).expanduser().with_name(Path(database).name + ".lock")
        self._file: IO[str] | None = None
        self._safe_url = safe_url

    def acquire(self) -> None:
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise StorageError(
                f"another `monitor run` ({holder}) is using {self._safe_url}: SQLite serves "
                "one daemon at a time. Stop that one, or point every replica at PostgreSQL "
                "(DATABASE_URL=postgresql+psycopg://…)"
            ) from e
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the lock
            self._file = None
