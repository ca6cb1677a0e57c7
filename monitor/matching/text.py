"""Text tokenised once, for fast keyword-query evaluation (pure).

Decisions:

* **Tokens are maximal runs of Unicode letters and digits** (``[^\\W_]+``), after NFKC
  normalisation and ``casefold()``. Everything else separates tokens, so hyphenated words split
  (``AI-driven`` -> ``ai``, ``driven``; ``post-training`` -> ``post``, ``training``), ``R&D`` ->
  ``r``, ``d``, and ``DeepSeek's`` -> ``deepseek``, ``s``. Queries are tokenised with the same
  function, so a query term ``AI-driven`` becomes the phrase ``ai driven`` and still matches.
* **Word boundaries come for free:** matching compares whole tokens, so ``lab`` does not match
  ``label``; prefix wildcards (``lab*``) are the explicit way to match longer words.
* A :class:`Document` precomputes a token set (exact terms: one hash lookup), a sorted vocabulary
  (prefix terms: one ``bisect``) and token positions (phrases: consecutive positions). No regular
  expression runs during evaluation.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

_TOKEN_RE = re.compile(r"[^\W_]+")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lower-case word tokens (see the module docstring for the rules)."""
    return _TOKEN_RE.findall(unicodedata.normalize("NFKC", text).casefold())


@dataclass(frozen=True, eq=False)
class Document:
    """A text prepared for query evaluation. Build it with :meth:`from_text`."""

    tokens: tuple[str, ...]
    token_set: frozenset[str]
    vocabulary: tuple[str, ...]  # sorted unique tokens, for prefix lookups
    positions: Mapping[str, tuple[int, ...]]

    @classmethod
    def from_text(cls, text: str) -> Document:
        tokens = tuple(tokenize(text))
        found: dict[str, list[int]] = {}
        for index, token in enumerate(tokens):
            found.setdefault(token, []).append(index)
        return cls(
            tokens=tokens,
            token_set=frozenset(found),
            vocabulary=tuple(sorted(found)),
            positions={token: tuple(places) for token, places in found.items()},
        )

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
