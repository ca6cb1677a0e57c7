"""The library façade: opening (read-only never migrates), reads with filters and paging,
writes refused when read-only, a cycle through it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from monitor import ReadOnly, SchemaBehind, SignalQuery, open_monitor
from monitor.store import migrate as migrations
from tests.e2e import CONFIRM_ITEM, KILL_ITEM, NOISE_ITEM, Clock, rss, write_config
from tests.feedserver import FeedServer


def env_for(tmp_path: Path) -> dict[str, str]:
    return {"MONITOR_DATA_DIR": str(tmp_path / "data"), "MONITOR_SEMANTIC": "off"}


def test_read_only_never_creates_nor_migrates_a_schema_and_says_what_to_run(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, {"wire": "https://example.com/feed"})
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with open_monitor(url, config=config, read_only=True, env=env_for(tmp_path)) as fresh:
        assert fresh.empty and fresh.signals() == [] and fresh.theses() == []
        assert [h.name for h in fresh.sources()] == ["wire"]  # as configured, no history
    engine = create_engine(url)
    with engine.connect() as conn:
        assert migrations.current_revision(conn) is None  # nothing was created
    with engine.begin() as conn:
        migrations.upgrade(conn, "0008")
    with pytest.raises(SchemaBehind, match="at revision 0008, this version needs 0010"):
        open_monitor(url, config=config, read_only=True, env=env_for(tmp_path))
    with engine.connect() as conn:
        assert migrations.current_revision(conn) == "0008"  # untouched
    with open_monitor(url, config=config, env=env_for(tmp_path)) as writable:
        assert writable.signals() == []
    with open_monitor(url, config=config, read_only=True, env=env_for(tmp_path)) as m:
        assert m.signals() == [] and m.read_only
        with pytest.raises(ReadOnly, match="cannot record feedback"):
            m.feedback(1, "useful")


def test_a_cycle_then_filtered_searched_and_paged_signals_through_the_facade(
    tmp_path: Path, feed_server: FeedServer, clock: Clock
) -> None:
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM, KILL_ITEM, NOISE_ITEM]))
    config = write_config(tmp_path, {"wire": url})
    with open_monitor(config=config, env=env_for(tmp_path), clock=clock) as m:
        m.service(embedder=None)
        report = m.run_cycle()
        assert len(report.new_signals) == 2  # type: ignore[attr-defined]
        assert [s.polarity for s in m.signals(polarity="kill")] == ["kill"]
        assert [s.item_title for s in m.signals(search="SHUTTERED reactor")] == [CONFIRM_ITEM[1]]
        assert m.signals(search="100%_") == []  # LIKE wildcards are literal
        first, second = m.signals(SignalQuery(limit=1)), m.signals(SignalQuery(limit=1, offset=1))
        assert len(first) == len(second) == 1 and first[0].id != second[0].id
        assert m.signals(until=clock()) == []  # until is exclusive
        assert [h.name for h in m.sources()] == ["wire"]
        signal_id = first[0].id
        assert m.feedback(signal_id, "useful", "good") and not m.feedback(999, "noise")
        assert m.latest_feedback() == {signal_id: "useful"}
    with open_monitor(config=config, env=env_for(tmp_path), read_only=True) as m:
        assert len(m.signals()) == 2 and m.signal(signal_id) is not None
        assert [t.thesis_id for t in m.theses()] == ["test-nuclear"]
