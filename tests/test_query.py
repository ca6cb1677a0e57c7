"""The query language: parsing (every feature, every error and its offset) and evaluation."""

from __future__ import annotations

import pytest

from monitor.errors import QuerySyntaxError, RuleError
from monitor.matching.document import Document, within_slop
from monitor.matching.evaluate import evaluate, query_matches
from monitor.rules.query import Word, expand_groups, parse_group_entry, parse_query
from monitor.text import stem, tokenize
from monitor.types import Item

# ------------------------------------------------------------------------------ tokenisation


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("AI-driven post-training", ["ai", "driven", "post", "training"]),
        ("R&D at 1\u20133%", ["r", "d", "at", "1", "3"]),
        ("DeepSeek's snake_case", ["deepseek", "s", "snake", "case"]),
        ("Zürich ÉCOLE straße", ["zürich", "école", "strasse"]),
        ("\uff26\uff55\uff4c\uff4c", ["full"]),
        ("", []),
    ],
)
def test_tokenize_splits_on_non_alphanumerics_and_folds_case(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


def test_document_keeps_positions_and_finds_prefixes() -> None:
    doc = Document.from_text("Labs label the lab; labs merge")
    assert doc.positions["labs"] == (0, 4)
    assert list(doc.tokens_with_prefix("lab")) == ["lab", "label", "labs"]
    assert doc.has_prefix("mer") and not doc.has_prefix("zz")


# ----------------------------------------------------------------------------------- parsing

PARSES = [
    ("lab", "lab"),
    ("LAB", "lab"),
    ('"field experiment"', '"field experiment"'),
    ("consolidat*", "consolidat*"),
    ('"post-train* regression*"', '"post train* regression*"'),
    ("AI-driven", '"ai driven"'),
    ("a AND b", "a AND b"),
    ("a b", "a AND b"),
    ("a OR b", "a OR b"),
    ("a and b", "a AND and AND b"),
    ("a or not b", "a AND or AND not AND b"),
    ("a NOT b", "a AND NOT b"),
    ("a -b", "a AND NOT b"),
    ('a -"b c"', 'a AND NOT "b c"'),
    ("a -(b OR c)", "a AND NOT (b OR c)"),
    ("a OR b c", "a OR (b AND c)"),
    ("a b OR c", "(a AND b) OR c"),
    ("(a OR b) c", "(a OR b) AND c"),
    ("a OR NOT b c", "a OR (NOT b AND c)"),
    ("((a))", "a"),
    ('x"y"', "x AND y"),
    ("a NOT NOT b", "a AND NOT NOT b"),
    ("  spaced\tout\n", "spaced AND out"),
]


@pytest.mark.parametrize(("text", "canonical"), PARSES, ids=[p[0] for p in PARSES])
def test_parse_gives_the_canonical_form(text: str, canonical: str) -> None:
    assert str(parse_query(text)) == canonical


ERRORS = [
    ("", 0, "empty query"),
    ("   ", 0, "empty query"),
    ("(a OR b", 0, "'(' is never closed"),
    ("a AND (b", 6, "'(' is never closed"),
    ("(", 0, "'(' is never closed"),
    ("a)", 1, "')' has no matching '('"),
    (")", 0, "')' has no matching '('"),
    ("()", 0, "empty parentheses"),
    ("a AND", 2, "'AND' has no term after it"),
    ("a OR", 2, "'OR' has no term after it"),
    ("a NOT", 2, "'NOT' has no term after it"),
    ("(a OR)", 3, "'OR' has no term after it"),
    ("AND a", 0, "cannot start with 'AND'"),
    ("OR a", 0, "cannot start with 'OR'"),
    ("a OR OR b", 5, "'OR' cannot follow 'OR'"),
    ("a AND OR b", 6, "'OR' cannot follow 'AND'"),
    ("(AND a)", 1, "'AND' cannot follow '('"),
    ('""', 0, "empty phrase"),
    ('a "  "', 2, "empty phrase"),
    ('a "b', 2, "unterminated phrase"),
    ("*", 0, "lone '*'"),
    ("a *", 2, "lone '*'"),
    ('"a *"', 3, "lone '*'"),
    ("co*st", 2, "only allowed at the end of a word"),
    ("ab**", 2, "only allowed at the end of a word"),
    ("a-*", 2, "must directly follow a letter or digit"),
    ("a*", 0, "too short"),
    ("&&", 0, "no letters or digits"),
    ('"- -"', 1, "no letters or digits"),
    ("- a", 0, "'-' must be followed directly"),
    ("a -", 2, "'-' must be followed directly"),
    ("(a -)", 3, "'-' must be followed directly"),
    ("NOT a", 0, "cannot match on NOT alone"),
    ("-a -b", 0, "cannot match on NOT alone"),
    ("a OR -b", 5, "cannot match on NOT alone"),
    ("a OR (NOT b NOT c)", 6, "cannot match on NOT alone"),
]


@pytest.mark.parametrize(("text", "position", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_syntax_errors_carry_their_offset(text: str, position: int, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(text)
    assert caught.value.position == position
    assert caught.value.query == text
    assert message in str(caught.value)
    assert f"at column {position + 1}" in str(caught.value)


def test_syntax_error_is_a_rule_error() -> None:
    with pytest.raises(RuleError):
        parse_query("(")


# -------------------------------------------------------------------------------- evaluation

TEXT = (
    "Frontier AI-driven labs are consolidating: a field experiment found large gains.\n"
    "The label says R&D spending rose; Labs merge."
)

EVALUATIONS = [
    ("lab", ("lab",)),  # stemmed: lab = labs
    ("labs", ("labs",)),
    ("LABS", ("LABS",)),
    ("label", ("label",)),
    ("lab*", ("lab*",)),
    ("consolidat*", ("consolidat*",)),
    ("consolidation", ("consolidation",)),  # stem consolid, as consolidating
    ("consolidation*", None),  # wildcards compare raw words
    ('"field experiment"', ("field experiment",)),
    ('"experiment field"', None),
    ('"field  EXPERIMENT"', ("field EXPERIMENT",)),
    ('"fi* exp*"', ("fi* exp*",)),
    ('"large gain*"', ("large gain*",)),
    ('"gains the"', ("gains the",)),
    ("AI-driven", ("AI-driven",)),
    ('"ai driven"', ("ai driven",)),
    ("AI", ("AI",)),
    ("driven", ("driven",)),
    ("R&D", ("R&D",)),
    ("labs AND merge", ("labs", "merge")),
    ("labs merge", ("labs", "merge")),
    ("labs AND missing", None),
    ("missing OR labs OR merge", ("labs", "merge")),
    ("labs NOT merge", None),
    ("labs -missing", ("labs",)),
    ("labs -(missing OR merge)", None),
    ("(labs OR merge) AND (rose OR fell)", ("labs", "merge", "rose")),
    ("merge OR labs OR merge OR labs", ("merge", "labs")),
    ("(labs missing) OR merge", ("merge",)),
    ("labs OR -missing AND rose", ("labs", "rose")),
    ("and", None),
]


@pytest.mark.parametrize(("query", "terms"), EVALUATIONS, ids=[e[0] for e in EVALUATIONS])
def test_evaluate_returns_matched_terms_or_none(query: str, terms: tuple[str, ...] | None) -> None:
    doc = Document.from_text(TEXT)
    parsed = parse_query(query)
    assert evaluate(parsed, doc) == terms
    assert query_matches(parsed, doc) is (terms is not None)


def test_phrase_needs_consecutive_tokens_across_the_whole_text() -> None:
    doc = Document.from_text("merge talks\nlabs merge")
    assert evaluate(parse_query('"labs merge"'), doc) == ("labs merge",)
    assert evaluate(parse_query('"talks labs"'), doc) == ("talks labs",)
    assert evaluate(parse_query('"merge talks labs merge"'), doc) is not None
    assert evaluate(parse_query('"labs merge talks"'), doc) is None


def test_empty_document_matches_nothing() -> None:
    assert evaluate(parse_query("a OR bc*"), Document.from_text("")) is None


def test_positive_terms_skip_negations_and_duplicates() -> None:
    query = parse_query('(smr OR "small modular") AND delay* -cancel* NOT (x OR y) OR smr')
    assert [t.text for t in query.positive_terms()] == ["smr", "small modular", "delay*"]
    assert query.positive_terms()[2].words == (Word("delay", prefix=True),)


def test_a_matching_document_always_contains_a_positive_term() -> None:
    queries = ["a -b", "(a OR b) NOT c", "a OR (b -c)", "a (b OR NOT c)"]
    docs = ["a", "b", "c", "a b c", "a c", "b c", ""]
    for text in queries:
        query = parse_query(text)
        for doc_text in docs:
            doc = Document.from_text(doc_text)
            if query_matches(query, doc):
                assert any(
                    query_matches(parse_query(str(t)), doc) for t in query.positive_terms()
                ), (
                    text,
                    doc_text,
                )


# ---------------------------------------------------------------------------------- stemming

STEMMING = [
    # (query, text, matches)
    ("consolidating", "a wave of consolidation", True),
    ("consolidation", "labs are consolidating", True),
    ("restart", "the unit restarts in May", True),
    ("restart", "Palisades restarted", True),
    ("restarted", "plans to restart", True),
    ("restart*", "Palisades restarted", True),
    ("restarted*", "plans to restart", False),  # raw prefix: restart is shorter
    ("consolidat*", "consolidation", True),
    ("label", "labs", False),
    ("lab", "label", False),
    ('"restart the reactors"', "They restarted the reactor", True),
    ('"reactors restart"', "They restarted the reactor", False),
    ('"power deals"', "signed a power deal", True),
    ('"power deal*"', "signed a power dealer", True),
    ("news", "new", False),
]


@pytest.mark.parametrize(
    ("query", "text", "matches"), STEMMING, ids=[f"{q} ~ {t}" for q, t, _ in STEMMING]
)
def test_plain_words_and_phrases_match_by_stem_wildcards_by_raw_word(
    query: str, text: str, matches: bool
) -> None:
    assert query_matches(parse_query(query), Document.from_text(text)) is matches


def test_stems_are_cached_and_documents_align_them() -> None:
    assert stem("consolidating") == stem("consolidation") == "consolid"
    doc = Document.from_text("Restarts restarted")
    assert doc.stems == ("restart", "restart")
    assert doc.stem_positions["restart"] == (0, 1)


# ------------------------------------------------------------------------ fields, proximity

ITEM = Item(
    source="Reuters Energy",
    item_id="1",
    title="Constellation restarts Crane reactor",
    summary="Microsoft signs a compute power deal. The deal covers 20 years.",
    tags=("Nuclear power", "AI"),
)

FIELD_CASES = [
    ("title:restart", True),
    ("title:microsoft", False),
    ("summary:microsoft", True),
    ("summary:restart", False),
    ("microsoft restart", True),  # bare terms search title + summary
    ('title:"crane reactor"', True),
    ('title:"reactor microsoft"', False),  # a phrase never spans two fields
    ('"reactor microsoft"', True),  # ... but the body is one text, as item.text
    ("title:(microsoft OR crane)", True),
    ("title:(microsoft OR deal)", False),
    ("title:(restart -microsoft)", True),
    ("source:reuters", True),
    ('source:"reuters energy"', True),
    ("source:arxiv", False),
    ("tag:nuclear", True),
    ('tag:"nuclear power"', True),
    ('tag:"power ai"', False),  # nor two tags
    ("tag:ai", True),
    ("tag:energy", False),
    ("TITLE:restart", True),
    ("-title:microsoft restart", True),
    ("title:rest*", True),
    ("summary:rest*", False),
]


@pytest.mark.parametrize(("query", "matches"), FIELD_CASES, ids=[c[0] for c in FIELD_CASES])
def test_field_queries_look_only_at_their_field(query: str, matches: bool) -> None:
    assert query_matches(parse_query(query), Document.from_item(ITEM)) is matches


def test_from_text_documents_are_all_summary() -> None:
    doc = Document.from_text("Constellation restarts Crane")
    assert query_matches(parse_query("summary:crane"), doc)
    assert not query_matches(parse_query("title:crane"), doc)
    assert not query_matches(parse_query("source:x OR tag:y OR title:crane"), doc)


def test_from_item_body_is_the_item_text() -> None:
    assert Document.from_item(ITEM).tokens == Document.from_text(ITEM.text).tokens


PROXIMITY = [
    # (query, text, matches)
    ('"compute deal"~0', "compute deal", True),
    ('"compute deal"~0', "compute power deal", False),
    ('"compute deal"~1', "compute power deal", True),
    ('"compute deal"~5', "compute a b c d e deal", True),  # five words between
    ('"compute deal"~5', "compute a b c d e f deal", False),
    ('"compute deal"~1', "deal compute", False),  # reversed costs 2
    ('"compute deal"~2', "deal compute", True),
    ('"compute deal"~3', "deal x compute", True),
    ('"compute deal"~2', "deal x compute", False),
    ('"a b c"~2', "c b a", False),  # b stays, a and c move 2 each: span 4
    ('"a b c"~4', "c b a", True),
    ('"deal deal"~1', "deal", False),  # one occurrence cannot serve twice
    ('"deal deal"~1', "deal x deal", True),
    ('"comput* deal"~3', "computing a deal", True),
    ('"restart reactor"~2', "restarted the reactors", True),
    ('"compute"~3', "compute", True),  # one word: slop is irrelevant
    ("compute NEAR deal", "compute " + "x " * 9 + "deal", True),  # default 10
    ("compute NEAR deal", "compute " + "x " * 10 + "deal", False),
    ("compute NEAR/1 deal", "deal compute", True),  # any order; adjacent words are 1 apart
    ("compute NEAR/1 deal", "deal x compute", False),
    ("compute NEAR/2 deal", "deal x compute", True),
    ('"power deal" NEAR/2 microsoft', "microsoft signs power deal", True),  # nearer ends
    ('"power deal" NEAR/1 microsoft', "microsoft signs power deal", False),
    ("deal NEAR/3 deal", "a deal", False),  # operands must not overlap
    ("deal NEAR/3 deal", "deal or deal", True),
    ('deal NEAR/3 "deal terms"', "deal terms", False),
    ("(openai OR anthropic) NEAR/2 deal", "anthropic deal", True),
    ("(openai OR anthropic) NEAR/2 deal", "anthropic x y deal", False),
]


@pytest.mark.parametrize(
    ("query", "text", "matches"), PROXIMITY, ids=[f"{q} ~ {t}" for q, t, _ in PROXIMITY]
)
def test_proximity_and_near(query: str, text: str, matches: bool) -> None:
    assert query_matches(parse_query(query), Document.from_text(text)) is matches


def test_within_slop_is_lucene_match_length() -> None:
    assert within_slop([[0], [1]], 0)
    assert not within_slop([[1], [0]], 1)
    assert within_slop([[1], [0]], 2)
    assert not within_slop([[3], [3]], 10)  # the same position cannot serve two words


def test_near_and_proximity_report_what_met() -> None:
    doc = Document.from_text("OpenAI signs a compute deal; Anthropic too")
    query = parse_query('(openai OR anthropic) NEAR/4 deal AND "compute deal"~1')
    assert evaluate(query, doc) == ("openai NEAR/4 deal", "anthropic NEAR/4 deal", "compute deal~1")


NEW_PARSES = [
    ("title:word", "title:word"),
    ('summary:"a phrase"', 'summary:"a phrase"'),
    ("title:(a OR b) c", "(title:a OR title:b) AND c"),
    ("-source:x y", "NOT source:x AND y"),
    ('"a b"~5', '"a b"~5'),
    ('"a"~5', "a"),
    ('"a b"~0', '"a b"'),
    ("a NEAR b", "a NEAR/10 b"),
    ("a NEAR/3 b c", "(a NEAR/3 b) AND c"),
    ("NOT a NEAR b c", "NOT (a NEAR/10 b) AND c"),
    ('(a OR b) NEAR/2 "c d"', '(a OR b) NEAR/2 "c d"'),
    ("title:(a NEAR b)", "title:a NEAR/10 title:b"),
    ("a near b", "a AND near AND b"),
    ("10:30", '"10 30"'),
    ("$100M", "100m"),
    ("Title2:x", '"title2 x"'),
]


@pytest.mark.parametrize(("text", "canonical"), NEW_PARSES, ids=[p[0] for p in NEW_PARSES])
def test_new_syntax_canonical_forms(text: str, canonical: str) -> None:
    assert str(parse_query(text)) == canonical
    assert str(parse_query(canonical)) == canonical


NEW_ERRORS = [
    ("colour:red", 0, "unknown field 'colour'"),
    ("a http://x", 2, "unknown field 'http'"),
    ("title: x", 0, "'title:' must be followed directly"),
    ("a title:", 2, "'title:' must be followed directly"),
    ("title:-x", 0, "'title:' must be followed directly"),
    ("title:NOT x", 0, "'title:' must be followed directly"),
    ("title:(summary:x)", 7, "field 'summary:' inside field 'title:'"),
    ('"a b"~', 5, "needs a number of positions"),
    ('"a b"~x', 5, "needs a number of positions"),
    ('"a b"~5x', 7, "followed by a space"),
    ("word~2", 4, "fuzzy terms"),
    ("a NEAR", 2, "'NEAR' has no term after it"),
    ("NEAR a", 0, "cannot start with 'NEAR'"),
    ("a NEAR/0 b", 2, "at least 1"),
    ("a NEAR/ b", 2, "at least 1"),
    ("a NEAR b NEAR c", 9, "chain it with AND"),
    ("(a NEAR b NEAR c)", 10, "chain it with AND"),
    ("a NEAR (b AND c)", 8, "a NEAR operand must be"),
    ("(a -b) NEAR c", 1, "a NEAR operand must be"),
    ('a NEAR "b c"~2', 7, "cannot be a NEAR operand"),
    ("title:a NEAR b", 8, "same field"),
    ("a NEAR -b", 7, "'-' cannot follow 'NEAR'"),
    ("$labs", 0, "undefined group $labs"),
    ("a OR $AAPL", 5, "drop the $"),
    ("$frontier-labs", 9, "a group name is letters"),
    ("NOT $x", 4, "undefined group"),
]


@pytest.mark.parametrize(
    ("text", "position", "message"), NEW_ERRORS, ids=[e[0] for e in NEW_ERRORS]
)
def test_new_syntax_errors_carry_their_offset(text: str, position: int, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(text)
    assert caught.value.position == position
    assert message in str(caught.value)


# ------------------------------------------------------------------------------------ groups

GROUPS = {
    "labs": ["OpenAI", "Anthropic", "Google DeepMind"],
    "deals": ['"compute deal"~3', "offtake*"],
    "one": ["solo"],
}

GROUP_CASES = [
    ("$labs", 'openai OR anthropic OR "google deepmind"'),
    ("$one x", "solo AND x"),
    ("title:$labs", 'title:openai OR title:anthropic OR title:"google deepmind"'),
    ("-$one x", "NOT solo AND x"),
    ("$labs NEAR/5 $one", '(openai OR anthropic OR "google deepmind") NEAR/5 solo'),
    (
        "$labs AND $deals",
        '(openai OR anthropic OR "google deepmind") AND ("compute deal"~3 OR offtake*)',
    ),
    ('"$labs"', "labs"),  # inside a phrase, $ is not a group
]


@pytest.mark.parametrize(("text", "canonical"), GROUP_CASES, ids=[g[0] for g in GROUP_CASES])
def test_groups_expand_to_an_or_of_their_entries(text: str, canonical: str) -> None:
    assert str(parse_query(text, GROUPS)) == canonical
    expanded = expand_groups(text, GROUPS)
    assert "$" not in expanded.replace('"$labs"', "")
    assert str(parse_query(expanded)) == canonical


def test_group_matches_report_the_entries_that_matched() -> None:
    doc = Document.from_text("Google DeepMind and OpenAI sign a compute power deal")
    assert evaluate(parse_query("$labs $deals", GROUPS), doc) == (
        "OpenAI",
        "Google DeepMind",
        "compute deal~3",
    )


GROUP_ENTRY_ERRORS = [
    # (entry, position in the entry, message)
    ("", 0, "empty group entry"),
    ("   ", 0, "empty group entry"),
    ("a*b", 1, "only allowed at the end"),
    ("Google Deep*Mind", 11, "only allowed at the end"),
    ('"a" "b"', 0, "one word, phrase or wildcard"),
    ("-a", 0, "one word, phrase or wildcard"),
    ("title:a", 0, "cannot name a field"),
    ("$other", 0, "cannot use another group"),
    ('"a', 0, "unterminated phrase"),
    ("x*", 0, "too short"),
]


@pytest.mark.parametrize(
    ("entry", "position", "message"),
    GROUP_ENTRY_ERRORS,
    ids=[e[0] or "empty" for e in GROUP_ENTRY_ERRORS],
)
def test_group_entry_errors_point_into_the_entry(entry: str, position: int, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_group_entry(entry)
    assert caught.value.query == entry
    assert caught.value.position == position
    assert message in str(caught.value)


def test_group_entries_with_spaces_are_phrases() -> None:
    assert str(parse_group_entry("Google  DeepMind")) == '"google deepmind"'
    assert str(parse_group_entry("a OR b")) == '"a or b"'
    assert str(parse_group_entry('"compute deal"~3')) == '"compute deal"~3'
    assert str(parse_group_entry("consolidat*")) == "consolidat*"


def test_a_bad_group_entry_is_reported_at_the_reference() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query("x AND $bad", {"bad": ["ok", "a*b"]})
    assert caught.value.position == 6
    assert "group $bad, entry 2" in str(caught.value)
    with pytest.raises(QuerySyntaxError, match="has no entries"):
        parse_query("$empty", {"empty": []})


def test_positive_count_counts_distinct_positive_terms() -> None:
    query = parse_query("(a OR b OR a) AND title:a AND NOT c AND x NEAR y")
    assert query.positive_count == 5
    assert [str(t) for t in query.positive_terms()] == ["a", "b", "title:a", "x", "y"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(" * 40 + "a" + ")" * 40, "nest deeper than 32"),
        ("NOT " * 2000 + "a b", "nested too deeply|NOT alone"),
    ],
)
def test_pathologically_nested_queries_are_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError, match=message):
        parse_query(text)
