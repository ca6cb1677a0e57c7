"""Items x criteria -> matches (pure).

A :class:`Matcher` is built once per rule-set version: every criterion's query is parsed
up front, so a bad query fails at load time and matching itself cannot raise.

Score (keyword-only for now): the share of the query's positive terms that the item
contains, counted with a ceiling of three terms, so that a query of many alternatives is not
penalised for an item that hits only one or two of them. It lies in (0, 1].
A match becomes a signal when its score reaches the criterion's ``threshold``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.matching.text import Document
from monitor.rules.query import Query, parse_query
from monitor.types import Criterion, Item, Match, Thesis

SNIPPET_CHARS = 280
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class CompiledCriterion:
    thesis: Thesis
    criterion: Criterion
    query: Query
    positive_count: int


def compile_theses(theses: Sequence[Thesis]) -> list[CompiledCriterion]:
    """Parse every query; raises QuerySyntaxError (the rule loader has already checked them)."""
    compiled = []
    for thesis in theses:
        for criterion in thesis.criteria:
            query = parse_query(criterion.query)
            compiled.append(
                CompiledCriterion(thesis, criterion, query, len(query.positive_terms()))
            )
    return compiled


class Matcher:
    """Matches items against every criterion of the given theses."""

    def __init__(self, theses: Sequence[Thesis]) -> None:
        self.theses = tuple(theses)
        self._criteria = compile_theses(theses)

    def match_batch(
        self, items: Sequence[Item], vectors: Sequence[Sequence[float]] | None = None
    ) -> list[list[Match]]:
        """Matches of each item, in order. ``vectors`` are the items' embeddings (one per
        item, from ``monitor.semantic``) when semantic scoring is on; keyword-only now."""
        return [self.match(item) for item in items]

    def match(self, item: Item) -> list[Match]:
        doc = Document.from_text(item.text)
        found = []
        for cc in self._criteria:
            terms = cc.query.evaluate(doc)
            if terms is None:
                continue
            score = keyword_score(len(terms), cc.positive_count)
            if score < cc.criterion.threshold:
                continue
            found.append(
                Match(
                    thesis_id=cc.thesis.id,
                    criterion_id=cc.criterion.id,
                    polarity=cc.criterion.polarity,
                    score=score,
                    matched_terms=terms,
                    snippet=evidence_snippet(item, terms),
                )
            )
        return found


def keyword_score(matched: int, positive: int) -> float:
    if matched <= 0:
        return 0.0
    ceiling = max(1, min(3, positive))
    return round(min(1.0, matched / ceiling), 3)


def evidence_snippet(item: Item, terms: Sequence[str], limit: int = SNIPPET_CHARS) -> str:
    """The sentence of the item that holds the most matched terms, cut to ``limit`` chars.

    Falls back to the title. Terms are compared case-insensitively on word stems written in
    the query (a trailing ``*`` is dropped), which is enough to pick the best sentence.
    """
    sentences = [s.strip() for s in _SENTENCE_END.split(item.text) if s.strip()]
    if not sentences:
        return ""
    stems = [t.rstrip("*").strip('"').lower() for t in terms if t.strip('*"')]

    def hits(sentence: str) -> int:
        low = sentence.lower()
        return sum(1 for s in stems if s in low)

    best = max(sentences, key=hits)
    if hits(best) == 0:
        best = sentences[0]
    return shorten(best, limit)


def shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"
