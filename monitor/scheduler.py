"""APScheduler wiring only.

One job, ``poll``, ticks every ``tick`` seconds and runs a cycle (alerts are delivered by
the service's delivery thread, woken when a cycle queues some); the cycle polls the
sources whose own interval (or backoff) has come, as the store records it, so every
source is polled on its interval and a failing one backs off. Rule files are re-read
on every tick. ``max_instances=1`` and ``coalesce`` keep cycles from overlapping.

SIGTERM/SIGINT set a stop event. The running cycle sees it at its next step (fetches in
flight are cancelled at once, a transaction under way commits or rolls back whole) and ends;
what it had not committed is done again on the next start, so nothing is lost. The daemon
waits up to ``STOP_GRACE_SECONDS`` for that, then exits anyway (a database or Slack call
stuck past its own timeout must not keep the process alive past systemd's stop timeout).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from monitor.ops import OpsServer
from monitor.service import Service

log = logging.getLogger(__name__)

DEFAULT_TICK_SECONDS = 15.0
STOP_GRACE_SECONDS = 8.0
STALE_AFTER_SECONDS = 900.0  # /healthz fails when no cycle ended for this long (or 20 ticks)


def run_daemon(
    service: Service,
    *,
    tick: float = DEFAULT_TICK_SECONDS,
    stop: threading.Event | None = None,
    install_signal_handlers: bool = True,
    ops: tuple[str, int] | None = None,
) -> None:
    """Run until ``stop``; ``ops`` = (host, port): serve /metrics and /healthz there."""
    stop = stop or service.stop
    if install_signal_handlers:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda s, _frame: request_stop(stop, s))
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(
        service.run_cycle_safely,
        "interval",
        seconds=tick,
        id="poll",
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    if stop.is_set():  # asked to stop while starting up
        log.info("stopped before the first cycle")
        return
    deliveries = service.start_deliveries()
    stale_after = max(STALE_AFTER_SECONDS, 20 * tick)
    server = (
        OpsServer(service.metrics, lambda: service.health(stale_after), *ops).start()
        if ops is not None
        else None
    )
    scheduler.start()
    log.info("daemon started: polling every %.0fs (each source on its own interval)", tick)
    try:
        while not stop.wait(timeout=1.0):
            pass
    finally:
        log.info("stopping: ending the running cycle (what it did not commit is redone later)")
        service.stop.set()
        if server is not None:
            server.close()
        scheduler.shutdown(wait=False)
        if not service.wait_idle(STOP_GRACE_SECONDS) or not deliveries.join(STOP_GRACE_SECONDS):
            log.error(
                "the running cycle or delivery did not end within %.0fs; exiting",
                STOP_GRACE_SECONDS,
            )
            logging.shutdown()
            os._exit(0)  # its uncommitted work is redone on the next start
        log.info("stopped")


def request_stop(stop: threading.Event, signum: int) -> None:
    log.info("received %s", signal.Signals(signum).name)
    stop.set()
