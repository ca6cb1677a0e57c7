"""Hybrid scoring as pure functions: combination, thresholds, contention, explanation."""

from __future__ import annotations

import pytest

from monitor.matching.scoring import (
    ScoringSettings,
    best_sentence,
    build_profiles,
    contenders,
    content_stems,
    direction,
    direction_agreement,
    evidence_score,
    hybrid_score,
    keyword_score,
    lexical_score,
    semantic_score,
)

SETTINGS = ScoringSettings(
    keyword_weight=0.5, lexical_weight=0.5, example_similarity_weight=0.3, counter_weight=0.5
)


@pytest.mark.parametrize(
    ("matched", "positive", "expected"),
    [(0, 5, 0.0), (1, 1, 1.0), (1, 3, 0.333), (2, 3, 0.667), (3, 9, 1.0), (1, 0, 1.0)],
)
def test_keyword_score_counts_up_to_three_terms(
    matched: int, positive: int, expected: float
) -> None:
    assert keyword_score(matched, positive) == expected


@pytest.mark.parametrize(
    ("keyword", "evidence", "expected"),
    [(1.0, 0.0, 0.5), (0.0, 1.0, 0.5), (1.0, 0.4, 0.7), (0.333, 0.2, 0.267), (0.0, 0.0, 0.0)],
)
def test_hybrid_score_weights_keyword_and_evidence(
    keyword: float, evidence: float, expected: float
) -> None:
    assert hybrid_score(keyword, evidence, SETTINGS) == expected


@pytest.mark.parametrize(
    ("lexical", "semantic", "expected"),
    [
        (None, None, 0.0),
        (0.4, None, 0.4),
        (None, 0.3, 0.3),
        (0.4, 0.2, 0.3),
        (1.0, 1.5, 1.0),  # clipped above
        (0.0, -0.6, 0.0),  # clipped below
    ],
)
def test_evidence_combines_and_clips(
    lexical: float | None, semantic: float | None, expected: float
) -> None:
    assert evidence_score(lexical, semantic, SETTINGS) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("sentence", "examples", "counters", "expected"),
    [
        (0.4, (), (), 0.4),
        (0.4, (0.6, 0.2), (), 0.7 * 0.4 + 0.3 * 0.6),
        (0.4, (), (0.3,), 0.4),  # a weaker counter-example costs nothing
        (0.4, (), (0.6,), 0.4 - 0.5 * 0.2),
    ],
)
def test_semantic_score_mixes_examples_and_counter_examples(
    sentence: float, examples: tuple[float, ...], counters: tuple[float, ...], expected: float
) -> None:
    assert semantic_score(sentence, examples, counters, SETTINGS) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("evidence", "margin", "expected"),
    [
        ([], 0.1, []),
        ([0.5, 0.45, 0.2], 0.03, [True, False, False]),
        ([0.5, 0.48, 0.2], 0.03, [True, True, False]),
        ([0.1, 0.1], 0.0, [True, True]),
    ],
)
def test_contenders_keep_criteria_near_the_best(
    evidence: list[float], margin: float, expected: list[bool]
) -> None:
    assert contenders(evidence, margin) == expected


def test_content_stems_drop_stopwords_numbers_and_stem_words() -> None:
    assert content_stems("The restarts of 2 reactors were delayed") == [
        "restart",
        "reactor",
        "delay",
    ]


def test_profiles_weight_distinctive_words_above_shared_ones() -> None:
    profiles = build_profiles(
        [("reactor restarts delayed", ()), ("reactor approvals granted", ("fast approval",))],
        example_weight=0.5,
    )
    assert profiles[0]["restart"] > profiles[0]["reactor"]
    assert profiles[1]["approv"] > profiles[1]["reactor"]
    assert "fast" in profiles[1] and "fast" not in profiles[0]


@pytest.mark.parametrize(
    ("stems", "expected"),
    [(set(), 0.0), ({"a"}, 0.5), ({"a", "b"}, 0.75), ({"a", "b", "c"}, 1.0), ({"z"}, 0.0)],
)
def test_lexical_score_is_the_share_of_profile_weight_present(
    stems: set[str], expected: float
) -> None:
    profile = {"a": 2.0, "b": 1.0, "c": 1.0}
    assert lexical_score(stems, profile, top=8) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("terms", "profile", "expected"),
    [
        ((), {}, "Title here."),  # no evidence: the title
        (("delay*",), {}, "Restart delayed again."),  # query terms first
        ((), {"approv": 1.0}, "Regulators approved it."),  # then the criterion's words
    ],
)
def test_best_sentence_explains_the_match(
    terms: tuple[str, ...], profile: dict[str, float], expected: str
) -> None:
    text = "Title here.\nRegulators approved it. Restart delayed again."
    assert best_sentence(text, terms, profile) == expected


def test_best_sentence_is_shortened() -> None:
    snippet = best_sentence("word " * 100, (), {}, limit=20)
    assert len(snippet) <= 20 and snippet.endswith("…")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Quarterly results were published", 0.0),  # no cue
        ("Regulators approve co-location", 0.5),
        ("Regulators restrict, delay or add costs", -2 / 3),
        ("The upgrade did not improve outcomes", -0.5),  # negated progress is a setback
        ("Construction finished without delays", 2 / 3),  # negated setback is progress
        ("Projects report delays and cancellations", -2 / 3),
        ("The plant reached full power ahead of schedule", 0.75),  # reach, ahead, schedule
    ],
)
def test_direction_counts_progress_and_setback_cues(text: str, expected: float) -> None:
    assert direction(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("item", "criterion", "expected"),
    [(0.5, 0.5, 0.25), (0.5, -0.5, -0.25), (0.0, 0.8, 0.0), (-0.6, -0.5, 0.3)],
)
def test_direction_agreement_is_positive_when_both_go_the_same_way(
    item: float, criterion: float, expected: float
) -> None:
    assert direction_agreement(item, criterion) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("agreement", "expected"),
    [(0.0, 0.3), (0.5, 0.3 + 0.1 * 0.5), (-1.0, 0.2), (-9.0, 0.0)],
)
def test_evidence_adds_weighted_direction_agreement(agreement: float, expected: float) -> None:
    settings = ScoringSettings(lexical_weight=0.5, direction_weight=0.1)
    assert evidence_score(0.4, 0.2, settings, agreement) == pytest.approx(expected)
