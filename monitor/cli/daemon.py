"""``monitor run`` (the daemon, once or for good), ``monitor serve`` (the dashboard),
``monitor notify-test``, ``monitor demo`` and ``monitor version``."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Annotated

import typer

from monitor import __version__
from monitor.cli.base import ConfigOption, app, fail, load, log, setup_logging
from monitor.errors import MonitorError


@app.command()
def run(
    config: ConfigOption = None,
    once: Annotated[bool, typer.Option("--once", help="Run one full cycle and exit.")] = False,
    tick: Annotated[float, typer.Option(help="Seconds between scheduler ticks.")] = 15.0,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    log_format: Annotated[
        str, typer.Option(help="text (UTC ISO timestamps) or json (one object per line).")
    ] = "text",
    ops_port: Annotated[
        int | None,
        typer.Option(help="Serve /metrics and /healthz on this port (0: any free one)."),
    ] = None,
    ops_host: Annotated[str, typer.Option(help="Address of the ops endpoints.")] = "127.0.0.1",
) -> None:
    """Poll the sources, match new items, store signals and send alerts."""
    from monitor.scheduler import request_stop, run_daemon
    from monitor.service import Service

    if log_format not in ("text", "json"):
        raise typer.BadParameter("text or json", param_hint="--log-format")
    setup_logging(log_level, log_format)
    stop = threading.Event()  # SIGTERM/SIGINT at any point from here on: stop within seconds
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda s, _f: request_stop(stop, s))
    log.info("starting (pid %d)", os.getpid())
    try:
        cfg, env = load(config)
        service = Service(cfg, env, stop=stop)
        service.start(daemon=True)
    except MonitorError as e:
        raise fail(e) from e
    try:
        if once:
            report = service.run_cycle()
            typer.echo(report.summary(), err=True)
            for name, error in report.failed.items():
                typer.echo(f"source {name} failed: {error}", err=True)
        else:
            ops = (ops_host, ops_port) if ops_port is not None else None
            run_daemon(service, tick=tick, stop=stop, install_signal_handlers=False, ops=ops)
    except MonitorError as e:
        raise fail(e) from e
    finally:
        service.close()
    if stop.is_set():  # asked to stop: no helper thread (a name lookup, say) may delay it
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


@app.command("notify-test")
def notify_test(config: ConfigOption = None) -> None:
    """Send a sample alert through each route's destinations and report each result
    (exit 1 if any failed). Records nothing."""
    from monitor.notify.selftest import notify_test as run_test

    try:
        cfg, env = load(config)
        results = run_test(cfg.routing, env.values, sys.stdout)
    except MonitorError as e:
        raise fail(e) from e
    for r in results:
        state = "ok" if r.ok else "FAILED"
        typer.echo(f"route {r.route} → {r.destination} ({r.channel}): {state}: {r.detail}")
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on; any but loopback needs MONITOR_WEB_TOKEN.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free one).")] = 8080,
    allow_feedback: Annotated[
        bool,
        typer.Option(
            "--allow-feedback", help="Let the signal pages record verdicts (opens it writable)."
        ),
    ] = False,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Serve the web dashboard (thesis board, signal log, sources, JSON under /api/),
    read-only unless --allow-feedback; stops cleanly on SIGTERM/SIGINT."""
    from monitor.app import open_monitor
    from monitor.web.server import TOKEN_VAR, DashboardError, make_server, run_server

    setup_logging(log_level)
    token = os.environ.get(TOKEN_VAR) or None  # the environment only: never a file or flag
    try:
        monitor = open_monitor(config=config, read_only=not allow_feedback)
    except MonitorError as e:
        raise fail(e) from e
    try:
        try:
            server = make_server(monitor, host, port, token=token, allow_feedback=allow_feedback)
        except DashboardError as e:
            raise fail(e) from e
        except OSError as e:
            typer.echo(f"error: cannot listen on {host}:{port}: {e.strerror or e}", err=True)
            raise typer.Exit(2) from e
        mode = "feedback enabled" if allow_feedback else "read-only"
        stop = threading.Event()  # SIGTERM/SIGINT: stop within the server's poll interval
        previous = {
            s: signal.signal(s, lambda _s, _f: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)
        }
        typer.echo(f"dashboard on {server.url} ({mode}); Ctrl-C stops it", err=True)
        try:
            run_server(server, stop)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    finally:
        monitor.close()


@app.command()
def demo(config: ConfigOption = None) -> None:
    """Offline demo: serve bundled feeds locally, run the real pipeline, print alerts."""
    from monitor.demo import run_demo

    setup_logging("WARNING")
    try:
        cfg, _ = load(config)
        run_demo(cfg.rule_paths, sys.stdout)
    except MonitorError as e:
        raise fail(e) from e


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)
