"""Items x criteria -> matches (pure).

A :class:`Matcher` is built once per rule-set version: every criterion's query is parsed up
front, so a bad query fails at load time and matching itself cannot raise. Given an
``embedder`` it also embeds, once, every criterion sentence, example and counter-example.

Modes (``mode=``; default ``hybrid`` with an embedder, else ``keyword``):

* ``keyword`` — a criterion matches when its query matches and the keyword score (share of the
  query's positive terms, counted up to three) reaches its ``threshold``.
* ``hybrid`` — in hand-tuned rules a criterion is a candidate only when its query matches
  (the analyst's query decides); its score combines the keyword score with lexical and
  semantic evidence (:mod:`monitor.matching.scoring`), and it matches when it stays in
  contention against the other criteria of its thesis and its score reaches its
  ``threshold`` (or ``hybrid_threshold`` when the rule sets none). In automatic rules
  (``Thesis.automatic``, written by the importer) generated queries are weak evidence, so
  the evidence alone decides, against the criterion's ``threshold`` (or
  ``semantic_threshold``); the query's matched terms are still shown.
* ``semantic`` — queries are ignored; evidence alone, in contention, against
  ``semantic_threshold``. A diagnostic mode for ``monitor eval``.

The matcher never embeds items: :meth:`Matcher.match_batch` takes the items' stored vectors
(one row per item, from :func:`monitor.semantic.embedding_text`); without vectors a batch is
scored keyword-only. Contention is decided among the confirm/kill criteria of a thesis, and
separately among its watch criteria, so an open question never silences evidence.

Re-ranking (``reranker=``, a :class:`monitor.semantic.rerank.Reranker`; default None, and
then matching is exactly as without it): in hybrid and semantic mode, :meth:`match_batch`
first computes every item's evidence for every thesis, shortlists per (item, thesis) the
confirm/kill candidates that are close to being chosen (:func:`scoring.shortlist`: at most
``rerank_top``, within ``rerank_margin`` of the best, at least ``rerank_floor``), scores all
shortlisted (criterion sentence, item text) pairs of the batch in **one**
``Reranker.score`` call, normalises each logit per criterion (:class:`_Reference`) and moves
the shortlisted evidence by at most ``rerank_weight`` (:func:`scoring.reranked`) before
contention and thresholds decide. The cost is bounded per item: at most ``rerank_top``
pairs per thesis. A learned decider still reads the evidence it was trained on (without
re-ranking). A re-ranker that raises is logged once, as a warning, and that batch (or, when
the reference scoring fails, every batch) is matched without re-ranking.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from monitor.matching import scoring
from monitor.matching.document import Document
from monitor.matching.evidence import Evidence, Features, PairTable, pair_features
from monitor.matching.keyword import KeywordMatcher
from monitor.matching.scoring import (
    DEFAULT_SETTINGS,
    ScoringSettings,
    best_sentence,
    keyword_score,
)
from monitor.rules.query import Query, parse_query
from monitor.text import shorten
from monitor.types import Criterion, Item, Match, Thesis

if TYPE_CHECKING:
    from monitor.matching.learn import Learning
    from monitor.semantic.embedder import Embedder
    from monitor.semantic.rerank import Reranker
    from monitor.semantic.vectors import Row, ThesisVectors

log = logging.getLogger(__name__)

SNIPPET_CHARS = scoring.SNIPPET_CHARS
RERANK_TEXT_CHARS = 600  # of an item's title + summary, what the cross-encoder reads
REFERENCE_TEXTS = 32  # at most this many reference texts per criterion (see _Reference)
REFERENCE_SPREAD = 1.0  # the smallest spread (in logits) a z-score divides by
MODES = ("keyword", "hybrid", "semantic")
Mode = Literal["keyword", "hybrid", "semantic"]

__all__ = [
    "MODES",
    "SNIPPET_CHARS",
    "CompiledCriterion",
    "Matcher",
    "Mode",
    "compile_theses",
    "evidence_snippet",
    "keyword_score",
    "shorten",
]


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


@dataclass(frozen=True, eq=False)
class _ThesisModel:
    """What hybrid scoring of one thesis needs, computed once at construction."""

    thesis_id: str
    automatic: bool
    indexes: tuple[int, ...]  # positions of the thesis' criteria in Matcher._criteria
    scored: tuple[int, ...]  # positions (within the thesis) of its confirm/kill criteria
    profiles: tuple[dict[str, float], ...]
    directions: tuple[float, ...]  # scoring.direction of each criterion sentence
    vectors: ThesisVectors


@dataclass(frozen=True)
class _Reference:
    """How the cross-encoder scores on-topic text that is *not* evidence for one criterion:
    the mean and spread of its logits for the criterion sentence against the thesis' other
    criterion sentences and the examples of the thesis' criteria (at most
    :data:`REFERENCE_TEXTS`), computed once, in one ``score`` call, at construction.

    Why a fixed reference and not the batch's own logits: the cross-encoder's level differs
    by criterion (an abstract criterion scores about -9 for every item, a concrete one -2 on
    topic), so a raw logit cannot be compared across criteria, and a z-score needs a
    distribution per criterion. The batch's shortlisted pairs give one only for large
    batches, and would make an item's match depend on which items share its poll cycle (a
    cycle may hold one item; a backtest must reproduce the daemon). The thesis' own texts
    are on topic, like the items that reach a shortlist, and are the same for every batch,
    so ``z = (logit - mean) / max(spread, REFERENCE_SPREAD)`` means "how much more relevant
    than the thesis' other statements this item is to this criterion", comparable between
    criteria and briefs."""

    mean: float
    spread: float

    def z(self, logit: float) -> float:
        return (logit - self.mean) / max(self.spread, REFERENCE_SPREAD)


def rerank_text(item: Item) -> str:
    """What the cross-encoder reads of an item: title and summary, cut."""
    return shorten(item.text, RERANK_TEXT_CHARS)


class Matcher:
    """Matches items against every criterion of the given theses."""

    def __init__(
        self,
        theses: Sequence[Thesis],
        *,
        embedder: Embedder | None = None,
        mode: Mode | None = None,
        settings: ScoringSettings = DEFAULT_SETTINGS,
        learning: Learning | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.theses = tuple(theses)
        self.learning = learning
        self.settings = settings
        self.embedder = embedder
        self.mode: Mode = mode or ("hybrid" if embedder is not None else "keyword")
        if self.mode not in MODES:
            raise ValueError(f"unknown matching mode {self.mode!r} (use one of {MODES})")
        if self.mode != "keyword" and embedder is None:
            raise ValueError(f"{self.mode} matching needs an embedder")
        self._criteria = compile_theses(theses)
        self._keywords = KeywordMatcher([cc.query for cc in self._criteria])
        self._models = self._build_models() if self.mode != "keyword" else ()
        self._deciders = learning.deciders() if learning is not None and self._models else {}
        self.reranker = reranker if self._models else None
        self._rerank_warned = False
        self._references: dict[tuple[str, int], _Reference] = {}
        if self.reranker is not None:
            self._references = self._build_references()
            if not self._references:
                self.reranker = None

    # ------------------------------------------------------------------------- construction

    def _build_models(self) -> tuple[_ThesisModel, ...]:
        from monitor.semantic.vectors import ThesisVectors  # numpy: only with the extra

        assert self.embedder is not None
        models = []
        start = 0
        for thesis in self.theses:
            criteria = thesis.criteria
            indexes = tuple(range(start, start + len(criteria)))
            start += len(criteria)
            if not criteria:
                continue
            if self.learning is not None:  # verdicts refine the examples of the criteria
                criteria = self.learning.refined(thesis).criteria
            profiles = _grouped_profiles(criteria, self.settings.example_weight)
            vectors = ThesisVectors.build(criteria, self.embedder, self.settings)
            directions = tuple(scoring.direction(c.text) for c in criteria)
            scored = tuple(i for i, c in enumerate(criteria) if c.polarity != "watch")
            models.append(
                _ThesisModel(
                    thesis.id,
                    thesis.automatic,
                    indexes,
                    scored,
                    tuple(profiles),
                    directions,
                    vectors,
                )
            )
        return tuple(models)

    def _build_references(self) -> dict[tuple[str, int], _Reference]:
        """The :class:`_Reference` of every confirm/kill criterion, by (thesis id, position);
        empty (re-ranking off, with a warning) when the re-ranker fails."""
        assert self.reranker is not None
        keys: list[tuple[str, int]] = []
        spans: list[tuple[int, int]] = []
        pairs: list[tuple[str, str]] = []
        for model in self._models:
            criteria = [self._criteria[i].criterion for i in model.indexes]
            for position in model.scored:
                own = criteria[position]
                texts = [c.text for c in criteria if c is not own]
                texts += [example for c in criteria for example in c.examples]
                texts = list(dict.fromkeys(t for t in texts if t.strip()))[:REFERENCE_TEXTS]
                keys.append((model.thesis_id, position))
                spans.append((len(pairs), len(pairs) + len(texts)))
                pairs += [(own.text, text) for text in texts]
        logits = self._rerank_scores(pairs)
        if logits is None:
            return {}
        references = {}
        for key, (start, end) in zip(keys, spans, strict=True):
            chosen = [float(x) for x in logits[start:end]]
            if not chosen:
                references[key] = _Reference(-10.0, REFERENCE_SPREAD)  # unrelated text's level
                continue
            mean = sum(chosen) / len(chosen)
            spread = math.sqrt(sum((x - mean) ** 2 for x in chosen) / len(chosen))
            references[key] = _Reference(mean, spread)
        return references

    def _rerank_scores(self, pairs: Sequence[tuple[str, str]]) -> list[float] | None:
        """The re-ranker's logits for ``pairs``, or None (logged once) when it fails."""
        assert self.reranker is not None
        try:
            logits = [float(x) for x in self.reranker.score(list(pairs))]
            if len(logits) != len(pairs) or not all(math.isfinite(x) for x in logits):
                raise ValueError(f"{len(logits)} scores (finite?) for {len(pairs)} pairs")
        except Exception as error:  # a re-ranker must never break matching
            if not self._rerank_warned:
                self._rerank_warned = True
                log.warning("re-ranking failed, matching without it: %s", error)
            return None
        return logits

    # ----------------------------------------------------------------------------- matching

    def match_batch(self, items: Sequence[Item], vectors: Any = None) -> list[list[Match]]:
        """Matches of each item, in order.

        ``vectors`` holds the items' embeddings (a 2-D float32 array, one row per item, from
        ``monitor.semantic``). Without vectors, or in keyword mode, the batch is scored
        keyword-only. Raises ValueError when the rows do not fit the items or the model.
        """
        if vectors is None or self.mode == "keyword" or not items:
            return [self._match_keyword(item) for item in items]
        from monitor.semantic.vectors import item_matrix

        assert self.embedder is not None
        matrix = item_matrix(vectors, len(items), self.embedder.dim)
        per_model = [model.vectors.score(matrix) for model in self._models]
        if self.reranker is not None:
            return self._match_reranked(items, per_model)
        return [
            self._match_scored(
                item,
                [(m, rows[row]) for m, rows in zip(self._models, per_model, strict=True)],
            )
            for row, item in enumerate(items)
        ]

    def match(self, item: Item, vector: Any = None) -> list[Match]:
        """Matches of one item; keyword-only without its ``vector`` (a 1-D or 1-row array)."""
        if vector is None:
            return self._match_keyword(item)
        return self.match_batch([item], [list(_flat(vector))])[0]

    def query_hits(self, item: Item) -> dict[int, tuple[str, ...]]:
        """Matched terms of every criterion whose query matches ``item``, by criterion index
        (the :class:`KeywordMatcher` over all queries, on ``Document.from_item``)."""
        return dict(self._keywords.match(Document.from_item(item)))

    def _match_keyword(self, item: Item) -> list[Match]:
        found = []
        for index, terms in self._keywords.match(Document.from_item(item)):
            cc = self._criteria[index]
            score = keyword_score(len(terms), cc.positive_count)
            if score < cc.criterion.threshold:
                continue
            found.append(_match(cc, score, terms, evidence_snippet(item, terms), None))
        return found

    def _match_scored(
        self,
        item: Item,
        per_thesis: Sequence[tuple[_ThesisModel, tuple[Row, Row]]],
    ) -> list[Match]:
        hits, stems, item_direction = self._item_context(item)
        found: list[Match] = []
        for model, (semantic, raw) in per_thesis:
            rows = self._evidence(model, stems, item_direction, hits, semantic, raw)
            found += self._decide(item, model, rows, rows)
        return found

    def _match_reranked(
        self, items: Sequence[Item], per_model: Sequence[Sequence[tuple[Row, Row]]]
    ) -> list[list[Match]]:
        """Hybrid matching with the shortlists of the whole batch re-ranked in one call."""
        evidence: list[list[list[Evidence]]] = []  # [item][model] -> rows
        wanted: list[tuple[int, int, int]] = []  # (item row, model number, position)
        pairs: list[tuple[str, str]] = []
        for row, item in enumerate(items):
            hits, stems, item_direction = self._item_context(item)
            text = rerank_text(item)
            per_item = []
            for m, model in enumerate(self._models):
                semantic, raw = per_model[m][row]
                rows = self._evidence(model, stems, item_direction, hits, semantic, raw)
                per_item.append(rows)
                for position in self._shortlist(model, rows):
                    wanted.append((row, m, position))
                    pairs.append((self._criteria[model.indexes[position]].criterion.text, text))
            evidence.append(per_item)
        adjusted = [[list(rows) for rows in per_item] for per_item in evidence]
        logits = self._rerank_scores(pairs) if pairs else None
        if logits is not None:
            for (row, m, position), logit in zip(wanted, logits, strict=True):
                model = self._models[m]
                z = self._references[(model.thesis_id, position)].z(logit)
                plain = adjusted[row][m][position]
                value = scoring.reranked(plain.value, z, self.settings)
                adjusted[row][m][position] = replace(plain, value=value)
        return [
            [
                match
                for m, model in enumerate(self._models)
                for match in self._decide(item, model, adjusted[row][m], evidence[row][m])
            ]
            for row, item in enumerate(items)
        ]

    def _shortlist(self, model: _ThesisModel, rows: Sequence[Evidence]) -> list[int]:
        """Positions (within the thesis) of the confirm/kill criteria to re-rank for an item
        (:func:`scoring.shortlist` over the candidates)."""
        candidates = self._candidates(model, rows)
        values = [rows[p].value for p in model.scored]
        chosen = scoring.shortlist(values, [candidates[p] for p in model.scored], self.settings)
        return [model.scored[k] for k in chosen]

    def _decide(
        self,
        item: Item,
        model: _ThesisModel,
        rows: Sequence[Evidence],
        plain: Sequence[Evidence],
    ) -> list[Match]:
        """The matches of one item on one thesis from its evidence ``rows`` (``plain``: the
        same without re-ranking, which a learned decider reads)."""
        decider = self._deciders.get(model.thesis_id)
        chosen = self._hybrid_choices(model, rows)
        if decider is not None:
            # the learned model decides the confirm/kill criteria; watch stays hybrid
            scored = set(model.scored)
            chosen = [(p, s) for p, s in chosen if p not in scored]
            features = pair_features([plain[p] for p in model.scored])
            chosen += [(model.scored[k], score) for k, score in decider.decide(features)]
        found: list[Match] = []
        for position, score in sorted(chosen):
            cc = self._criteria[model.indexes[position]]
            matched = rows[position].terms or ()
            snippet = best_sentence(item.text, matched, model.profiles[position])
            similarity = round(rows[position].raw, 3)
            found.append(_match(cc, score, matched, snippet, similarity))
        return found

    def _item_context(self, item: Item) -> tuple[dict[int, tuple[str, ...]], set[str], float]:
        """What scoring reads of an item whatever the thesis: query hits (hybrid mode),
        content stems and direction cues."""
        hits = self.query_hits(item) if self.mode == "hybrid" else {}
        return hits, set(scoring.content_stems(item.text)), scoring.direction(item.text)

    def _evidence(
        self,
        model: _ThesisModel,
        stems: set[str],
        item_direction: float,
        hits: dict[int, tuple[str, ...]],
        semantic: Row,
        raw: Row,
    ) -> list[Evidence]:
        """The evidence of one item for each criterion of one thesis."""
        rows = []
        for position, profile in enumerate(model.profiles):
            index = model.indexes[position]
            lexical = scoring.lexical_score(stems, profile, self.settings.profile_top)
            agreement = scoring.direction_agreement(item_direction, model.directions[position])
            value = scoring.evidence_score(
                lexical, float(semantic[position]), self.settings, agreement
            )
            terms = hits.get(index)
            keyword = (
                keyword_score(len(terms), self._criteria[index].positive_count) if terms else 0.0
            )
            rows.append(
                Evidence(
                    value=value,
                    semantic=float(semantic[position]),
                    raw=float(raw[position]),
                    lexical=lexical,
                    agreement=agreement,
                    terms=terms,
                    keyword=keyword,
                )
            )
        return rows

    def _candidates(self, model: _ThesisModel, rows: Sequence[Evidence]) -> list[bool]:
        """Which criteria of the thesis may match the item at all."""
        # Generated queries are ORs of distinctive words: weak evidence. In automatic
        # rules the evidence alone decides (as in semantic mode); the query's matched
        # terms are still shown. In hand-tuned rules the query decides the candidates,
        # and strong evidence can propose one the query missed (``propose_evidence``).
        evidence_only = self.mode == "semantic" or model.automatic
        # a query-missed criterion is proposed only when no query of the thesis hit (new
        # wording): where the analyst's queries speak, they decide
        silent = all(row.terms is None for row in rows)
        return [
            evidence_only
            or row.terms is not None
            or (silent and row.value >= self.settings.propose_evidence)
            for row in rows
        ]

    def _hybrid_choices(
        self, model: _ThesisModel, rows: Sequence[Evidence]
    ) -> list[tuple[int, float]]:
        """(position, score) of the criteria the rule's prior matches: candidates in
        contention whose score reaches the threshold."""
        settings = self.settings
        evidence_only = self.mode == "semantic" or model.automatic
        candidates = self._candidates(model, rows)
        in_contention = _contention(
            [self._criteria[i].criterion for i in model.indexes],
            [row.value if ok else -1.0 for row, ok in zip(rows, candidates, strict=True)],
            settings,
        )
        chosen = []
        for position, index in enumerate(model.indexes):
            if not (candidates[position] and in_contention[position]):
                continue
            criterion = self._criteria[index].criterion
            row = rows[position]
            if evidence_only:
                score = round(row.value, 3)
                threshold = criterion.threshold or settings.semantic_threshold
            elif row.terms is None:  # proposed by evidence alone: its own bar
                score = round(row.value, 3)
                threshold = settings.propose_evidence
            else:
                score = scoring.hybrid_score(row.keyword, row.value, settings)
                threshold = criterion.threshold or settings.hybrid_threshold
            if score >= threshold:
                chosen.append((position, score))
        return chosen

    # ------------------------------------------------------------------------- learning

    def pair_table(self, items: Sequence[Item], vectors: Any) -> dict[str, PairTable]:
        """For learning: each thesis' confirm/kill criterion ids and the pair features of
        every item against them (:func:`pair_features`), plus the prior's choices."""
        from monitor.semantic.vectors import item_matrix

        if self.embedder is None or self.mode == "keyword":
            raise ValueError("learning needs semantic scoring")
        matrix = item_matrix(vectors, len(items), self.embedder.dim)
        per_model = [model.vectors.score(matrix) for model in self._models]
        features: list[list[Features]] = [[] for _ in self._models]
        prior: list[list[list[bool]]] = [[] for _ in self._models]
        for row, item in enumerate(items):  # the item's hits, stems and direction: once
            hits, stems, item_direction = self._item_context(item)
            for m, (model, scored_rows) in enumerate(zip(self._models, per_model, strict=True)):
                semantic, raw = scored_rows[row]
                rows = self._evidence(model, stems, item_direction, hits, semantic, raw)
                features[m].append(pair_features([rows[p] for p in model.scored]))
                chosen = {p for p, _ in self._hybrid_choices(model, rows)}
                prior[m].append([p in chosen for p in model.scored])
        tables: dict[str, PairTable] = {}
        for m, model in enumerate(self._models):
            ids = tuple(self._criteria[model.indexes[p]].criterion.id for p in model.scored)
            tables[model.thesis_id] = PairTable(ids, features[m], prior[m])
        return tables


def _flat(vector: Any) -> list[float]:
    """A vector given as a 1-D sequence or as a one-row 2-D array, as floats."""
    rows = vector.tolist() if hasattr(vector, "tolist") else list(vector)
    if rows and isinstance(rows[0], list):
        rows = rows[0]
    return [float(x) for x in rows]


def _grouped_profiles(
    criteria: Sequence[Criterion], example_weight: float
) -> list[dict[str, float]]:
    """Lexical profiles built within the contention groups (confirm/kill, and watch apart):
    a word an open question shares with a criterion must not make that criterion's word look
    common, since the two never compete."""
    profiles: list[dict[str, float]] = [{} for _ in criteria]
    for watch in (False, True):
        group = [i for i, c in enumerate(criteria) if (c.polarity == "watch") is watch]
        built = scoring.build_profiles(
            [(criteria[i].text, criteria[i].examples) for i in group], example_weight
        )
        for i, profile in zip(group, built, strict=True):
            profiles[i] = profile
    return profiles


def _contention(
    criteria: Sequence[Criterion], evidence: Sequence[float], settings: ScoringSettings
) -> list[bool]:
    """Contention within confirm/kill criteria, and separately within watch criteria."""
    result = [False] * len(criteria)
    for watch in (False, True):
        group = [i for i, c in enumerate(criteria) if (c.polarity == "watch") is watch]
        keep = scoring.contenders([evidence[i] for i in group], settings.competition_margin)
        for i, kept in zip(group, keep, strict=True):
            result[i] = kept
    return result


def _match(
    cc: CompiledCriterion,
    score: float,
    terms: tuple[str, ...],
    snippet: str,
    similarity: float | None,
) -> Match:
    return Match(
        thesis_id=cc.thesis.id,
        criterion_id=cc.criterion.id,
        polarity=cc.criterion.polarity,
        score=score,
        matched_terms=terms,
        snippet=snippet,
        similarity=similarity,
    )


def evidence_snippet(item: Item, terms: Sequence[str], limit: int = SNIPPET_CHARS) -> str:
    """The sentence of the item that holds the most matched terms, cut to ``limit`` chars.

    Falls back to the title. Terms are compared case-insensitively on word stems written in
    the query (a trailing ``*`` is dropped), which is enough to pick the best sentence.
    """
    return best_sentence(item.text, terms, {}, limit)
