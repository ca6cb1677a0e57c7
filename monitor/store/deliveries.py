"""The delivery outbox and route health, as a part of :class:`~monitor.store.SqlStore`.

Decisions:

* One delivery per (signal, channel), queued in the transaction that records the signal, so
  a signal found is an alert owed whatever happens next.
* A channel's queue is sent in order (delivery id): :meth:`DeliveryQueries.due_deliveries`
  stops at the first delivery whose retry time has not come.
* Statuses (``monitor.types.DeliveryStatus``): ``pending`` → ``sending`` (committed *before*
  the post, :meth:`DeliveryQueries.mark_sending`) → ``sent``; ``failed`` when the post
  definitely did not happen (retried); ``sending`` stays when the outcome was lost (a crash,
  a cut connection, a 5xx), and the next attempt first looks for the message; ``rejected``
  when the destination refused that message for good.
* Marking a delivery checks the lease: a replica whose lease ran out and was taken over
  cannot overwrite the new owner's outcome (``owner`` given).
* Route health is one row per channel, written when a check or a delivery finds the route
  broken or working again; ``monitor sources`` and health read it.
"""

from __future__ import annotations

import sys
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, case, func, select, update
from sqlalchemy.engine import Connection

from monitor.errors import StorageError
from monitor.store import leases
from monitor.store.base import StorePart
from monitor.store.rows import AnyRow, signal_columns, signal_join, to_signal
from monitor.store.tables import criteria as criteria_t
from monitor.store.tables import deliveries as deliveries_t
from monitor.store.tables import route_health as route_health_t
from monitor.store.tables import signals as signals_t
from monitor.types import (
    TALLY_DAYS,
    UNSENT_STATUSES,
    Alert,
    DeliveryStatus,
    DeliveryTask,
    QueuedDelivery,
    RouteHealth,
    Signal,
)


class DeliveryQueries(StorePart):
    """The outbox methods of the store (mixed into SqlStore, which provides the rest)."""

    def enqueue_deliveries(self, signal_ids: Sequence[int], channel: str, now: datetime) -> None:
        """One pending delivery per (signal, channel); enqueuing again changes nothing."""
        with self._transaction(f"queueing deliveries to {channel}") as conn:
            self._enqueue(conn, signal_ids, channel, now)

    def _enqueue(
        self,
        conn: Connection,
        signal_ids: Sequence[int],
        channel: str,
        now: datetime,
    ) -> None:
        rows = [
            {
                "signal_id": signal_id,
                "channel": channel,
                "status": "pending",
                "attempts": 0,
                "next_attempt": now,
                "created_at": now,
            }
            for signal_id in signal_ids
        ]
        self._insert_many(conn, deliveries_t, rows)

    def _enqueue_planned(
        self,
        conn: Connection,
        planned: Sequence[tuple[int, Sequence[QueuedDelivery]]],
        now: datetime,
    ) -> None:
        """Deliveries as routing planned them: per signal, one per channel."""
        rows = [
            {
                "signal_id": signal_id,
                "channel": q.channel,
                "status": "muted" if q.muted else "pending",
                "attempts": 0,
                "next_attempt": q.due,
                "created_at": now,
                "digest": q.digest,
                "urgent": q.urgent,
            }
            for signal_id, queued in planned
            for q in queued
        ]
        self._insert_many(conn, deliveries_t, rows)

    def add_more(self, signal_id: int, more: int, channel: str | None = None) -> None:
        """The alert of ``signal_id`` (queued to ``channel``; None: to every channel) also
        stands for ``more`` capped signals (see ``decide.AlertCaps``); a sent one is left
        as it is."""
        where = [
            deliveries_t.c.signal_id == signal_id,
            deliveries_t.c.status.in_(["pending", "failed"]),
        ]
        if channel is not None:
            where.append(deliveries_t.c.channel == channel)
        with self._transaction(f"counting capped signals into the alert of {signal_id}") as conn:
            conn.execute(update(deliveries_t).where(*where).values(more=deliveries_t.c.more + more))

    def requeue_deliveries(self, channel: str, now: datetime, keep: Sequence[str] = ()) -> int:
        """Move unsent deliveries queued for a channel that is no longer configured (the
        Slack settings changed; ``keep``: the channels still configured, ``channel`` among
        them) to ``channel``; returns how many moved. None is dropped; a digest or a held
        alert keeps its time, the rest is due now. One statement: a delivery whose signal
        already has one for ``channel`` stays where it is."""
        kept = {channel, *keep}
        # SQLite and PostgreSQL both read the subqueries before the update changes rows
        taken = (
            select(deliveries_t.c.signal_id)
            .where(deliveries_t.c.channel == channel)
            .scalar_subquery()
        )
        stranded = (
            deliveries_t.c.channel.not_in(sorted(kept)),
            deliveries_t.c.status.in_(UNSENT_STATUSES),
        )
        # a signal stranded on two old channels moves once (its oldest delivery)
        first = (
            select(func.min(deliveries_t.c.id))
            .where(*stranded)
            .group_by(deliveries_t.c.signal_id)
            .scalar_subquery()
        )
        with self._transaction(f"requeueing deliveries to {channel}") as conn:
            result = conn.execute(
                update(deliveries_t)
                .where(
                    *stranded,
                    deliveries_t.c.signal_id.not_in(taken),
                    deliveries_t.c.id.in_(first),
                )
                .values(
                    channel=channel,
                    next_attempt=case(
                        (deliveries_t.c.next_attempt > now, deliveries_t.c.next_attempt),
                        else_=now,
                    ),
                    status="pending",  # a post to the old channel is not one to this one
                )
            )
        return int(result.rowcount or 0)

    def due_deliveries(self, channel: str, now: datetime, limit: int = 100) -> list[DeliveryTask]:
        """The due head of the channel's queue: unsent deliveries in queue order (delivery
        id, i.e. when they were enqueued), up to the first one whose ``next_attempt`` has not
        come. An alert waiting for its retry holds back the younger ones, so alerts go out
        in the order their signals were found, across restarts too."""
        query = (
            select(
                *signal_columns(),
                deliveries_t.c.id.label("delivery_id"),
                deliveries_t.c.channel,
                deliveries_t.c.attempts,
                deliveries_t.c.status,
                deliveries_t.c.last_error,
                deliveries_t.c.next_attempt,
                deliveries_t.c.more,
                deliveries_t.c.created_at.label("delivery_created_at"),
                deliveries_t.c.attempted_at,
                deliveries_t.c.digest,
                deliveries_t.c.urgent,
            )
            .select_from(
                signal_join().join(deliveries_t, deliveries_t.c.signal_id == signals_t.c.id)
            )
            .where(
                deliveries_t.c.channel == channel,
                deliveries_t.c.status.in_(UNSENT_STATUSES),
                leases.free(deliveries_t.c.lease_until, now),  # not in another replica's hands
                # a digest or an alert held by quiet hours that is not due yet is not in the
                # queue's way; a retry not due yet is (it holds back younger ones)
                (deliveries_t.c.next_attempt <= now) | (deliveries_t.c.attempts > 0),
            )
            .order_by(deliveries_t.c.id)
            .limit(limit)
        )
        with self._transaction(f"reading deliveries to {channel}", write=False) as conn:
            rows = conn.execute(query).all()
        due = []
        for r in rows:
            if r.next_attempt is not None and r.next_attempt > now:
                break
            due.append(r)
        tasks = [
            DeliveryTask(
                id=r.delivery_id,
                signal=to_signal(r),
                channel=r.channel,
                attempts=r.attempts,
                status=cast(DeliveryStatus, r.status),
                last_error=r.last_error,
                next_attempt=r.next_attempt,
                more=r.more,
                created_at=r.delivery_created_at,
                attempted_at=r.attempted_at,
                digest=r.digest,
                urgent=bool(r.urgent),
            )
            for r in due
        ]
        if not tasks:
            return tasks
        with self._transaction("reading the context of alerts", write=False) as conn:
            return _with_context(conn, tasks)

    def claim_deliveries(
        self, channel: str, owner: str, now: datetime, lease: timedelta, limit: int = 20
    ) -> list[DeliveryTask]:
        """The due head of the queue (:meth:`due_deliveries`), claimed for ``lease``: rows
        another replica holds are skipped (``SKIP LOCKED``), so no delivery is sent twice
        because two replicas sent it. Marking one sent or failed releases it."""
        head = self.due_deliveries(channel, now, limit)
        with self._transaction(f"claiming deliveries to {channel}") as conn:
            got = leases.claim_deliveries(
                conn,
                [t.id for t in head],
                owner=owner,
                now=now,
                lease=lease,
                postgres=not self._sqlite,
            )
        return [t for t in head if t.id in got]

    def release_deliveries(self, ids: Sequence[int], owner: str | None = None) -> None:
        """Give claimed, unsent deliveries back at once (instead of when the lease ends);
        with ``owner``, only those that are still its own."""
        if not ids:
            return
        where: list[ColumnElement[bool]] = [deliveries_t.c.id.in_(list(ids))]
        if owner is not None:
            where.append(deliveries_t.c.lease_owner == owner)
        with self._transaction("releasing deliveries") as conn:
            conn.execute(
                update(deliveries_t).where(*where).values(lease_owner=None, lease_until=None)
            )

    def mark_sending(
        self,
        delivery_id: int | Sequence[int],
        now: datetime,
        owner: str | None = None,
        lease: timedelta | None = None,
    ) -> None:
        """An attempt begins: committed before the post, so that a crash or a lost answer
        leaves the delivery ``sending`` (outcome unknown), never ``pending``. With ``owner``
        the claim must still be ours and unexpired (StorageError otherwise: another replica
        may have taken it over); ``lease`` renews it from ``now``."""
        values: dict[str, Any] = {"status": "sending", "attempted_at": now}
        if lease is not None:
            values["lease_until"] = now + lease
        self._update_delivery(delivery_id, owner, live_at=now, **values)

    def mark_sent(
        self,
        delivery_id: int | Sequence[int],
        now: datetime,
        ts: str | None,
        owner: str | None = None,
    ) -> None:
        self._finish_attempt(delivery_id, owner, "sent", slack_ts=ts, sent_at=now)

    def mark_failed(
        self,
        delivery_id: int | Sequence[int],
        now: datetime,
        error: str,
        next_attempt: datetime,
        owner: str | None = None,
        *,
        maybe_sent: bool = False,
    ) -> None:
        """The attempt failed; retried at ``next_attempt``. ``maybe_sent``: the post may
        have happened (the status stays ``sending``, so the retry looks for it first)."""
        status = "sending" if maybe_sent else "failed"
        self._finish_attempt(
            delivery_id, owner, status, last_error=error, next_attempt=next_attempt
        )

    def mark_rejected(
        self,
        delivery_id: int | Sequence[int],
        now: datetime,
        error: str,
        owner: str | None = None,
    ) -> None:
        """The destination refused this message for good: set aside, the queue goes on."""
        self._finish_attempt(delivery_id, owner, "rejected", last_error=error)

    def _finish_attempt(
        self, delivery_id: int | Sequence[int], owner: str | None, status: str, **values: Any
    ) -> None:
        """An attempt ended with ``status``: counted, and the claim released."""
        self._update_delivery(
            delivery_id,
            owner,
            lease_owner=None,
            lease_until=None,
            status=status,
            attempts=deliveries_t.c.attempts + 1,
            **values,
        )

    def _update_delivery(
        self,
        delivery_id: int | Sequence[int],
        owner: str | None,
        live_at: datetime | None = None,
        **values: Any,
    ) -> None:
        """One statement for a delivery, or for the deliveries of one message (a group
        or a digest); StorageError unless every one of them was updated."""
        ids = [delivery_id] if isinstance(delivery_id, int) else list(delivery_id)
        where: list[ColumnElement[bool]] = [deliveries_t.c.id.in_(ids)]
        if owner is not None:  # only while the lease is ours
            where.append(deliveries_t.c.lease_owner == owner)
            if live_at is not None:  # and has not run out
                where.append(deliveries_t.c.lease_until > live_at)
        with self._transaction(f"updating delivery {delivery_id}") as conn:
            result = conn.execute(update(deliveries_t).where(*where).values(**values))
            if result.rowcount != len(ids):
                raise StorageError(
                    f"delivery {delivery_id} is unknown or no longer claimed by {owner}"
                    if owner is not None
                    else f"unknown delivery {delivery_id}"
                )

    def unsent_counts(self) -> dict[tuple[str, str], int]:
        """(channel, status) -> deliveries not sent yet (pending, sending, failed)."""
        with self._transaction("counting unsent deliveries", write=False) as conn:
            rows = conn.execute(
                select(deliveries_t.c.channel, deliveries_t.c.status, func.count())
                .where(deliveries_t.c.status.in_(UNSENT_STATUSES))
                .group_by(deliveries_t.c.channel, deliveries_t.c.status)
            )
            return {(channel, status): n for channel, status, n in rows}

    def delivery_counts(self) -> dict[str, int]:
        """Deliveries per status; "pending", "sent" and "failed" are always present."""
        counts = {"pending": 0, "sent": 0, "failed": 0}
        with self._transaction("counting deliveries", write=False) as conn:
            rows = conn.execute(
                select(deliveries_t.c.status, func.count()).group_by(deliveries_t.c.status)
            )
            counts.update({status: n for status, n in rows})
        return counts

    def alert_for(self, signal: Signal) -> Alert:
        """The alert of a stored signal as its delivery rendered it (tally, mixed
        evidence): for re-rendering a message after feedback."""
        task = DeliveryTask(id=0, signal=signal, channel="", attempts=0, status="sent")
        with self._transaction("reading the context of an alert", write=False) as conn:
            return _with_context(conn, [task])[0].alert()

    # -- route health -------------------------------------------------------------------------

    def set_route_health(
        self,
        channel: str,
        now: datetime,
        *,
        error: str | None = None,
        code: str | None = None,
    ) -> RouteHealth:
        """Record a check of ``channel``: healthy without ``error``; returns the state
        before this call (so the caller reports a change once)."""
        with self._transaction(f"recording the health of {channel}") as conn:
            row = conn.execute(
                select(route_health_t).where(route_health_t.c.channel == channel)
            ).first()
            before = _route_health(row) if row is not None else RouteHealth(channel, True)
            failing_since = (before.failing_since or now) if error is not None else None
            values = {
                "healthy": error is None,
                "error": error,
                "code": code,
                "failing_since": failing_since,
                "checked_at": now,
            }
            if row is None:
                conn.execute(route_health_t.insert().values(channel=channel, **values))
            else:
                conn.execute(
                    update(route_health_t)
                    .where(route_health_t.c.channel == channel)
                    .values(**values)
                )
        return before

    def route_health(self) -> list[RouteHealth]:
        """Every channel checked so far, by name, with its unsent deliveries counted."""
        unsent = (
            select(deliveries_t.c.channel, func.count().label("unsent"))
            .where(deliveries_t.c.status.in_(UNSENT_STATUSES))
            .group_by(deliveries_t.c.channel)
            .subquery()
        )
        query = (
            select(route_health_t, func.coalesce(unsent.c.unsent, 0).label("unsent"))
            .select_from(
                route_health_t.outerjoin(unsent, unsent.c.channel == route_health_t.c.channel)
            )
            .order_by(route_health_t.c.channel)
        )
        with self._transaction("reading route health", write=False) as conn:
            return [_route_health(r) for r in conn.execute(query)]


def _route_health(r: AnyRow) -> RouteHealth:
    return RouteHealth(
        channel=r.channel,
        healthy=bool(r.healthy),
        error=r.error,
        code=r.code,
        failing_since=r.failing_since,
        checked_at=r.checked_at,
        unsent=int(getattr(r, "unsent", 0) or 0),
    )


def _with_context(conn: Connection, tasks: list[DeliveryTask]) -> list[DeliveryTask]:
    """Each task with its thesis's running tally (signals of its polarity in the
    ``TALLY_DAYS`` up to it) and the other-polarity criteria its item also supports: two
    set-based reads for the whole batch, whatever its size."""
    signals = [t.signal for t in tasks]
    theses = sorted({s.thesis_id for s in signals})
    oldest = min(s.created_at for s in signals) - timedelta(days=TALLY_DAYS)
    newest = max(s.created_at for s in signals)
    times: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
    for thesis_id, polarity, created, signal_id in conn.execute(
        select(
            signals_t.c.thesis_id, signals_t.c.polarity, signals_t.c.created_at, signals_t.c.id
        ).where(
            signals_t.c.thesis_id.in_(theses),
            signals_t.c.created_at >= oldest,
            signals_t.c.created_at <= newest,
        )
    ):
        times.setdefault((thesis_id, polarity), []).append((created, signal_id))
    for found in times.values():
        found.sort()
    siblings: dict[tuple[int, str], list[tuple[str, str, str]]] = {}
    for item_id, thesis_id, polarity, criterion_id, text in conn.execute(
        select(
            signals_t.c.item_id,
            signals_t.c.thesis_id,
            signals_t.c.polarity,
            signals_t.c.criterion_id,
            criteria_t.c.text,
        )
        .select_from(
            signals_t.join(
                criteria_t,
                (criteria_t.c.thesis_id == signals_t.c.thesis_id)
                & (criteria_t.c.id == signals_t.c.criterion_id),
            )
        )
        .where(
            signals_t.c.item_id.in_(sorted({s.item_id for s in signals})),
            signals_t.c.polarity.in_(["confirm", "kill"]),
        )
        .order_by(signals_t.c.id)
    ):
        siblings.setdefault((item_id, thesis_id), []).append((polarity, criterion_id, text))
    out = []
    for task in tasks:
        s = task.signal
        since = s.created_at - timedelta(days=TALLY_DAYS)
        # those in (since, the signal]; signals found together share a time: the id breaks
        # the tie (1st, 2nd, 3rd). Sorted once, counted by bisection: a busy thesis's
        # months of signals cost a sort per claim, not a scan per delivery
        found = times.get((s.thesis_id, s.polarity), [])
        tally = bisect_right(found, (s.created_at, s.id)) - bisect_right(
            found, (since, sys.maxsize)
        )
        mixed = tuple(
            other for other in siblings.get((s.item_id, s.thesis_id), []) if other[0] != s.polarity
        )
        out.append(replace(task, tally=max(tally, 1), mixed_with=mixed))
    return out
