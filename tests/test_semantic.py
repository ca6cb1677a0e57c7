"""The MiniLM adapters with the real bundled model (int8 ONNX by default, float torch as the
reference), vectorised criterion scoring, and the matcher with and without vectors."""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from functools import cache

import numpy as np
import pytest

from monitor.matching import scoring
from monitor.matching.engine import Matcher
from monitor.matching.scoring import DEFAULT_SETTINGS
from monitor.semantic import (
    FLOAT_MODEL_NAME,
    MODEL_NAME,
    Embedder,
    embedding_text,
    load_embedder,
    semantic_status,
)
from monitor.semantic.embedder import EMBEDDING_CHARS, normalise_rows
from monitor.semantic.minilm import load_minilm
from monitor.semantic.vectors import ThesisVectors
from monitor.types import Criterion, Item, Thesis


@cache
def embedder() -> Embedder:
    found = load_embedder()
    assert found is not None, semantic_status()[1]
    return found


@cache
def float_embedder() -> Embedder:
    return load_minilm(quantised=False)


SENTENCES = [
    "The reactor restart was delayed by a year.",
    "Restarting the nuclear plant will take a year longer than planned.",
    "The football team won the cup final.",
    "Hyperscalers sign 20-year power purchase agreements with nuclear operators.",
    "Chip export controls tighten on advanced GPUs shipped to China.",
    "Central bank holds rates steady as inflation cools.",
    "ok",
]


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


@pytest.mark.parametrize("which", [embedder, float_embedder])
def test_model_loads_offline_and_embeds_unit_float32_rows(which: object) -> None:
    model = which()  # type: ignore[operator]
    vectors = model.embed(["reactor delay", "bread"])
    assert vectors.shape == (2, model.dim) == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert model.embed([]).shape == (0, model.dim)


def test_the_default_embedder_is_int8_and_named_apart_from_float() -> None:
    assert embedder().model_name == MODEL_NAME == "all-MiniLM-L6-v2-int8pc"
    assert float_embedder().model_name == FLOAT_MODEL_NAME == "all-MiniLM-L6-v2"
    assert semantic_status()[1] == "semantic scoring on (all-MiniLM-L6-v2-int8pc, CPU)"


@pytest.mark.parametrize("which", [embedder, float_embedder])
def test_similar_sentences_score_above_dissimilar_ones(which: object) -> None:
    a, b, c = which().embed(SENTENCES[:3])  # type: ignore[operator]
    assert float(a @ b) > float(a @ c) + 0.3


def test_int8_vectors_agree_with_the_float_model() -> None:
    sentences = SENTENCES[:6]  # item-like texts; a lone word ("ok") agrees less (~0.85)
    agreement = (embedder().embed(sentences) * float_embedder().embed(sentences)).sum(axis=1)
    assert agreement.min() >= 0.9, agreement


def test_int8_vectors_barely_depend_on_batch_companions_and_not_on_order() -> None:
    # Dynamic int8 quantisation scales activations per batch, so a text's vector moves a
    # little with the texts batched beside it (cosine ~0.99; ~0.96 for a lone word).
    alone = np.concatenate([embedder().embed([text]) for text in SENTENCES])
    batched = embedder().embed(SENTENCES)
    assert (alone * batched).sum(axis=1).min() >= 0.95
    reversed_rows = embedder().embed(SENTENCES[::-1])
    assert np.allclose(reversed_rows[::-1], batched, atol=1e-5)


def test_a_fresh_load_is_deterministic_and_does_not_log_quantiser_advice(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    fresh = load_minilm()
    assert np.allclose(fresh.embed(SENTENCES), embedder().embed(SENTENCES), atol=1e-5)
    assert not [r for r in caplog.records if "pre-process" in r.getMessage()]
    assert any(r.getMessage() == f"built {MODEL_NAME} with ONNX Runtime" for r in caplog.records)


def test_without_onnxruntime_the_float_model_is_used(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails like a missing package
    fallback = load_minilm()
    assert fallback.model_name == FLOAT_MODEL_NAME
    assert "onnxruntime is not installed" in caplog.text


def test_criterion_scores_are_the_scoring_formula_for_every_item_and_criterion() -> None:
    criteria = (
        Criterion(
            id="confirm-1",
            polarity="confirm",
            text="Small modular reactor projects report delays and cost overruns.",
            query="reactor*",
            examples=("SMR unit pushed back two years", "Reactor build costs double"),
            counter_examples=("Reactor restarts after refuelling",),
        ),
        Criterion(id="kill-1", polarity="kill", text="Power demand forecasts are cut.", query="x"),
        Criterion(
            id="watch-1",
            polarity="watch",
            text="Uranium prices move.",
            query="uranium",
            counter_examples=("Uranium miner changes its logo", "Yellowcake film review"),
        ),
    )
    settings = scoring.DEFAULT_SETTINGS
    vectors = ThesisVectors.build(criteria, embedder(), settings)
    items = embedder().embed(SENTENCES)
    rows = vectors.score(items)
    centred = normalise_rows(items - settings.centring * vectors.mean)
    for row, (semantic, raw) in enumerate(rows):
        assert np.allclose(raw, items[row] @ vectors.raw_sentences.T, atol=1e-6)
        for j in range(len(criteria)):
            expected = scoring.semantic_score(
                float(centred[row] @ vectors.sentences[j]),
                (centred[row] @ vectors.examples[j].T).tolist(),
                (centred[row] @ vectors.counters[j].T).tolist(),
                settings,
            )
            assert semantic[j] == pytest.approx(expected, abs=1e-6)


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
    # hybrid: no query hits, so only evidence strong enough to propose a criterion fires
    (proposed,) = Matcher([thesis], embedder=embedder()).match_batch([DELAY], vectors)[0]
    assert proposed.criterion_id == "confirm-1" and proposed.matched_terms == ()
    assert proposed.score >= DEFAULT_SETTINGS.propose_evidence
    strict = replace(DEFAULT_SETTINGS, propose_evidence=proposed.score + 0.01)
    assert Matcher([thesis], embedder=embedder(), settings=strict).match_batch(
        [DELAY], vectors
    ) == [[]]


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
