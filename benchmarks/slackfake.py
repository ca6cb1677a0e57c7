"""A minimal fake of Slack's ``chat.postMessage`` on loopback that timestamps every message.

Same wire format as ``tests/fakeslack.py`` (bearer token, JSON or form body, an answer
``{"ok": true, "channel": ..., "ts": ..., "message": {...}}``), reduced to what the alert
latency benchmark needs, and without pytest. :attr:`SlackFake.received` holds
``(time.time() when the request arrived, raw request body)`` per accepted message.

The server runs on a daemon thread and stops on :meth:`SlackFake.stop`, on leaving the
``with`` block, or by itself after ``max_seconds``.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

TOKEN = "xoxb-bench-0000-fake"
CHANNEL = "#bench"


class SlackFake:
    def __init__(self, token: str = TOKEN, max_seconds: float = 3600.0) -> None:
        self.token = token
        self.received: list[tuple[float, str]] = []
        self.rejected = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._timer = threading.Timer(max_seconds, self._server.shutdown)
        self._timer.daemon = True
        self._stopped = False

    @property
    def base_url(self) -> str:
        """For ``SLACK_API_URL``: ``http://127.0.0.1:PORT/api/``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def start(self) -> SlackFake:
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def messages(self) -> list[tuple[float, str]]:
        with self._lock:
            return list(self.received)

    def _accept(self, when: float, raw: str) -> int:
        with self._lock:
            self.received.append((when, raw))
            return len(self.received)

    def __enter__(self) -> SlackFake:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _handler(fake: SlackFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            when = time.time()
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if self.path != "/api/chat.postMessage":
                self._answer(404, {"ok": False, "error": "unknown_method"})
                return
            if self.headers.get("Content-Type", "").startswith("application/json"):
                body: dict[str, Any] = json.loads(raw or "{}")
            else:
                body = {k: v[0] for k, v in parse_qs(raw).items()}
            auth = self.headers.get("Authorization", "")
            token = (
                auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else body.get("token")
            )
            if token != fake.token:
                fake.rejected += 1
                self._answer(200, {"ok": False, "error": "invalid_auth"})
                return
            if not body.get("channel") or not (body.get("text") or body.get("blocks")):
                fake.rejected += 1
                self._answer(200, {"ok": False, "error": "no_text"})
                return
            number = fake._accept(when, raw)
            ts = f"1700000000.{number:06d}"
            message = {"type": "message", "text": body.get("text", ""), "ts": ts}
            self._answer(200, {"ok": True, "channel": "C0BENCH", "ts": ts, "message": message})

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
