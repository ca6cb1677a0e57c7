"""Feed bodies to items: a fast path for plain RSS 2.0/Atom, feedparser for the rest, our
own code for JSON Feed.

Decisions:

* JSON is recognised by a leading ``{`` or by a JSON content type (unless the body plainly
  starts with ``<``); everything else is XML.
* XML goes first to the fast path (:mod:`monitor.feeds.fastparse`: fastfeedparser for the long
  texts, an expat census for everything else), which either yields exactly the entries
  feedparser would or refuses; it takes only well-formed UTF-8/ASCII RSS 2.0 and Atom 1.0
  bodies with constructs it reproduces. A refusal, or any exception on the fast path (then
  logged as a warning: it is a bug), sends the body to feedparser, which also sniffs the
  encoding from the HTTP charset, the XML declaration and fallbacks. ``tests/
  test_feeds_differential.py`` holds both paths equal over ``corpus/feeds``.
* ``engine`` selects a path for tests and benchmarks: ``"auto"`` (the default, as above),
  ``"fast"`` (the fast path only: a refusal raises :class:`FastPathRefused`) or
  ``"feedparser"``. :func:`parse_feed_detailed` also says which path read the body and why
  the fast path did not.
* feedparser's "bozo" feeds that still yield entries are accepted with a warning naming the
  URL (mislabelled content types and encoding overrides are only logged at debug level: they
  are routine). A body that yields no feed at all (HTML, garbage, empty, invalid JSON) is a
  :class:`ParseError` saying what is wrong and what to do. A well-formed feed with no entries
  is simply ``[]``.
* One hostile entry never sinks the feed: converting or normalising an entry is guarded
  per entry, and a failing entry is skipped with a warning.
* Entries repeating an ``item_id`` already seen in the same body are dropped (first wins).
* Entries inherit the feed's authors when they name none (Atom and JSON Feed say so).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import feedparser

from monitor.errors import ParseError
from monitor.feeds.fastparse import FastPathRefused, read_fast
from monitor.feeds.jsonfeed import is_json_content_type, json_item_to_raw, read_json_feed
from monitor.feeds.normalise import RawEntry, Text, clean_strings, normalise_entry
from monitor.types import Item

logger = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
ROUTINE_BOZO = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)
SNIFF_BYTES = 1024

Engine = Literal["auto", "fast", "feedparser"]


@dataclass(frozen=True)
class ParsedFeed:
    """Items, the path that read them (``"json"``, ``"fast"`` or ``"feedparser"``) and, when
    ``engine="auto"`` fell back to feedparser, why."""

    items: list[Item]
    engine: str
    fallback_reason: str | None = None


def parse_feed(
    content: bytes,
    *,
    source: str,
    url: str,
    content_type: str | None = None,
    engine: Engine = "auto",
) -> list[Item]:
    """Parse a feed body into normalised items; raises :class:`ParseError` if it is no feed.

    ``url`` is the feed's final URL: relative links are resolved against it and errors name it.
    ``content_type`` is the HTTP Content-Type header, charset included, when there was one.
    ``engine`` picks the XML path (see the module docstring); leave it at ``"auto"``.
    """
    return parse_feed_detailed(
        content, source=source, url=url, content_type=content_type, engine=engine
    ).items


def parse_feed_detailed(
    content: bytes,
    *,
    source: str,
    url: str,
    content_type: str | None = None,
    engine: Engine = "auto",
) -> ParsedFeed:
    """:func:`parse_feed`, also saying which path read the body (see :class:`ParsedFeed`)."""
    head = content[:SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise ParseError(url, "the response body is empty: the server sent no feed; try later")
    if head.startswith(b"{") or (is_json_content_type(content_type) and not head.startswith(b"<")):
        feed = read_json_feed(content, url=url, content_type=content_type)
        raws: Iterable[Callable[[], RawEntry]] = (
            _deferred(json_item_to_raw, item, feed.authors) for item in feed.items
        )
        return ParsedFeed(_normalise_all(raws, source=source, url=url), "json")
    reason = None
    if engine != "feedparser":
        try:
            entries = read_fast(content, url=url, content_type=content_type)
        except FastPathRefused as e:
            if engine == "fast":
                raise
            reason = str(e)
        except Exception as e:  # a bug on the fast path must not cost us the feed
            if engine == "fast":
                raise
            reason = f"the fast path failed ({e!r})"
            logger.warning("%s for %s; reading it with feedparser", reason, url, exc_info=True)
        else:
            ready = [_ready(raw) for raw in entries]
            return ParsedFeed(_normalise_all(ready, source=source, url=url), "fast")
        logger.debug("reading %s with feedparser: %s", url, reason)
    raws = _read_with_feedparser(content, head=head, url=url, content_type=content_type)
    return ParsedFeed(_normalise_all(raws, source=source, url=url), "feedparser", reason)


def _ready(raw: RawEntry) -> Callable[[], RawEntry]:
    return lambda: raw


def _deferred(
    convert: Callable[..., RawEntry], entry: Any, feed_authors: tuple[str, ...]
) -> Callable[[], RawEntry]:
    """Delay an entry's conversion so that its failure is caught with the entry's index."""
    return lambda: convert(entry, feed_authors=feed_authors)


def _normalise_all(raws: Iterable[Callable[[], RawEntry]], *, source: str, url: str) -> list[Item]:
    items: list[Item] = []
    seen: set[str] = set()
    for index, make_raw in enumerate(raws):
        try:
            item = normalise_entry(make_raw(), source=source, feed_url=url)
        except Exception as e:  # a hostile entry must not sink the whole feed
            logger.warning("skipping entry %d of %s: %s", index, url, e)
            logger.debug("entry %d of %s failed", index, url, exc_info=True)
            continue
        if item.item_id in seen:
            logger.debug("dropping repeated item id %s in %s", item.item_id, url)
            continue
        seen.add(item.item_id)
        items.append(item)
    return items


def _read_with_feedparser(
    content: bytes, *, head: bytes, url: str, content_type: str | None
) -> list[Callable[[], RawEntry]]:
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    try:
        result = feedparser.parse(content, response_headers=headers)
    except Exception as e:  # feedparser is meant never to raise; a body that makes it is bad
        raise ParseError(url, f"the feed parser gave up on this body ({e!r}); try later") from e
    entries = _dict_get(result, "entries") or []
    problem = _dict_get(result, "bozo_exception") if _dict_get(result, "bozo") else None
    if not entries and (problem is not None or not _dict_get(result, "version")):
        raise ParseError(url, _not_a_feed_message(head, problem))
    if problem is not None:
        level = logging.DEBUG if isinstance(problem, ROUTINE_BOZO) else logging.WARNING
        logger.log(level, "feed %s is not well-formed (%s); reading its entries", url, problem)
    feed_authors = _authors(_dict_get(result, "feed"))
    return [_deferred(feedparser_entry_to_raw, entry, feed_authors) for entry in entries]


def _not_a_feed_message(head: bytes, problem: object) -> str:
    lowered = head.lower()
    if lowered.startswith((b"<!doctype html", b"<html")):
        return (
            "the body is an HTML page, not a feed: the URL probably points at the website; "
            'use the feed URL it links to (<link rel="alternate">)'
        )
    if problem is not None:
        return f"the body is not a readable feed ({problem}): check the URL or try again later"
    return "the body is XML but not RSS, RDF or Atom: check the URL in the config"


def feedparser_entry_to_raw(
    entry: Mapping[str, Any], *, feed_authors: tuple[str, ...] = ()
) -> RawEntry:
    """One feedparser entry as a :class:`RawEntry`.

    Keys are read with ``dict.get``: ``FeedParserDict.get("updated_parsed")`` would silently
    fall back to the published date (with a DeprecationWarning), which we do not want.
    """

    def get(key: str) -> Any:
        return _dict_get(entry, key)

    contents = get("content") or []
    return RawEntry(
        id=get("id"),
        link=get("link"),
        title=_text(get("title_detail"), get("title")),
        # without summary_detail, feedparser's "summary" is a copy of the content: use that
        summary=_text(get("summary_detail"), None),
        content=_text(contents[0], None) if contents else None,
        published=get("published_parsed") or get("published"),
        updated=get("updated_parsed") or get("updated"),
        authors=_authors(entry) or feed_authors,
        tags=tuple(
            _dict_get(tag, "term") or _dict_get(tag, "label") or "" for tag in get("tags") or []
        ),
    )


def _dict_get(obj: Any, key: str) -> Any:
    """``obj[key]`` for a plain or feedparser dict, bypassing feedparser's key aliases."""
    return dict.get(obj, key) if isinstance(obj, dict) else None


def _text(detail: Any, fallback: Any) -> Text | None:
    value = _dict_get(detail, "value")
    if isinstance(value, str):
        return Text(value, html=_dict_get(detail, "type") in HTML_TYPES)
    return Text(fallback, html=False) if isinstance(fallback, str) else None


def _authors(obj: Any) -> tuple[str, ...]:
    authors = _dict_get(obj, "authors") or []
    names = [_dict_get(a, "name") or _dict_get(a, "email") or "" for a in authors]
    if not any(names) and isinstance(_dict_get(obj, "author"), str):
        names = [_dict_get(obj, "author")]
    return clean_strings(n for n in names if isinstance(n, str))
