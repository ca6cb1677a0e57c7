"""Analyst brief (plain text) -> :class:`~monitor.types.Thesis` (pure: text in, data out).

A brief reads, top to bottom::

    Rosa Del Mar                       publisher      \
    Daily Brief                                        |
    Issue 81 2026-03-22                issue, date     | title block
    Lossy-Self-Improvement Vs ...      title           |
    Issue 81 Edition ... / General / Sources: ...     /  metadata lines
    Key takeaways                      bullets
    Sections                           sub-headings (unindented lines), each with bullets
    Unknowns                           bullets
    Investor overlay
      Read-throughs                    bullets
      What would confirm               bullets  -> criteria confirm-1, confirm-2, ...
      What would kill                  bullets  -> criteria kill-1, kill-2, ...
    Sources                            numbered lines

Decisions:

* Headings are recognised by their words, ignoring case, surrounding whitespace and a trailing
  colon (``WHAT WOULD CONFIRM:``); ``Read throughs`` equals ``Read-throughs``. A heading line is
  never a bullet.
* A list item starts with a bullet (``•``, ``-``, ``*``, an en dash, ``·`` or ``1.``) followed by
  whitespace. A line without a bullet that directly follows an item (no blank line between) and
  is indented deeper than that item's bullet continues it (wrapped text). Any other non-blank
  line in a list is an item of its own, so unbulleted lists work too; inside "Sections" an
  unindented line without a bullet is a sub-heading.
* CRLF and CR line ends are accepted; blank lines are ignored.
* The thesis id is ``<publisher>-<issue>-<title head>``, slugged: the title head is the title up
  to its first " vs "/":"/" - " break, at most five words (``rosa-del-mar-81-lossy-self-
  improvement``). It depends only on the title block, so re-importing a brief is stable.
* The date is the issue line's date, else a ``YYYY-MM-DD`` in the file name, else None.
* Criterion queries are generated starters (:func:`starter_query`); the analyst tunes them in the
  rule file.
* A brief without an "Investor overlay", or an overlay without a non-empty "What would confirm"
  or "What would kill" list, raises :class:`~monitor.errors.BriefError` naming the file (and the
  overlay's line when there is one).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath

from monitor.errors import BriefError
from monitor.matching.scoring import DEFAULT_SETTINGS, content_stems
from monitor.text import STOPWORDS
from monitor.types import Criterion, Polarity, Thesis

# ------------------------------------------------------------------------------- the document


@dataclass(frozen=True)
class BriefSection:
    """A sub-heading of "Sections" and its bullets."""

    title: str
    bullets: tuple[str, ...]


@dataclass(frozen=True)
class BriefDoc:
    """Every part of a brief, as text. ``overlay_line`` is 1-based (None: no overlay)."""

    path: str
    publisher: str
    title: str
    issue: int | None
    date: date | None
    metadata: tuple[str, ...]
    key_takeaways: tuple[str, ...]
    sections: tuple[BriefSection, ...]
    unknowns: tuple[str, ...]
    read_throughs: tuple[str, ...]
    confirm: tuple[str, ...]
    kill: tuple[str, ...]
    sources: tuple[str, ...]
    overlay_line: int | None

    @property
    def thesis_id(self) -> str:
        parts = [_slug(self.publisher)]
        if self.issue is not None:
            parts.append(str(self.issue))
        parts.append(_slug(_title_head(self.title)))
        return "-".join(p for p in parts if p)


_HEADINGS = {
    "key takeaways": "key_takeaways",
    "sections": "sections",
    "unknowns": "unknowns",
    "investor overlay": "overlay",
    "read throughs": "read_throughs",
    "what would confirm": "confirm",
    "what would kill": "kill",
    "sources": "sources",
}
_BULLET_RE = re.compile(r"^(?P<indent>[ \t]*)(?:[•\-*\u2013·‣▪]|\d{1,3}[.)])[ \t]+(?P<text>\S.*)$")
_ISSUE_RE = re.compile(r"^issue\s+(?P<issue>\d+)(?:\s+(?P<date>\d{4}-\d{2}-\d{2}))?$", re.I)
_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_TITLE_BREAK_RE = re.compile(r"\s+(?:vs\.?|versus)\s+|:|\s[-\u2013\u2014]\s", re.I)


def _heading_key(line: str) -> str | None:
    words = re.sub(r"[\s\-]+", " ", line.strip().rstrip(":").strip()).casefold()
    return _HEADINGS.get(words)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


@dataclass
class _List:
    """Items being collected for one section; ``item_indent`` is the last bullet's indent."""

    items: list[list[str]]
    item_indent: int = -1
    open_item: bool = False

    def add_line(self, line: str) -> None:
        bullet = _BULLET_RE.match(line)
        if bullet:
            self.items.append([bullet.group("text").strip()])
            self.item_indent = len(bullet.group("indent"))
            self.open_item = True
        elif self.open_item and _indent(line) > self.item_indent:
            self.items[-1].append(line.strip())
        else:
            self.items.append([line.strip()])
            self.item_indent = _indent(line)
            self.open_item = True

    def texts(self) -> tuple[str, ...]:
        return tuple(" ".join(parts) for parts in self.items)


def parse_brief_sections(text: str, path: str) -> BriefDoc:
    """Split a brief into its parts. Raises ``BriefError`` only when there is no title."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    head: list[str] = []
    lists: dict[str, _List] = {}
    sections: list[tuple[str, _List]] = []
    current: _List | None = None
    key: str | None = None
    overlay_line: int | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            if current is not None:
                current.open_item = False
            continue
        continuing = current is not None and current.open_item and _indent(line) > 0
        heading = None if continuing or _BULLET_RE.match(line) else _heading_key(line)
        if heading is not None and heading not in lists:
            key = heading
            if heading == "overlay":
                overlay_line = number
            current = lists.setdefault(heading, _List([]))
            continue
        if key is None:
            head.append(line.strip())
        elif (
            key == "sections"
            and not continuing
            and _indent(line) == 0
            and not _BULLET_RE.match(line)
        ):
            current = _List([])
            sections.append((line.strip(), current))
        elif current is not None:
            current.add_line(line)

    publisher, title, issue, when, metadata = _title_block(head, path)

    def items(name: str) -> tuple[str, ...]:
        found = lists.get(name)
        return found.texts() if found is not None else ()

    return BriefDoc(
        path=path,
        publisher=publisher,
        title=title,
        issue=issue,
        date=when,
        metadata=metadata,
        key_takeaways=items("key_takeaways"),
        sections=tuple(BriefSection(name, found.texts()) for name, found in sections),
        unknowns=items("unknowns"),
        read_throughs=items("read_throughs"),
        confirm=items("confirm"),
        kill=items("kill"),
        sources=items("sources"),
        overlay_line=overlay_line,
    )


def _title_block(
    head: list[str], path: str
) -> tuple[str, str, int | None, date | None, tuple[str, ...]]:
    if not head:
        raise BriefError("the brief has no title block (publisher, issue, title)", path, 1)
    publisher = head[0]
    issue: int | None = None
    when: date | None = None
    rest = head[1:]
    for index, line in enumerate(rest):
        found = _ISSUE_RE.match(line)
        if found:
            issue = int(found.group("issue"))
            when = _parse_date(found.group("date"))
            rest = rest[index + 1 :]
            break
    else:
        rest = [line for line in rest if line.casefold() not in ("daily brief", "weekly brief")]
    if not rest:
        raise BriefError("the brief has no title line after its publisher and issue", path, 1)
    if when is None:
        when = _parse_date(PurePath(path).name)
    return publisher, rest[0], issue, when, tuple(rest[1:])


def _parse_date(text: str | None) -> date | None:
    found = _DATE_RE.search(text or "")
    if found is None:
        return None
    try:
        return date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        return None


def _title_head(title: str) -> str:
    head = _TITLE_BREAK_RE.split(title, maxsplit=1)[0]
    return " ".join(head.split()[:5])


def _slug(text: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", text.casefold()))


# ---------------------------------------------------------------------------------- the thesis


def parse_brief(text: str, path: str) -> Thesis:
    """Turn a brief into a thesis with ``confirm-N``/``kill-N`` criteria and starter queries."""
    doc = parse_brief_sections(text, path)
    return thesis_from_brief(doc)


def thesis_from_brief(doc: BriefDoc) -> Thesis:
    """Build the thesis of a parsed brief; raise ``BriefError`` when the overlay is unusable."""
    if doc.overlay_line is None:
        raise BriefError(
            "the brief has no 'Investor overlay' section; the importer needs its "
            "'What would confirm' and 'What would kill' lists",
            doc.path,
            None,
        )
    missing = [
        name
        for name, found in (("What would confirm", doc.confirm), ("What would kill", doc.kill))
        if not found
    ]
    if missing:
        raise BriefError(
            "the 'Investor overlay' has no (or an empty) "
            + " and no ".join(f"{name!r}" for name in missing)
            + " list",
            doc.path,
            doc.overlay_line,
        )
    context = _context_bullets(doc)
    scored = [*doc.confirm, *doc.kill]
    criteria = [
        _automatic_criterion(f"{polarity}-{n}", polarity, sentence, context, scored)
        for polarity, sentences in _scored_lists(doc)
        for n, sentence in enumerate(sentences, start=1)
    ]
    criteria += [
        _automatic_criterion(f"unknown-{n}", "watch", question, context, doc.unknowns)
        for n, question in enumerate(doc.unknowns, start=1)
    ]
    return Thesis(
        id=doc.thesis_id,
        title=doc.title,
        criteria=tuple(criteria),
        read_throughs=doc.read_throughs,
        date=doc.date,
        source_brief=PurePath(doc.path).name,
        automatic=True,
    )


# ----------------------------------------------------------------------------- starter queries

# Words that say nothing about what a criterion is about: the scoring stopwords plus the
# vocabulary of criteria sentences themselves ("clear evidence of repeated cases ...").
_CRITERION_FILLER = """
    show shows showing shown evidence clear clearly new cases case repeated sustained strong
    major materially substantially large real world including include includes two three four
    five six seven eight nine ten first second several
"""
_STOPWORDS = STOPWORDS | frozenset(_CRITERION_FILLER.split())
_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ions", "ion", "ies", "es", "ed",
             "s", "ly")  # fmt: skip
_MAX_TERMS_PER_GROUP = 8


def _stem(word: str) -> str:
    """A prefix wildcard for long inflected words (``delays`` -> ``delay*``); else the word."""
    for suffix in _SUFFIXES:
        if word.endswith("ss"):
            break
        if word.endswith(suffix) and len(word) - len(suffix) >= 5:
            return word[: -len(suffix)] + "*"
    return word


def _key_phrases(sentence: str) -> list[str]:
    """Runs of content words between stopwords and punctuation, in sentence order."""
    phrases: list[str] = []
    for chunk in re.split(r"[,;:.()!?]|\s[-\u2013\u2014]\s", sentence):
        run: list[str] = []
        for word in re.findall(r"[^\W_]+(?:-[^\W_]+)*", chunk.casefold()):
            if word in _STOPWORDS or word.isdigit() or len(word) < 2:
                if run:
                    phrases.append(" ".join(run))
                run = []
            else:
                run.append(word)
        if run:
            phrases.append(" ".join(run))
    return phrases


def _as_term(phrase: str) -> str:
    words = phrase.split()
    if len(words) == 1 and "-" not in phrase:
        return _stem(phrase)
    return '"' + " ".join([*words[:-1], _stem(words[-1])]) + '"'


def starter_query(sentence: str) -> str:
    """A valid first query for a criterion sentence, meant to be tuned by hand.

    Every content word (not a stopword, not a number) becomes a term, long inflected words as a
    prefix wildcard (``delays`` -> ``delay*``). Single words beat the sentence's phrases: on
    the labeled eval items, phrase starters found almost nothing (F1 0.05), word starters
    F1 0.38. With four or more terms they are split, in sentence order, into two OR groups
    joined by AND (roughly the subject and what is said of it), at most eight terms each;
    fewer terms are OR'ed.
    """
    terms: list[str] = []
    for phrase in _key_phrases(sentence):
        for word in phrase.split():
            term = _as_term(word)
            if term not in terms:
                terms.append(term)
    if not terms:
        terms = [_as_term(w) for w in re.findall(r"[^\W_]{2,}", sentence.casefold())[:3]]
    if not terms:
        raise BriefError(f"cannot build a query from criterion text {sentence!r}", None, None)
    if len(terms) < 4:
        return " OR ".join(terms)
    half = (len(terms) + 1) // 2
    groups = [terms[:half][:_MAX_TERMS_PER_GROUP], terms[half:][:_MAX_TERMS_PER_GROUP]]
    return " AND ".join("(" + " OR ".join(group) + ")" for group in groups)


# ----------------------------------------------------------------------------- automatic rules

AUTOMATIC_EXAMPLES = 3  # brief bullets kept as examples of a criterion
# Minimum evidence of a generated criterion. In automatic rules the evidence (lexical +
# semantic + direction, see monitor.matching.scoring) decides, so this is the evidence
# threshold of semantic matching: chosen on dev-rosa-81, validated on dev-rosa-97.
AUTOMATIC_THRESHOLD = DEFAULT_SETTINGS.semantic_threshold


def _context_bullets(doc: BriefDoc) -> tuple[str, ...]:
    """The brief's own statements a criterion can borrow words and meaning from."""
    bullets = [*doc.key_takeaways, *(b for s in doc.sections for b in s.bullets)]
    return tuple(dict.fromkeys([*bullets, *doc.read_throughs]))


def brief_examples(sentence: str, context: tuple[str, ...], limit: int) -> tuple[str, ...]:
    """The ``limit`` bullets of the brief that share the most distinctive words with
    ``sentence`` (stems weighted by inverse frequency over the bullets), best first."""
    documents = [set(content_stems(text)) for text in context]
    frequency: dict[str, int] = {}
    for document in documents:
        for stem in document:
            frequency[stem] = frequency.get(stem, 0) + 1
    wanted = set(content_stems(sentence))
    total = len(documents)

    def weight(document: set[str]) -> float:
        return sum(math.log((total + 1) / (frequency[stem] + 0.5)) for stem in document & wanted)

    ranked = sorted(range(total), key=lambda i: -weight(documents[i]))
    return tuple(context[i] for i in ranked[:limit] if weight(documents[i]) > 0)


def generated_query(sentence: str, rivals: Sequence[str] = ()) -> str:
    """A query for automatic rules: any *distinctive* content word of the sentence (inflected
    words as prefixes), i.e. one whose stem no rival sentence (the other criteria competing
    with it) holds. Words every criterion shares (the thesis' topic) would make the query hit
    every on-topic item, so its hit would say nothing about this criterion. Falls back to
    every content word when none is distinctive."""
    rival_stems = {stem for text in rivals if text != sentence for stem in content_stems(text)}
    terms: list[str] = []
    everything: list[str] = []
    for phrase in _key_phrases(sentence):
        for word in phrase.split():
            term = _as_term(word)
            if term in everything:
                continue
            everything.append(term)
            stems = content_stems(word)
            if stems and not set(stems) & rival_stems:
                terms.append(term)
    chosen = terms or everything
    return " OR ".join(chosen) if chosen else starter_query(sentence)


def _scored_lists(doc: BriefDoc) -> tuple[tuple[Polarity, tuple[str, ...]], ...]:
    return (("confirm", doc.confirm), ("kill", doc.kill))


def _automatic_criterion(
    criterion_id: str,
    polarity: Polarity,
    sentence: str,
    context: tuple[str, ...],
    rivals: Sequence[str],
) -> Criterion:
    return Criterion(
        id=criterion_id,
        polarity=polarity,
        text=sentence,
        query=generated_query(sentence, rivals),
        threshold=AUTOMATIC_THRESHOLD,
        examples=brief_examples(sentence, context, AUTOMATIC_EXAMPLES),
    )
