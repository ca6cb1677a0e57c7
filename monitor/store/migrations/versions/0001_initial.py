"""Initial schema: sources, items, theses, criteria, signals, deliveries.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written by hand to mirror ``monitor/store/tables.py`` (a test compares the two). Column types are
plain SQLAlchemy types: ``DateTime(timezone=True)`` is ``timestamptz`` on PostgreSQL and text on
SQLite; JSON lists are ``Text``. Migrations never import the models, so later model changes do
not rewrite history.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("interval_seconds", sa.Float(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_attempt", TS, nullable=True),
        sa.Column("last_success", TS, nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("next_poll", TS, nullable=True),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("item_id", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("link_key", sa.Text(), nullable=True),
        sa.Column("published", TS, nullable=True),
        sa.Column("updated", TS, nullable=True),
        sa.Column("authors", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("first_seen", TS, nullable=False),
        sa.UniqueConstraint("source", "item_id", name="uq_items_source_item_id"),
    )
    op.create_index(
        "uq_items_link_key",
        "items",
        ["link_key"],
        unique=True,
        sqlite_where=sa.text("link_key IS NOT NULL"),
        postgresql_where=sa.text("link_key IS NOT NULL"),
    )
    op.create_index("ix_items_first_seen", "items", ["first_seen"])
    op.create_table(
        "theses",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("read_throughs", sa.Text(), nullable=False),
        sa.Column("brief_date", sa.Date(), nullable=True),
        sa.Column("source_brief", sa.Text(), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "criteria",
        sa.Column("thesis_id", sa.Text(), primary_key=True),
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("polarity", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["thesis_id"], ["theses.id"], name="fk_criteria_thesis"),
    )
    op.create_table(
        "signals",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("thesis_id", sa.Text(), nullable=False),
        sa.Column("criterion_id", sa.Text(), nullable=False),
        sa.Column("polarity", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("matched_terms", sa.Text(), nullable=False),
        sa.Column("snippet", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("item_id", "thesis_id", "criterion_id", name="uq_signals_match"),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_signals_item"),
        sa.ForeignKeyConstraint(
            ["thesis_id", "criterion_id"],
            ["criteria.thesis_id", "criteria.id"],
            name="fk_signals_criterion",
        ),
    )
    op.create_index("ix_signals_created_at", "signals", ["created_at"])
    op.create_index("ix_signals_thesis_created_at", "signals", ["thesis_id", "created_at"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("signal_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt", TS, nullable=True),
        sa.Column("slack_ts", sa.Text(), nullable=True),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("signal_id", "channel", name="uq_deliveries_signal_channel"),
        sa.ForeignKeyConstraint(["signal_id"], ["signals.id"], name="fk_deliveries_signal"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["channel", "status", "next_attempt"])


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("signals")
    op.drop_table("criteria")
    op.drop_table("theses")
    op.drop_table("items")
    op.drop_table("sources")
