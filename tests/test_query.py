"""The query language: parsing (every feature, every error and its offset) and evaluation."""

from __future__ import annotations

import pytest

from monitor.errors import QuerySyntaxError, RuleError
from monitor.matching.text import Document, tokenize
from monitor.rules.query import Word, parse_query

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
    ("lab", None),
    ("labs", ("labs",)),
    ("LABS", ("LABS",)),
    ("label", ("label",)),
    ("lab*", ("lab*",)),
    ("consolidat*", ("consolidat*",)),
    ("consolidation", None),
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
    assert parsed.evaluate(doc) == terms
    assert parsed.matches(doc) is (terms is not None)


def test_phrase_needs_consecutive_tokens_across_the_whole_text() -> None:
    doc = Document.from_text("merge talks\nlabs merge")
    assert parse_query('"labs merge"').evaluate(doc) == ("labs merge",)
    assert parse_query('"talks labs"').evaluate(doc) == ("talks labs",)
    assert parse_query('"merge talks labs merge"').evaluate(doc) is not None
    assert parse_query('"labs merge talks"').evaluate(doc) is None


def test_empty_document_matches_nothing() -> None:
    assert parse_query("a OR bc*").evaluate(Document.from_text("")) is None


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
            if query.matches(doc):
                assert any(parse_query(str(t)).matches(doc) for t in query.positive_terms()), (
                    text,
                    doc_text,
                )
