"""Thesis turns: when a thesis's momentum crossed its dead band, and whether it was announced.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

* ``thesis_turns``: per (thesis, direction "up"/"down", first day on the new side), the
  momentum then, when it was found and when its notice was accepted (NULL: not yet).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "thesis_turns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("thesis_id", sa.Text(), nullable=False),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("turned_on", sa.Text(), nullable=False),
        sa.Column("momentum", sa.Float(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("notified_at", TS, nullable=True),
        sa.UniqueConstraint("thesis_id", "direction", "turned_on", name="uq_thesis_turns"),
    )


def downgrade() -> None:
    op.drop_table("thesis_turns")
