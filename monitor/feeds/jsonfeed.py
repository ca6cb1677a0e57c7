"""JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1), read by our own code.

Decisions: a document is accepted as a JSON Feed when it is an object with an ``items`` list
(a missing or unknown ``version`` only earns a warning, since real feeds get it wrong); any
other JSON (for example the "RSS in JSON" some blogs publish) is a :class:`ParseError`. Items
without ``authors`` inherit the feed's, as the 1.1 spec says; 1.0's single ``author`` is read
too. ``summary`` and ``content_text`` are plain text, ``content_html`` is HTML.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from email.message import Message

from monitor.errors import ParseError
from monitor.feeds.normalise import RawEntry, Text

logger = logging.getLogger(__name__)

JSON_FEED_VERSION_PREFIX = "https://jsonfeed.org/version/"
JSON_CONTENT_TYPES = frozenset({"application/feed+json", "application/json"})


@dataclass(frozen=True)
class JsonFeed:
    """The parts of a JSON Feed document that items need: the raw items and feed authors."""

    items: list[object]
    authors: tuple[str, ...] = ()


def is_json_content_type(content_type: str | None) -> bool:
    return media_type(content_type) in JSON_CONTENT_TYPES


def media_type(content_type: str | None) -> str:
    """``application/json`` from ``application/json; charset=utf-8``."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    message = Message()
    message["content-type"] = content_type
    return message.get_content_charset()


def read_json_feed(content: bytes, *, url: str, content_type: str | None = None) -> JsonFeed:
    """Decode a JSON Feed document; raises :class:`ParseError` if it is not one."""
    document = _load_json(content, url=url, content_type=content_type)
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise ParseError(
            url,
            "the body is JSON but not a JSON Feed (no 'items' list): "
            "check that the URL points at the site's feed",
        )
    version = document.get("version")
    if not (isinstance(version, str) and version.startswith(JSON_FEED_VERSION_PREFIX)):
        logger.warning("JSON Feed %s has no known version (%r); reading it anyway", url, version)
    return JsonFeed(items=document["items"], authors=authors_of(document))


def _load_json(content: bytes, *, url: str, content_type: str | None) -> object:
    try:
        return json.loads(content)
    except UnicodeDecodeError as e:
        declared = charset(content_type)
        if declared is None:
            raise ParseError(url, "the JSON body is not UTF-8 and declares no charset") from e
        try:
            return json.loads(content.decode(declared))
        except (LookupError, UnicodeDecodeError, ValueError, RecursionError) as e2:
            raise ParseError(url, f"the JSON body cannot be decoded as {declared}") from e2
    except (ValueError, RecursionError) as e:
        raise ParseError(
            url, f"the body is not valid JSON ({e}): the feed may be truncated; try again later"
        ) from e


def json_item_to_raw(item: object, *, feed_authors: tuple[str, ...] = ()) -> RawEntry:
    """One JSON Feed item as a :class:`RawEntry`; raises ``ValueError`` if it is not an object."""
    if not isinstance(item, dict):
        raise ValueError(f"JSON Feed item is a {type(item).__name__}, not an object")
    summary = _string(item.get("summary"))
    content_html = _string(item.get("content_html"))
    content_text = _string(item.get("content_text"))
    if content_html:
        content: Text | None = Text(content_html, html=True)
    elif content_text:
        content = Text(content_text, html=False)
    else:
        content = None
    title = _string(item.get("title"))
    tags = item.get("tags")
    return RawEntry(
        id=_string(item.get("id"), numbers=True),
        link=_string(item.get("url")) or _string(item.get("external_url")),
        title=Text(title, html=False) if title else None,
        summary=Text(summary, html=False) if summary else None,
        content=content,
        published=_string(item.get("date_published")),
        updated=_string(item.get("date_modified")),
        authors=authors_of(item) or feed_authors,
        tags=tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
    )


def authors_of(obj: dict[str, object]) -> tuple[str, ...]:
    """Names from 1.1 ``authors`` or else 1.0 ``author``."""
    authors = obj.get("authors")
    if not isinstance(authors, list):
        author = obj.get("author")
        authors = [author] if author is not None else []
    names = []
    for author in authors:
        name = _string(author.get("name")) if isinstance(author, dict) else None
        if name:
            names.append(name)
    return tuple(names)


def _string(value: object, *, numbers: bool = False) -> str | None:
    """``value`` if it is a string (or, with ``numbers``, a number as text), else ``None``."""
    if isinstance(value, str):
        return value
    if numbers and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None
