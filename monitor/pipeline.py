"""One poll cycle, top to bottom.

The pipeline does I/O in a fixed order and asks :mod:`monitor.decide` for every decision.
Signals are written before any alert is attempted, so an alerting problem never loses one.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from monitor import decide
from monitor.errors import FeedError
from monitor.feeds.fetch import Fetcher, FetchRequest
from monitor.feeds.parse import parse_feed
from monitor.feeds.sources import parse_source, request_headers
from monitor.matching.engine import Matcher
from monitor.matching.judge import Judge
from monitor.matching.stories import (
    STORY_WINDOW,
    StoryIndex,
    U32Array,
    features_of,
    link_stories,
)
from monitor.notify import Notifier, routes
from monitor.notify.outbox import DeliveryStore, Outbox
from monitor.notify.routes import DEFAULT, DEFAULT_ROUTING, Routing, SignalFacts
from monitor.redact import mask_urls_in
from monitor.rulebook import thesis_digest
from monitor.semantic.embedder import Embedder
from monitor.settings import Backfill, Limits
from monitor.types import (
    FetchResult,
    FoundMatch,
    Item,
    Match,
    Mute,
    PollHints,
    PollOutcome,
    QueuedDelivery,
    RecordedSignal,
    SourceConfig,
    SourceHealth,
    StoredItem,
    ThesisProgress,
)
from monitor.vectors import item_vectors

log = logging.getLogger(__name__)

MATCH_BATCH = 256  # items matched (and embedded) per batch
STORE_BATCH = 100  # polled sources stored per transaction
STORE_ITEMS = 2048  # or fewer, once their items reach this many
CLAIM_CHUNK = 500  # due sources claimed at a time
MATCH_SECONDS = 30.0  # matching per cycle at most (a backfill of a week): alerts go out between
DEFAULT_LEASE = timedelta(minutes=2)  # a claimed source or delivery is ours this long
CATCH_UP_CHUNK = 5000  # items read per query when the story index catches up

FeedParser = Callable[..., list[Item]]


@dataclass(frozen=True)
class MatchPlan:
    """What to match with in this cycle: the matcher of the matchable theses, each one's
    rule digest, the theses held back (their items wait) and, if all matching is held
    (no rule file at all), why."""

    matcher: Matcher
    digests: Mapping[str, str]
    held: Mapping[str, str] = field(default_factory=dict)
    hold_all: str | None = None

    @classmethod
    def of(cls, matcher: Matcher) -> MatchPlan:
        """Every thesis of ``matcher``, none held."""
        return cls(matcher, {t.id: thesis_digest(t) for t in matcher.theses})


@dataclass
class CycleReport:
    polled: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    new_items: int = 0
    new_signals: list[int] = field(default_factory=list)
    alerts_sent: int = 0
    alerts_failed: int = 0
    judge_rejected: int | None = None  # matches the optional judge rejected (None: no judge)
    polarities: Counter[str] = field(default_factory=Counter)  # new signals by polarity

    def summary(self) -> str:
        judged = (
            f"; {self.judge_rejected} rejected by the judge"
            if self.judge_rejected is not None
            else ""
        )
        return (
            f"polled {len(self.polled)} source(s), {len(self.failed)} failed; "
            f"{self.new_items} new item(s); {len(self.new_signals)} new signal(s){judged}; "
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
        embedder: Embedder | None = None,
        limits: Limits | None = None,
        backfill: Backfill | None = None,
        owner: str | None = None,
        polling: decide.PollBounds | None = None,
        source_lease: timedelta = DEFAULT_LEASE,
        delivery_lease: timedelta = DEFAULT_LEASE,
        clock: Callable[[], datetime] | None = None,
        judge: Judge | None = None,
        routing: Routing = DEFAULT_ROUTING,
        destinations: Mapping[str, Notifier] | None = None,
        source_tags: Mapping[str, Sequence[str]] | None = None,
        sources: Sequence[SourceConfig] = (),
    ) -> None:
        self.limits = limits or Limits()
        self.backfill = backfill or Backfill()
        self.owner = owner or replica_name()
        self.polling = polling or decide.PollBounds()
        self.source_lease = source_lease
        self.delivery_lease = delivery_lease
        self.clock = clock or (lambda: datetime.now(UTC))  # when claims are made
        self.store = store
        self.embedder = embedder
        self.fetcher = fetcher
        self.notifier = notifier
        self.parse = parse
        self.judge = judge  # optional: confirms or rejects confirm/kill matches
        # routes: which destinations (named notifiers; "default" is ``notifier``) get what
        self.routing = routing
        self.source_tags = dict(source_tags or {})
        # the configured sources by name: their kind (how an answer is read) and headers;
        # a source not among them is a plain feed
        self.source_configs = {s.name: s for s in sources}
        named = {**(destinations or {}), DEFAULT: notifier}
        self.channel_of = {name: n.channel for name, n in named.items()}
        # one outbox per channel: paced, retried, effectively-once delivery of its queue
        self.outboxes: dict[str, Outbox] = {}
        for n in named.values():
            self.outboxes.setdefault(
                n.channel,
                Outbox(store, n, owner=self.owner, lease=delivery_lease, clock=self.clock),
            )
        self.outbox = self.outboxes[notifier.channel]
        # False when a DeliveryWorker thread delivers (the daemon): cycles only queue
        self.deliver_in_cycle = True
        self.on_queued: Callable[[], None] | None = None  # new alerts queued: wake delivery
        self.stories = StoryIndex()  # recent items' story keys, kept across cycles

    def run_cycle(
        self, plan: MatchPlan | Matcher, now: datetime, stop: threading.Event | None = None
    ) -> CycleReport:
        """Run one cycle::

        while claimed := store.claim_due_sources(CLAIM_CHUNK)  # a lease each, now
            for each claimed source, as its fetch completes (concurrently, each within
                       its deadline; a FeedError becomes a failed outcome, the cycle goes on):
                outcome = parse (ok) or the error (failed)
                every STORE_BATCH outcomes: store_polls(outcomes)
                    store.add_items(items, link=link_stories)  # stored unmatched, repeats
                                                               # of recent stories linked
                    store.record_polls(outcomes)  # next polls from decide; claims released
        match_pending(now): for each thesis, the items it has not seen, in batches
                      vectors = embed in one batch, stored (semantic on)
                      matches = matcher.match_batch(items, vectors)
                      store.record_matches(...)  # one transaction: signals (history
                                                 # first), capped alert queue, progress
        deliver_due_alerts(now)                  # claimed a few at a time; retries included

        Sources are claimed a chunk at a time, so several replicas share the due sources
        and a lease runs from the moment of its claim. ``stop`` (SIGTERM) ends the cycle at
        the next step: fetches in flight are cancelled, and what was not committed is done
        again by the next cycle (a source whose poll was not recorded is released, still
        due; stored items not yet matched are matched next time; unsent alerts stay queued).
        """
        if isinstance(plan, Matcher):
            plan = MatchPlan.of(plan)
        report = CycleReport(judge_rejected=0 if self.judge is not None else None)
        while not _stopped(stop) and (
            claimed := self.store.claim_due_sources(
                self.owner, self.clock(), self.source_lease, CLAIM_CHUNK
            )
        ):
            if not self.poll_claimed(claimed, now, report, stop):
                break  # nothing came back (stopped, or the fetcher failed): no busy loop
        if not _stopped(stop):
            report.new_signals = self.match_pending(plan, now, stop, report)
            if report.new_signals and self.on_queued is not None:
                self.on_queued()
        if not _stopped(stop) and self.deliver_in_cycle:
            self.deliver_due_alerts(now, report, stop)
        quiet = not report.polled and not report.alerts_sent and not report.alerts_failed
        log.log(logging.DEBUG if quiet else logging.INFO, "cycle done: %s", report.summary())
        return report

    def poll_claimed(
        self,
        claimed: Sequence[SourceHealth],
        now: datetime,
        report: CycleReport,
        stop: threading.Event | None,
    ) -> int:
        """Fetch, parse and store the claimed sources; returns how many polls were recorded.
        A claim not recorded (stopped, or a failure storing) is released, so the source is
        due again at once."""
        due = {h.name: h for h in decide.due_sources(claimed, now)}
        requests = [self.fetch_request(h) for h in due.values()]
        batch: list[PollOutcome] = []
        recorded: set[str] = set()
        try:
            for request, result in self.fetcher.fetch_many(requests, stop=stop):
                health = due[request.key]
                outcome = self.poll_outcome(health, result, now)
                report.polled.append(health.name)
                if not outcome.ok:
                    report.failed[health.name] = outcome.error or "unknown error"
                batch.append(outcome)
                if len(batch) >= STORE_BATCH or sum(len(o.items) for o in batch) >= STORE_ITEMS:
                    report.new_items += self.store_polls(batch, due, now)
                    recorded.update(o.name for o in batch)
                    batch = []
            if batch:
                report.new_items += self.store_polls(batch, due, now)
                recorded.update(o.name for o in batch)
        finally:
            if len(recorded) < len(due):
                self.store.release_sources(sorted(set(due) - recorded), self.owner)
        return len(recorded)

    def fetch_request(self, health: SourceHealth) -> FetchRequest:
        """The conditional GET of one source, with the headers its kind needs (EDGAR's
        User-Agent)."""
        config = self.source_configs.get(health.name)
        headers = request_headers(config) if config is not None else ()
        return FetchRequest(health.name, health.url, health.etag, health.last_modified, headers)

    def poll_outcome(
        self, health: SourceHealth, result: FetchResult | FeedError, now: datetime
    ) -> PollOutcome:
        """What one fetch means for its source: the items, or the error; never raises. The
        next poll of a success is set once its new items are counted (``store_polls``)."""
        try:
            if isinstance(result, FeedError):
                raise result
            items = self.parse_result(health, result)
            if len(items) > self.limits.items_per_poll:
                log.warning(
                    "source %r sent %d entries; reading the first %d (limits.items_per_poll)",
                    health.name,
                    len(items),
                    self.limits.items_per_poll,
                )
                items = items[: self.limits.items_per_poll]
        except FeedError as e:
            log.warning("source %r failed: %s", health.name, e)
            return self.failure(health, now, str(e), _status(e), getattr(e, "retry_after", None))
        except Exception as e:  # a bug or a library surprise: logged loudly, cycle goes on
            log.exception("source %r: unexpected error while parsing", health.name)
            return self.failure(health, now, f"internal error: {e!r}", None, None)
        if health.parked_since is not None:
            log.info("source %r answers again: no longer parked", health.name)
        return PollOutcome(
            name=health.name,
            ok=True,
            http_status=result.status,
            next_poll=now,  # set by store_polls
            items=tuple(items),
            etag=result.etag,
            last_modified=result.last_modified,
            hints=PollHints(max_age=result.max_age, ttl=rss_ttl(result.content)),
        )

    def failure(
        self,
        health: SourceHealth,
        now: datetime,
        error: str,
        status: int | None,
        retry_after: float | None,
    ) -> PollOutcome:
        next_poll, parked_since = decide.schedule_failure(health, now, retry_after)
        if parked_since is not None and health.parked_since is None:
            log.error(
                "source %r has failed for a day: parked, polled once a day until it answers; "
                "check it with `monitor sources`",
                health.name,
            )
        return PollOutcome(
            name=health.name,
            ok=False,
            http_status=status,
            error=mask_urls_in(error, [health.url]),  # stored and shown: never a credential
            next_poll=next_poll,
            parked_since=parked_since,
        )

    def parse_result(self, health: SourceHealth, result: FetchResult) -> list[Item]:
        if result.status == 304 or result.content is None:
            return []
        config = self.source_configs.get(health.name)
        if config is not None and config.query is not None:  # arxiv, edgar, hackernews
            return parse_source(
                config, result.content, url=result.url, content_type=result.content_type
            )
        return self.parse(
            result.content, source=health.name, url=result.url, content_type=result.content_type
        )

    def store_polls(
        self, outcomes: Sequence[PollOutcome], due: Mapping[str, SourceHealth], now: datetime
    ) -> int:
        """Store a batch of polls: the items (unmatched) with their stories linked, in one
        transaction; then each poll with its next time, from how many new items it brought
        (another transaction: a crash in between only makes the source fetched again).
        Returns how many items were new."""
        new_items = self.store.add_items(
            [i for o in outcomes if o.ok for i in o.items],
            now,
            link=lambda stored: self.link_stories(stored, now),
        )
        fresh = Counter(s.item.source for s in new_items)
        scheduled = []
        for o in outcomes:
            if o.ok:
                next_poll, learned = decide.schedule_success(
                    due[o.name], now, fresh[o.name], o.hints, self.polling
                )
                o = replace(o, items=(), next_poll=next_poll, learned_interval=learned)
            scheduled.append(o)
        self.store.record_polls(scheduled, now, owner=self.owner)
        return len(new_items)

    def link_stories(self, new_items: Sequence[StoredItem], now: datetime) -> list[tuple[int, int]]:
        """(item id, story id) for each new item that repeats a recent story (or an earlier
        item of this batch): the story's first item.

        The story index lives across cycles (``self.stories``); it first catches up with the
        items it has not seen that were stored before these (the window at start-up, items
        another replica stored), read in chunks and merged once, then drops items older than
        the window. (An item another replica stores while this batch is being stored, with an
        id among this batch's, is not indexed here: a repeat of it may go unlinked.)"""
        if not new_items:
            return []
        since = now - STORY_WINDOW
        first_new = min(s.id for s in new_items)
        caught_up: list[tuple[int, U32Array]] = []
        after = self.stories.high_water
        while chunk := self.store.items_between(after, first_new, since, CATCH_UP_CHUNK):
            keys = [f.keys for f in features_of([s.item for s in chunk])]
            caught_up += zip((s.id for s in chunk), keys, strict=True)
            after = chunk[-1].id
            if len(chunk) < CATCH_UP_CHUNK:
                break
        if caught_up:
            self.stories.merge(caught_up)
        links = link_stories(
            self.stories,
            new_items,
            lambda ids: {s.id: s for s in self.store.get_items(ids)},
            keep_from_id=self.store.first_item_id_since(since),
        )
        return [(link.item_id, link.story_id) for link in links]

    def match_pending(
        self,
        plan: MatchPlan,
        now: datetime,
        stop: threading.Event | None = None,
        report: CycleReport | None = None,
    ) -> list[int]:
        """Match the items each thesis has not seen yet, in batches; returns the new signal ids.

        Each thesis has its own progress (the last item id matched against its current
        rules, ``store.sync_progress``): a new or changed thesis starts over at the backfill
        window, a held one waits, so its items are matched once it loads. Each batch is
        recorded in one transaction with its alerts and the theses' progress, so a crash or a
        database error leaves the batch to the next cycle. Signals of a backfill on items
        older than ``backfill.alert_age`` are recorded, not alerted. Matching stops after
        ``MATCH_SECONDS`` (one batch at least) so that a long backfill does not hold up
        polling and alerts: the rest waits for the next cycle. Beyond
        ``limits.alerts_per_source`` alerts per source in this cycle, signals are recorded
        and the first capped one is alerted as a summary of the rest. With a judge, the
        confirm/kill matches it rejects are not stored (counted in ``report``) and the ones
        it confirms carry its reason; when it cannot answer, the local matcher's say stands."""
        if plan.hold_all is not None:
            log.debug("matching held: %s", plan.hold_all)
            return []
        if not plan.digests:
            return []
        with self.store.exclusive("match") as mine:
            if not mine:  # another replica is matching: it will take these items too
                return []
            return self._match_pending(plan, now, stop, report)

    def _match_pending(
        self,
        plan: MatchPlan,
        now: datetime,
        stop: threading.Event | None,
        report: CycleReport | None = None,
    ) -> list[int]:
        since = now - self.backfill.window
        progress = self.store.sync_progress(plan.digests, now, since)
        through = {t: p.through_item_id for t, p in progress.items()}
        backfill_until = {t: p.backfill_until_id for t, p in progress.items()}
        caps = decide.AlertCaps(self.limits.alerts_per_source)
        mutes = self.store.active_mutes(now)  # one read a cycle
        created: list[int] = []
        position = min(through.values())
        bound = self.store.committed_item_bound()  # no later id may be committed before it
        deadline = time.monotonic() + MATCH_SECONDS  # then deliver; the rest next cycle
        while not _stopped(stop) and (
            pending := self.store.items_from(position, MATCH_BATCH, upto=bound)
        ):
            position = pending[-1].id
            vectors = item_vectors(self.store, self.embedder, pending, now)
            matches = plan.matcher.match_batch([s.item for s in pending], vectors)
            source_of = {s.id: s.item.source for s in pending}
            found = [
                self.found_match(stored, match, backfill_until, now)
                for stored, item_matches in zip(pending, matches, strict=True)
                for match in item_matches
                if stored.id > through[match.thesis_id]
            ]
            if self.judge is not None and found:
                theses = {t.id: t for t in plan.matcher.theses}
                found, rejected = self.judge.review(found, {s.id: s.item for s in pending}, theses)
                if report is not None:
                    report.judge_rejected = (report.judge_rejected or 0) + rejected
            found = decide.one_alert_per_item_and_thesis(found, self.routing.kill_score)
            recorded = self.store.record_matches(
                found,
                self.planner(source_of, mutes, now),
                now,
                item_ids=[s.id for s in pending],
                progress={
                    t: (plan.digests[t], position) for t, last in through.items() if last < position
                },
                admit=caps.admitter(source_of),
            )
            through = {t: max(last, position) for t, last in through.items()}
            caps.note(
                (source_of[r.found.item_id], r.signal_id, r.alerted)
                for r in recorded
                if r.found.alert
            )
            created += [r.signal_id for r in recorded]
            if report is not None:
                report.polarities.update(r.found.match.polarity for r in recorded)
            if time.monotonic() >= deadline:  # at least one batch a cycle
                break
        for source, (summary, more) in caps.summaries().items():
            log.warning(
                "source %r gave %d signals over the cap of %d alerts per cycle: recorded, "
                "summarised in one alert",
                source,
                more + 1,
                self.limits.alerts_per_source,
            )
            self.store.add_more(summary, more)  # on each of its deliveries
        return created

    def planner(
        self, source_of: Mapping[int, str], mutes: Sequence[Mute], now: datetime
    ) -> Callable[[FoundMatch], list[QueuedDelivery]]:
        """Where and when each alert goes (:func:`monitor.notify.routes.plan`), as the
        deliveries the store queues with its signal."""

        def queue(found: FoundMatch) -> list[QueuedDelivery]:
            m, source = found.match, source_of[found.item_id]
            facts = SignalFacts(
                m.thesis_id,
                m.criterion_id,
                m.polarity,
                m.score,
                source,
                tuple(self.source_tags.get(source, ())),
            )
            return [
                QueuedDelivery(
                    self.channel_of[p.destination],
                    p.due,
                    digest=p.digest,
                    muted=p.muted is not None,
                    urgent=p.urgent,
                )
                for p in routes.plan(facts, self.routing, mutes, now)
            ]

        return queue

    def found_match(
        self,
        stored: StoredItem,
        match: Match,
        backfill_until: Mapping[str, int],
        now: datetime,
    ) -> FoundMatch:
        backfilled = stored.id <= backfill_until.get(match.thesis_id, 0)
        old = backfilled and stored.first_seen < now - self.backfill.alert_age
        alert = decide.should_alert(match) and not old
        return FoundMatch(stored.id, match, alert=alert, backfilled=backfilled)

    def deliver_due_alerts(
        self,
        now: datetime,
        report: CycleReport | None = None,
        stop: threading.Event | None = None,
        patience: float = 0.0,
    ) -> None:
        """Send the due deliveries (:meth:`Outbox.run_round`): oldest first, paced; with no
        ``patience`` the first failure ends the round and the rest wait, queued."""
        report = report if report is not None else CycleReport()
        for outbox in self.outboxes.values():
            done = outbox.run_round(stop, patience)
            report.alerts_sent += done.sent + done.recovered
            report.alerts_failed += done.failed + done.rejected


_TTL = re.compile(rb"<ttl>\s*(\d{1,6})\s*</ttl>", re.IGNORECASE)


def rss_ttl(content: bytes | None) -> float | None:
    """An RSS channel's ``<ttl>`` (minutes), in seconds; it stands before the items."""
    if not content:
        return None
    found = _TTL.search(content, 0, 16384)
    return float(found.group(1)) * 60 if found else None


def replica_name() -> str:
    """This process's name in claims: host, pid and a random part (a restarted process
    with a reused pid is another replica)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _stopped(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


def _status(error: FeedError) -> int | None:
    return getattr(error, "status", None)


class PipelineStore(DeliveryStore, Protocol):
    """The part of the store the pipeline uses (``monitor.store.SqlStore`` implements it).
    Every method may raise StorageError."""

    def claim_due_sources(
        self, owner: str, now: datetime, lease: timedelta, limit: int | None = None
    ) -> list[SourceHealth]: ...
    def exclusive(self, name: str) -> AbstractContextManager[bool]: ...
    def release_sources(self, names: Sequence[str], owner: str) -> None: ...
    def record_polls(
        self, outcomes: Sequence[PollOutcome], now: datetime, *, owner: str | None = None
    ) -> None: ...
    def add_items(
        self,
        items: Sequence[Item],
        now: datetime,
        *,
        link: Callable[[list[StoredItem]], Sequence[tuple[int, int]]] | None = None,
    ) -> list[StoredItem]: ...
    def items_between(
        self, after_id: int, before_id: int, since: datetime, limit: int
    ) -> list[StoredItem]: ...
    def first_item_id_since(self, since: datetime) -> int: ...
    def get_items(self, ids: Sequence[int]) -> list[StoredItem]: ...
    def add_item_vectors(
        self, model: str, vectors: Sequence[tuple[int, bytes, int]], now: datetime
    ) -> None: ...
    def get_item_vectors(self, model: str, ids: Sequence[int]) -> dict[int, bytes]: ...
    def items_from(
        self, after_id: int, limit: int, upto: int | None = None
    ) -> list[StoredItem]: ...
    def committed_item_bound(self) -> int: ...
    def sync_progress(
        self, digests: Mapping[str, str], now: datetime, backfill_since: datetime
    ) -> dict[str, ThesisProgress]: ...
    def record_matches(
        self,
        found: Sequence[FoundMatch],
        channel: str | Callable[[FoundMatch], Sequence[QueuedDelivery]],
        now: datetime,
        *,
        item_ids: Sequence[int] = (),
        progress: Mapping[str, tuple[str, int]] | None = None,
        admit: Callable[[list[FoundMatch]], list[bool]] | None = None,
    ) -> list[RecordedSignal]: ...
    def add_more(self, signal_id: int, more: int, channel: str | None = None) -> None: ...
    def active_mutes(self, now: datetime) -> list[Mute]: ...
