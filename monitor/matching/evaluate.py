"""A parsed keyword query evaluated on one :class:`Document` (pure).

The query language and its parser live in :mod:`monitor.rules.query` (parse only); this module
gives a parsed query its meaning on a document. It is the reference semantics: the indexed
:class:`~monitor.matching.keyword.KeywordMatcher` gives the same answers for many queries at
once and calls :func:`term_matches`, :func:`near_matches` and :func:`collect_near` for the
position tests it cannot decide from atom hits.

Decisions (the language's, see :mod:`monitor.rules.query`):

* A term without a field searches title + summary; ``title`` and ``summary`` are position
  ranges of the body, ``source`` the source's document and ``tag`` each tag's document in turn.
  A phrase or proximity never spans two fields, nor two tags.
* Matched terms are reported as written, deduplicated, in query order; terms under ``NOT`` are
  never reported; every matching branch of an ``OR`` is reported, not only the first.
"""

from __future__ import annotations

from collections.abc import Iterator

from monitor.matching.document import Document, spans_near
from monitor.rules.query import And, Near, Node, Not, Or, Query, Term


def evaluate(query: Query, doc: Document) -> tuple[str, ...] | None:
    """The matched terms (as written, deduplicated, in query order), or None: no match."""
    found: list[str] = []
    if not collect(query.root, doc, found):
        return None
    return tuple(dict.fromkeys(found))


def query_matches(query: Query, doc: Document) -> bool:
    """Like :func:`evaluate` but short-circuits and reports no terms."""
    return node_matches(query.root, doc)


def node_matches(node: Node, doc: Document) -> bool:
    """True if ``node`` matches ``doc``."""
    if isinstance(node, Term):
        return term_matches(node, doc)
    if isinstance(node, Near):
        return near_matches(node, doc)
    if isinstance(node, Not):
        return not node_matches(node.child, doc)
    if isinstance(node, And):
        return all(node_matches(child, doc) for child in node.children)
    if isinstance(node, Or):
        return any(node_matches(child, doc) for child in node.children)
    raise TypeError(f"unknown query node {node!r}")


def collect(node: Node, doc: Document, out: list[str]) -> bool:
    """True if ``node`` matches ``doc``; appends the matched terms to ``out`` when it does."""
    if isinstance(node, Term):
        if term_matches(node, doc):
            out.append(node.text)
            return True
        return False
    if isinstance(node, Near):
        return collect_near(node, doc, out)
    if isinstance(node, Not):
        return not node_matches(node.child, doc)
    if isinstance(node, And):
        found: list[str] = []
        for child in node.children:
            if not collect(child, doc, found):
                return False
        out.extend(found)
        return True
    if isinstance(node, Or):
        matched = False
        for child in node.children:
            matched = collect(child, doc, out) or matched
        return matched
    raise TypeError(f"unknown query node {node!r}")


def _views(doc: Document, field: str | None) -> list[tuple[Document, int, int]]:
    """The (document, first, end) token ranges a field covers."""
    if field is None:
        return [(doc, 0, len(doc.tokens))]
    if field == "title":
        return [(doc, 0, doc.title_end)]
    if field == "summary":
        return [(doc, doc.title_end, len(doc.tokens))]
    if field == "source":
        source = doc.source_document
        return [] if source is None else [(source, 0, len(source.tokens))]
    return [(tag, 0, len(tag.tokens)) for tag in doc.tag_documents]


def term_matches(term: Term, doc: Document) -> bool:
    """True when the word, prefix or (proximity) phrase occurs in the term's field."""
    if term.field is None:
        if len(term.keys) == 1:
            key, prefix = term.keys[0]
            return doc.has_prefix(key) if prefix else key in doc.stem_set
        return doc.has_words(term.keys, 0, len(doc.tokens), term.slop)
    return any(
        view.has_words(term.keys, lo, hi, term.slop) for view, lo, hi in _views(doc, term.field)
    )


def _near_pairs(near: Near, doc: Document) -> Iterator[tuple[Term, Term]]:
    """Every (left, right) pair of alternatives that occur near each other in one view."""
    for view, lo, hi in _views(doc, near.field):
        right = [(term, view.spans(term.keys, lo, hi)) for term in near.right]
        for left_term in near.left:
            left_spans = view.spans(left_term.keys, lo, hi)
            if not left_spans:
                continue
            for right_term, right_spans in right:
                if spans_near(left_spans, right_spans, near.distance):
                    yield left_term, right_term


def near_matches(near: Near, doc: Document) -> bool:
    return next(_near_pairs(near, doc), None) is not None


def collect_near(near: Near, doc: Document, out: list[str]) -> bool:
    """Like :func:`collect` for a NEAR: reports ``a NEAR/n b`` for each pair that met."""
    found = [f"{a.text} NEAR/{near.distance} {b.text}" for a, b in _near_pairs(near, doc)]
    out.extend(found)
    return bool(found)
