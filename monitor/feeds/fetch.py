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
* ``timeout`` applies to connecting and to each read (httpx semantics), not to the whole body.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Protocol

import httpx

from monitor import __version__
from monitor.errors import FetchError
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


class Fetcher(Protocol):
    """Gets a feed body over the network.

    ``fetch`` returns a :class:`FetchResult` with status 200 (content set) or 304 (not
    modified, content None) and raises :class:`monitor.errors.FetchError` for every other
    outcome: HTTP errors, timeouts, connection failures, redirect loops, oversized bodies.
    """

    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult: ...


class HttpFetcher:
    """:class:`Fetcher` over one reusable ``httpx.Client``; close it (or use ``with``)."""

    def __init__(
        self,
        *,
        timeout: float = 20.0,
        max_bytes: int = 10 * 1024 * 1024,
        user_agent: str = DEFAULT_USER_AGENT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            headers={"User-Agent": user_agent, "Accept": ACCEPT},
            transport=transport,
        )

    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET ``url`` conditionally; see :class:`Fetcher` for results and errors."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                return self._result(url, response, etag=etag, last_modified=last_modified)
        except httpx.TimeoutException as e:
            raise FetchError(
                url,
                f"timed out after {self.timeout:g}s: the server is slow or unreachable; "
                "try later or raise the timeout",
            ) from e
        except httpx.TooManyRedirects as e:
            raise FetchError(
                url,
                f"more than {MAX_REDIRECTS} redirects: the URL loops; "
                "put the feed's final URL in the config",
            ) from e
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as e:
            raise FetchError(url, f"not a fetchable http(s) URL ({e}): fix it in the config") from e
        except httpx.ConnectError as e:
            raise FetchError(
                url, f"could not connect ({e}): check the host name and that the site is up"
            ) from e
        except httpx.DecodingError as e:
            raise FetchError(
                url, f"the compressed body is corrupt ({e}): the server is misbehaving; try later"
            ) from e
        except httpx.HTTPError as e:
            raise FetchError(url, f"the HTTP exchange failed ({e}); try later") from e

    def _result(
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
            raise FetchError(url, _status_message(response), status)
        content = self._read_capped(url, response)
        logger.debug("fetched %s: %d bytes from %s", url, len(content), final_url)
        return FetchResult(
            url=final_url,
            status=status,
            content=content,
            content_type=response.headers.get("Content-Type"),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )

    def _read_capped(self, url: str, response: httpx.Response) -> bytes:
        too_big = (
            f"the body is larger than {self.max_bytes} bytes: this is not a feed or a very big "
            "one; check the URL or raise max_bytes"
        )
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(url, too_big, response.status_code)
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(url, too_big, response.status_code)
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


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
