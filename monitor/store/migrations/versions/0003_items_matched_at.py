"""Items remember when they were matched, so a failure between storing an item and
storing its signals is retried on the next cycle instead of losing them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_items_unmatched", ["matched_at", "id"])
    op.execute("UPDATE items SET matched_at = first_seen")  # items before 0003 were matched


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_index("ix_items_unmatched")
        batch.drop_column("matched_at")
