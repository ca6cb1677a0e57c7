"""Pure normalisation of raw feed entries into :class:`monitor.types.Item`.

Both parsers (feedparser for RSS/Atom, our own code for JSON Feed) first reduce an entry to a
:class:`RawEntry`; everything after that is decided here, without I/O, so that the rules are
the same whatever the format and can be tested with plain tables.

Decisions:

* ``item_id``: the entry's guid/id (stripped); else its canonical link; else ``sha256:`` of the
  normalised ``title + "\\n" + summary``. An id longer than :data:`MAX_ID_CHARS` is replaced by
  ``sha256:`` of itself so that a hostile feed cannot bloat the store's key.
* ``link``: made absolute against the feed URL; fragment dropped; scheme and host lowercased;
  default ports dropped; ``utm_*``, ``fbclid`` and ``gclid`` query parameters dropped (the other
  parameters keep their order and spelling); anything but http/https becomes ``None``.
* Text: HTML is stripped with the stdlib ``html.parser`` (``script``/``style`` contents dropped,
  block elements separate words), entities decoded (also in plain text, because many feeds
  escape twice), whitespace collapsed, control characters removed. Titles are capped at
  :data:`MAX_TITLE_CHARS` and summaries at :data:`MAX_SUMMARY_CHARS`, at a word when one is
  near and ending with "…" when cut (:func:`monitor.text.shorten`).
* Sizes are bounded whatever the feed sends: at most :data:`MAX_TAGS` tags and
  :data:`MAX_AUTHORS` authors, each cut at :data:`MAX_LABEL_CHARS`; a link longer than
  :data:`MAX_LINK_CHARS` is dropped (``None``).
* Summary: the entry's summary/description, else its content.
* Title: when empty, a shortened summary stands in, else the link, so alerts always show words.
* Dates: aware UTC datetimes; ``None`` when absent or unparseable. A naive date is taken as UTC.
  ``published`` and ``updated`` are kept apart: readers wanting one display date use
  ``item.published or item.updated``.
"""

from __future__ import annotations

import hashlib
import html
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit

from monitor.text import shorten
from monitor.types import Item

MAX_TITLE_CHARS = 500
MAX_SUMMARY_CHARS = 4000
MAX_ID_CHARS = 512
MAX_TAGS = 20
MAX_AUTHORS = 10
MAX_LABEL_CHARS = 100
MAX_LINK_CHARS = 2048
FALLBACK_TITLE_CHARS = 120

TRACKING_PARAMS = frozenset({"fbclid", "gclid"})
TRACKING_PREFIXES = ("utm_",)
DEFAULT_PORTS = {"http": 80, "https": 443}

DateValue = datetime | time.struct_time | str | None


@dataclass(frozen=True)
class Text:
    """A piece of entry text and whether it is HTML (``False`` means plain text)."""

    value: str
    html: bool = True


@dataclass(frozen=True)
class RawEntry:
    """An entry as a parser found it, before any cleaning.

    Dates may be datetimes, ``time.struct_time`` (feedparser's UTC tuples) or strings
    (RFC 3339 or RFC 822); links may be relative.
    """

    id: str | None = None
    link: str | None = None
    title: Text | None = None
    summary: Text | None = None
    content: Text | None = None
    published: DateValue = None
    updated: DateValue = None
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


class EmptyEntryError(ValueError):
    """The entry has no id, link, title or text: there is nothing to identify or show."""


def normalise_entry(raw: RawEntry, *, source: str, feed_url: str) -> Item:
    """Turn one raw entry into an :class:`Item`; raises :class:`EmptyEntryError` if empty."""
    link = canonical_link(raw.link, base=feed_url)
    summary_text = plain_text(raw.summary)
    if not summary_text:
        summary_text = plain_text(raw.content)
    summary = shorten(summary_text, MAX_SUMMARY_CHARS)
    title = shorten(plain_text(raw.title), MAX_TITLE_CHARS)
    if not title:
        title = shorten(summary_text, FALLBACK_TITLE_CHARS) or (link or "")
    ident = item_id(raw.id, link=link, title=title, summary=summary)
    if ident is None:
        raise EmptyEntryError("entry has no id, link, title or text")
    return Item(
        source=source,
        item_id=ident,
        title=title,
        summary=summary,
        link=link,
        published=to_utc(raw.published),
        updated=to_utc(raw.updated),
        authors=clean_strings(raw.authors, limit=MAX_AUTHORS),
        tags=clean_strings(raw.tags, limit=MAX_TAGS),
    )


def item_id(raw_id: str | None, *, link: str | None, title: str, summary: str) -> str | None:
    """The stable id: guid/id, else canonical link, else a hash of the text; ``None`` if empty."""
    ident = remove_control_chars(raw_id or "").strip()
    if ident:
        return ident if len(ident) <= MAX_ID_CHARS else sha256_id(ident)
    if link:
        return link if len(link) <= MAX_ID_CHARS else sha256_id(link)
    if title or summary:
        return sha256_id(f"{title}\n{summary}")
    return None


def sha256_id(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def canonical_link(link: str | None, *, base: str | None = None) -> str | None:
    """The absolute, cleaned http(s) form of ``link``, or ``None`` (see module docstring)."""
    if link is None:
        return None
    link = remove_control_chars(link[: MAX_LINK_CHARS + 1]).strip()
    if not link or len(link) > MAX_LINK_CHARS:
        return None
    try:
        absolute = urljoin(base, link) if base else link
        parts = urlsplit(absolute)
        port = parts.port
    except ValueError:  # e.g. an invalid IPv6 literal or a port out of range
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}" if userinfo else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    query = drop_tracking_params(parts.query)
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def drop_tracking_params(query: str) -> str:
    """``query`` without ``utm_*``/``fbclid``/``gclid``; other pairs are kept byte for byte."""
    kept = []
    for pair in query.split("&"):
        if not pair:
            continue
        name = pair.split("=", 1)[0].lower()
        if name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES):
            continue
        kept.append(pair)
    return "&".join(kept)


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment; drops script/style; spaces out blocks."""

    SKIP = frozenset({"script", "style", "template", "noscript"})
    BREAKS = frozenset(
        {
            "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
            "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
            "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr",
            "ul",
        }
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skip_depth += 1
        elif tag in self.BREAKS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BREAKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in self.BREAKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.parts.append(data)


def strip_html(markup: str) -> str:
    """The text of an HTML fragment (entities decoded, whitespace not yet collapsed)."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def plain_text(text: Text | None) -> str:
    """Plain, single-line text from HTML or plain text (see module docstring)."""
    if text is None or not text.value:
        return ""
    value = strip_html(text.value) if text.html else html.unescape(text.value)
    return collapse_whitespace(remove_control_chars(value, keep_whitespace=True))


def collapse_whitespace(text: str) -> str:
    return " ".join(text.split())


def _char_class(keep_whitespace: bool) -> re.Pattern[str]:
    """A regex of the characters of Unicode categories Cc and Cs (C0/C1 controls, lone
    surrogates), without the whitespace ones when ``keep_whitespace``."""
    chars = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))]
    if keep_whitespace:
        chars = [c for c in chars if not c.isspace()]
    ranges = "".join(re.escape(c) for c in chars)
    return re.compile(f"[{ranges}\ud800-\udfff]+")


_CONTROLS = _char_class(keep_whitespace=False)
_CONTROLS_NOT_SPACE = _char_class(keep_whitespace=True)


def remove_control_chars(text: str, *, keep_whitespace: bool = False) -> str:
    """Drop C0/C1 control characters (and lone surrogates); optionally keep whitespace ones."""
    return (_CONTROLS_NOT_SPACE if keep_whitespace else _CONTROLS).sub("", text)


def to_utc(value: DateValue) -> datetime | None:
    """An aware UTC datetime from a datetime, a UTC ``struct_time`` or a date string."""
    if value is None:
        return None
    if isinstance(value, time.struct_time):
        try:
            return datetime(*value[:6], tzinfo=UTC)
        except (ValueError, OverflowError):
            return None
    if isinstance(value, str):
        return parse_date(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_date(text: str) -> datetime | None:
    """Parse RFC 3339/ISO 8601 or RFC 822 dates; ``None`` when neither fits."""
    text = text.strip()
    if not text:
        return None
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed is None:  # pragma: no cover - older Pythons returned None
        return None
    try:
        return to_utc(parsed)
    except (ValueError, OverflowError):
        return None


def clean_strings(values: Iterable[str], *, limit: int | None = None) -> tuple[str, ...]:
    """Stripped, non-empty, de-duplicated strings in their first order, each cut at
    :data:`MAX_LABEL_CHARS`; at most ``limit`` of them."""
    seen: dict[str, None] = {}
    for value in values:
        if limit is not None and len(seen) >= limit:
            break
        cleaned = collapse_whitespace(remove_control_chars(value[:4096], keep_whitespace=True))
        if cleaned:
            seen.setdefault(shorten(cleaned, MAX_LABEL_CHARS), None)
    return tuple(seen)
