"""Source kinds beyond RSS/Atom/JSON Feed: the request URLs (pure), the config fields (with
``file:line`` errors) and the parsers, on recorded responses in ``tests/fixtures/sources``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from monitor.errors import ConfigError, ParseError
from monitor.feeds.arxiv import parse_arxiv, search_query
from monitor.feeds.edgar import parse_edgar, wanted
from monitor.feeds.hackernews import parse_hackernews
from monitor.feeds.sources import parse_source, request_headers, request_url
from monitor.settings import load_config
from monitor.types import ArxivQuery, EdgarQuery, HackerNewsQuery, SourceConfig

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
UA = "Jane Analyst jane@example.com"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def params(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


# --- request URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (ArxivQuery(("cs.LG",)), "cat:cs.LG"),
        (ArxivQuery(("cs.LG", "cs.DC")), "cat:cs.LG OR cat:cs.DC"),
        (ArxivQuery((), ("capex",)), "ti:capex OR abs:capex"),
        (
            ArxivQuery(("cs.LG",), ("inference cost", "HBM")),
            '(cat:cs.LG) AND (ti:"inference cost" OR abs:"inference cost" OR ti:HBM OR abs:HBM)',
        ),
    ],
)
def test_arxiv_search_query(query: ArxivQuery, expected: str) -> None:
    assert search_query(query) == expected


def test_arxiv_request_url_asks_for_the_newest_papers() -> None:
    url = request_url(ArxivQuery(("cs.LG",), ("inference cost",), max_results=25))
    assert url.startswith("https://export.arxiv.org/api/query?")
    assert params(url) == {
        "search_query": ['(cat:cs.LG) AND (ti:"inference cost" OR abs:"inference cost")'],
        "sortBy": ["submittedDate"],
        "sortOrder": ["descending"],
        "start": ["0"],
        "max_results": ["25"],
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            EdgarQuery("0000320193", ("8-K",)),
            {"action": "getcompany", "CIK": "0000320193", "type": "8-K", "count": "40"},
        ),
        (  # several forms: all forms asked for, filtered on our side
            EdgarQuery("AAPL", ("8-K", "10-Q"), max_results=100),
            {"action": "getcompany", "CIK": "AAPL", "type": "", "count": "100"},
        ),
        (
            EdgarQuery(None, ("8-K",), max_results=15),
            {"action": "getcurrent", "type": "8-K", "count": "20"},
        ),
    ],
)
def test_edgar_request_url(query: EdgarQuery, expected: dict[str, str]) -> None:
    url = request_url(query)
    assert url.startswith("https://www.sec.gov/cgi-bin/browse-edgar?")
    got = {k: v[0] for k, v in params(url).items()}
    assert got["output"] == "atom" and got["owner"] == "include"
    assert {k: got[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            HackerNewsQuery("nuclear power", 100, 30),
            {
                "query": ["nuclear power"],
                "tags": ["story"],
                "numericFilters": ["points>=100"],
                "hitsPerPage": ["30"],
            },
        ),
        (
            HackerNewsQuery("SMR"),
            {"query": ["SMR"], "tags": ["story"], "hitsPerPage": ["50"]},
        ),
    ],
)
def test_hackernews_request_url(query: HackerNewsQuery, expected: dict[str, list[str]]) -> None:
    url = request_url(query)
    assert url.startswith("https://hn.algolia.com/api/v1/search_by_date?")
    assert params(url) == expected


def test_an_endpoint_replaces_the_api_and_keeps_the_query() -> None:
    url = request_url(HackerNewsQuery("x"), "http://127.0.0.1:9/hn")
    assert url == "http://127.0.0.1:9/hn?query=x&tags=story&hitsPerPage=50"
    assert request_url(HackerNewsQuery("x"), "http://m.example/s?key=1").startswith(
        "http://m.example/s?key=1&query=x"
    )


# --- config ----------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "monitor.yaml"
    path.write_text(text, encoding="utf-8")
    return path


KINDS_CONFIG = """\
sources:
  - name: blog
    url: https://blog.example/feed
  - name: arxiv-inference
    kind: arxiv
    categories: [cs.LG, cs.DC]
    keywords: [inference cost]
    max_results: 20
    tags: [ai]
  - name: sec-fission
    kind: edgar
    cik: 1999001
    forms: [8-k, 10-Q]
  - name: sec-current-8k
    kind: edgar
    current: true
    forms: [8-K]
  - name: sec-ticker
    kind: edgar
    ticker: aapl
  - name: hn-nuclear
    kind: hackernews
    query: nuclear
    min_points: 100
  - name: sec-feed
    url: https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent&output=atom
edgar_user_agent: "Jane Analyst jane@example.com"
"""


def test_config_builds_each_kind(tmp_path: Path) -> None:
    sources = {s.name: s for s in load_config(write(tmp_path, KINDS_CONFIG), {}).sources}
    assert sources["blog"].kind == "feed" and sources["blog"].query is None
    assert sources["blog"].user_agent is None
    arxiv = sources["arxiv-inference"]
    assert arxiv.query == ArxivQuery(("cs.LG", "cs.DC"), ("inference cost",), 20)
    assert arxiv.url == request_url(arxiv.query) and arxiv.tags == ("ai",)
    assert arxiv.user_agent is None
    fission = sources["sec-fission"]
    assert fission.query == EdgarQuery("0001999001", ("8-K", "10-Q"), 40)
    assert fission.user_agent == UA
    assert sources["sec-current-8k"].query == EdgarQuery(None, ("8-K",), 40)
    assert sources["sec-ticker"].query == EdgarQuery("AAPL", (), 40)
    assert sources["hn-nuclear"].query == HackerNewsQuery("nuclear", 100, 50)
    # a plain feed on sec.gov carries EDGAR's User-Agent too
    assert sources["sec-feed"].kind == "feed" and sources["sec-feed"].user_agent == UA
    assert request_headers(fission) == (("User-Agent", UA),)
    assert request_headers(sources["blog"]) == ()


def test_the_environment_gives_the_user_agent_and_wins(tmp_path: Path) -> None:
    path = write(tmp_path, KINDS_CONFIG)
    env = {"MONITOR_EDGAR_USER_AGENT": "Ops Desk ops@example.org"}
    sources = {s.name: s for s in load_config(path, env).sources}
    assert sources["sec-fission"].user_agent == "Ops Desk ops@example.org"
    no_field = write(tmp_path, KINDS_CONFIG.replace('edgar_user_agent: "Jane', '# x: "J'))
    assert {s.name: s for s in load_config(no_field, env).sources}["sec-ticker"].user_agent


def test_an_edgar_source_without_a_user_agent_is_an_error_at_its_line(tmp_path: Path) -> None:
    text = KINDS_CONFIG.replace('edgar_user_agent: "Jane Analyst jane@example.com"\n', "")
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), {})
    assert caught.value.line == 10  # "- name: sec-fission"
    assert "sec-fission" in str(caught.value) and "edgar_user_agent" in str(caught.value)
    assert "MONITOR_EDGAR_USER_AGENT" in str(caught.value)


@pytest.mark.parametrize("agent", ["signal-monitor/1.0", "jane@example.com", "Jane Analyst"])
def test_a_user_agent_without_a_name_and_email_is_an_error(tmp_path: Path, agent: str) -> None:
    text = KINDS_CONFIG.replace('"Jane Analyst jane@example.com"', f'"{agent}"')
    with pytest.raises(ConfigError, match="name who runs the monitor and an email") as caught:
        load_config(write(tmp_path, text), {})
    assert caught.value.line == 27
    with pytest.raises(ConfigError, match="MONITOR_EDGAR_USER_AGENT must name"):
        load_config(write(tmp_path, KINDS_CONFIG), {"MONITOR_EDGAR_USER_AGENT": agent})


@pytest.mark.parametrize(
    ("entry", "message", "line"),
    [
        ("    kind: rss\n", "unknown source kind 'rss'", 3),
        ("    kind: arxiv\n", "needs 'categories', 'keywords' or both", 2),
        ("    kind: arxiv\n    categories: [cs LG]\n", "'cs LG' is not a valid entry", 4),
        ("    kind: arxiv\n    keywords: ['a \"b\"']\n", "quotes or parentheses", 4),
        ("    kind: arxiv\n    categories: [cs.LG]\n    max_results: 0\n", "1 to 500", 5),
        ("    kind: hackernews\n", "needs a 'query'", 2),
        ("    kind: hackernews\n    query: x\n    min_points: -1\n", "'min_points'", 5),
        ("    kind: hackernews\n    query: x\n    categories: [cs.LG]\n", "kind arxiv", 5),
        ("    kind: edgar\n    forms: [8-K]\n", "exactly one of 'cik', 'ticker'", 2),
        ("    kind: edgar\n    cik: 1\n    current: true\n", "exactly one of", 2),
        ("    kind: edgar\n    cik: 12345678901\n", "at most 10 digits", 4),
        ("    kind: edgar\n    ticker: 'A A'\n", "ticker symbol", 4),
        ("    kind: edgar\n    current: yes please\n", "'current' must be true", 4),
        ('    kind: edgar\n    current: true\n    forms: [8-K"]\n', "not a valid entry", 5),
        ("    kind: arxiv\n    categories: [cs.LG]\n    url: ftp://x\n", "http(s) 'url'", 5),
        ("    query: x\n", "kind hackernews, not feed", 4),
    ],
)
def test_bad_kind_fields_are_errors_at_their_line(
    tmp_path: Path, entry: str, message: str, line: int
) -> None:
    url = "" if "kind:" in entry else "    url: https://blog.example/feed\n"
    text = f"sources:\n  - name: s\n{url}{entry}edgar_user_agent: {UA}\n"
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        load_config(write(tmp_path, text), {})
    assert e.value.line == line, str(e.value)


def test_a_kind_with_a_url_fetches_its_query_there(tmp_path: Path) -> None:
    text = "sources:\n  - name: h\n    kind: hackernews\n    query: x\n    url: http://127.0.0.1:9/hn\n"
    (source,) = load_config(write(tmp_path, text), {}).sources
    assert source.url == "http://127.0.0.1:9/hn?query=x&tags=story&hitsPerPage=50"


# --- parsers on recorded responses -----------------------------------------------------------


def test_arxiv_answer_gives_one_item_per_paper_without_versions() -> None:
    items = parse_arxiv(fixture("arxiv.xml"), source="arxiv", url="https://export.arxiv.org/api/q")
    assert [i.item_id for i in items] == [
        "https://arxiv.org/abs/2605.08817",
        "https://arxiv.org/abs/2605.07702",
        "https://arxiv.org/abs/hep-ex/0307015",
    ]
    first = items[0]
    assert first.link == first.item_id
    assert first.title == (
        "Speculative Decoding at Datacenter Scale: Inference Cost Falls Faster than Training Cost"
    )
    assert first.summary.startswith("We measure the serving cost")
    assert first.authors == ("Mira Okonkwo", "Tomas Lindqvist")
    assert first.tags == ("cs.LG", "cs.DC")
    assert first.published == datetime(2026, 5, 11, 9, 15, 33, tzinfo=UTC)
    assert first.updated == datetime(2026, 5, 13, 17, 42, 10, tzinfo=UTC)


def test_arxiv_error_feed_is_a_parse_error_with_its_message() -> None:
    with pytest.raises(ParseError, match="arXiv refused the query: max_results must be non-neg"):
        parse_arxiv(fixture("arxiv-error.xml"), source="a", url="https://export.arxiv.org/api/q")


def test_edgar_company_feed_names_the_company_and_keeps_the_wanted_forms() -> None:
    url = "https://www.sec.gov/cgi-bin/browse-edgar?action=getcompany&CIK=0001999001"
    items = parse_edgar(fixture("edgar-company.xml"), source="sec", url=url, forms=("8-K",))
    assert [i.title for i in items] == [
        "Fission Example Power Corp: 8-K - Current report",
        "Fission Example Power Corp: 8-K/A - [Amend] Current report",  # an amendment
    ]
    first = items[0]
    assert first.item_id == "urn:tag:sec.gov,2008:accession-number=0001999001-26-000031"
    assert first.link == (
        "https://www.sec.gov/Archives/edgar/data/1999001/000199900126000031/"
        "0001999001-26-000031-index.htm"
    )
    assert "Item 1.01: Entry into a Material Definitive Agreement" in first.summary
    assert first.authors == ("Fission Example Power Corp",)
    assert first.tags == ("8-K",)
    assert first.updated == datetime(2026, 5, 12, 20, 5, 41, tzinfo=UTC)
    every = parse_edgar(fixture("edgar-company.xml"), source="sec", url=url)
    assert [i.tags for i in every] == [("8-K",), ("10-Q",), ("4",), ("8-K/A",)]


def test_edgar_current_feed_takes_the_filer_from_the_title() -> None:
    url = "https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent&type=8-K"
    items = parse_edgar(fixture("edgar-current.xml"), source="sec", url=url, forms=("8-K",))
    assert [i.authors for i in items] == [
        ("Gridline Storage Holdings, Inc.",),
        ("Fission Example Power Corp",),
        ("Northwind Uranium Trust",),
    ]
    assert items[0].title == "8-K - Gridline Storage Holdings, Inc. (0001999102) (Filer)"
    assert parse_edgar(fixture("edgar-current.xml"), source="s", url=url, forms=("10-K",)) == []


@pytest.mark.parametrize(
    ("form", "forms", "expected"),
    [
        ("8-K", ("8-K",), True),
        ("8-K/A", ("8-K",), True),
        ("8-K12B", ("8-K",), False),
        ("10-q", ("10-Q",), True),
        ("4", (), True),
        ("S-1", ("8-K", "10-Q"), False),
    ],
)
def test_edgar_wanted_forms(form: str, forms: tuple[str, ...], expected: bool) -> None:
    assert wanted(form, forms) is expected


def test_hackernews_answer_gives_stories_with_points_author_and_time() -> None:
    url = "https://hn.algolia.com/api/v1/search_by_date?query=nuclear"
    items = parse_hackernews(fixture("hn.json"), source="hn", url=url)
    assert [i.item_id for i in items] == ["hn:44120031", "hn:44118870", "hn:44117002"]
    story, ask, _show = items
    assert story.title == "Utility signs 20-year nuclear power deal for a datacenter campus"
    assert story.link == "https://news.example.com/2026/05/utility-nuclear-ppa"  # utm_ dropped
    assert story.summary == (
        "387 points, 214 comments on Hacker News: https://news.ycombinator.com/item?id=44120031"
    )
    assert story.authors == ("gridwatcher",)
    assert story.published == datetime(2026, 5, 14, 9, 12, 44, tzinfo=UTC)
    assert ask.link == "https://news.ycombinator.com/item?id=44118870"  # no URL: the HN page
    assert ask.summary.startswith("I keep reading about SMRs & microreactors. Which startups")
    assert "152 points, 97 comments" in ask.summary
    fewer = parse_hackernews(fixture("hn.json"), source="hn", url=url, min_points=150)
    assert [i.item_id for i in fewer] == ["hn:44120031", "hn:44118870"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>rate limited</html>", "not JSON"),
        (b'{"message": "invalid"}', "no 'hits' list"),
        (b"[1, 2]", "no 'hits' list"),
    ],
)
def test_hackernews_bad_answer_is_a_parse_error(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_hackernews(body, source="hn", url="https://hn.algolia.com/api/v1/x")


def test_hackernews_skips_hits_it_cannot_use() -> None:
    body = b'{"hits": [{"objectID": "1"}, 7, {"objectID": "2", "title": "Kept", "points": 3}]}'
    items = parse_hackernews(body, source="hn", url="https://hn.algolia.com/api/v1/x")
    assert [(i.item_id, i.title) for i in items] == [("hn:2", "Kept")]


def test_parse_source_dispatches_on_the_kind() -> None:
    hn = SourceConfig("hn", "https://hn.algolia.com/x", query=HackerNewsQuery("nuclear", 200))
    assert [i.item_id for i in parse_source(hn, fixture("hn.json"), url=hn.url)] == ["hn:44120031"]
    feed = SourceConfig("arxiv-as-feed", "https://export.arxiv.org/api/query")
    items = parse_source(feed, fixture("arxiv.xml"), url=feed.url)
    assert items[0].item_id == "http://arxiv.org/abs/2605.08817v2"  # a plain feed: as written
