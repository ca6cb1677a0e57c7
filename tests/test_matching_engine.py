"""The Matcher's keyword path (KeywordMatcher) and hybrid scoring with a fake embedder."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from monitor.matching.document import Document
from monitor.matching.engine import Matcher
from monitor.matching.evaluate import evaluate
from monitor.matching.scoring import DEFAULT_SETTINGS
from monitor.rules.query import parse_query
from monitor.types import Criterion, Item, Thesis

QUERIES = [
    "reactor* AND restart*",
    '"fixed price" OR "fixed-price"',
    "title:delay*",
    "source:wire AND nuclear",
    "tag:grid OR interconnect*",
    "(approve* OR clear*) NOT reject*",
    '"data center"~3',
]
ITEMS = [
    Item("wire", "1", "Reactor restarts ahead of plan", "The restart of the reactor is on track."),
    Item("desk", "2", "Fixed-price deal signed", "A fixed price for twenty years."),
    Item("desk", "3", "SMR delayed again", "Fuel shortfall."),
    Item("desk", "4", "Weather", "Delays in the summary only do not hit a title query."),
    Item("wire", "5", "Nuclear news", "Nothing else.", tags=("grid",)),
    Item("desk", "6", "Regulators approve, then reject", "Data centers near the center of data."),
    Item("desk", "7", "Data center load", "Interconnection queue grows."),
]


def _thesis(queries: Sequence[str]) -> Thesis:
    criteria = tuple(
        Criterion(f"confirm-{n}", "confirm", f"criterion {n}", query)
        for n, query in enumerate(queries, start=1)
    )
    return Thesis("t", "T", criteria)


@pytest.mark.parametrize("item", ITEMS, ids=[i.item_id for i in ITEMS])
def test_keyword_path_equals_evaluating_every_query(item: Item) -> None:
    matcher = Matcher([_thesis(QUERIES)])
    doc = Document.from_item(item)
    expected = {
        f"confirm-{n}": terms
        for n, query in enumerate(QUERIES, start=1)
        if (terms := evaluate(parse_query(query), doc)) is not None
    }
    found = {m.criterion_id: m.matched_terms for m in matcher.match(item)}
    assert found == expected
    assert matcher.query_hits(item) == {
        int(key.split("-")[1]) - 1: terms for key, terms in expected.items()
    }


class _WordEmbedder:
    """A fake embedder: one dimension per vocabulary word, rows L2-normalised."""

    model_name = "fake"

    def __init__(self, vocabulary: Sequence[str]) -> None:
        self.vocabulary = list(vocabulary)
        self.dim = len(self.vocabulary)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for col, word in enumerate(self.vocabulary):
                rows[row, col] = text.casefold().count(word)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        result: npt.NDArray[np.float32] = (rows / norms).astype(np.float32)
        return result


MIRROR = Thesis(
    "grid",
    "Grid",
    (
        Criterion("confirm-1", "confirm", "Regulators delay co-location at plants", "regulator*"),
        Criterion("kill-1", "kill", "Regulators approve co-location at plants", "regulator*"),
    ),
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Regulators delay co-location at plants", {"confirm-1"}),
        ("Regulators approve co-location at plants", {"kill-1"}),
    ],
)
def test_hybrid_picks_the_mirror_criterion_the_item_agrees_with(
    text: str, expected: set[str]
) -> None:
    embedder = _WordEmbedder(["regulators", "co-location", "plants", "delay", "approve"])
    matcher = Matcher([MIRROR], embedder=embedder, mode="hybrid")
    item = Item("s", "1", text)
    matches = matcher.match_batch([item], embedder.embed([item.text]))[0]
    assert {m.criterion_id for m in matches} == expected


def test_watch_criteria_do_not_dilute_the_lexical_profile_of_scored_ones() -> None:
    """An open question sharing a criterion's word leaves that criterion's profile as is."""
    question = Criterion("unknown-1", "watch", "Will regulators delay anything?", "regulator*")
    with_watch = Thesis("grid", "Grid", (*MIRROR.criteria, question))
    embedder = _WordEmbedder(["regulators", "co-location", "plants", "delay", "approve"])
    item = Item("s", "1", "Regulators delay co-location at plants")
    vectors = embedder.embed([item.text])
    plain = Matcher([MIRROR], embedder=embedder).match_batch([item], vectors)[0]
    mixed = Matcher([with_watch], embedder=embedder).match_batch([item], vectors)[0]
    scored = {m.criterion_id: m.score for m in mixed if m.polarity != "watch"}
    assert scored == {m.criterion_id: m.score for m in plain}


def _silent_queries(automatic: bool, kill_query: str = "FERC") -> Thesis:
    return Thesis(
        "grid",
        "Grid",
        (
            Criterion("confirm-1", "confirm", "Regulators delay co-location at plants", "FERC"),
            Criterion("kill-1", "kill", "Approval of interconnection requests", kill_query),
        ),
        automatic=automatic,
    )


GRID_WORDS = ["regulators", "co-location", "plants", "delay", "approval"]


@pytest.mark.parametrize("automatic", [False, True])
def test_strong_evidence_fires_a_criterion_whose_query_missed(automatic: bool) -> None:
    """Automatic rules always let evidence decide; hand-tuned rules let strong evidence
    propose a criterion when no query of the thesis hit (new wording), scored on its
    evidence against ``propose_evidence``."""
    embedder = _WordEmbedder(GRID_WORDS)
    item = Item("s", "1", "Regulators delay co-location at plants")

    (matches,) = Matcher([_silent_queries(automatic)], embedder=embedder).match_batch(
        [item], embedder.embed([item.text])
    )

    assert [m.criterion_id for m in matches] == ["confirm-1"]
    assert matches[0].matched_terms == ()
    if not automatic:
        assert matches[0].score >= DEFAULT_SETTINGS.propose_evidence


def test_weak_evidence_proposes_nothing_in_hand_tuned_rules() -> None:
    embedder = _WordEmbedder(GRID_WORDS)
    item = Item("s", "1", "Quarterly earnings beat estimates", "Margins widen at the utility.")
    matches = Matcher([_silent_queries(False)], embedder=embedder).match_batch(
        [item], embedder.embed([item.text])
    )
    assert matches == [[]]


def test_where_a_query_of_the_thesis_hits_the_queries_decide() -> None:
    """The kill query hits (weakly): the confirm criterion, whose query missed, is not
    proposed however strong its evidence, and the analyst's query alone decides."""
    embedder = _WordEmbedder(GRID_WORDS)
    item = Item("s", "1", "Regulators delay co-location at plants", "No approval yet.")
    thesis = _silent_queries(False, kill_query="approval")

    (matches,) = Matcher([thesis], embedder=embedder).match_batch(
        [item], embedder.embed([item.text])
    )

    assert "confirm-1" not in {m.criterion_id for m in matches}
