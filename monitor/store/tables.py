"""The database tables, as SQLModel classes, and the two column types they need.

Decisions:

* The tables live in their own ``registry`` (``STORE_METADATA``), not SQLModel's global one, so
  that the migration check in the tests compares exactly these tables and nothing another module
  may declare.
* ``UTCDateTime`` stores ``timestamptz`` on PostgreSQL and naive-UTC text on SQLite, and always
  returns aware UTC datetimes; binding a naive datetime is a programming error (``ValueError``).
* ``StringTuple`` keeps ``tuple[str, ...]`` fields (authors, tags, matched terms) as JSON text.
* Items are deduplicated by the database: unique ``(source, item_id)`` and unique ``link_key``
  (the SHA-256 of the canonical link; a hash because PostgreSQL b-tree entries are size-limited
  and links are not). ``items.source`` has no foreign key: an item keeps naming its source even
  if the source is later dropped from the config.
* Criteria are keyed by ``(thesis_id, id)``; signals point at that pair, so criteria are never
  deleted, only marked inactive.
* Room is left for later tables (item embeddings, feedback on signals) keyed by ``items.id`` and
  ``signals.id``.

``migrations/versions/0001_initial.py`` must describe the same schema; a test compares them.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both backends (SQLite hands back naive values: they are UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store only takes aware datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class StringTuple(TypeDecorator[tuple[str, ...]]):
    """A tuple of strings stored as a JSON array in a text column."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(list(value), ensure_ascii=False)

    def process_result_value(self, value: str | None, dialect: Dialect) -> tuple[str, ...]:
        if not value:
            return ()
        return tuple(str(v) for v in json.loads(value))


store_registry = registry()
STORE_METADATA = store_registry.metadata


class StoreModel(SQLModel, registry=store_registry):
    """Base of the store's tables (own registry and metadata)."""


class SourceRow(StoreModel, table=True):
    __tablename__ = "sources"

    name: str = Field(primary_key=True, sa_type=Text)
    url: str = Field(sa_type=Text)
    interval_seconds: float
    tags: tuple[str, ...] = Field(default=(), sa_type=StringTuple, nullable=False)
    active: bool = True
    last_attempt: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_success: datetime | None = Field(default=None, sa_type=UTCDateTime)
    http_status: int | None = None
    last_error: str | None = Field(default=None, sa_type=Text)
    consecutive_failures: int = 0
    next_poll: datetime | None = Field(default=None, sa_type=UTCDateTime)
    etag: str | None = Field(default=None, sa_type=Text)
    last_modified: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    # the replica polling the source now, and until when its claim holds (replicas)
    lease_owner: str | None = Field(default=None, sa_type=Text)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # adaptive polling: the interval learnt from the source's publishing, and since when a
    # source failing for a day has been parked
    learned_interval_seconds: float | None = None
    parked_since: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ItemRow(StoreModel, table=True):
    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("source", "item_id", name="uq_items_source_item_id"),
        Index(
            "uq_items_link_key",
            "link_key",
            unique=True,
            sqlite_where=text("link_key IS NOT NULL"),
            postgresql_where=text("link_key IS NOT NULL"),
        ),
        Index("ix_items_first_seen", "first_seen"),
        Index("ix_items_story_id", "story_id"),
        Index("ix_items_unmatched", "matched_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(sa_type=Text)
    item_id: str = Field(sa_type=Text)
    title: str = Field(sa_type=Text)
    summary: str = Field(default="", sa_type=Text)
    link: str | None = Field(default=None, sa_type=Text)
    link_key: str | None = Field(default=None, sa_type=Text)
    published: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated: datetime | None = Field(default=None, sa_type=UTCDateTime)
    authors: tuple[str, ...] = Field(default=(), sa_type=StringTuple, nullable=False)
    tags: tuple[str, ...] = Field(default=(), sa_type=StringTuple, nullable=False)
    first_seen: datetime = Field(sa_type=UTCDateTime, nullable=False)
    # the first item of the story this item repeats (story dedupe); NULL: its own story
    story_id: int | None = None
    # set in the transaction that stores the item's signals: NULL means "match me"
    matched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ThesisRow(StoreModel, table=True):
    __tablename__ = "theses"

    id: str = Field(primary_key=True, sa_type=Text)
    title: str = Field(sa_type=Text)
    read_throughs: tuple[str, ...] = Field(default=(), sa_type=StringTuple, nullable=False)
    brief_date: date | None = None
    source_brief: str | None = Field(default=None, sa_type=Text)
    path: str | None = Field(default=None, sa_type=Text)
    active: bool = True
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class CriterionRow(StoreModel, table=True):
    __tablename__ = "criteria"
    __table_args__ = (
        ForeignKeyConstraint(["thesis_id"], ["theses.id"], name="fk_criteria_thesis"),
    )

    thesis_id: str = Field(primary_key=True, sa_type=Text)
    id: str = Field(primary_key=True, sa_type=Text)
    polarity: str = Field(sa_type=Text)
    text: str = Field(sa_type=Text)
    query: str = Field(sa_type=Text)
    threshold: float = 0.0
    active: bool = True
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class SignalRow(StoreModel, table=True):
    __tablename__ = "signals"
    __table_args__ = (
        UniqueConstraint("story_id", "thesis_id", "criterion_id", name="uq_signals_story"),
        ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_signals_item"),
        ForeignKeyConstraint(
            ["thesis_id", "criterion_id"],
            ["criteria.thesis_id", "criteria.id"],
            name="fk_signals_criterion",
        ),
        Index("ix_signals_created_at", "created_at"),
        Index("ix_signals_item_id", "item_id"),
        Index("ix_signals_thesis_created_at", "thesis_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: int
    story_id: int  # items.story_id of the item, or its own id: one signal per story
    thesis_id: str = Field(sa_type=Text)
    criterion_id: str = Field(sa_type=Text)
    polarity: str = Field(sa_type=Text)
    score: float
    similarity: float | None = None
    matched_terms: tuple[str, ...] = Field(default=(), sa_type=StringTuple, nullable=False)
    snippet: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    # found by matching a new or changed thesis against older items
    backfilled: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # the optional judge's one-sentence reason when it confirmed the match (sanitised)
    judge_reason: str | None = Field(default=None, sa_type=Text)


class SignalSourceRow(StoreModel, table=True):
    """Every item (so every source) that carried the story of a signal."""

    __tablename__ = "signal_sources"
    __table_args__ = (
        UniqueConstraint("signal_id", "item_id", name="uq_signal_sources"),
        ForeignKeyConstraint(["signal_id"], ["signals.id"], name="fk_signal_sources_signal"),
        ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_signal_sources_item"),
        Index("ix_signal_sources_item_id", "item_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    signal_id: int
    item_id: int
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class ItemVectorRow(StoreModel, table=True):
    """An item's embedding under one model (float32 bytes), so backtests need not recompute."""

    __tablename__ = "item_vectors"
    __table_args__ = (ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_item_vectors_item"),)

    item_id: int = Field(primary_key=True)
    model: str = Field(primary_key=True, sa_type=Text)
    dim: int
    vector: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class FeedbackRow(StoreModel, table=True):
    """An analyst's verdict on a signal; the latest one per signal counts."""

    __tablename__ = "signal_feedback"
    __table_args__ = (
        ForeignKeyConstraint(["signal_id"], ["signals.id"], name="fk_signal_feedback_signal"),
        Index("ix_signal_feedback_signal_id", "signal_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    signal_id: int
    verdict: str = Field(sa_type=Text)  # useful | noise
    note: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class DeliveryRow(StoreModel, table=True):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("signal_id", "channel", name="uq_deliveries_signal_channel"),
        ForeignKeyConstraint(["signal_id"], ["signals.id"], name="fk_deliveries_signal"),
        Index("ix_deliveries_due", "channel", "status", "next_attempt"),
    )

    id: int | None = Field(default=None, primary_key=True)
    signal_id: int
    channel: str = Field(sa_type=Text)
    status: str = Field(default="pending", sa_type=Text)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    next_attempt: datetime | None = Field(default=None, sa_type=UTCDateTime)
    slack_ts: str | None = Field(default=None, sa_type=Text)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    lease_owner: str | None = Field(default=None, sa_type=Text)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # further signals of the same source and cycle, over the alert cap, this one summarises
    more: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # when the latest post attempt started; status "sending" = its outcome is not known
    attempted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # the digest message that carries it (route@due time); None: a message of its own
    digest: str | None = Field(default=None, sa_type=Text)
    # a severe kill: past digests, quiet hours and mutes
    urgent: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class RouteHealthRow(StoreModel, table=True):
    """Per delivery channel: whether it works, since when not, and why (the notifier's
    check or the last delivery that failed through the route's own fault)."""

    __tablename__ = "route_health"

    channel: str = Field(primary_key=True, sa_type=Text)
    healthy: bool = True
    error: str | None = Field(default=None, sa_type=Text)
    code: str | None = Field(default=None, sa_type=Text)
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    checked_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class ThesisProgressRow(StoreModel, table=True):
    """Per thesis: the rule version matched (``digest``) and the last item id matched
    against it; items up to ``backfill_until_id`` are backfill for this version."""

    __tablename__ = "thesis_progress"

    thesis_id: str = Field(primary_key=True, sa_type=Text)
    digest: str = Field(sa_type=Text)
    through_item_id: int
    backfill_until_id: int
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class MuteRow(StoreModel, table=True):
    """A mute of alerts by thesis, criterion ("thesis_id/criterion_id") or source; unmuting
    sets ``lifted_at`` (history is kept); ``until`` NULL: until unmuted."""

    __tablename__ = "mutes"
    __table_args__ = (Index("ix_mutes_kind_value", "kind", "value"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=Text)  # thesis | criterion | source
    value: str = Field(sa_type=Text)
    until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    lifted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    note: str | None = Field(default=None, sa_type=Text)


class ThesisTurnRow(StoreModel, table=True):
    """A thesis's momentum crossed its dead band (see ``monitor.analysis.momentum``)."""

    __tablename__ = "thesis_turns"
    __table_args__ = (
        UniqueConstraint("thesis_id", "direction", "turned_on", name="uq_thesis_turns"),
    )

    id: int | None = Field(default=None, primary_key=True)
    thesis_id: str = Field(sa_type=Text)
    direction: str = Field(sa_type=Text)  # "up" (toward confirm) or "down" (toward kill)
    turned_on: str = Field(sa_type=Text)  # ISO date of the first day on the new side
    momentum: float
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


sources: Table = SourceRow.__table__  # type: ignore[attr-defined]
items: Table = ItemRow.__table__  # type: ignore[attr-defined]
theses: Table = ThesisRow.__table__  # type: ignore[attr-defined]
criteria: Table = CriterionRow.__table__  # type: ignore[attr-defined]
signals: Table = SignalRow.__table__  # type: ignore[attr-defined]
deliveries: Table = DeliveryRow.__table__  # type: ignore[attr-defined]
signal_sources: Table = SignalSourceRow.__table__  # type: ignore[attr-defined]
item_vectors: Table = ItemVectorRow.__table__  # type: ignore[attr-defined]
feedback: Table = FeedbackRow.__table__  # type: ignore[attr-defined]
thesis_progress: Table = ThesisProgressRow.__table__  # type: ignore[attr-defined]
route_health: Table = RouteHealthRow.__table__  # type: ignore[attr-defined]
mutes: Table = MuteRow.__table__  # type: ignore[attr-defined]
thesis_turns: Table = ThesisTurnRow.__table__  # type: ignore[attr-defined]
