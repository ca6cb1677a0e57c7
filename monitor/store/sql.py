"""``SqlStore``: the storage adapter over SQLAlchemy Core, for SQLite and PostgreSQL.

Decisions:

* Every public method runs in one transaction: a batch is stored whole or not at all, and what an
  earlier call committed stays. On SQLite, writes start with ``BEGIN IMMEDIATE`` (taking the write
  lock up front, so ``busy_timeout`` applies instead of a mid-transaction "database is locked").
* Dedupe is the database's job (unique constraints plus ``INSERT … ON CONFLICT DO NOTHING
  RETURNING id``), so several processes sharing one PostgreSQL cannot store a thing twice.
* No business decisions: ``next_poll`` and ``next_attempt`` are given by the caller.
* SQLAlchemy errors become ``StorageError`` (cause chained); messages show the URL with the
  password masked and never contain it.
* Windows and filters: ``since`` is inclusive (``>= since``); ``thesis_summaries`` counts signals
  with ``now - N days <= created_at <= now``.
* Story dedupe: an item that repeats an earlier story points at the story's first item
  (``items.story_id``); signals are unique per (story, thesis, criterion), and every item of
  the story that matched is listed in ``signal_sources``, so a signal knows all its sources.
* ``sync_sources`` and ``sync_theses`` take the whole configured set: sources and theses absent
  from it are marked inactive (never deleted, signals and items refer to them).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    create_engine,
    event,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.sql.elements import BindParameter

from monitor.errors import SchemaBehind, StorageError
from monitor.store import leases
from monitor.store import migrate as migrations
from monitor.store.deliveries import DeliveryQueries
from monitor.store.mutes import MuteQueries
from monitor.store.rows import (
    AnyRow,
    newest_first,
    signal_query,
    to_signal,
    to_source_health,
    to_stored_item,
    with_sources,
)
from monitor.store.tables import criteria as criteria_t
from monitor.store.tables import deliveries as deliveries_t
from monitor.store.tables import feedback as feedback_t
from monitor.store.tables import item_vectors as item_vectors_t
from monitor.store.tables import items as items_t
from monitor.store.tables import signal_sources as signal_sources_t
from monitor.store.tables import signals as signals_t
from monitor.store.tables import sources as sources_t
from monitor.store.tables import theses as theses_t
from monitor.store.tables import thesis_progress as thesis_progress_t
from monitor.store.turns import TurnQueries
from monitor.types import (
    POLARITIES,
    FoundMatch,
    Item,
    Match,
    PollOutcome,
    PruneReport,
    QueuedDelivery,
    RecordedSignal,
    Signal,
    SourceConfig,
    SourceHealth,
    StoredItem,
    Thesis,
    ThesisProgress,
    ThesisSummary,
)

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5000
MIGRATION_LOCK = 0x6D6F6E69  # "moni": the PostgreSQL advisory lock held while migrating
_WRITE = "monitor_write"


def link_key(link: str | None) -> str | None:
    """The dedupe key of a canonical link (SHA-256 hex), None when there is no link."""
    if not link:
        return None
    return hashlib.sha256(link.encode("utf-8")).hexdigest()


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


class SqlStore(DeliveryQueries, MuteQueries, TurnQueries):
    """The signal store over one database URL (``sqlite:///path`` or ``postgresql+psycopg://``).

    Raises ``StorageError`` for anything the database refuses or when it cannot be reached.
    """

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
            parsed.render_as_string()  # a bad port only shows here
        except (SQLAlchemyError, ValueError) as e:
            # not {e}: the message could quote the URL and its password
            raise StorageError(
                f"invalid database URL ({type(e).__name__}): check DATABASE_URL, e.g. "
                "postgresql+psycopg://user:password@host:5432/db"
            ) from e
        self._password = parsed.password if isinstance(parsed.password, str) else None
        self.safe_url = parsed.render_as_string(hide_password=True)
        self._sqlite = parsed.get_backend_name() == "sqlite"
        self._database = parsed.database
        self._daemon_lock: leases.DaemonLock | None = None
        if self._sqlite:
            _make_sqlite_parent(parsed.database, self.safe_url)
        try:
            self._engine: Engine = create_engine(parsed, pool_pre_ping=not self._sqlite)
        except (SQLAlchemyError, ImportError) as e:
            raise StorageError(f"cannot use database {self.safe_url}: {e}") from e
        if self._sqlite:
            _install_sqlite_pragmas(self._engine)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, for read-only tooling and tests; writes go through methods."""
        return self._engine

    # -- plumbing ---------------------------------------------------------------------------

    def _scrub(self, message: str) -> str:
        if self._password:
            message = message.replace(self._password, "***")
        return message

    def _reason(self, e: BaseException) -> str:
        orig = e.orig if isinstance(e, DBAPIError) else None
        reason = str(orig if orig is not None else e).strip()
        return self._scrub(reason.splitlines()[0] if reason else type(e).__name__)

    @contextmanager
    def _transaction(self, action: str, *, write: bool = True) -> Iterator[Connection]:
        try:
            conn = self._engine.connect()
        except SQLAlchemyError as e:
            raise StorageError(
                f"cannot reach database {self.safe_url}: {self._reason(e)}; check that the "
                "server is running and that the database URL (host, port, user, name) is right"
            ) from e
        try:
            conn.execution_options(**{_WRITE: write})
            with conn.begin():
                yield conn
        except SQLAlchemyError as e:
            raise StorageError(f"{action} failed on {self.safe_url}: {self._reason(e)}") from e
        finally:
            conn.close()

    def _insert(self, table: Table) -> Any:
        dialect = postgresql if not self._sqlite else sqlite
        return dialect.insert(table)

    def _insert_many(
        self,
        conn: Connection,
        table: Table,
        rows: Sequence[dict[str, Any]],
        returning: Sequence[ColumnElement[Any]] = (),
    ) -> list[AnyRow]:
        """``INSERT … ON CONFLICT DO NOTHING [RETURNING …]`` of many rows as one executemany:
        SQLAlchemy's "insertmanyvalues" sends them as multi-row statements of up to 1,000 rows
        (fewer on SQLite, by its bound-parameter limit), compiled once and cached. Returns
        the ``returning`` columns of the rows inserted (conflicting rows come back as none)."""
        if not rows:
            return []
        stmt = self._insert(table).on_conflict_do_nothing()
        if not returning:
            conn.execute(stmt, list(rows))
            return []
        return list(conn.execute(stmt.returning(*returning), list(rows)))

    # -- lifecycle ----------------------------------------------------------------------------

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision (idempotent)."""
        with self._transaction("migrating the schema") as conn:
            if not self._sqlite:  # replicas starting together migrate one at a time
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            before = migrations.current_revision(conn)
            migrations.upgrade(conn)
            after = migrations.current_revision(conn)
        if before != after:
            log.info("database %s migrated from %s to %s", self.safe_url, before, after)

    def require_current_schema(self) -> bool:
        """For read-only use (never migrates): True when the schema is at the newest
        revision, False when there is none at all (nothing was ever recorded here);
        SchemaBehind when it is older than this code."""
        with self._transaction("checking the schema", write=False) as conn:
            current = migrations.current_revision(conn)
        head = migrations.head_revision()
        if current == head:
            return True
        if current is None:
            return False
        raise SchemaBehind(
            f"the schema of {self.safe_url} is at revision {current}, this version needs "
            f"{head}: start `monitor run` once (it migrates), then try again"
        )

    def ping(self) -> None:
        """``SELECT 1``; StorageError when the database cannot be reached."""
        with self._transaction("checking the database", write=False) as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        if self._daemon_lock is not None:
            self._daemon_lock.release()
            self._daemon_lock = None
        self._engine.dispose()

    # -- sources ------------------------------------------------------------------------------

    def sync_sources(self, sources: Sequence[SourceConfig], now: datetime) -> None:
        """Upsert the configured sources (one executemany) and deactivate the others."""
        names = [s.name for s in sources]
        rows = [
            {
                "name": s.name,
                "url": s.url,
                "interval_seconds": s.interval.total_seconds(),
                "tags": s.tags,
                "active": True,
                "consecutive_failures": 0,
                "next_poll": now,
                "created_at": now,
                "updated_at": now,
            }
            for s in sources
        ]
        stmt = self._insert(sources_t)
        stmt = stmt.on_conflict_do_update(
            index_elements=[sources_t.c.name],
            set_={
                "url": stmt.excluded.url,
                "interval_seconds": stmt.excluded.interval_seconds,
                "tags": stmt.excluded.tags,
                "active": True,
                "updated_at": stmt.excluded.updated_at,
            },
        )
        with self._transaction("syncing sources") as conn:
            if rows:
                conn.execute(stmt, rows)
            conn.execute(
                update(sources_t)
                .where(sources_t.c.name.notin_(names), sources_t.c.active.is_(True))
                .values(active=False, updated_at=now)
            )

    def source_health(self, active_only: bool = True) -> list[SourceHealth]:
        query = select(sources_t).order_by(sources_t.c.name)
        if active_only:
            query = query.where(sources_t.c.active.is_(True))
        with self._transaction("reading sources", write=False) as conn:
            return [to_source_health(r) for r in conn.execute(query)]

    def claim_due_sources(
        self, owner: str, now: datetime, lease: timedelta, limit: int | None = None
    ) -> list[SourceHealth]:
        """Claim the due sources that no replica holds (at most ``limit``, the most overdue
        first), for ``lease`` (see ``monitor.store.leases``); the caller records each poll,
        which releases it."""
        with self._transaction("claiming due sources") as conn:
            rows = leases.claim_sources(
                conn, owner=owner, now=now, lease=lease, postgres=not self._sqlite, limit=limit
            )
        return [to_source_health(r) for r in rows]

    def release_sources(self, names: Sequence[str], owner: str) -> None:
        """Give back claims of ``owner`` on sources it did not poll (it is stopping)."""
        with self._transaction("releasing sources") as conn:
            conn.execute(
                update(sources_t)
                .where(sources_t.c.name.in_(list(names)), sources_t.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """Run a job in one replica at a time: yields True when this process holds the
        ``name`` lock (always on SQLite, whose daemon is alone), False when another does."""
        if self._sqlite:
            yield True
            return
        try:
            conn = self._engine.connect()
        except SQLAlchemyError as e:
            raise StorageError(f"cannot reach database {self.safe_url}: {self._reason(e)}") from e
        try:
            with leases.advisory_lock(conn, name) as got:
                yield got
        except SQLAlchemyError as e:
            raise StorageError(
                f"locking {name!r} failed on {self.safe_url}: {self._reason(e)}"
            ) from e
        finally:
            conn.close()

    def lock_for_daemon(self) -> None:
        """On SQLite, refuse a second daemon on the same file (``StorageError``); on
        PostgreSQL nothing: replicas share the work."""
        file_db = self._sqlite and self._database not in (None, "", ":memory:")
        if file_db and self._database and self._daemon_lock is None:
            lock = leases.DaemonLock(self._database, self.safe_url)
            lock.acquire()
            self._daemon_lock = lock

    def clear_stale_claims(self) -> None:
        """A lone SQLite daemon (holding :meth:`lock_for_daemon`) drops the claims of an
        earlier one that died: no other can be alive. On PostgreSQL claims expire instead."""
        if self._daemon_lock is not None:
            with self._transaction("clearing the claims of an earlier daemon") as conn:
                leases.clear_all(conn)

    def get_source_health(self, name: str) -> SourceHealth | None:
        with self._transaction("reading a source", write=False) as conn:
            row = conn.execute(select(sources_t).where(sources_t.c.name == name)).first()
        return None if row is None else to_source_health(row)

    def record_poll(
        self,
        name: str,
        *,
        now: datetime,
        ok: bool,
        http_status: int | None,
        error: str | None,
        next_poll: datetime,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> None:
        """One poll (see :meth:`record_polls`)."""
        outcome = PollOutcome(
            name,
            ok=ok,
            next_poll=next_poll,
            http_status=http_status,
            error=error,
            etag=etag,
            last_modified=last_modified,
        )
        self.record_polls([outcome], now)

    # -- items --------------------------------------------------------------------------------

    def record_polls(
        self, outcomes: Sequence[PollOutcome], now: datetime, *, owner: str | None = None
    ) -> None:
        """In one transaction, record every poll, success or failure (their items are stored
        by :meth:`add_items`), releasing ``owner``'s claim on the source; a poll whose claim
        another replica has taken over since is not recorded. A poll of a source the store
        does not know is an error (``sync_sources`` first)."""
        with self._transaction("recording polls") as conn:
            self._update_polls(conn, outcomes, now, owner)

    def add_items(
        self,
        items: Sequence[Item],
        now: datetime,
        *,
        link: Callable[[list[StoredItem]], Sequence[tuple[int, int]]] | None = None,
    ) -> list[StoredItem]:
        """Store the items not seen before; return only those, in input order. ``link``
        (story dedupe) is given the new items inside the same transaction and returns
        (item id, story id) pairs to record with them, so no item is ever committed, or
        matched by another replica, before its story is known."""
        with self._transaction("storing items") as conn:
            stored = self._insert_items(conn, items, now)
            pairs = link(stored) if link is not None and stored else ()
            if pairs:
                self._assign_stories(conn, pairs)
                story = dict(pairs)
                stored = [replace(s, story_id=story.get(s.id, s.story_id)) for s in stored]
        log.debug("stored %d new of %d items", len(stored), len(items))
        return stored

    def _insert_items(
        self, conn: Connection, items: Sequence[Item], now: datetime
    ) -> list[StoredItem]:
        """``INSERT … ON CONFLICT DO NOTHING RETURNING`` of them all (:meth:`_insert_many`);
        the new rows come back with their keys and are put in input order."""
        first_seen = now.astimezone(UTC)
        if not self._sqlite and items:  # see committed_item_bound
            leases.hold_shared(conn, "items")
        rows = [
            {
                "source": item.source,
                "item_id": item.item_id,
                "title": item.title,
                "summary": item.summary,
                "link": item.link,
                "link_key": link_key(item.link),
                "published": item.published,
                "updated": item.updated,
                "authors": item.authors,
                "tags": item.tags,
                "first_seen": now,
            }
            for item in items
        ]
        returned = self._insert_many(
            conn, items_t, rows, (items_t.c.id, items_t.c.source, items_t.c.item_id)
        )
        new = {(r.source, r.item_id): r.id for r in returned}
        stored: list[StoredItem] = []
        for item in items:
            new_id = new.pop((item.source, item.item_id), None)
            if new_id is not None:
                normalised = replace(
                    item, published=_utc(item.published), updated=_utc(item.updated)
                )
                stored.append(StoredItem(id=new_id, item=normalised, first_seen=first_seen))
        return stored

    def _update_polls(
        self,
        conn: Connection,
        outcomes: Sequence[PollOutcome],
        now: datetime,
        owner: str | None,
    ) -> None:
        name: BindParameter[str] = bindparam("b_name")
        common = {
            "last_attempt": now,
            "http_status": bindparam("b_status"),
            "next_poll": bindparam("b_next"),
            "updated_at": now,
            "lease_owner": None,
            "lease_until": None,
        }
        mine = sources_t.c.name == name
        if owner is not None:  # not if another replica has claimed it since
            mine = and_(
                mine, or_(sources_t.c.lease_owner.is_(None), sources_t.c.lease_owner == owner)
            )
        success = (
            update(sources_t)
            .where(mine)
            .values(
                **common,
                last_success=now,
                consecutive_failures=0,
                last_error=None,
                etag=func.coalesce(bindparam("b_etag"), sources_t.c.etag),
                last_modified=func.coalesce(bindparam("b_modified"), sources_t.c.last_modified),
                learned_interval_seconds=bindparam("b_learned"),
                parked_since=None,
            )
        )
        failure = (
            update(sources_t)
            .where(mine)
            .values(
                **common,
                consecutive_failures=sources_t.c.consecutive_failures + 1,
                last_error=bindparam("b_error"),
                parked_since=bindparam("b_parked"),
            )
        )
        known = set(
            conn.execute(
                select(sources_t.c.name).where(sources_t.c.name.in_([o.name for o in outcomes]))
            ).scalars()
        )
        for o in outcomes:
            if o.name not in known:
                raise StorageError(f"unknown source {o.name!r}: sync_sources first")
        params = [
            {
                "b_name": o.name,
                "b_status": o.http_status,
                "b_next": o.next_poll,
                "b_etag": o.etag,
                "b_modified": o.last_modified,
                "b_error": o.error,
                "b_learned": (
                    o.learned_interval.total_seconds() if o.learned_interval is not None else None
                ),
                "b_parked": o.parked_since,
            }
            for o in outcomes
        ]
        ok = [p for p, o in zip(params, outcomes, strict=True) if o.ok]
        failed = [p for p, o in zip(params, outcomes, strict=True) if not o.ok]
        for stmt, rows in ((success, ok), (failure, failed)):
            if rows:
                conn.execute(stmt, rows)

    def get_items(self, ids: Sequence[int]) -> list[StoredItem]:
        """The stored items with these ids, in the order asked; unknown ids are left out."""
        with self._transaction("reading items", write=False) as conn:
            rows = conn.execute(select(items_t).where(items_t.c.id.in_(list(ids)))).all()
        by_id = {r.id: to_stored_item(r) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    def items_since(self, since: datetime | None) -> list[StoredItem]:
        query = select(items_t).order_by(items_t.c.first_seen, items_t.c.id)
        if since is not None:
            query = query.where(items_t.c.first_seen >= since)
        with self._transaction("reading items", write=False) as conn:
            return [to_stored_item(r) for r in conn.execute(query)]

    def items_between(
        self, after_id: int, before_id: int, since: datetime, limit: int
    ) -> list[StoredItem]:
        """Up to ``limit`` items with ids in (``after_id``, ``before_id``) first seen since
        ``since``, by id (what the story index catches up with)."""
        query = (
            select(items_t)
            .where(items_t.c.id > after_id, items_t.c.id < before_id, items_t.c.first_seen >= since)
            .order_by(items_t.c.id)
            .limit(limit)
        )
        with self._transaction("reading items", write=False) as conn:
            return [to_stored_item(r) for r in conn.execute(query)]

    def first_item_id_since(self, since: datetime) -> int:
        """The smallest id of the items first seen since ``since`` (0 when there is none)."""
        query = select(func.min(items_t.c.id)).where(items_t.c.first_seen >= since)
        with self._transaction("reading items", write=False) as conn:
            return int(conn.execute(query).scalar() or 0)

    # -- theses -------------------------------------------------------------------------------

    def sync_theses(
        self, theses: Sequence[Thesis], now: datetime, *, keep: Sequence[str] = ()
    ) -> None:
        """Upsert the loaded theses and criteria; deactivate those no longer loaded, except
        the ids in ``keep`` (held back: their files fail to load, they stay as they were)."""
        ids = [t.id for t in theses] + list(keep)
        with self._transaction("syncing theses") as conn:
            for t in theses:
                stmt = self._insert(theses_t).values(
                    id=t.id,
                    title=t.title,
                    read_throughs=t.read_throughs,
                    brief_date=t.date,
                    source_brief=t.source_brief,
                    path=t.path,
                    active=True,
                    updated_at=now,
                )
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[theses_t.c.id],
                        set_={
                            name: stmt.excluded[name]
                            for name in (
                                "title",
                                "read_throughs",
                                "brief_date",
                                "source_brief",
                                "path",
                                "active",
                                "updated_at",
                            )
                        },
                    )
                )
                for c in t.criteria:
                    cstmt = self._insert(criteria_t).values(
                        thesis_id=t.id,
                        id=c.id,
                        polarity=c.polarity,
                        text=c.text,
                        query=c.query,
                        threshold=c.threshold,
                        active=True,
                        updated_at=now,
                    )
                    conn.execute(
                        cstmt.on_conflict_do_update(
                            index_elements=[criteria_t.c.thesis_id, criteria_t.c.id],
                            set_={
                                name: cstmt.excluded[name]
                                for name in (
                                    "polarity",
                                    "text",
                                    "query",
                                    "threshold",
                                    "active",
                                    "updated_at",
                                )
                            },
                        )
                    )
                conn.execute(
                    update(criteria_t)
                    .where(
                        criteria_t.c.thesis_id == t.id,
                        criteria_t.c.id.notin_([c.id for c in t.criteria]),
                        criteria_t.c.active.is_(True),
                    )
                    .values(active=False, updated_at=now)
                )
            conn.execute(
                update(theses_t)
                .where(theses_t.c.id.notin_(ids), theses_t.c.active.is_(True))
                .values(active=False, updated_at=now)
            )
            conn.execute(
                update(criteria_t)
                .where(criteria_t.c.thesis_id.notin_(ids), criteria_t.c.active.is_(True))
                .values(active=False, updated_at=now)
            )

    def theses_by_path(self, paths: Sequence[str]) -> dict[str, str]:
        """Rule file path -> id of the active thesis loaded from it."""
        query = select(theses_t.c.path, theses_t.c.id).where(
            theses_t.c.path.in_(list(paths)), theses_t.c.active.is_(True)
        )
        with self._transaction("reading theses", write=False) as conn:
            return {r.path: r.id for r in conn.execute(query)}

    # -- signals ------------------------------------------------------------------------------

    def add_signals(self, found: Sequence[tuple[int, Match]], now: datetime) -> list[int]:
        """Store (item id, match) pairs; return the ids of the new signals, in input order.

        A match on an item whose story already has a signal for that criterion adds the item
        to that signal's sources instead of creating a signal (story dedupe)."""
        with self._transaction("storing signals") as conn:
            created = [sid for sid, _ in self._add_signals(conn, found, (), now)]
        log.debug("stored %d new of %d signals", len(created), len(found))
        return created

    def record_matches(
        self,
        found: Sequence[FoundMatch],
        channel: str | Callable[[FoundMatch], Sequence[QueuedDelivery]],
        now: datetime,
        *,
        item_ids: Sequence[int] = (),
        progress: Mapping[str, tuple[str, int]] | None = None,
        admit: Callable[[list[FoundMatch]], list[bool]] | None = None,
    ) -> list[RecordedSignal]:
        """In one transaction: store the signals of ``found``, queue deliveries for each new
        signal that asks for an alert and that ``admit`` lets through (all, by default): to
        ``channel``, due now, or where and when ``channel(found)`` plans (the routes), mark
        ``item_ids`` matched and advance each thesis's matching progress to the given item
        id. A failure changes nothing, so the next cycle matches the same items again:
        nothing is lost between storing and matching."""
        with self._transaction("storing signals") as conn:
            created = self._add_signals(
                conn,
                [(f.item_id, f.match) for f in found],
                [n for n, f in enumerate(found) if f.backfilled],
                now,
            )
            wanting = [(sid, found[n]) for sid, n in created if found[n].alert]
            flags = admit([f for _, f in wanting]) if admit else [True] * len(wanting)
            alerted = {sid for (sid, _), ok in zip(wanting, flags, strict=True) if ok}
            if isinstance(channel, str):
                self._enqueue(conn, [sid for sid, _ in wanting if sid in alerted], channel, now)
            else:
                self._enqueue_planned(
                    conn, [(sid, channel(f)) for sid, f in wanting if sid in alerted], now
                )
            for start in range(0, len(item_ids), 500):
                conn.execute(
                    update(items_t)
                    .where(items_t.c.id.in_(list(item_ids[start : start + 500])))
                    .values(matched_at=now)
                )
            if progress:
                self._advance_progress(conn, progress, now)
        return [RecordedSignal(sid, found[n], sid in alerted) for sid, n in created]

    def _add_signals(
        self,
        conn: Connection,
        found: Sequence[tuple[int, Match]],
        backfilled: Sequence[int],
        now: datetime,
    ) -> list[tuple[int, int]]:
        """Insert signals and their story sources, set-based (a few statements per batch,
        not per match); returns (new signal id, index in found) in input order. The first
        match of a (story, thesis, criterion) in ``found`` is the one stored."""
        if not found:
            return []
        story_of: dict[int, int] = {}
        wanted = sorted({item_id for item_id, _ in found})
        story = func.coalesce(items_t.c.story_id, items_t.c.id)
        for start in range(0, len(wanted), 500):
            rows = conn.execute(
                select(items_t.c.id, story).where(items_t.c.id.in_(wanted[start : start + 500]))
            )
            story_of.update({r[0]: r[1] for r in rows})
        for item_id in wanted:
            if item_id not in story_of:
                raise StorageError(f"unknown item {item_id}: add_items first")
        backfill = set(backfilled)
        firsts: dict[tuple[int, str, str], int] = {}
        for n, (item_id, m) in enumerate(found):
            firsts.setdefault((story_of[item_id], m.thesis_id, m.criterion_id), n)
        rows_to_add = []
        for (story_id, _, _), n in firsts.items():
            item_id, m = found[n]
            rows_to_add.append(
                {
                    "item_id": item_id,
                    "story_id": story_id,
                    "thesis_id": m.thesis_id,
                    "criterion_id": m.criterion_id,
                    "polarity": m.polarity,
                    "score": m.score,
                    "similarity": m.similarity,
                    "matched_terms": m.matched_terms,
                    "snippet": m.snippet,
                    "created_at": now,
                    "backfilled": n in backfill,
                    "judge_reason": m.judge_reason,
                }
            )
        key_columns = (signals_t.c.story_id, signals_t.c.thesis_id, signals_t.c.criterion_id)
        returned = self._insert_many(conn, signals_t, rows_to_add, (signals_t.c.id, *key_columns))
        created = {(r.story_id, r.thesis_id, r.criterion_id): r.id for r in returned}
        signal_of = dict(created)
        older = sorted({key[0] for key in firsts if key not in created})
        for start in range(0, len(older), 500):
            rows = conn.execute(
                select(signals_t.c.id, *key_columns).where(
                    signals_t.c.story_id.in_(older[start : start + 500])
                )
            )
            for r in rows:
                signal_of.setdefault((r.story_id, r.thesis_id, r.criterion_id), r.id)
        sources = {
            (signal_of[(story_of[item_id], m.thesis_id, m.criterion_id)], item_id)
            for item_id, m in found
        }
        source_rows = [
            {"signal_id": sid, "item_id": iid, "created_at": now} for sid, iid in sources
        ]
        self._insert_many(conn, signal_sources_t, source_rows)
        return sorted(((sid, firsts[key]) for key, sid in created.items()), key=lambda p: p[1])

    # -- matching progress per thesis ---------------------------------------------------------

    def sync_progress(
        self, digests: Mapping[str, str], now: datetime, backfill_since: datetime
    ) -> dict[str, ThesisProgress]:
        """Match the progress rows to the rule set about to be matched (thesis id → digest of
        its rules) and return them. A thesis seen for the first time, or whose digest changed,
        starts again at the first item seen since ``backfill_since`` (a changed one: at the
        earlier of that and where it was), and the items stored so far are its backfill. A
        row whose digest is ``*`` (written by migration 0004) takes the digest as it is."""
        with self._transaction("syncing matching progress") as conn:
            rows = {
                r.thesis_id: r
                for r in conn.execute(
                    select(thesis_progress_t).where(
                        thesis_progress_t.c.thesis_id.in_(list(digests))
                    )
                )
            }
            newest = int(conn.execute(select(func.max(items_t.c.id))).scalar() or 0)
            first = conn.execute(
                select(func.min(items_t.c.id)).where(items_t.c.first_seen >= backfill_since)
            ).scalar()
            start = (int(first) if first is not None else newest + 1) - 1
            out: dict[str, ThesisProgress] = {}
            for thesis_id, digest in digests.items():
                row = rows.get(thesis_id)
                if row is not None and row.digest in (digest, "*"):
                    out[thesis_id] = ThesisProgress(row.through_item_id, row.backfill_until_id)
                    if row.digest == digest:
                        continue
                    values = {"digest": digest, "updated_at": now}
                else:
                    through = start if row is None else min(row.through_item_id, start)
                    # backfill: items some version of the thesis saw; those it never saw (it
                    # was held, or they came after) are matched as new
                    until = newest if row is None else row.through_item_id
                    out[thesis_id] = ThesisProgress(through, until)
                    values = {
                        "digest": digest,
                        "through_item_id": through,
                        "backfill_until_id": until,
                        "updated_at": now,
                    }
                    log.info(
                        "thesis %s is %s: matching it against items since #%d",
                        thesis_id,
                        "new" if row is None else "changed",
                        through + 1,
                    )
                stmt = self._insert(thesis_progress_t).values(thesis_id=thesis_id, **values)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[thesis_progress_t.c.thesis_id], set_=values
                    )
                )
        return out

    def drop_progress(self, keep: Sequence[str]) -> None:
        """Forget the progress of theses not in ``keep`` (removed on purpose): one that comes
        back is matched as a new thesis."""
        with self._transaction("dropping matching progress") as conn:
            conn.execute(
                thesis_progress_t.delete().where(thesis_progress_t.c.thesis_id.notin_(list(keep)))
            )

    def _advance_progress(
        self, conn: Connection, progress: Mapping[str, tuple[str, int]], now: datetime
    ) -> None:
        """Advance each thesis to the item id given, only for the rule version (digest)
        that was matched: a replica still on old rules cannot skip items for new ones."""
        stmt = (
            update(thesis_progress_t)
            .where(
                thesis_progress_t.c.thesis_id == bindparam("b_thesis"),
                thesis_progress_t.c.digest == bindparam("b_digest"),
                thesis_progress_t.c.through_item_id < bindparam("b_through"),
            )
            .values(through_item_id=bindparam("b_through"), updated_at=now)
        )
        rows = [{"b_thesis": t, "b_digest": d, "b_through": i} for t, (d, i) in progress.items()]
        conn.execute(stmt, rows)

    def committed_item_bound(self) -> int:
        """An item id up to which every item is committed (or rolled back) for good.

        On PostgreSQL ids come from a sequence when a row is inserted, so a transaction that
        commits late leaves a lower id behind ones already visible; matching past it would
        skip it for ever. Storing items holds a shared advisory lock for the transaction;
        this takes it exclusively for a moment, so it waits for the stores in flight, and
        reads the largest id. On SQLite writers are serialised: the largest id is enough."""
        with self._transaction("reading the committed items") as conn:
            if not self._sqlite:
                leases.hold_exclusive(conn, "items")
            return int(conn.execute(select(func.max(items_t.c.id))).scalar() or 0)

    def items_from(self, after_id: int, limit: int, upto: int | None = None) -> list[StoredItem]:
        """Up to ``limit`` items with ids above ``after_id`` (and at most ``upto``), by id
        (what matching reads)."""
        query = select(items_t).where(items_t.c.id > after_id)
        if upto is not None:
            query = query.where(items_t.c.id <= upto)
        query = query.order_by(items_t.c.id).limit(limit)
        with self._transaction("reading items to match", write=False) as conn:
            return [to_stored_item(r) for r in conn.execute(query)]

    def assign_stories(self, pairs: Sequence[tuple[int, int]]) -> None:
        """Mark items as repeats: (item id, id of the story's first item)."""
        if not pairs:
            return
        with self._transaction("assigning stories") as conn:
            self._assign_stories(conn, pairs)

    @staticmethod
    def _assign_stories(conn: Connection, pairs: Sequence[tuple[int, int]]) -> None:
        stmt = (
            update(items_t)
            .where(items_t.c.id == bindparam("item"))
            .values(story_id=bindparam("story"))
        )
        conn.execute(stmt, [{"item": i, "story": s} for i, s in pairs])  # one executemany

    def get_signals(self, ids: Sequence[int]) -> list[Signal]:
        """The signals with these ids, in the order asked; unknown ids are left out."""
        query = signal_query().where(signals_t.c.id.in_(list(ids)))
        with self._transaction("reading signals", write=False) as conn:
            found = with_sources(conn, [to_signal(r) for r in conn.execute(query)])
        by_id = {s.id: s for s in found}
        return [by_id[i] for i in ids if i in by_id]

    def list_signals(
        self,
        *,
        thesis: str | None = None,
        polarity: str | None = None,
        since: datetime | None = None,
        source: str | None = None,
        limit: int | None = None,
        until: datetime | None = None,
        search: str | None = None,
        offset: int = 0,
    ) -> list[Signal]:
        """Signals newest first (``created_at`` then ``id``, descending); filters combine.
        ``until`` is exclusive; ``search``: every word must appear, in any case, in the
        item's title or the evidence snippet (a scan: fine for months of signals, a
        PostgreSQL text index is the way past that)."""
        conditions: list[ColumnElement[bool]] = []
        if thesis is not None:
            conditions.append(signals_t.c.thesis_id == thesis)
        if polarity is not None:
            conditions.append(signals_t.c.polarity == polarity)
        if since is not None:
            conditions.append(signals_t.c.created_at >= since)
        if source is not None:
            conditions.append(items_t.c.source == source)
        if until is not None:
            conditions.append(signals_t.c.created_at < until)
        for word in (search or "").split():
            pattern = "%" + re.sub(r"([\\%_])", r"\\\1", word.lower()) + "%"
            conditions.append(
                or_(
                    func.lower(items_t.c.title).like(pattern, escape="\\"),
                    func.lower(signals_t.c.snippet).like(pattern, escape="\\"),
                )
            )
        query = newest_first(signal_query().where(*conditions))
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        with self._transaction("reading signals", write=False) as conn:
            return with_sources(conn, [to_signal(r) for r in conn.execute(query)])

    def thesis_summaries(self, now: datetime) -> list[ThesisSummary]:
        """One summary per active thesis, by id: signal counts per polarity over 7 and 30 days."""
        summaries: list[ThesisSummary] = []
        with self._transaction("summarising theses", write=False) as conn:
            active = conn.execute(
                select(theses_t.c.id, theses_t.c.title)
                .where(theses_t.c.active.is_(True))
                .order_by(theses_t.c.id)
            ).all()
            counts: dict[str, dict[str, int]] = {
                t.id: {f"{p}_{d}d": 0 for p in POLARITIES for d in (7, 30)} for t in active
            }
            for days in (7, 30):
                rows = conn.execute(
                    select(signals_t.c.thesis_id, signals_t.c.polarity, func.count())
                    .where(
                        signals_t.c.created_at >= now - timedelta(days=days),
                        signals_t.c.created_at <= now,
                    )
                    .group_by(signals_t.c.thesis_id, signals_t.c.polarity)
                )
                for thesis_id, polarity, count in rows:
                    key = f"{polarity}_{days}d"
                    if thesis_id in counts and key in counts[thesis_id]:
                        counts[thesis_id][key] = count
            for t in active:
                latest = conn.execute(
                    newest_first(signal_query().where(signals_t.c.thesis_id == t.id)).limit(1)
                ).first()
                summaries.append(
                    ThesisSummary(
                        thesis_id=t.id,
                        title=t.title,
                        counts=counts[t.id],
                        latest=None
                        if latest is None
                        else with_sources(conn, [to_signal(latest)])[0],
                    )
                )
        return summaries

    # -- retention ----------------------------------------------------------------------------

    def prune(
        self,
        now: datetime,
        *,
        signals_older_than: timedelta | None,
        items_older_than: timedelta,
        dry_run: bool = False,
    ) -> PruneReport:
        """Remove, set-based and in one transaction: signals created before
        ``now - signals_older_than`` (None: keep signals for ever) with their deliveries,
        story sources and feedback; then items first seen before ``now - items_older_than``
        that no signal refers to and that every thesis has been matched against (an item a
        held thesis still waits for is kept), with their vectors. ``dry_run``: count only."""
        with self._transaction("pruning old data") as conn:
            counts: dict[str, int] = {}
            if signals_older_than is not None:
                old = select(signals_t.c.id).where(
                    signals_t.c.created_at < now - signals_older_than
                )
                for name, table, column in (
                    ("feedback", feedback_t, feedback_t.c.signal_id),
                    ("deliveries", deliveries_t, deliveries_t.c.signal_id),
                    ("signal_sources", signal_sources_t, signal_sources_t.c.signal_id),
                    ("signals", signals_t, signals_t.c.id),
                ):
                    counts[name] = self._delete(conn, table, column.in_(old), dry_run)
            waited_for = select(func.min(thesis_progress_t.c.through_item_id)).scalar_subquery()
            unused = and_(
                items_t.c.first_seen < now - items_older_than,
                items_t.c.matched_at.is_not(None),
                items_t.c.id <= func.coalesce(waited_for, items_t.c.id),
                ~select(signals_t.c.id).where(signals_t.c.item_id == items_t.c.id).exists(),
                ~select(signal_sources_t.c.id)
                .where(signal_sources_t.c.item_id == items_t.c.id)
                .exists(),
            )
            doomed = select(items_t.c.id).where(unused)
            counts["item_vectors"] = self._delete(
                conn, item_vectors_t, item_vectors_t.c.item_id.in_(doomed), dry_run
            )
            counts["items"] = self._delete(conn, items_t, unused, dry_run)
        return PruneReport(
            signals=counts.get("signals", 0),
            deliveries=counts.get("deliveries", 0),
            feedback=counts.get("feedback", 0),
            items=counts["items"],
            item_vectors=counts["item_vectors"],
        )

    @staticmethod
    def _delete(
        conn: Connection, table: Table, condition: ColumnElement[bool], dry_run: bool
    ) -> int:
        if dry_run:
            return int(
                conn.execute(select(func.count()).select_from(table).where(condition)).scalar() or 0
            )
        return int(conn.execute(table.delete().where(condition)).rowcount or 0)

    # -- item vectors -------------------------------------------------------------------------

    def add_item_vectors(
        self, model: str, vectors: Sequence[tuple[int, bytes, int]], now: datetime
    ) -> None:
        """Store (item id, float32 bytes, dimension) under ``model``; existing ones are kept."""
        rows = [
            {"item_id": item_id, "model": model, "dim": dim, "vector": blob, "created_at": now}
            for item_id, blob, dim in vectors
        ]
        with self._transaction("storing item vectors") as conn:
            self._insert_many(conn, item_vectors_t, rows)

    def get_item_vectors(self, model: str, ids: Sequence[int]) -> dict[int, bytes]:
        """The stored vectors of these items under ``model`` (missing ones are left out)."""
        result: dict[int, bytes] = {}
        with self._transaction("reading item vectors", write=False) as conn:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                rows = conn.execute(
                    select(item_vectors_t.c.item_id, item_vectors_t.c.vector).where(
                        item_vectors_t.c.model == model, item_vectors_t.c.item_id.in_(chunk)
                    )
                )
                result.update({r.item_id: bytes(r.vector) for r in rows})
        return result

    # -- feedback -----------------------------------------------------------------------------

    def add_feedback(self, signal_id: int, verdict: str, note: str | None, now: datetime) -> None:
        """Record an analyst's verdict (``useful`` or ``noise``); the latest one counts."""
        if verdict not in ("useful", "noise"):
            raise StorageError(f"verdict must be 'useful' or 'noise', not {verdict!r}")
        with self._transaction("recording feedback") as conn:
            exists = conn.execute(select(signals_t.c.id).where(signals_t.c.id == signal_id)).first()
            if exists is None:
                raise StorageError(f"no signal #{signal_id}: see `monitor signals` for ids")
            conn.execute(
                self._insert(feedback_t),
                {"signal_id": signal_id, "verdict": verdict, "note": note, "created_at": now},
            )

    def latest_feedback(self) -> dict[int, str]:
        """signal id -> its latest verdict."""
        with self._transaction("reading feedback", write=False) as conn:
            rows = conn.execute(
                select(feedback_t.c.signal_id, feedback_t.c.verdict).order_by(
                    feedback_t.c.created_at, feedback_t.c.id
                )
            ).all()
        return {r.signal_id: r.verdict for r in rows}

    def feedback_version(self) -> tuple[int, int]:
        """(count, largest id) of the feedback rows: changes whenever a verdict arrives."""
        with self._transaction("reading feedback", write=False) as conn:
            row = conn.execute(select(func.count(), func.max(feedback_t.c.id))).one()
        return int(row[0]), int(row[1] or 0)

    def criterion_feedback(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(thesis id, criterion id) -> (useful, noise) counts over the latest verdicts."""
        verdicts = self.latest_feedback()
        if not verdicts:
            return {}
        counts: dict[tuple[str, str], tuple[int, int]] = {}
        for sig in self.get_signals(sorted(verdicts)):
            useful, noise = counts.get((sig.thesis_id, sig.criterion_id), (0, 0))
            if verdicts[sig.id] == "useful":
                useful += 1
            else:
                noise += 1
            counts[(sig.thesis_id, sig.criterion_id)] = (useful, noise)
        return counts

    # -- items per day ------------------------------------------------------------------------

    def item_days(self, since: datetime) -> dict[str, list[datetime]]:
        """source name -> when each of its items stored since ``since`` was first seen
        (oldest first), for per-day counts (bucketed by the caller, in Python: portable
        across SQLite and PostgreSQL; two columns of the items of a few weeks)."""
        query = (
            select(items_t.c.source, items_t.c.first_seen)
            .where(items_t.c.first_seen >= since)
            .order_by(items_t.c.first_seen)
        )
        found: dict[str, list[datetime]] = {}
        with self._transaction("reading items per day", write=False) as conn:
            for source, first_seen in conn.execute(query):
                seen = _utc(first_seen)
                if seen is not None:
                    found.setdefault(source, []).append(seen)
        return found


# -- SQLite setup -------------------------------------------------------------------------------


def _make_sqlite_parent(database: str | None, safe_url: str) -> None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StorageError(f"cannot create the directory of database {safe_url}: {e}") from e


def _install_sqlite_pragmas(engine: Engine) -> None:
    """WAL, foreign keys, busy timeout on every connection; we issue BEGIN ourselves."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver must not BEGIN implicitly
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, True)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
