"""APScheduler wiring only.

One job, ``poll``, ticks every ``tick`` seconds and runs a cycle; the cycle polls the
sources whose own interval (or backoff) has come, as the store records it, so every
source is polled on its interval and a failing one backs off. Rule files are re-read
on every tick. ``max_instances=1`` and ``coalesce`` keep cycles from overlapping.

SIGTERM/SIGINT set a stop event; the scheduler then shuts down waiting for the running
cycle, so in-flight writes finish before the process exits.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from monitor.service import Service

log = logging.getLogger(__name__)

DEFAULT_TICK_SECONDS = 15.0


def run_daemon(
    service: Service,
    *,
    tick: float = DEFAULT_TICK_SECONDS,
    stop: threading.Event | None = None,
    install_signal_handlers: bool = True,
) -> None:
    stop = stop or threading.Event()
    if install_signal_handlers:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda s, _frame: _request_stop(stop, s))
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
    scheduler.start()
    log.info("daemon started: polling every %.0fs (each source on its own interval)", tick)
    try:
        while not stop.wait(timeout=1.0):
            pass
    finally:
        log.info("stopping: waiting for the running cycle to finish")
        scheduler.shutdown(wait=True)
        log.info("stopped")


def _request_stop(stop: threading.Event, signum: int) -> None:
    log.info("received %s", signal.Signals(signum).name)
    stop.set()
