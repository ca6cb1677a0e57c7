"""The source kinds in a real cycle: recorded responses served by the loopback feed server,
fetched and parsed by the pipeline, stored; EDGAR's User-Agent and rate, counted."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from monitor.feeds.fetch import FetchRequest, HttpFetcher, RateLimit, RateLimiter
from monitor.feeds.sources import request_headers
from monitor.service import Service
from monitor.settings import Environment, load_config
from tests.e2e import RULE_FILE, Clock
from tests.fakeslack import DEFAULT_TOKEN, FakeSlack
from tests.feedserver import FeedServer

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
UA = "Jane Analyst jane@example.com"
ATOM = "application/atom+xml; charset=ISO-8859-1"


# --- the rate limiter, a pure table ----------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "calls", "waits"),
    [
        (RateLimit(2, 1.0), [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]),
        (RateLimit(2, 1.0), [0.0, 0.5, 0.6, 5.0], [0.0, 0.0, 0.4, 0.0]),
        (RateLimit(1, 3.0), [0.0, 1.0, 1.0, 10.0], [0.0, 2.0, 5.0, 0.0]),
        (RateLimit(3, 1.0), [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0, 0, 0, 1, 1, 1, 2]),
    ],
)
def test_rate_limiter_books_the_next_free_start(
    limit: RateLimit, calls: list[float], waits: list[float]
) -> None:
    limiter = RateLimiter(limit)
    assert [limiter.reserve(now) for now in calls] == pytest.approx(waits)


def test_sec_gov_and_its_subdomains_share_one_limiter() -> None:
    fetcher = HttpFetcher()
    www = fetcher.limiter_for("https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent")
    assert www is not None and www.limit == RateLimit(10, 1.0)
    assert fetcher.limiter_for("https://efts.sec.gov/LATEST/search-index") is www
    assert fetcher.limiter_for("https://notsec.gov/feed") is None
    assert fetcher.limiter_for("https://example.com/feed") is None
    arxiv = fetcher.limiter_for("https://export.arxiv.org/api/query?search_query=cat:cs.LG")
    assert arxiv is not None and arxiv.limit == RateLimit(1, 3.0)


# --- EDGAR: the User-Agent on every request, never more than 10 a second ---------------------


class FakeTime:
    """A clock that only the fetcher's sleeps move (to the time each one waits for)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        target = self.now + seconds
        await asyncio.sleep(0)
        self.now = max(self.now, target)


def test_edgar_requests_carry_the_user_agent_and_are_at_most_ten_a_second() -> None:
    time = FakeTime()
    seen: list[tuple[float, str | None]] = []
    body = (FIXTURES / "edgar-current.xml").read_bytes()

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((time(), request.headers.get("User-Agent")))
        return httpx.Response(200, content=body, headers={"Content-Type": ATOM})

    fetcher = HttpFetcher(
        transport=httpx.MockTransport(answer), clock=time, sleep=time.sleep, per_host=4
    )
    headers = (("User-Agent", UA),)
    requests = [
        FetchRequest(
            f"sec-{n}",
            f"https://www.sec.gov/cgi-bin/browse-edgar?action=getcompany&CIK={n:010d}"
            "&type=8-K&output=atom",
            headers=headers,
        )
        for n in range(35)
    ]
    outcomes = list(fetcher.fetch_many(requests))
    assert len(outcomes) == 35 and all(r.status == 200 for _, r in outcomes)  # type: ignore[union-attr]
    assert {agent for _, agent in seen} == {UA}
    starts = sorted(t for t, _ in seen)
    assert len(starts) == 35
    for first, eleventh in zip(starts, starts[10:], strict=False):
        assert eleventh - first >= 1.0 - 1e-9  # any 10 consecutive starts span a second
    assert starts[-1] == pytest.approx(3.0)  # 35 requests: 10 a second, no slower
    # a second round (the next cycle) keeps counting from the first
    list(fetcher.fetch_many(requests[:1]))
    assert seen[-1][0] >= starts[-10] + 1.0 - 1e-9


def test_other_hosts_are_not_held_up_by_sec_gov() -> None:
    time = FakeTime()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"{}", headers={"Content-Type": "application/json"})

    fetcher = HttpFetcher(transport=httpx.MockTransport(answer), clock=time, sleep=time.sleep)
    requests = [FetchRequest(f"n{n}", f"https://news{n}.example/feed") for n in range(30)]
    assert len(list(fetcher.fetch_many(requests))) == 30
    assert time.now == 0.0  # no host there has a published rate: nobody waited


# --- a real cycle ----------------------------------------------------------------------------


def serve(server: FeedServer, url: str, fixture: str, content_type: str, **kw: str) -> None:
    """Serve a recorded response at ``url`` (path and query, as the pipeline asks for it)."""
    parts = urlsplit(url)
    server.add(
        f"{parts.path}?{parts.query}",
        (FIXTURES / fixture).read_bytes(),
        content_type=content_type,
        **kw,  # type: ignore[arg-type]
    )


def config_text(server: FeedServer) -> str:
    base = server.base_url
    return f"""\
# sources investors read, served from recorded responses
sources:
  - name: arxiv-inference
    kind: arxiv
    categories: [cs.LG, cs.DC]
    keywords: [inference cost]
    url: {base}/api/query
  - name: sec-fission
    kind: edgar
    cik: 1999001
    forms: [8-K]
    url: {base}/cgi-bin/browse-edgar
  - name: sec-current
    kind: edgar
    current: true
    forms: [8-K]
    url: {base}/cgi-bin/browse-edgar
  - name: hn-nuclear
    kind: hackernews
    query: nuclear
    min_points: 100
    url: {base}/api/v1/search_by_date
  - name: hn-broken
    kind: hackernews
    query: broken
    url: {base}/api/v1/search_by_date
edgar_user_agent: "{UA}"
rules:
  - rules
"""


@pytest.fixture
def kinds_service(
    tmp_path: Path, feed_server: FeedServer, database_url: str, fake_slack: FakeSlack, clock: Clock
) -> Iterator[Service]:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "nuclear.yaml").write_text(RULE_FILE, encoding="utf-8")
    path = tmp_path / "monitor.yaml"
    path.write_text(config_text(feed_server), encoding="utf-8")
    config = load_config(path, {})
    urls = {s.name: s.url for s in config.sources}
    serve(feed_server, urls["arxiv-inference"], "arxiv.xml", "application/atom+xml", etag='"a1"')
    serve(feed_server, urls["sec-fission"], "edgar-company.xml", ATOM)
    serve(feed_server, urls["sec-current"], "edgar-current.xml", ATOM)
    serve(feed_server, urls["hn-nuclear"], "hn.json", "application/json; charset=utf-8")
    hn_broken = urlsplit(urls["hn-broken"])
    feed_server.add(
        f"{hn_broken.path}?{hn_broken.query}", b"<html>busy</html>", content_type="text/html"
    )
    env = Environment.from_mapping(
        {
            "DATABASE_URL": database_url,
            "SLACK_BOT_TOKEN": DEFAULT_TOKEN,
            "SLACK_CHANNEL": "#investing",
            "SLACK_API_URL": fake_slack.base_url,
        }
    )
    service = Service(config, env, clock=clock, embedder=None)
    assert service.start() == []
    yield service
    service.close()


def test_a_cycle_stores_the_items_of_every_kind_and_reports_a_broken_one(
    kinds_service: Service, feed_server: FeedServer, clock: Clock
) -> None:
    report = kinds_service.run_cycle()
    assert sorted(report.polled) == [
        "arxiv-inference",
        "hn-broken",
        "hn-nuclear",
        "sec-current",
        "sec-fission",
    ]
    assert list(report.failed) == ["hn-broken"]  # a FeedError for that source; the rest go on
    assert "not JSON" in report.failed["hn-broken"]
    stored = kinds_service.store.items_since(None)
    by_source: dict[str, list[str]] = {}
    for s in stored:
        by_source.setdefault(s.item.source, []).append(s.item.item_id)
    assert sorted(by_source["arxiv-inference"]) == [
        "https://arxiv.org/abs/2605.07702",
        "https://arxiv.org/abs/2605.08817",
        "https://arxiv.org/abs/hep-ex/0307015",
    ]
    assert len(by_source["sec-fission"]) == 2  # the 8-K and its amendment, not the 10-Q or 4
    assert len(by_source["sec-current"]) == 3
    assert sorted(by_source["hn-nuclear"]) == ["hn:44117002", "hn:44118870", "hn:44120031"]
    assert report.new_items == 11
    titles = {s.item.title for s in stored}
    assert "Fission Example Power Corp: 8-K - Current report" in titles
    health = {h.name: h for h in kinds_service.store.source_health()}
    assert health["hn-broken"].consecutive_failures == 1 and health["hn-broken"].last_error
    assert health["sec-fission"].consecutive_failures == 0

    # EDGAR's requests carried the contact User-Agent; the others the service's own
    for request in feed_server.requests:
        agent = request.header("User-Agent") or ""
        if request.path.startswith("/cgi-bin/browse-edgar"):
            assert agent == UA
        else:
            assert agent.startswith("signal-monitor/")

    # the next poll is conditional, as for any feed
    clock.advance(hours=1)
    again = kinds_service.run_cycle()
    assert again.new_items == 0
    arxiv_requests = [r for r in feed_server.requests if r.path.startswith("/api/query")]
    assert len(arxiv_requests) == 2 and arxiv_requests[-1].header("If-None-Match") == '"a1"'
    health = {h.name: h for h in kinds_service.store.source_health()}
    assert health["arxiv-inference"].http_status == 304


def test_the_pipeline_sends_a_sources_own_headers(kinds_service: Service) -> None:
    config = {s.name: s for s in kinds_service.config.sources}
    health = {h.name: h for h in kinds_service.store.source_health()}
    request = kinds_service.pipeline.fetch_request(health["sec-fission"])
    assert request.headers == request_headers(config["sec-fission"]) == (("User-Agent", UA),)
    assert kinds_service.pipeline.fetch_request(health["hn-nuclear"]).headers == ()
