"""Thesis turns, as a part of :class:`~monitor.store.SqlStore`: when a thesis's momentum
crossed its dead band (``monitor.analysis.momentum``), recorded once and announced once.

Decisions:

* A turn is unique per (thesis, direction, first day on the new side): the daemon checks
  every few minutes and records what it finds; finding it again changes nothing, so
  replicas sharing PostgreSQL record it once.
* Announcing is an outbox of its own: a turn stays unannounced (``notified_at`` NULL) until
  the notifier accepted the notice, so a Slack outage delays it and loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update

from monitor.store.base import StorePart
from monitor.store.tables import thesis_turns as turns_t
from monitor.types import ThesisTurn


class TurnQueries(StorePart):
    """The turn methods of the store (mixed into SqlStore, which provides the rest)."""

    def record_turns(self, turns: Sequence[ThesisTurn], now: datetime) -> int:
        """Record the turns not recorded yet; returns how many were new."""
        rows = [
            {
                "thesis_id": t.thesis_id,
                "direction": t.direction,
                "turned_on": t.turned_on,
                "momentum": t.momentum,
                "created_at": now,
            }
            for t in turns
        ]
        with self._transaction("recording thesis turns") as conn:
            return len(self._insert_many(conn, turns_t, rows, (turns_t.c.id,)))

    def unannounced_turns(self) -> list[ThesisTurn]:
        """Turns whose notice was not accepted yet, oldest first."""
        with self._transaction("reading thesis turns", write=False) as conn:
            rows = conn.execute(
                select(turns_t).where(turns_t.c.notified_at.is_(None)).order_by(turns_t.c.id)
            ).all()
        return [
            ThesisTurn(r.thesis_id, r.direction, r.turned_on, r.momentum, id=r.id) for r in rows
        ]

    def mark_turn_announced(self, turn_id: int, now: datetime) -> None:
        with self._transaction("marking a thesis turn announced") as conn:
            conn.execute(update(turns_t).where(turns_t.c.id == turn_id).values(notified_at=now))
