"""A fake Slack on loopback that speaks Slack's wire format, for notifier tests.

``POST /api/chat.postMessage`` takes a JSON or form body and a bearer token (or a ``token``
form field), and answers like Slack: ``{"ok": true, "channel": "C123", "ts": ..., "message":
{...}}`` with an increasing ``ts``, ``invalid_auth`` for a wrong token and
``channel_not_found`` for an unknown channel. ``POST /webhook/<path>`` is an incoming
webhook that answers the text ``ok`` (``no_service``, 404, for an unknown path).

Tests can queue failures for the next posts (429 with ``Retry-After``, a 5xx, an ``ok:
false`` error, or an answer dropped after the message was accepted) and read back every
accepted message from :attr:`FakeSlack.messages`. :meth:`FakeSlack.chaos` makes posts fail
at random instead (seeded): a share of 5xx, a 429 every Nth post, and a share of accepted
posts whose answer is dropped (the connection closes without a response).

The read side speaks Slack's wire format too: ``auth.test``, ``conversations.info`` (with
``is_member``, see :attr:`FakeSlack.member`), ``conversations.list`` (paged by ``cursor``)
and ``conversations.history`` (newest first, ``oldest``, ``limit``, ``cursor``, message
``metadata`` only with ``include_all_metadata``), over GET or POST as slack-sdk sends them.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

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

    @property
    def metadata(self) -> dict[str, Any] | None:
        value = self.body.get("metadata")
        if isinstance(value, str):
            value = json.loads(value)
        return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class _Failure:
    status: int
    error: str
    retry_after: int | None = None
    drop: bool = False  # accept the message, then close the connection without answering


@dataclass
class _Chaos:
    rng: random.Random
    error_rate: float
    rate_limit_every: int
    drop_rate: float
    retry_after: int


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
        self.calls: list[str] = []  # every Web API method called, in order
        self.member = True  # conversations.info / list: is the bot in the channel
        self.dropped = 0  # accepted posts whose answer was dropped
        self.missing_scopes: set[str] = set()  # methods answered with missing_scope
        self._chaos: _Chaos | None = None
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

    def queue_dropped_answer(self, times: int = 1) -> None:
        """The next ``times`` posts are accepted, then the connection closes unanswered."""
        self._queue(_Failure(200, "", drop=True), times)

    def chaos(
        self,
        seed: int,
        *,
        error_rate: float = 0.2,
        rate_limit_every: int = 0,
        drop_rate: float = 0.0,
        retry_after: int = 1,
    ) -> None:
        """From now on posts fail at random: ``error_rate`` answer 500, every
        ``rate_limit_every``-th post 429 (``Retry-After: retry_after``), and ``drop_rate``
        of the accepted ones lose their answer."""
        with self._lock:
            self._chaos = _Chaos(
                random.Random(seed), error_rate, rate_limit_every, drop_rate, retry_after
            )

    def calm(self) -> None:
        with self._lock:
            self._chaos = None

    def history(self, channel_id: str) -> list[PostedMessage]:
        """The accepted bot messages of a channel, oldest first."""
        with self._lock:
            return [m for m in self.messages if m.kind == "bot" and m.channel_id == channel_id]

    def _queue(self, failure: _Failure, times: int) -> None:
        with self._lock:
            self._failures.extend([failure] * times)

    # -- request handling (called on server threads) ---------------------------------------
    def _next_failure(self) -> _Failure | None:
        with self._lock:
            self.request_count += 1
            if self._failures:
                return self._failures.popleft()
            chaos = self._chaos
            if chaos is None:
                return None
            if chaos.rate_limit_every and self.request_count % chaos.rate_limit_every == 0:
                return _Failure(429, "ratelimited", chaos.retry_after)
            if chaos.rng.random() < chaos.error_rate:
                return _Failure(500, "internal_error")
            if chaos.rng.random() < chaos.drop_rate:
                return _Failure(200, "", drop=True)
            return None

    def _next_ts(self) -> str:
        with self._lock:
            self._ts_counter += 1
            # Slack's ts is the post's Unix time with a unique fraction
            return f"{int(time.time())}.{self._ts_counter * 100:06d}"

    def _record(self, message: PostedMessage) -> None:
        with self._posted:
            self.messages.append(message)
            self._posted.notify_all()

    def wait_until(
        self, done: Callable[[list[PostedMessage]], bool], timeout: float = 30.0
    ) -> bool:
        """Block until ``done(messages)`` holds (checked at each post), or the timeout."""
        with self._posted:
            return self._posted.wait_for(lambda: done(self.messages), timeout)

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

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            self._api(parts.path, query)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            body = _parse_body(self.headers.get("Content-Type", ""), raw)
            parts = urlsplit(self.path)
            if parts.path == "/api/chat.postMessage":
                fake.calls.append("chat.postMessage")
                self._post_message(body)
            elif parts.path.startswith("/api/"):
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                self._api(parts.path, {**query, **body})
            elif self.path.startswith("/webhook/"):
                self._webhook(self.path.removeprefix("/webhook/"), body)
            else:
                self._answer_text(404, "not found")

        def _authorised(self, body: dict[str, Any]) -> bool:
            auth = self.headers.get("Authorization", "")
            token = (
                auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else body.get("token")
            )
            if not token:
                self._answer_json(200, {"ok": False, "error": "not_authed"})
                return False
            if token != fake.token:
                self._answer_json(200, {"ok": False, "error": "invalid_auth"})
                return False
            return True

        def _api(self, path: str, params: dict[str, Any]) -> None:
            method = path.removeprefix("/api/")
            fake.calls.append(method)
            readers = {
                "auth.test": self._auth_test,
                "conversations.info": self._conversation_info,
                "conversations.list": self._conversation_list,
                "conversations.history": self._conversation_history,
            }
            if method not in readers:
                self._answer_json(404, {"ok": False, "error": "unknown_method"})
            elif method in fake.missing_scopes:
                self._answer_json(200, {"ok": False, "error": "missing_scope"})
            elif self._authorised(params):
                readers[method](params)

        def _auth_test(self, params: dict[str, Any]) -> None:
            self._answer_json(
                200, {"ok": True, "user_id": "U0BOT", "bot_id": "B123", "team": "Fake"}
            )

        def _channel(self, channel_id: str) -> dict[str, Any]:
            names = [n.lstrip("#") for n, c in fake.channels.items() if c == channel_id]
            name = next((n for n in names if not n.startswith(("C", "G"))), channel_id)
            return {"id": channel_id, "name": name, "is_member": fake.member, "is_archived": False}

        def _conversation_info(self, params: dict[str, Any]) -> None:
            channel_id = str(params.get("channel", ""))
            if channel_id not in fake.channels.values():
                self._answer_json(200, {"ok": False, "error": "channel_not_found"})
                return
            self._answer_json(200, {"ok": True, "channel": self._channel(channel_id)})

        def _conversation_list(self, params: dict[str, Any]) -> None:
            ids = sorted(set(fake.channels.values()))
            self._answer_json(
                200,
                {
                    "ok": True,
                    "channels": [self._channel(c) for c in ids],
                    "response_metadata": {"next_cursor": ""},
                },
            )

        def _conversation_history(self, params: dict[str, Any]) -> None:
            channel_id = str(params.get("channel", ""))
            if channel_id not in fake.channels.values():
                self._answer_json(200, {"ok": False, "error": "channel_not_found"})
                return
            oldest = float(params.get("oldest") or 0)
            limit = min(int(params.get("limit") or 100), 1000)
            start = int(params.get("cursor") or 0)
            with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
            newest_first = [
                m for m in reversed(fake.history(channel_id)) if float(m.ts or 0) > oldest
            ]
            page = newest_first[start : start + limit]
            more = start + limit < len(newest_first)
            messages = []
            for m in page:
                message: dict[str, Any] = {"type": "message", "ts": m.ts, "text": m.text or ""}
                if with_metadata and m.metadata is not None:
                    message["metadata"] = m.metadata
                messages.append(message)
            self._answer_json(
                200,
                {
                    "ok": True,
                    "messages": messages,
                    "has_more": more,
                    "response_metadata": {"next_cursor": str(start + limit) if more else ""},
                },
            )

        def _post_message(self, body: dict[str, Any]) -> None:
            failure = fake._next_failure()
            if failure is not None and failure.status != 200:
                headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
                self._answer_json(failure.status, {"ok": False, "error": failure.error}, headers)
                return
            if failure is not None and not failure.drop:
                self._answer_json(200, {"ok": False, "error": failure.error})
                return
            if not self._authorised(body):
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
            if failure is not None and failure.drop:  # accepted; the answer is lost
                with fake._lock:
                    fake.dropped += 1
                self.close_connection = True
                return
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
