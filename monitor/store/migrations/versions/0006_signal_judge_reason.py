"""The optional judge's reason on a signal.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

* ``signals.judge_reason``: the one sentence an OpenAI-compatible judge gave when it
  confirmed the match (sanitised); NULL when no judge ran or it fell back to the local score.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMN (no batch table copy), as in 0004
    op.add_column("signals", sa.Column("judge_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("signals") as batch:
        batch.drop_column("judge_reason")
