"""The delivery outbox at work: claims due deliveries and sends them, paced, retried, once.

:class:`Outbox` sends one channel's queue through its notifier. Decisions:

* **Pacing.** A channel gets about one message per second (``decide.CHANNEL_INTERVAL``) with
  bursts of up to :data:`BURST` (a token bucket), the rate Slack documents for posting to a
  channel. Pacing and patience run on a monotonic :class:`Timer`; the injected wall clock
  only dates what is stored, so tests drive both without sleeping.
* **Retries** (``decide.next_delivery_attempt``): a 429 waits exactly ``Retry-After``; a 5xx,
  a timeout or a refused connection retries after about a second, doubling, with jitter. The
  queue keeps its order: the failed delivery holds the younger ones back until its retry.
  ``patience`` is how long one call may wait for those retries: the daemon's delivery thread
  waits (so 200 alerts through a 20 % 5xx storm take minutes, not hours); a cycle run once
  stops at the first failure and leaves the rest queued.
* **Effectively once.** Each message carries, in its metadata, the keys of the deliveries
  it carries (``DeliveryTask.key``). A delivery is marked ``sending`` *before* its post,
  with its claim renewed and checked (a replica whose lease ran out cannot post it); a
  crash or a lost answer leaves it so. Before the next attempt the claimed deliveries whose
  outcome is unknown are looked up in one scan of the channel's history (``find_posted_keys``,
  back to the earliest attempt) and those found are recorded as sent, not posted again, so
  a later attempt may group them differently without a duplicate. A group or digest is
  posted as messages that each render as one Slack message, each recorded as it is posted.
  After a cut connection the post is looked for at once; after a timeout (Slack may still be
  posting it) only after :data:`TIMEOUT_LOOK`. Notifiers that cannot look (webhooks) are
  at-least-once.
* **Route faults** (a bad token, an unknown channel, the bot not in it): every alert would
  fail the same way, so the route is marked unhealthy in the store (``monitor sources`` shows
  it), reported once at ERROR with what to do, and checked again every :data:`RECHECK`
  (``Notifier.check``; Slack: ``auth.test`` and the channel). Signals are still recorded and
  queued meanwhile; delivery resumes by itself once a check passes.
* **A message the destination refuses for good** (too long, bad blocks, any ``ok: false``
  that is neither the route's fault nor Slack's own trouble) is set aside as ``rejected``
  and reported at ERROR; the queue goes on. The signal stays in the history. An unexpected
  error (a bug) is retried, then set aside after :data:`MAX_UNEXPECTED` attempts, so no
  delivery can hold a channel's queue for ever.
* A failure of the store while marking an outcome is logged and the round ends; the lease
  runs out and the delivery, still ``sending``, is looked for before it is posted again.
* The daemon delivers from its own thread (:class:`DeliveryWorker`), so a Slack outage or
  pacing never delays polling, and a cycle that queued alerts wakes it at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from monitor import decide
from monitor.errors import MonitorError, NotifyError, StorageError
from monitor.notify import Notifier, VerifyingNotifier
from monitor.notify.grouped import group_messages
from monitor.notify.routes import BURST as BURST_PREFIX
from monitor.notify.slack import NO_ANSWER, TIMED_OUT
from monitor.redact import mask_urls_in
from monitor.types import AlertGroup, DeliveryReceipt, DeliveryTask, RouteHealth

log = logging.getLogger(__name__)

BURST = 4  # messages a channel may get at once before pacing starts
RECHECK = timedelta(minutes=1)  # how often a broken route is checked again
LOOKBACK = timedelta(minutes=5)  # history searched before an attempt, for clock skew
CLAIM = 50  # deliveries claimed at a time (a digest's are sent together)
GROUP = 10  # alerts of one thesis found together (a burst) go out as one message
STORAGE_REST = timedelta(seconds=5)  # the wait after the database failed us
TIMEOUT_LOOK = timedelta(seconds=10)  # after a timed-out post, before looking for it
MAX_UNEXPECTED = 5  # attempts that end in an unexpected error before it is set aside


class DeliveryStore(Protocol):
    """The store's outbox part (``monitor.store.SqlStore`` implements it); StorageError."""

    def claim_deliveries(
        self, channel: str, owner: str, now: datetime, lease: timedelta, limit: int = 20
    ) -> list[DeliveryTask]: ...
    def release_deliveries(self, ids: Sequence[int], owner: str | None = None) -> None: ...
    def mark_sending(
        self,
        delivery_id: int | Sequence[int],
        now: datetime,
        owner: str | None = None,
        lease: timedelta | None = None,
    ) -> None: ...
    def mark_sent(
        self,
        delivery_id: int | Sequence[int],
        now: datetime,
        ts: str | None,
        owner: str | None = None,
    ) -> None: ...
    def mark_failed(
        self,
        delivery_id: int | Sequence[int],
        now: datetime,
        error: str,
        next_attempt: datetime,
        owner: str | None = None,
        *,
        maybe_sent: bool = False,
    ) -> None: ...
    def mark_rejected(
        self,
        delivery_id: int | Sequence[int],
        now: datetime,
        error: str,
        owner: str | None = None,
    ) -> None: ...
    def set_route_health(
        self, channel: str, now: datetime, *, error: str | None = None, code: str | None = None
    ) -> RouteHealth: ...


class Timer:
    """Monotonic seconds and an interruptible wait (``wait`` returns True when stopped)."""

    def __init__(self, stop: threading.Event | None = None) -> None:
        self.stop = stop or threading.Event()

    def now(self) -> float:
        return time.monotonic()

    def wait(self, seconds: float, stop: threading.Event | None = None) -> bool:
        """Wait ``seconds``, or less when ``stop`` (default: the timer's own) is set."""
        return (stop or self.stop).wait(max(seconds, 0.0))


@dataclass
class RoundReport:
    sent: int = 0
    failed: int = 0
    rejected: int = 0
    recovered: int = 0  # an earlier attempt had posted it: recorded, not posted again


class Outbox:
    """Sends the due deliveries of ``notifier.channel``; one per channel and process."""

    def __init__(
        self,
        store: DeliveryStore,
        notifier: Notifier,
        *,
        owner: str,
        lease: timedelta,
        clock: Callable[[], datetime],
        timer: Timer | None = None,
        interval: timedelta = decide.CHANNEL_INTERVAL,
        burst: int = BURST,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.owner = owner
        self.lease = lease
        self.clock = clock
        self.timer = timer or Timer()
        self.interval = interval.total_seconds()
        self.burst = burst
        self._tokens = float(burst)
        self._refilled = self.timer.now()
        self._deadline = 0.0  # the running round's patience ends (timer seconds)
        self._stop: threading.Event | None = None
        self.paused_until: datetime | None = None  # the head delivery's retry time
        # (channel, outcome, seconds from signal to post): the daemon's metrics
        self.observe: Callable[[str, str, float | None], None] | None = None
        self.route_problem: NotifyError | None = None
        self._next_check = 0.0  # timer seconds

    def set_pace(self, interval: timedelta, burst: int) -> None:
        """At most one message per ``interval`` after a burst of ``burst`` (config
        ``delivery``)."""
        self.interval = interval.total_seconds()
        self.burst = burst
        self._tokens = float(burst)

    @property
    def channel(self) -> str:
        return self.notifier.channel

    # -------------------------------------------------------------------------- route health

    def check_route(self) -> bool:
        """Check the destination now (``Notifier.check``) and record the outcome; True when
        it is usable. A failure is reported at ERROR once, a recovery at WARNING."""
        try:
            problem = self.notifier.check()
        except Exception as e:  # a check must never take the daemon down
            problem = NotifyError(self.channel, f"the check failed: {e}")
        if problem is not None and problem.fault != "route":
            problem = None  # Slack unreachable now: not the route's fault; delivery retries
        self._record_route(problem)
        return problem is None

    def _record_route(self, problem: NotifyError | None) -> None:
        now = self.clock()
        self._next_check = self.timer.now() + RECHECK.total_seconds()
        try:
            before = self.store.set_route_health(
                self.channel,
                now,
                error=problem.message if problem is not None else None,
                code=problem.code if problem is not None else None,
            )
        except StorageError as e:
            log.error("%s: cannot record the route's health: %s", self.channel, e)
            before = RouteHealth(self.channel, self.route_problem is None)
        was_broken = self.route_problem is not None or not before.healthy
        if problem is not None and (not was_broken or before.code != problem.code):
            log.error(
                "alerts to %s cannot be delivered: %s. Signals are still recorded and queued; "
                "delivery resumes by itself once this is fixed (checked every %d s)",
                self.channel,
                problem.message,
                RECHECK.total_seconds(),
            )
        elif problem is None and was_broken:
            log.warning(
                "alerts to %s can be delivered again: sending the queued ones", self.channel
            )
        self.route_problem = problem

    # --------------------------------------------------------------------------------- rounds

    def run_round(self, stop: threading.Event | None = None, patience: float = 0.0) -> RoundReport:
        """Send due deliveries, oldest first, until none is due, the route is broken, or a
        wait (pacing, a retry) would end after ``patience`` seconds from now."""
        report = RoundReport()
        deadline = self.timer.now() + patience
        while not _stopped(stop):
            broken = self.route_problem is not None
            if broken and (self.timer.now() < self._next_check or not self.check_route()):
                break
            if self.paused_until is not None:
                wait = (self.paused_until - self.clock()).total_seconds()
                if wait > 0 and not self._wait(wait, deadline, stop):
                    break
                self.paused_until = None
            try:
                claimed = self.store.claim_deliveries(
                    self.channel, self.owner, self.clock(), self.lease, CLAIM
                )
            except StorageError as e:
                log.error("%s: cannot read the delivery queue: %s", self.channel, e)
                break
            if not claimed:
                break
            try:
                claimed = self._recover(claimed, report)
            except NotifyError as e:  # history cannot be read now: wait, post nothing
                self._release(claimed)
                head = min(claimed, key=lambda t: t.id)
                self.paused_until = decide.next_delivery_attempt(
                    self.clock(), head.attempts + 1, e.retry_after, key=head.key
                )
                log.warning("%s: %s; retrying at %s", self.channel, e, self.paused_until)
                continue
            batch = units(claimed)
            self._deadline, self._stop = deadline, stop
            for n, unit in enumerate(batch):
                try:
                    if _stopped(stop):
                        raise _Halt
                    delivered = self.deliver_unit(unit, report)
                except _Halt:  # stopped, or out of patience before a post: give them back
                    self._release([t for u in batch[n:] for t in u])
                    return report
                if not delivered:  # marking it released it
                    self._release([t for u in batch[n + 1 :] for t in u])
                    break  # wait for its retry (within patience), or end the round
        return report

    def _release(self, tasks: Sequence[DeliveryTask]) -> None:
        try:
            self.store.release_deliveries([t.id for t in tasks], self.owner)
        except StorageError as e:  # their leases run out instead
            log.warning("%s: cannot release claimed deliveries: %s", self.channel, e)

    def _wait(self, seconds: float, deadline: float, stop: threading.Event | None) -> bool:
        """Wait ``seconds`` if that ends by ``deadline``; False when it would not, or when
        stopped meanwhile."""
        if self.timer.now() + seconds > deadline:
            return False
        return not self.timer.wait(seconds, stop) and not _stopped(stop)

    def _before_post(self) -> None:
        """Pace the post about to be made (history lookups are not posts: not paced);
        raises _Halt when the wait would outlast the round's patience or it was stopped."""
        if not self._pace(self._deadline, self._stop):
            raise _Halt

    def _pace(self, deadline: float, stop: threading.Event | None) -> bool:
        """Take a token of the channel's bucket, waiting for one if need be."""
        now = self.timer.now()
        if self.interval > 0:
            self._tokens = min(self.burst, self._tokens + (now - self._refilled) / self.interval)
        else:
            self._tokens = float(self.burst)
        self._refilled = now
        if self._tokens < 1.0:
            if not self._wait((1.0 - self._tokens) * self.interval, deadline, stop):
                return False
            self._tokens = 1.0
            self._refilled = self.timer.now()
        self._tokens -= 1.0
        return True

    # ------------------------------------------------------------------------------- one

    def deliver_unit(self, unit: Sequence[DeliveryTask], report: RoundReport) -> bool:
        """One message: a single alert, or a group (burst or digest) of several."""
        if len(unit) == 1 and (unit[0].digest or BURST_PREFIX).startswith(BURST_PREFIX):
            return self.deliver(unit[0], report)
        return self.deliver_group(unit, report)

    def deliver_group(self, unit: Sequence[DeliveryTask], report: RoundReport) -> bool:
        """Send several deliveries as messages of a group or digest: each message carries a
        known set of deliveries (the unit is halved until each renders as one message) and
        names them all in its metadata, so a lost answer is found whatever the grouping of
        a later attempt. Each message is recorded as it is posted."""
        digest = None
        head = unit[0]
        if head.digest and not head.digest.startswith(BURST_PREFIX):
            digest = f"Digest · {head.digest.split('@', 1)[0]}"
        chunks = _one_message_chunks(list(unit), digest)
        for n, chunk in enumerate(chunks):
            if not self._deliver_message(chunk, digest, report):
                self._release([t for c in chunks[n + 1 :] for t in c])
                return False
        return True

    def _deliver_message(
        self, chunk: Sequence[DeliveryTask], digest: str | None, report: RoundReport
    ) -> bool:
        def prepare() -> Callable[[], DeliveryReceipt]:
            group = AlertGroup(tuple(t.alert() for t in chunk), digest=digest)
            keys = [t.key for t in chunk]
            return lambda: self.notifier.send_group(group, key=chunk[0].key, keys=keys)

        return self._post(chunk, prepare, report)

    def deliver(self, task: DeliveryTask, report: RoundReport) -> bool:
        """Send one claimed delivery and record the outcome; False when the round should
        stop (the delivery is to be retried later, or the route is broken)."""

        def prepare() -> Callable[[], DeliveryReceipt]:
            alert = task.alert()
            return lambda: self.notifier.send(alert, key=task.key)

        return self._post([task], prepare, report)

    def _post(
        self,
        tasks: Sequence[DeliveryTask],
        prepare: Callable[[], Callable[[], DeliveryReceipt]],
        report: RoundReport,
    ) -> bool:
        """One message carrying ``tasks``: ``prepare`` renders it (a rendering bug fails
        before anything is marked) and gives the call that posts it. Marked ``sending``
        before the post, ``sent`` after; False when the round should stop."""
        ids = [t.id for t in tasks]
        signals = [t.signal.id for t in tasks]
        # an earlier attempt may have posted them: a notifier that verifies has looked
        # (:meth:`_recover`); one that cannot keeps the outcome unknown until a post is
        # known to have failed
        unknown = any(t.outcome_unknown for t in tasks) and not self.notifier.verifies
        try:
            send = prepare()
            self._before_post()
            self.store.mark_sending(ids, self.clock(), self.owner, self.lease)
            receipt = send()
        except _Halt:
            raise
        except StorageError as e:  # the database is down: rest before trying again
            log.error("alerts of signals %s: %s; retried later", signals, e)
            self.paused_until = self.clock() + STORAGE_REST
            return False
        except Exception as e:  # NotifyError, or a library surprise: never lose the alerts
            self._failed(tasks[0], e, report, unknown, ids=ids)
            return isinstance(e, NotifyError) and e.fault == "message"  # set aside: go on
        try:
            self.store.mark_sent(ids, self.clock(), receipt.ts, self.owner)
        except StorageError as e:  # left "sending": the next attempt finds it posted
            log.error("signals %s were posted but not recorded as sent: %s", signals, e)
            self.paused_until = self.clock() + STORAGE_REST
            return False
        report.sent += len(tasks)
        self._observe("sent", tasks)
        return True

    def _observe(self, outcome: str, tasks: Sequence[DeliveryTask]) -> None:
        if self.observe is None:
            return
        now = self.clock()
        for task in tasks:
            self.observe(self.channel, outcome, (now - task.signal.created_at).total_seconds())

    def _recover(self, claimed: Sequence[DeliveryTask], report: RoundReport) -> list[DeliveryTask]:
        """Of the claimed deliveries, those still to post: the ones whose earlier attempt
        lost its outcome and that the channel's history shows posted are recorded as sent
        (one history scan for all, back to the earliest attempt). NotifyError when history
        cannot be read now (nothing is posted then)."""
        unknown = [t for t in claimed if t.outcome_unknown]
        if not unknown or not self.notifier.verifies:
            return list(claimed)
        notifier: VerifyingNotifier = self.notifier  # type: ignore[assignment]
        since = min(t.attempted_at or t.created_at or self.clock() for t in unknown) - LOOKBACK
        found = notifier.find_posted_keys([t.key for t in unknown], since)
        for task in unknown:
            receipt = found.get(task.key)
            if receipt is None:
                continue
            self.store.mark_sent(task.id, self.clock(), receipt.ts, self.owner)
            report.recovered += 1
            self._observe("recovered", [task])
            log.info(
                "signal %d had already been posted to %s (ts %s) by an attempt whose answer "
                "was lost: recorded as sent, not posted again",
                task.signal.id,
                self.channel,
                receipt.ts,
            )
        return [t for t in claimed if t.key not in found]

    def _failed(
        self,
        task: DeliveryTask,
        e: Exception,
        report: RoundReport,
        unknown: bool,
        *,
        ids: Sequence[int] | None = None,
    ) -> None:
        marked: int | Sequence[int] = task.id if ids is None else ids
        now = retry_at = self.clock()
        if not isinstance(e, NotifyError):  # a bug (rendering, a library): bounded retries
            log.exception("alert for signal %d: unexpected error", task.signal.id)
            fault: Literal["message", "transient"] = (
                "message" if task.attempts + 1 >= MAX_UNEXPECTED else "transient"
            )
            reason = mask_urls_in(f"unexpected error: {type(e).__name__}: {e}", [])
            e = NotifyError(self.channel, reason, fault=fault, maybe_sent=fault == "transient")
        maybe_sent = e.maybe_sent or unknown
        try:
            if e.fault == "message":
                self.store.mark_rejected(marked, now, str(e), self.owner)
                report.rejected += 1
                self._observe("rejected", [task])
                log.error(
                    "alert for signal %d was refused by %s and set aside (%s); the signal "
                    "stays in `monitor signals`",
                    task.signal.id,
                    self.channel,
                    e.message,
                )
                return
            if e.fault == "route":
                retry_at = now  # due as soon as the route works again
            elif e.code == NO_ANSWER and task.attempts == 0:
                # the answer was lost, not refused: look for the post at once (a history
                # read, not a post); a second loss in a row backs off as usual
                retry_at = now
                self.paused_until = None
            else:
                retry_at = decide.next_delivery_attempt(
                    now, task.attempts + 1, e.retry_after, key=task.key
                )
                if e.code == TIMED_OUT:  # Slack may still be posting it: look later
                    retry_at = max(retry_at, now + TIMEOUT_LOOK)
                self.paused_until = retry_at
            self.store.mark_failed(marked, now, str(e), retry_at, self.owner, maybe_sent=maybe_sent)
        except MonitorError as stored:
            log.error("alert for signal %d: cannot record the failure: %s", task.signal.id, stored)
        report.failed += 1
        self._observe("failed", [task])
        if e.fault == "route":
            self._record_route(e)
            return
        log.warning(
            "alert for signal %d not delivered (%s); retrying at %s",
            task.signal.id,
            e,
            retry_at.isoformat() if retry_at > now else "once (looking for it first)",
        )


class _Halt(Exception):
    """The round ends before a post: stopped, or its patience would run out."""


def _stopped(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


class DeliveryWorker:
    """The daemon's delivery thread: runs :meth:`Outbox.run_round` with ``patience`` while
    there is work, else waits until woken (:meth:`wake`, after a cycle queued alerts) or
    for ``idle`` seconds. Stops at ``stop`` (SIGTERM) within one wait; a post in flight ends
    within the notifier's timeout, and if the process exits first, that delivery is left
    ``sending`` and looked for before it is posted again."""

    def __init__(
        self,
        outbox: Outbox,
        stop: threading.Event,
        *,
        patience: float = 30.0,
        idle: float = 1.0,
    ) -> None:
        self.outbox = outbox
        self.stop = stop
        self.patience = patience
        self.idle = idle
        self.rounds = 0
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="deliveries", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def join(self, timeout: float) -> bool:
        """Wait for the thread to end (after ``stop``); False when it did not in time."""
        self._wake.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self.stop.is_set():
            self._wake.clear()
            try:
                done = self.outbox.run_round(self.stop, self.patience)
            except Exception:  # a bug must not end delivery for the daemon's lifetime
                log.exception("delivery round failed; retrying")
                done = RoundReport()
            self.rounds += 1
            if done.sent or done.recovered or done.rejected:
                continue  # more may be due at once
            self._wake.wait(self.idle)


class DeliveryWorkers:
    """The daemon's delivery threads, one per channel, started, woken and joined together."""

    def __init__(self, workers: Sequence[DeliveryWorker]) -> None:
        self.workers = list(workers)

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def wake(self) -> None:
        for worker in self.workers:
            worker.wake()

    def join(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(w.join(max(deadline - time.monotonic(), 0.0)) for w in self.workers)


def units(tasks: Sequence[DeliveryTask]) -> list[list[DeliveryTask]]:
    """The claimed deliveries as messages, in queue order (by each message's first one):
    a digest's deliveries together; a burst (where the route groups them), the deliveries
    of one thesis queued in the same batch (same time), up to :data:`GROUP` a message; the
    rest, and urgent ones, alone."""
    out: list[list[DeliveryTask]] = []
    open_units: dict[tuple[object, ...], list[DeliveryTask]] = {}
    for task in tasks:
        if task.digest is None or task.urgent:
            out.append([task])
            continue
        if task.digest.startswith(BURST_PREFIX):  # the route groups bursts of one thesis
            key: tuple[object, ...] = ("burst", task.digest, task.signal.thesis_id, task.created_at)
        else:
            key = ("digest", task.digest)
        unit = open_units.get(key)
        if unit is None or (key[0] == "burst" and len(unit) >= GROUP):
            unit = []
            open_units[key] = unit
            out.append(unit)
        unit.append(task)
    return out


def _one_message_chunks(tasks: list[DeliveryTask], digest: str | None) -> list[list[DeliveryTask]]:
    """``tasks`` cut into runs that each render as one Slack message (halving a run that
    would not; one alert always fits)."""
    group = AlertGroup(tuple(t.alert() for t in tasks), digest=digest)
    if len(tasks) == 1 or len(group_messages(group)) == 1:
        return [tasks]
    middle = len(tasks) // 2
    return _one_message_chunks(tasks[:middle], digest) + _one_message_chunks(tasks[middle:], digest)
