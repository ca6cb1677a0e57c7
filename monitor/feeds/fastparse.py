"""The fast path for RSS 2.0 and Atom 1.0: fastfeedparser's text, feedparser's meaning.

:func:`read_fast` returns the :class:`RawEntry` objects that ``feedparser_entry_to_raw``
in :mod:`monitor.feeds.parse` makes from feedparser's output for the same body, or raises
:class:`FastPathRefused` (the caller then uses feedparser). It never guesses: a construct
whose meaning to feedparser is not reproduced here is a refusal.

Decisions:

* **Gate, from the bytes** (:func:`sniff_refusal`): only bodies whose HTTP charset (if
  any) and XML declaration (if any) say UTF-8 or ASCII, that decode as strict UTF-8, have
  no DOCTYPE and whose root is ``<rss version="2.x">`` or an Atom 1.0 ``<feed>``. The
  rest (legacy encodings, RDF, RSS 0.9x, HTML, gzip, ...) is feedparser's.
* **Census, one expat pass** (:class:`_Census`): expat is what feedparser's strict mode
  parses with, so a body it rejects (feedparser would be "bozo" and read it leniently) is
  refused. The pass names elements as feedparser does (its namespace table, lowercased
  names) and records per entry, in document order, the elements that decide the fields
  read, with attributes, ``xml:base`` and the text of the short ones (ids, links, titles,
  dates, authors, categories, secondary summaries). Refused: an element feedparser has a
  handler for that is not understood here; an element inside a text element (feedparser
  re-reads it as XHTML); an item or entry out of place; XHTML, base64 or out-of-line text;
  HTML with ``<applet>``/``<template>`` (feedparser's sanitizer and normalise disagree).
* **fastfeedparser** supplies only the long texts, which the census never hands to
  Python: each entry's first description/summary and first content. Its dates, ids,
  links, authors and tags are not used (it copies ``updated`` into ``published``, falls
  back from the id to the link, keeps one author, synthesises descriptions...).
* **feedparser's rules, replayed**: the last date wins; an ``isPermaLink`` guid is the
  link unless a link follows; the title-depth rule (even an ignored title moves it); a
  second summary becomes content, also when the channel's summaries set feedparser's
  ``hasContent`` before the first item; authors share one context, so a later author can
  inherit an earlier one's name and an ``itunes:owner`` lands among the feed's authors;
  ids and links resolve against ``xml:base`` or the feed URL; RSS titles are sniffed for
  HTML; its text fix-ups (Latin-1/UTF-8 mojibake repair, C1 controls read as cp1252).
  Dates go through feedparser's own date parser, authors through its own bookkeeping
  (``_save_author``/``_sync_author_detail``, cached by their texts), URIs through its own
  joiner (skipped for plain absolute http(s) URLs, which it returns unchanged), and its
  namespace table and handler names decide what an element is. If an upgrade removes
  these helpers the fast path is off (:data:`AVAILABLE`); if it changes them, the
  differential test (``tests/test_feeds_differential.py``) says so.
* ``fastfeedparser.parse`` is given bytes only (a ``str`` starting with ``http`` would be
  fetched) and runs without tags, media or enclosures. The one warning it can raise
  (dateutil's ``UnknownTimezoneWarning``, about dates we do not use) is ignored around the
  call; ``catch_warnings`` is process-wide, so a race between threads can at worst leave
  that one category ignored. Entries are converted eagerly: a failure refuses the whole
  body, so per-entry skipping happens only in normalisation, as on feedparser's path.
* Cost: the census is one Python callback per element start and end (about 2 us each);
  on an ordinary 25-item feed reading takes ~1.3 ms against feedparser's ~9 ms
  (``benchmarks/bench_parse.py``); normalisation, common to both paths, then dominates.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import re
import warnings
import xml.parsers.expat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import fastfeedparser
from dateutil.parser import UnknownTimezoneWarning

from monitor.feeds.jsonfeed import charset
from monitor.feeds.normalise import DateValue, RawEntry, Text, clean_strings

try:  # feedparser's own tables and helpers, so that its decisions are reproduced exactly
    from feedparser.api import StrictFeedParser as _Handlers
    from feedparser.datetimes import _parse_date as _fp_parse_date
    from feedparser.urls import _urljoin as _fp_urljoin
    from feedparser.urls import make_safe_absolute_uri as _fp_safe_uri

    _FP_NAMESPACES: dict[str, str] = {k.lower(): v for k, v in _Handlers.namespaces.items()}
    _looks_like_html: Callable[[str], bool] = _Handlers.looks_like_html
    AVAILABLE = True
except (ImportError, AttributeError):  # pragma: no cover - depends on the feedparser release
    _FP_NAMESPACES = {}
    AVAILABLE = False

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_BASE = "http://www.w3.org/XML/1998/namespace base xml"
RDF_ABOUT = "http://www.w3.org/1999/02/22-rdf-syntax-ns# about"
MEDIA_SCHEME = "http://search.yahoo.com/mrss/category_schema"
ITUNES_SCHEME = "http://www.itunes.com/"
OK_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
TEXT_TYPES = {"text": "text/plain", "plain": "text/plain", "html": "text/html"}
XHTML_TYPES = {**TEXT_TYPES, "xhtml": "application/xhtml+xml"}  # feedparser's type names
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
SNIFF_BYTES = 4096


class FastPathRefused(Exception):
    """The fast path cannot promise feedparser's items for this body; the message says why."""


# --- the gate ------------------------------------------------------------------------------

_XML_DECL = re.compile(rb"<\?xml\s[^>]*?\?>")
_DECL_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_PROLOG_MISC = re.compile(rb"\s*(?:<\?[^>]*\?>|<!--.*?-->)", re.DOTALL)
_ROOT_TAG = re.compile(rb"\s*<([A-Za-z_][\w.:-]*)([^>]*)>")
_RSS2_VERSION = re.compile(rb"""\sversion\s*=\s*["']2\.""")
_ATOM_XMLNS = re.compile(rb"""\sxmlns\s*=\s*["']http://www\.w3\.org/2005/Atom["']""")


def sniff_refusal(content: bytes, content_type: str | None) -> str | None:
    """Why the bytes alone rule the fast path out, or ``None`` (go on to the census)."""
    if not AVAILABLE:
        return "feedparser's helpers are missing (see monitor.feeds.fastparse)"
    declared = charset(content_type)
    if declared is not None and declared.lower() not in OK_CHARSETS:
        return f"HTTP charset {declared} is not UTF-8"
    head = content[:SNIFF_BYTES].removeprefix(codecs.BOM_UTF8)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "a UTF-16/UTF-32 byte order mark"
    if decl := _XML_DECL.match(head):
        encoding = _DECL_ENCODING.search(decl.group())
        if encoding and encoding.group(1).decode().lower() not in OK_CHARSETS:
            return f"declared encoding {encoding.group(1).decode()} is not UTF-8"
        head = head[decl.end() :]
    while (misc := _PROLOG_MISC.match(head)) and misc.end():
        head = head[misc.end() :]
    if head.lstrip().startswith(b"<!DOCTYPE"):
        return "a DOCTYPE (feedparser rewrites its entity declarations)"
    root = _ROOT_TAG.match(head)
    name, attrs = (root.group(1), root.group(2)) if root else (b"?", b"")
    if not (
        (name == b"rss" and _RSS2_VERSION.search(attrs))
        or (name == b"feed" and _ATOM_XMLNS.search(attrs))
    ):
        return f"root <{name.decode('ascii', 'replace')}> is not RSS 2.0 or Atom 1.0"
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not valid UTF-8"
    return None


# --- the census ----------------------------------------------------------------------------

TITLE, LINK, ID, SUMMARY, CONTENT, PUBLISHED, UPDATED = range(7)
AUTHOR, NAME, EMAIL, HREF, CATEGORY, KEYWORDS, SOURCE, CONTAINER, TEXTISH, OWNER = range(7, 17)
AUTHOR_PARTS = {NAME: "name", EMAIL: "email", HREF: "href"}  # feedparser's keys for them

_CONTAINERS = (
    "enclosure media:content media:group media:thumbnail media:credit media:rating "
    "media:restriction media:license media:player itunes:image itunes:link itunes:block "
    "itunes:explicit language dc:language dc:publisher webmaster contributor dc:contributor "
    "created dcterms:created dcterms:valid expirationdate cc:license cloud "
    "generator width height newlocation psc:chapters psc:chapter where georss:where "
    "georss:point georss:line georss:polygon georss:box gml:point gml:linestring gml:polygon "
    "gml:exterior gml:linearring gml:pos gml:poslist"
)
ROLES: Mapping[str, int] = {
    "title": TITLE, "dc:title": TITLE, "media:title": TITLE,
    "link": LINK, "guid": ID, "id": ID,
    "description": SUMMARY, "dc:description": SUMMARY, "media:description": SUMMARY,
    "summary": SUMMARY, "itunes:summary": SUMMARY, "content:encoded": CONTENT,
    "pubdate": PUBLISHED, "published": PUBLISHED, "issued": PUBLISHED,
    "dcterms:issued": PUBLISHED, "updated": UPDATED, "modified": UPDATED,
    "lastbuilddate": UPDATED, "dc:date": UPDATED, "dcterms:modified": UPDATED,
    "author": AUTHOR, "dc:creator": AUTHOR, "dc:author": AUTHOR, "itunes:author": AUTHOR,
    "managingeditor": AUTHOR, "name": NAME, "email": EMAIL,
    "uri": HREF, "url": HREF, "homepage": HREF, "itunes:name": NAME, "itunes:email": EMAIL,
    "category": CATEGORY, "keywords": CATEGORY, "dc:subject": CATEGORY,
    "media:category": CATEGORY, "itunes:category": CATEGORY,
    "itunes:keywords": KEYWORDS, "media:keywords": KEYWORDS, "tags": KEYWORDS,
    "source": SOURCE,
    # kept as text by feedparser, which turns any child element into markup
    "rights": TEXTISH, "copyright": TEXTISH, "dc:rights": TEXTISH, "subtitle": TEXTISH,
    "itunes:subtitle": TEXTISH, "tagline": TEXTISH, "info": TEXTISH,
    "feedburner:browserfriendly": TEXTISH, "creativecommons:license": TEXTISH,
    "creativeCommons:license": TEXTISH,
    # handled by feedparser without touching the fields read (children are looked at)
    **dict.fromkeys(_CONTAINERS.split(), CONTAINER),
}  # fmt: skip
NESTABLE = frozenset({TITLE, SUMMARY, CATEGORY, KEYWORDS})  # roles allowed below depth 1
FEED_AUTHORS = frozenset({"author", "managingeditor", "dc:creator", "dc:author", "itunes:author"})
FEED_CONTENTS = frozenset({"content:encoded", "content", "fullitem", "body", "xhtml:body"})
IMAGE_KIDS = {  # children that do not end feedparser's image/textinput context
    "image": frozenset({"title", "link", "description", "url", "href", "width", "height"}),
    "textinput": frozenset({"title", "link", "description", "name"}),
}
SUMMARY_FAMILY = frozenset({"summary", "itunes:summary"})  # the others are descriptions
FIELD_KEYS = frozenset(
    {"id", "link", "title", "title_detail", "summary", "summary_detail", "content", "tags",
     "published", "published_parsed", "updated", "updated_parsed", "author", "authors"}
)  # fmt: skip
ENTRY = -1  # an <item> or <entry>
UNDERSTOOD_NOT = -2  # feedparser handles it in ways not reproduced here
GENERIC = -3  # no feedparser handler: kept aside by feedparser, and its children looked at

Sink = Callable[[str], object] | None


@functools.lru_cache(maxsize=4096)
def _classify(name: str, atom: bool) -> int:
    """What an element of this (feedparser) name is, for the census."""
    if name in ("item", "entry"):
        return ENTRY
    role = ROLES.get(name)
    if role is not None:
        return role
    if name == "content" and atom:
        return CONTENT
    key = name.replace(":", "_")
    if hasattr(_Handlers, "_start_" + key) or hasattr(_Handlers, "_end_" + key):
        return UNDERSTOOD_NOT
    return UNDERSTOOD_NOT if key in FIELD_KEYS else GENERIC


class _Event:
    """An element of an entry (or a feed-level author) that matters, as the census saw it."""

    __slots__ = ("as_content", "attrs", "base", "depth", "end", "main", "name", "parts",
                 "role", "start", "text")  # fmt: skip

    def __init__(self, role: int, name: str, depth: int, attrs: dict[str, str], base: str):
        self.role = role
        self.name = name  # feedparser's name, e.g. "dc:creator"
        self.depth = depth  # 1 for a child of the entry
        self.attrs = attrs  # attribute names lowercased (namespaced ones as expat has them)
        self.base = base  # feedparser's base URI at this element
        self.text: list[str] = []  # captured character data
        self.main = False  # a SUMMARY/CONTENT whose text fastfeedparser supplies
        self.start = self.end = 0  # byte offsets of a main element
        self.as_content = False  # a SUMMARY that feedparser files as content
        self.parts: list[tuple[str, list[str], str]] = []  # AUTHOR: children (key, text, base)

    @property
    def value(self) -> str:
        """The element's text as feedparser pops it (stripped)."""
        return "".join(self.text).strip()


class _Entry:
    __slots__ = ("events", "has_content", "locals_seen", "main_summary", "summary_present",
                 "tags")  # fmt: skip

    def __init__(self) -> None:
        self.events: list[_Event] = []
        self.tags: list[dict[str, str | None]] = []
        self.locals_seen: set[str] = set()  # local names of its children
        self.summary_present = False  # feedparser's ``"summary" in context``
        self.has_content = False  # feedparser's ``hasContent``
        self.main_summary = False  # fastfeedparser's description is taken


class _Frame:
    __slots__ = ("base", "event", "name", "role", "sink")

    def __init__(
        self, name: str, role: int, base: str, event: _Event | None = None, sink: Sink = None
    ) -> None:
        self.name = name
        self.role = role
        self.base = base
        self.event = event
        self.sink = sink  # where character data inside this element goes


class _Census:
    """One expat pass over the body (see the module docstring); :meth:`run` fills it."""

    def __init__(self, content: bytes, url: str) -> None:
        self.content = content
        self.atom = False
        self.entries: list[_Entry] = []
        self.feed_authors: list[_Event] = []  # and itunes:owner, which feedparser mixes in
        self._entry: _Entry | None = None
        self._entry_depth = 0
        self._has_content = False  # feedparser's hasContent, which only an entry's end resets
        self._feed_summary = False  # feedparser's "summary" in the feed's context
        self._stack: list[_Frame] = []
        self._ns_in_use: dict[str, str] = {}
        self._remap: dict[str, str] = {}  # feedparser's namespacemap
        self._kinds: dict[str, tuple[str, int, str]] = {}
        self._root_base = _fp_safe_uri(url, url) or url
        parser = xml.parsers.expat.ParserCreate("UTF-8", " ")
        parser.namespace_prefixes = True
        parser.buffer_text = True
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.StartNamespaceDeclHandler = self._namespace
        self._parser = parser

    def run(self) -> _Census:
        try:
            self._parser.Parse(self.content, True)
        except xml.parsers.expat.ExpatError as e:
            raise FastPathRefused(f"not well-formed XML ({e})") from e
        return self

    # expat handlers

    def _namespace(self, prefix: str | None, uri: str) -> None:
        if not uri:
            return
        self._kinds.clear()  # names in unknown namespaces depend on the declarations
        known = _FP_NAMESPACES.get(uri.lower())
        if known is not None and prefix:
            self._remap[prefix] = known
        self._ns_in_use[known if known is not None else (prefix or "")] = uri

    def _start(self, qname: str, attrs: dict[str, str]) -> None:
        name, role, local = self._kinds.get(qname) or self._kind(qname)
        stack = self._stack
        if not stack:
            self._start_root(qname, name)
            return
        parent = stack[-1]
        base = parent.base
        if attrs and (XML_BASE in attrs or "base" in attrs):
            given = attrs[XML_BASE] if XML_BASE in attrs else attrs["base"]
            base = (_fp_safe_uri(base, given) or base) if given else base
        if role == ENTRY:
            self._start_entry(qname, len(stack), parent, attrs)
            frame = _Frame(name, ENTRY, base)
        elif self._entry is not None:
            depth = len(stack) - self._entry_depth
            frame = self._entry_element(name, role, local, depth, parent, attrs, base)
        else:
            frame = self._feed_element(name, role, len(stack), parent, attrs, base)
        stack.append(frame)
        self._parser.CharacterDataHandler = frame.sink

    def _end(self, qname: str) -> None:
        stack = self._stack
        frame = stack.pop()
        self._parser.CharacterDataHandler = stack[-1].sink if stack else None
        event = frame.event
        if event is None or self._entry is None:
            if frame.role == ENTRY:
                self._entry = None
                self._has_content = False
            elif frame.role == SUMMARY:  # at feed level: a summary is kept as "summary"
                self._feed_summary = self._feed_summary or frame.name in SUMMARY_FAMILY
        elif frame.role not in AUTHOR_PARTS:
            _ended(self._entry, event, self._parser.CurrentByteIndex)

    # entries

    def _start_root(self, qname: str, name: str) -> None:
        self.atom = qname == ATOM_NS + " feed"
        if not (self.atom or qname == "rss"):
            raise FastPathRefused(f"root element {qname!r} is not RSS 2.0 or Atom 1.0")
        self._kinds.clear()  # the classification of "content" depends on the format
        self._stack.append(_Frame(name, GENERIC, self._root_base))

    def _start_entry(self, qname: str, depth: int, parent: _Frame, attrs: dict[str, str]) -> None:
        if self.atom:
            placed = qname == ATOM_NS + " entry" and depth == 1
        else:
            placed = qname == "item" and depth == 2 and parent.name == "channel"
        if self._entry is not None or not placed:
            raise FastPathRefused(f"an <{qname.split(' ')[-1]}> where no entry belongs")
        if any(k.lower() in ("href", "lastmod") or k.startswith(RDF_ABOUT) for k in attrs):
            raise FastPathRefused("an entry carrying href, lastmod or rdf:about attributes")
        self._entry = _Entry()
        self._entry.has_content = self._has_content
        self._entry_depth = depth
        self.entries.append(self._entry)

    def _entry_element(
        self,
        name: str,
        role: int,
        local: str,
        depth: int,
        parent: _Frame,
        attrs: dict[str, str],
        base: str,
    ) -> _Frame:
        entry = self._entry
        assert entry is not None
        if parent.role not in (ENTRY, GENERIC, CONTAINER) and not (
            (parent.role == AUTHOR and role in (NAME, EMAIL, HREF, CONTAINER, GENERIC))
            or (parent.name == "itunes:category" and name == "itunes:category")
        ):
            raise FastPathRefused(f"<{name}> inside <{parent.name}> is read as markup")
        first_of_local = False
        if depth == 1:
            first_of_local = local not in entry.locals_seen
            entry.locals_seen.add(local)
        if role in (GENERIC, CONTAINER, TEXTISH):
            return _Frame(name, role, base)
        if role == UNDERSTOOD_NOT:
            raise FastPathRefused(f"entry element <{name}> is not understood here")
        if role in AUTHOR_PARTS:
            return self._author_part(name, role, parent, base)
        if depth > 1 and role not in NESTABLE:
            raise FastPathRefused(f"<{name}> nested inside an entry element")
        event = _Event(role, name, depth, _lower_keys(attrs) if attrs else {}, base)
        entry.events.append(event)
        frame = _Frame(name, role, base, event, event.text.append)
        if role in (SUMMARY, CONTENT):
            self._summary_or_content(entry, event, first_of_local)
            if event.main:
                frame.sink = None
        elif role == CATEGORY:
            _start_category(entry.tags, event)
        return frame

    def _author_part(self, name: str, role: int, parent: _Frame, base: str) -> _Frame:
        """A <name>, <email> or <uri> of an author: feedparser saves it into the author."""
        if parent.role not in (AUTHOR, OWNER) or parent.event is None:
            if role == HREF or parent.name in ("contributor", "dc:contributor"):
                return _Frame(name, CONTAINER, base)  # kept aside by feedparser
            raise FastPathRefused(f"<{name}> outside an author")
        texts: list[str] = []
        parent.event.parts.append((AUTHOR_PARTS[role], texts, base))
        return _Frame(name, role, base, parent.event, texts.append)

    def _summary_or_content(self, entry: _Entry, event: _Event, first_of_local: bool) -> None:
        """feedparser's summary/content bookkeeping, and who supplies the text."""
        if "mode" in event.attrs or "src" in event.attrs:
            raise FastPathRefused(f"<{event.name}> with a mode or src attribute")
        if event.role == CONTENT:  # fastfeedparser reads the first content:encoded/atom:content
            event.main = not any(e.role == CONTENT for e in entry.events[:-1])
            entry.has_content = True
        else:
            if entry.summary_present and not entry.has_content:
                event.as_content = True  # feedparser reads a second summary as content
                entry.has_content = True
            if self.atom:  # fastfeedparser reads the first atom:summary
                event.main = event.depth == 1 and event.name == "summary"
            else:  # and the first child whose local name is "description", any namespace
                event.main = first_of_local and event.name.endswith("description")
            event.main = event.main and not entry.main_summary
            entry.main_summary = entry.main_summary or event.main
        if event.main:
            event.start = self._parser.CurrentByteIndex

    # the feed level: authors, and the summary bookkeeping that leaks into entries

    def _feed_element(
        self, name: str, role: int, depth: int, parent: _Frame, attrs: dict[str, str], base: str
    ) -> _Frame:
        top = depth == (1 if self.atom else 2)  # a child of the channel or feed
        if name in FEED_CONTENTS:
            raise FastPathRefused(f"a feed-level <{name}> (feedparser carries it into entries)")
        if role == SUMMARY and parent.name not in IMAGE_KIDS:  # else filed there
            if not top or any(k.lower() == "type" for k in attrs):
                raise FastPathRefused(f"a feed-level <{name}> feedparser may read as content")
            if self._feed_summary and not self._has_content:
                self._has_content = True  # read as content: the next entry inherits this
            return _Frame(name, SUMMARY, base)
        if parent.name in IMAGE_KIDS and ":" not in name and name not in IMAGE_KIDS[parent.name]:
            raise FastPathRefused(f"<{name}> in <{parent.name}> ends feedparser's image context")
        if top and (name in FEED_AUTHORS or name == "itunes:owner"):
            kind = OWNER if name == "itunes:owner" else AUTHOR
            event = _Event(kind, name, depth, {}, base)
            self.feed_authors.append(event)
            return _Frame(name, kind, base, event, event.text.append if kind == AUTHOR else None)
        if parent.role in (AUTHOR, OWNER) and role in AUTHOR_PARTS:
            return self._author_part(name, role, parent, base)
        if name == "itunes:owner":
            raise FastPathRefused("a nested itunes:owner (feedparser mixes it into authors)")
        return _Frame(name, GENERIC, base)

    def _kind(self, qname: str) -> tuple[str, int, str]:
        """feedparser's name for an element (its prefix for the namespace, else the
        document's, lowercased), what it is, and its local name as fastfeedparser sees it."""
        uri, sep, rest = qname.partition(" ")
        local = rest.partition(" ")[0] if sep else qname
        if not sep or "backend.userland.com/rss" in uri.lower():
            name = local.lower()
        else:
            prefix = _FP_NAMESPACES.get(uri.lower())
            if prefix is None:
                prefix = next((p for p, u in self._ns_in_use.items() if p and u == uri), "")
            name = f"{prefix}:{local}".lower() if prefix else local.lower()
        if ":" in name:  # feedparser maps the prefix once more through its namespacemap
            prefix, _, rest = name.partition(":")
            prefix = self._remap.get(prefix, prefix)
            name = f"{prefix}:{rest}" if prefix else rest
        kind = (name, _classify(name, self.atom), local.lower())
        self._kinds[qname] = kind
        return kind


_FP_PREFIXES = frozenset(p for p in _FP_NAMESPACES.values() if p)


def _lower_keys(attrs: dict[str, str]) -> dict[str, str]:
    return {k if " " in k else k.lower(): v for k, v in attrs.items()}


def _ended(entry: _Entry, event: _Event, offset: int) -> None:
    """What feedparser does at the end of an entry element."""
    role = event.role
    if role in (SUMMARY, CONTENT):
        entry.summary_present = True
        event.end = offset
    elif role == CATEGORY:
        _end_category(entry.tags, event)
    elif role == KEYWORDS:
        _keywords(entry.tags, event)


# --- feedparser's tag rules ----------------------------------------------------------------


def _add_tag(tags: list[dict[str, str | None]], term: Any, scheme: Any, label: Any) -> None:
    if not (term or scheme or label):
        return
    tag = {"term": term, "scheme": scheme, "label": label}
    if tag not in tags:
        tags.append(tag)


def _start_category(tags: list[dict[str, str | None]], event: _Event) -> None:
    attrs = event.attrs
    if event.name == "itunes:category":
        _add_tag(tags, attrs.get("text"), ITUNES_SCHEME, None)
        return
    scheme = attrs.get("scheme", attrs.get("domain"))
    if event.name == "media:category" and "scheme" not in attrs:
        scheme = MEDIA_SCHEME
    _add_tag(tags, attrs.get("term"), scheme, attrs.get("label"))


def _end_category(tags: list[dict[str, str | None]], event: _Event) -> None:
    value = feedparser_text(event.value)
    if not value:
        return
    if tags and not tags[-1]["term"]:
        tags[-1]["term"] = value
    else:
        _add_tag(tags, value, None, None)


def _keywords(tags: list[dict[str, str | None]], event: _Event) -> None:
    if event.attrs and event.name != "tags":  # feedparser then never collects the text
        return
    scheme = ITUNES_SCHEME if event.name == "itunes:keywords" else None
    for term in feedparser_text(event.value).split(","):
        _add_tag(tags, term.strip(), scheme, None)


# --- feedparser's text and URL rules -------------------------------------------------------

_C1_AS_CP1252 = {c: bytes([c]).decode("cp1252", "ignore") or chr(c) for c in range(0x80, 0xA0)}
_C1 = re.compile("[\x80-\x9f]")
_ENTITY_LIKE = re.compile(r"&([A-Za-z0-9_]+);")
# An absolute http(s) URL that urljoin returns unchanged: lowercase scheme, plain host and
# port, a path without ";" params, a non-empty query and fragment if any, no controls/spaces.
_PLAIN_ABSOLUTE = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[^\x00-\x20\x7f?#;]*)?"
    r"(?:\?[^\x00-\x20\x7f#]+)?(?:#[^\x00-\x20\x7f]+)?"
)
# feedparser's sanitizer drops <applet> text and keeps <template> text; normalise does the
# opposite. Found by comparing the two paths over ~60 HTML constructs.
_SANITIZER_DIVERGES = re.compile(r"<(?:applet|template)\b", re.IGNORECASE)


def feedparser_text(value: str) -> str:
    """What feedparser stores for popped text: mojibake repaired, C1 controls as cp1252."""
    if value.isascii():
        return value
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("iso-8859-1").decode("utf-8")
    return value.translate(_C1_AS_CP1252) if _C1.search(value) else value


def _resolve(base: str, value: str) -> str:
    """feedparser's resolution of a relative URI (an empty one stays empty)."""
    if not value or _PLAIN_ABSOLUTE.fullmatch(value):
        return value  # what feedparser's join gives back for these, without the cost
    return str(_fp_urljoin(base, value))


def _content_type(event: _Event, default: str) -> str:
    given = event.attrs.get("type", default).lower()
    mapped = TEXT_TYPES.get(given, given)
    if mapped not in ("text/plain", "text/html"):
        raise FastPathRefused(f"<{event.name} type={given!r}> is not plain text or HTML")
    return mapped


def _text(event: _Event, value: str, default: str, *, rss: bool) -> Text:
    """The :class:`Text` feedparser makes of an element's (stripped, raw) text."""
    kind = _content_type(event, default)
    html = kind == "text/html" or (rss and bool(_looks_like_html(value)))
    if html and _SANITIZER_DIVERGES.search(value):
        raise FastPathRefused(f"<{event.name}> holds HTML that feedparser's sanitizer reworks")
    return Text(feedparser_text(value), html=html)


# --- census + fastfeedparser -> RawEntry ---------------------------------------------------


def _main_text(content: bytes, event: _Event, fast: str | None) -> str:
    """The text of a main element: fastfeedparser's, or "" if the element has none."""
    gt = content.find(b">", event.start, event.end)
    inner = gt + 1
    if content.find(b"<!--", inner, event.end) >= 0 or content.find(b"<?", inner, event.end) >= 0:
        raise FastPathRefused(f"a comment or processing instruction in <{event.name}>")
    if event.end - inner < 64 and not content[inner : event.end].replace(b"<![CDATA[]]>", b""):
        return ""  # no character data at all: fastfeedparser would look elsewhere
    if fast is None:
        raise FastPathRefused(f"fastfeedparser lost the text of <{event.name}>")
    return fast


def _date(event: _Event) -> DateValue:
    value = feedparser_text(event.value)
    return _fp_parse_date(value) or value


def _author_names(events: list[_Event]) -> tuple[str, ...]:
    """``parse._authors`` over the authors feedparser makes of these author elements."""
    return _replay_authors(
        tuple(
            (e.role == OWNER, feedparser_text(e.value), tuple(_author_part(*p) for p in e.parts))
            for e in events
        )
    )


def _author_part(key: str, texts: list[str], base: str) -> tuple[str, str]:
    value = "".join(texts).strip()  # names and e-mails are saved as popped, without fix-ups
    return (key, feedparser_text(_resolve(base, value))) if key == "href" else (key, value)


class _AuthorContext:
    """Just enough of a feedparser parser for its own author bookkeeping to run on."""

    if AVAILABLE:
        _save_author = _Handlers._save_author
        _sync_author_detail = _Handlers._sync_author_detail

    def __init__(self) -> None:
        self.context: dict[str, Any] = {}

    def _get_context(self) -> dict[str, Any]:
        return self.context


@functools.lru_cache(maxsize=1024)
def _replay_authors(
    authors: tuple[tuple[bool, str, tuple[tuple[str, str], ...]], ...],
) -> tuple[str, ...]:
    """Replay author elements (owner?, text, ``(name|email|href, text)`` children) as
    feedparser handles them, in one context: a later author can inherit an earlier one's
    name, and an itunes:owner's name lands in the authors."""
    probe = _AuthorContext()
    context = probe.context
    try:
        for owner, text, parts in authors:
            if owner:  # _start_itunes_owner ... _end_itunes_owner
                for key, value in parts:
                    probe._save_author(key, value, "publisher")
                probe._sync_author_detail("publisher")
                continue
            context.setdefault("authors", []).append({})  # _start_author
            for key, value in parts:  # _end_name, _end_email, _end_url
                probe._save_author(key, value)
            context["author"] = text  # _end_author: pop, then sync
            probe._sync_author_detail()
    except Exception as e:  # feedparser changed: do not guess
        raise FastPathRefused(f"cannot replay the authors as feedparser does ({e!r})") from e
    names = [dict.get(a, "name") or dict.get(a, "email") or "" for a in context.get("authors", ())]
    if not any(names) and isinstance(context.get("author"), str):
        names = [context["author"]]
    return clean_strings(n for n in names if isinstance(n, str))


@dataclass
class _Fields:
    """An entry's fields as feedparser builds them, element after element."""

    title: Text | None = None
    title_depth: int | None = None
    link: str | None = None
    id: str | None = None
    summary: Text | None = None
    content: Text | None = None
    published: DateValue = None
    updated: DateValue = None


def _to_raw(
    census: _Census, entry: _Entry, fast: Mapping[str, Any], feed_authors: Callable[[], Any]
) -> RawEntry:
    rss = not census.atom
    got = _Fields()
    for event in entry.events:
        role = event.role
        if role == TITLE:  # feedparser ignores a title at or below the last non-empty one,
            if got.title_depth is None or got.title_depth > event.depth:
                got.title = _text(event, event.value, "text/plain", rss=rss)
            if event.value and event.name != "media:title":  # which even an ignored one moves
                got.title_depth = event.depth
        elif role == ID:
            permalink = event.attrs.get("ispermalink", "true") == "true"
            value = _resolve(event.base, event.value) if permalink else event.value
            got.id = feedparser_text(value)
            if permalink and got.link is None:
                got.link = got.id
        elif role == LINK:
            got.link = _link(event, got.link)
        elif role == SOURCE:
            got.title_depth = None  # feedparser forgets the title depth in a <source>
        elif role in (SUMMARY, CONTENT):
            _summary_or_content(census.content, event, fast, got, rss=rss)
        elif role == PUBLISHED:
            got.published = _date(event)
        elif role == UPDATED:
            got.updated = _date(event)
    authors = _author_names([e for e in entry.events if e.role == AUTHOR])
    return RawEntry(
        id=got.id,
        link=got.link,
        title=got.title,
        summary=got.summary,
        content=got.content,
        published=got.published,
        updated=got.updated,
        authors=authors or feed_authors(),
        tags=tuple(t["term"] or t["label"] or "" for t in entry.tags),
    )


def _link(event: _Event, current: str | None) -> str | None:
    """feedparser's entry link after this <link> element."""
    attrs = event.attrs
    rel = attrs.get("rel", "alternate").lower()
    kind = attrs.get("type", "application/atom+xml" if rel == "self" else "text/html").lower()
    href = attrs.get("url", attrs.get("uri", attrs.get("href")))
    if href or "href" in attrs:  # an Atom-style link: the text, if any, is ignored
        if rel == "alternate" and XHTML_TYPES.get(kind, kind) in HTML_TYPES:
            return _resolve(event.base, href or attrs["href"]) or event.base
        return current
    value = feedparser_text(_resolve(event.base, event.value))
    if "&" in value:  # feedparser undoes &amp; and &name; in link text
        value = _ENTITY_LIKE.sub(r"&\g<1>", value.replace("&amp;", "&"))
    return value


def _summary_or_content(
    content: bytes, event: _Event, fast: Mapping[str, Any], got: _Fields, *, rss: bool
) -> None:
    if event.role == CONTENT and got.content is not None:
        return  # only the first content is ever read
    if event.main and event.role == CONTENT:
        value = _main_text(content, event, (fast.get("content") or [{}])[0].get("value"))
    elif event.main:
        value = _main_text(content, event, fast.get("description"))
    else:
        value = event.value
    if event.role == CONTENT:
        default = "text/plain" if event.name == "content" else "text/html"
    elif event.as_content:
        default = "text/plain"  # feedparser reads it as Atom content
    else:
        default = "text/plain" if event.name in SUMMARY_FAMILY else "text/html"
    text = _text(event, value, default, rss=rss)
    if event.role == SUMMARY and not event.as_content:
        got.summary = text
    elif got.content is None:
        got.content = text


def read_fast(content: bytes, *, url: str, content_type: str | None) -> list[RawEntry]:
    """The entries feedparser would give, read on the fast path; or :class:`FastPathRefused`."""
    refusal = sniff_refusal(content, content_type)
    if refusal is not None:
        raise FastPathRefused(refusal)
    census = _Census(content, url).run()
    if not census.entries:
        return []
    try:
        with warnings.catch_warnings():  # its dates are not used; dateutil warns about some
            warnings.simplefilter("ignore", UnknownTimezoneWarning)
            parsed = fastfeedparser.parse(
                content, include_tags=False, include_media=False, include_enclosures=False
            )
    except Exception as e:  # fastfeedparser raises ValueError and more on bodies it rejects
        raise FastPathRefused(f"fastfeedparser failed ({e!r})") from e
    fast_entries = parsed.get("entries") or []
    if len(fast_entries) != len(census.entries):
        raise FastPathRefused(
            f"fastfeedparser found {len(fast_entries)} entries, the census {len(census.entries)}"
        )
    inherited: list[tuple[str, ...]] = []

    def feed_authors() -> tuple[str, ...]:
        if not inherited:
            inherited.append(_author_names(census.feed_authors))
        return inherited[0]

    return [
        _to_raw(census, entry, fast, feed_authors)
        for entry, fast in zip(census.entries, fast_entries, strict=True)
    ]
