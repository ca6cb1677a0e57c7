"""``monitor demo``: the whole product, offline, in a few seconds.

Serves the bundled sample feeds (``monitor/data/demo/``) from a loopback HTTP server, runs
one real pipeline cycle into a throwaway SQLite database with the configured rules, prints
each alert as the console notifier renders it, then the signal table and thesis summary.
"""

from __future__ import annotations

import functools
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

from monitor.notify.console import ConsoleNotifier
from monitor.review import print_signals, print_theses
from monitor.service import Service
from monitor.settings import Config, Environment
from monitor.types import SourceConfig

DEMO_DIR = Path(__file__).parent / "data" / "demo"
DEMO_FEEDS = {
    "ai-research-wire.xml": "AI Research Wire",
    "energy-desk.atom": "Energy Desk",
    "markets-brief.json": "Markets Brief",
}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port); yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def run_demo(rule_paths: Sequence[Path], out: TextIO) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="monitor-demo-") as tmp,
        serve_directory(DEMO_DIR) as base,
    ):
        sources = tuple(
            SourceConfig(name=name, url=f"{base}/{file}") for file, name in DEMO_FEEDS.items()
        )
        config = Config(path=Path(tmp) / "demo.yaml", sources=sources, rule_paths=tuple(rule_paths))
        env = Environment.from_mapping(
            {"DATABASE_URL": f"sqlite:///{Path(tmp) / 'demo.db'}", "MONITOR_DATA_DIR": tmp}
        )
        service = Service(config, env, notifier=ConsoleNotifier(out))
        try:
            for problem in service.start():
                out.write(f"rule problem: {problem}\n")
            out.write(
                f"Demo: {len(sources)} sample feeds served from {base}, "
                f"{len(service.rulebook.theses)} thesis(es) from the rule files.\n\n"
                "Alerts (as the console notifier prints them until Slack is configured):\n\n"
            )
            report = service.run_cycle()
            out.write(f"\n{report.summary()}\n\nSignal history (`monitor signals`):\n\n")
            print_signals(service.store.list_signals(limit=200), "table", out)
            out.write("\nTheses (`monitor theses`):\n\n")
            print_theses(service.store.thesis_summaries(service.clock()), out)
        finally:
            service.close()
