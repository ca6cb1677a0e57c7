"""A real HTTP feed server on loopback for tests: configurable routes, recorded requests.

Usage::

    from tests.feedserver import FeedServer, feed_server  # the fixture

    def test_x(feed_server: FeedServer) -> None:
        url = feed_server.add("/feed.xml", b"<rss .../>", content_type="application/rss+xml",
                              etag='"v1"')
        ...
        assert feed_server.requests[-1].headers["User-Agent"].startswith("signal-monitor/")

Routes can answer 304 to a matching conditional request (``etag`` / ``last_modified``),
redirect, stream a huge body, or hang until the server stops (a ``threading.Event`` is waited
on, never a sleep; teardown sets it so that no handler thread outlives the test).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

import pytest

HUGE_CHUNK = 64 * 1024
SHUTDOWN_POLL = 0.01  # how often serve_forever checks for shutdown: keeps teardown fast


@dataclass
class Route:
    """What the server answers on one path."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    huge_bytes: int | None = None  # stream this many bytes of filler instead of ``body``
    hang: bool = False
    held: bool = False  # answer ``body`` only once ``FeedServer.release`` is set
    drip: float | None = None  # send ``body`` one byte per this many seconds


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # names as sent; look up case-insensitively via ``header``

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the fetcher opens dozens of connections at once

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client closing its keep-alive connection: no test's business
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class FeedServer:
    """A threaded ``http.server`` on 127.0.0.1 with an OS-chosen port."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[RecordedRequest] = []
        self.release = threading.Event()
        self._lock = threading.RLock()
        self._arrived = threading.Condition(self._lock)
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def add(
        self,
        path: str,
        body: bytes = b"",
        *,
        status: int = 200,
        content_type: str | None = "application/xml",
        headers: Mapping[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> str:
        """Serve ``body`` on ``path``; returns the full URL."""
        all_headers = dict(headers or {})
        if content_type is not None:
            all_headers.setdefault("Content-Type", content_type)
        self.routes[path] = Route(body, status, all_headers, etag, last_modified)
        return self.url(path)

    def add_redirect(self, path: str, to: str, *, status: int = 302) -> str:
        """Redirect ``path`` to ``to`` (a path on this server or a full URL)."""
        self.routes[path] = Route(status=status, headers={"Location": to})
        return self.url(path)

    def add_huge(self, path: str, size: int, *, declare_length: bool = False) -> str:
        """Stream ``size`` bytes of filler, without Content-Length unless ``declare_length``."""
        headers = {"Content-Type": "application/xml"}
        if declare_length:
            headers["Content-Length"] = str(size)
        self.routes[path] = Route(headers=headers, huge_bytes=size)
        return self.url(path)

    def add_hanging(self, path: str) -> str:
        """Accept the request and send nothing until the server stops."""
        self.routes[path] = Route(hang=True)
        return self.url(path)

    def add_drip(self, path: str, body: bytes, every: float) -> str:
        """Serve ``body`` one byte per ``every`` seconds (a server that never quite answers)."""
        self.routes[path] = Route(body, 200, {"Content-Type": "application/xml"}, drip=every)
        return self.url(path)

    def add_held(self, path: str, body: bytes) -> str:
        """Serve ``body`` on ``path``, but only after ``release`` is set (a slow feed)."""
        self.routes[path] = Route(body, 200, {"Content-Type": "application/xml"}, held=True)
        return self.url(path)

    def wait_for_request(self, path: str, timeout: float = 30.0) -> bool:
        """Block until a request for ``path`` arrived (woken by each request)."""
        with self._arrived:
            return self._arrived.wait_for(lambda: bool(self.requests_to(path)), timeout)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def record(self, request: RecordedRequest) -> None:
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _handler_for(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            server.record(RecordedRequest("GET", self.path, dict(self.headers.items())))
            route = server.routes.get(self.path)
            if route is None:
                self._send(404, {"Content-Type": "text/plain"}, b"no such route\n")
            elif route.hang:
                server.release.wait()
            elif route.drip is not None:
                self._send_drip(route, route.drip)
            elif route.held:
                server.release.wait()
                self._send(200, route.headers, route.body)
            elif _not_modified(route, self.headers):
                self._send(304, _validators(route), b"")
            elif route.huge_bytes is not None:
                self._send_huge(route)
            else:
                self._send(route.status, {**route.headers, **_validators(route)}, route.body)

        def _send(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _send_drip(self, route: Route, every: float) -> None:
            self.send_response(200)
            for name, value in route.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            try:
                for byte in route.body:
                    if server.release.wait(every):  # the pace of the drip; ends at stop
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as it should

        def _send_huge(self, route: Route) -> None:
            assert route.huge_bytes is not None
            self.send_response(200)
            for name, value in route.headers.items():
                self.send_header(name, value)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            chunk = b"x" * HUGE_CHUNK
            remaining = route.huge_bytes
            try:
                while remaining > 0 and not server.release.is_set():
                    piece = chunk[: min(remaining, HUGE_CHUNK)]
                    self.wfile.write(piece)
                    remaining -= len(piece)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading, as it should

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean; requests are recorded instead

    return Handler


def _validators(route: Route) -> dict[str, str]:
    headers = {}
    if route.etag is not None:
        headers["ETag"] = route.etag
    if route.last_modified is not None:
        headers["Last-Modified"] = route.last_modified
    return headers


def _not_modified(route: Route, headers: Message) -> bool:
    """True when the request's validators match the route's (exact comparison, like caches)."""
    if_none_match = headers.get("If-None-Match")
    if_modified_since = headers.get("If-Modified-Since")
    if route.etag is not None and if_none_match is not None:
        return route.etag in [tag.strip() for tag in if_none_match.split(",")]
    return route.last_modified is not None and if_modified_since == route.last_modified


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A started :class:`FeedServer`; stopped (and hanging handlers released) at teardown."""
    with FeedServer() as server:
        yield server
