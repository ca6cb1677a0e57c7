"""Mutes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08

* ``mutes``: alerts held back by thesis, criterion (``thesis_id/criterion_id``) or source,
  until ``until`` (NULL: until unmuted). Unmuting sets ``lifted_at``: the history is kept.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mutes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("until", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("lifted_at", TS, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_mutes_kind_value", "mutes", ["kind", "value"])


def downgrade() -> None:
    op.drop_index("ix_mutes_kind_value", table_name="mutes")
    op.drop_table("mutes")
