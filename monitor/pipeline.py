"""One poll cycle, top to bottom.

The pipeline does I/O in a fixed order and asks :mod:`monitor.decide` for every decision.
Signals are written before any alert is attempted, so an alerting problem never loses one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from monitor import decide
from monitor.errors import FeedError, NotifyError
from monitor.feeds.fetch import Fetcher
from monitor.feeds.parse import parse_feed
from monitor.matching.engine import Matcher
from monitor.matching.stories import (
    STORY_WINDOW,
    StoryIndex,
    band_keys,
    link_stories,
)
from monitor.notify import Notifier
from monitor.semantic.embedder import Embedder
from monitor.types import (
    Alert,
    DeliveryTask,
    FetchResult,
    Item,
    Match,
    SourceHealth,
    StoredItem,
)
from monitor.vectors import item_vectors

log = logging.getLogger(__name__)

MATCH_BATCH = 256  # items matched (and embedded) per batch
CATCH_UP_CHUNK = 5000  # items read per query when the story index catches up

FeedParser = Callable[..., list[Item]]


@dataclass
class SourceOutcome:
    """What happened to one due source in a cycle."""

    name: str
    ok: bool
    http_status: int | None = None
    items: list[Item] = field(default_factory=list)
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class CycleReport:
    polled: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    new_items: int = 0
    new_signals: list[int] = field(default_factory=list)
    alerts_sent: int = 0
    alerts_failed: int = 0

    def summary(self) -> str:
        return (
            f"polled {len(self.polled)} source(s), {len(self.failed)} failed; "
            f"{self.new_items} new item(s); {len(self.new_signals)} new signal(s); "
            f"{self.alerts_sent} alert(s) sent, {self.alerts_failed} delivery failure(s)"
        )


class Pipeline:
    """Runs poll cycles over a store, a fetcher and a notifier."""

    def __init__(
        self,
        store: PipelineStore,
        fetcher: Fetcher,
        notifier: Notifier,
        *,
        parse: FeedParser = parse_feed,
        max_workers: int = 4,
        embedder: Embedder | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.fetcher = fetcher
        self.notifier = notifier
        self.parse = parse
        self.max_workers = max_workers
        # After a failed delivery the channel rests until the retry time, so alerts keep
        # their order and a Slack outage is not hammered by the rest of the queue.
        self.deliveries_paused_until: datetime | None = None
        self.stories = StoryIndex()  # recent items' story keys, kept across cycles

    def run_cycle(self, matcher: Matcher, now: datetime) -> CycleReport:
        """Run one cycle::

        due      = decide.due_sources(store.source_health(), now)
        outcomes = fetch and parse every due source (in parallel; a FeedError
                   becomes a failed outcome, the cycle goes on)
        for each outcome:
            failed -> store.record_poll(failure, backoff from decide)
            ok     -> new += store.add_items(items)             # stored unmatched
                      store.record_poll(success, next poll from decide)
        assign_stories(new): link repeats of recent stories (stories.StoryIndex)
        match_pending(now): for every unmatched item (new, or left by a failed cycle)
                      vectors = embed in one batch, stored (semantic on)
                      matches = matcher.match_batch(items, vectors)
                      store.record_matches(...)  # one transaction: signals (history
                                                 # first), alert queue, items matched
        deliver_due_alerts(now)                              # retries included
        """
        report = CycleReport()
        due = decide.due_sources(self.store.source_health(), now)
        new_items: list[StoredItem] = []
        for health, outcome in zip(due, self.fetch_all(due), strict=True):
            report.polled.append(health.name)
            if outcome.ok:
                new_items += self.store_outcome(health, outcome, now)
            else:
                report.failed[health.name] = outcome.error or "unknown error"
                self.record_failure(health, outcome, now)
        report.new_items = len(new_items)
        self.assign_stories(new_items, now)
        report.new_signals = self.match_pending(matcher, now)
        self.deliver_due_alerts(now, report)
        quiet = not report.polled and not report.alerts_sent and not report.alerts_failed
        log.log(logging.DEBUG if quiet else logging.INFO, "cycle done: %s", report.summary())
        return report

    def fetch_all(self, due: Sequence[SourceHealth]) -> list[SourceOutcome]:
        if not due:
            return []
        workers = max(1, min(self.max_workers, len(due)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
            return list(pool.map(self.fetch_source, due))

    def fetch_source(self, health: SourceHealth) -> SourceOutcome:
        """Fetch and parse one source; never raises for a problem of that source."""
        try:
            result = self.fetcher.fetch(
                health.url, etag=health.etag, last_modified=health.last_modified
            )
            items = self.parse_result(health, result)
        except FeedError as e:
            log.warning("source %r failed: %s", health.name, e)
            return SourceOutcome(health.name, ok=False, http_status=_status(e), error=str(e))
        except Exception as e:  # a bug or a library surprise: logged loudly, cycle goes on
            log.exception("source %r: unexpected error while fetching/parsing", health.name)
            return SourceOutcome(health.name, ok=False, error=f"internal error: {e!r}")
        return SourceOutcome(
            health.name,
            ok=True,
            http_status=result.status,
            items=items,
            etag=result.etag,
            last_modified=result.last_modified,
        )

    def parse_result(self, health: SourceHealth, result: FetchResult) -> list[Item]:
        if result.status == 304 or result.content is None:
            return []
        return self.parse(
            result.content, source=health.name, url=result.url, content_type=result.content_type
        )

    def store_outcome(
        self,
        health: SourceHealth,
        outcome: SourceOutcome,
        now: datetime,
    ) -> list[StoredItem]:
        """Store a source's items (unmatched) and its successful poll; returns the new items."""
        new_items = self.store.add_items(outcome.items, now)
        self.store.record_poll(
            health.name,
            now=now,
            ok=True,
            http_status=outcome.http_status,
            error=None,
            next_poll=decide.next_poll_after_success(now, health.interval),
            etag=outcome.etag,
            last_modified=outcome.last_modified,
        )
        return new_items

    def assign_stories(self, new_items: Sequence[StoredItem], now: datetime) -> None:
        """Link each of the cycle's new items that repeats a recent story (or an earlier item
        of this cycle) to the story's first item.

        The story index lives across cycles (``self.stories``); it first catches up with items
        it has not seen (the window at start-up, items another replica stored), read in
        chunks, then drops items older than the window."""
        if not new_items:
            return
        since = now - STORY_WINDOW
        new_ids = {s.id for s in new_items}
        while chunk := self.store.items_after(self.stories.high_water, since, CATCH_UP_CHUNK):
            batch = [(s.id, band_keys(s.item)) for s in chunk if s.id not in new_ids]
            self.stories.merge(batch)
            self.stories.high_water = max(self.stories.high_water, chunk[-1].id)
            if len(chunk) < CATCH_UP_CHUNK:
                break
        links = link_stories(
            self.stories,
            new_items,
            lambda ids: {s.id: s for s in self.store.get_items(ids)},
            keep_from_id=self.store.first_item_id_since(since),
        )
        if links:
            self.store.assign_stories([(link.item_id, link.story_id) for link in links])

    def match_pending(self, matcher: Matcher, now: datetime) -> list[int]:
        """Match every unmatched item in batches; returns the new signal ids.

        Each batch is recorded in one transaction with its alert queue and the items' matched
        mark, so a crash or a database error at any point leaves the items unmatched and the
        next cycle matches them again."""
        created: list[int] = []
        while pending := self.store.unmatched_items(limit=MATCH_BATCH):
            vectors = item_vectors(self.store, self.embedder, pending, now)
            matches = matcher.match_batch([s.item for s in pending], vectors)
            found = [
                (stored.id, match, decide.should_alert(match))
                for stored, item_matches in zip(pending, matches, strict=True)
                for match in item_matches
            ]
            created += self.store.record_matches(
                [s.id for s in pending], found, self.notifier.channel, now
            )
        return created

    def record_failure(self, health: SourceHealth, outcome: SourceOutcome, now: datetime) -> None:
        failures = health.consecutive_failures + 1
        self.store.record_poll(
            health.name,
            now=now,
            ok=False,
            http_status=outcome.http_status,
            error=outcome.error,
            next_poll=decide.next_poll_after_failure(now, health.interval, failures),
        )

    def deliver_due_alerts(self, now: datetime, report: CycleReport | None = None) -> None:
        """Send every due delivery, oldest first. The first failure ends this round (Slack is
        down or rate-limiting us) and pauses the channel until that delivery's retry time;
        the rest wait. Nothing is dropped."""
        report = report if report is not None else CycleReport()
        if self.deliveries_paused_until is not None and now < self.deliveries_paused_until:
            return
        self.deliveries_paused_until = None
        for task in self.store.due_deliveries(self.notifier.channel, now):
            try:
                receipt = self.notifier.send(Alert.from_signal(task.signal))
            except Exception as e:  # NotifyError, or a library surprise: never lose the alert
                if not isinstance(e, NotifyError):
                    log.exception("alert for signal %d: unexpected error", task.signal.id)
                retry_after = e.retry_after if isinstance(e, NotifyError) else None
                retry_at = decide.next_delivery_attempt(now, task.attempts + 1, retry_after)
                self.store.mark_failed(task.id, now, str(e), retry_at)
                self.deliveries_paused_until = retry_at
                report.alerts_failed += 1
                log.warning(
                    "alert for signal %d not delivered (%s); retrying at %s",
                    task.signal.id,
                    e,
                    retry_at.isoformat(),
                )
                break
            self.store.mark_sent(task.id, now, receipt.ts)
            report.alerts_sent += 1


def _status(error: FeedError) -> int | None:
    return getattr(error, "status", None)


class PipelineStore(Protocol):
    """The part of the store the pipeline uses (``monitor.store.SqlStore`` implements it).
    Every method may raise StorageError."""

    def source_health(self, active_only: bool = True) -> list[SourceHealth]: ...
    def record_poll(
        self,
        name: str,
        *,
        now: datetime,
        ok: bool,
        http_status: int | None,
        error: str | None,
        next_poll: datetime,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> None: ...
    def add_items(self, items: Sequence[Item], now: datetime) -> list[StoredItem]: ...
    def items_after(self, after_id: int, since: datetime, limit: int) -> list[StoredItem]: ...
    def first_item_id_since(self, since: datetime) -> int: ...
    def get_items(self, ids: Sequence[int]) -> list[StoredItem]: ...
    def assign_stories(self, pairs: Sequence[tuple[int, int]]) -> None: ...
    def add_item_vectors(
        self, model: str, vectors: Sequence[tuple[int, bytes, int]], now: datetime
    ) -> None: ...
    def get_item_vectors(self, model: str, ids: Sequence[int]) -> dict[int, bytes]: ...
    def unmatched_items(self, limit: int = 500) -> list[StoredItem]: ...
    def record_matches(
        self,
        item_ids: Sequence[int],
        found: Sequence[tuple[int, Match, bool]],
        channel: str,
        now: datetime,
    ) -> list[int]: ...
    def due_deliveries(
        self, channel: str, now: datetime, limit: int = 100
    ) -> list[DeliveryTask]: ...
    def mark_sent(self, delivery_id: int, now: datetime, ts: str | None) -> None: ...
    def mark_failed(
        self, delivery_id: int, now: datetime, error: str, next_attempt: datetime
    ) -> None: ...
