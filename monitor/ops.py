"""Operations: Prometheus metrics, ``/healthz`` and log formats for the daemon.

``monitor run --ops-port PORT [--ops-host HOST]`` serves, from a thread of its own:

* ``GET /metrics``: Prometheus text format (``prometheus_client``, a registry of this
  daemon's own, not the library's global one): polls by source and outcome, poll errors by
  source, items stored, signals by polarity, deliveries by channel and outcome, unsent
  deliveries by channel and status (read from the database at each scrape), and histograms
  of cycle duration and delivery latency (signal found → posted).
* ``GET /healthz``: JSON. ``200`` with ``"status": "ok"``, or ``"degraded"`` when sources or
  alert routes fail (named in the body: the daemon itself is fine, restarting it would not
  help); ``503`` with ``"status": "failing"`` when the database is unreachable or no cycle
  has finished within ``stale_after`` (the scheduler is stuck). Kubernetes probes and the
  Docker healthcheck read the status code.

It binds 127.0.0.1 unless told otherwise: metrics name sources and theses.

Log lines (``setup_logging``) carry ISO 8601 timestamps in UTC with the offset
(``2026-12-01T13:45:02.123+00:00``); ``--log-format json`` writes one JSON object per line
(``ts``, ``level``, ``logger``, ``message``, ``exc`` when there is a traceback), for log
shippers. Messages are the same ones, so secrets stay out of both.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)
CYCLE_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)


class Metrics:
    """The daemon's metrics, in a registry of their own."""

    def __init__(self, unsent: Callable[[], Mapping[tuple[str, str], int]] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.polls = Counter(
            "monitor_polls",
            "Source polls by outcome",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.poll_errors = Counter(
            "monitor_poll_errors", "Failed polls by source", ["source"], registry=self.registry
        )
        self.items = Counter("monitor_items", "New items stored", registry=self.registry)
        self.signals = Counter(
            "monitor_signals", "Signals recorded by polarity", ["polarity"], registry=self.registry
        )
        self.deliveries = Counter(
            "monitor_deliveries",
            "Delivery attempts by channel and outcome (sent, recovered, failed, rejected)",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.cycle_seconds = Histogram(
            "monitor_cycle_seconds",
            "Duration of a poll cycle (fetch, store, match, queue)",
            buckets=CYCLE_BUCKETS,
            registry=self.registry,
        )
        self.delivery_latency = Histogram(
            "monitor_delivery_latency_seconds",
            "From a signal found to its alert posted",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        if unsent is not None:
            self.registry.register(_Unsent(unsent))

    def observe_cycle(self, report: Any, seconds: float) -> None:
        """Count what a :class:`~monitor.pipeline.CycleReport` says."""
        for source in report.polled:
            outcome = "error" if source in report.failed else "ok"
            self.polls.labels(source, outcome).inc()
            if outcome == "error":
                self.poll_errors.labels(source).inc()
        self.items.inc(report.new_items)
        for polarity, n in report.polarities.items():
            self.signals.labels(polarity).inc(n)
        self.cycle_seconds.observe(seconds)

    def observe_delivery(self, channel: str, outcome: str, latency: float | None) -> None:
        self.deliveries.labels(channel, outcome).inc()
        if latency is not None and outcome in ("sent", "recovered"):
            self.delivery_latency.labels(channel).observe(max(latency, 0.0))

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))


class _Unsent(Collector):
    """``monitor_deliveries_unsent{channel,status}``, read from the store at each scrape."""

    def __init__(self, read: Callable[[], Mapping[tuple[str, str], int]]) -> None:
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "monitor_deliveries_unsent",
            "Deliveries not sent yet, by channel and status",
            labels=["channel", "status"],
        )
        try:
            counts = self.read()
        except Exception as e:  # a scrape must not fail because the database did
            log.warning("metrics: cannot count unsent deliveries: %s", e)
            counts = {}
        for (channel, status), n in sorted(counts.items()):
            family.add_metric([channel, status], n)
        yield family


class OpsServer:
    """``/metrics`` and ``/healthz`` on ``host:port`` (port 0: any free one) in a thread."""

    def __init__(
        self,
        metrics: Metrics,
        health: Callable[[], tuple[int, dict[str, Any]]],
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.metrics = metrics
        self.health = health
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> OpsServer:
        self._thread.start()
        host, port = self.address
        log.info("ops endpoints on http://%s:%d (/metrics, /healthz)", host, port)
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(ops: OpsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # scrapes are not news
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._answer(200, ops.metrics.render(), CONTENT_TYPE)
            elif path == "/healthz":
                try:
                    status, body = ops.health()
                except Exception as e:  # the health check itself broke: say so
                    status, body = 503, {"status": "failing", "error": str(e)}
                self._answer(status, json.dumps(body).encode(), "application/json")
            else:
                self._answer(404, b"not found: try /metrics or /healthz\n", "text/plain")

        def _answer(self, status: int, data: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


# -- logging ---------------------------------------------------------------------------------


class _UtcFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(_UtcFormatter):
    """One JSON object per line: ts, level, logger, message (and exc)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Logs to stderr at ``level``, as text with UTC ISO timestamps, or as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(_UtcFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for noisy in ("httpx", "httpcore", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def health_report(
    *,
    database: Callable[[], None],
    last_cycle: float | None,
    started: float,
    stale_after: float,
    failing_sources: Callable[[], list[str]],
    failing_routes: Callable[[], list[dict[str, Any]]],
    now: float | None = None,
) -> tuple[int, dict[str, Any]]:
    """The ``/healthz`` answer (status code, body); see the module docstring."""
    now = time.monotonic() if now is None else now
    body: dict[str, Any] = {}
    problems = []
    try:
        database()
        body["database"] = "ok"
    except Exception as e:
        body["database"] = f"unreachable: {e}"
        problems.append("database")
    since = now - (last_cycle if last_cycle is not None else started)
    body["last_cycle_seconds_ago"] = round(since, 1) if last_cycle is not None else None
    body["scheduler"] = "ok" if since <= stale_after else f"no cycle ended for {since:.0f} s"
    if since > stale_after:
        problems.append("scheduler")
    try:
        body["failing_sources"] = failing_sources()
        body["failing_routes"] = failing_routes()
    except Exception as e:
        body["failing_sources"] = body["failing_routes"] = f"unknown: {e}"
    if problems:
        body["status"] = "failing"
        return 503, body
    degraded = bool(body["failing_sources"]) or bool(body["failing_routes"])
    body["status"] = "degraded" if degraded else "ok"
    return 200, body
