"""Mutes of alerts by thesis, criterion or source, as a part of :class:`~monitor.store.SqlStore`.

Decisions:

* A mute names its target by ``kind`` and ``value``: ``thesis`` (the thesis id),
  ``criterion`` (``"thesis_id/criterion_id"``) or ``source`` (the source name). Which signals
  a set of mutes holds back is decided in :func:`monitor.decide.mute_for`, not here.
* ``until`` NULL means "until unmuted". Unmuting (:meth:`MuteQueries.lift_mutes`) sets
  ``lifted_at`` instead of deleting: the history of who muted what stays readable.
* Muting a target that already has an active mute lifts that one and adds the new one, in
  one transaction: the latest command wins (``--for 1d`` after ``--for 7d`` shortens it),
  and a target has at most one active mute.
* ``now`` is always given by the caller; an expired mute is simply no longer active (nothing
  rewrites it), so ``list_mutes(include_expired=True)`` shows it with its end time.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, and_, insert, or_, select, update

from monitor.store.base import StorePart
from monitor.store.rows import AnyRow
from monitor.store.tables import criteria as criteria_t
from monitor.store.tables import mutes as mutes_t
from monitor.store.tables import sources as sources_t
from monitor.store.tables import theses as theses_t
from monitor.types import MUTE_KINDS, Mute, MuteKind


class MuteQueries(StorePart):
    """The mute methods of the store (mixed into SqlStore, which provides the rest)."""

    def add_mute(
        self,
        kind: MuteKind,
        value: str,
        *,
        until: datetime | None,
        now: datetime,
        note: str | None = None,
    ) -> Mute:
        """Mute ``kind``/``value`` until ``until`` (None: until unmuted); an active mute of
        the same target is lifted first. Raises ValueError for an unknown kind, an empty
        value or an ``until`` not after ``now``; StorageError if the database refuses."""
        _check_target(kind, value)
        if until is not None and until <= now:
            raise ValueError(f"a mute must end after it starts ({until} is not after {now})")
        with self._transaction(f"muting {kind} {value}") as conn:
            conn.execute(
                update(mutes_t).where(*_same_active(kind, value, now)).values(lifted_at=now)
            )
            row = conn.execute(
                insert(mutes_t)
                .values(kind=kind, value=value, until=until, created_at=now, note=note)
                .returning(*mutes_t.c)
            ).one()
        return _mute(row)

    def lift_mutes(self, kind: MuteKind, value: str, now: datetime) -> int:
        """Unmute ``kind``/``value``: its active mutes get ``lifted_at = now``; returns how
        many (0: nothing was muted)."""
        _check_target(kind, value)
        with self._transaction(f"unmuting {kind} {value}") as conn:
            result = conn.execute(
                update(mutes_t).where(*_same_active(kind, value, now)).values(lifted_at=now)
            )
        return int(result.rowcount or 0)

    def active_mutes(self, now: datetime) -> list[Mute]:
        """The mutes in force at ``now`` (not lifted, no end or ending after ``now``), oldest
        first."""
        return self.list_mutes(now)

    def list_mutes(self, now: datetime, include_expired: bool = False) -> list[Mute]:
        """The active mutes, oldest first; with ``include_expired`` also the lifted and
        expired ones (the history)."""
        query = select(mutes_t).order_by(mutes_t.c.created_at, mutes_t.c.id)
        if not include_expired:
            query = query.where(*_active(now))
        with self._transaction("reading mutes", write=False) as conn:
            return [_mute(r) for r in conn.execute(query)]

    def mute_target_known(self, kind: MuteKind, value: str) -> bool:
        """Whether the database knows the target: a thesis, a criterion
        (``thesis_id/criterion_id``) or a source, active or not."""
        _check_target(kind, value)
        if kind == "thesis":
            query = select(theses_t.c.id).where(theses_t.c.id == value)
        elif kind == "criterion":
            thesis_id, _, criterion_id = value.partition("/")
            query = select(criteria_t.c.id).where(
                criteria_t.c.thesis_id == thesis_id, criteria_t.c.id == criterion_id
            )
        else:
            query = select(sources_t.c.name).where(sources_t.c.name == value)
        with self._transaction(f"looking up {kind} {value}", write=False) as conn:
            return conn.execute(query.limit(1)).first() is not None


def _check_target(kind: str, value: str) -> None:
    if kind not in MUTE_KINDS:
        raise ValueError(f"mute kind must be one of {', '.join(MUTE_KINDS)}, not {kind!r}")
    if not value.strip():
        raise ValueError(f"a {kind} mute needs a {kind} to mute")


def _active(now: datetime) -> list[ColumnElement[bool]]:
    return [
        mutes_t.c.lifted_at.is_(None),
        or_(mutes_t.c.until.is_(None), mutes_t.c.until > now),
    ]


def _same_active(kind: str, value: str, now: datetime) -> list[ColumnElement[bool]]:
    return [and_(mutes_t.c.kind == kind, mutes_t.c.value == value), *_active(now)]


def _mute(r: AnyRow) -> Mute:
    return Mute(
        id=r.id,
        kind=cast(MuteKind, r.kind),
        value=r.value,
        until=r.until,
        created_at=r.created_at,
        note=r.note,
        lifted_at=r.lifted_at,
    )
