"""Routes, digests, severity, quiet hours and mutes: the pure planning, the config's errors,
and cycles end to end against a fake Slack with an injected clock (no sleeping)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.notify.routes import (
    DEFAULT_ROUTING,
    Route,
    RouteMatch,
    Routing,
    SignalFacts,
    parse_quiet_hours,
    parse_schedule,
    plan,
)
from monitor.service import Service
from monitor.settings import load_config
from monitor.types import Mute
from tests.e2e import CONFIRM_ITEM, KILL_ITEM, Clock, rss, write_config
from tests.fakeslack import DEFAULT_TOKEN, FakeSlack
from tests.feedserver import FeedServer
from tests.test_pipeline import make_service

NOW = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)  # a Friday, before the clocks change
KILL = SignalFacts("t1", "kill-1", "kill", 0.9, "wire", ("research",))
CONFIRM = SignalFacts("t1", "confirm-1", "confirm", 0.4, "blog", ())


def mute(kind: str, value: str) -> Mute:
    return Mute(1, kind, value, None, NOW)  # type: ignore[arg-type]


# -- schedules and quiet hours -----------------------------------------------------------------


def test_a_weekday_digest_skips_the_weekend_and_keeps_local_time_across_daylight_saving() -> None:
    morning = parse_schedule("weekdays 08:00 Europe/London")
    # Friday 09:00 UTC (09:00 GMT) -> Monday 08:00 BST, which is 07:00 UTC
    assert morning.next_after(NOW) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    thursday = datetime(2026, 3, 26, 7, 59, tzinfo=UTC)
    assert morning.next_after(thursday) == datetime(2026, 3, 26, 8, 0, tzinfo=UTC)
    at = datetime(2026, 3, 26, 8, 0, tzinfo=UTC)
    assert morning.next_after(at) == datetime(2026, 3, 27, 8, 0, tzinfo=UTC)  # strictly after
    assert parse_schedule("mon,thu 18:30").next_after(NOW) == datetime(
        2026, 3, 30, 18, 30, tzinfo=UTC
    )


def test_quiet_hours_across_midnight_hold_until_they_end() -> None:
    night = parse_quiet_hours("22:00-07:00 Europe/London")
    late = datetime(2026, 1, 14, 23, 30, tzinfo=UTC)
    assert night.until(late) == datetime(2026, 1, 15, 7, 0, tzinfo=UTC)
    early = datetime(2026, 1, 15, 6, 59, tzinfo=UTC)
    assert night.until(early) == datetime(2026, 1, 15, 7, 0, tzinfo=UTC)
    assert night.until(datetime(2026, 1, 15, 7, 0, tzinfo=UTC)) is None
    assert night.until(datetime(2026, 1, 15, 12, 0, tzinfo=UTC)) is None
    lunch = parse_quiet_hours("12:00-13:00")
    assert lunch.until(datetime(2026, 1, 15, 12, 30, tzinfo=UTC)) == datetime(
        2026, 1, 15, 13, 0, tzinfo=UTC
    )


# -- planning -----------------------------------------------------------------------------------


def routing(*routes: Route, kill_score: float | None = None) -> Routing:
    return Routing(DEFAULT_ROUTING.destinations, routes, kill_score)


def test_without_routes_every_alert_goes_to_default_at_once_one_message_each() -> None:
    (only,) = plan(CONFIRM, DEFAULT_ROUTING, [], NOW)
    assert (only.destination, only.due, only.digest, only.muted, only.urgent) == (
        "default",
        NOW,
        None,
        None,
        False,
    )


@pytest.mark.parametrize(
    ("match", "kill", "confirm"),
    [
        (RouteMatch(polarity=frozenset({"kill"})), True, False),
        (RouteMatch(thesis=frozenset({"t1"})), True, True),
        (RouteMatch(criterion=frozenset({"t1/confirm-1"})), False, True),
        (RouteMatch(criterion=frozenset({"kill-1"})), True, False),
        (RouteMatch(min_score=0.5), True, False),
        (RouteMatch(source=frozenset({"blog"})), False, True),
        (RouteMatch(source_tags=frozenset({"research", "ai"})), True, False),
        (RouteMatch(polarity=frozenset({"kill"}), source=frozenset({"blog"})), False, False),
    ],
)
def test_a_route_matches_on_every_field_it_gives(
    match: RouteMatch, kill: bool, confirm: bool
) -> None:
    assert match.holds(KILL) is kill
    assert match.holds(CONFIRM) is confirm


def test_two_routes_to_one_destination_send_once_immediate_winning() -> None:
    digest = Route(
        "daily", match=RouteMatch(), mode="digest", schedule=parse_schedule("daily 08:00")
    )
    now = Route("kills", match=RouteMatch(polarity=frozenset({"kill"})))
    plans = plan(KILL, routing(digest, now), [], NOW)
    assert [(p.destination, p.due, p.digest, p.route) for p in plans] == [
        ("default", NOW, None, "kills")
    ]
    (later,) = plan(CONFIRM, routing(digest, now), [], NOW)
    assert later.due == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)
    assert later.digest == "daily@2026-03-28T08:00Z"


def test_a_severe_kill_skips_digests_quiet_hours_and_mutes_and_is_marked_urgent() -> None:
    night = Route("night", quiet_hours=parse_quiet_hours("00:00-23:59"))
    (held,) = plan(KILL, routing(night), [mute("source", "wire")], NOW)
    assert held.muted is not None and not held.urgent
    (urgent,) = plan(KILL, routing(night, kill_score=0.8), [mute("source", "wire")], NOW)
    assert (urgent.due, urgent.muted, urgent.urgent) == (NOW, None, True)
    (quiet,) = plan(CONFIRM, routing(night, kill_score=0.8), [], NOW)
    assert quiet.due > NOW and not quiet.urgent  # not a kill: held by the quiet hours


def test_no_matching_route_means_recorded_and_not_alerted() -> None:
    kills_only = Route("kills", match=RouteMatch(polarity=frozenset({"kill"})))
    assert plan(CONFIRM, routing(kills_only), [], NOW) == []


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("routes:\n  - name: r\n    to: [nowhere]", "unknown destination 'nowhere'"),
        ("routes:\n  - name: r\n    mode: digest", "needs a schedule"),
        ("routes:\n  - name: r\n    mode: digest\n    schedule: 'weekdays 8am'", "is not like"),
        ("routes:\n  - name: r\n    quiet_hours: '22:00-07:00 Mars/Olympus'", "unknown time zone"),
        ("routes:\n  - name: r\n    match:\n      colour: red", "unknown match field 'colour'"),
        ("destinations:\n  d:\n    webhook_env: lower", "is not valid"),
        ("destinations:\n  default:\n    console: true", "pick another name"),
        ("severity:\n  kill_score: high", "a score must be a number"),
    ],
)
def test_a_bad_routing_section_names_the_file_and_line(
    tmp_path: Path, section: str, message: str
) -> None:
    path = write_config(tmp_path, {"wire": "https://example.com/feed"}, section)
    with pytest.raises(ConfigError, match=message) as failed:
        load_config(path)
    assert failed.value.line is not None and failed.value.line > 4


# -- end to end ---------------------------------------------------------------------------------


def service_with(tmp_path: Path, url: str, slack: FakeSlack, clock: Clock, section: str) -> Service:
    return make_service(
        tmp_path, {"wire": url}, f"sqlite:///{tmp_path / 'routes.db'}", slack, clock, section
    )


DIGEST = """\
routes:
  - name: morning
    mode: digest
    schedule: "daily 13:00 UTC"
"""


def test_a_digest_goes_out_once_at_its_scheduled_time_with_every_signal(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, clock: Clock
) -> None:
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM, KILL_ITEM]))
    service = service_with(tmp_path, url, fake_slack, clock, DIGEST)  # clock: 12:00 UTC
    try:
        assert len(service.run_cycle().new_signals) == 2
        assert fake_slack.messages == []  # recorded, waiting for 13:00
        clock.advance(minutes=59)
        assert service.run_cycle().alerts_sent == 0
        clock.advance(minutes=1, seconds=1)
        assert service.run_cycle().alerts_sent == 2
        (digest,) = fake_slack.messages  # one message for both
        text = str(digest.blocks)
        assert "Digest · morning" in text
        assert CONFIRM_ITEM[1] in text and KILL_ITEM[1] in text
        clock.advance(days=1)
        assert service.run_cycle().alerts_sent == 0 and len(fake_slack.messages) == 1
    finally:
        service.close()


def test_a_severe_kill_bypasses_the_digest_and_says_so(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, clock: Clock
) -> None:
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM, KILL_ITEM]))
    section = DIGEST + "severity:\n  kill_score: 0.1\n"
    service = service_with(tmp_path, url, fake_slack, clock, section)
    try:
        service.run_cycle()
        (urgent,) = fake_slack.messages  # the kill at once; the confirm waits for 13:00
        assert KILL_ITEM[1] in str(urgent.blocks) and "URGENT" in str(urgent.blocks)
    finally:
        service.close()


def test_a_muted_source_is_recorded_shown_as_muted_and_never_sent(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, clock: Clock
) -> None:
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM]))
    service = service_with(tmp_path, url, fake_slack, clock, "")
    try:
        service.store.add_mute("source", "wire", until=clock() + timedelta(days=7), now=clock())
        service.run_cycle()
        (signal,) = service.store.list_signals()
        assert signal.muted and fake_slack.messages == []
        assert service.store.delivery_counts().get("muted") == 1
    finally:
        service.close()


def test_a_burst_of_one_thesis_is_one_message_where_the_route_groups(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, clock: Clock
) -> None:
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM, KILL_ITEM]))
    service = service_with(tmp_path, url, fake_slack, clock, "routes:\n  - name: all")
    try:
        assert service.run_cycle().alerts_sent == 2
        (burst,) = fake_slack.messages
        assert "2 signals" in str(burst.blocks)
    finally:
        service.close()


def test_notify_test_reports_each_route_and_destination(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    from tests.test_cli import clean_env, monitor

    section = (
        "destinations:\n  desk:\n    slack_channel: '#desk'\n  terminal:\n    console: true\n"
        "routes:\n  - name: all\n    to: [default, terminal]\n"
        "  - name: desk\n    to: [desk, default]\n"
    )
    write_config(tmp_path, {"wire": "https://example.com/feed"}, section)
    env = clean_env(
        tmp_path,
        SLACK_BOT_TOKEN=DEFAULT_TOKEN,
        SLACK_CHANNEL="#investing",
        SLACK_API_URL=fake_slack.base_url,
    )
    done = monitor(tmp_path, "notify-test", env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("route ")]
    assert done.returncode == 1, done.stderr  # #desk does not exist in the fake workspace
    assert lines[0].startswith("route all → default (slack:#investing): ok: delivered (ts ")
    assert lines[1] == "route all → terminal (console): ok: delivered"
    assert lines[2].startswith("route desk → desk (slack:#desk): FAILED: channel_not_found")
    assert "SLACK_CHANNEL" in lines[2] or "invite" in lines[2]
    assert lines[3].startswith("route desk → default (slack:#investing): ok")
    assert len(fake_slack.messages) == 1  # the default destination was sent one test only
    assert "TEST" in str(fake_slack.messages[0].blocks)
    assert DEFAULT_TOKEN not in done.stdout + done.stderr
    fake_slack.channels["#desk"] = "C777"
    assert monitor(tmp_path, "notify-test", env=env).returncode == 0


def test_a_digest_whose_answer_was_lost_is_found_not_posted_twice(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, clock: Clock
) -> None:
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM, KILL_ITEM]))
    service = service_with(tmp_path, url, fake_slack, clock, DIGEST)
    try:
        service.run_cycle()
        clock.advance(hours=1, seconds=1)
        fake_slack.queue_dropped_answer(1)
        report = service.run_cycle()  # the lost answer is looked for at once
        assert (report.alerts_failed, report.alerts_sent) == (1, 2)
        assert len(fake_slack.messages) == 1  # found in the history, not posted again
        assert "conversations.history" in fake_slack.calls
        assert service.store.delivery_counts()["sent"] == 2
    finally:
        service.close()
