"""Effectively-once delivery and route health.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

* ``deliveries.attempted_at``: when the latest post attempt started. A delivery whose status
  is ``sending`` was being posted when its outcome was lost (a crash, a cut connection): the
  next attempt looks for it in the channel before posting again.
* ``route_health``: per delivery channel, whether it works, and since when and why not.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # plain ADD COLUMN (no batch table copy), as in 0004
    op.add_column("deliveries", sa.Column("attempted_at", TS, nullable=True))
    op.create_table(
        "route_health",
        sa.Column("channel", sa.Text(), primary_key=True),
        sa.Column("healthy", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("code", sa.Text(), nullable=True),
        sa.Column("failing_since", TS, nullable=True),
        sa.Column("checked_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("route_health")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("attempted_at")
