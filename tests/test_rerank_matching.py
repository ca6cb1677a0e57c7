"""Cross-encoder re-ranking of each thesis' shortlist in the Matcher, with fake re-rankers
(deterministic, no model, no network)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pytest

from monitor.analysis.evaluation import LabeledItem, evaluate
from monitor.matching import scoring
from monitor.matching.engine import RERANK_TEXT_CHARS, Matcher
from monitor.matching.scoring import DEFAULT_SETTINGS
from monitor.semantic.rerank import Reranker
from monitor.types import Criterion, Item, Match, Thesis
from tests.test_matching_engine import _WordEmbedder

WORDS = ["regulators", "co-location", "plants", "delay", "approve"]
MIRROR = Thesis(
    "grid",
    "Grid",
    (
        Criterion("confirm-1", "confirm", "Regulators delay co-location at plants", "regulator*"),
        Criterion("kill-1", "kill", "Regulators approve co-location at plants", "regulator*"),
        Criterion("unknown-1", "watch", "Will regulators rule on co-location?", "regulator*"),
    ),
    automatic=True,
)
OTHER = Thesis(
    "fleet",
    "Fleet",
    (
        Criterion("confirm-1", "confirm", "Plants restart and delay nothing", "plant*"),
        Criterion("kill-1", "kill", "Plants approve closures", "plant*"),
    ),
    automatic=True,
)
# plain evidence prefers kill-1; "postponed" is a word the embedder does not know
AMBIGUOUS = Item("s", "1", "Regulators co-location plants approve delay approve postponed")
STRONG = replace(DEFAULT_SETTINGS, rerank_weight=0.3, rerank_margin=0.5)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z-]+", text.casefold()))


class _Favour:
    """Logit +8 for a (criterion, text) pair when the criterion holds one of the words the
    text's cue words favour, -8 when it holds a word they disfavour, else 0."""

    model_name = "favour"

    def __init__(self, cues: dict[str, tuple[set[str], set[str]]]) -> None:
        self.cues = cues
        self.calls: list[list[tuple[str, str]]] = []

    def score(self, pairs: Sequence[tuple[str, str]]) -> npt.NDArray[np.float64]:
        self.calls.append(list(pairs))
        result = np.zeros(len(pairs), dtype=np.float64)
        for n, (criterion, text) in enumerate(pairs):
            words = _words(criterion)
            for cue, (good, bad) in self.cues.items():
                if cue in _words(text):
                    result[n] += 8.0 * (bool(good & words) - bool(bad & words))
        return result


class _Overlap:
    """Logit = 3 x shared words - 6 (a crude relevance, for cost and equivalence tests)."""

    model_name = "overlap"

    def __init__(self) -> None:
        self.calls: list[list[tuple[str, str]]] = []

    def score(self, pairs: Sequence[tuple[str, str]]) -> npt.NDArray[np.float64]:
        self.calls.append(list(pairs))
        return np.array([3.0 * len(_words(a) & _words(b)) - 6.0 for a, b in pairs])


class _Failing:
    model_name = "failing"

    def __init__(self, fail_after: int) -> None:
        self.fail_after = fail_after  # calls that succeed first (the reference call is one)
        self.calls = 0

    def score(self, pairs: Sequence[tuple[str, str]]) -> npt.NDArray[np.float64]:
        self.calls += 1
        if self.calls > self.fail_after:
            raise RuntimeError("onnx session died")
        return np.zeros(len(pairs), dtype=np.float64)


def _ids(matches: Sequence[Match]) -> set[str]:
    """The confirm/kill criteria matched (watch criteria never compete with them)."""
    return {m.criterion_id for m in matches if m.polarity != "watch"}


def _run(matcher: Matcher, items: Sequence[Item]) -> list[list[Match]]:
    embedder = matcher.embedder
    assert embedder is not None
    return matcher.match_batch(items, embedder.embed([i.text for i in items]))


def test_fakes_satisfy_the_protocol() -> None:
    assert isinstance(_Overlap(), Reranker)


def test_reranking_can_flip_the_criterion_a_thesis_chooses() -> None:
    embedder = _WordEmbedder(WORDS)
    favour = _Favour({"postponed": ({"delay"}, {"approve"})})
    plain = _run(Matcher([MIRROR], embedder=embedder, settings=STRONG), [AMBIGUOUS])[0]
    flipped = _run(
        Matcher([MIRROR], embedder=embedder, settings=STRONG, reranker=favour), [AMBIGUOUS]
    )[0]
    assert _ids(plain) == {"kill-1"}
    assert _ids(flipped) == {"confirm-1"}


def test_the_batch_is_scored_in_one_call_with_bounded_pairs() -> None:
    embedder = _WordEmbedder(WORDS)
    reranker = _Overlap()
    matcher = Matcher([MIRROR, OTHER], embedder=embedder, settings=STRONG, reranker=reranker)
    assert len(reranker.calls) == 1  # the references, once, at construction
    long = Item("s", "9", "Regulators delay co-location at plants " + "approve " * 400)
    items = [replace(AMBIGUOUS, item_id=str(n)) for n in range(6)] + [long]

    _run(matcher, items)

    assert len(reranker.calls) == 2
    pairs = reranker.calls[1]
    scored_criteria = sum(1 for t in (MIRROR, OTHER) for c in t.criteria if c.polarity != "watch")
    assert 0 < len(pairs) <= len(items) * min(STRONG.rerank_top * 2, scored_criteria)
    assert all(len(text) <= RERANK_TEXT_CHARS for _, text in pairs)
    watch = {c.text for t in (MIRROR, OTHER) for c in t.criteria if c.polarity == "watch"}
    assert not watch & {criterion for criterion, _ in pairs}


def test_zero_weight_reranking_matches_exactly_as_without_it() -> None:
    """The re-ranked path computes the same evidence and decisions as the plain one."""
    embedder = _WordEmbedder(WORDS)
    hand_tuned = replace(MIRROR, id="hand", automatic=False)
    items = [
        AMBIGUOUS,
        Item("s", "2", "Regulators delay co-location at plants"),
        Item("s", "3", "Plants approve closures as regulators delay"),
        Item("s", "4", "Quarterly earnings beat estimates"),
    ]
    theses = [MIRROR, OTHER, hand_tuned]
    zero = replace(STRONG, rerank_weight=0.0)
    plain = _run(Matcher(theses, embedder=embedder, settings=zero), items)
    reranker = _Overlap()
    again = _run(Matcher(theses, embedder=embedder, settings=zero, reranker=reranker), items)
    assert len(reranker.calls) == 2 and reranker.calls[1]
    assert again == plain


def test_no_reranker_is_the_default_and_changes_nothing() -> None:
    embedder = _WordEmbedder(WORDS)
    items = [AMBIGUOUS, Item("s", "2", "Regulators delay co-location at plants")]
    default = _run(Matcher([MIRROR, OTHER], embedder=embedder), items)
    explicit = _run(Matcher([MIRROR, OTHER], embedder=embedder, reranker=None), items)
    assert explicit == default
    assert Matcher([MIRROR], embedder=embedder).reranker is None


def test_keyword_matching_never_calls_the_reranker() -> None:
    reranker = _Overlap()
    matcher = Matcher([MIRROR], reranker=reranker)
    assert matcher.match_batch([AMBIGUOUS]) == [matcher.match(AMBIGUOUS)]
    assert reranker.calls == []


def test_a_failing_reranker_falls_back_to_plain_matching_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    embedder = _WordEmbedder(WORDS)
    plain = _run(Matcher([MIRROR], embedder=embedder, settings=STRONG), [AMBIGUOUS])
    failing = _Failing(fail_after=1)  # the reference call succeeds, batches fail
    matcher = Matcher([MIRROR], embedder=embedder, settings=STRONG, reranker=failing)
    with caplog.at_level(logging.WARNING, logger="monitor.matching.engine"):
        first = _run(matcher, [AMBIGUOUS])
        second = _run(matcher, [AMBIGUOUS])
    assert first == second == plain
    assert failing.calls == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "re-ranking failed" in warnings[0].getMessage()


def test_a_reranker_failing_at_construction_turns_reranking_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    embedder = _WordEmbedder(WORDS)
    failing = _Failing(fail_after=0)
    with caplog.at_level(logging.WARNING, logger="monitor.matching.engine"):
        matcher = Matcher([MIRROR], embedder=embedder, reranker=failing)
    assert matcher.reranker is None
    plain = _run(Matcher([MIRROR], embedder=embedder), [AMBIGUOUS])
    assert _run(matcher, [AMBIGUOUS]) == plain
    assert failing.calls == 1
    assert any("re-ranking failed" in r.getMessage() for r in caplog.records)


def test_wrong_number_of_scores_is_a_failure_too() -> None:
    class Short(_Overlap):
        def score(self, pairs: Sequence[tuple[str, str]]) -> npt.NDArray[np.float64]:
            return super().score(pairs)[:1]

    embedder = _WordEmbedder(WORDS)
    plain = _run(Matcher([MIRROR], embedder=embedder, settings=STRONG), [AMBIGUOUS])
    matcher = Matcher([MIRROR], embedder=embedder, settings=STRONG, reranker=Short())
    assert _run(matcher, [AMBIGUOUS]) == plain


@pytest.mark.parametrize(
    ("values", "candidates", "expected"),
    [
        ([0.5, 0.45, 0.44], [True, True, True], [0, 1]),  # top 2
        ([0.5, 0.3], [True, True], []),  # the second is out of the margin: nothing to rank
        ([0.5, 0.45], [True, False], []),  # not a candidate
        ([0.08, 0.07], [True, True], []),  # below the floor
        ([0.2, 0.3, 0.25], [True, True, True], [1, 2]),
        ([], [], []),
    ],
)
def test_shortlist(values: list[float], candidates: list[bool], expected: list[int]) -> None:
    assert scoring.shortlist(values, candidates, DEFAULT_SETTINGS) == expected


def test_reranked_moves_evidence_by_less_than_the_weight() -> None:
    settings = replace(DEFAULT_SETTINGS, rerank_weight=0.1)
    assert scoring.reranked(0.5, 0.0, settings) == 0.5
    assert 0.5 < scoring.reranked(0.5, 50.0, settings) <= 0.6
    assert 0.4 <= scoring.reranked(0.5, -50.0, settings) < 0.5
    assert scoring.reranked(0.98, 50.0, settings) == 1.0


def test_evaluate_passes_the_reranker_to_the_matcher() -> None:
    embedder = _WordEmbedder(WORDS)
    reranker = _Favour({"postponed": ({"delay"}, {"approve"})})
    labeled = [LabeledItem(AMBIGUOUS, "grid", frozenset({"confirm-1"}))]
    thesis = replace(MIRROR, source_brief="grid")
    plain = evaluate(labeled, [thesis], mode="hybrid", embedder=embedder)
    reranked = evaluate(labeled, [thesis], mode="hybrid", embedder=embedder, reranker=reranker)
    assert reranker.calls
    assert reranked.micro.tp >= plain.micro.tp
