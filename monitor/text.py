"""Words, stems, stop words, sentences and cuts of plain text (pure; the lowest layer).

Rules, matching, story dedupe, feed normalisation and rendering all use these helpers, so a
word means the same thing everywhere. This module imports nothing else from ``monitor``.

Decisions:

* **Tokens are maximal runs of Unicode letters and digits** (``[^\\W_]+``), after NFKC
  normalisation and ``casefold()`` (:func:`tokenize`). Everything else separates tokens, so
  hyphenated words split (``AI-driven`` -> ``ai``, ``driven``; ``post-training`` -> ``post``,
  ``training``), ``R&D`` -> ``r``, ``d``, and ``DeepSeek's`` -> ``deepseek``, ``s``. Queries are
  tokenised with the same function, so a query term ``AI-driven`` becomes the phrase
  ``ai driven`` and still matches, and whole tokens give word boundaries for free (``lab`` is
  not ``label``). NFKC makes compatibility forms one word (full-width letters, the ``fi``
  ligature U+FB01, a letter followed by a combining accent); ``casefold`` makes ``Straße`` and
  ``STRASSE`` one word.
* **ASCII fast path:** for ASCII text NFKC is the identity, ``casefold`` is ``lower`` and
  ``[^\\W_]`` is ``[A-Za-z0-9]``, so one byte translation and a split on spaces give exactly the
  regex's tokens, about twice as fast (most feed text is ASCII).
* **Stems:** every token has an English Snowball stem (:func:`stem`, the ``snowballstemmer``
  package), so ``consolidating`` and ``consolidation`` share ``consolid``. Stemming costs about
  30 µs a word, so stems are cached in a process-wide dict (cleared when it reaches
  :data:`STEM_CACHE_LIMIT` entries); :func:`stem_all` maps many tokens at C speed.
* **Two stop-word lists, on purpose.** :data:`STOPWORDS` (English function words plus
  ``said``/``says``/``say``/``new``) are the words that say nothing about what a text is
  about: lexical evidence and the brief importer skip them. :data:`TITLE_STOPWORDS`, a short
  subset, is what story dedupe drops before comparing the title words of two items. It keeps
  words such as ``down``, ``against`` or ``without``, which change what a headline reports
  and keep short headlines above the four words a comparison needs; merging it into the long
  list would change which items are one story.
* **Sentences** (:func:`sentences`) end after ``.``, ``!`` or ``?`` followed by whitespace, or
  at a line break; each is stripped and empty ones are dropped.
* **Cuts** end with "…" (:data:`ELLIPSIS`) and never exceed a limit of 1 or more.
  :func:`truncate` cuts anywhere (fields with a hard budget: Slack and console fields, the
  judge's prompt). :func:`shorten` cuts at the last space when that keeps at least
  :data:`WORD_CUT_FLOOR` of the limit (feed titles, summaries and labels; match snippets), so
  one long word or a URL near the end does not empty the text.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator

import snowballstemmer

STEM_CACHE_LIMIT = 200_000
ELLIPSIS = "…"
WORD_CUT_FLOOR = 0.8

_TOKEN_RE = re.compile(r"[^\W_]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
# byte -> itself lower-cased if an ASCII letter or digit, else a space (see the fast path)
_ASCII_TABLE = bytes(
    ord(ch.lower()) if ch.isascii() and ch.isalnum() else 32 for ch in map(chr, range(256))
)

_STOPWORD_TEXT = """
    a about above across after again against all almost alongside also although am among an
    and any are as at be because been before being below between both but by can could did do
    does doing down during each either even ever every few for from further had has have
    having he her here hers him his how however i if in into is it its itself just least less
    like made make many may me might more most much must my near neither no nor not now of off
    often on once one only or other our out over own per rather same she should so some such
    than that the their them then there these they this those through thus to too toward
    towards under until up upon us very via was we were what when where whether which while
    who whom why will with within without would yet you your said says say new
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_TITLE_STOPWORD_TEXT = """
    the and for with from that this into over after about than its are was were will has have
    new says said say how why what when who can could would not but all more
"""
TITLE_STOPWORDS = frozenset(_TITLE_STOPWORD_TEXT.split())


# ------------------------------------------------------------------------------------- tokens


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lower-case word tokens (see the module docstring for the rules)."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_TABLE).decode("ascii").split()
    return _TOKEN_RE.findall(unicodedata.normalize("NFKC", text).casefold())


# -------------------------------------------------------------------------------------- stems


class _StemCache(dict[str, str]):
    """token -> Snowball stem, filled on first use. The stemmer keeps state, hence the lock."""

    def __init__(self) -> None:
        super().__init__()
        self._stemmer = snowballstemmer.stemmer("english")
        self._lock = threading.Lock()

    def __missing__(self, token: str) -> str:
        with self._lock:
            found: str = self._stemmer.stemWord(token)
        if len(self) >= STEM_CACHE_LIMIT:
            self.clear()
        self[token] = found
        return found


_STEMS = _StemCache()
_stem_of = _STEMS.__getitem__


def stem(token: str) -> str:
    """The English Snowball stem of a (lower-case) token: ``restarted`` -> ``restart``."""
    return _stem_of(token)


def stem_all(tokens: Iterable[str]) -> Iterator[str]:
    """The stem of every token, in order (one dict lookup each once a token was seen)."""
    return map(_stem_of, tokens)


# ---------------------------------------------------------------------------------- sentences


def sentences(text: str) -> list[str]:
    """The stripped, non-empty sentences of ``text`` (see the module docstring)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


# --------------------------------------------------------------------------------------- cuts


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters anywhere, ending with "…" when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at the last space when that keeps at
    least :data:`WORD_CUT_FLOOR` of ``limit``, ending with "…" when cut."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    space = cut.rfind(" ")
    if space >= limit * WORD_CUT_FLOOR:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS
