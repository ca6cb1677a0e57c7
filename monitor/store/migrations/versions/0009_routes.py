"""Routes: digests and urgent alerts.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

* ``deliveries.digest``: the key of the digest message that carries the delivery (route
  name and due time); NULL for a message of its own.
* ``deliveries.urgent``: a kill signal at or above ``severity.kill_score``, delivered at
  once past digests, quiet hours and mutes.
* Status ``muted`` (text, no schema change): recorded while a mute held it back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMN (no batch table copy), as in 0004
    op.add_column("deliveries", sa.Column("digest", sa.Text(), nullable=True))
    op.add_column(
        "deliveries",
        sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("urgent")
        batch.drop_column("digest")
