"""Rows to plain data: the query every signal reader shares and the mappings from rows to
the types of :mod:`monitor.types` (no I/O of its own but :func:`with_sources`' one query)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Join, Select, and_, exists, select
from sqlalchemy.engine import Connection, Row

from monitor.store.tables import criteria as criteria_t
from monitor.store.tables import deliveries as deliveries_t
from monitor.store.tables import items as items_t
from monitor.store.tables import signal_sources as signal_sources_t
from monitor.store.tables import signals as signals_t
from monitor.store.tables import theses as theses_t
from monitor.types import Item, Polarity, Signal, SourceHealth, StoredItem, StorySource

AnyRow = Row[*tuple[Any, ...]]
_MUTED = deliveries_t.alias("muted_deliveries")  # its own name: queries may join deliveries


def to_source_health(r: AnyRow) -> SourceHealth:
    return SourceHealth(
        name=r.name,
        url=r.url,
        interval=timedelta(seconds=r.interval_seconds),
        tags=r.tags,
        last_attempt=r.last_attempt,
        last_success=r.last_success,
        http_status=r.http_status,
        last_error=r.last_error,
        consecutive_failures=r.consecutive_failures,
        next_poll=r.next_poll,
        etag=r.etag,
        last_modified=r.last_modified,
        learned_interval=(
            timedelta(seconds=r.learned_interval_seconds)
            if r.learned_interval_seconds is not None
            else None
        ),
        parked_since=r.parked_since,
        created_at=r.created_at,
    )


def to_stored_item(r: AnyRow) -> StoredItem:
    return StoredItem(
        id=r.id,
        item=Item(
            source=r.source,
            item_id=r.item_id,
            title=r.title,
            summary=r.summary,
            link=r.link,
            published=r.published,
            updated=r.updated,
            authors=r.authors,
            tags=r.tags,
        ),
        first_seen=r.first_seen,
        story_id=r.story_id,
    )


def signal_columns() -> list[ColumnElement[Any]]:
    return [
        signals_t.c.id,
        signals_t.c.created_at,
        signals_t.c.thesis_id,
        theses_t.c.title.label("thesis_title"),
        signals_t.c.criterion_id,
        criteria_t.c.text.label("criterion_text"),
        signals_t.c.polarity,
        signals_t.c.score,
        signals_t.c.similarity,
        signals_t.c.matched_terms,
        signals_t.c.snippet,
        signals_t.c.backfilled,
        signals_t.c.judge_reason,
        exists()
        .where(_MUTED.c.signal_id == signals_t.c.id, _MUTED.c.status == "muted")
        .correlate(signals_t)
        .label("muted"),
        signals_t.c.item_id,
        items_t.c.title.label("item_title"),
        items_t.c.link.label("item_link"),
        items_t.c.source,
        items_t.c.published,
        items_t.c.updated,
    ]


def signal_join() -> Join:
    return (
        signals_t.join(items_t, items_t.c.id == signals_t.c.item_id)
        .join(
            criteria_t,
            and_(
                criteria_t.c.thesis_id == signals_t.c.thesis_id,
                criteria_t.c.id == signals_t.c.criterion_id,
            ),
        )
        .join(theses_t, theses_t.c.id == signals_t.c.thesis_id)
    )


def signal_query() -> Select[Any]:
    """Signals joined with their item, criterion and thesis: the columns ``signal`` reads."""
    return select(*signal_columns()).select_from(signal_join())


def newest_first(query: Select[Any]) -> Select[Any]:
    return query.order_by(signals_t.c.created_at.desc(), signals_t.c.id.desc())


def with_sources(conn: Connection, found: list[Signal]) -> list[Signal]:
    """Attach each signal's story sources, earliest first (published, else first seen)."""
    if not found:
        return found
    rows = conn.execute(
        select(
            signal_sources_t.c.signal_id,
            items_t.c.id,
            items_t.c.source,
            items_t.c.link,
            items_t.c.published,
            items_t.c.first_seen,
        )
        .select_from(signal_sources_t.join(items_t, items_t.c.id == signal_sources_t.c.item_id))
        .where(signal_sources_t.c.signal_id.in_([s.id for s in found]))
    ).all()
    by_signal: dict[int, list[AnyRow]] = {}
    for r in rows:
        by_signal.setdefault(r.signal_id, []).append(r)
    out = []
    for sig in found:
        story = sorted(by_signal.get(sig.id, []), key=lambda r: (r.published or r.first_seen, r.id))
        sources = tuple(
            StorySource(
                source=r.source,
                item_id=r.id,
                link=r.link,
                seen_at=r.first_seen,
                first=(n == 0),
            )
            for n, r in enumerate(story)
        )
        out.append(replace(sig, sources=sources))
    return out


def to_signal(r: AnyRow) -> Signal:
    return Signal(
        id=r.id,
        created_at=r.created_at,
        thesis_id=r.thesis_id,
        thesis_title=r.thesis_title,
        criterion_id=r.criterion_id,
        criterion_text=r.criterion_text,
        polarity=cast(Polarity, r.polarity),
        score=r.score,
        matched_terms=r.matched_terms,
        snippet=r.snippet,
        item_id=r.item_id,
        item_title=r.item_title,
        item_link=r.item_link,
        source=r.source,
        # many Atom and RSS 1.0 feeds only date an entry with "updated"
        published=r.published or r.updated,
        similarity=r.similarity,
        backfilled=bool(r.backfilled),
        judge_reason=r.judge_reason,
        muted=bool(getattr(r, "muted", False)),
    )
