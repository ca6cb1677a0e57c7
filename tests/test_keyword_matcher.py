"""KeywordMatcher: the same answers as evaluating every query, found through its index."""

from __future__ import annotations

import random

import pytest

from monitor.matching.document import Document
from monitor.matching.evaluate import evaluate
from monitor.matching.keyword import KeywordMatcher
from monitor.rules.query import Query, parse_query
from monitor.types import Item

# A small vocabulary with shared stems and prefixes, so that random queries and documents
# collide often: restart/restarts/restarted, deal/deals/dealer, lab/labs/label, ...
WORDS = list(
    """
restart restarts restarted restarting deal deals dealer lab labs label nuclear reactor
reactors compute power grid delay delayed cancel merger merge openai anthropic the a of to
data center centers
""".split()  # noqa: SIM905 - a word list reads better as text
)
PREFIXES = ["restart*", "deal*", "lab*", "react*", "de*", "can*", "cent*", "mer*"]
SOURCES = ["reuters", "arxiv", "energy wire", ""]
TAGS = ["nuclear", "ai", "grid power", "markets"]
FIELDS = ["title:", "summary:", "source:", "tag:"]


def random_term(rng: random.Random, depth: int) -> str:
    roll = rng.random()
    if roll < 0.45:
        term = rng.choice(WORDS)
    elif roll < 0.6:
        term = rng.choice(PREFIXES)
    elif roll < 0.75:
        term = f'"{rng.choice(WORDS)} {rng.choice(WORDS + PREFIXES)}"'
    elif roll < 0.82:
        term = f'"{rng.choice(WORDS)} {rng.choice(WORDS)}"~{rng.randint(0, 4)}'
    elif roll < 0.88:
        term = f"{rng.choice(WORDS)} NEAR/{rng.randint(1, 5)} {rng.choice(WORDS + PREFIXES)}"
    elif depth < 2:
        term = "(" + random_expression(rng, depth + 1) + ")"
    else:
        term = rng.choice(WORDS)
    if rng.random() < 0.2 and not any(mark in term for mark in ("NEAR", "(", ":")):
        term = rng.choice(FIELDS) + term
    return term


def random_expression(rng: random.Random, depth: int = 0) -> str:
    groups = []
    for _ in range(rng.randint(1, 3)):
        terms = [random_term(rng, depth) for _ in range(rng.randint(1, 4))]
        groups.append("(" + " OR ".join(terms) + ")")
    text = " AND ".join(groups)
    if rng.random() < 0.35:
        text += " -" + random_term(rng, 2)
    return text


def random_item(rng: random.Random, number: int) -> Item:
    def words(count: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(count))

    return Item(
        source=rng.choice(SOURCES),
        item_id=str(number),
        title=words(rng.randint(0, 6)),
        summary=words(rng.randint(0, 25)),
        tags=tuple(rng.sample(TAGS, rng.randint(0, 2))),
    )


def evaluate_every_query(queries: list[Query], doc: Document) -> list[tuple[int, tuple[str, ...]]]:
    found = []
    for index, query in enumerate(queries):
        terms = evaluate(query, doc)
        if terms is not None:
            found.append((index, terms))
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_equal_evaluating_every_query(seed: int) -> None:
    rng = random.Random(seed)
    queries = [parse_query(random_expression(rng)) for _ in range(200)]
    matcher = KeywordMatcher(queries)
    matched = 0
    for number in range(200):
        item = random_item(rng, number)
        expected = evaluate_every_query(queries, Document.from_item(item))
        assert matcher.match(Document.from_item(item)) == expected, item
        assert matcher.match_item(item) == expected
        matched += len(expected)
    assert matched > 500  # the property was exercised, not vacuous


def test_only_anchored_candidates_are_evaluated() -> None:
    queries = [parse_query(q) for q in ["restart AND nuclear", "deal* OR merger", "title:lab"]]
    matcher = KeywordMatcher(queries)
    doc = Document.from_text("the grid of the data center")
    assert matcher.hits(doc) == set()
    assert matcher.match(doc) == []


MATCH_CASES = [
    # (text, expected indexes)
    ("Restarted nuclear reactors", [0]),
    ("restart", []),
    ("dealers merge", [1]),
    ("Labs label", [2]),
    ("Restarting a nuclear plant: the merger deal", [0, 1]),
]


@pytest.mark.parametrize(("text", "indexes"), MATCH_CASES, ids=[c[0] for c in MATCH_CASES])
def test_match_returns_indexes_and_terms(text: str, indexes: list[int]) -> None:
    queries = [parse_query(q) for q in ["restart AND nuclear", "deal* OR merger", "lab -title:x"]]
    found = KeywordMatcher(queries).match(Document.from_text(text))
    assert [index for index, _ in found] == indexes
    for index, terms in found:
        assert terms == evaluate(queries[index], Document.from_text(text))


def test_source_and_tag_fields_are_indexed_separately() -> None:
    queries = [parse_query(q) for q in ["source:reuters", "tag:nuclear", "reuters"]]
    matcher = KeywordMatcher(queries)
    item = Item(source="Reuters", item_id="1", title="x", tags=("Nuclear",))
    assert matcher.match_item(item) == [(0, ("reuters",)), (1, ("nuclear",))]


def test_an_empty_matcher_matches_nothing() -> None:
    assert KeywordMatcher([]).match(Document.from_text("anything")) == []
