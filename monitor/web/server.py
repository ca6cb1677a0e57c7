"""``monitor serve``: the dashboard's HTTP server, its access rules and its routes.

Decisions:

* **The standard library's** ``http.server.ThreadingHTTPServer``, not a framework: a
  handful of GET pages and one POST form, served to one analyst or a small team, need no
  routing library, and it adds no dependency (Jinja2, for autoescaped templates, is the
  one). The transport is kept apart from the pages: :class:`Dashboard` turns a
  :class:`Request` into a :class:`Response` and is what the tests and the handler call.
* **Read-only by default.** The Monitor is opened ``read_only=True`` (it never migrates);
  the feedback forms work only with ``--allow-feedback``, which opens it writable. Each
  form carries a CSRF token (an HMAC of the signal id under a per-process secret) and a
  POST whose ``Origin`` or ``Sec-Fetch-Site`` says it came from another site is refused.
* **Loopback unless told otherwise; a token for anything else.** On a non-loopback
  address the server refuses to start without ``MONITOR_WEB_TOKEN``; with a token set
  every request (except ``/healthz`` and ``/static/``) must carry it, as
  ``Authorization: Bearer …`` or the ``token`` cookie that visiting ``/?token=…`` sets
  (holding an HMAC of the token, not the token; the visit is redirected to the same URL
  without it). Tokens are compared in constant time and never logged: logged request
  lines have their ``token`` parameter blanked. Without a token, the ``Host`` header must
  name a loopback address (no DNS rebinding onto the dashboard).
* **Feed text is untrusted.** Pages are Jinja2 templates with autoescape and charts are
  SVG built with escaping (:mod:`monitor.web.charts`); links are shown only when http(s).
  Every response sets a ``Content-Security-Policy`` that allows no script at all,
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin`` (nothing to other
  sites; not ``no-referrer``, under which Chromium posts forms with ``Origin: null``) and
  denies framing.
* **Stopping**: :func:`run_server` serves from a thread and waits on an event that
  SIGTERM/SIGINT set; shutting down takes at most the server's 0.5 s poll interval.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from monitor.app import Monitor, ReadOnly
from monitor.errors import MonitorError
from monitor.web import charts, views

log = logging.getLogger(__name__)

TOKEN_VAR = "MONITOR_WEB_TOKEN"
SOCKET_TIMEOUT = 15.0
COOKIE = "monitor_dashboard"  # the cookie's own name: other apps on the host may set "token"
MIN_TOKEN = 16
MAX_BODY = 16 * 1024
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


class DashboardError(MonitorError):
    """The dashboard cannot start as asked (the message says what to do)."""


def is_loopback(host: str) -> bool:
    """``host`` (an address or name, IPv6 possibly in brackets) is this machine's loopback."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def require_token_for(host: str, token: str | None) -> None:
    """DashboardError when ``host`` is not loopback and no token is set, or when a token is
    set that is short or not URL-safe (it travels in ``/?token=…``)."""
    if token and (len(token) < MIN_TOKEN or not re.fullmatch(r"[A-Za-z0-9._~-]+", token)):
        raise DashboardError(
            f"{TOKEN_VAR} must be at least {MIN_TOKEN} characters of letters, digits and "
            f"._~- (e.g. `export {TOKEN_VAR}=$(openssl rand -hex 32)`)"
        )
    if not is_loopback(host) and not token:
        raise DashboardError(
            f"refusing to serve on {host}, which is not a loopback address, without a token: "
            f"set {TOKEN_VAR} in the environment (e.g. `export {TOKEN_VAR}=$(openssl rand "
            "-hex 32)`), or serve on 127.0.0.1"
        )


def redact_token(text: str) -> str:
    """A request line or URL with its query string blanked when any parameter's decoded name
    is ``token`` (``%74oken`` too); logs never hold the token."""
    head, sep, rest = text.partition("?")
    if not sep:
        return text
    query, space, tail = rest.partition(" ")
    names = [unquote_plus(part.partition("=")[0]).lower() for part in query.split("&")]
    if "token" in names:
        query = "***"
    return f"{head}?{query}{space}{tail}"


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query string
    query: dict[str, str] = field(default_factory=dict)  # the first value of each name
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    form: dict[str, str] = field(default_factory=dict)
    raw_query: str = ""

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def cookie(self, name: str) -> str | None:
        """The cookie ``name``, parsed by hand: ``http.cookies`` can be made to spend seconds
        of CPU on a crafted header (CVE-2024-7592) and drops every cookie after a malformed
        one that another application on the host may have set."""
        for part in self.header("cookie")[:8192].split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value.strip().strip('"')
        return None


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("monitor.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["signed"] = lambda x: f"{x:+.2f}"
    env.globals["urlencode"] = urlencode
    return env


def _when(value: str | None) -> str:
    if not value:
        return "—"
    moment = datetime.fromisoformat(value).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


class Dashboard:
    """The pages over one Monitor (see the module docstring); ``token`` None: no token."""

    def __init__(
        self,
        monitor: Monitor,
        *,
        token: str | None = None,
        allow_feedback: bool = False,
        secret: bytes | None = None,
    ) -> None:
        self.monitor = monitor
        self.allow_feedback = allow_feedback and not monitor.read_only
        self._token = token or None
        self._secret = secret or secrets.token_bytes(32)
        self._cookie = (
            hmac.new(self._token.encode(), b"monitor-dashboard-cookie", hashlib.sha256).hexdigest()
            if self._token
            else None
        )
        self._env = _templates()
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Response]]] = [
            ("GET", re.compile(r"/"), self.board_page),
            ("GET", re.compile(r"/signals"), self.signals_page),
            ("GET", re.compile(r"/signals/(\d{1,18})"), self.signal_page),
            ("POST", re.compile(r"/signals/(\d{1,18})/feedback"), self.feedback_post),
            ("GET", re.compile(r"/sources"), self.sources_page),
            ("GET", re.compile(r"/api/theses"), self.api_theses),
            ("GET", re.compile(r"/api/signals"), self.api_signals),
            ("GET", re.compile(r"/api/signals/(\d{1,18})"), self.api_signal),
            ("GET", re.compile(r"/api/sources"), self.api_sources),
            ("GET", re.compile(r"/healthz"), self.health),
            ("GET", re.compile(r"/static/([a-z0-9_-]+\.(?:css|js))"), self.static),
        ]

    # -- dispatch -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """The response to ``request``, security headers included."""
        try:
            response = self._dispatch(request)
        except views.BadRequest as e:
            response = self._error(request, HTTPStatus.BAD_REQUEST, str(e))
        except MonitorError as e:
            log.warning("%s %s failed: %s", request.method, request.path, e)
            response = self._error(request, HTTPStatus.SERVICE_UNAVAILABLE, str(e))
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def _dispatch(self, request: Request) -> Response:
        public = request.path == "/healthz" or request.path.startswith("/static/")
        if not public:
            denied = self._check_access(request)
            if denied is not None:
                return denied
        allowed: list[str] = []
        for method, pattern, page in self._routes:
            found = pattern.fullmatch(request.path)
            if found is None:
                continue
            if method != request.method and not (method == "GET" and request.method == "HEAD"):
                allowed.append(method)
                continue
            return page(request, *found.groups())
        if allowed:
            response = self._error(request, HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed")
            response.headers["Allow"] = ", ".join(sorted(set(allowed)))
            return response
        return self._error(request, HTTPStatus.NOT_FOUND, f"no page at {request.path}")

    def _check_access(self, request: Request) -> Response | None:
        if self._token is None or self._cookie is None:
            try:
                host = urlsplit("//" + request.header("host")).hostname or ""
            except ValueError:
                host = "?"
            if host and not is_loopback(host):
                return self._plain(HTTPStatus.FORBIDDEN, "this dashboard answers to loopback only")
            return None
        given = request.query.get("token")
        if given is not None:
            if not hmac.compare_digest(given.encode(), self._token.encode()):
                return self._plain(HTTPStatus.UNAUTHORIZED, "wrong token")
            rest = [(k, v) for k, v in parse_qsl(request.raw_query) if k != "token"]
            # one leading slash: "//evil" or "/\\evil" would leave the site
            path = "/" + request.path.lstrip("/\\")
            target = path + ("?" + urlencode(rest) if rest else "")
            return Response(
                HTTPStatus.SEE_OTHER,
                headers={
                    "Location": target,
                    "Set-Cookie": (f"{COOKIE}={self._cookie}; HttpOnly; SameSite=Strict; Path=/"),
                },
            )
        bearer = request.header("authorization")
        if bearer[:7].lower() == "bearer " and hmac.compare_digest(
            bearer[7:].strip().encode(), self._token.encode()
        ):
            return None
        cookie = request.cookie(COOKIE)
        if cookie is not None and hmac.compare_digest(cookie.encode(), self._cookie.encode()):
            return None
        response = self._plain(
            HTTPStatus.UNAUTHORIZED,
            "a token is required: send `Authorization: Bearer <token>`, or visit /?token=<token> "
            "once to set a cookie",
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="monitor"'
        return response

    # -- rendering ----------------------------------------------------------------------------

    def _page(self, template: str, status: int = HTTPStatus.OK, **context: Any) -> Response:
        context.setdefault("nav", "")
        body = self._env.get_template(template).render(read_only=not self.allow_feedback, **context)
        return Response(status, body.encode("utf-8"))

    def _json(self, data: object, status: int = HTTPStatus.OK) -> Response:
        body = json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")
        return Response(status, body, "application/json; charset=utf-8")

    def _plain(self, status: int, message: str) -> Response:
        return Response(status, (message + "\n").encode(), "text/plain; charset=utf-8")

    def _error(self, request: Request, status: int, message: str) -> Response:
        if request.path.startswith("/api/"):
            return self._json({"error": message}, status)
        return self._page("error.html", status, code=int(status), message=message)

    def csrf_token(self, signal_id: int) -> str:
        return hmac.new(self._secret, f"feedback:{signal_id}".encode(), hashlib.sha256).hexdigest()

    # -- pages --------------------------------------------------------------------------------

    def board_page(self, request: Request) -> Response:
        data, chart_data = views.board(self.monitor)
        svgs = [
            charts.thesis_chart(w, t, label=f"{card['id']}: confirm and kill signals per week")
            for card, (w, t) in zip(data["theses"], chart_data, strict=True)
        ]
        return self._page("board.html", board=data, charts=svgs, nav="board")

    def signals_page(self, request: Request) -> Response:
        filters = views.SignalFilters.parse(request.query)
        log_data = views.signal_log(self.monitor, filters)
        theses, _ = views.rule_theses(self.monitor)
        thesis_ids = sorted({t.id for t in theses} | {t.thesis_id for t in self.monitor.theses()})
        return self._page(
            "signals.html",
            log=log_data,
            filters=filters,
            thesis_ids=thesis_ids,
            source_names=[s.name for s in self.monitor.config.sources],
            polarities=("confirm", "kill", "watch"),
            nav="signals",
        )

    def signal_page(self, request: Request, signal_id: str) -> Response:
        data = views.signal_detail(self.monitor, int(signal_id))
        if data is None:
            return self._error(request, HTTPStatus.NOT_FOUND, f"no signal #{signal_id}")
        return self._page(
            "signal.html",
            signal=data,
            csrf=self.csrf_token(data["id"]) if self.allow_feedback else "",
            recorded=request.query.get("recorded")
            if request.query.get("recorded")
            in (
                "useful",
                "noise",
            )
            else None,
            nav="signals",
        )

    def feedback_post(self, request: Request, signal_id: str) -> Response:
        if not self.allow_feedback:
            return self._error(
                request,
                HTTPStatus.FORBIDDEN,
                "the dashboard is read-only: start it with `monitor serve --allow-feedback`",
            )
        site = request.header("sec-fetch-site")
        origin = request.header("origin")
        if (site and site not in ("same-origin", "none")) or (
            origin and urlsplit(origin).netloc != request.header("host")
        ):
            return self._error(request, HTTPStatus.FORBIDDEN, "a cross-site form was refused")
        sid = int(signal_id)
        if not hmac.compare_digest(
            request.form.get("csrf", "").encode(), self.csrf_token(sid).encode()
        ):
            return self._error(request, HTTPStatus.FORBIDDEN, "missing or wrong CSRF token")
        verdict = request.form.get("verdict", "")
        if verdict not in ("useful", "noise"):
            raise views.BadRequest("verdict must be useful or noise")
        note = request.form.get("note", "").strip()[:500] or None
        try:
            found = self.monitor.feedback(sid, verdict, note)  # type: ignore[arg-type]
        except ReadOnly as e:
            return self._error(request, HTTPStatus.FORBIDDEN, str(e))
        if not found:
            return self._error(request, HTTPStatus.NOT_FOUND, f"no signal #{sid}")
        log.info("feedback on signal %d: %s", sid, verdict)
        return Response(
            HTTPStatus.SEE_OTHER, headers={"Location": f"/signals/{sid}?recorded={verdict}"}
        )

    def sources_page(self, request: Request) -> Response:
        data = views.sources(self.monitor)
        sparks = [
            charts.day_bars(
                [(datetime.fromisoformat(d["day"]).date(), d["items"]) for d in s["items_per_day"]],
                label=f"{s['name']}: items per day",
            )
            for s in data["sources"]
        ]
        return self._page("sources.html", data=data, sparks=sparks, nav="sources")

    def api_theses(self, request: Request) -> Response:
        data, _ = views.board(self.monitor)
        return self._json(data)

    def api_signals(self, request: Request) -> Response:
        return self._json(views.signal_log(self.monitor, views.SignalFilters.parse(request.query)))

    def api_signal(self, request: Request, signal_id: str) -> Response:
        data = views.signal_detail(self.monitor, int(signal_id))
        if data is None:
            return self._error(request, HTTPStatus.NOT_FOUND, f"no signal #{signal_id}")
        return self._json(data)

    def api_sources(self, request: Request) -> Response:
        return self._json(views.sources(self.monitor))

    def health(self, request: Request) -> Response:
        return self._plain(HTTPStatus.OK, "ok")

    def static(self, request: Request, name: str) -> Response:
        try:
            body = resources.files("monitor.web").joinpath("static", name).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return self._plain(HTTPStatus.NOT_FOUND, "not found")
        suffix = name[name.rindex(".") :]
        response = Response(HTTPStatus.OK, body, STATIC_TYPES[suffix])
        response.headers["Cache-Control"] = "max-age=3600"
        return response


# -- the transport -------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT  # a client that stops sending is dropped, not waited on forever
    server_version = "signal-monitor"
    sys_version = ""

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_POST(self) -> None:
        self._serve()

    def _serve(self, head: bool = False) -> None:
        parts = urlsplit(self.path)
        form: dict[str, str] = {}
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if self.headers.get("Transfer-Encoding"):  # never read: the connection ends here
            self.close_connection = True
            self._send(Response(HTTPStatus.BAD_REQUEST, b"no chunked bodies\n"), False)
            return
        if self.command == "POST":
            if not 0 <= length <= MAX_BODY:
                self.close_connection = True  # its body is not read: nothing may follow
                self._send(Response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"too large\n"), False)
                return
            body = self.rfile.read(length).decode("utf-8", "replace")
            form = dict(parse_qsl(body, keep_blank_values=True))
        elif length != 0:  # a body on GET/HEAD is not read: end the connection after
            self.close_connection = True
        request = Request(
            method=self.command,
            path=parts.path or "/",
            query=dict(reversed(parse_qsl(parts.query, keep_blank_values=True))),
            headers={k.lower(): v for k, v in self.headers.items()},
            form=form,
            raw_query=parts.query,
        )
        try:
            response = self.server.dashboard.handle(request)
        except Exception:  # a bug: logged with its traceback, answered 500, the server goes on
            log.exception("%s %s failed", self.command, redact_token(self.path))
            response = Response(HTTPStatus.INTERNAL_SERVER_ERROR, b"internal error\n")
            response.content_type = "text/plain; charset=utf-8"
        self._send(response, head)

    def _send(self, response: Response, head: bool) -> None:
        self.send_response(response.status)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(response.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.info('%s "%s" %s', self.address_string(), redact_token(self.requestline), code)

    def log_message(self, format: str, *args: Any) -> None:
        log.warning("%s %s", self.address_string(), redact_token(format % args))


class DashboardServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], dashboard: Dashboard) -> None:
        self.dashboard = dashboard
        family_host = address[0].strip("[]")
        if ":" in family_host:
            import socket

            self.address_family = socket.AF_INET6
        super().__init__((family_host, address[1]), _Handler)

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), self.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"


def make_server(
    monitor: Monitor,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    token: str | None = None,
    allow_feedback: bool = False,
) -> DashboardServer:
    """A server bound (not yet serving) on ``host``:``port`` (0: any free port);
    DashboardError for a non-loopback host without a token."""
    require_token_for(host, token)
    dashboard = Dashboard(monitor, token=token, allow_feedback=allow_feedback)
    return DashboardServer((host, port), dashboard)


def run_server(server: DashboardServer, stop: threading.Event) -> None:
    """Serve until ``stop`` is set (the CLI sets it on SIGTERM/SIGINT), then shut down."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="dashboard"
    )
    thread.start()
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
