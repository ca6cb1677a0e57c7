"""Table tests for the pure decisions in monitor.decide."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor import decide
from monitor.types import Match, SourceHealth

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
M15 = timedelta(minutes=15)


def health(name: str, next_poll: datetime | None) -> SourceHealth:
    return SourceHealth(
        name=name, url=f"https://example.com/{name}", interval=M15, next_poll=next_poll
    )


def test_due_sources_takes_never_polled_and_overdue_most_overdue_first() -> None:
    sources = [
        health("later", NOW + timedelta(seconds=1)),
        health("recent", NOW - timedelta(minutes=1)),
        health("new", None),
        health("old", NOW - timedelta(hours=2)),
        health("exactly", NOW),
    ]
    assert [s.name for s in decide.due_sources(sources, NOW)] == ["new", "old", "recent", "exactly"]


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        (1, M15),
        (2, 2 * M15),
        (3, 4 * M15),
        (5, 16 * M15),
        (6, timedelta(hours=6)),
        (50, timedelta(hours=6)),
    ],
)
def test_failing_source_backs_off_exponentially_up_to_six_hours(
    failures: int, expected: timedelta
) -> None:
    assert decide.next_poll_after_failure(NOW, M15, failures) == NOW + expected


def test_backoff_is_never_shorter_than_the_interval() -> None:
    day = timedelta(days=1)
    assert decide.next_poll_after_failure(NOW, day, 1) == NOW + day


def test_success_polls_again_after_the_interval() -> None:
    assert decide.next_poll_after_success(NOW, M15) == NOW + M15


@pytest.mark.parametrize(
    ("attempts", "backoff"),
    [
        (1, timedelta(seconds=1)),
        (2, timedelta(seconds=2)),
        (4, timedelta(seconds=8)),
        (30, timedelta(minutes=5)),
    ],
)
def test_a_failed_delivery_is_retried_within_seconds_then_backs_off_with_jitter(
    attempts: int, backoff: timedelta
) -> None:
    waits = {
        decide.next_delivery_attempt(NOW, attempts, None, key=f"d{n}") - NOW for n in range(50)
    }
    assert all(backoff <= wait <= backoff * 1.5 for wait in waits)
    assert len(waits) > 40  # spread out, not one instant for every delivery
    again = decide.next_delivery_attempt(NOW, attempts, None, key="d7")
    assert again == decide.next_delivery_attempt(NOW, attempts, None, key="d7")


@pytest.mark.parametrize(
    ("attempts", "retry_after", "expected"),
    [
        (1, 120.0, timedelta(seconds=120)),
        (3, 5.0, timedelta(seconds=5)),
        (9, 1.0, timedelta(seconds=1)),
        (1, 0.0, timedelta(seconds=1)),  # at least the channel's one message per second
    ],
)
def test_a_rate_limited_delivery_waits_exactly_retry_after(
    attempts: int, retry_after: float, expected: timedelta
) -> None:
    assert decide.next_delivery_attempt(NOW, attempts, retry_after, key="d1") == NOW + expected


@pytest.mark.parametrize(
    ("polarity", "alert"), [("confirm", True), ("kill", True), ("watch", False)]
)
def test_only_confirm_and_kill_are_alerted(polarity: str, alert: bool) -> None:
    match = Match("t", f"{polarity}-1", polarity, 1.0, ("x",), "x")  # type: ignore[arg-type]
    assert decide.should_alert(match) is alert


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 12 ", 12.0),
        ("0", 0.0),
        ("-5", 0.0),
        ("nan", 0.0),
        ("1e12", 3600.0),
        ("1e400", 3600.0),
        ("inf", 3600.0),
        ("Fri, 15 May 2026 12:00:30 GMT", 30.0),
        ("Fri, 15 May 2026 11:00:00 GMT", 0.0),
        ("Fri, 15 May 9999 12:00:30 GMT", 3600.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_safely_and_capped_at_an_hour(
    header: str | None, seconds: float | None
) -> None:
    now = datetime(2026, 5, 15, 12, 0, tzinfo=UTC)
    assert decide.parse_retry_after(header, now) == seconds


@pytest.mark.parametrize("retry_after", [1e300, float("inf"), float("nan"), -1e300])
def test_an_absurd_retry_after_never_raises_nor_waits_past_the_cap(retry_after: float) -> None:
    now = datetime(2026, 5, 15, 12, 0, tzinfo=UTC)
    at = decide.next_delivery_attempt(now, 1, retry_after)
    assert now < at <= now + decide.MAX_RETRY_AFTER


def polled(**kw: object) -> SourceHealth:
    base = {"name": "wire", "url": "https://w/f", "interval": M15}
    return SourceHealth(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("health", "new_items", "bounds", "learned"),
    [
        (polled(), 3, decide.PollBounds(), M15),  # busy: stays at the configured interval
        (polled(), 0, decide.PollBounds(), M15 * 1.25),  # quiet: slows down
        (polled(learned_interval=M15 * 3.9), 0, decide.PollBounds(), M15 * 4),  # up to 4x
        (polled(learned_interval=M15 * 4), 5, decide.PollBounds(), M15 * 4 * 0.7),
        (
            polled(),
            2,
            decide.PollBounds(min_interval=timedelta(minutes=5)),
            M15 * 0.7,
        ),  # a lower bound lets a busy source be polled faster
        (
            polled(learned_interval=timedelta(minutes=6)),
            2,
            decide.PollBounds(min_interval=timedelta(minutes=5)),
            timedelta(minutes=5),
        ),
        (polled(), 0, decide.PollBounds(adaptive=False), None),
    ],
)
def test_polling_learns_from_how_often_a_source_publishes(
    health: SourceHealth,
    new_items: int,
    bounds: decide.PollBounds,
    learned: timedelta | None,
) -> None:
    next_poll, got = decide.schedule_success(health, NOW, new_items, None, bounds)
    assert got == learned
    interval = learned or health.interval
    assert NOW + interval <= next_poll <= NOW + interval * 1.05  # the jitter: at most +5 %


@pytest.mark.parametrize(
    ("hints", "at_least"),
    [
        (decide.PollHints(max_age=3600), timedelta(hours=1)),
        (decide.PollHints(ttl=1800), timedelta(minutes=30)),
        (decide.PollHints(max_age=10), M15),  # a short max-age never polls faster
        (decide.PollHints(ttl=10 * 86400), M15 * 4),  # a huge ttl is capped at the upper bound
    ],
)
def test_server_hints_are_a_floor_for_the_next_poll(
    hints: decide.PollHints, at_least: timedelta
) -> None:
    next_poll, _ = decide.schedule_success(polled(), NOW, 1, hints, decide.PollBounds())
    assert NOW + at_least <= next_poll <= NOW + at_least * 1.05


def test_the_jitter_spreads_sources_and_is_repeatable() -> None:
    delays = {decide.jitter(f"s{n}", NOW, M15) for n in range(50)}
    assert len(delays) > 40 and all(timedelta(0) <= d <= M15 * 0.05 for d in delays)
    assert decide.jitter("s1", NOW, M15) == decide.jitter("s1", NOW, M15)
    assert decide.jitter("s1", NOW, timedelta(days=10)) <= decide.MAX_JITTER_DELAY


def test_a_failing_source_backs_off_honours_retry_after_and_is_parked_after_a_day() -> None:
    recent = polled(last_success=NOW - timedelta(hours=1), consecutive_failures=1)
    assert decide.schedule_failure(recent, NOW, None) == (NOW + 2 * M15, None)
    assert decide.schedule_failure(recent, NOW, 3000) == (NOW + timedelta(seconds=3000), None)
    assert decide.schedule_failure(recent, NOW, 1e9) == (NOW + decide.MAX_RETRY_AFTER, None)

    dead = polled(last_success=NOW - timedelta(days=1), consecutive_failures=40)
    assert decide.schedule_failure(dead, NOW, None) == (NOW + decide.PARKED_INTERVAL, NOW)
    since = NOW - timedelta(hours=3)
    parked = polled(created_at=NOW - timedelta(days=2), consecutive_failures=50, parked_since=since)
    assert decide.schedule_failure(parked, NOW, None) == (NOW + decide.PARKED_INTERVAL, since)


def test_alert_caps_pass_the_cap_then_one_summary_and_count_the_rest() -> None:
    caps = decide.AlertCaps(2)
    assert caps.admit(["a"] * 5) == [True, True, True, False, False]
    assert caps.admit(["a"] * 5) == [True, True, True, False, False]  # a failed batch: no count
    caps.note([("a", 1, True), ("a", 2, True), ("a", 3, True), ("a", 4, False), ("a", 5, False)])
    assert caps.admit(["a", "b", "b"]) == [False, True, True]
    caps.note([("a", 6, False), ("b", 7, True)])
    assert caps.summaries() == {"a": (3, 3)}  # signal 3 alerted as the summary of 4, 5, 6


def test_one_alert_per_item_and_thesis_keeps_the_best_and_prefers_an_urgent_kill() -> None:
    from monitor.types import FoundMatch

    confirm = FoundMatch(1, Match("t", "c1", "confirm", 0.9, ("x",), "x"), alert=True)
    kill = FoundMatch(1, Match("t", "k1", "kill", 0.85, ("x",), "x"), alert=True)
    other = FoundMatch(2, Match("t", "k1", "kill", 0.5, ("x",), "x"), alert=True)
    plain = decide.one_alert_per_item_and_thesis([confirm, kill, other])
    assert [f.alert for f in plain] == [True, False, True]  # the best score of item 1
    severe = decide.one_alert_per_item_and_thesis([confirm, kill, other], kill_score=0.8)
    assert [f.alert for f in severe] == [False, True, True]  # the urgent kill wins
