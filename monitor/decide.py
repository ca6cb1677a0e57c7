"""Pure decisions, handed ``now``: when to poll, when to retry, what to alert.

No database, HTTP or clock in here; the pipeline asks and then acts.

Decisions (documented here and in the README):

* A source is due when it has never been polled or its ``next_poll`` has passed.
* After a success the next poll is ``now + interval``.
* After a failure the source backs off exponentially: ``interval * 2**(failures-1)``,
  never less than the interval, never more than ``MAX_SOURCE_BACKOFF`` (6 hours), so a
  dead feed is retried a few times a day and recovers on its own.
* Polling adapts (``schedule_success``): the interval of a source that published nothing new
  since the last poll grows by ``SLOW_DOWN`` (x1.25), one that did shrinks by ``SPEED_UP``
  (x0.7), within ``PollBounds`` (default: from the configured interval, which is also the
  start, up to four times it; ``polling.min_interval`` allows polling busy sources faster).
  The server's hints are a floor: ``Cache-Control: max-age`` and RSS ``<ttl>`` (capped at
  the upper bound). Each next poll gets a jitter of up to +5 % of the interval (at most 5
  minutes), derived from the source's name and the time, so sources started together spread
  out and a test clock still sees the same schedule.
* A failing source's ``Retry-After`` (429/503) is honoured on top of the backoff. A source
  failing for ``PARK_AFTER`` (a day) is *parked*: polled once a day (``PARKED_INTERVAL``) and
  reported, until it answers again.
* A failed Slack delivery is retried on a later cycle: after Slack's ``Retry-After`` when it
  gave one, else after ``30 s * 2**(attempts-1)`` capped at ``MAX_DELIVERY_BACKOFF`` (1 hour).
  Deliveries are never dropped: an outage only delays them.
* ``Retry-After`` (seconds or an HTTP date, from Slack or a feed server) is read safely and
  capped at ``MAX_RETRY_AFTER`` (1 hour): a huge, negative, NaN or garbled value can neither
  hold every later alert back for ever nor raise.
* Only confirm and kill signals are alerted; ``watch`` signals are history only.
* At most ``limits.alerts_per_source`` alerts per source per cycle (:class:`AlertCaps`): a
  source that suddenly matches everything (a 10,000-item archive, a spam burst) cannot flood
  the channel. The signals past the cap are recorded; the first of them is alerted once more
  as a summary of the rest ("…and N more").
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from monitor.types import FoundMatch, Match, PollHints, SourceHealth

MAX_SOURCE_BACKOFF = timedelta(hours=6)
PARK_AFTER = timedelta(days=1)
PARKED_INTERVAL = timedelta(days=1)
SPEED_UP = 0.7
SLOW_DOWN = 1.25
MAX_JITTER = 0.05
MAX_JITTER_DELAY = timedelta(minutes=5)
MIN_POLL_INTERVAL = timedelta(seconds=30)
BASE_DELIVERY_BACKOFF = timedelta(seconds=30)
MAX_DELIVERY_BACKOFF = timedelta(hours=1)
MAX_RETRY_AFTER = timedelta(hours=1)
ALERTED_POLARITIES = frozenset({"confirm", "kill"})


def is_due(health: SourceHealth, now: datetime) -> bool:
    return health.next_poll is None or health.next_poll <= now


def due_sources(sources: Iterable[SourceHealth], now: datetime) -> list[SourceHealth]:
    """Sources whose poll time has come, the most overdue first."""
    due = [s for s in sources if is_due(s, now)]
    return sorted(due, key=lambda s: (s.next_poll is not None, s.next_poll or now, s.name))


def next_poll_after_success(now: datetime, interval: timedelta) -> datetime:
    return now + interval


def next_poll_after_failure(now: datetime, interval: timedelta, failures: int) -> datetime:
    """``failures`` counts this failure too (1 after the first one)."""
    exponent = max(0, min(failures - 1, 20))
    delay = min(interval * (1 << exponent), MAX_SOURCE_BACKOFF)
    return now + max(delay, interval)


@dataclass(frozen=True)
class PollBounds:
    """Where adaptive polling may take a source's interval; None: from its configured one
    (lower: the configured interval; upper: four times it, at most a day)."""

    adaptive: bool = True
    min_interval: timedelta | None = None
    max_interval: timedelta | None = None

    def of(self, interval: timedelta) -> tuple[timedelta, timedelta]:
        low = max(self.min_interval or interval, MIN_POLL_INTERVAL)
        high = self.max_interval or min(max(interval * 4, interval), timedelta(days=1))
        return low, max(high, low)


def jitter(name: str, now: datetime, interval: timedelta) -> timedelta:
    """A delay in [0, 5 % of ``interval``] (at most 5 minutes), the same for the same source
    and time."""
    digest = hashlib.sha256(f"{name}|{now.isoformat()}".encode()).digest()
    fraction = int.from_bytes(digest[:4], "big") / 2**32
    return min(interval * (MAX_JITTER * fraction), MAX_JITTER_DELAY)


def schedule_success(
    health: SourceHealth,
    now: datetime,
    new_items: int,
    hints: PollHints | None,
    bounds: PollBounds,
) -> tuple[datetime, timedelta | None]:
    """The next poll after a successful one that brought ``new_items`` new items, and the
    learned interval to keep (None when polling is not adaptive)."""
    learned: timedelta | None = None
    interval = health.interval
    low, high = bounds.of(health.interval)
    if bounds.adaptive:
        base = health.learned_interval or health.interval
        learned = min(max(base * (SPEED_UP if new_items else SLOW_DOWN), low), high)
        interval = learned
    floor = 0.0
    if hints is not None:
        floor = max(hints.max_age or 0.0, hints.ttl or 0.0)
    delay = max(interval, min(timedelta(seconds=floor), max(high, interval)))
    return now + delay + jitter(health.name, now, delay), learned


def schedule_failure(
    health: SourceHealth, now: datetime, retry_after: float | None
) -> tuple[datetime, datetime | None]:
    """The next poll after a failed one, and since when the source is parked (None: it is
    not): backoff, at least the server's ``Retry-After``; once a day when parked."""
    failing_since = health.last_success or health.created_at or now
    if now - failing_since >= PARK_AFTER:
        return now + PARKED_INTERVAL, health.parked_since or now
    failures = health.consecutive_failures + 1
    next_poll = next_poll_after_failure(now, health.interval, failures)
    if retry_after is not None:
        next_poll = max(next_poll, now + timedelta(seconds=capped_retry_after(retry_after)))
    return next_poll, None


def next_delivery_attempt(now: datetime, attempts: int, retry_after: float | None) -> datetime:
    """``attempts`` counts the attempt that just failed (1 after the first one)."""
    exponent = max(0, min(attempts - 1, 20))
    backoff = min(BASE_DELIVERY_BACKOFF * (1 << exponent), MAX_DELIVERY_BACKOFF)
    if retry_after is not None:
        backoff = max(backoff, timedelta(seconds=capped_retry_after(retry_after)))
    return now + backoff


def capped_retry_after(seconds: float) -> float:
    """``seconds`` within [0, MAX_RETRY_AFTER]; NaN counts as 0."""
    if math.isnan(seconds):
        return 0.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER.total_seconds())


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """A ``Retry-After`` header as capped seconds: delay-seconds or an HTTP date; None when
    absent or unreadable."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if math.isinf(seconds) and seconds > 0:
        return MAX_RETRY_AFTER.total_seconds()
    return capped_retry_after(seconds)


def should_alert(match: Match) -> bool:
    return match.polarity in ALERTED_POLARITIES


class AlertCaps:
    """Alerts per source in one cycle: the first ``cap`` pass; the next one passes too, as
    the summary (queued in the same transaction as its signal, so nothing capped goes
    unannounced whatever happens later); the rest are capped and counted into it."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._seen: Counter[str] = Counter()  # alert-worthy signals recorded, per source
        self._summary: dict[str, int] = {}  # source -> the signal alerted as the summary
        self._capped: Counter[str] = Counter()

    def admit(self, sources: Sequence[str]) -> list[bool]:
        """For each new alert-worthy signal (by its source, in order): alert it or not.
        Counts only what :meth:`note` confirms recorded, so a failed batch changes none."""
        seen = Counter(self._seen)
        out = []
        for source in sources:
            seen[source] += 1
            out.append(seen[source] <= self.cap + 1)
        return out

    def admitter(self, source_of: Mapping[int, str]) -> Callable[[list[FoundMatch]], list[bool]]:
        """:meth:`admit` over found matches, given each item's source."""
        return lambda wanting: self.admit([source_of[f.item_id] for f in wanting])

    def note(self, recorded: Iterable[tuple[str, int, bool]]) -> None:
        """Remember (source, signal id, alerted?) of the recorded alert-worthy signals, in
        the order :meth:`admit` saw them."""
        for source, signal_id, alerted in recorded:
            self._seen[source] += 1
            if alerted and self._seen[source] == self.cap + 1:
                self._summary[source] = signal_id
            elif not alerted:
                self._capped[source] += 1

    def summaries(self) -> dict[str, tuple[int, int]]:
        """Source -> (the signal alerted as the summary, how many more were capped)."""
        return {
            source: (signal_id, self._capped[source])
            for source, signal_id in self._summary.items()
            if self._capped[source]
        }
