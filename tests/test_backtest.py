"""Backtests: replay stored items against changed rules, compare with what fired."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from monitor.backtest import compare
from monitor.types import Item, Match, Signal, StoredItem
from tests.e2e import CONFIRM_ITEM, KILL_ITEM, NOISE_ITEM, rss, write_config
from tests.feedserver import FeedServer
from tests.test_cli import monitor

NOW = datetime(2026, 5, 14, tzinfo=UTC)


def stored(n: int, story: int | None = None) -> StoredItem:
    return StoredItem(n, Item("wire", f"i{n}", f"Title {n}"), NOW, story_id=story)


def match(criterion: str) -> Match:
    return Match("t", criterion, "confirm", 1.0, ("x",), "x")


def signal(sid: int, item_id: int, criterion: str) -> Signal:
    return Signal(
        sid,
        NOW,
        "t",
        "T",
        criterion,
        "c",
        "confirm",
        1.0,
        ("x",),
        "x",
        item_id,
        "t",
        None,
        "w",
        None,
    )


def test_compare_splits_unchanged_new_and_dropped_per_story() -> None:
    items = [stored(1), stored(2, story=1), stored(3)]
    would = [(items[0], match("c1")), (items[1], match("c1")), (items[2], match("c2"))]
    did = [signal(10, 1, "c1"), signal(11, 3, "c1")]

    report = compare(items, would, did)

    assert [(f.key, f.signal.id if f.signal else None) for f in report.unchanged] == [
        ((1, "t", "c1"), 10)
    ]
    assert [f.key for f in report.new] == [(3, "t", "c2")]  # the repeat of story 1 fires once
    assert [f.key for f in report.dropped] == [(3, "t", "c1")]
    assert report.counts() == {
        "t/c1": {"would": 1, "did": 2, "new": 0, "dropped": 1},
        "t/c2": {"would": 1, "did": 0, "new": 1, "dropped": 0},
    }


def test_backtest_command_shows_what_changed_after_a_rule_edit(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM, KILL_ITEM, NOISE_ITEM]))
    write_config(tmp_path, {"wire": url})
    assert monitor(tmp_path, "run", "--once").returncode == 0
    rule = tmp_path / "rules" / "nuclear.yaml"
    text = rule.read_text(encoding="utf-8")
    text = text.replace('("on schedule" OR "ahead of schedule")', '"ahead of schedule"')
    rule.write_text(text.replace("query: HALEU", "query: HALEU OR revenue"), encoding="utf-8")

    out = monitor(tmp_path, "backtest", "--format", "json")

    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["items"] == 3 and report["unchanged"] == 1
    assert [(f["criterion_id"], f["title"]) for f in report["new"]] == [
        ("unknown-1", NOISE_ITEM[1])
    ]
    assert [(f["criterion_id"], f["title"]) for f in report["dropped"]] == [
        ("kill-1", KILL_ITEM[1])
    ]
    table = monitor(tmp_path, "backtest", "--since", "1d")
    assert "1 new, 1 dropped, 1 unchanged" in table.stdout
    assert "replaying" in table.stderr  # the progress bar
    assert (
        monitor(tmp_path, "signals", "--format", "json").stdout.count('"id"') == 2
    )  # nothing stored
