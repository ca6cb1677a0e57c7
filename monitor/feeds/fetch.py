"""HTTP fetching of feeds: the :class:`Fetcher` port and its httpx adapter.

Decisions:

* Conditional GET: ``etag``/``last_modified`` from the previous poll become ``If-None-Match`` /
  ``If-Modified-Since``; a 304 is ``FetchResult(status=304, content=None)`` carrying the
  validators the server repeated, or else the ones we sent, so the caller can keep them.
* Redirects are followed (at most :data:`MAX_REDIRECTS`); ``FetchResult.url`` is the final URL.
* The body is streamed and the fetch stops with :class:`FetchError` as soon as the decoded
  (decompressed) size passes ``max_bytes``: a gzip bomb or an endless response costs at most
  that much memory. httpx decodes gzip/deflate.
* Every 2xx is content; every other status and every transport failure is a
  :class:`FetchError` whose message says what to do, with the httpx error chained.
* ``timeout`` applies to connecting and to each read (httpx semantics); ``deadline`` bounds the
  whole fetch (connect, redirects, headers and the entire body), so a server that drips one
  byte a second or never answers fails that source only, after at most ``deadline`` seconds.
* Many sources are fetched at once by :meth:`HttpFetcher.fetch_many`: one asyncio loop in a
  helper thread with one ``httpx.AsyncClient`` (keep-alive), at most ``max_connections``
  fetches in flight and at most ``per_host`` to one host, so a thousand feeds on one site do
  not hammer it. Results are handed over as they complete, through a bounded buffer (at most
  ``2 * max_connections`` bodies wait for the consumer), so memory does not grow with the
  number of sources. Setting the ``stop`` event cancels what is still in flight at once.
* Some hosts publish a request rate: :data:`HOST_RATES` (SEC EDGAR: at most 10 requests per
  second to sec.gov and its subdomains; arXiv's API: one request per 3 seconds). The fetcher
  keeps a :class:`RateLimiter` per such host, across ``fetch_many`` calls, and a request to it
  starts only when the limiter allows (before the fetch deadline starts: waiting for our own
  turn is not the server's slowness). The clock and the sleep are injectable, for tests.
* A request may carry headers of its own (``FetchRequest.headers``), e.g. the User-Agent with
  contact details that EDGAR requires; they replace the client's defaults of the same name.
* URLs in messages are masked (:func:`monitor.redact.mask_url`).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from monitor import __version__
from monitor.decide import parse_retry_after
from monitor.errors import FetchError
from monitor.redact import mask_url
from monitor.types import FetchResult

logger = logging.getLogger(__name__)

PROJECT_URL = "https://github.com/signal-monitor/signal-monitor"
DEFAULT_USER_AGENT = f"signal-monitor/{__version__} (+{PROJECT_URL})"
MAX_REDIRECTS = 5
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9,"
    " application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)

STATUS_ADVICE = {
    401: "the feed needs credentials; this service does not send any",
    403: "the server refuses us; the feed may need credentials or block our User-Agent",
    404: "check the URL in the config",
    410: "the feed was removed; remove or replace this source in the config",
    429: "the server is rate-limiting us; poll this source less often",
}


@dataclass(frozen=True)
class FetchRequest:
    """One conditional GET: ``key`` names what it is for (the source); ``headers``: sent
    with it, replacing the fetcher's own of the same name (a User-Agent, say)."""

    key: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` request starts in any ``per`` seconds."""

    requests: int
    per: float


# host (and its subdomains) -> its published limit
HOST_RATES: Mapping[str, RateLimit] = {
    "sec.gov": RateLimit(10, 1.0),  # SEC's fair access policy: 10 requests/second at most
    "export.arxiv.org": RateLimit(1, 3.0),  # arXiv's API terms: one request every 3 seconds
}


class RateLimiter:
    """A sliding window: at most ``limit.requests`` starts in any ``limit.per`` seconds.

    :meth:`reserve` is handed ``now`` (a monotonic time) and books the next free start,
    returning how long to wait for it; it does no I/O and keeps no clock of its own, so a
    table of calls tests it. Thread-safe (two ``fetch_many`` calls may share it)."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()

    def reserve(self, now: float) -> float:
        with self._lock:
            starts, window = self._starts, self.limit.per
            while starts and starts[0] <= now - window:
                starts.popleft()
            start = now
            if len(starts) >= self.limit.requests:
                # the oldest start still in the window leaves it at starts[-requests] + window
                start = max(now, starts[-self.limit.requests] + window)
            starts.append(start)
            while len(starts) > self.limit.requests:
                starts.popleft()
            return start - now


FetchOutcome = tuple[FetchRequest, FetchResult | FetchError]


@dataclass
class _Handover:
    """Between the fetch loop's thread and the consumer: finished outcomes (None: done),
    room for more bodies, and the consumer's request to stop."""

    room: threading.Semaphore
    results: queue.Queue[FetchOutcome | None] = field(default_factory=queue.Queue)
    cancel: threading.Event = field(default_factory=threading.Event)


class Fetcher(Protocol):
    """Gets a feed body over the network.

    ``fetch`` returns a :class:`FetchResult` with status 200 (content set) or 304 (not
    modified, content None) and raises :class:`monitor.errors.FetchError` for every other
    outcome: HTTP errors, timeouts, connection failures, redirect loops, oversized bodies.
    """

    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult: ...

    def fetch_many(
        self, requests: Sequence[FetchRequest], *, stop: threading.Event | None = None
    ) -> Iterator[FetchOutcome]:
        """Fetch all, concurrently; yield each request with its result or its FetchError as
        it completes. Stops early (cancelling what is in flight) when ``stop`` is set."""
        ...


class HttpFetcher:
    """:class:`Fetcher` over ``httpx.AsyncClient`` (one per ``fetch_many`` call)."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        deadline: float = 30.0,
        max_bytes: int = 10 * 1024 * 1024,
        user_agent: str = DEFAULT_USER_AGENT,
        max_connections: int = 32,
        per_host: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
        host_rates: Mapping[str, RateLimit] = HOST_RATES,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.timeout = min(timeout, deadline)
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.max_connections = max(1, max_connections)
        self.per_host = max(1, per_host)
        self._headers = {"User-Agent": user_agent, "Accept": ACCEPT}
        self._transport = transport
        self._limiters = {host.lower(): RateLimiter(rate) for host, rate in host_rates.items()}
        self._clock = clock
        self._sleep = sleep

    def limiter_for(self, url: str) -> RateLimiter | None:
        """The rate limiter of ``url``'s host (or of a domain it is under), if it has one."""
        host = _host(url).lower()
        while host:
            if host in self._limiters:
                return self._limiters[host]
            host = host.partition(".")[2]
        return None

    async def _wait_for_turn(self, url: str) -> None:
        limiter = self.limiter_for(url)
        if limiter is not None:
            delay = limiter.reserve(self._clock())
            if delay > 0:
                await self._sleep(delay)

    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET ``url`` conditionally; see :class:`Fetcher` for results and errors."""
        for _, outcome in self.fetch_many([FetchRequest(url, url, etag, last_modified)]):
            if isinstance(outcome, FetchError):
                raise outcome
            return outcome
        raise FetchError(url, "the fetch was stopped")  # pragma: no cover - no stop event

    def fetch_many(
        self, requests: Sequence[FetchRequest], *, stop: threading.Event | None = None
    ) -> Iterator[FetchOutcome]:
        """See :class:`Fetcher`. The fetching runs in a helper thread; this generator hands
        over each outcome as it completes and cancels the rest when closed or stopped."""
        if not requests:
            return
        handover = _Handover(room=threading.Semaphore(2 * self.max_connections))
        results, room, cancel = handover.results, handover.room, handover.cancel
        worker = threading.Thread(
            target=self._run_loop, args=(requests, handover), name="fetch-loop"
        )
        worker.start()
        try:
            while True:
                if stop is not None and stop.is_set():
                    return
                try:
                    outcome = results.get(timeout=0.2)
                except queue.Empty:
                    continue
                if outcome is None:
                    return
                room.release()
                yield outcome
        finally:
            cancel.set()
            worker.join(timeout=5.0)

    def _run_loop(self, requests: Sequence[FetchRequest], handover: _Handover) -> None:
        try:
            asyncio.run(self._fetch_all(requests, handover))
        except Exception:  # a bug here must not hang the consumer
            logger.exception("the fetch loop failed")
        finally:
            handover.results.put(None)

    async def _fetch_all(self, requests: Sequence[FetchRequest], handover: _Handover) -> None:
        results, room, cancel = handover.results, handover.room, handover.cancel
        limits = httpx.Limits(
            max_connections=self.max_connections, max_keepalive_connections=self.max_connections
        )
        in_flight = asyncio.Semaphore(self.max_connections)
        hosts: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self.per_host)
        )

        todo = deque(_interleave_hosts(requests))

        async def one(request: FetchRequest) -> None:
            async with hosts[_host(request.url)], in_flight:
                while not room.acquire(blocking=False):  # the consumer is behind: wait
                    await asyncio.sleep(0.01)
                try:
                    await self._wait_for_turn(request.url)  # the host's published rate, last
                    outcome = await self._fetch_one(client, request)
                except BaseException:  # cancelled: the slot goes back, no outcome
                    room.release()
                    raise
                results.put((request, outcome))

        async def worker() -> None:  # a few workers, not a task per request: bounded memory
            while todo and not cancel.is_set():
                await one(todo.popleft())

        async with httpx.AsyncClient(
            timeout=self.timeout,
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            headers=self._headers,
            transport=self._transport,
            limits=limits,
        ) as client:
            workers = min(len(requests), self.max_connections * 2)
            tasks = [asyncio.create_task(worker()) for _ in range(workers)]
            pending = set(tasks)
            while pending and not cancel.is_set():
                _, pending = await asyncio.wait(pending, timeout=0.1)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _fetch_one(
        self, client: httpx.AsyncClient, request: FetchRequest
    ) -> FetchResult | FetchError:
        url = request.url
        headers = dict(request.headers)
        if request.etag and request.etag.isascii():  # a validator we cannot send back: none
            headers["If-None-Match"] = request.etag
        if request.last_modified and request.last_modified.isascii():
            headers["If-Modified-Since"] = request.last_modified
        try:
            async with asyncio.timeout(self.deadline):
                async with client.stream("GET", url, headers=headers) as response:
                    return await self._result(
                        url, response, etag=request.etag, last_modified=request.last_modified
                    )
        except FetchError as e:
            return e
        except TimeoutError:
            return FetchError(
                url,
                f"no complete answer within the {self.deadline:g}s fetch deadline: the server "
                "is too slow or sends the body too slowly; try later",
            )
        except (httpx.HTTPError, httpx.InvalidURL) as e:
            error = _transport_error(url, e, self.timeout)
            error.__cause__ = e
            return error
        except Exception as e:  # a library surprise is this source's failure, not a hang
            logger.exception("fetching %s failed unexpectedly", mask_url(url))
            error = FetchError(
                url, f"the fetch failed unexpectedly ({type(e).__name__}); try later"
            )
            error.__cause__ = e
            return error

    async def _result(
        self,
        url: str,
        response: httpx.Response,
        *,
        etag: str | None,
        last_modified: str | None,
    ) -> FetchResult:
        final_url = str(response.url)
        status = response.status_code
        if status == 304:
            return FetchResult(
                url=final_url,
                status=304,
                content=None,
                etag=response.headers.get("ETag", etag),
                last_modified=response.headers.get("Last-Modified", last_modified),
            )
        if not 200 <= status < 300:
            retry_after = None
            if status in (429, 503):
                retry_after = parse_retry_after(response.headers.get("Retry-After"), _now())
            raise FetchError(url, _status_message(response), status, retry_after)
        content = await self._read_capped(url, response)
        logger.debug("fetched %s: %d bytes", mask_url(final_url), len(content))
        return FetchResult(
            url=final_url,
            status=status,
            content=content,
            content_type=response.headers.get("Content-Type"),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            max_age=max_age(response.headers.get("Cache-Control")),
        )

    async def _read_capped(self, url: str, response: httpx.Response) -> bytes:
        too_big = (
            f"the body is larger than {self.max_bytes} bytes: this is not a feed or a very big "
            "one; check the URL or raise max_bytes"
        )
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(url, too_big, response.status_code)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(url, too_big, response.status_code)
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        """Nothing to release: each ``fetch_many`` opens and closes its own client."""

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d{1,10})", re.IGNORECASE)


def max_age(cache_control: str | None) -> float | None:
    """``max-age`` of a ``Cache-Control`` header in seconds, or None (absent, ``no-cache``)."""
    if not cache_control or "no-cache" in cache_control.lower():
        return None
    found = _MAX_AGE.search(cache_control)
    return float(found.group(1)) if found else None


def _now() -> datetime:
    return datetime.now(UTC)


def _interleave_hosts(requests: Sequence[FetchRequest]) -> list[FetchRequest]:
    """The requests host by host in turn (each host's in its order), so the workers are not
    all held up behind one host's ``per_host`` limit."""
    by_host: dict[str, deque[FetchRequest]] = {}
    for request in requests:
        by_host.setdefault(_host(request.url), deque()).append(request)
    queues = list(by_host.values())
    out: list[FetchRequest] = []
    while queues:
        out.extend(q.popleft() for q in queues)
        queues = [q for q in queues if q]
    return out


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _transport_error(url: str, e: httpx.HTTPError | httpx.InvalidURL, timeout: float) -> FetchError:
    """Our FetchError, saying what to do, for an httpx failure."""
    if isinstance(e, httpx.TimeoutException):
        return FetchError(
            url,
            f"timed out after {timeout:g}s: the server is slow or unreachable; "
            "try later or raise the timeout",
        )
    if isinstance(e, httpx.TooManyRedirects):
        return FetchError(
            url,
            f"more than {MAX_REDIRECTS} redirects: the URL loops; "
            "put the feed's final URL in the config",
        )
    if isinstance(e, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return FetchError(url, f"not a fetchable http(s) URL ({e}): fix it in the config")
    if isinstance(e, httpx.ConnectError):
        return FetchError(
            url, f"could not connect ({e}): check the host name and that the site is up"
        )
    if isinstance(e, httpx.DecodingError):
        return FetchError(
            url, f"the compressed body is corrupt ({e}): the server is misbehaving; try later"
        )
    return FetchError(url, f"the HTTP exchange failed ({e}); try later")


def _status_message(response: httpx.Response) -> str:
    status = response.status_code
    reason = f"HTTP {status} {response.reason_phrase}".rstrip()
    advice = STATUS_ADVICE.get(status)
    if advice is None:
        if status >= 500:
            advice = "the server failed; it will be retried on the next poll"
        elif 300 <= status < 400:
            advice = "a redirect without a usable Location; check the URL in the config"
        else:
            advice = "the server rejected the request; check the URL in the config"
    return f"{reason}: {advice}"
