"""Plain data shared by every layer: no I/O, no clock, no database.

All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

Polarity = Literal["confirm", "kill", "watch"]
POLARITIES: tuple[Polarity, ...] = ("confirm", "kill", "watch")


SourceKind = Literal["feed", "arxiv", "edgar", "hackernews"]
SOURCE_KINDS: tuple[SourceKind, ...] = ("feed", "arxiv", "edgar", "hackernews")


@dataclass(frozen=True)
class ArxivQuery:
    """arXiv's query API: the newest papers in any of ``categories`` whose title or abstract
    has any of ``keywords`` (either may be empty, not both)."""

    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    max_results: int = 50
    kind: Literal["arxiv"] = "arxiv"


@dataclass(frozen=True)
class EdgarQuery:
    """SEC EDGAR: one company's filings (``company``: a CIK or a ticker) or, with
    ``company`` None, the current-filings feed of all filers; ``forms``: the form types
    wanted (empty: all)."""

    company: str | None = None
    forms: tuple[str, ...] = ()
    max_results: int = 40
    kind: Literal["edgar"] = "edgar"


@dataclass(frozen=True)
class HackerNewsQuery:
    """Hacker News stories (Algolia's search API, newest first) matching ``query`` with at
    least ``min_points`` points."""

    query: str
    min_points: int = 0
    max_results: int = 50
    kind: Literal["hackernews"] = "hackernews"


SourceQuery = ArxivQuery | EdgarQuery | HackerNewsQuery


@dataclass(frozen=True)
class SourceConfig:
    """One source to poll, as written in the config file.

    ``url`` is what is fetched: a feed's own URL, or for another kind the request built
    from its ``query`` (``monitor.feeds.sources.request_url``). ``user_agent``: the
    User-Agent this source's requests carry instead of ours (EDGAR's contact details)."""

    name: str
    url: str
    interval: timedelta = timedelta(minutes=15)
    tags: tuple[str, ...] = ()
    query: SourceQuery | None = None  # None: a plain feed (RSS, Atom, JSON Feed)
    user_agent: str | None = None

    @property
    def kind(self) -> SourceKind:
        return "feed" if self.query is None else self.query.kind


@dataclass(frozen=True)
class FetchResult:
    """What the fetcher got. ``status`` is 200 (``content`` set) or 304 (``content`` None)."""

    url: str
    status: int
    content: bytes | None
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    max_age: float | None = None  # Cache-Control: max-age, seconds


@dataclass(frozen=True)
class Item:
    """A normalised feed entry. ``summary`` is plain text; ``link`` is canonical."""

    source: str
    item_id: str
    title: str
    summary: str = ""
    link: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.summary}" if self.summary else self.title


@dataclass(frozen=True)
class StoredItem:
    """An item as the store holds it: ``id`` is the database key."""

    id: int
    item: Item
    first_seen: datetime
    story_id: int | None = None  # the first item of the story this one repeats

    @property
    def story(self) -> int:
        return self.story_id if self.story_id is not None else self.id


@dataclass(frozen=True)
class Criterion:
    """One confirm/kill/watch criterion of a thesis.

    ``query`` is a boolean keyword query (see ``monitor.rules.query``).
    ``threshold`` is the minimum score for a match to become a signal.
    """

    id: str
    polarity: Polarity
    text: str
    query: str
    threshold: float = 0.0
    line: int | None = None  # where it stands in its rule file, for error messages
    examples: tuple[str, ...] = ()  # texts that are evidence (semantic scoring)
    counter_examples: tuple[str, ...] = ()  # near misses that are not evidence


@dataclass(frozen=True)
class Thesis:
    id: str
    title: str
    criteria: tuple[Criterion, ...]
    read_throughs: tuple[str, ...] = ()
    date: date | None = None
    source_brief: str | None = None
    path: str | None = None  # the rule file it was loaded from
    # written by `monitor import-brief` and not yet hand-tuned: semantic evidence may fire a
    # criterion without a query hit; in hand-tuned rules the query always decides
    automatic: bool = False

    def criterion(self, criterion_id: str) -> Criterion:
        for c in self.criteria:
            if c.id == criterion_id:
                return c
        raise KeyError(criterion_id)


@dataclass(frozen=True)
class Match:
    """Matching's output: an item is evidence for one criterion of one thesis."""

    thesis_id: str
    criterion_id: str
    polarity: Polarity
    score: float
    matched_terms: tuple[str, ...]
    snippet: str  # the item's best matching sentence, shortened
    similarity: float | None = None  # semantic similarity, when semantic scoring ran
    judge_reason: str | None = None  # the optional judge's one sentence, when it confirmed


@dataclass(frozen=True)
class FoundMatch:
    """An intent: store ``match`` on item ``item_id`` as a signal; ``alert``: it asks for an
    alert (confirm/kill, and not an old item found by a backfill); ``backfilled``: found by
    matching a new or changed thesis against items seen before it."""

    item_id: int
    match: Match
    alert: bool = False
    backfilled: bool = False


@dataclass(frozen=True)
class RecordedSignal:
    """A signal the store created for a :class:`FoundMatch`; ``alerted``: its delivery was
    queued (False for a capped or non-alerting one)."""

    signal_id: int
    found: FoundMatch
    alerted: bool


@dataclass(frozen=True)
class StorySource:
    """One source that carried the story of a signal; ``first`` marks the earliest."""

    source: str
    item_id: int
    link: str | None
    seen_at: datetime
    first: bool = False


@dataclass(frozen=True)
class Signal:
    """A stored match joined with what a reader needs to understand it."""

    id: int
    created_at: datetime
    thesis_id: str
    thesis_title: str
    criterion_id: str
    criterion_text: str
    polarity: Polarity
    score: float
    matched_terms: tuple[str, ...]
    snippet: str
    item_id: int
    item_title: str
    item_link: str | None
    source: str
    published: datetime | None
    similarity: float | None = None
    sources: tuple[StorySource, ...] = ()  # every source of the story (story dedupe)
    backfilled: bool = False  # found when a new or changed thesis was matched on older items
    judge_reason: str | None = None  # why the optional judge confirmed it (sanitised)
    muted: bool = False  # a mute held its alert back (recorded, not sent)


@dataclass(frozen=True)
class Alert:
    """What a notifier renders; built from a Signal."""

    signal_id: int
    polarity: Polarity
    thesis_id: str
    thesis_title: str
    criterion_id: str
    criterion_text: str
    item_title: str
    item_link: str | None
    source: str
    published: datetime | None
    snippet: str
    matched_terms: tuple[str, ...] = ()
    score: float = 0.0
    similarity: float | None = None
    also_in: tuple[str, ...] = ()  # other sources that carried the same story
    more: int = 0  # further signals of this source and cycle, over the alert cap
    judge_reason: str | None = None  # the optional judge's reason, shown as "Judge: …"
    # signals of this polarity the thesis got in the last ``tally_days`` days, this one
    # included; 0 = unknown (no tally line)
    tally: int = 0
    tally_days: int = 30
    # (polarity, criterion_id, criterion_text) of criteria of the other polarity of the same
    # thesis that the same item is also evidence for; non-empty = "mixed evidence"
    mixed_with: tuple[tuple[str, str, str], ...] = ()
    urgent: bool = False  # a kill over the severity threshold: bypassed digests, quiet hours, mutes
    urgent_reason: str = ""  # shown after "Urgent:"; empty = a generic sentence
    verdict: str | None = None  # feedback given ("useful", "noise", "mute_source"); hides buttons
    verdict_by: str | None = None  # who gave it (a Slack display name: untrusted text)

    @classmethod
    def from_signal(cls, s: Signal, *, more: int = 0) -> Alert:
        return cls(
            signal_id=s.id,
            polarity=s.polarity,
            thesis_id=s.thesis_id,
            thesis_title=s.thesis_title,
            criterion_id=s.criterion_id,
            criterion_text=s.criterion_text,
            item_title=s.item_title,
            item_link=s.item_link,
            source=s.source,
            published=s.published,
            snippet=s.snippet,
            matched_terms=s.matched_terms,
            score=s.score,
            similarity=s.similarity,
            also_in=tuple(x.source for x in s.sources if x.source != s.source),
            more=more,
            judge_reason=s.judge_reason,
        )


@dataclass(frozen=True)
class AlertGroup:
    """An intent: several alerts in one message (split in parts within Slack's limits): a
    burst of one thesis, or a scheduled digest (``digest`` its title, over ``period``)."""

    alerts: tuple[Alert, ...]
    digest: str | None = None
    period: tuple[datetime, datetime] | None = None


@dataclass(frozen=True)
class Notice:
    """An intent: tell the channel something that is no signal (a thesis turned).
    ``title`` and ``lines`` are plain text; renderers escape them."""

    title: str
    lines: tuple[str, ...] = ()
    tone: Literal["up", "down", "info"] = "info"


@dataclass(frozen=True)
class DeliveryReceipt:
    """What a notifier returns when Slack (or the console) accepted an alert."""

    channel: str
    ts: str | None = None


@dataclass(frozen=True)
class PollHints:
    """What a feed server says about how often to poll it: ``Cache-Control: max-age``,
    ``Retry-After`` (on 429/503) and RSS ``<ttl>``, in seconds."""

    max_age: float | None = None
    retry_after: float | None = None
    ttl: float | None = None


@dataclass(frozen=True)
class PollOutcome:
    """An intent: what one poll of a source means for the store. ``ok``: record a success
    with the validators and store the items (unmatched); else record the failure."""

    name: str
    ok: bool
    next_poll: datetime
    http_status: int | None = None
    error: str | None = None
    items: tuple[Item, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    learned_interval: timedelta | None = None  # store it (adaptive polling)
    parked_since: datetime | None = None  # failing for a day since then; None: not parked
    hints: PollHints | None = None  # what the server said about polling it (success only)


@dataclass(frozen=True)
class SourceHealth:
    """Polling state of one source, kept by the store."""

    name: str
    url: str
    interval: timedelta
    tags: tuple[str, ...] = ()
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    http_status: int | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    next_poll: datetime | None = None
    etag: str | None = None
    last_modified: str | None = None
    learned_interval: timedelta | None = None  # adaptive polling; None: the configured one
    parked_since: datetime | None = None  # failing for a day: polled once a day, reported
    created_at: datetime | None = None


@dataclass(frozen=True)
class ThesisTurn:
    """A thesis's momentum crossed its dead band: ``direction`` "up" (toward confirm) or
    "down" (toward kill), ``turned_on`` the first day (ISO date) on the new side."""

    thesis_id: str
    direction: str
    turned_on: str
    momentum: float
    id: int | None = None


@dataclass(frozen=True)
class RouteHealth:
    """Whether a delivery channel works: ``error`` says what is wrong and what to do."""

    channel: str
    healthy: bool
    error: str | None = None
    code: str | None = None
    failing_since: datetime | None = None
    checked_at: datetime | None = None
    unsent: int = 0  # deliveries waiting for it


MuteKind = Literal["thesis", "criterion", "source"]
MUTE_KINDS: tuple[MuteKind, ...] = ("thesis", "criterion", "source")


@dataclass(frozen=True)
class Mute:
    """Alerts of a thesis, a criterion (``value`` "thesis_id/criterion_id") or a source held
    back until ``until`` (None: until unmuted); ``lifted_at`` is set once it is unmuted.
    Muted signals are still recorded."""

    id: int
    kind: MuteKind
    value: str
    until: datetime | None
    created_at: datetime
    note: str | None = None
    lifted_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        """Not lifted and not expired at ``now``."""
        return self.lifted_at is None and (self.until is None or self.until > now)


@dataclass(frozen=True)
class QueuedDelivery:
    """An intent: queue the signal for ``channel``, due at ``due``. ``digest``: the key of
    the digest message that carries it (None: its own message); ``muted``: recorded as
    muted, never sent; ``urgent``: a severe kill past digests, quiet hours and mutes."""

    channel: str
    due: datetime
    digest: str | None = None
    muted: bool = False
    urgent: bool = False


TALLY_DAYS = 30  # an alert's running tally counts the thesis's signals of this many days

# pending: not tried yet; sending: an attempt began and its outcome is not known; failed:
# the last attempt definitely failed (retried); sent; rejected: the destination refused this
# message for good (set aside, reported; the queue goes on)
# muted: recorded while a mute held it back, never sent
DeliveryStatus = Literal["pending", "sending", "sent", "failed", "rejected", "muted"]
UNSENT_STATUSES = ("pending", "sending", "failed")


@dataclass(frozen=True)
class DeliveryTask:
    """A pending (or failed, to retry) delivery of one signal to one channel."""

    id: int
    signal: Signal
    channel: str
    attempts: int
    status: DeliveryStatus
    last_error: str | None = None
    next_attempt: datetime | None = None
    more: int = 0  # the alert also summarises this many capped signals
    created_at: datetime | None = None
    attempted_at: datetime | None = None  # the latest post attempt began (status "sending")
    digest: str | None = None  # the digest message that carries it
    urgent: bool = False
    tally: int = 0  # signals of this polarity on the thesis in TALLY_DAYS, this one included
    # (polarity, criterion id, text) of the thesis's other-polarity criteria this item supports
    mixed_with: tuple[tuple[str, str, str], ...] = ()

    def alert(self) -> Alert:
        """The alert this delivery sends."""
        from dataclasses import replace

        base = Alert.from_signal(self.signal, more=self.more)
        return replace(
            base,
            tally=self.tally,
            tally_days=TALLY_DAYS,
            mixed_with=self.mixed_with,
            urgent=self.urgent,
        )

    @property
    def key(self) -> str:
        """The delivery's idempotency key, carried in the message (``d<id>-s<signal>-<t>``:
        the enqueue time keeps keys of two databases posting to one channel apart)."""
        stamp = int(self.created_at.timestamp()) if self.created_at is not None else 0
        return f"d{self.id}-s{self.signal.id}-{stamp}"

    @property
    def outcome_unknown(self) -> bool:
        """An earlier attempt may have posted it: look before posting again."""
        return self.status == "sending"


@dataclass(frozen=True)
class PruneReport:
    """What retention removed (or, in a dry run, would remove)."""

    signals: int = 0
    deliveries: int = 0
    feedback: int = 0
    items: int = 0
    item_vectors: int = 0

    def summary(self) -> str:
        return (
            f"{self.signals} signal(s) (with {self.deliveries} alert(s) and {self.feedback} "
            f"verdict(s)), {self.items} item(s) (with {self.item_vectors} vector(s))"
        )


@dataclass(frozen=True)
class ThesisProgress:
    """How far matching got for one thesis: items up to ``through_item_id`` were matched
    against its current rules; items up to ``backfill_until_id`` were stored before them."""

    through_item_id: int
    backfill_until_id: int


@dataclass(frozen=True)
class ThesisSummary:
    """Counts for ``monitor theses``."""

    thesis_id: str
    title: str
    counts: dict[str, int] = field(default_factory=dict)  # keys like "confirm_7d", "kill_30d"
    latest: Signal | None = None
