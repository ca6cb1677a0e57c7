"""Nothing lost to a bad rule set, and nothing floods the channel: held theses, backfills of
new theses, caps on items and alerts. Real feed server, fake Slack, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from monitor.service import Service
from monitor.settings import Environment, load_config
from tests.e2e import CONFIRM_ITEM, KILL_ITEM, RULE_FILE, Clock, rss, write_config
from tests.fakeslack import DEFAULT_TOKEN, FakeSlack
from tests.feedserver import FeedServer

Factory = Callable[..., Service]

SECOND_THESIS = RULE_FILE.replace("id: test-nuclear", "id: test-restarts").replace(
    "title: Existing reactors win the data-center race", "title: Restarts come back"
)


@pytest.fixture
def make(
    tmp_path: Path, database_url: str, fake_slack: FakeSlack, clock: Clock
) -> Iterator[Factory]:
    made: list[Service] = []

    def factory(sources: dict[str, str] | None, extra: str = "") -> Service:
        """A service on a new config with RULE_FILE, or (``None``) on the files as they are."""
        path = tmp_path / "monitor.yaml" if sources is None else None
        config = load_config(path or write_config(tmp_path, sources or {}, extra))
        env = Environment.from_mapping(
            {
                "DATABASE_URL": database_url,
                "SLACK_BOT_TOKEN": DEFAULT_TOKEN,
                "SLACK_CHANNEL": "#investing",
                "SLACK_API_URL": fake_slack.base_url,
            }
        )
        made.append(Service(config, env, clock=clock, embedder=None))
        made[-1].start()
        return made[-1]

    yield factory
    for service in made:
        service.close()


def rules(tmp_path: Path) -> Path:
    return tmp_path / "rules" / "nuclear.yaml"


def test_a_broken_rule_file_holds_its_items_until_it_is_fixed(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, make: Factory, clock: Clock
) -> None:
    service = make({"wire": feed_server.add("/feed.xml", rss([CONFIRM_ITEM]))})
    service.run_cycle()
    assert len(fake_slack.messages) == 1

    rules(tmp_path).write_text(RULE_FILE.replace("query: HALEU", "query: (HALEU"), "utf-8")
    feed_server.add("/feed.xml", rss([CONFIRM_ITEM, KILL_ITEM]))
    clock.advance(minutes=16)  # the 15 minute interval and its jitter
    report = service.run_cycle()
    assert report.new_items == 1 and report.new_signals == []  # the kill item waits
    assert service.rulebook.held.keys() == {"test-nuclear"}

    rules(tmp_path).write_text(RULE_FILE, "utf-8")  # fixed: the same rules as before
    clock.advance(seconds=15)
    report = service.run_cycle()

    assert len(report.new_signals) == 1
    assert [s.criterion_id for s in service.store.list_signals()] == ["kill-1", "confirm-1"]
    assert len(fake_slack.messages) == 2  # the waiting item alerted once it could be matched
    assert not any(s.backfilled for s in service.store.list_signals())


def test_an_empty_rules_folder_holds_every_item(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, make: Factory, clock: Clock
) -> None:
    service = make({"wire": feed_server.add("/feed.xml", rss([KILL_ITEM]))})
    rules(tmp_path).rename(tmp_path / "nuclear.yaml.bak")

    report = service.run_cycle()
    assert report.new_items == 1 and report.new_signals == []
    assert service.rulebook.hold_all is not None
    assert [t.thesis_id for t in service.store.thesis_summaries(clock.now)] == ["test-nuclear"]

    (tmp_path / "nuclear.yaml.bak").rename(rules(tmp_path))
    clock.advance(seconds=15)
    report = service.run_cycle()

    assert len(report.new_signals) == 1 and len(fake_slack.messages) == 1


def test_a_new_thesis_is_backfilled_and_alerts_only_on_recent_items(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, make: Factory, clock: Clock
) -> None:
    service = make(
        {"wire": feed_server.add("/feed.xml", rss([CONFIRM_ITEM]))},
        "backfill:\n  window: 7d\n  alert_age: 1d",
    )
    service.run_cycle()
    assert len(fake_slack.messages) == 1

    clock.advance(days=2)
    fresh = ("b-1", "Operator plans restart of idle reactor in Ohio", "A nuclear unit returns.")
    feed_server.add("/feed.xml", rss([CONFIRM_ITEM, fresh], base="https://other.example.com"))
    (tmp_path / "rules" / "restarts.yaml").write_text(SECOND_THESIS, "utf-8")
    report = service.run_cycle()

    backfilled = service.store.list_signals(thesis="test-restarts")
    assert sorted((s.item_title, s.backfilled) for s in backfilled) == [
        (fresh[1], False),
        (CONFIRM_ITEM[1], True),
    ]
    assert len(report.new_signals) == 3  # both theses on the fresh item, the backfill on the old
    posted = " ".join(str(m.blocks) for m in fake_slack.messages[1:])
    assert len(fake_slack.messages) == 3 and CONFIRM_ITEM[1] not in posted  # old: not alerted


def test_alerts_per_source_are_capped_with_one_summary(
    feed_server: FeedServer, fake_slack: FakeSlack, make: Factory
) -> None:
    places = ["Ohio", "Texas", "Quebec", "Bavaria", "Kyushu", "Ontario"]
    items = [
        (f"r-{n}", f"{place} grid operator weighs restart of its {n}th reactor", f"Story {n}.")
        for n, place in enumerate(places)
    ]
    service = make(
        {"wire": feed_server.add("/feed.xml", rss(items))},
        "limits:\n  alerts_per_source: 2\n  items_per_poll: 5",
    )

    report = service.run_cycle()

    assert report.new_items == 5  # items_per_poll: the first five entries
    assert len(report.new_signals) == 5  # every signal recorded
    assert len(fake_slack.messages) == 3  # two alerts, then one summary of the other three
    summary = str(fake_slack.messages[-1].blocks)
    assert "and 2 more signal(s) from wire" in summary
    assert service.store.delivery_counts()["sent"] == 3


def test_a_thesis_broken_across_a_restart_stays_held_and_its_items_alert_once_fixed(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, make: Factory, clock: Clock
) -> None:
    first = make({"wire": feed_server.add("/feed.xml", rss([CONFIRM_ITEM]))})
    first.run_cycle()
    first.close()
    rules(tmp_path).write_text(RULE_FILE.replace("query: HALEU", "query: (HALEU"), "utf-8")
    feed_server.add("/feed.xml", rss([CONFIRM_ITEM, KILL_ITEM]))
    clock.advance(minutes=16)

    again = make(None)  # a new process, that never loaded the file
    again.run_cycle()
    assert again.match_plan().held.keys() == {"test-nuclear"}
    assert [t.thesis_id for t in again.store.thesis_summaries(clock.now)] == ["test-nuclear"]

    clock.advance(days=2)  # past the backfill's alert age; fixed with a changed rule set
    fixed = RULE_FILE.replace("query: HALEU", "query: HALEU OR enrichment")
    rules(tmp_path).write_text(fixed, "utf-8")
    again.run_cycle()

    kill = again.store.list_signals(polarity="kill")
    assert [(s.item_title, s.backfilled) for s in kill] == [(KILL_ITEM[1], False)]
    assert len(fake_slack.messages) == 2  # the waiting kill item alerted: it was never matched


def test_matching_yields_to_polling_and_alerts_after_its_time_budget(
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    make: Factory,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from monitor import pipeline

    monkeypatch.setattr(pipeline, "MATCH_SECONDS", 0.0)  # the budget is spent at once
    monkeypatch.setattr(pipeline, "MATCH_BATCH", 1)
    service = make({"wire": feed_server.add("/feed.xml", rss([CONFIRM_ITEM, KILL_ITEM]))})

    first = service.run_cycle()
    assert first.new_items == 2 and len(first.new_signals) == 1  # one batch, then alerts
    assert len(fake_slack.messages) == 1
    clock.advance(seconds=15)
    second = service.run_cycle()
    assert len(second.new_signals) == 1 and len(fake_slack.messages) == 2  # the rest
