"""OPML 2.0: export the configured sources, import a feed reader's subscriptions.

Decisions:

* Reading is safe against hostile files: at most :data:`MAX_OPML_BYTES`, parsed by
  ``defusedxml`` with DTDs forbidden (so no entity can be declared: no billion laughs, no
  external entity, no network or file access), and at most :data:`MAX_OUTLINES` outlines
  nested at most :data:`MAX_DEPTH` deep. Anything else is a :class:`ConfigError` naming the
  file.
* Import: every ``outline`` with an ``xmlUrl`` (http or https) is a feed, wherever it is nested;
  its name is its ``title`` (else ``text``, else the URL's host) made into a slug; its tags are
  the names of the folders (outlines without ``xmlUrl``) it is in and the entries of its
  ``category`` attribute (comma-separated; of a ``/a/b`` path the last part), as slugs too. A
  feed listed twice (in two folders) is one source with the tags of both.
* Appending to the config keeps the file as the user wrote it: the new entries are text lines
  inserted after the last line of the ``sources:`` list, in the list's own indentation; nothing
  else changes, comments included. A feed whose URL (compared in canonical form) or name is
  already configured is refused, with the reason. The result is loaded by the config loader
  before it replaces the file (atomically, through a temporary file beside it), so a
  config that would not load is never written.
* Export writes every source whose URL answers with a feed (kinds feed, arxiv and edgar: their
  request URLs are Atom feeds), ``type="rss"`` as OPML's convention has it for every feed
  format, the tags in ``category``. Hacker News sources answer JSON that feed readers do not
  read: they are left out and named.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree.ElementTree import ParseError as XMLParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from monitor.errors import ConfigError
from monitor.feeds.normalise import canonical_link
from monitor.types import SourceConfig

MAX_OPML_BYTES = 5 * 1024 * 1024
MAX_OUTLINES = 10_000
MAX_DEPTH = 32
MAX_NAME_CHARS = 60
_SLUG_DROP = re.compile(r"[^a-z0-9]+")


@dataclass
class OpmlFeed:
    """One feed of an OPML file: its source name, URL, tags, and the title it had."""

    name: str
    url: str
    tags: list[str] = field(default_factory=list)
    title: str = ""


@dataclass(frozen=True)
class ImportPlan:
    """What an import adds, and what it refuses (each with its reason)."""

    added: tuple[OpmlFeed, ...]
    refused: tuple[tuple[OpmlFeed, str], ...]


def slug(text: str, *, limit: int = MAX_NAME_CHARS) -> str:
    """``"Stratechery by Ben Thompson"`` -> ``"stratechery-by-ben-thompson"``."""
    return _SLUG_DROP.sub("-", text.lower()).strip("-")[:limit].rstrip("-")


def read_opml(content: bytes, where: str = "OPML file") -> list[OpmlFeed]:
    """The feeds of an OPML document (see the module docstring); ConfigError if unusable."""
    if len(content) > MAX_OPML_BYTES:
        raise ConfigError(f"larger than {MAX_OPML_BYTES} bytes: not a subscription list", where)
    try:
        root = SafeET.fromstring(content, forbid_dtd=True)
    except DefusedXmlException as e:
        raise ConfigError(
            f"refused: the file declares a DTD or entities ({type(e).__name__}), which an "
            "OPML file has no need of and which can be used to attack the reader",
            where,
        ) from e
    except (XMLParseError, ValueError) as e:
        raise ConfigError(f"not well-formed XML: {e}", where) from e
    if root.tag != "opml":
        raise ConfigError(f"the root element is <{root.tag}>, not <opml>", where)
    body = root.find("body")
    if body is None:
        raise ConfigError("no <body>: not an OPML subscription list", where)
    feeds: dict[str, OpmlFeed] = {}
    count = 0

    def walk(node: ET.Element, folders: tuple[str, ...], depth: int) -> None:
        nonlocal count
        if depth > MAX_DEPTH:
            raise ConfigError(f"outlines nested deeper than {MAX_DEPTH}", where)
        for outline in node.findall("outline"):
            count += 1
            if count > MAX_OUTLINES:
                raise ConfigError(f"more than {MAX_OUTLINES} outlines", where)
            label = " ".join((outline.get("title") or outline.get("text") or "").split())
            url = (outline.get("xmlUrl") or "").strip()
            if not url:
                walk(outline, (*folders, label) if label else folders, depth + 1)
                continue
            tags = [slug(f) for f in folders] + _categories(outline.get("category") or "")
            key = canonical_link(url) or url
            if key in feeds:
                feeds[key].tags = _unique(feeds[key].tags + tags)
                continue
            name = slug(label) or slug(_host(url)) or "feed"
            feeds[key] = OpmlFeed(name, url, _unique(tags), label)
            walk(outline, folders, depth + 1)

    walk(body, (), 0)
    return list(feeds.values())


def plan_import(feeds: Sequence[OpmlFeed], existing: Sequence[SourceConfig]) -> ImportPlan:
    """Which feeds are new: refused are those whose URL or name is taken (by the config or
    by an earlier feed of the file) and those whose URL is not http(s)."""
    names = {s.name: s for s in existing}
    urls = {(canonical_link(s.url) or s.url): s for s in existing}
    added: list[OpmlFeed] = []
    refused: list[tuple[OpmlFeed, str]] = []
    for feed in feeds:
        key = canonical_link(feed.url)
        if key is None:
            refused.append((feed, "not an http(s) URL"))
        elif key in urls:
            refused.append((feed, f"its URL is already source {urls[key].name!r}"))
        elif feed.name in names:
            refused.append(
                (feed, f"a source named {feed.name!r} already exists ({names[feed.name].url})")
            )
        else:
            added.append(feed)
            source = SourceConfig(feed.name, feed.url)
            names[feed.name], urls[key] = source, source
    return ImportPlan(tuple(added), tuple(refused))


def append_sources(text: str, feeds: Sequence[OpmlFeed], where: str, note: str = "") -> str:
    """``text`` (a config file) with ``feeds`` appended to its ``sources:`` list as text
    lines; every other line is kept as it was. ``note``: a comment line before them."""
    import yaml
    from yaml.nodes import MappingNode, Node, SequenceNode

    if not feeds:
        return text
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    sequence: Node | None = None
    if isinstance(root, MappingNode):
        sequence = next((v for k, v in root.value if k.value == "sources"), None)
    if not isinstance(sequence, SequenceNode) or not sequence.value:
        raise ConfigError("no 'sources:' list to add to", where)
    if sequence.flow_style:
        raise ConfigError("'sources' is written as a [flow] list: add the feeds by hand", where)
    lines = text.splitlines(keepends=True)
    first = sequence.value[0]
    dash_line = lines[first.start_mark.line]
    dash = len(dash_line) - len(dash_line.lstrip(" "))
    body = first.start_mark.column - dash if isinstance(first, MappingNode) else 2
    after = _last_line(sequence.value[-1])
    new = [f"{' ' * dash}# {_comment(note)}\n"] if note else []
    for feed in feeds:
        new.append(f"{' ' * dash}-{' ' * (body - 1)}name: {_scalar(feed.name)}\n")
        new.append(f"{' ' * (dash + body)}url: {_scalar(feed.url)}\n")
        if feed.tags:
            tags = ", ".join(_scalar(t) for t in feed.tags)
            new.append(f"{' ' * (dash + body)}tags: [{tags}]\n")
    if after < len(lines) and not lines[after].endswith("\n"):
        lines[after] += "\n"
    if after >= len(lines) and lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return "".join(lines[: after + 1] + new + lines[after + 1 :])


def import_into_config(path: Path, feeds: Sequence[OpmlFeed], note: str = "") -> ImportPlan:
    """Append the new ``feeds`` to the config at ``path`` (see the module docstring); the
    result must load, or nothing is written (ConfigError)."""
    from monitor.settings import load_config
    from monitor.textfile import read_text_file

    config = load_config(path)
    plan = plan_import(feeds, config.sources)
    if not plan.added:
        return plan
    text = read_text_file(path, "config file")
    updated = append_sources(text, plan.added, str(path), note)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(updated)
        try:
            load_config(tmp)
        except ConfigError as e:
            raise ConfigError(
                f"the config would not load with the imported feeds: {e.message}", str(path), e.line
            ) from e
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return plan


def exportable(sources: Iterable[SourceConfig]) -> tuple[list[SourceConfig], list[SourceConfig]]:
    """(the sources OPML can list, the ones it cannot: Hacker News answers JSON)."""
    kept: list[SourceConfig] = []
    left: list[SourceConfig] = []
    for source in sources:
        (left if source.kind == "hackernews" else kept).append(source)
    return kept, left


def write_opml(
    sources: Iterable[SourceConfig],
    *,
    title: str = "signal-monitor sources",
    now: datetime | None = None,
) -> bytes:
    """An OPML 2.0 document listing ``sources`` (pass them through :func:`exportable`)."""
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = title
    if now is not None:
        ET.SubElement(head, "dateCreated").text = format_datetime(now)
    body = ET.SubElement(opml, "body")
    for source in sources:
        attrs = {"type": "rss", "text": source.name, "title": source.name, "xmlUrl": source.url}
        if source.tags:
            attrs["category"] = ",".join(source.tags)
        ET.SubElement(body, "outline", attrs)
    ET.indent(opml, space="  ")
    document: bytes = ET.tostring(opml, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _categories(value: str) -> list[str]:
    out = []
    for part in value.split(","):
        pieces = [p for p in part.strip().split("/") if p.strip()]
        if pieces:
            out.append(slug(pieces[-1]))
    return [t for t in out if t]


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _last_line(node: object) -> int:
    """The 0-based line of the last character of ``node`` (a YAML node)."""
    from yaml.nodes import MappingNode, SequenceNode

    while isinstance(node, MappingNode | SequenceNode) and node.value and not node.flow_style:
        last = node.value[-1]
        node = last[1] if isinstance(node, MappingNode) else last
    mark = node.end_mark  # type: ignore[attr-defined]
    return int(mark.line - 1 if mark.column == 0 and mark.line > 0 else mark.line)


_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~/?&=%+:-]*$")


def _scalar(value: str) -> str:
    """``value`` as a YAML scalar (also inside a ``[flow]`` list): plain when YAML reads it
    back as this very string, else double-quoted (a JSON string is a YAML one)."""
    import yaml

    if _PLAIN.match(value) and ": " not in value:
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)


def _comment(text: str) -> str:
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())
