"""Thesis momentum: is the evidence for a thesis strengthening or dying? (pure: signals,
verdicts and ``now`` in; numbers out; no database, no clock).

Each confirm or kill signal is a vote whose weight decays with the age of its evidence::

    weight(s, t) = sign(s) * clip(score(s), 0, 1) * verdict(s) * 0.5 ** (age(s, t) / half_life)

    sign:     confirm +1, kill -1, watch 0 (informational: never moves momentum)
    verdict:  the analyst's latest verdict: useful 1.5, none 1, noise 0
    age:      t - evidence_time(s), in days; evidence_time is the item's publication time
              when it is earlier than the signal (a backfill finds old items), else the
              signal's creation time; evidence after t does not count at t

    momentum(t) = sum of weight(s, t) over the signals; confirm(t) and kill(t) are the two
    sides' sums (both >= 0), so momentum = confirm - kill.

With the default half-life of 14 days a fresh full-score confirm counts 1, the same signal
two weeks old 0.5, four weeks old 0.25. A thesis **turned** when its momentum crossed from one
side of the dead band ``[-dead_band, +dead_band]`` to the other within the last
``turn_days`` days: momentum sampled once a day, the latest day outside the band is on the
other side of today's, and today's is outside the band too. A thesis drifting inside the band
is "flat", never turned.

The caller passes the signals of a window (the dashboard: the last 12 weeks plus
``turn_days``): older evidence weighs under 2**-6 of a fresh one and is left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from monitor.types import Signal

__all__ = [
    "DEFAULT_SETTINGS",
    "Momentum",
    "MomentumSettings",
    "Turn",
    "WeekBar",
    "evidence_time",
    "momentum",
    "momentum_at",
    "signal_weight",
    "weekly_bars",
]

DAY = timedelta(days=1)
SIGN = {"confirm": 1.0, "kill": -1.0}
VERDICT_FACTOR = {"useful": 1.5, "noise": 0.0}


@dataclass(frozen=True)
class MomentumSettings:
    half_life: timedelta = timedelta(days=14)
    dead_band: float = 0.3  # |momentum| at most this is "flat"
    turn_days: int = 14  # a crossing this recent marks the thesis as turned
    useful_factor: float = VERDICT_FACTOR["useful"]
    noise_factor: float = VERDICT_FACTOR["noise"]


DEFAULT_SETTINGS = MomentumSettings()


@dataclass(frozen=True)
class Turn:
    """The momentum crossed the dead band: ``direction`` "up" (kill → confirm) or "down";
    ``on``: the first day on the new side."""

    direction: str
    on: date


@dataclass(frozen=True)
class Momentum:
    """A thesis's momentum at ``at`` (see the module docstring), with its daily history."""

    at: datetime
    value: float
    confirm: float
    kill: float
    state: int  # +1 confirm side, -1 kill side, 0 inside the dead band
    turn: Turn | None
    daily: tuple[tuple[date, float], ...]  # (day, momentum at the end of that day), oldest first

    @property
    def label(self) -> str:
        return {1: "strengthening", -1: "weakening", 0: "flat"}[self.state]


@dataclass(frozen=True)
class WeekBar:
    """Confirm and kill signals whose evidence falls in the week starting ``start`` (Monday)."""

    start: date
    confirm: int
    kill: int


def evidence_time(s: Signal) -> datetime:
    """When the evidence happened: the item's publication, if before the signal; else the
    signal's creation (a feed's dates may be missing or in the future)."""
    if s.published is not None and s.published < s.created_at:
        return s.published
    return s.created_at


def signal_weight(
    s: Signal,
    at: datetime,
    verdict: str | None,
    settings: MomentumSettings = DEFAULT_SETTINGS,
) -> float:
    """The signed, decayed weight of one signal at ``at`` (0 before its evidence)."""
    sign = SIGN.get(s.polarity, 0.0)
    when = evidence_time(s)
    if sign == 0.0 or when > at:
        return 0.0
    factor = {"useful": settings.useful_factor, "noise": settings.noise_factor}.get(
        verdict or "", 1.0
    )
    age = (at - when) / settings.half_life
    return sign * min(max(s.score, 0.0), 1.0) * factor * math.pow(0.5, age)


def momentum_at(
    signals: Sequence[Signal],
    verdicts: Mapping[int, str],
    at: datetime,
    settings: MomentumSettings = DEFAULT_SETTINGS,
) -> tuple[float, float]:
    """(confirm, kill) sums at ``at``: both non-negative; momentum is their difference."""
    confirm = kill = 0.0
    for s in signals:
        w = signal_weight(s, at, verdicts.get(s.id), settings)
        if w > 0:
            confirm += w
        elif w < 0:
            kill -= w
    return confirm, kill


def _state(value: float, band: float) -> int:
    return 1 if value > band else -1 if value < -band else 0


def momentum(
    signals: Sequence[Signal],
    verdicts: Mapping[int, str],
    now: datetime,
    *,
    days: int = 84,
    settings: MomentumSettings = DEFAULT_SETTINGS,
) -> Momentum:
    """The momentum at ``now`` with a daily history of ``days`` days (the last sample is
    ``now`` itself; each earlier one the same time of day, a day apart) and the turn, if
    the momentum crossed the dead band within ``settings.turn_days``."""
    samples: list[tuple[date, float]] = []
    for back in range(max(days, settings.turn_days), -1, -1):
        at = now - back * DAY
        c, k = momentum_at(signals, verdicts, at, settings)
        samples.append((at.date(), c - k))
    confirm, kill = momentum_at(signals, verdicts, now, settings)
    value = confirm - kill
    state = _state(value, settings.dead_band)
    turn: Turn | None = None
    if state != 0:
        recent = samples[-(settings.turn_days + 1) :]
        # walk back from today: the latest sample outside the band on the other side
        for n in range(len(recent) - 1, -1, -1):
            other = _state(recent[n][1], settings.dead_band)
            if other == -state:
                first_new = next(
                    d for d, v in recent[n + 1 :] if _state(v, settings.dead_band) == state
                )
                turn = Turn("up" if state > 0 else "down", first_new)
                break
    return Momentum(
        at=now,
        value=value,
        confirm=confirm,
        kill=kill,
        state=state,
        turn=turn,
        daily=tuple(samples[-(days + 1) :]),
    )


def weekly_bars(signals: Sequence[Signal], now: datetime, weeks: int = 12) -> list[WeekBar]:
    """Confirm and kill counts per week (Monday to Sunday, by evidence time), the ``weeks``
    weeks up to the one of ``now``, oldest first; watch signals are not counted."""
    this_monday = now.date() - timedelta(days=now.weekday())
    starts = [this_monday - timedelta(weeks=w) for w in range(weeks - 1, -1, -1)]
    counts = {start: [0, 0] for start in starts}
    for s in signals:
        if s.polarity not in SIGN:
            continue
        day = evidence_time(s).date()
        start = day - timedelta(days=day.weekday())
        if start in counts:
            counts[start][0 if s.polarity == "confirm" else 1] += 1
    return [WeekBar(start, c, k) for start, (c, k) in counts.items()]
