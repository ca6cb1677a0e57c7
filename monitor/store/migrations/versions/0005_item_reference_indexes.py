"""Indexes on the columns that refer to items, so retention finds unreferenced items (and
PostgreSQL checks the foreign keys of a deleted item) without scanning whole tables.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_signals_item_id", "signals", ["item_id"])
    op.create_index("ix_signal_sources_item_id", "signal_sources", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_signal_sources_item_id", "signal_sources")
    op.drop_index("ix_signals_item_id", "signals")
