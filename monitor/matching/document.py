"""Text tokenised once, for fast keyword-query evaluation (pure).

Decisions:

* Tokens and stems are those of :mod:`monitor.text` (:func:`~monitor.text.tokenize`,
  :func:`~monitor.text.stem`): queries are tokenised and stemmed with the same functions, so a
  query word and a document word meet exactly when their tokens (or stems) are equal.
* **Fields:** :meth:`Document.from_item` keeps title and summary as one token sequence (the
  *body*, title first, exactly the tokens of ``item.text``) plus ``title_end``, so the ``title``
  and ``summary`` fields are position ranges of the body and cost nothing to build. ``source``
  and each tag become small documents of their own, built on first use.
  :meth:`Document.from_text` makes a body-only document: its title is empty.
* Everything beyond the tokens (stems, positions, the sorted vocabulary, field documents) is a
  lazily computed attribute: a matcher that only needs the token set pays for nothing else.
  No regular expression runs during evaluation (:mod:`monitor.matching.evaluate`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from heapq import merge

from monitor.text import stem_all, tokenize
from monitor.types import Item


def _positions_of(tokens: Sequence[str], token: str) -> tuple[int, ...]:
    """The ascending positions of ``token`` in ``tokens`` (``tuple.index`` runs in C)."""
    found: list[int] = []
    index = -1
    try:
        while True:
            index = tokens.index(token, index + 1)
            found.append(index)
    except ValueError:
        return tuple(found)


def _positions(tokens: Sequence[str]) -> dict[str, tuple[int, ...]]:
    found: dict[str, list[int]] = {}
    for index, token in enumerate(tokens):
        places = found.get(token)
        if places is None:
            found[token] = [index]
        else:
            places.append(index)
    return {token: tuple(places) for token, places in found.items()}


@dataclass(frozen=True, eq=False)
class Document:
    """A text prepared for query evaluation. Build it with :meth:`from_text` or
    :meth:`from_item`. ``tokens[:title_end]`` is the title, the rest the summary."""

    tokens: tuple[str, ...]
    title_end: int = 0
    source: str = ""
    tags: tuple[str, ...] = ()

    @classmethod
    def from_text(cls, text: str) -> Document:
        return cls(tuple(tokenize(text)))

    @classmethod
    def from_item(cls, item: Item) -> Document:
        """Title + summary as the body (the tokens of ``item.text``), source and tags as fields."""
        title = tokenize(item.title)
        tokens = tuple(title + tokenize(item.summary)) if item.summary else tuple(title)
        return cls(tokens, len(title), item.source, item.tags)

    # ------------------------------------------------------------------ lazily computed views

    @cached_property
    def token_set(self) -> frozenset[str]:
        return frozenset(self.tokens)

    @cached_property
    def stems(self) -> tuple[str, ...]:
        """The stem of every token, aligned with :attr:`tokens`."""
        return tuple(stem_all(self.tokens))

    @cached_property
    def stem_set(self) -> frozenset[str]:
        return frozenset(stem_all(self.token_set))

    @cached_property
    def positions(self) -> Mapping[str, tuple[int, ...]]:
        """token -> its positions in :attr:`tokens`, ascending."""
        return _positions(self.tokens)

    @cached_property
    def stem_positions(self) -> Mapping[str, tuple[int, ...]]:
        """stem -> the positions of the tokens with that stem, ascending."""
        return _positions(self.stems)

    @cached_property
    def _stem_places(self) -> dict[str, tuple[int, ...]]:
        """stem -> positions, filled one stem at a time by :meth:`stem_places`."""
        return {}

    def stem_places(self, key: str) -> tuple[int, ...]:
        """Like ``stem_positions.get(key, ())`` without building the whole map: a query
        usually asks a document for the positions of one or two stems."""
        places = self._stem_places.get(key)
        if places is None:
            places = self._stem_places[key] = _positions_of(self.stems, key)
        return places

    @cached_property
    def vocabulary(self) -> tuple[str, ...]:
        """Sorted distinct tokens, for prefix lookups."""
        return tuple(sorted(self.token_set))

    @cached_property
    def source_document(self) -> Document | None:
        return Document.from_text(self.source) if self.source else None

    @cached_property
    def tag_documents(self) -> tuple[Document, ...]:
        return tuple(Document.from_text(tag) for tag in self.tags)

    # ----------------------------------------------------------------------------- lookups

    def has_token(self, token: str) -> bool:
        return token in self.token_set

    def tokens_with_prefix(self, prefix: str) -> Iterator[str]:
        """Every distinct token of the document that starts with ``prefix``."""
        vocabulary = self.vocabulary
        index = bisect_left(vocabulary, prefix)
        while index < len(vocabulary) and vocabulary[index].startswith(prefix):
            yield vocabulary[index]
            index += 1

    def has_prefix(self, prefix: str) -> bool:
        return next(self.tokens_with_prefix(prefix), None) is not None

    def word_positions(self, key: str, prefix: bool) -> Sequence[int]:
        """Ascending positions of a query word: tokens starting with ``key`` when ``prefix``,
        else tokens whose stem is ``key``."""
        if not prefix:
            return self.stem_places(key)
        lists = [_positions_of(self.tokens, token) for token in self.tokens_with_prefix(key)]
        if len(lists) <= 1:
            return lists[0] if lists else ()
        return list(merge(*lists))

    def spans(self, words: Sequence[tuple[str, bool]], lo: int, hi: int) -> list[tuple[int, int]]:
        """``(first, last)`` positions of every occurrence of the consecutive ``words``
        (``(key, prefix)`` pairs, see :meth:`word_positions`) inside ``[lo, hi)``."""
        first = _within(self.word_positions(*words[0]), lo, hi - len(words) + 1)
        if len(words) == 1 or not first:
            return [(p, p) for p in first]
        rest = [set(self.word_positions(*word)) for word in words[1:]]
        return [
            (start, start + len(rest))
            for start in first
            if all(start + offset in places for offset, places in enumerate(rest, 1))
        ]

    def has_words(self, words: Sequence[tuple[str, bool]], lo: int, hi: int, slop: int = 0) -> bool:
        """True when ``words`` occur inside ``[lo, hi)``: consecutive and in order when
        ``slop`` is 0, else within Lucene's phrase slop (see :func:`within_slop`)."""
        if slop == 0 or len(words) == 1:
            return bool(self.spans(words, lo, hi))
        lists = [_within(self.word_positions(*word), lo, hi) for word in words]
        return all(lists) and within_slop(lists, slop)


def _within(positions: Sequence[int], lo: int, hi: int) -> Sequence[int]:
    """The ascending ``positions`` that lie in ``[lo, hi)``."""
    if not positions or (positions[0] >= lo and positions[-1] < hi):
        return positions
    return positions[bisect_left(positions, lo) : bisect_left(positions, hi)]


def within_slop(lists: Sequence[Sequence[int]], slop: int) -> bool:
    """Lucene's sloppy phrase test: pick one position ``p_i`` per phrase word ``i`` (all
    distinct) so that ``max(p_i - i) - min(p_i - i) <= slop``.

    So the exact phrase needs 0, one extra word anywhere inside needs 1, two adjacent words
    swapped need 2. A depth-first search, fewest occurrences first, pruned on the slop; a
    document has few occurrences of each word, so it stays small.
    """
    order = sorted(range(len(lists)), key=lambda i: len(lists[i]))
    used: set[int] = set()

    def search(depth: int, low: int, high: int) -> bool:
        if depth == len(order):
            return True
        word = order[depth]
        for position in lists[word]:
            value = position - word
            new_low, new_high = min(low, value), max(high, value)
            if new_high - new_low > slop or position in used:
                continue
            used.add(position)
            if search(depth + 1, new_low, new_high):
                return True
            used.discard(position)
        return False

    first = order[0]
    for position in lists[first]:
        used.add(position)
        if search(1, position - first, position - first):
            return True
        used.discard(position)
    return False


def spans_near(
    left: Sequence[tuple[int, int]], right: Sequence[tuple[int, int]], distance: int
) -> bool:
    """True when a left span and a right span do not overlap and the gap between the nearer
    ends is at most ``distance`` positions (adjacent words are 1 apart), in either order."""
    for left_first, left_last in left:
        for right_first, right_last in right:
            if left_last < right_first:
                gap = right_first - left_last
            elif right_last < left_first:
                gap = left_first - right_last
            else:
                continue
            if gap <= distance:
                return True
    return False
