"""What each page shows, read through the :class:`~monitor.app.Monitor` façade: plain
dictionaries of JSON types, the same for a page's template and for its ``/api/`` twin.

Nothing here escapes: feed text stays as it came, and the templates (Jinja2 with
autoescape) or ``json.dumps`` render it. Links are passed on only when they are http(s)
(:func:`safe_link`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

from monitor.analysis.momentum import (
    DEFAULT_SETTINGS,
    Momentum,
    WeekBar,
    momentum,
    weekly_bars,
)
from monitor.app import Monitor, SignalQuery
from monitor.redact import mask_url, mask_urls_in
from monitor.rules.files import check_rule_files, expand_rule_paths
from monitor.types import POLARITIES, Signal, SourceHealth, Thesis

WEEKS = 12  # the board's chart: this many weeks, and the momentum's history
LATEST = 4  # latest evidence shown per thesis
WINDOW_CAP = 10_000  # signals read per thesis for the board (a thesis of months)
MAX_LIMIT = 500
MAX_WORDS = 10  # search words (each is one LIKE pair in the query)
MAX_SEARCH = 200  # search characters


class BadRequest(ValueError):
    """A query parameter the page cannot use (the message says which and why)."""


def safe_link(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL, else None (no javascript:, data:, …)."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def stamp(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


# -- signals ------------------------------------------------------------------------------------


def signal_data(s: Signal, verdict: str | None = None) -> dict[str, Any]:
    return {
        "id": s.id,
        "created_at": stamp(s.created_at),
        "published": stamp(s.published),
        "thesis_id": s.thesis_id,
        "thesis_title": s.thesis_title,
        "criterion_id": s.criterion_id,
        "criterion_text": s.criterion_text,
        "polarity": s.polarity,
        "score": round(s.score, 4),
        "similarity": None if s.similarity is None else round(s.similarity, 4),
        "matched_terms": list(s.matched_terms),
        "snippet": s.snippet,
        "judge_reason": s.judge_reason,
        "item_id": s.item_id,
        "item_title": s.item_title,
        "item_link": safe_link(s.item_link),
        "source": s.source,
        "backfilled": s.backfilled,
        "muted": s.muted,
        "verdict": verdict,
        "sources": [
            {
                "source": x.source,
                "item_id": x.item_id,
                "link": safe_link(x.link),
                "seen_at": stamp(x.seen_at),
                "first": x.first,
            }
            for x in s.sources
        ],
    }


@dataclass(frozen=True)
class SignalFilters:
    """The signal log's query parameters, checked."""

    thesis: str | None = None
    polarity: str | None = None
    source: str | None = None
    since: date | None = None
    until: date | None = None  # inclusive: the whole day
    search: str | None = None
    limit: int = 50
    offset: int = 0

    @classmethod
    def parse(cls, params: dict[str, str]) -> SignalFilters:
        def text(name: str) -> str | None:
            value = params.get(name, "").strip()
            return value or None

        def day(name: str) -> date | None:
            value = text(name)
            if value is None:
                return None
            try:
                found = date.fromisoformat(value)
            except ValueError:
                raise BadRequest(f"{name} must be a date like 2026-05-14, not {value!r}") from None
            if not date(1970, 1, 1) <= found <= date(9998, 12, 31):
                raise BadRequest(f"{name} must be a date between 1970 and 9998")
            return found

        def number(name: str, default: int, low: int, high: int) -> int:
            value = text(name)
            if value is None:
                return default
            try:
                n = int(value)
            except ValueError:
                raise BadRequest(f"{name} must be a whole number, not {value!r}") from None
            if not low <= n <= high:
                raise BadRequest(f"{name} must be between {low} and {high}")
            return n

        search = text("search")
        if search is not None and (len(search) > MAX_SEARCH or len(search.split()) > MAX_WORDS):
            raise BadRequest(f"search takes at most {MAX_WORDS} words and {MAX_SEARCH} characters")
        polarity = text("polarity")
        if polarity is not None and polarity not in POLARITIES:
            raise BadRequest(f"polarity must be one of {', '.join(POLARITIES)}")
        return cls(
            thesis=text("thesis"),
            polarity=polarity,
            source=text("source"),
            since=day("since"),
            until=day("until"),
            search=search,
            limit=number("limit", 50, 1, MAX_LIMIT),
            offset=number("offset", 0, 0, 10**9),
        )

    def query(self, *, extra: int = 0) -> SignalQuery:
        return SignalQuery(
            thesis=self.thesis,
            polarity=self.polarity,
            source=self.source,
            since=None if self.since is None else datetime.combine(self.since, time(), UTC),
            until=None
            if self.until is None
            else datetime.combine(self.until + timedelta(days=1), time(), UTC),
            search=self.search,
            limit=self.limit + extra,
            offset=self.offset,
        )

    def params(self, **changes: object) -> dict[str, str]:
        """The non-default parameters (with ``changes``), for links that keep the filters."""
        values: dict[str, object] = {
            "thesis": self.thesis,
            "polarity": self.polarity,
            "source": self.source,
            "since": self.since,
            "until": self.until,
            "search": self.search,
            "limit": None if self.limit == 50 else self.limit,
            "offset": self.offset or None,
        }
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v not in (None, "", 0)}


def signal_log(m: Monitor, filters: SignalFilters) -> dict[str, Any]:
    rows = m.signals(filters.query(extra=1))  # one more: is there a next page?
    verdicts = m.latest_feedback()
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    return {
        "filters": filters.params(),
        "offset": filters.offset,
        "limit": filters.limit,
        "next_offset": filters.offset + filters.limit if more else None,
        "previous_offset": max(filters.offset - filters.limit, 0) if filters.offset else None,
        "signals": [signal_data(s, verdicts.get(s.id)) for s in rows],
    }


def signal_detail(m: Monitor, signal_id: int) -> dict[str, Any] | None:
    s = m.signal(signal_id)
    if s is None:
        return None
    return signal_data(s, m.latest_feedback().get(s.id))


# -- the thesis board ---------------------------------------------------------------------------


def rule_theses(m: Monitor) -> tuple[list[Thesis], int]:
    """The theses of the config's rule files (as `monitor check` reads them) and the number
    of problems found in those files."""
    theses, errors = check_rule_files(expand_rule_paths(list(m.config.rule_paths)))
    return theses, len(errors)


def thesis_card(
    m: Monitor,
    thesis_id: str,
    title: str,
    rules: Thesis | None,
    counts: dict[str, int],
    verdicts: dict[int, str],
    precision: dict[tuple[str, str], tuple[int, int]],
    now: datetime,
) -> tuple[dict[str, Any], list[WeekBar], Momentum]:
    since = now - timedelta(weeks=WEEKS, days=DEFAULT_SETTINGS.turn_days)
    found = m.signals(thesis=thesis_id, since=since, limit=WINDOW_CAP)
    trend = momentum(found, verdicts, now, days=WEEKS * 7)
    weeks = weekly_bars(found, now, WEEKS)
    latest = [s for s in found if s.polarity in ("confirm", "kill")][:LATEST]
    criteria = []
    for c in rules.criteria if rules is not None else ():
        useful, noise = precision.get((thesis_id, c.id), (0, 0))
        criteria.append(
            {
                "id": c.id,
                "polarity": c.polarity,
                "text": c.text,
                "query": c.query,
                "useful": useful,
                "noise": noise,
            }
        )
    card = {
        "id": thesis_id,
        "title": rules.title if rules is not None else title,
        "path": rules.path if rules is not None else None,
        "in_rules": rules is not None,
        "read_throughs": list(rules.read_throughs) if rules is not None else [],
        "criteria": criteria,
        "counts": counts,
        "momentum": {
            "value": round(trend.value, 4),
            "confirm": round(trend.confirm, 4),
            "kill": round(trend.kill, 4),
            "state": trend.state,
            "label": trend.label,
            "turned": None
            if trend.turn is None
            else {"direction": trend.turn.direction, "on": trend.turn.on.isoformat()},
        },
        "weeks": [
            {"start": w.start.isoformat(), "confirm": w.confirm, "kill": w.kill} for w in weeks
        ],
        "latest": [signal_data(s, verdicts.get(s.id)) for s in latest],
    }
    return card, weeks, trend


def board(m: Monitor) -> tuple[dict[str, Any], list[tuple[list[WeekBar], Momentum]]]:
    """Every thesis of the rule files (in file order), then those only the database knows
    (still active there), each with its card; plus the chart data of each card."""
    now = m.now()
    theses, problems = rule_theses(m)
    stored = {t.thesis_id: t for t in m.theses()}
    verdicts = m.latest_feedback()
    precision = m.criterion_feedback()
    cards, charts = [], []
    order = [(t.id, t.title, t) for t in theses] + [
        (tid, s.title, None) for tid, s in stored.items() if tid not in {t.id for t in theses}
    ]
    for thesis_id, title, rules in order:
        summary = stored.get(thesis_id)
        counts = dict(summary.counts) if summary is not None else {}
        card, weeks, trend = thesis_card(
            m, thesis_id, title, rules, counts, verdicts, precision, now
        )
        cards.append(card)
        charts.append((weeks, trend))
    data = {
        "now": stamp(now),
        "half_life_days": DEFAULT_SETTINGS.half_life / timedelta(days=1),
        "dead_band": DEFAULT_SETTINGS.dead_band,
        "turn_days": DEFAULT_SETTINGS.turn_days,
        "rule_problems": problems,
        "theses": cards,
    }
    return data, charts


# -- sources ------------------------------------------------------------------------------------


def source_data(h: SourceHealth, per_day: list[tuple[date, int]]) -> dict[str, Any]:
    failing = h.consecutive_failures > 0
    return {
        "name": h.name,
        "url": safe_link(mask_url(h.url)),  # credentials in a feed URL are never shown
        "interval_seconds": int(h.interval.total_seconds()),
        "learned_interval_seconds": None
        if h.learned_interval is None
        else int(h.learned_interval.total_seconds()),
        "tags": list(h.tags),
        "health": "parked"
        if h.parked_since
        else "failing"
        if failing
        else ("ok" if h.last_success else "never polled"),
        "last_attempt": stamp(h.last_attempt),
        "last_success": stamp(h.last_success),
        "http_status": h.http_status,
        "last_error": mask_urls_in(h.last_error or "", [h.url]) or None,
        "consecutive_failures": h.consecutive_failures,
        "next_poll": stamp(h.next_poll),
        "parked_since": stamp(h.parked_since),
        "items_per_day": [{"day": d.isoformat(), "items": n} for d, n in per_day],
    }


def sources(m: Monitor, days: int = 14) -> dict[str, Any]:
    per_day = m.items_per_day(days)
    return {
        "days": days,
        "sources": [source_data(h, per_day.get(h.name, [])) for h in m.sources()],
        "routes": [
            {
                "channel": r.channel,
                "healthy": r.healthy,
                "error": r.error,
                "failing_since": stamp(r.failing_since),
                "unsent": r.unsent,
            }
            for r in m.routes()
        ],
    }
