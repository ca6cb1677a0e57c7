"""Story dedupe (pure): is a new item the same story as one seen recently?

Two items are the same story when their titles share most content words (Jaccard ≥ 0.6 over
title words of three letters or more, minus stop words, at least four such words each) or
their title+summary texts share most word 3-shingles (Jaccard ≥ 0.5). Wire copies, syndicated
posts and lightly edited rewrites pass; two different stories about the same company do not.
Titles that both carry numbers must carry the same ones ("Daily Energy Brief: May 12" and
"…: May 13" are two stories). The pipeline looks back ``STORY_WINDOW`` (3 days of
first-seen items).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta

from monitor.types import Item, StoredItem

STORY_WINDOW = timedelta(days=3)
TITLE_JACCARD = 0.6
TEXT_JACCARD = 0.5
MIN_TITLE_WORDS = 4
_WORD = re.compile(r"[^\W_]+")
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "from",
        "that",
        "this",
        "into",
        "over",
        "after",
        "about",
        "than",
        "its",
        "are",
        "was",
        "were",
        "will",
        "has",
        "have",
        "new",
        "says",
        "said",
        "say",
        "how",
        "why",
        "what",
        "when",
        "who",
        "can",
        "could",
        "would",
        "not",
        "but",
        "all",
        "more",
    ]
)


def title_words(item: Item) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(item.title.lower()) if len(w) >= 3 and w not in _STOP)


def shingles(item: Item, n: int = 3) -> frozenset[tuple[str, ...]]:
    words = _WORD.findall(item.text.lower())
    return frozenset(tuple(words[i : i + n]) for i in range(max(0, len(words) - n + 1)))


def jaccard(a: frozenset[object], b: frozenset[object]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def title_numbers(item: Item) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(item.title) if w.isdigit())


def same_story(a: Item, b: Item) -> bool:
    na, nb = title_numbers(a), title_numbers(b)
    if na and nb and na != nb:
        return False  # another day, issue or figure of a recurring series is another story
    ta, tb = title_words(a), title_words(b)
    if min(len(ta), len(tb)) >= MIN_TITLE_WORDS and jaccard(ta, tb) >= TITLE_JACCARD:
        return True
    return jaccard(shingles(a), shingles(b)) >= TEXT_JACCARD


class StoryIndex:
    """Recent items indexed by title word, to find a new item's story without comparing it
    with every recent item."""

    def __init__(self, recent: Iterable[StoredItem] = ()) -> None:
        self._by_word: dict[str, list[StoredItem]] = {}
        for stored in recent:
            self.add(stored)

    def add(self, stored: StoredItem) -> None:
        for word in title_words(stored.item):
            self._by_word.setdefault(word, []).append(stored)

    def find(self, item: Item) -> StoredItem | None:
        """The earliest indexed item of the same story, or None."""
        seen: set[int] = set()
        matches: list[StoredItem] = []
        for word in title_words(item):
            for candidate in self._by_word.get(word, ()):
                if candidate.id in seen:
                    continue
                seen.add(candidate.id)
                if same_story(candidate.item, item):
                    matches.append(candidate)
        if not matches:
            return None
        return min(matches, key=lambda s: (s.first_seen, s.id))
