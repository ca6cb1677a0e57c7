"""HttpFetcher against a real loopback server (tests/feedserver.py)."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from monitor import __version__
from monitor.errors import FetchError
from monitor.feeds.fetch import DEFAULT_USER_AGENT, Fetcher, FetchRequest, HttpFetcher
from monitor.types import FetchResult
from tests import feedserver
from tests.corpus import feed_bytes
from tests.feedserver import FeedServer

feed_server = feedserver.feed_server  # the shared fixture, as other test modules import it

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


@pytest.fixture
def fetcher() -> Iterator[HttpFetcher]:
    with HttpFetcher(timeout=5.0) as f:
        yield f


def test_http_fetcher_satisfies_the_fetcher_port() -> None:
    with HttpFetcher() as f:
        port: Fetcher = f
        assert port is f


def test_200_returns_body_content_type_validators_and_final_url(
    feed_server: FeedServer, fetcher: HttpFetcher
) -> None:
    url = feed_server.add(
        "/feed.xml",
        RSS,
        content_type="application/rss+xml; charset=utf-8",
        etag='"v1"',
        last_modified="Wed, 01 Jan 2025 00:00:00 GMT",
    )

    result = fetcher.fetch(url)

    assert result == FetchResult(
        url=url,
        status=200,
        content=RSS,
        content_type="application/rss+xml; charset=utf-8",
        etag='"v1"',
        last_modified="Wed, 01 Jan 2025 00:00:00 GMT",
    )


def test_user_agent_names_project_and_version(
    feed_server: FeedServer, fetcher: HttpFetcher
) -> None:
    fetcher.fetch(feed_server.add("/feed.xml", RSS))

    (request,) = feed_server.requests_to("/feed.xml")
    assert request.header("User-Agent") == DEFAULT_USER_AGENT
    assert DEFAULT_USER_AGENT.startswith(f"signal-monitor/{__version__} (+https://")
    assert "application/rss+xml" in (request.header("Accept") or "")


def test_custom_user_agent_is_sent(feed_server: FeedServer) -> None:
    with HttpFetcher(user_agent="probe/1") as f:
        f.fetch(feed_server.add("/feed.xml", RSS))
    assert feed_server.requests[-1].header("User-Agent") == "probe/1"


def test_matching_etag_gives_304_without_content(
    feed_server: FeedServer, fetcher: HttpFetcher
) -> None:
    url = feed_server.add("/feed.xml", RSS, etag='"v1"')

    result = fetcher.fetch(url, etag='"v1"')

    assert result.status == 304
    assert result.content is None
    assert result.etag == '"v1"'
    assert feed_server.requests[-1].header("If-None-Match") == '"v1"'


def test_matching_last_modified_gives_304_and_keeps_validators(
    feed_server: FeedServer, fetcher: HttpFetcher
) -> None:
    stamp = "Wed, 01 Jan 2025 00:00:00 GMT"
    url = feed_server.add("/feed.xml", RSS, last_modified=stamp)

    result = fetcher.fetch(url, etag=None, last_modified=stamp)

    assert (result.status, result.content, result.last_modified) == (304, None, stamp)
    assert feed_server.requests[-1].header("If-Modified-Since") == stamp
    assert feed_server.requests[-1].header("If-None-Match") is None


def test_stale_etag_gets_the_new_body_and_new_etag(
    feed_server: FeedServer, fetcher: HttpFetcher
) -> None:
    url = feed_server.add("/feed.xml", RSS, etag='"v2"')

    result = fetcher.fetch(url, etag='"v1"')

    assert (result.status, result.content, result.etag) == (200, RSS, '"v2"')


def test_no_conditional_headers_without_validators(
    feed_server: FeedServer, fetcher: HttpFetcher
) -> None:
    fetcher.fetch(feed_server.add("/feed.xml", RSS, etag='"v1"'))

    request = feed_server.requests[-1]
    assert request.header("If-None-Match") is None
    assert request.header("If-Modified-Since") is None


def test_redirects_are_followed_and_final_url_reported(
    feed_server: FeedServer, fetcher: HttpFetcher
) -> None:
    final = feed_server.add("/new.xml", RSS)
    feed_server.add_redirect("/hop", "/new.xml", status=301)
    start = feed_server.add_redirect("/old.xml", "/hop")

    result = fetcher.fetch(start)

    assert (result.url, result.content) == (final, RSS)


def test_redirect_loop_is_a_fetch_error(feed_server: FeedServer, fetcher: HttpFetcher) -> None:
    url = feed_server.add_redirect("/a", "/b")
    feed_server.add_redirect("/b", "/a")

    with pytest.raises(FetchError, match="more than 5 redirects") as info:
        fetcher.fetch(url)

    assert info.value.url == url
    assert isinstance(info.value.__cause__, httpx.TooManyRedirects)
    assert len(feed_server.requests) == 6  # the first request and five redirects


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (404, "HTTP 404 Not Found: check the URL in the config"),
        (410, "HTTP 410 Gone: the feed was removed"),
        (403, "HTTP 403 Forbidden: the server refuses us"),
        (429, "HTTP 429 Too Many Requests: the server is rate-limiting us"),
        (400, "HTTP 400 Bad Request: the server rejected the request"),
        (503, "HTTP 503 Service Unavailable: the server failed"),
    ],
)
def test_http_error_status_is_a_fetch_error_with_advice(
    feed_server: FeedServer, fetcher: HttpFetcher, status: int, expected: str
) -> None:
    url = feed_server.add("/feed.xml", b"nope", status=status)

    with pytest.raises(FetchError) as info:
        fetcher.fetch(url)

    assert info.value.status == status
    assert info.value.url == url
    assert info.value.message.startswith(expected)
    assert str(info.value).startswith(f"{url}: HTTP {status}")


def test_arxiv_error_body_with_400_is_not_content(
    feed_server: FeedServer, fetcher: HttpFetcher
) -> None:
    """arXiv answers a bad query with HTTP 400 and an Atom body: that must not be parsed."""
    url = feed_server.add(
        "/api/query", b"<feed><entry><title>Error</title></entry></feed>", status=400
    )

    with pytest.raises(FetchError) as info:
        fetcher.fetch(url)

    assert info.value.status == 400


def test_timeout_is_a_fetch_error(feed_server: FeedServer) -> None:
    url = feed_server.add_hanging("/slow.xml")

    with HttpFetcher(timeout=0.05) as f, pytest.raises(FetchError, match="timed out after") as info:
        f.fetch(url)

    assert info.value.status is None
    assert isinstance(info.value.__cause__, httpx.TimeoutException)


def test_connection_refused_is_a_fetch_error() -> None:
    with FeedServer() as server:
        url = server.url("/feed.xml")  # the port is closed once the server stops

    with HttpFetcher() as f, pytest.raises(FetchError, match="could not connect") as info:
        f.fetch(url)

    assert isinstance(info.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize("url", ["ftp://example.org/feed.xml", "not a url", "file:///etc/passwd"])
def test_non_http_url_is_a_fetch_error(fetcher: HttpFetcher, url: str) -> None:
    with pytest.raises(FetchError, match="not a fetchable http\\(s\\) URL") as info:
        fetcher.fetch(url)

    assert info.value.url == url


def test_body_over_max_bytes_stops_streaming(feed_server: FeedServer) -> None:
    size = 50 * 1024 * 1024
    url = feed_server.add_huge("/huge.xml", size)

    with HttpFetcher(max_bytes=256 * 1024) as f, pytest.raises(FetchError) as info:
        f.fetch(url)

    assert "larger than 262144 bytes" in info.value.message
    assert info.value.status == 200


def test_declared_content_length_over_max_bytes_fails_before_reading(
    feed_server: FeedServer,
) -> None:
    url = feed_server.add_huge("/huge.xml", 10 * 1024 * 1024, declare_length=True)

    with HttpFetcher(max_bytes=1024) as f, pytest.raises(FetchError, match="larger than 1024"):
        f.fetch(url)


def test_body_of_exactly_max_bytes_is_accepted(feed_server: FeedServer) -> None:
    url = feed_server.add("/feed.xml", b"x" * 1024)

    with HttpFetcher(max_bytes=1024) as f:
        assert f.fetch(url).content == b"x" * 1024


def test_gzip_content_encoding_is_decoded(feed_server: FeedServer, fetcher: HttpFetcher) -> None:
    """The corpus file is raw gzip bytes as a server would send them with Content-Encoding."""
    raw = feed_bytes("node-feedparser__invalid-characters-gzipped.xml")
    url = feed_server.add("/nshipster.xml", raw, headers={"Content-Encoding": "gzip"})

    result = fetcher.fetch(url)

    assert result.content == gzip.decompress(raw)
    assert result.content is not None and result.content.startswith(b"<?xml")
    assert "gzip" in (feed_server.requests[-1].header("Accept-Encoding") or "")


def test_gzip_bomb_is_capped_on_decoded_size(feed_server: FeedServer) -> None:
    bomb = gzip.compress(b"\0" * (4 * 1024 * 1024))
    url = feed_server.add("/bomb.xml", bomb, headers={"Content-Encoding": "gzip"})

    with HttpFetcher(max_bytes=1024 * 1024) as f, pytest.raises(FetchError, match="larger than"):
        f.fetch(url)


def test_corrupt_gzip_is_a_fetch_error(feed_server: FeedServer, fetcher: HttpFetcher) -> None:
    url = feed_server.add("/bad.xml", b"not gzip at all", headers={"Content-Encoding": "gzip"})

    with pytest.raises(FetchError, match="compressed body is corrupt") as info:
        fetcher.fetch(url)

    assert isinstance(info.value.__cause__, httpx.DecodingError)


def test_injected_transport_is_used() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=RSS, headers={"ETag": '"m"'})

    with HttpFetcher(transport=httpx.MockTransport(handler)) as f:
        result = f.fetch("https://feeds.example/rss")

    assert (result.content, result.etag, result.url) == (RSS, '"m"', "https://feeds.example/rss")


def test_feed_server_answers_404_for_unknown_paths_and_records_requests(
    feed_server: FeedServer,
) -> None:
    response = httpx.get(feed_server.url("/missing?x=1"), headers={"X-Probe": "yes"})

    assert response.status_code == 404
    (request,) = feed_server.requests_to("/missing?x=1")
    assert (request.method, request.header("x-probe")) == ("GET", "yes")


def test_a_dripping_body_fails_at_the_fetch_deadline(feed_server: FeedServer) -> None:
    """One byte every 0.2 s never trips the 5 s read timeout; the whole-fetch deadline does."""
    url = feed_server.add_drip("/drip.xml", b"<rss>" + b" " * 500 + b"</rss>", every=0.2)
    started = time.monotonic()

    with HttpFetcher(timeout=5.0, deadline=1.0) as f, pytest.raises(FetchError) as info:
        f.fetch(url)

    assert "1s fetch deadline" in info.value.message
    assert time.monotonic() - started < 5.0  # well before the read timeout would have fired


def test_fetch_many_fails_only_the_bad_sources(feed_server: FeedServer) -> None:
    good = [feed_server.add(f"/ok{i}.xml", b"<rss/>") for i in range(20)]
    bad = {
        "drip": feed_server.add_drip("/drip.xml", b"x" * 100, every=0.2),
        "hang": feed_server.add_hanging("/hang.xml"),
        "loop": feed_server.add_redirect("/loop.xml", "/loop.xml"),
    }
    requests = [FetchRequest(f"ok{i}", url) for i, url in enumerate(good)]
    requests += [FetchRequest(name, url) for name, url in bad.items()]

    with HttpFetcher(timeout=5.0, deadline=1.0, per_host=8) as f:
        outcomes = {req.key: result for req, result in f.fetch_many(requests)}

    assert sorted(outcomes) == sorted(r.key for r in requests)
    assert all(outcomes[f"ok{i}"].content == b"<rss/>" for i in range(20))  # type: ignore[union-attr]
    assert "fetch deadline" in str(outcomes["drip"]) and "fetch deadline" in str(outcomes["hang"])
    assert "redirects" in str(outcomes["loop"])


def test_fetch_many_stops_at_once_when_asked(feed_server: FeedServer) -> None:
    url = feed_server.add_hanging("/hang.xml")
    stop = threading.Event()
    started = time.monotonic()
    results: list[object] = []
    with HttpFetcher(timeout=30.0, deadline=60.0) as f:
        outcomes = f.fetch_many([FetchRequest("hang", url)], stop=stop)
        consumer = threading.Thread(target=lambda: results.extend(outcomes))
        consumer.start()
        assert feed_server.wait_for_request("/hang.xml")
        stop.set()
        consumer.join(timeout=10.0)

    assert not consumer.is_alive() and results == []

    assert time.monotonic() - started < 10.0  # not the 30 s timeout or the 60 s deadline


def test_fetch_many_keeps_to_the_per_host_limit(feed_server: FeedServer) -> None:
    """Held requests pile up to the per-host limit and no further."""
    urls = [feed_server.add_held(f"/held{i}.xml", b"<rss/>") for i in range(10)]
    requests = [FetchRequest(str(i), u) for i, u in enumerate(urls)]
    with HttpFetcher(per_host=3, max_connections=32) as f:
        outcomes = f.fetch_many(requests)
        first = threading.Thread(target=lambda: results.extend(outcomes))
        results: list[object] = []
        first.start()
        with feed_server._arrived:
            assert feed_server._arrived.wait_for(lambda: len(feed_server.requests) >= 3, 10)
            assert not feed_server._arrived.wait_for(lambda: len(feed_server.requests) > 3, 0.5)
        feed_server.release.set()
        first.join(timeout=10)

    assert len(results) == 10


def test_a_validator_that_cannot_be_sent_or_a_library_surprise_fails_only_that_source(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither may leak a slot of the hand-over buffer: with room for 2 bodies, 6 odd
    sources and a good one all come back."""
    good = feed_server.add("/good.xml", b"<rss/>")
    odd = [
        FetchRequest(f"odd{i}", feed_server.add(f"/o{i}.xml", b"<rss/>"), etag="\u00e9")
        for i in range(3)
    ]
    boom = [FetchRequest(f"boom{i}", feed_server.url(f"/b{i}.xml")) for i in range(3)]
    real = HttpFetcher._result

    async def surprise(self, url, response, **kw):  # type: ignore[no-untyped-def]
        if "/b" in url:
            raise RuntimeError("a library bug")
        return await real(self, url, response, **kw)

    monkeypatch.setattr(HttpFetcher, "_result", surprise)
    with HttpFetcher(max_connections=1) as f:
        outcomes = dict(
            (r.key, o) for r, o in f.fetch_many([*odd, *boom, FetchRequest("good", good)])
        )

    assert len(outcomes) == 7
    assert all(outcomes[f"odd{i}"].content == b"<rss/>" for i in range(3))  # type: ignore[union-attr]
    assert all("unexpectedly" in str(outcomes[f"boom{i}"]) for i in range(3))
    assert outcomes["good"].content == b"<rss/>"  # type: ignore[union-attr]
