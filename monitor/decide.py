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
* A failed delivery is retried soon (:func:`next_delivery_attempt`): after exactly Slack's
  ``Retry-After`` on a 429 (capped at ``MAX_RETRY_AFTER``, at least ``CHANNEL_INTERVAL``),
  else after ``1 s * 2**(attempts-1)`` capped at ``MAX_DELIVERY_BACKOFF`` (5 minutes), plus
  a jitter of up to +50 % derived from the delivery, so the first retry comes within
  seconds and replicas retrying the same outage spread out. Deliveries are never dropped:
  an outage only delays them. A channel gets at most one message per ``CHANNEL_INTERVAL``
  (1 s, Slack's documented rate for posting to one channel).
* ``Retry-After`` (seconds or an HTTP date, from Slack or a feed server) is read safely and
  capped at ``MAX_RETRY_AFTER`` (1 hour): a huge, negative, NaN or garbled value can neither
  hold every later alert back for ever nor raise.
* Only confirm and kill signals are alerted; ``watch`` signals are history only.
* One alert per item and thesis (:func:`one_alert_per_item_and_thesis`): an item that is
  evidence for a confirm and a kill criterion of one thesis gets one "mixed evidence"
  alert, never two that contradict each other.
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
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from monitor.types import FoundMatch, Match, Mute, PollHints, SourceHealth

MAX_SOURCE_BACKOFF = timedelta(hours=6)
PARK_AFTER = timedelta(days=1)
PARKED_INTERVAL = timedelta(days=1)
SPEED_UP = 0.7
SLOW_DOWN = 1.25
MAX_JITTER = 0.05
MAX_JITTER_DELAY = timedelta(minutes=5)
MIN_POLL_INTERVAL = timedelta(seconds=30)
BASE_DELIVERY_BACKOFF = timedelta(seconds=1)
MAX_DELIVERY_BACKOFF = timedelta(minutes=5)
DELIVERY_JITTER = 0.5
CHANNEL_INTERVAL = timedelta(seconds=1)
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


def next_delivery_attempt(
    now: datetime, attempts: int, retry_after: float | None, key: str = ""
) -> datetime:
    """When to try a failed delivery again. ``attempts`` counts the attempt that just failed
    (1 after the first one); ``retry_after`` is the destination's ``Retry-After`` (429),
    waited exactly (capped); ``key`` (the delivery) seeds the jitter of the backoff."""
    if retry_after is not None:
        wait = timedelta(seconds=capped_retry_after(retry_after))
        return now + max(wait, CHANNEL_INTERVAL)
    exponent = max(0, min(attempts - 1, 20))
    backoff = min(BASE_DELIVERY_BACKOFF * (1 << exponent), MAX_DELIVERY_BACKOFF)
    digest = hashlib.sha256(f"{key}|{attempts}".encode()).digest()
    fraction = int.from_bytes(digest[:4], "big") / 2**32
    return now + backoff * (1 + DELIVERY_JITTER * fraction)


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


def one_alert_per_item_and_thesis(
    found: Sequence[FoundMatch], kill_score: float | None = None
) -> list[FoundMatch]:
    """``found`` with at most one alert per (item, thesis): when an item is evidence for
    several criteria of one thesis, the best-scoring one is alerted and the others are
    recorded without an alert. The alert then says what else the item supports: "mixed
    evidence" when that includes the other polarity (read from the store when the alert is
    sent, so it holds across batches too). A kill at or above ``kill_score`` (severity) is
    preferred whatever the scores, so an urgent kill is never hidden behind a confirm.
    Order is kept."""

    def rank(f: FoundMatch) -> tuple[bool, float]:
        urgent = kill_score is not None and f.match.polarity == "kill"
        return (urgent and f.match.score >= (kill_score or 0.0), f.match.score)

    best: dict[tuple[int, str], int] = {}
    for n, f in enumerate(found):
        if not f.alert:
            continue
        key = (f.item_id, f.match.thesis_id)
        if key not in best or rank(f) > rank(found[best[key]]):
            best[key] = n
    keep = set(best.values())
    return [f if not f.alert or n in keep else replace(f, alert=False) for n, f in enumerate(found)]


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


_MUTE_PRECEDENCE = {"criterion": 0, "thesis": 1, "source": 2}


def mute_for(thesis_id: str, criterion_id: str, source: str, mutes: Sequence[Mute]) -> Mute | None:
    """The mute that holds back a signal of ``thesis_id``/``criterion_id`` from ``source``,
    or None. ``mutes`` are the ones in force (``store.active_mutes(now)``); a lifted one is
    ignored. A criterion mute's value is ``"thesis_id/criterion_id"``.

    When several apply, the most specific one is named (criterion, then thesis, then
    source), and among those of one kind the one that lasts longest (no end first), so the
    reason shown is the one that will still hold longest."""
    targets = {
        "criterion": f"{thesis_id}/{criterion_id}",
        "thesis": thesis_id,
        "source": source,
    }
    applying = [m for m in mutes if m.lifted_at is None and targets.get(m.kind) == m.value]
    if not applying:
        return None
    return min(
        applying,
        key=lambda m: (
            _MUTE_PRECEDENCE[m.kind],
            m.until is not None,
            -(m.until.timestamp() if m.until is not None else 0.0),
            m.id,
        ),
    )
