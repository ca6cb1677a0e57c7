"""The MiniLM adapter with the real bundled model, and the matcher with and without vectors."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from monitor.matching.engine import Matcher
from monitor.semantic import Embedder, embedding_text, load_embedder, semantic_status
from monitor.semantic.embedder import EMBEDDING_CHARS, normalise_rows
from monitor.types import Criterion, Item, Thesis


@cache
def embedder() -> Embedder:
    found = load_embedder()
    assert found is not None, semantic_status()[1]
    return found


THESIS = Thesis(
    id="nuclear",
    title="Nuclear",
    criteria=(
        Criterion(
            id="confirm-1",
            polarity="confirm",
            text="Small modular reactor projects report delays and cost overruns.",
            query="reactor* OR SMR*",
        ),
        Criterion(
            id="kill-1",
            polarity="kill",
            text="Data-center electricity demand forecasts are cut.",
            query="forecast*",
        ),
    ),
)
DELAY = Item(
    source="s",
    item_id="1",
    title="SMR developer pushes first unit back two years",
    summary="The company said construction of the reactor is delayed and costs have doubled.",
)
OTHER = Item(source="s", item_id="2", title="Local bakery wins award", summary="Bread.")


def test_model_loads_offline_and_embeds_unit_float32_rows() -> None:
    vectors = embedder().embed(["reactor delay", "bread"])
    assert vectors.shape == (2, embedder().dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder().embed([]).shape == (0, embedder().dim)
    assert semantic_status()[1].startswith("semantic scoring on (all-MiniLM-L6-v2")


def test_similar_sentences_score_above_dissimilar_ones() -> None:
    a, b, c = embedder().embed(
        [
            "The reactor restart was delayed by a year.",
            "Restarting the nuclear plant will take a year longer than planned.",
            "The football team won the cup final.",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.3


def test_embedding_text_is_title_and_summary_capped() -> None:
    item = Item(source="s", item_id="x", title="T", summary="s" * 5000)
    assert embedding_text(item).startswith("T\ns")
    assert len(embedding_text(item)) == EMBEDDING_CHARS


def test_normalise_rows_keeps_zero_rows_and_rejects_1d() -> None:
    rows = normalise_rows([[3.0, 4.0], [0.0, 0.0]])
    assert np.allclose(rows, [[0.6, 0.8], [0.0, 0.0]])
    with pytest.raises(ValueError, match="2-D"):
        normalise_rows([1.0, 2.0])


def test_matcher_without_vectors_is_keyword_only() -> None:
    matcher = Matcher([THESIS], embedder=embedder())
    assert matcher.mode == "hybrid"
    [match] = matcher.match_batch([DELAY])[0]
    assert (match.criterion_id, match.similarity) == ("confirm-1", None)


def test_matcher_with_vectors_scores_hybrid_and_explains() -> None:
    matcher = Matcher([THESIS], embedder=embedder())
    vectors = embedder().embed([embedding_text(DELAY), embedding_text(OTHER)])
    found = matcher.match_batch([DELAY, OTHER], vectors)
    assert found[1] == []
    [match] = found[0]
    assert match.criterion_id == "confirm-1"
    assert match.similarity is not None and match.similarity > 0.3
    assert match.snippet == (
        "The company said construction of the reactor is delayed and costs have doubled."
    )
    assert match.matched_terms == ("reactor*", "SMR*")
    assert match.score >= matcher.settings.hybrid_threshold
    assert matcher.match(DELAY, vectors[0]) == found[0]


def test_semantic_mode_ignores_queries() -> None:
    thesis = Thesis(
        id="t",
        title="T",
        criteria=tuple(
            Criterion(id=c.id, polarity=c.polarity, text=c.text, query="zzzunmatched")
            for c in THESIS.criteria
        ),
    )
    matcher = Matcher([thesis], embedder=embedder(), mode="semantic")
    vectors = embedder().embed([embedding_text(DELAY)])
    assert [m.criterion_id for m in matcher.match_batch([DELAY], vectors)[0]] == ["confirm-1"]
    assert Matcher([thesis], embedder=embedder()).match_batch([DELAY], vectors) == [[]]


def test_matcher_rejects_vectors_that_do_not_fit() -> None:
    matcher = Matcher([THESIS], embedder=embedder())
    with pytest.raises(ValueError, match="2 vectors for 1 items"):
        matcher.match_batch([DELAY], np.ones((2, embedder().dim), dtype=np.float32))
    with pytest.raises(ValueError, match="dimensions"):
        matcher.match_batch([DELAY], np.ones((1, 3), dtype=np.float32))


def test_semantic_modes_need_an_embedder() -> None:
    with pytest.raises(ValueError, match="needs an embedder"):
        Matcher([THESIS], mode="hybrid")
    assert Matcher([THESIS]).mode == "keyword"
