"""Brief text -> thesis: the two real briefs, layout variations, and the errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from monitor.briefs import (
    AUTOMATIC_EXAMPLES,
    AUTOMATIC_THRESHOLD,
    brief_examples,
    generated_query,
    parse_brief,
    parse_brief_sections,
    starter_query,
)
from monitor.errors import BriefError
from monitor.rules.query import parse_query
from tests.briefdata import item_text, make_brief, real_brief_paths

EXPECTED: dict[str, dict[str, Any]] = {
    "rosa-del-mar-2026-03-22-issue-81.txt": {
        "id": "rosa-del-mar-81-lossy-self-improvement",
        "title": "Lossy-Self-Improvement Vs Recursive Self-Improvement",
        "date": date(2026, 3, 22),
        "issue": 81,
        "sections": 5,
        "sources": 1,
        "first_kill": "Clear demonstrations that AI systems reliably perform meta AI R and D work",
    },
    "rosa-del-mar-2026-05-14-issue-97.txt": {
        "id": "rosa-del-mar-97-existing-fleet-nuclear",
        "title": "Existing-Fleet Nuclear Vs First-Of-A-Kind SMRs For Data-Center Load",
        "date": date(2026, 5, 14),
        "issue": 97,
        "sections": 5,
        "sources": 2,
        "first_kill": "First-of-a-kind SMR projects hit licensing, construction and cost",
    },
}


def test_both_real_briefs_are_present() -> None:
    assert [p.name for p in real_brief_paths()] == sorted(EXPECTED)


@pytest.mark.parametrize("path", real_brief_paths(), ids=lambda p: p.name)
def test_real_brief_sections_have_the_expected_counts(path: Path) -> None:
    doc = parse_brief_sections(path.read_text(encoding="utf-8"), path.name)
    expected = EXPECTED[path.name]
    assert doc.publisher == "Rosa Del Mar"
    assert doc.issue == expected["issue"]
    assert doc.title == expected["title"]
    assert doc.date == expected["date"]
    assert len(doc.key_takeaways) == 5
    assert len(doc.sections) == expected["sections"]
    assert all(section.bullets for section in doc.sections)
    assert len(doc.unknowns) == 5
    assert (len(doc.read_throughs), len(doc.confirm), len(doc.kill)) == (3, 3, 3)
    assert len(doc.sources) == expected["sources"]
    assert doc.metadata[1] == "General"


@pytest.mark.parametrize("path", real_brief_paths(), ids=lambda p: p.name)
def test_real_brief_becomes_a_thesis_with_ordered_criteria(path: Path) -> None:
    thesis = parse_brief(path.read_text(encoding="utf-8"), str(path))
    expected = EXPECTED[path.name]
    assert thesis.id == expected["id"]
    assert thesis.title == expected["title"]
    assert thesis.date == expected["date"]
    assert thesis.source_brief == path.name
    assert len(thesis.read_throughs) == 3
    assert [c.id for c in thesis.criteria] == [
        "confirm-1",
        "confirm-2",
        "confirm-3",
        "kill-1",
        "kill-2",
        "kill-3",
        *(f"unknown-{n}" for n in range(1, 6)),
    ]
    assert [c.polarity for c in thesis.criteria] == ["confirm"] * 3 + ["kill"] * 3 + ["watch"] * 5
    assert thesis.criterion("kill-1").text.startswith(expected["first_kill"])
    for criterion in thesis.criteria:
        assert parse_query(criterion.query).positive_terms()


def test_thesis_id_is_stable_across_layout_changes() -> None:
    plain = parse_brief(make_brief(), "a.txt")
    varied = parse_brief(make_brief(bullet="-", crlf=True, colon=True, upper=True), "b.txt")
    assert plain.id == varied.id == "rosa-del-mar-12-grid-access"


LAYOUTS = {
    "bullet •": {"bullet": "•"},
    "bullet -": {"bullet": "-"},
    "bullet *": {"bullet": "*"},
    "no bullets": {"bullet": ""},
    "three blank lines": {"blank_lines": 3},
    "no blank lines": {"blank_lines": 0},
    "colons after headings": {"colon": True},
    "upper-case headings": {"upper": True},
    "CRLF": {"crlf": True},
    "one item": {"items": 1},
    "seven items": {"items": 7},
    "wrapped items": {"wrap": True},
    "wrapped, dashes, CRLF, colons": {"wrap": True, "bullet": "-", "crlf": True, "colon": True},
}


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=list(LAYOUTS))
def test_layout_variations_give_the_same_lists(layout: dict[str, Any]) -> None:
    items = layout.get("items", 3)
    doc = parse_brief_sections(make_brief(**layout), "brief.txt")
    assert doc.confirm == tuple(item_text("Confirm", n) for n in range(1, items + 1))
    assert doc.kill == tuple(item_text("Kill", n) for n in range(1, items + 1))
    assert doc.read_throughs == (item_text("Read", 1), item_text("Read", 2))
    assert doc.unknowns == (item_text("Unknown", 1), item_text("Unknown", 2))
    assert [(s.title, len(s.bullets)) for s in doc.sections] == [
        ("First Sub-Heading", 2),
        ("Second Sub-Heading", 1),
    ]
    assert doc.sources == ("2026-01-05 example.org",)
    thesis = parse_brief(make_brief(**layout), "brief.txt")
    scored = [c.id for c in thesis.criteria if c.polarity != "watch"]
    assert scored[-1] == f"kill-{items}"
    assert [c.id for c in thesis.criteria if c.polarity == "watch"] == ["unknown-1", "unknown-2"]


def test_missing_overlay_is_an_error_naming_the_file() -> None:
    with pytest.raises(BriefError) as caught:
        parse_brief(make_brief(overlay=False), "briefs/no-overlay.txt")
    assert caught.value.path == "briefs/no-overlay.txt"
    assert "has no 'Investor overlay' section" in str(caught.value)
    assert "'What would confirm' and 'What would kill'" in str(caught.value)
    assert str(caught.value).startswith("briefs/no-overlay.txt: ")


@pytest.mark.parametrize(
    ("knobs", "named", "not_named"),
    [
        ({"confirm": False}, "'What would confirm'", "'What would kill'"),
        ({"kill": False}, "'What would kill'", "'What would confirm'"),
    ],
)
def test_overlay_without_a_list_names_the_missing_list(
    knobs: dict[str, Any], named: str, not_named: str
) -> None:
    text = make_brief(**knobs)
    with pytest.raises(BriefError) as caught:
        parse_brief(text, "x.txt")
    message = caught.value.message
    assert named in message and not_named not in message
    overlay_line = text.split("\n").index("Investor overlay") + 1
    assert caught.value.line == overlay_line


def test_overlay_missing_both_lists_names_both() -> None:
    with pytest.raises(BriefError, match="'What would confirm' and no 'What would kill'"):
        parse_brief(make_brief(confirm=False, kill=False), "x.txt")


def test_empty_text_is_an_error() -> None:
    with pytest.raises(BriefError, match="no title block"):
        parse_brief("\n\n", "empty.txt")


def test_date_falls_back_to_the_file_name() -> None:
    text = make_brief().replace("Issue 12 2026-01-05", "Issue 12")
    doc = parse_brief_sections(text, "briefs/rosa-2026-02-03-issue-12.txt")
    assert (doc.issue, doc.date) == (12, date(2026, 2, 3))


@pytest.mark.parametrize(
    "sentence",
    [
        "Regulators restrict co-located data-center supply at nuclear plants.",
        "AI labs consolidate.",
        "Prices (for HALEU) rise - sharply; see: 'the cost'!",
        "The and of to.",
        'R&D: 1\u20133% "quoted" (and) OR NOT *',
    ],
)
def test_starter_queries_are_valid_and_use_the_sentence(sentence: str) -> None:
    query = parse_query(starter_query(sentence))
    assert query.positive_terms()


def test_starter_query_groups_long_sentences_into_two_and_groups() -> None:
    query = starter_query(
        "Regulators or grid operators restrict, delay or add costs to co-located data-center "
        "supply at nuclear plants, or interconnection backlogs lengthen the wait for power."
    )
    assert query.startswith("(") and ") AND (" in query
    assert "regulator*" in query


# ---------------------------------------------------------------------------- automatic rules


@pytest.mark.parametrize("path", real_brief_paths(), ids=lambda p: p.name)
def test_automatic_rules_carry_examples_threshold_and_valid_queries(path: Path) -> None:
    thesis = parse_brief(path.read_text(encoding="utf-8"), str(path))
    doc = parse_brief_sections(path.read_text(encoding="utf-8"), str(path))
    context = {
        *doc.key_takeaways,
        *doc.read_throughs,
        *(b for s in doc.sections for b in s.bullets),
    }
    for criterion in thesis.criteria:
        assert parse_query(criterion.query).positive_terms()
        assert criterion.threshold == AUTOMATIC_THRESHOLD
        assert 1 <= len(criterion.examples) <= AUTOMATIC_EXAMPLES
        assert set(criterion.examples) <= context


@pytest.mark.parametrize("path", real_brief_paths(), ids=lambda p: p.name)
def test_unknowns_become_watch_criteria_in_brief_order(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    thesis = parse_brief(text, str(path))
    unknowns = parse_brief_sections(text, str(path)).unknowns
    watch = [c for c in thesis.criteria if c.polarity == "watch"]
    assert [c.id for c in watch] == [f"unknown-{n}" for n in range(1, len(unknowns) + 1)]
    assert [c.text for c in watch] == list(unknowns)


@pytest.mark.parametrize(
    "layout",
    [
        {},
        {"bullet": "-"},
        {"bullet": "*", "colon": True},
        {"upper": True, "crlf": True},
        {"wrap": True, "blank_lines": 2},
        {"bullet": ""},
    ],
    ids=repr,
)
def test_layout_variations_give_watch_criteria_and_valid_queries(layout: dict[str, Any]) -> None:
    thesis = parse_brief(make_brief(**layout), "brief.txt")
    watch = [c for c in thesis.criteria if c.polarity == "watch"]
    assert [c.id for c in watch] == ["unknown-1", "unknown-2"]
    assert watch[0].text == item_text("Unknown", 1)
    for criterion in thesis.criteria:
        assert parse_query(criterion.query).positive_terms()


def test_brief_examples_rank_bullets_by_shared_distinctive_words() -> None:
    context = (
        "Reactor restarts add firm supply for data centers.",
        "Chip efficiency gains reduce cooling demand.",
        "Weather was mild.",
    )
    found = brief_examples("Restarts of closed reactors", context, 2)
    assert found == ("Reactor restarts add firm supply for data centers.",)


def test_generated_query_ors_the_content_words() -> None:
    query = generated_query("Regulators restrict co-located supply")
    assert query == 'regulator* OR restrict OR "co-locat*" OR supply'
    assert parse_query(query).positive_terms()


@pytest.mark.parametrize(
    ("sentence", "rivals", "expected"),
    [
        # words a rival criterion shares (the thesis' topic) are left out of the query
        (
            "Regulators restrict co-located supply at nuclear plants",
            ["Regulators approve co-located supply at nuclear plants"],
            "restrict",
        ),
        # the sentence itself among the rivals does not count as a rival
        (
            "Regulators restrict supply",
            ["Regulators restrict supply", "Regulators approve supply"],
            "restrict",
        ),
        # nothing distinctive: every content word, as without rivals
        (
            "Regulators restrict supply",
            ["Supply restricted by regulators"],
            "regulator* OR restrict OR supply",
        ),
    ],
)
def test_generated_query_keeps_the_distinctive_words(
    sentence: str, rivals: list[str], expected: str
) -> None:
    query = generated_query(sentence, rivals)
    assert query == expected
    assert parse_query(query).positive_terms()


def test_automatic_mirror_criteria_get_different_queries() -> None:
    text = "\n".join(
        [
            "Desk",
            "Issue 5 2026-01-02",
            "Grid Access",
            "Investor overlay",
            "What would confirm",
            "  • Regulators restrict co-located supply at nuclear plants",
            "What would kill",
            "  • Regulators approve co-located supply at nuclear plants",
        ]
    )
    thesis = parse_brief(text, "mirror.txt")
    queries = {c.id: c.query for c in thesis.criteria}
    assert queries["confirm-1"] == "restrict"
    assert queries["kill-1"] == "approve"
