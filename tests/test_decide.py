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
    ("attempts", "retry_after", "expected"),
    [
        (1, None, timedelta(seconds=30)),
        (2, None, timedelta(seconds=60)),
        (4, None, timedelta(seconds=240)),
        (30, None, timedelta(hours=1)),
        (1, 120.0, timedelta(seconds=120)),
        (3, 5.0, timedelta(seconds=120)),
    ],
)
def test_delivery_retry_honours_retry_after_and_backs_off(
    attempts: int, retry_after: float | None, expected: timedelta
) -> None:
    assert decide.next_delivery_attempt(NOW, attempts, retry_after) == NOW + expected


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
