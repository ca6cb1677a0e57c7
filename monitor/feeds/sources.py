"""The source kinds: what a source of each kind asks for and how its answer becomes items.

A ``feed`` is fetched at its URL and parsed as RSS, Atom or JSON Feed
(:func:`monitor.feeds.parse.parse_feed`). The other kinds are built from their fields in the
config: ``arxiv`` (:mod:`monitor.feeds.arxiv`), ``edgar`` (:mod:`monitor.feeds.edgar`),
``hackernews`` (:mod:`monitor.feeds.hackernews`). For each, :func:`request_url` is a pure
function of the query (and of an endpoint, when the config names a mirror), and
:func:`parse_source` reads the answer, raising :class:`monitor.errors.ParseError` for one
that is not of its kind, like ``parse_feed``. The pipeline fetches these URLs as it does a
feed's, with the same conditional GET, deadlines and error reporting.
"""

from __future__ import annotations

from monitor.feeds import arxiv, edgar, hackernews
from monitor.feeds.parse import parse_feed
from monitor.types import (
    ArxivQuery,
    EdgarQuery,
    HackerNewsQuery,
    Item,
    SourceConfig,
    SourceQuery,
)

DEFAULT_ENDPOINTS = {
    "arxiv": arxiv.API_URL,
    "edgar": edgar.BROWSE_URL,
    "hackernews": hackernews.API_URL,
}


def request_url(query: SourceQuery, endpoint: str | None = None) -> str:
    """The URL to fetch for ``query``, on its service's API or on ``endpoint``."""
    base = endpoint or DEFAULT_ENDPOINTS[query.kind]
    if isinstance(query, ArxivQuery):
        return arxiv.request_url(query, base)
    if isinstance(query, EdgarQuery):
        return edgar.request_url(query, base)
    return hackernews.request_url(query, base)


def request_headers(source: SourceConfig) -> tuple[tuple[str, str], ...]:
    """Headers the source's requests carry: its own User-Agent when it has one."""
    return (("User-Agent", source.user_agent),) if source.user_agent else ()


def parse_source(
    source: SourceConfig, content: bytes, *, url: str, content_type: str | None = None
) -> list[Item]:
    """The items of one answer to ``source``'s request; ParseError if it is not one."""
    query = source.query
    if isinstance(query, ArxivQuery):
        return arxiv.parse_arxiv(content, source=source.name, url=url, content_type=content_type)
    if isinstance(query, EdgarQuery):
        return edgar.parse_edgar(
            content, source=source.name, url=url, content_type=content_type, forms=query.forms
        )
    if isinstance(query, HackerNewsQuery):
        return hackernews.parse_hackernews(
            content,
            source=source.name,
            url=url,
            content_type=content_type,
            min_points=query.min_points,
        )
    return parse_feed(content, source=source.name, url=url, content_type=content_type)
