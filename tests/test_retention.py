"""Retention: old signals (when configured) and items that gave no signal are pruned,
set-based; nothing a held thesis still waits for is removed. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from monitor.store.sql import SqlStore
from monitor.types import FoundMatch, PruneReport
from tests.test_store import NOW, item, match, thesis


def stored_at(store: SqlStore, n: int, days_ago: float) -> int:
    (s,) = store.add_items([item(n, link=f"https://x/{n}")], NOW - timedelta(days=days_ago))
    return s.id


def test_prune_keeps_signals_forever_by_default_and_drops_old_idle_items(store: SqlStore) -> None:
    store.sync_theses([thesis("t1")], NOW)
    old_idle, old_signal, new_idle = (stored_at(store, n, d) for n, d in ((1, 40), (2, 40), (3, 1)))
    store.sync_progress({"t1": "d"}, NOW - timedelta(days=41), NOW - timedelta(days=50))
    store.record_matches(
        [FoundMatch(old_signal, match("c1"), alert=True)],
        "console",
        NOW - timedelta(days=40),
        item_ids=[old_idle, old_signal, new_idle],
        progress={"t1": ("d", new_idle)},
    )

    dry = store.prune(
        NOW, signals_older_than=None, items_older_than=timedelta(days=30), dry_run=True
    )
    assert dry == PruneReport(items=1)
    assert len(store.items_since(None)) == 3  # a dry run removes nothing

    report = store.prune(NOW, signals_older_than=None, items_older_than=timedelta(days=30))

    assert report == PruneReport(items=1)
    assert [s.id for s in store.items_since(None)] == [old_signal, new_idle]
    assert len(store.list_signals()) == 1


def test_prune_with_a_signal_retention_removes_old_signals_with_their_alerts(
    store: SqlStore,
) -> None:
    store.sync_theses([thesis("t1")], NOW)
    old, recent = stored_at(store, 1, 200), stored_at(store, 2, 10)
    store.sync_progress({"t1": "d"}, NOW - timedelta(days=201), NOW - timedelta(days=300))
    for item_id, days in ((old, 200), (recent, 10)):
        store.record_matches(
            [FoundMatch(item_id, match("c1"), alert=True)],
            "console",
            NOW - timedelta(days=days),
            item_ids=[item_id],
            progress={"t1": ("d", item_id)},
        )
    store.add_feedback(store.list_signals()[-1].id, "useful", None, NOW)

    report = store.prune(
        NOW, signals_older_than=timedelta(days=180), items_older_than=timedelta(days=30)
    )

    assert report == PruneReport(signals=1, deliveries=1, feedback=1, items=1)
    assert [s.item_id for s in store.list_signals()] == [recent]
    assert [s.id for s in store.items_since(None)] == [recent]


def test_prune_keeps_items_a_held_thesis_still_waits_for(store: SqlStore) -> None:
    store.sync_theses([thesis("t1"), thesis("t2")], NOW)
    waiting = stored_at(store, 1, 60)
    store.sync_progress({"t1": "a", "t2": "b"}, NOW - timedelta(days=61), NOW - timedelta(days=70))
    store.record_matches([], "console", NOW, item_ids=[waiting], progress={"t1": ("a", waiting)})

    report = store.prune(NOW, signals_older_than=None, items_older_than=timedelta(days=30))

    assert report.items == 0  # t2 (held) has not been matched against it yet
