"""A fake Slack Socket Mode on loopback: the Web API calls a listener makes, and the websocket.

Two servers on 127.0.0.1 (port 0), as Slack has them:

* HTTP, ``POST /api/apps.connections.open`` with the app token (``Authorization: Bearer
  xapp-…``) answers ``{"ok": true, "url": "ws://127.0.0.1:PORT/link"}`` (``invalid_auth``
  for another token); ``POST /api/chat.update`` with the bot token records the update
  (:attr:`FakeSocketMode.updates`) and answers like Slack.
* A websocket (the ``websockets`` library's threaded server) at ``/link`` that sends Slack's
  ``hello`` on connect, lets a test :meth:`~FakeSocketMode.push` an envelope (see
  :func:`block_actions`), and records every acknowledgement (``{"envelope_id": …}``).

Everything a test waits for (a connection, an ack, an update) is a condition with a timeout:
nothing sleeps.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

APP_TOKEN = "xapp-1-fake-0000-secret"
BOT_TOKEN = "xoxb-fake-0000-secret"
TIMEOUT = 10.0


def block_actions(
    action_id: str,
    value: str,
    *,
    user: dict[str, Any] | None = None,
    channel: str = "C123",
    ts: str = "1700000000.000100",
    block_id: str | None = None,
    envelope_id: str | None = None,
) -> dict[str, Any]:
    """An ``interactive`` envelope with a ``block_actions`` payload, shaped like Slack's."""
    return {
        "envelope_id": envelope_id or str(uuid.uuid4()),
        "type": "interactive",
        "accepts_response_payload": False,
        "payload": {
            "type": "block_actions",
            "user": user or {"id": "U111", "username": "ann", "name": "ann", "team_id": "T1"},
            "api_app_id": "A1",
            "team": {"id": "T1", "domain": "example"},
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "channel": {"id": channel, "name": "investing"},
            "message": {"type": "message", "ts": ts, "text": "alert", "blocks": []},
            "trigger_id": "1.2.3",
            "response_url": "https://hooks.slack.invalid/actions/T1/1/x",
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": block_id if block_id is not None else f"monitor_feedback:{value}",
                    "value": value,
                    "action_ts": "1700000001.000200",
                }
            ],
        },
    }


class FakeSocketMode:
    """Use as a context manager or through the ``fake_socket_mode`` fixture."""

    def __init__(self, app_token: str = APP_TOKEN, bot_token: str = BOT_TOKEN) -> None:
        self.app_token = app_token
        self.bot_token = bot_token
        self.acks: list[str] = []  # envelope ids acknowledged, in order
        self.updates: list[dict[str, Any]] = []  # chat.update bodies, in order
        self.calls: list[str] = []  # Web API methods called, in order
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._connections: list[ServerConnection] = []
        self._ws: Server = serve(self._socket, "127.0.0.1", 0)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._http.daemon_threads = True
        self._threads = [
            threading.Thread(target=self._ws.serve_forever, daemon=True),
            threading.Thread(
                target=self._http.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
            ),
        ]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/api/"

    @property
    def socket_url(self) -> str:
        return f"ws://127.0.0.1:{self._ws.socket.getsockname()[1]}/link"

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeSocketMode:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._ws.shutdown()
        self._http.shutdown()
        self._http.server_close()
        for thread in self._threads:
            thread.join(TIMEOUT)

    def __enter__(self) -> FakeSocketMode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what a test does ------------------------------------------------------------------
    def push(self, envelope: dict[str, Any]) -> str:
        """Send an envelope to the connected client (waiting for one); returns its id."""
        with self._changed:
            if not self._changed.wait_for(lambda: bool(self._connections), TIMEOUT):
                raise AssertionError("no Socket Mode client connected")
            connection = self._connections[-1]
        connection.send(json.dumps(envelope))
        return str(envelope.get("envelope_id", ""))

    def push_raw(self, text: str) -> None:
        """Send any text frame (for hostile input)."""
        with self._changed:
            if not self._changed.wait_for(lambda: bool(self._connections), TIMEOUT):
                raise AssertionError("no Socket Mode client connected")
            connection = self._connections[-1]
        connection.send(text)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
        """Wait until ``predicate()`` (called under the fake's lock) holds."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def wait_ack(self, envelope_id: str, timeout: float = TIMEOUT) -> bool:
        return self.wait_for(lambda: envelope_id in self.acks, timeout)

    def wait_updates(self, count: int, timeout: float = TIMEOUT) -> bool:
        return self.wait_for(lambda: len(self.updates) >= count, timeout)

    # -- the websocket ---------------------------------------------------------------------
    def _socket(self, connection: ServerConnection) -> None:
        if connection.request is None or not connection.request.path.startswith("/link"):
            connection.close(code=1008, reason="unknown path")
            return
        connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "fake", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": "A1"},
                }
            )
        )
        with self._changed:
            self._connections.append(connection)
            self._changed.notify_all()
        try:
            for message in connection:
                try:
                    data = json.loads(message)
                except ValueError:
                    continue
                if isinstance(data, dict) and isinstance(data.get("envelope_id"), str):
                    with self._changed:
                        self.acks.append(data["envelope_id"])
                        self._changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                self._connections.remove(connection)
                self._changed.notify_all()

    # -- the Web API -----------------------------------------------------------------------
    def _api(self, method: str, token: str | None, body: dict[str, Any]) -> dict[str, Any]:
        with self._changed:
            self.calls.append(method)
            self._changed.notify_all()
        if method == "apps.connections.open":
            if token != self.app_token:
                return {"ok": False, "error": "invalid_auth"}
            return {"ok": True, "url": self.socket_url}
        if method == "chat.update":
            if token != self.bot_token:
                return {"ok": False, "error": "invalid_auth"}
            if not body.get("channel") or not body.get("ts"):
                return {"ok": False, "error": "cant_update_message"}
            for key in ("blocks", "metadata"):
                if isinstance(body.get(key), str):
                    body[key] = json.loads(body[key])
            with self._changed:
                self.updates.append(body)
                self._changed.notify_all()
            answer = {"channel": body["channel"], "ts": body["ts"], "text": body.get("text")}
            return {"ok": True, **answer}
        return {"ok": False, "error": "unknown_method"}


def _make_handler(fake: FakeSocketMode) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8") if length else ""
            body: dict[str, Any]
            if "json" in (self.headers.get("Content-Type") or ""):
                body = json.loads(raw or "{}")
            else:
                body = {k: v[-1] for k, v in parse_qs(raw).items()}
            auth = self.headers.get("Authorization") or ""
            token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
            token = token or body.pop("token", None)
            method = self.path.removeprefix("/api/").split("?")[0]
            answer = json.dumps(fake._api(method, token, body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    return Handler


@pytest.fixture
def fake_socket_mode() -> Iterator[FakeSocketMode]:
    """A started fake Socket Mode (Web API and websocket), stopped after the test."""
    with FakeSocketMode() as fake:
        yield fake
