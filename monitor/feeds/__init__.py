"""Fetching and parsing feeds: the edge between the web and :class:`monitor.types.Item`.

``fetch`` (httpx, conditional GET) -> ``parse`` (feedparser / JSON Feed) -> ``normalise``
(pure). Use :class:`HttpFetcher` behind the :class:`Fetcher` port and :func:`parse_feed`.
"""

from monitor.feeds.fetch import DEFAULT_USER_AGENT, Fetcher, HttpFetcher
from monitor.feeds.normalise import RawEntry, Text, canonical_link, normalise_entry, plain_text
from monitor.feeds.parse import parse_feed

__all__ = [
    "DEFAULT_USER_AGENT",
    "Fetcher",
    "HttpFetcher",
    "RawEntry",
    "Text",
    "canonical_link",
    "normalise_entry",
    "parse_feed",
    "plain_text",
]
