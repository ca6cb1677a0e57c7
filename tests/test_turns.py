"""A thesis whose momentum turns is announced once through the default destination, and a
notice that fails is tried again (real SQLite store, console and fake Slack notifiers)."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from monitor.notify.console import ConsoleNotifier
from monitor.service import Service
from monitor.settings import Environment, load_config
from monitor.types import FoundMatch, Match
from tests.e2e import Clock, write_config
from tests.fakeslack import FakeSlack
from tests.test_pipeline import make_service
from tests.test_store import item


def seed_a_turn_toward_kill(service: Service, clock: Clock) -> None:
    """Confirms five weeks ago, then kills over the last week: the momentum crosses down."""
    store = service.store
    now = clock()
    n = 0

    def signal(polarity: str, criterion: str, days_ago: float) -> None:
        nonlocal n
        n += 1
        at = now - timedelta(days=days_ago)
        (stored,) = store.add_items([item(n, link=f"https://x/{n}", published=at)], at)
        m = Match("test-nuclear", criterion, polarity, 0.9, ("x",), f"evidence {n}")  # type: ignore[arg-type]
        store.record_matches([FoundMatch(stored.id, m)], "console", at)

    for days in (35, 34, 33, 32):
        signal("confirm", "confirm-1", days)
    for days in (6, 5, 4, 3, 2, 1):
        signal("kill", "kill-1", days)


def test_a_turn_is_announced_once_and_retried_after_a_failure(tmp_path: Path, clock: Clock) -> None:
    config = load_config(write_config(tmp_path, {"wire": "https://example.com/feed"}))
    env = Environment.from_mapping({"DATABASE_URL": f"sqlite:///{tmp_path / 't.db'}"})
    out = io.StringIO()
    service = Service(config, env, clock=clock, notifier=ConsoleNotifier(out), embedder=None)
    try:
        assert service.start() == []
        seed_a_turn_toward_kill(service, clock)
        out.close()  # the console is gone: the notice fails and waits
        assert service.announce_turns(clock()) == 0
        (waiting,) = service.store.unannounced_turns()
        assert (waiting.thesis_id, waiting.direction) == ("test-nuclear", "down")
        fresh = io.StringIO()
        service.notifier = ConsoleNotifier(fresh)
        assert service.announce_turns(clock()) == 1
        text = fresh.getvalue()
        assert "Thesis turned toward kill: Existing reactors win the data-center race" in text
        assert "Latest evidence: kill" in text
        clock.advance(minutes=30)
        assert service.announce_turns(clock()) == 0  # found again: recorded once, said once
        assert service.store.unannounced_turns() == []
    finally:
        service.close()


def test_the_notice_reaches_slack_escaped_and_a_cycle_checks_for_turns(
    tmp_path: Path, fake_slack: FakeSlack, clock: Clock
) -> None:
    sources = {"wire": "http://127.0.0.1:9/feed"}  # refused: the cycle goes on
    service = make_service(tmp_path, sources, f"sqlite:///{tmp_path / 's.db'}", fake_slack, clock)
    try:
        seed_a_turn_toward_kill(service, clock)
        service.run_cycle()  # the first cycle checks for turns
        turned = [m for m in fake_slack.messages if "Thesis turned" in str(m.blocks)]
        assert len(turned) == 1
        assert turned[0].blocks is not None and turned[0].blocks[0]["type"] == "header"
        assert "📉" in turned[0].blocks[0]["text"]["text"]
    finally:
        service.close()
