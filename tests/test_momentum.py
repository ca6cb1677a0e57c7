"""Thesis momentum (pure): decay with age, score and verdict weights, the dead band, turns."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from monitor.analysis.momentum import (
    MomentumSettings,
    evidence_time,
    momentum,
    momentum_at,
    signal_weight,
    weekly_bars,
)
from monitor.types import Signal

NOW = datetime(2026, 5, 14, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def sig(
    n: int,
    polarity: str,
    days_ago: float,
    score: float = 1.0,
    published_days_ago: float | None = None,
) -> Signal:
    created = NOW - days_ago * DAY
    published = None if published_days_ago is None else NOW - published_days_ago * DAY
    return Signal(
        id=n,
        created_at=created,
        thesis_id="t",
        thesis_title="T",
        criterion_id="c",
        criterion_text="c",
        polarity=polarity,  # type: ignore[arg-type]
        score=score,
        matched_terms=(),
        snippet="",
        item_id=n,
        item_title=f"item {n}",
        item_link=None,
        source="wire",
        published=published,
    )


@pytest.mark.parametrize(
    ("polarity", "days_ago", "score", "verdict", "weight"),
    [
        ("confirm", 0, 1.0, None, 1.0),
        ("confirm", 14, 1.0, None, 0.5),  # one half-life
        ("confirm", 28, 1.0, None, 0.25),
        ("kill", 0, 1.0, None, -1.0),
        ("kill", 14, 0.5, None, -0.25),
        ("confirm", 0, 0.6, "useful", 0.9),  # useful counts 1.5 times
        ("kill", 0, 0.6, "noise", 0.0),  # noise counts nothing
        ("watch", 0, 1.0, None, 0.0),  # informational
        ("confirm", 0, 1.7, None, 1.0),  # scores are clipped to [0, 1]
        ("confirm", -1, 1.0, None, 0.0),  # evidence after `at` does not count yet
    ],
)
def test_signal_weight(
    polarity: str, days_ago: float, score: float, verdict: str | None, weight: float
) -> None:
    s = sig(1, polarity, days_ago, score)
    assert signal_weight(s, NOW, verdict) == pytest.approx(weight)


def test_a_half_life_setting_changes_the_decay() -> None:
    settings = MomentumSettings(half_life=timedelta(days=7))
    assert signal_weight(sig(1, "confirm", 14), NOW, None, settings) == pytest.approx(0.25)


def test_evidence_time_is_the_publication_when_earlier_than_the_signal() -> None:
    backfilled = sig(1, "confirm", 0, published_days_ago=30)
    assert evidence_time(backfilled) == NOW - 30 * DAY
    future_dated = sig(2, "confirm", 1, published_days_ago=-3)
    assert evidence_time(future_dated) == NOW - DAY
    assert signal_weight(backfilled, NOW, None) == pytest.approx(0.5 ** (30 / 14))


def test_confirm_and_kill_sides_sum_separately() -> None:
    signals = [sig(1, "confirm", 0), sig(2, "confirm", 14), sig(3, "kill", 0, 0.5)]
    confirm, kill = momentum_at(signals, {}, NOW)
    assert (confirm, kill) == pytest.approx((1.5, 0.5))
    trend = momentum(signals, {}, NOW)
    assert trend.value == pytest.approx(1.0) and trend.state == 1
    assert trend.label == "strengthening"


def test_verdicts_weigh_by_signal_id() -> None:
    signals = [sig(1, "confirm", 0), sig(2, "kill", 0)]
    assert momentum(signals, {}, NOW).value == pytest.approx(0.0)
    assert momentum(signals, {2: "noise"}, NOW).value == pytest.approx(1.0)
    assert momentum(signals, {1: "useful"}, NOW).value == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("signals", "state", "turn"),
    [
        ([], 0, None),
        ([sig(1, "confirm", 1, 0.2)], 0, None),  # inside the dead band: flat
        ([sig(1, "confirm", 30), sig(2, "confirm", 40)], 1, None),  # long on the confirm side
        # kill evidence a month ago, confirm evidence this week: turned up
        (
            [sig(1, "kill", 30), sig(2, "kill", 31), sig(3, "confirm", 3), sig(4, "confirm", 2)],
            1,
            ("up", date(2026, 5, 11)),
        ),
        # confirm a while ago, kills in the last days: turned down
        (
            [sig(1, "confirm", 20), sig(2, "kill", 5), sig(3, "kill", 4)],
            -1,
            ("down", date(2026, 5, 9)),
        ),
        # the crossing was longer ago than turn_days: not a turn any more
        (
            [sig(1, "kill", 60), sig(2, "kill", 61), sig(3, "confirm", 30), sig(4, "confirm", 29)],
            1,
            None,
        ),
    ],
)
def test_turns_are_crossings_of_the_dead_band_within_the_turn_days(
    signals: list[Signal], state: int, turn: tuple[str, date] | None
) -> None:
    trend = momentum(signals, {}, NOW)
    assert trend.state == state
    assert (None if trend.turn is None else (trend.turn.direction, trend.turn.on)) == turn


def test_a_dip_into_the_band_and_back_is_no_turn() -> None:
    signals = [
        sig(1, "confirm", 40),
        sig(2, "confirm", 41),
        sig(3, "kill", 6, 0.45),
        sig(4, "confirm", 1),
    ]
    trend = momentum(signals, {}, NOW)
    assert trend.state == 1 and trend.turn is None


def test_the_daily_history_ends_now_and_is_as_long_as_asked() -> None:
    trend = momentum([sig(1, "confirm", 3)], {}, NOW, days=10)
    assert len(trend.daily) == 11
    assert trend.daily[-1] == (NOW.date(), pytest.approx(trend.value))
    assert trend.daily[0][1] == 0.0  # before the evidence


def test_weekly_bars_count_by_evidence_week_monday_first() -> None:
    signals = [
        sig(1, "confirm", 0),  # Thursday of this week
        sig(2, "confirm", 3),  # Monday of this week
        sig(3, "kill", 4),  # Sunday of last week
        sig(4, "watch", 0),  # not counted
        sig(5, "confirm", 100),  # outside the weeks
        sig(6, "kill", 0, published_days_ago=8),  # backfilled: its publication's week
    ]
    bars = weekly_bars(signals, NOW, weeks=3)
    assert [b.start for b in bars] == [date(2026, 4, 27), date(2026, 5, 4), date(2026, 5, 11)]
    assert [(b.confirm, b.kill) for b in bars] == [(0, 0), (0, 2), (2, 0)]
