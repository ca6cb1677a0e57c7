"""One poll cycle end to end: real feed server, real fake Slack, SQLite and PostgreSQL."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.review import print_sources
from monitor.service import Service
from monitor.settings import Environment, load_config
from tests.e2e import (
    CONFIRM_ITEM,
    HOSTILE_ITEM,
    KILL_ITEM,
    NOISE_ITEM,
    WATCH_ITEM,
    Clock,
    rss,
    write_config,
)
from tests.fakeslack import DEFAULT_TOKEN, FakeSlack
from tests.feedserver import FeedServer


def make_service(
    tmp_path: Path,
    sources: dict[str, str],
    database_url: str,
    slack: FakeSlack,
    clock: Clock,
    extra: str = "",
) -> Service:
    """A started Service over the test rules, ``sources`` and a fake Slack; ``extra``:
    more config (routes, limits, …)."""
    config = load_config(write_config(tmp_path, sources, extra))
    env = Environment.from_mapping(
        {
            "DATABASE_URL": database_url,
            "SLACK_BOT_TOKEN": DEFAULT_TOKEN,
            "SLACK_CHANNEL": "#investing",
            "SLACK_API_URL": slack.base_url,
        }
    )
    service = Service(config, env, clock=clock, embedder=None)
    assert service.start() == []
    return service


@pytest.fixture
def service_factory(
    tmp_path: Path, database_url: str, fake_slack: FakeSlack, clock: Clock
) -> Iterator[object]:
    made: list[Service] = []

    def factory(sources: dict[str, str]) -> Service:
        made.append(make_service(tmp_path, sources, database_url, fake_slack, clock))
        return made[-1]

    yield factory
    for service in made:
        service.close()


def test_cycle_stores_signals_then_alerts_confirm_and_kill_to_slack(
    feed_server: FeedServer, fake_slack: FakeSlack, service_factory
) -> None:
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM, KILL_ITEM, WATCH_ITEM, NOISE_ITEM]))
    service = service_factory({"wire": url})

    report = service.run_cycle()

    assert report.failed == {}
    assert report.new_items == 4
    signals = service.store.list_signals()
    assert sorted((s.criterion_id, s.item_title) for s in signals) == [
        ("confirm-1", CONFIRM_ITEM[1]),
        ("kill-1", KILL_ITEM[1]),
        ("unknown-1", WATCH_ITEM[1]),
    ]
    confirm = next(s for s in signals if s.polarity == "confirm")
    assert set(confirm.matched_terms) >= {"restart*", "reactor"}
    assert "restart" in confirm.snippet.lower()
    # watch signals are history only: two alerts, one per confirm/kill signal
    assert len(fake_slack.messages) == 2
    posted = " ".join(str(m.blocks) for m in fake_slack.messages)
    assert CONFIRM_ITEM[1] in posted and KILL_ITEM[1] in posted
    assert "https://news.example.com/a-1" in posted
    assert service.store.delivery_counts() == {"sent": 2, "pending": 0, "failed": 0}


def test_second_cycle_uses_conditional_get_and_stays_quiet(
    feed_server: FeedServer, fake_slack: FakeSlack, service_factory, clock: Clock
) -> None:
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM]), etag='"v1"')
    service = service_factory({"wire": url})
    service.run_cycle()

    clock.advance(minutes=10)
    assert service.run_cycle().polled == []  # not due before its 15 minute interval
    clock.advance(minutes=6)
    report = service.run_cycle()

    assert report.polled == ["wire"]
    assert report.new_items == 0
    assert feed_server.requests_to("/feed.xml")[-1].header("If-None-Match") == '"v1"'
    assert len(fake_slack.messages) == 1
    health = service.store.get_source_health("wire")
    assert health is not None and health.http_status == 304 and health.consecutive_failures == 0


def test_slack_outage_delays_alerts_and_loses_none(
    feed_server: FeedServer, fake_slack: FakeSlack, service_factory, clock: Clock
) -> None:
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM, KILL_ITEM]))
    service = service_factory({"wire": url})
    fake_slack.queue_server_error(times=1, status=503)

    first = service.run_cycle()

    assert len(first.new_signals) == 2  # signals written although Slack failed
    assert first.alerts_failed == 1 and fake_slack.messages == []
    clock.advance(seconds=0.5)
    assert service.run_cycle().alerts_sent == 0  # backoff (1 s, +50 % jitter) not over yet
    clock.advance(seconds=1.5)
    assert service.run_cycle().alerts_sent == 2  # the first retry within seconds
    assert len(fake_slack.messages) == 2
    assert CONFIRM_ITEM[1] in str(fake_slack.messages[0].blocks)  # order kept


def test_rate_limit_is_retried_after_slacks_retry_after(
    feed_server: FeedServer, fake_slack: FakeSlack, service_factory, clock: Clock
) -> None:
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM]))
    service = service_factory({"wire": url})
    fake_slack.queue_rate_limit(times=1, retry_after=120)

    service.run_cycle()
    clock.advance(seconds=119)
    assert service.run_cycle().alerts_sent == 0
    clock.advance(seconds=1)
    assert service.run_cycle().alerts_sent == 1


def test_failing_source_is_recorded_backs_off_and_others_go_on(
    feed_server: FeedServer, fake_slack: FakeSlack, service_factory, clock: Clock
) -> None:
    good = feed_server.add("/good.xml", rss([CONFIRM_ITEM]))
    bad = feed_server.add("/bad.xml", b"oops", status=500)
    junk = feed_server.add(
        "/junk.xml", b"<html><body>not a feed</body></html>", content_type="text/html"
    )
    service = service_factory({"good": good, "bad": bad, "junk": junk})

    report = service.run_cycle()

    assert set(report.failed) == {"bad", "junk"}
    assert "500" in report.failed["bad"]
    assert len(fake_slack.messages) == 1
    bad_health = service.store.get_source_health("bad")
    assert bad_health is not None
    assert bad_health.consecutive_failures == 1 and bad_health.http_status == 500
    assert bad_health.next_poll == clock.now + bad_health.interval
    clock.advance(minutes=15)
    service.run_cycle()
    bad_health = service.store.get_source_health("bad")
    assert bad_health is not None and bad_health.consecutive_failures == 2
    assert bad_health.next_poll == clock.now + 2 * bad_health.interval


def test_same_story_from_two_sources_is_one_item_and_one_alert(
    feed_server: FeedServer, fake_slack: FakeSlack, service_factory
) -> None:
    a = feed_server.add("/a.xml", rss([CONFIRM_ITEM]))
    # the second feed carries the story under another guid but with the same link
    b = feed_server.add(
        "/b.xml",
        rss([CONFIRM_ITEM]).replace(b"<guid>a-1</guid>", b"<guid>other-guid</guid>"),
    )
    service = service_factory({"a": a, "b": b})

    report = service.run_cycle()

    assert report.new_items == 1
    assert len(fake_slack.messages) == 1


def test_hostile_item_cannot_ping_or_inject_links(
    feed_server: FeedServer, fake_slack: FakeSlack, service_factory
) -> None:
    url = feed_server.add("/feed.xml", rss([HOSTILE_ITEM]))
    service = service_factory({"wire": url})

    service.run_cycle()

    assert len(fake_slack.messages) == 1
    message = fake_slack.messages[0]
    wire = str(message.blocks) + (message.text or "")
    assert "<!channel>" not in wire and "<!here>" not in wire
    assert "<http://evil.example|click>" not in wire


def test_same_story_with_other_links_is_one_signal_listing_every_source(
    feed_server: FeedServer, fake_slack: FakeSlack, service_factory, clock: Clock
) -> None:
    first = feed_server.add("/a.xml", rss([CONFIRM_ITEM], base="https://wire.example.com"))
    service = service_factory({"wire": first, "blog": feed_server.url("/b.xml")})
    feed_server.add("/b.xml", rss([], base="https://blog.example.com"))
    service.run_cycle()
    reworded = (
        "b-9",
        CONFIRM_ITEM[1] + " - Blog",
        CONFIRM_ITEM[2],
    )
    feed_server.add("/b.xml", rss([reworded], base="https://blog.example.com"))
    clock.advance(minutes=20)  # blog, quiet at first, slowed to 18.75 minutes (+ jitter)

    report = service.run_cycle()

    assert report.new_items == 1 and report.new_signals == []
    [signal] = service.store.list_signals()
    assert [(s.source, s.first) for s in signal.sources] == [("wire", True), ("blog", False)]
    assert len(fake_slack.messages) == 1


def test_semantic_cycle_stores_item_vectors_and_similarity(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, sqlite_url: str, clock: Clock
) -> None:
    from monitor.semantic import MODEL_NAME, load_embedder

    embedder = load_embedder()
    assert embedder is not None, "the semantic extra is part of the test install"
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM, NOISE_ITEM]))
    config = load_config(write_config(tmp_path, {"wire": url}))
    env = Environment.from_mapping({"DATABASE_URL": sqlite_url})
    service = Service(config, env, clock=clock, embedder=embedder, notifier=None)
    try:
        service.start()
        report = service.run_cycle()
        items = service.store.items_since(None)
        vectors = service.store.get_item_vectors(MODEL_NAME, [s.id for s in items])
        signals = service.store.list_signals()
    finally:
        service.close()

    assert report.new_items == 2
    assert set(vectors) == {s.id for s in items}
    assert all(len(blob) == 4 * embedder.dim for blob in vectors.values())
    confirm = [s for s in signals if s.criterion_id == "confirm-1"]
    assert len(confirm) == 1 and confirm[0].similarity is not None
    assert 0.0 < confirm[0].similarity <= 1.0


def test_items_whose_matching_failed_are_matched_on_the_next_cycle(
    feed_server: FeedServer, fake_slack: FakeSlack, service_factory, clock: Clock
) -> None:
    """A database failure after the items were stored (here: the first signal write is
    refused, as a locked or unreachable database would) loses no signal and no alert."""
    from monitor.errors import StorageError

    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM, KILL_ITEM]))
    service = service_factory({"wire": url})
    store = service.store
    real = store.record_matches
    failures = [StorageError("database is locked")]

    def flaky(*args: object, **kwargs: object) -> list[int]:
        if failures:
            raise failures.pop()
        return real(*args, **kwargs)  # type: ignore[arg-type]

    store.record_matches = flaky  # type: ignore[method-assign]
    assert service.run_cycle_safely() is None  # the cycle failed after storing the items
    assert store.list_signals() == [] and len(store.items_since(None)) == 2

    clock.advance(seconds=15)
    report = service.run_cycle()

    assert report.new_items == 0 and len(report.new_signals) == 2
    assert len(fake_slack.messages) == 2


def test_a_failed_thesis_sync_is_retried_before_matching(
    tmp_path: Path, feed_server: FeedServer, service_factory, clock: Clock
) -> None:
    from monitor.errors import StorageError

    url = feed_server.add("/feed.xml", rss([KILL_ITEM]))
    service = service_factory({"wire": url})
    rule = tmp_path / "rules" / "nuclear.yaml"
    rule.write_text(rule.read_text(encoding="utf-8").replace("kill-1", "kill-2"), "utf-8")
    real = service.store.sync_theses
    failures = [StorageError("database is locked")]

    def flaky(*args: object, **kwargs: object) -> None:
        if failures:
            raise failures.pop()
        real(*args, **kwargs)  # type: ignore[arg-type]

    service.store.sync_theses = flaky  # type: ignore[method-assign]
    assert service.run_cycle_safely() is None  # the sync failed: no cycle ran
    clock.advance(seconds=15)
    report = service.run_cycle()

    assert [s.criterion_id for s in service.store.get_signals(report.new_signals)] == ["kill-2"]


def test_same_story_from_two_sources_in_one_cycle_is_one_signal(
    feed_server: FeedServer, fake_slack: FakeSlack, service_factory
) -> None:
    a = feed_server.add("/a.xml", rss([CONFIRM_ITEM], base="https://wire.example.com"))
    reworded = ("b-9", CONFIRM_ITEM[1] + " - Blog", CONFIRM_ITEM[2])
    b = feed_server.add("/b.xml", rss([reworded], base="https://blog.example.com"))
    service = service_factory({"wire": a, "blog": b})

    report = service.run_cycle()

    assert report.new_items == 2 and len(report.new_signals) == 1
    [signal] = service.store.list_signals()
    assert sorted(s.source for s in signal.sources) == ["blog", "wire"]
    assert len(fake_slack.messages) == 1


def test_credentials_in_feed_urls_stay_out_of_errors_logs_and_sources(
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    service_factory,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    port = feed_server.base_url.rsplit(":", 1)[1]
    query = feed_server.url("/private.xml?token=S3CRETTOKEN&page=1")
    userinfo = f"http://alice:PA55WORD@127.0.0.1:{port}/private2.xml"
    service = service_factory({"query": query, "userinfo": userinfo})

    with caplog.at_level(logging.DEBUG, logger="monitor"):  # the CLI keeps httpx at WARNING
        report = service.run_cycle()

    assert set(report.failed) == {"query", "userinfo"}  # both 404
    stored = [service.store.get_source_health(n) for n in ("query", "userinfo")]
    out = io.StringIO()
    print_sources([h for h in stored if h is not None], out)
    shown = " ".join(report.failed.values()) + out.getvalue() + caplog.text
    shown += " ".join(h.last_error or "" for h in stored if h is not None)
    assert "S3CRETTOKEN" not in shown and "PA55WORD" not in shown
    assert "token=***" in report.failed["query"] and "***@127.0.0.1" in report.failed["userinfo"]


def test_polling_honours_server_hints_and_parks_a_source_failing_for_a_day(
    feed_server: FeedServer, fake_slack: FakeSlack, service_factory, clock: Clock
) -> None:
    cached = feed_server.add("/c.xml", rss([NOISE_ITEM]), headers={"Cache-Control": "max-age=2400"})
    limited = feed_server.add("/l.xml", b"slow down", status=429, headers={"Retry-After": "3000"})
    ttl = feed_server.add(
        "/t.xml", rss([]).replace(b"<description>t</description>", b"<ttl>30</ttl>")
    )
    service = service_factory({"cached": cached, "limited": limited, "ttl": ttl})

    service.run_cycle()

    def next_poll(name: str) -> timedelta:
        health = service.store.get_source_health(name)
        assert health is not None and health.next_poll is not None
        return health.next_poll - clock.now

    assert timedelta(seconds=2400) <= next_poll("cached") <= timedelta(seconds=2400 * 1.05)
    assert next_poll("limited") == timedelta(seconds=3000)
    assert timedelta(minutes=30) <= next_poll("ttl") <= timedelta(minutes=31.5)

    for _ in range(30):  # a day of failures (the backoff reaches 6 hours)
        clock.advance(hours=6)
        service.run_cycle()
    health = service.store.get_source_health("limited")
    assert health is not None and health.parked_since is not None
    assert health.next_poll is not None and health.last_attempt is not None
    assert health.next_poll - health.last_attempt == timedelta(days=1)  # once a day
    out = io.StringIO()
    print_sources([health], out)
    assert "parked" in out.getvalue()

    feed_server.add("/l.xml", rss([]))  # it answers again
    clock.advance(days=1)
    service.run_cycle()
    health = service.store.get_source_health("limited")
    assert health is not None and health.parked_since is None and health.consecutive_failures == 0


MIXED_ITEM = (
    "a-6",
    "Reactor restart deal signed as small modular reactor stays on schedule",
    "The nuclear restart and the SMR project, which is on schedule, were both announced.",
)


def test_an_item_that_confirms_and_kills_one_thesis_is_one_mixed_evidence_alert(
    feed_server: FeedServer, fake_slack: FakeSlack, service_factory
) -> None:
    url = feed_server.add("/feed.xml", rss([MIXED_ITEM]))
    service = service_factory({"wire": url})

    report = service.run_cycle()

    signals = service.store.list_signals()
    assert sorted(s.polarity for s in signals) == ["confirm", "kill"]  # both recorded
    assert report.alerts_sent == 1 and len(fake_slack.messages) == 1  # one alert
    blocks = str(fake_slack.messages[0].blocks)
    assert "MIXED EVIDENCE" in blocks
    assert "confirm-1" in blocks and "kill-1" in blocks


def test_each_alert_carries_the_running_tally_of_its_thesis_and_polarity(
    feed_server: FeedServer, fake_slack: FakeSlack, service_factory, clock: Clock
) -> None:
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM]))
    service = service_factory({"wire": url})
    service.run_cycle()
    later = (
        "a-9",
        "Second utility plans a reactor restart for a data center",
        "Another nuclear plant restart, for a hyperscaler, in 2029.",
    )
    feed_server.add("/feed.xml", rss([CONFIRM_ITEM, later]))
    clock.advance(minutes=20)
    service.run_cycle()

    texts = [str(m.blocks) for m in fake_slack.messages]
    assert len(texts) == 2
    assert "1st confirm signal in 30 days" in texts[0]
    assert "2nd confirm signal in 30 days" in texts[1]
