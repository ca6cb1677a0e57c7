"""Replicas, per-thesis matching progress, capped alerts, adaptive polling.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

* ``sources.lease_owner``/``lease_until``: the replica polling a due source, until when.
* ``sources.learned_interval_seconds``: the interval learnt from how often the source
  publishes (within configured bounds); ``sources.parked_since``: failing for a day.
* ``deliveries.lease_owner``/``lease_until``: the replica sending a delivery, until when.
* ``deliveries.more``: how many further capped signals this alert summarises.
* ``signals.backfilled``: found by matching a new or changed thesis against older items.
* ``thesis_progress``: per thesis, the rule version (digest) and the last item id matched
  against it, so a thesis whose file fails to load holds back its items instead of losing them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # plain ADD COLUMN (no batch table copy): SQLite would otherwise drop and recreate tables
    # that other tables' foreign keys point at
    op.add_column("sources", sa.Column("lease_owner", sa.Text(), nullable=True))
    op.add_column("sources", sa.Column("lease_until", TS, nullable=True))
    op.add_column("sources", sa.Column("learned_interval_seconds", sa.Float(), nullable=True))
    op.add_column("sources", sa.Column("parked_since", TS, nullable=True))
    op.add_column("deliveries", sa.Column("lease_owner", sa.Text(), nullable=True))
    op.add_column("deliveries", sa.Column("lease_until", TS, nullable=True))
    op.add_column("deliveries", sa.Column("more", sa.Integer(), nullable=False, server_default="0"))
    op.add_column(
        "signals",
        sa.Column("backfilled", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "thesis_progress",
        sa.Column("thesis_id", sa.Text(), primary_key=True),
        sa.Column("digest", sa.Text(), nullable=False),
        sa.Column("through_item_id", sa.Integer(), nullable=False),
        sa.Column("backfill_until_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    # the active theses have been matched up to the first item still unmatched: their rows
    # take the current rules as they are (digest "*"), so the upgrade backfills nothing
    op.execute(
        "INSERT INTO thesis_progress"
        " (thesis_id, digest, through_item_id, backfill_until_id, updated_at)"
        " SELECT id, '*', p.through, p.through, updated_at FROM theses,"
        " (SELECT COALESCE((SELECT MIN(id) - 1 FROM items WHERE matched_at IS NULL),"
        " (SELECT MAX(id) FROM items), 0) AS through) AS p"
        " WHERE theses.active"
    )


def downgrade() -> None:
    op.drop_table("thesis_progress")
    with op.batch_alter_table("signals") as batch:
        batch.drop_column("backfilled")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("more")
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("parked_since")
        batch.drop_column("learned_interval_seconds")
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
