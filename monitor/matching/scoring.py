"""Hybrid scores and their explanations (pure: numbers and text in, numbers and text out).

One score per (item, criterion) combines three kinds of evidence:

* **keyword** — the criterion's boolean query matched; its share of positive terms (see
  :func:`keyword_score`). Hand-tuned queries are precise, so a query hit weighs most.
* **lexical** — soft overlap between the item's word stems and the criterion's *profile*: the
  stems of its sentence (weight 1) and of its examples (:data:`ScoringSettings.example_weight`),
  each weighted by how distinctive it is within the thesis (inverse frequency over the
  criteria's profile texts, divided by the number of criteria that share the stem). Normalised
  by the profile's top weights so a short item can score 1.
* **semantic** — cosine similarity of the item's vector to the criterion sentence, mixed with
  the best similarity to one of its examples, minus the best similarity to a counter-example.
  Vectors are *centred* on the thesis' mean vector first: every item on a thesis shares its
  topic, and the shared component says nothing about which criterion an item supports.

* **direction** — mirror criteria differ mostly in which way a development goes (delay vs on
  schedule, restrict vs approve): :func:`direction` reads progress/setback cues, with negation,
  from item and criterion, and their product (:func:`direction_agreement`) nudges the evidence.

``evidence = lexical_weight * lexical + (1 - lexical_weight) * semantic
+ direction_weight * agreement`` (clipped to [0, 1]), and the hybrid score is
``keyword_weight * keyword + (1 - keyword_weight) * evidence``.

Mirror criteria (confirm vs kill of the same facet) share most words and most meaning, so
criteria of one thesis *compete*: a match must come within ``competition_margin`` of the best
evidence any criterion of the thesis has for the item (:func:`contenders`).

The global settings were chosen on one labeled dev set and validated on the other (see the
README's "Matching quality"); they are not fitted to single items.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from monitor.text import STOPWORDS, sentences, shorten, tokenize
from monitor.text import stem as stem_of

SNIPPET_CHARS = 280


@dataclass(frozen=True)
class ScoringSettings:
    """Global settings of hybrid scoring (one set for every thesis; see the module doc)."""

    keyword_weight: float = 0.35
    lexical_weight: float = 0.444
    example_weight: float = 0.3  # weight of an example's stems in the lexical profile
    example_similarity_weight: float = 0.3  # share of the best example in the semantic part
    counter_weight: float = 0.5  # how much similarity to a counter-example subtracts
    centring: float = 0.5  # how much of the thesis mean vector is removed before cosine
    competition_margin: float = 0.045
    profile_top: int = 8  # profile weights summed to normalise the lexical score
    semantic_threshold: float = 0.16  # default minimum evidence (semantic-only mode)
    hybrid_threshold: float = 0.3  # default minimum hybrid score (hybrid mode)
    # Hand-tuned rules: when no query of a thesis hits, evidence this strong proposes the
    # criterion anyway (new wording). Chosen on brief 81's labeled items with its automatic
    # rules as the stand-in for "the query missed": the smallest level at which the top
    # criterion's evidence is right 80 % of the time (0.81, 16 items); on brief 97: 0.86.
    propose_evidence: float = 0.3
    direction_weight: float = 0.056  # how much agreeing/opposing direction cues move evidence
    # Optional cross-encoder re-ranking (``Matcher(reranker=...)``, see :func:`shortlist` and
    # :func:`reranked`): at most ``rerank_top`` confirm/kill candidates of a thesis within
    # ``rerank_margin`` of its best evidence (and at least ``rerank_floor``) are re-scored,
    # and their evidence moves by at most ``rerank_weight``. Chosen on brief 81 only (grid:
    # weight 0.02-0.15, margin 0.045-0.2, top 2-3, best mean F1 of curated and automatic
    # rules); every larger weight lowered brief 81's F1, and the margin made no difference
    # at 0.02 (README "Models"). Re-ranking is off unless a re-ranker is given.
    rerank_weight: float = 0.02
    rerank_margin: float = 0.1
    rerank_top: int = 2
    rerank_floor: float = 0.1


DEFAULT_SETTINGS = ScoringSettings()


# ------------------------------------------------------------------------------------ keyword


def keyword_score(matched: int, positive: int) -> float:
    """Share of the query's positive terms matched, counted up to three; 0 without a match."""
    if matched <= 0:
        return 0.0
    ceiling = max(1, min(3, positive))
    return round(min(1.0, matched / ceiling), 3)


# ------------------------------------------------------------------------------------ lexical


def content_stems(text: str) -> list[str]:
    """Stems of the content words of ``text`` (no stopwords, numbers or one-letter words)."""
    return [
        stem_of(word)
        for word in tokenize(text)
        if word not in STOPWORDS and not word.isdigit() and len(word) > 1
    ]


Profile = Mapping[str, float]


def build_profiles(
    texts: Sequence[tuple[str, Sequence[str]]], example_weight: float
) -> list[dict[str, float]]:
    """One lexical profile per criterion ``(sentence, examples)`` of a thesis.

    A stem's raw weight is 1 for the sentence plus ``example_weight`` per example holding it;
    it is multiplied by its inverse document frequency over all the profile texts of the
    thesis and divided by the number of criteria whose profile holds it, so words every
    criterion shares (the thesis' topic) count little and distinctive words count most.
    """
    raw: list[dict[str, float]] = []
    documents: list[set[str]] = []
    for sentence, examples in texts:
        weights: dict[str, float] = {}
        own = set(content_stems(sentence))
        documents.append(own)
        for stem in own:
            weights[stem] = weights.get(stem, 0.0) + 1.0
        for example in examples:
            stems = set(content_stems(example))
            documents.append(stems)
            for stem in stems:
                weights[stem] = weights.get(stem, 0.0) + example_weight
        raw.append(weights)
    frequency = Counter(stem for document in documents for stem in document)
    shared = Counter(stem for weights in raw for stem in weights)
    total = len(documents)
    return [
        {
            stem: weight * math.log((total + 1) / (frequency[stem] + 0.5)) / shared[stem]
            for stem, weight in weights.items()
        }
        for weights in raw
    ]


def lexical_score(item_stems: Iterable[str], profile: Profile, top: int) -> float:
    """Weight of the profile stems present in the item over the sum of the ``top`` largest
    profile weights, capped at 1."""
    weights = sorted((w for w in profile.values() if w > 0), reverse=True)[:top]
    norm = sum(weights)
    if norm <= 0:
        return 0.0
    present = set(item_stems)
    found = sum(w for stem, w in profile.items() if stem in present and w > 0)
    return min(1.0, found / norm)


# ----------------------------------------------------------------------------------- semantic


def semantic_score(
    sentence: float,
    examples: Sequence[float],
    counters: Sequence[float],
    settings: ScoringSettings = DEFAULT_SETTINGS,
) -> float:
    """Mix the similarity to the criterion sentence with the best example similarity, less
    ``counter_weight`` times how far the best counter-example beats that mix."""
    score = sentence
    if examples:
        w = settings.example_similarity_weight
        score = (1 - w) * sentence + w * max(examples)
    if counters:
        score -= settings.counter_weight * max(0.0, max(counters) - score)
    return score


def evidence_score(
    lexical: float | None,
    semantic: float | None,
    settings: ScoringSettings = DEFAULT_SETTINGS,
    agreement: float = 0.0,
) -> float:
    """Lexical and semantic evidence combined, plus ``direction_weight`` times the direction
    ``agreement`` (:func:`direction_agreement`), clipped to [0, 1]; either may be missing."""
    if lexical is None and semantic is None:
        return 0.0
    if semantic is None:
        value = lexical or 0.0
    elif lexical is None:
        value = semantic
    else:
        w = settings.lexical_weight
        value = w * lexical + (1 - w) * semantic
    value += settings.direction_weight * agreement
    return min(1.0, max(0.0, value))


def hybrid_score(
    keyword: float, evidence: float, settings: ScoringSettings = DEFAULT_SETTINGS
) -> float:
    """``keyword_weight * keyword + (1 - keyword_weight) * evidence``, rounded to 3 places."""
    w = settings.keyword_weight
    return round(w * keyword + (1 - w) * evidence, 3)


def contenders(evidence: Sequence[float], margin: float) -> list[bool]:
    """Which criteria of one thesis stay in contention for an item: those whose evidence is
    within ``margin`` of the best. Mirror criteria thus cannot both fire on weak evidence."""
    if not evidence:
        return []
    best = max(evidence)
    return [value >= best - margin for value in evidence]


# --------------------------------------------------------------------------------- re-ranking


def shortlist(
    values: Sequence[float],
    candidates: Sequence[bool],
    settings: ScoringSettings = DEFAULT_SETTINGS,
) -> list[int]:
    """Which of one thesis' competing criteria a cross-encoder re-scores for one item: the
    ``rerank_top`` best candidates by evidence, each within ``rerank_margin`` of the best and
    at least ``rerank_floor``; empty unless two or more qualify (a lone contender has
    nothing to be re-ranked against). Positions into ``values``, best first."""
    ranked = sorted((i for i, ok in enumerate(candidates) if ok), key=lambda i: (-values[i], i))
    if not ranked:
        return []
    best = values[ranked[0]]
    chosen = [
        i
        for i in ranked[: max(0, settings.rerank_top)]
        if values[i] >= best - settings.rerank_margin and values[i] >= settings.rerank_floor
    ]
    return chosen if len(chosen) >= 2 else []


def reranked(value: float, z: float, settings: ScoringSettings = DEFAULT_SETTINGS) -> float:
    """Evidence ``value`` moved by the cross-encoder's normalised score ``z`` (a z-score of
    the criterion's logit): ``+ rerank_weight * tanh(z / 2)``, so by less than
    ``rerank_weight`` either way, clipped to [0, 1]."""
    return min(1.0, max(0.0, value + settings.rerank_weight * math.tanh(z / 2.0)))


# ---------------------------------------------------------------------------------- direction

# Stem prefixes of words that report a development going *down* (a setback, a cut, a refusal)
# or *up* (progress, approval, a rise). General English, not any thesis' vocabulary: they tell
# mirror criteria apart ("projects report delays" vs "projects hit milestones on schedule").
_SETBACK_TEXT = """
    abandon bar block ban cancel constrain curb cut declin defer delay deni deny drop escal
    exclus fail fall fallen fell gate halt harm lag lapse limit lose loss lost lower miss
    overrun postpon problem regress reject repric restrict revers revert rollback scarc setback
    short shrank shrink slid slip soften squeez stall suspend tighten trail trim uncorrel
    weaken withdraw withdrew wors
"""
_PROGRESS_TEXT = """
    accelerat achiev advanc ahead approv beat bind boost clear complet correl exceed expand
    extend faster finish firm gain grant grew grow higher improv lift match outperform
    outscor predict progress rais reach record reliabl restart rise rose schedul settl sign
    strong succeed success surpass track
"""
SETBACK_STEMS = tuple(_SETBACK_TEXT.split())
PROGRESS_STEMS = tuple(_PROGRESS_TEXT.split())
_NEGATOR_TEXT = """
    not no never without cannot unable nor neither non fail fails failed failing didn doesn don
    isn wasn aren weren won
"""
NEGATORS = frozenset(_NEGATOR_TEXT.split())
NEGATION_WINDOW = 3  # a negator flips the cues among the next three words


@lru_cache(maxsize=65536)
def _cue(stem: str) -> int:
    if stem.startswith(SETBACK_STEMS):
        return -1
    if stem.startswith(PROGRESS_STEMS):
        return 1
    return 0


def direction(text: str) -> float:
    """Which way the developments ``text`` reports go, in (-1, 1): (progress cues - setback
    cues) / (all cues + 1). A negator ("not", "fail to", "without", "non-") flips the cues
    among the next :data:`NEGATION_WINDOW` words, so "did not improve" counts as a setback
    and "without delays" as progress."""
    up = down = 0
    flip_until = -1
    for index, word in enumerate(tokenize(text)):
        sign = _cue(stem_of(word))
        if sign and index <= flip_until:
            sign = -sign
        if sign > 0:
            up += 1
        elif sign < 0:
            down += 1
        if word in NEGATORS:
            flip_until = index + NEGATION_WINDOW
    return (up - down) / (up + down + 1)


def direction_agreement(item: float, criterion: float) -> float:
    """Positive when item and criterion report developments the same way, negative when
    they oppose (the product of their :func:`direction` values)."""
    return item * criterion


# -------------------------------------------------------------------------------- explanation


def best_sentence(
    text: str, terms: Sequence[str], profile: Profile, limit: int = SNIPPET_CHARS
) -> str:
    """The item's sentence that best explains a match, shortened to ``limit`` characters.

    Sentences are ranked by matched query terms first (what the analyst wrote), then by the
    profile weight of their stems (what the criterion is about); ties keep the earlier
    sentence, and with no evidence at all the first sentence (the title) is the snippet.
    """
    found = sentences(text)
    if not found:
        return ""
    words = [t.rstrip("*").strip('"').casefold() for t in terms if t.strip('*"')]

    def rank(sentence: str) -> tuple[int, float]:
        low = sentence.casefold()
        hits = sum(1 for w in words if w in low)
        weight = sum(profile.get(stem, 0.0) for stem in set(content_stems(sentence)))
        return hits, float(weight)

    best = max(found, key=rank)
    return shorten(best, limit)
