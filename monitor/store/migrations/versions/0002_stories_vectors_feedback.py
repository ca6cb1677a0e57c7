"""Story dedupe, signal similarity, item vectors and analyst feedback.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

* ``items.story_id``: the first item of the story an item repeats.
* ``signals.story_id`` (backfilled from ``item_id``) and ``signals.similarity``; signals become
  unique per (story, thesis, criterion) instead of per item.
* ``signal_sources``: every item of a signal's story (backfilled with each signal's own item).
* ``item_vectors``: embeddings per (item, model).
* ``signal_feedback``: useful/noise verdicts with notes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
        batch.create_index("ix_items_story_id", ["story_id"])
    with op.batch_alter_table("signals") as batch:
        batch.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("similarity", sa.Float(), nullable=True))
    op.execute("UPDATE signals SET story_id = item_id")
    with op.batch_alter_table("signals") as batch:
        batch.alter_column("story_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_constraint("uq_signals_match", type_="unique")
        batch.create_unique_constraint(
            "uq_signals_story", ["story_id", "thesis_id", "criterion_id"]
        )
    op.create_table(
        "signal_sources",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("signal_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("signal_id", "item_id", name="uq_signal_sources"),
        sa.ForeignKeyConstraint(["signal_id"], ["signals.id"], name="fk_signal_sources_signal"),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_signal_sources_item"),
    )
    op.execute(
        "INSERT INTO signal_sources (signal_id, item_id, created_at) "
        "SELECT id, item_id, created_at FROM signals"
    )
    op.create_table(
        "item_vectors",
        sa.Column("item_id", sa.Integer(), primary_key=True),
        sa.Column("model", sa.Text(), primary_key=True),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_item_vectors_item"),
    )
    op.create_table(
        "signal_feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("signal_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["signal_id"], ["signals.id"], name="fk_signal_feedback_signal"),
    )
    op.create_index("ix_signal_feedback_signal_id", "signal_feedback", ["signal_id"])


def downgrade() -> None:
    op.drop_table("signal_feedback")
    op.drop_table("item_vectors")
    op.drop_table("signal_sources")
    with op.batch_alter_table("signals") as batch:
        batch.drop_constraint("uq_signals_story", type_="unique")
        batch.create_unique_constraint("uq_signals_match", ["item_id", "thesis_id", "criterion_id"])
        batch.drop_column("similarity")
        batch.drop_column("story_id")
    with op.batch_alter_table("items") as batch:
        batch.drop_index("ix_items_story_id")
        batch.drop_column("story_id")
