"""Benchmark: KeywordMatcher against a naive one-regex-per-criterion baseline.

Run ``python benchmarks/bench_keyword.py`` (no network, about half a minute). Options:
``--items N``, ``--queries N``, ``--baseline-items N`` (the baseline runs on a subset of the
items and its rate is reported per item), ``--seed N``, ``--profile`` (cProfile of one warm
matcher pass).

What it generates, from a fixed seed:

* **Vocabulary**: an English-like Zipf-distributed vocabulary (exponent 1.1): about 200
  common English words at the head, then 20,000 generated English-like words (syllable
  strings). Domain words: 3,000 in 30 topics of 100 (each topic's head holds real words of
  energy, AI and markets news, the rest generated), Zipf-distributed within a topic.
* **Items**: one topic each (Zipf over topics), a title of 6-14 words and a summary of 40-60
  words; each word is English with 10 % of the item's topic words and 2 % words of any topic
  mixed in, inflected (``-s``, ``-ed``, ``-ing``, ...) a third of the time; some capitals,
  commas and full stops. Items carry one of 12 sources and 0-2 tags.
* **Queries**: one topic each; 2-4 AND'ed groups of 3-8 OR'ed terms drawn uniformly from
  that topic's words (criteria name specific things, not the topic's commonest words).
  About 15 % of terms are phrases (a topic word and a neighbour word), 20 % prefixes
  (``restart*``), 5 % of queries put one group in ``title:``, 30 % add a ``-term`` NOT, 3 %
  a proximity phrase and 3 % a NEAR. A query matches a fraction of a percent of the items,
  as a criterion does in the daemon.

The baseline compiles, for each criterion, one case-insensitive regular expression per OR
group (a word-boundary alternation; plain words also accept ``s|es|ed|ing`` endings to mimic
stemming; a proximity phrase or NEAR becomes an ordered ``\\W+(?:\\w+\\W+){0,n}`` pattern) and
one for its NOT terms; an item matches when every group's regex is found (title groups in the
title only) and the NOT regex is not. It tries every criterion on every item.

Timing includes building each item's Document. The matcher is timed twice: a first pass
with cold caches (every new word is stemmed once, about 30 us each) and a steady-state pass
with warm caches, which is what a long-running daemon sees (run 3 times: median and best).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import re
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.matching.document import Document
from monitor.matching.keyword import KeywordMatcher
from monitor.rules.query import Query, parse_query
from monitor.types import Item

COMMON = list(
    """
the of and to a in is that for it as was with be by on not he this are or his from at which
but have an they you were her she there been one all we their has would when if so no will
more can who said its about what up out into than them only other new some could time these
two may first then do any like my now over such our man me even most made after also did
many before must through back years where much your way well down should because each just
those people how too little state good very make world still own see men work long get here
between both life being under never day same another know while last might us great old year
off come since against go came right used take three company market report plan deal price
week month quarter group power data growth news cost set high low large small early late
""".split()  # noqa: SIM905 - a word list reads better as text
)

DOMAIN = list(
    """
nuclear reactor restart uprate license relicense hyperscaler datacenter colocation
interconnection transmission utility regulator commission ferc pjm ercot miso grid capacity
offtake contract agreement megawatt gigawatt turbine gas solar storage battery hydrogen
fusion fission uranium enrichment haleu fuel smr microreactor construction permit delay
cancellation overrun budget schedule financing loan bond equity shares earnings revenue
guidance forecast outlook demand load consumption efficiency chip gpu accelerator cluster
compute training inference model benchmark leaderboard evaluation agent autonomous research
experiment ablation productivity workflow adoption enterprise customer developer startup
acquisition merger consolidation exclusivity partnership investment funding valuation layoff
hiring talent openai anthropic deepmind nvidia microsoft amazon google meta oracle
constellation vistra talen nuscale oklo kairos terrapower westinghouse doe nrc tariff
subsidy credit policy legislation lawsuit ruling approval rejection hearing protest backlog
queue outage shortage surplus glut rental pricing premium discount margin inflation rate
yield treasury
""".split()  # noqa: SIM905 - a word list reads better as text
)

SUFFIXES = ("", "", "", "", "", "", "s", "ed", "ing")
SOURCES = [f"wire-{n}" for n in ("reuters", "bloomberg", "ft", "wsj", "axios", "techcrunch")] + [
    "arxiv",
    "epoch-ai",
    "ans-newswire",
    "utility-dive",
    "the-information",
    "semianalysis",
]
TAGS = ("energy", "ai", "markets", "policy", "research", "nuclear")
ZIPF_EXPONENT = 1.1
TOPICS = 30
WORDS_PER_TOPIC = 100
TOPIC_SHARE = 0.10
OTHER_TOPIC_SHARE = 0.02
WARM_RUNS = 3  # warm passes; the median is reported (and the best)


def _pseudo_words(rng: random.Random, count: int, avoid: frozenset[str] = frozenset()) -> list[str]:
    onsets = "b c d f g h j k l m n p r s t v w br cr dr fl gr pl pr st tr th sh ch".split()  # noqa: SIM905
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io"]
    codas = ["", "", "n", "r", "s", "t", "nd", "st", "ng", "l"]
    words: set[str] = set()
    while len(words) < count:
        syllables = rng.choice((1, 2, 2, 3, 3, 4))
        word = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(syllables))
        word += rng.choice(codas)
        if word not in avoid:
            words.add(word)
    return sorted(words)


class Zipf:
    """Draws from ``words`` with probability proportional to 1 / rank ** exponent."""

    def __init__(self, words: Sequence[str], rng: random.Random) -> None:
        self.words = list(words)
        self.cumulative = list(accumulate(1 / (r**ZIPF_EXPONENT) for r in range(1, len(words) + 1)))
        self.rng = rng

    def draw(self, k: int = 1) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cumulative, k=k)


@dataclass
class Corpus:
    items: list[Item]
    queries: list[str]


def _inflect(rng: random.Random, word: str) -> str:
    return word + rng.choice(SUFFIXES)


def _sentence_words(
    rng: random.Random, english: Zipf, topic: Zipf, topics: list[Zipf], count: int
) -> str:
    words = []
    for word in english.draw(count):
        roll = rng.random()
        if roll < TOPIC_SHARE:
            word = _inflect(rng, topic.draw()[0])
        elif roll < TOPIC_SHARE + OTHER_TOPIC_SHARE:
            word = _inflect(rng, rng.choice(topics).draw()[0])
        if rng.random() < 0.05:
            word = word.capitalize()
        words.append(word)
        if rng.random() < 0.08:
            words[-1] += rng.choice((",", ".", ";"))
    return " ".join(words)


def generate(seed: int, n_items: int, n_queries: int) -> Corpus:
    rng = random.Random(seed)
    english_words = COMMON + _pseudo_words(rng, 20_000)
    english = Zipf(english_words, rng)
    real = list(dict.fromkeys(DOMAIN))
    rng.shuffle(real)
    made = _pseudo_words(
        rng, TOPICS * WORDS_PER_TOPIC - len(real), frozenset(english_words) | frozenset(real)
    )
    topics: list[Zipf] = []
    for number in range(TOPICS):
        heads = real[number::TOPICS]
        tail = made[number * WORDS_PER_TOPIC : (number + 1) * WORDS_PER_TOPIC - len(heads)]
        topics.append(Zipf(heads + tail, rng))
    topic_of_item = Zipf([str(n) for n in range(TOPICS)], rng)
    items = []
    for i in range(n_items):
        topic = topics[int(topic_of_item.draw()[0])]
        items.append(
            Item(
                source=rng.choice(SOURCES),
                item_id=f"item-{i}",
                title=_sentence_words(rng, english, topic, topics, rng.randint(6, 14)),
                summary=_sentence_words(rng, english, topic, topics, rng.randint(40, 60)) + ".",
                tags=tuple(rng.sample(TAGS, rng.randint(0, 2))),
            )
        )
    queries = [_query(rng, english, rng.choice(topics)) for _ in range(n_queries)]
    return Corpus(items, queries)


def _term(rng: random.Random, english: Zipf, domain: Zipf) -> str:
    word = rng.choice(domain.words)
    roll = rng.random()
    if roll < 0.15:
        other = english.draw()[0] if rng.random() < 0.5 else rng.choice(domain.words)
        return f'"{word} {other}"' if rng.random() < 0.5 else f'"{other} {word}"'
    if roll < 0.35 and len(word) >= 5:
        return word[: max(4, len(word) - 2)] + "*"
    return _inflect(rng, word) if rng.random() < 0.3 else word


def _query(rng: random.Random, english: Zipf, domain: Zipf) -> str:
    """Criteria name specific things: terms are drawn uniformly from the topic's words."""
    groups = []
    for _ in range(rng.randint(2, 4)):
        terms = list(dict.fromkeys(_term(rng, english, domain) for _ in range(rng.randint(3, 8))))
        groups.append("(" + " OR ".join(terms) + ")")
    if rng.random() < 0.05:
        groups[-1] = "title:" + groups[-1]
    if rng.random() < 0.03:
        a, b = rng.sample(domain.words, 2)
        groups.append(f'"{a} {b}"~{rng.randint(2, 8)}')
    if rng.random() < 0.03:
        a, b = rng.sample(domain.words, 2)
        groups.append(f"{a} NEAR/{rng.randint(3, 10)} {b}")
    text = " AND ".join(groups)
    if rng.random() < 0.3:
        text += " -" + rng.choice(domain.words)
    return text


# -------------------------------------------------------------------------------- baseline

_GROUP_RE = re.compile(r"^(title:)?\((.*)\)$")
_NEAR_RE = re.compile(r"^(\S+) NEAR/(\d+) (\S+)$")
_SLOP_RE = re.compile(r'^"(\S+) (\S+)"~(\d+)$')


def _term_pattern(term: str) -> str:
    if term.startswith('"'):
        return r"\W+".join(re.escape(w) for w in term.strip('"').split())
    if term.endswith("*"):
        return re.escape(term[:-1]) + r"\w*"
    return re.escape(term) + r"(?:s|es|ed|ing)?"


@dataclass
class RegexCriterion:
    title_groups: list[re.Pattern[str]]
    groups: list[re.Pattern[str]]
    negative: re.Pattern[str] | None

    def matches(self, title: str, text: str) -> bool:
        if self.negative is not None and self.negative.search(text):
            return False
        return all(g.search(title) for g in self.title_groups) and all(
            g.search(text) for g in self.groups
        )


def compile_baseline(query: str) -> RegexCriterion:
    """One regex per AND'ed group of a generated query (see the module docstring)."""
    negative = None
    if " -" in query:
        query, banned = query.rsplit(" -", 1)
        negative = re.compile(rf"\b{_term_pattern(banned)}\b", re.IGNORECASE)
    title_groups, groups = [], []
    for part in query.split(" AND "):
        if (near := _NEAR_RE.match(part)) is not None:
            a, n, b = near.groups()
            gap = rf"\W+(?:\w+\W+){{0,{int(n) - 1}}}"
            pattern = rf"\b(?:{a}{gap}{b}|{b}{gap}{a})\b"
        elif (slop := _SLOP_RE.match(part)) is not None:
            a, b, n = slop.groups()
            pattern = rf"\b{a}\W+(?:\w+\W+){{0,{n}}}{b}\b"
        else:
            group = _GROUP_RE.match(part)
            assert group is not None, part
            terms = group[2].split(" OR ")
            pattern = r"\b(?:" + "|".join(_term_pattern(t) for t in terms) + r")\b"
            if group[1]:
                title_groups.append(re.compile(pattern, re.IGNORECASE))
                continue
        groups.append(re.compile(pattern, re.IGNORECASE))
    return RegexCriterion(title_groups, groups, negative)


# ---------------------------------------------------------------------------------- running


def run_matcher(matcher: KeywordMatcher, items: Sequence[Item]) -> tuple[float, int]:
    start = time.perf_counter()
    matches = 0
    for item in items:
        matches += len(matcher.match(Document.from_item(item)))
    return time.perf_counter() - start, matches


def run_baseline(criteria: Sequence[RegexCriterion], items: Sequence[Item]) -> tuple[float, int]:
    start = time.perf_counter()
    matches = 0
    for item in items:
        title, text = item.title, item.text
        matches += sum(1 for c in criteria if c.matches(title, text))
    return time.perf_counter() - start, matches


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--baseline-items", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=20260514)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)

    corpus = generate(args.seed, args.items, args.queries)
    queries: list[Query] = [parse_query(q) for q in corpus.queries]
    started = time.perf_counter()
    matcher = KeywordMatcher(queries)
    built = time.perf_counter() - started
    print(f"{len(corpus.items):,} items, {len(queries):,} queries (seed {args.seed})")
    print(f"KeywordMatcher built in {built * 1000:.0f} ms")

    cold, matches = run_matcher(matcher, corpus.items)
    warm_runs = []
    for _ in range(WARM_RUNS):
        took_warm, again = run_matcher(matcher, corpus.items)
        assert matches == again
        warm_runs.append(took_warm)
    rate = len(corpus.items) / statistics.median(warm_runs)
    best = len(corpus.items) / min(warm_runs)
    print(f"KeywordMatcher, cold caches: {len(corpus.items) / cold:>10,.0f} items/s")
    print(
        f"KeywordMatcher, warm caches: {rate:>10,.0f} items/s  ({matches:,} matches; "
        f"median of {WARM_RUNS} passes, best {best:,.0f})"
    )

    criteria = [compile_baseline(q) for q in corpus.queries]
    subset = corpus.items[: args.baseline_items]
    took, base_matches = run_baseline(criteria, subset)
    base_rate = len(subset) / took
    print(
        f"naive regex baseline:        {base_rate:>10,.0f} items/s  "
        f"(on the first {len(subset):,} items: {base_matches:,} matches)"
    )
    print(f"speed-up (warm / baseline):  {rate / base_rate:>10,.0f}x")

    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        run_matcher(matcher, corpus.items)
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
