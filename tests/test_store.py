"""SqlStore on SQLite and PostgreSQL (each test runs on both through the ``store`` fixture)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from monitor.errors import StorageError
from monitor.store import SqlStore
from monitor.store.migrate import current_revision
from monitor.store.tables import STORE_METADATA, criteria, theses
from monitor.types import Criterion, Item, Match, SourceConfig, StoredItem, Thesis
from tests.dbfixtures import base_pg_url, pg_schema, pg_url, sqlite_url, store

__all__ = ["pg_schema", "pg_url", "sqlite_url", "store"]  # fixtures used by name

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HEAD = "0010"


def item(n: int, source: str = "wire", link: str | None = None, **kw: object) -> Item:
    return Item(source=source, item_id=f"id-{n}", title=f"Title {n}", link=link, **kw)  # type: ignore[arg-type]


def thesis(tid: str = "t1", criteria_ids: tuple[str, ...] = ("c1", "k1", "w1")) -> Thesis:
    polarity = {"c": "confirm", "k": "kill", "w": "watch"}
    return Thesis(
        id=tid,
        title=f"Thesis {tid}",
        criteria=tuple(
            Criterion(
                id=c,
                polarity=polarity[c[0]],  # type: ignore[arg-type]
                text=f"criterion {c}",
                query=f"q{c}",
                threshold=0.5,
            )
            for c in criteria_ids
        ),
        read_throughs=("ACME",),
    )


def match(criterion: str = "c1", tid: str = "t1", score: float = 1.0) -> Match:
    polarity = {"c": "confirm", "k": "kill", "w": "watch"}[criterion[0]]
    return Match(
        thesis_id=tid,
        criterion_id=criterion,
        polarity=polarity,  # type: ignore[arg-type]
        score=score,
        matched_terms=("alpha", "béta"),
        snippet=f"snippet {criterion}",
    )


def seeded(store: SqlStore, n_items: int = 3) -> list[int]:
    """Theses t1, t2 synced and n items stored; returns the item ids."""
    store.sync_theses([thesis("t1"), thesis("t2")], NOW)
    stored = store.add_items([item(i, link=f"https://x/{i}") for i in range(n_items)], NOW)
    return [s.id for s in stored]


# -- migrations and connection setup ------------------------------------------------------------


def test_migrate_reruns_cleanly_and_reaches_head(store: SqlStore) -> None:
    store.migrate()
    store.migrate()
    with store.engine.connect() as conn:
        assert current_revision(conn) == HEAD


def test_migrated_schema_matches_the_models(store: SqlStore) -> None:
    def ours(obj: object, name: str | None, type_: str, *_: object) -> bool:
        return type_ != "table" or name in STORE_METADATA.tables

    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": ours})
        assert compare_metadata(ctx, STORE_METADATA) == []


def test_postgresql_version_table_lands_in_the_test_schema(pg_schema: str, pg_url: str) -> None:
    s = SqlStore(pg_url)
    try:
        s.migrate()
    finally:
        s.close()
    engine = create_engine(base_pg_url(), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            schemas = conn.execute(
                text(
                    "SELECT table_schema FROM information_schema.tables "
                    "WHERE table_name = 'alembic_version' AND table_schema = :s"
                ),
                {"s": pg_schema},
            ).all()
            items_in_public = conn.execute(
                text(
                    "SELECT count(*) FROM information_schema.tables "
                    "WHERE table_name = 'items' AND table_schema = :s"
                ),
                {"s": pg_schema},
            ).scalar()
    finally:
        engine.dispose()
    assert schemas == [(pg_schema,)]
    assert items_in_public == 1


def test_sqlite_uses_wal_foreign_keys_busy_timeout_and_creates_parent_dir(
    tmp_path: Path,
) -> None:
    path = tmp_path / "deep" / "er" / "monitor.db"
    s = SqlStore(f"sqlite:///{path}")
    try:
        s.migrate()
        with s.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    finally:
        s.close()
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        raw.close()


def test_unreachable_database_raises_storage_error_without_password() -> None:
    s = SqlStore("postgresql+psycopg://postgres:s3cr3t-pw@127.0.0.1:1/test?connect_timeout=5")
    try:
        with pytest.raises(StorageError) as info:
            s.migrate()
    finally:
        s.close()
    message = str(info.value)
    assert message.startswith("cannot reach database postgresql+psycopg://postgres:***@127.0.0.1:1")
    assert "check that the server is running" in message
    assert "s3cr3t-pw" not in message
    assert info.value.__cause__ is not None


# -- sources ------------------------------------------------------------------------------------


def test_source_health_round_trip(store: SqlStore) -> None:
    a = SourceConfig("a", "https://a/feed", timedelta(minutes=5), ("macro",))
    b = SourceConfig("b", "https://b/feed")
    store.sync_sources([a, b], NOW)
    health = store.source_health()
    assert [h.name for h in health] == ["a", "b"]
    assert health[0].interval == timedelta(minutes=5)
    assert health[0].tags == ("macro",)
    assert health[0].next_poll == NOW
    assert health[0].consecutive_failures == 0

    later = NOW + timedelta(minutes=1)
    store.record_poll(
        "a", now=later, ok=True, http_status=200, error=None,
        next_poll=later + timedelta(minutes=5), etag='"v1"', last_modified="Sat, 01 Mar 2025",
    )  # fmt: skip
    store.record_poll(
        "a", now=later + timedelta(minutes=5), ok=False, http_status=503, error="HTTP 503",
        next_poll=later + timedelta(minutes=15),
    )  # fmt: skip
    store.record_poll(
        "a", now=later + timedelta(minutes=15), ok=False, http_status=None, error="timeout",
        next_poll=later + timedelta(minutes=45),
    )  # fmt: skip
    failed = store.get_source_health("a")
    assert failed is not None
    assert failed.consecutive_failures == 2
    assert failed.last_error == "timeout"
    assert failed.http_status is None
    assert failed.last_attempt == later + timedelta(minutes=15)
    assert failed.last_success == later
    assert failed.next_poll == later + timedelta(minutes=45)
    assert (failed.etag, failed.last_modified) == ('"v1"', "Sat, 01 Mar 2025")

    back = later + timedelta(hours=1)
    store.record_poll(
        "a", now=back, ok=True, http_status=304, error=None, next_poll=back + timedelta(minutes=5)
    )
    ok = store.get_source_health("a")
    assert ok is not None
    assert (ok.consecutive_failures, ok.last_error, ok.http_status) == (0, None, 304)
    assert (ok.last_attempt, ok.last_success) == (back, back)
    assert ok.etag == '"v1"'  # kept when not given


def test_sync_sources_updates_config_keeps_state_and_hides_removed(store: SqlStore) -> None:
    store.sync_sources([SourceConfig("a", "https://a/1"), SourceConfig("b", "https://b")], NOW)
    store.record_poll(
        "a", now=NOW, ok=True, http_status=200, error=None,
        next_poll=NOW + timedelta(hours=1), etag="e",
    )  # fmt: skip
    store.sync_sources([SourceConfig("a", "https://a/2", timedelta(hours=2), ("x", "y"))], NOW)
    a = store.get_source_health("a")
    assert a is not None
    assert (a.url, a.interval, a.tags) == ("https://a/2", timedelta(hours=2), ("x", "y"))
    assert a.next_poll == NOW + timedelta(hours=1)
    assert a.etag == "e"
    assert [h.name for h in store.source_health()] == ["a"]
    assert [h.name for h in store.source_health(active_only=False)] == ["a", "b"]
    assert store.get_source_health("b") is not None
    assert store.get_source_health("zzz") is None
    store.sync_sources([SourceConfig("a", "https://a/2"), SourceConfig("b", "https://b")], NOW)
    assert [h.name for h in store.source_health()] == ["a", "b"]


def test_record_poll_of_unknown_source_raises(store: SqlStore) -> None:
    with pytest.raises(StorageError, match="unknown source 'ghost'"):
        store.record_poll("ghost", now=NOW, ok=True, http_status=200, error=None, next_poll=NOW)


# -- items --------------------------------------------------------------------------------------


def test_items_round_trip_with_every_field(store: SqlStore) -> None:
    full = Item(
        source="wire",
        item_id="urn:1",
        title="Fab capacity up",
        summary="TSMC adds capacity",
        link="https://news/1",
        published=datetime(2025, 2, 28, 9, 30, tzinfo=UTC),
        updated=datetime(2025, 2, 28, 10, 0, tzinfo=UTC),
        authors=("Ann", "Bö"),
        tags=("semis", "asia"),
    )
    (stored,) = store.add_items([full], NOW)
    assert stored.item == full
    assert stored.first_seen == NOW
    assert store.get_items([stored.id]) == [stored]


def test_add_items_dedupes_by_source_and_id_by_link_and_within_a_batch(store: SqlStore) -> None:
    first = store.add_items([item(1, link="https://x/1"), item(2)], NOW)
    assert [s.item.item_id for s in first] == ["id-1", "id-2"]
    again = store.add_items(
        [
            item(1, link="https://x/other"),  # same source + id
            item(3, source="other", link="https://x/1"),  # same link, other source
            item(4, link="https://x/4"),
            item(5, source="third", link="https://x/4"),  # same link, same batch
            item(4, link=None),  # same source + id, same batch
            item(6),  # no link: never collides on link
            item(7),
        ],
        NOW,
    )
    assert [(s.item.source, s.item.item_id) for s in again] == [
        ("wire", "id-4"),
        ("wire", "id-6"),
        ("wire", "id-7"),
    ]
    assert len(store.items_since(None)) == 5
    assert store.add_items([item(4, link="https://x/4")], NOW) == []


def test_get_items_keeps_requested_order_and_skips_unknown(store: SqlStore) -> None:
    ids = [s.id for s in store.add_items([item(1), item(2), item(3)], NOW)]
    got = store.get_items([ids[2], 999_999, ids[0]])
    assert [s.id for s in got] == [ids[2], ids[0]]
    assert store.get_items([]) == []


def test_items_since_is_by_first_seen_oldest_first(store: SqlStore) -> None:
    store.add_items([item(1)], NOW + timedelta(hours=2))
    store.add_items([item(2)], NOW)
    store.add_items([item(3)], NOW + timedelta(hours=1))
    assert [s.item.item_id for s in store.items_since(None)] == ["id-2", "id-3", "id-1"]
    since = store.items_since(NOW + timedelta(hours=1))
    assert [s.item.item_id for s in since] == ["id-3", "id-1"]


# -- theses and signals -------------------------------------------------------------------------


def test_signals_are_unique_and_adding_twice_is_idempotent(store: SqlStore) -> None:
    i1, i2, _ = seeded(store)
    first = store.add_signals([(i1, match("c1")), (i1, match("k1")), (i2, match("c1"))], NOW)
    assert len(first) == 3
    assert store.add_signals([(i1, match("c1")), (i1, match("k1"))], NOW) == []
    mixed = store.add_signals([(i1, match("c1")), (i2, match("w1")), (i2, match("c1"))], NOW)
    assert len(mixed) == 1
    assert len(store.list_signals()) == 4
    (sig,) = store.get_signals(mixed)
    assert (sig.item_id, sig.criterion_id, sig.polarity) == (i2, "w1", "watch")


def test_get_signals_joins_item_thesis_and_criterion(store: SqlStore) -> None:
    store.sync_theses([thesis("t1")], NOW)
    (stored,) = store.add_items(
        [item(1, link="https://x/1", published=datetime(2025, 1, 2, tzinfo=UTC))], NOW
    )
    (sid,) = store.add_signals([(stored.id, match("k1", score=2.5))], NOW)
    (sig,) = store.get_signals([sid, 424242])
    assert sig.id == sid
    assert sig.created_at == NOW
    assert (sig.thesis_id, sig.thesis_title) == ("t1", "Thesis t1")
    assert (sig.criterion_id, sig.criterion_text, sig.polarity) == ("k1", "criterion k1", "kill")
    assert (sig.score, sig.matched_terms, sig.snippet) == (2.5, ("alpha", "béta"), "snippet k1")
    assert (sig.item_id, sig.item_title, sig.item_link) == (stored.id, "Title 1", "https://x/1")
    assert (sig.source, sig.published) == ("wire", datetime(2025, 1, 2, tzinfo=UTC))


def test_a_failing_batch_stores_nothing(store: SqlStore) -> None:
    i1, _, _ = seeded(store)
    with pytest.raises(StorageError, match="storing signals failed"):
        store.add_signals([(i1, match("c1")), (i1, match("c9"))], NOW)  # c9 does not exist
    assert store.list_signals() == []
    assert len(store.add_signals([(i1, match("c1"))], NOW)) == 1


def test_list_signals_filters_and_orders_newest_first(store: SqlStore) -> None:
    store.sync_theses([thesis("t1"), thesis("t2")], NOW)
    a = store.add_items([item(1, source="a")], NOW)[0].id
    b = store.add_items([item(2, source="b")], NOW)[0].id
    old = store.add_signals([(a, match("c1", "t1"))], NOW - timedelta(days=3))
    tie1 = store.add_signals([(a, match("k1", "t1"))], NOW)
    tie2 = store.add_signals([(b, match("k1", "t2"))], NOW)
    new = store.add_signals([(b, match("c1", "t1"))], NOW + timedelta(hours=1))

    def ids(**kw: object) -> list[int]:
        return [s.id for s in store.list_signals(**kw)]  # type: ignore[arg-type]

    assert ids() == new + tie2 + tie1 + old
    assert ids(thesis="t1") == new + tie1 + old
    assert ids(polarity="kill") == tie2 + tie1
    assert ids(source="a") == tie1 + old
    assert ids(since=NOW) == new + tie2 + tie1
    assert ids(thesis="t1", polarity="confirm", source="b") == new
    assert ids(limit=2) == new + tie2
    assert ids(thesis="nope") == []


def test_thesis_summaries_count_7_and_30_day_windows_at_their_edges(store: SqlStore) -> None:
    store.sync_theses([thesis("t2"), thesis("t1"), thesis("t3")], NOW)
    ids = [s.id for s in store.add_items([item(i) for i in range(7)], NOW)]
    tiny = timedelta(microseconds=1)
    placed = [
        (ids[0], "c1", NOW),  # 7d, 30d
        (ids[1], "c1", NOW - timedelta(days=7)),  # 7d edge, inclusive
        (ids[2], "c1", NOW - timedelta(days=7) - tiny),  # 30d only
        (ids[3], "k1", NOW - timedelta(days=30)),  # 30d edge, inclusive
        (ids[4], "k1", NOW - timedelta(days=30) - tiny),  # too old
        (ids[5], "w1", NOW + tiny),  # after now: not counted
    ]
    for item_id, crit, at in placed:
        store.add_signals([(item_id, match(crit, "t1"))], at)
    (t2_signal,) = store.add_signals([(ids[6], match("w1", "t2"))], NOW - timedelta(days=1))
    store.sync_theses([thesis("t1"), thesis("t2")], NOW)  # t3 no longer loaded

    summaries = store.thesis_summaries(NOW)
    assert [s.thesis_id for s in summaries] == ["t1", "t2"]
    t1, t2 = summaries
    assert t1.title == "Thesis t1"
    assert t1.counts == {
        "confirm_7d": 2,
        "confirm_30d": 3,
        "kill_7d": 0,
        "kill_30d": 1,
        "watch_7d": 0,
        "watch_30d": 0,
    }
    assert t1.latest is not None
    assert (t1.latest.criterion_id, t1.latest.created_at) == ("w1", NOW + tiny)
    assert t2.counts["watch_7d"] == 1
    assert t2.latest is not None
    assert t2.latest.id == t2_signal


def test_thesis_summary_without_signals_has_zero_counts_and_no_latest(store: SqlStore) -> None:
    store.sync_theses([thesis("t1")], NOW)
    (summary,) = store.thesis_summaries(NOW)
    assert set(summary.counts.values()) == {0}
    assert len(summary.counts) == 6
    assert summary.latest is None


def test_sync_theses_deactivates_vanished_criteria_and_keeps_their_signals(
    store: SqlStore,
) -> None:
    i1, _, _ = seeded(store)
    (sid,) = store.add_signals([(i1, match("k1"))], NOW)
    changed = Thesis(
        id="t1",
        title="Renamed",
        criteria=(Criterion(id="c1", polarity="confirm", text="new text", query="q2"),),
    )
    store.sync_theses([changed], NOW)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                criteria.c.thesis_id, criteria.c.id, criteria.c.active, criteria.c.text
            ).order_by(criteria.c.thesis_id, criteria.c.id)
        ).all()
        active_theses = conn.execute(select(theses.c.id).where(theses.c.active)).scalars().all()
    assert [tuple(r) for r in rows] == [
        ("t1", "c1", True, "new text"),
        ("t1", "k1", False, "criterion k1"),
        ("t1", "w1", False, "criterion w1"),
        ("t2", "c1", False, "criterion c1"),
        ("t2", "k1", False, "criterion k1"),
        ("t2", "w1", False, "criterion w1"),
    ]
    assert active_theses == ["t1"]
    (sig,) = store.get_signals([sid])
    assert (sig.thesis_title, sig.criterion_text) == ("Renamed", "criterion k1")


# -- delivery outbox ----------------------------------------------------------------------------


def test_delivery_outbox_lifecycle(store: SqlStore) -> None:
    i1, i2, _ = seeded(store)
    s1, s2 = store.add_signals([(i1, match("c1")), (i2, match("k1"))], NOW)
    store.enqueue_deliveries([s1, s2], "#alerts", NOW)
    store.enqueue_deliveries([s1], "#alerts", NOW)  # unique per (signal, channel)
    store.enqueue_deliveries([s1], "#other", NOW)
    assert store.delivery_counts() == {"pending": 3, "sent": 0, "failed": 0}

    due = store.due_deliveries("#alerts", NOW)
    assert [(d.signal.id, d.status, d.attempts, d.channel) for d in due] == [
        (s1, "pending", 0, "#alerts"),
        (s2, "pending", 0, "#alerts"),
    ]
    assert due[0].next_attempt == NOW
    assert due[0].signal.thesis_title == "Thesis t1"
    assert store.due_deliveries("#alerts", NOW - timedelta(seconds=1)) == []
    assert len(store.due_deliveries("#alerts", NOW, limit=1)) == 1

    retry_at = NOW + timedelta(minutes=5)
    store.mark_failed(due[0].id, NOW, "rate limited", retry_at)
    store.mark_sent(due[1].id, NOW, "1700000000.000100")
    assert store.delivery_counts() == {"pending": 1, "sent": 1, "failed": 1}
    assert store.due_deliveries("#alerts", NOW + timedelta(minutes=4)) == []

    (retry,) = store.due_deliveries("#alerts", retry_at)
    assert (retry.id, retry.status, retry.attempts) == (due[0].id, "failed", 1)
    assert (retry.last_error, retry.next_attempt) == ("rate limited", retry_at)
    store.mark_sent(retry.id, retry_at, None)
    assert store.due_deliveries("#alerts", retry_at + timedelta(days=1)) == []
    assert store.delivery_counts() == {"pending": 1, "sent": 2, "failed": 0}
    with store.engine.connect() as conn:
        row = conn.execute(
            text("SELECT attempts, slack_ts, sent_at FROM deliveries WHERE id = :i"),
            {"i": due[1].id},
        ).one()
    assert (row.attempts, row.slack_ts) == (1, "1700000000.000100")


def test_marking_an_unknown_delivery_raises(store: SqlStore) -> None:
    with pytest.raises(StorageError, match="unknown delivery 777"):
        store.mark_sent(777, NOW, None)


# -- datetimes ----------------------------------------------------------------------------------


def test_datetimes_come_back_aware_utc_whatever_zone_went_in(store: SqlStore) -> None:
    plus2 = timezone(timedelta(hours=2))
    local_now = NOW.astimezone(plus2)
    store.sync_theses([thesis("t1")], local_now)
    store.sync_sources([SourceConfig("wire", "https://w")], local_now)
    (stored,) = store.add_items(
        [item(1, published=datetime(2025, 1, 1, 8, 0, tzinfo=plus2))], local_now
    )
    (sid,) = store.add_signals([(stored.id, match("c1"))], local_now)
    store.enqueue_deliveries([sid], "#c", local_now)

    (read,) = store.get_items([stored.id])
    (sig,) = store.get_signals([sid])
    (task,) = store.due_deliveries("#c", local_now)
    health = store.get_source_health("wire")
    assert health is not None
    values = [
        stored.first_seen,
        stored.item.published,
        read.first_seen,
        read.item.published,
        sig.created_at,
        sig.published,
        task.next_attempt,
        health.next_poll,
    ]
    for value in values:
        assert value is not None
        assert value.tzinfo is UTC
    assert read.item.published == datetime(2025, 1, 1, 6, 0, tzinfo=UTC)
    assert sig.created_at == NOW


def test_naive_datetimes_are_refused(store: SqlStore) -> None:
    with pytest.raises(StorageError, match="naive datetime"):
        store.add_items([item(1)], datetime(2025, 1, 1))
    assert store.items_since(None) == []


@pytest.mark.parametrize("backend", ["sqlite_url", "pg_url"])
def test_two_stores_on_one_database_store_an_item_once(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(backend)
    first, second = SqlStore(url), SqlStore(url)
    try:
        first.migrate()
        second.migrate()
        assert len(first.add_items([item(1, link="https://x/1")], NOW)) == 1
        assert second.add_items([item(2, source="b", link="https://x/1")], NOW) == []
        assert [s.item.item_id for s in second.items_since(None)] == ["id-1"]
    finally:
        first.close()
        second.close()


def test_due_deliveries_keep_queue_order_after_a_retry(store: SqlStore) -> None:
    i1, i2, _ = seeded(store)
    s1, s2 = store.add_signals([(i1, match("c1")), (i2, match("k1"))], NOW)
    store.enqueue_deliveries([s1, s2], "#alerts", NOW)
    first = store.due_deliveries("#alerts", NOW)[0]
    store.mark_failed(first.id, NOW, "HTTP 503", NOW + timedelta(minutes=1))
    later = store.due_deliveries("#alerts", NOW + timedelta(minutes=1))
    assert [d.signal.id for d in later] == [s1, s2]


def test_signal_shows_updated_as_publication_time_when_published_is_missing(
    store: SqlStore,
) -> None:
    store.sync_theses([thesis("t1")], NOW)
    when = NOW - timedelta(hours=3)
    dated = store.add_items([item(1, updated=when), item(2, published=NOW, updated=when)], NOW)
    ids = store.add_signals([(dated[0].id, match("c1")), (dated[1].id, match("k1"))], NOW)
    assert [s.published for s in store.get_signals(ids)] == [when, NOW]


# -- story dedupe, vectors, feedback (migration 0002) ---------------------------------------------


def test_a_repeated_story_adds_a_source_to_the_signal_instead_of_a_new_signal(
    store: SqlStore,
) -> None:
    store.sync_theses([thesis("t1")], NOW)
    first = store.add_items([item(1, source="wire", published=NOW - timedelta(hours=2))], NOW)
    ids = store.add_signals([(first[0].id, match("c1"))], NOW)
    later = NOW + timedelta(hours=1)
    repeat = store.add_items([item(2, source="blog", published=NOW)], later)
    store.assign_stories([(repeat[0].id, first[0].id)])

    assert store.add_signals([(repeat[0].id, match("c1")), (repeat[0].id, match("k1"))], later)
    signals = {s.criterion_id: s for s in store.list_signals()}

    assert set(signals) == {"c1", "k1"}  # c1 not duplicated; k1 is new for the story
    assert signals["c1"].id == ids[0]
    sources = signals["c1"].sources
    assert [(x.source, x.first) for x in sources] == [("wire", True), ("blog", False)]
    assert [x.source for x in signals["k1"].sources] == ["blog"]


def test_item_vectors_round_trip_per_model(store: SqlStore) -> None:
    stored = store.add_items([item(1), item(2)], NOW)
    blob = bytes(range(16))
    store.add_item_vectors("mini", [(stored[0].id, blob, 4)], NOW)
    store.add_item_vectors("mini", [(stored[0].id, b"other", 4)], NOW)  # kept, not replaced
    assert store.get_item_vectors("mini", [stored[0].id, stored[1].id]) == {stored[0].id: blob}
    assert store.get_item_vectors("other-model", [stored[0].id]) == {}


def test_feedback_latest_verdict_counts_per_criterion(store: SqlStore) -> None:
    ids = seeded(store, n_items=3)
    sig = store.add_signals(
        [(ids[0], match("c1")), (ids[1], match("c1")), (ids[2], match("k1"))], NOW
    )
    store.add_feedback(sig[0], "noise", "wrong direction", NOW)
    store.add_feedback(sig[0], "useful", None, NOW + timedelta(minutes=1))
    store.add_feedback(sig[1], "noise", None, NOW)
    store.add_feedback(sig[2], "useful", None, NOW)

    assert store.latest_feedback() == {sig[0]: "useful", sig[1]: "noise", sig[2]: "useful"}
    assert store.criterion_feedback() == {("t1", "c1"): (1, 1), ("t1", "k1"): (1, 0)}
    with pytest.raises(StorageError, match="no signal #999"):
        store.add_feedback(999, "useful", None, NOW)
    with pytest.raises(StorageError, match="verdict"):
        store.add_feedback(sig[0], "great", None, NOW)


def test_upgrade_from_0001_keeps_signals_and_backfills_their_sources(sqlite_url: str) -> None:
    from monitor.store.migrate import upgrade

    engine = create_engine(sqlite_url, poolclass=NullPool)
    with engine.begin() as conn:
        upgrade(conn, "0001")
        conn.execute(
            text(
                "INSERT INTO items (id, source, item_id, title, summary, authors, tags, first_seen)"
                " VALUES (1, 'wire', 'a', 'A', '', '[]', '[]', '2025-03-01 12:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO theses (id, title, read_throughs, active, updated_at)"
                " VALUES ('t1', 'T', '[]', 1, '2025-03-01 12:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO criteria (thesis_id, id, polarity, text, query, threshold, active,"
                " updated_at) VALUES ('t1', 'c1', 'confirm', 'x', 'x', 0, 1, '2025-03-01 12:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO signals (id, item_id, thesis_id, criterion_id, polarity, score,"
                " matched_terms, snippet, created_at) VALUES (1, 1, 't1', 'c1', 'confirm', 1,"
                " '[]', 's', '2025-03-01 12:00:00')"
            )
        )
    engine.dispose()
    s = SqlStore(sqlite_url)
    try:
        s.migrate()
        [old] = s.get_signals([1])
        assert [x.source for x in old.sources] == ["wire"]
        assert s.add_signals([(1, match("c1"))], NOW) == []  # still unique per story
    finally:
        s.close()


def test_a_delivery_waiting_for_its_retry_holds_back_younger_ones(store: SqlStore) -> None:
    ids = seeded(store, n_items=2)
    sig = store.add_signals([(ids[0], match("c1")), (ids[1], match("c1"))], NOW)
    store.enqueue_deliveries(sig, "slack:#x", NOW)
    first = store.due_deliveries("slack:#x", NOW)[0]
    store.mark_failed(first.id, NOW, "Slack is down", NOW + timedelta(minutes=1))

    assert store.due_deliveries("slack:#x", NOW + timedelta(seconds=30)) == []
    later = store.due_deliveries("slack:#x", NOW + timedelta(minutes=1))
    assert [t.signal.id for t in later] == sig


def test_unsent_deliveries_follow_a_new_destination(store: SqlStore) -> None:
    ids = seeded(store, n_items=3)
    sig = store.add_signals([(i, match("c1")) for i in ids], NOW)
    store.enqueue_deliveries(sig, "slack:#old", NOW)
    store.mark_sent(store.due_deliveries("slack:#old", NOW)[0].id, NOW, "1.1")
    store.enqueue_deliveries([sig[2]], "slack-webhook", NOW)  # already queued there too

    assert store.requeue_deliveries("slack-webhook", NOW) == 1
    moved = store.due_deliveries("slack-webhook", NOW)
    assert sorted(t.signal.id for t in moved) == sorted(sig[1:])
    assert store.due_deliveries("slack:#old", NOW)[0].signal.id == sig[2]  # left: no duplicate


def test_items_and_their_story_links_commit_together(store: SqlStore) -> None:
    (first,) = store.add_items([item(1, link="https://x/1")], NOW)

    repeat = store.add_items(
        [item(2, link="https://x/2")], NOW, link=lambda new: [(new[0].id, first.id)]
    )
    assert repeat[0].story_id == first.id
    assert store.get_items([repeat[0].id])[0].story_id == first.id

    def broken(new: list[StoredItem]) -> list[tuple[int, int]]:
        raise StorageError("linking failed")

    with pytest.raises(StorageError):
        store.add_items([item(3, link="https://x/3")], NOW, link=broken)
    assert [s.item.item_id for s in store.items_since(None)] == ["id-1", "id-2"]  # nothing half
