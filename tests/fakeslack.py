"""A fake Slack on loopback that speaks Slack's wire format, for notifier tests.

``POST /api/chat.postMessage`` takes a JSON or form body and a bearer token (or a ``token``
form field), and answers like Slack: ``{"ok": true, "channel": "C123", "ts": ..., "message":
{...}}`` with an increasing ``ts``, ``invalid_auth`` for a wrong token and
``channel_not_found`` for an unknown channel. ``POST /webhook/<path>`` is an incoming
webhook that answers the text ``ok`` (``no_service``, 404, for an unknown path).

Tests can queue failures for the next requests (429 with ``Retry-After``, a 5xx, or an
``ok: false`` error) and read back every accepted message from :attr:`FakeSlack.messages`.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

DEFAULT_TOKEN = "xoxb-fake-0000-secret"
DEFAULT_CHANNELS = {"#investing": "C123", "investing": "C123", "C123": "C123"}
DEFAULT_WEBHOOK_PATH = "T000/B000/fakewebhooksecret"
_WEBHOOK_ERROR_STATUS = {
    "no_service": 404,
    "action_prohibited": 403,
    "channel_is_archived": 410,
    "invalid_token": 403,
}


@dataclass(frozen=True)
class PostedMessage:
    """One message the fake accepted. ``kind`` is "bot" or "webhook"."""

    kind: str
    channel: str | None  # as requested (bot only)
    channel_id: str | None  # as resolved (bot only)
    text: str | None
    blocks: list[dict[str, Any]] | None
    body: dict[str, Any]
    ts: str | None


@dataclass(frozen=True)
class _Failure:
    status: int
    error: str
    retry_after: int | None = None


class FakeSlack:
    """A threaded HTTP server on 127.0.0.1 (port 0); use as a context manager or fixture."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        channels: dict[str, str] | None = None,
        webhook_path: str = DEFAULT_WEBHOOK_PATH,
    ) -> None:
        self.token = token
        self.channels = dict(DEFAULT_CHANNELS if channels is None else channels)
        self.webhook_path = webhook_path
        self.messages: list[PostedMessage] = []
        self.request_count = 0
        self._failures: deque[_Failure] = deque()
        self._ts_counter = 0
        self._lock = threading.Lock()
        self._posted = threading.Condition(self._lock)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        # a short poll interval only makes shutdown() return quickly
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The Web API base URL to pass as ``base_url`` (``http://127.0.0.1:PORT/api/``)."""
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook/{self.webhook_path}"

    # -- scripting -------------------------------------------------------------------------
    def queue_rate_limit(self, times: int = 1, retry_after: int = 30) -> None:
        """The next ``times`` requests answer 429 with ``Retry-After: retry_after``."""
        self._queue(_Failure(429, "ratelimited", retry_after), times)

    def queue_server_error(self, times: int = 1, status: int = 500) -> None:
        """The next ``times`` requests answer ``status`` (a 5xx)."""
        self._queue(_Failure(status, "internal_error"), times)

    def queue_api_error(self, error: str, times: int = 1) -> None:
        """The next ``times`` requests answer ``ok: false`` with ``error`` (a webhook: 4xx)."""
        self._queue(_Failure(200, error), times)

    def _queue(self, failure: _Failure, times: int) -> None:
        with self._lock:
            self._failures.extend([failure] * times)

    # -- request handling (called on server threads) ---------------------------------------
    def _next_failure(self) -> _Failure | None:
        with self._lock:
            self.request_count += 1
            return self._failures.popleft() if self._failures else None

    def _next_ts(self) -> str:
        with self._lock:
            self._ts_counter += 1
            return f"1700000000.{self._ts_counter * 100:06d}"

    def _record(self, message: PostedMessage) -> None:
        with self._posted:
            self.messages.append(message)
            self._posted.notify_all()

    def wait_for_messages(self, count: int, timeout: float = 30.0) -> bool:
        """Block until at least ``count`` messages were accepted (woken by each post)."""
        with self._posted:
            return self._posted.wait_for(lambda: len(self.messages) >= count, timeout)


def _parse_body(content_type: str, raw: bytes) -> dict[str, Any]:
    if content_type.startswith("application/json"):
        parsed = json.loads(raw.decode("utf-8") or "{}")
        return parsed if isinstance(parsed, dict) else {}
    form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8")).items()}
    body: dict[str, Any] = dict(form)
    if isinstance(form.get("blocks"), str):
        body["blocks"] = json.loads(form["blocks"])
    return body


def _make_handler(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            body = _parse_body(self.headers.get("Content-Type", ""), raw)
            if self.path == "/api/chat.postMessage":
                self._post_message(body)
            elif self.path.startswith("/api/"):
                self._answer_json(404, {"ok": False, "error": "unknown_method"})
            elif self.path.startswith("/webhook/"):
                self._webhook(self.path.removeprefix("/webhook/"), body)
            else:
                self._answer_text(404, "not found")

        def _post_message(self, body: dict[str, Any]) -> None:
            failure = fake._next_failure()
            if failure is not None and failure.status != 200:
                headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
                self._answer_json(failure.status, {"ok": False, "error": failure.error}, headers)
                return
            if failure is not None:
                self._answer_json(200, {"ok": False, "error": failure.error})
                return
            auth = self.headers.get("Authorization", "")
            token = (
                auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else body.get("token")
            )
            if not token:
                self._answer_json(200, {"ok": False, "error": "not_authed"})
                return
            if token != fake.token:
                self._answer_json(200, {"ok": False, "error": "invalid_auth"})
                return
            channel = str(body.get("channel", ""))
            channel_id = fake.channels.get(channel)
            if channel_id is None:
                self._answer_json(200, {"ok": False, "error": "channel_not_found"})
                return
            if not body.get("text") and not body.get("blocks"):
                self._answer_json(200, {"ok": False, "error": "no_text"})
                return
            ts = fake._next_ts()
            fake._record(
                PostedMessage(
                    kind="bot",
                    channel=channel,
                    channel_id=channel_id,
                    text=body.get("text"),
                    blocks=body.get("blocks"),
                    body=body,
                    ts=ts,
                )
            )
            message = {
                "type": "message",
                "bot_id": "B123",
                "text": body.get("text", ""),
                "blocks": body.get("blocks", []),
                "ts": ts,
            }
            self._answer_json(
                200, {"ok": True, "channel": channel_id, "ts": ts, "message": message}
            )

        def _webhook(self, path: str, body: dict[str, Any]) -> None:
            failure = fake._next_failure()
            if failure is not None:
                status = failure.status
                if status == 200:
                    status = _WEBHOOK_ERROR_STATUS.get(failure.error, 400)
                headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
                self._answer_text(status, failure.error, headers)
                return
            if path != fake.webhook_path:
                self._answer_text(404, "no_service")
                return
            if not body.get("text") and not body.get("blocks"):
                self._answer_text(400, "no_text")
                return
            fake._record(
                PostedMessage(
                    kind="webhook",
                    channel=None,
                    channel_id=None,
                    text=body.get("text"),
                    blocks=body.get("blocks"),
                    body=body,
                    ts=None,
                )
            )
            self._answer_text(200, "ok")

        def _answer_json(
            self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            self._answer(status, json.dumps(payload).encode(), "application/json", headers)

        def _answer_text(
            self, status: int, text: str, headers: dict[str, str] | None = None
        ) -> None:
            self._answer(status, text.encode(), "text/plain; charset=utf-8", headers)

        def _answer(
            self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A running :class:`FakeSlack` with the default token, channels and webhook path."""
    with FakeSlack() as slack:
        yield slack
