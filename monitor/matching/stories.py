"""Story dedupe (pure): is a new item the same story as one seen recently?

Two items are the same story when their titles share most content words (Jaccard ≥ 0.6 over
title words of three letters or more, minus :data:`~monitor.text.TITLE_STOPWORDS`, at least
four such words each) or their title+summary texts share most word 3-shingles (Jaccard ≥ 0.5);
words are the tokens of :func:`monitor.text.tokenize`. Wire copies, syndicated
posts and lightly edited rewrites pass; two different stories about the same company do not.
Titles that both carry numbers must carry the same ones ("Daily Energy Brief: May 12" and
"…: May 13" are two stories). The pipeline looks back ``STORY_WINDOW`` (3 days of
first-seen items).

Finding the story of a new item costs about the same whatever the size of the window
(decisions):

* Features (title words, title numbers, shingles) are computed once per item
  (:class:`StoryFeatures`), and the exact test :func:`same_features` runs on them.
* Candidates come from MinHash locality-sensitive hashing: the title words and the shingles
  each get a MinHash signature, cut into bands of two rows; items that agree on a whole band
  are candidates (title: 8 bands, the chance of being a candidate is 0.97 at Jaccard 0.6 and
  0.999 at 0.75; text: 10 bands, 0.94 at 0.5 and 0.99 at 0.6). Every candidate is then checked
  exactly, so LSH can only miss a borderline story, never merge two stories.
* The count of candidates is bounded: a band bucket keeps its ``BUCKET_CAP`` earliest members
  (the first items of a story, which is what a repeat links to) and a new item checks at most
  ``MAX_CANDIDATES``, those sharing the most bands first.
* :class:`StoryIndex` keeps only the band keys and item ids, in sorted NumPy arrays (about 150
  bytes an item), across cycles; items older than the window are dropped when a batch is
  merged. The text of a candidate is read back (one query per cycle) for the exact check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from monitor.text import TITLE_STOPWORDS, tokenize
from monitor.types import Item, StoredItem

STORY_WINDOW = timedelta(days=3)
TITLE_JACCARD = 0.6
TEXT_JACCARD = 0.5
MIN_TITLE_WORDS = 4
TITLE_BANDS = 8
TEXT_BANDS = 10
ROWS = 2  # MinHash rows per band
BUCKET_CAP = 8
MAX_CANDIDATES = 6
MAX_WEAK_CANDIDATES = 1
FOLD_MIN = 100_000  # keys in the delta tier before it is folded into the base, at least
BATCH_TOKENS = 10_000  # tokens hashed per NumPy call (each x 20 permutations x 8 bytes)
MAX_SHINGLES = 300  # LSH keys use the first shingles; the exact check uses them all
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_RNG = np.random.default_rng(0x5709)  # fixed: the same keys in every process
_TITLE_A = _RNG.integers(1, 2**63, TITLE_BANDS * ROWS, dtype=np.uint64) | np.uint64(1)
_TITLE_B = _RNG.integers(0, 2**63, TITLE_BANDS * ROWS, dtype=np.uint64)
_TEXT_A = _RNG.integers(1, 2**63, TEXT_BANDS * ROWS, dtype=np.uint64) | np.uint64(1)
_TEXT_B = _RNG.integers(0, 2**63, TEXT_BANDS * ROWS, dtype=np.uint64)
_BAND_MIX = _RNG.integers(1, 2**63, (TITLE_BANDS + TEXT_BANDS, ROWS + 1), dtype=np.uint64)
_SHINGLE_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F], dtype=np.uint64)

_SHIFT = np.uint64(32)
U64Array = npt.NDArray[np.uint64]
U32Array = npt.NDArray[np.uint32]
I32Array = npt.NDArray[np.int32]
_EMPTY: U64Array = np.zeros(0, dtype=np.uint64)
_EMPTY_KEYS: U32Array = np.zeros(0, dtype=np.uint32)


def title_words(item: Item) -> frozenset[str]:
    return frozenset(w for w in tokenize(item.title) if len(w) >= 3 and w not in TITLE_STOPWORDS)


def title_numbers(item: Item) -> frozenset[str]:
    return frozenset(w for w in tokenize(item.title) if w.isdigit())


def text_words(item: Item) -> list[str]:
    return tokenize(item.text)


def jaccard_at_least(a: frozenset[int], b: frozenset[int], threshold: float) -> bool:
    """``jaccard(a, b) >= threshold``, deciding from the sizes alone when they differ too much."""
    small, large = sorted((len(a), len(b)))
    if not small or small < threshold * large:
        return False
    shared = len(a & b)
    return shared >= threshold * (small + large - shared)


class StoryFeatures:
    """What story dedupe needs of an item, computed once: hashed title words and text
    3-shingles (a collision of two 64-bit hashes is negligible; the sets are built when an
    exact check first needs them), title numbers, LSH keys."""

    __slots__ = ("_gram_set", "_grams", "_title", "_title_set", "keys", "numbers")

    def __init__(
        self, title: U64Array, numbers: frozenset[str], grams: U64Array, keys: U32Array
    ) -> None:
        self._title, self._grams = title, grams
        self._title_set: frozenset[int] | None = None
        self._gram_set: frozenset[int] | None = None
        self.numbers = numbers
        self.keys = keys

    @property
    def title(self) -> frozenset[int]:
        if self._title_set is None:
            self._title_set = frozenset(self._title.tolist())
        return self._title_set

    @property
    def shingles(self) -> frozenset[int]:
        if self._gram_set is None:
            self._gram_set = frozenset(self._grams.tolist())
        return self._gram_set

    @classmethod
    def of(cls, item: Item) -> StoryFeatures:
        return features_of([item])[0]


def features_of(items: Sequence[Item]) -> list[StoryFeatures]:
    """:class:`StoryFeatures` of many items at once: the MinHash signatures of a batch are
    computed together (a few NumPy calls per thousands of items, not per item)."""
    titles = [_hash_words(sorted(title_words(item))) for item in items]
    words = [_hash_words(text_words(item)) for item in items]
    grams = [w[:-2] * _SHINGLE_MIX[0] + w[1:-1] * _SHINGLE_MIX[1] + w[2:] for w in words]
    title_keys = _batch_bands(
        [t if len(t) >= MIN_TITLE_WORDS else _EMPTY for t in titles], _TITLE_A, _TITLE_B, 0
    )
    text_keys = _batch_bands([g[:MAX_SHINGLES] for g in grams], _TEXT_A, _TEXT_B, TITLE_BANDS)
    return [
        StoryFeatures(t, title_numbers(item), g, np.concatenate((tk, xk)))
        for item, t, g, tk, xk in zip(items, titles, grams, title_keys, text_keys, strict=True)
    ]


def same_features(a: StoryFeatures, b: StoryFeatures) -> bool:
    if a.numbers and b.numbers and a.numbers != b.numbers:
        return False  # another day, issue or figure of a recurring series is another story
    if min(len(a.title), len(b.title)) >= MIN_TITLE_WORDS and jaccard_at_least(
        a.title, b.title, TITLE_JACCARD
    ):
        return True
    return jaccard_at_least(a.shingles, b.shingles, TEXT_JACCARD)


def same_story(a: Item, b: Item) -> bool:
    return same_features(StoryFeatures.of(a), StoryFeatures.of(b))


# -- MinHash band keys ----------------------------------------------------------------------------


def _hash_words(words: Sequence[str]) -> U64Array:
    """64-bit hashes of words: Python's own string hash, salted per process, which is all
    an in-memory index needs (it is rebuilt at every start)."""
    return np.array([hash(w) for w in words], dtype=np.int64).view(np.uint64)


def _batch_bands(
    token_sets: Sequence[U64Array], a: U64Array, b: U64Array, first_band: int
) -> list[U32Array]:
    """The band keys of each token array (none for an empty one), computed in chunks of
    about ``BATCH_TOKENS`` tokens: ``(token * a + b) >> 32`` per permutation (wrapping modulo
    2**64), the minimum per array, then each band's ``ROWS`` minima mixed into one key."""
    out = [_EMPTY_KEYS] * len(token_sets)
    todo = [i for i, tokens in enumerate(token_sets) if len(tokens)]
    bands = len(a) // ROWS
    mix = _BAND_MIX[first_band : first_band + bands]
    start = 0
    while start < len(todo):
        end, size = start, 0
        while end < len(todo) and (size == 0 or size + len(token_sets[todo[end]]) <= BATCH_TOKENS):
            size += len(token_sets[todo[end]])
            end += 1
        group = todo[start:end]
        arrays = [token_sets[i] for i in group]
        offsets = np.cumsum([0] + [len(x) for x in arrays[:-1]])
        hashed = (np.concatenate(arrays)[:, None] * a[None, :] + b[None, :]) >> _SHIFT
        signatures = np.minimum.reduceat(hashed, offsets, axis=0).reshape(-1, bands, ROWS)
        keys = (signatures * mix[None, :, :ROWS]).sum(axis=2, dtype=np.uint64)
        keys = ((keys + mix[None, :, ROWS]) >> _SHIFT).astype(np.uint32)
        for i, row in zip(group, keys, strict=True):
            out[i] = row
        start = end
    return out


def band_keys(item: Item) -> U32Array:
    """The item's LSH keys: title bands (when the title is long enough to call) and text bands
    (when the text has a shingle); band numbers are mixed in, so keys of two bands differ."""
    return StoryFeatures.of(item).keys


# -- the index ------------------------------------------------------------------------------------


class StoryIndex:
    """Band keys of recent items → item ids, in sorted arrays; see the module docstring.

    Two tiers, so that adding a batch costs about the batch, not the window: a large sorted
    ``base`` and a small sorted ``delta`` that each batch is merged into; the delta is folded
    into the base (dropping items older than the window) once it holds a quarter as much.
    Keys are 32-bit, ids 32-bit: 8 bytes an entry, 18 entries an item at most."""

    def __init__(self) -> None:
        self._base = _Tier.empty()
        self._delta = _Tier.empty()
        self._keep_from_id = 0
        self.high_water = 0  # the largest item id indexed

    def __len__(self) -> int:
        ids = np.concatenate((self._base.ids, self._delta.ids))
        return len(np.unique(ids[ids >= self._keep_from_id]))

    def candidates(self, keys: U32Array) -> list[int]:
        """Ids of indexed items sharing a band with ``keys``, most shared bands first."""
        counts: dict[int, int] = {}
        for tier in (self._base, self._delta):
            tier.count(keys, counts)
        for old in [i for i in counts if i < self._keep_from_id]:
            del counts[old]
        return _best(counts)

    def merge(self, batch: Sequence[tuple[int, U32Array]], *, keep_from_id: int = 0) -> None:
        """Add (item id, keys) pairs; items with ids below ``keep_from_id`` stop being
        candidates at once and are dropped from memory at the next fold."""
        self._keep_from_id = max(self._keep_from_id, keep_from_id)
        if batch:
            keys = np.concatenate([k for _, k in batch]).astype(np.uint32)
            ids = np.concatenate([np.full(len(k), i, dtype=np.int32) for i, k in batch])
            self._delta = _Tier.build(
                np.concatenate((self._delta.keys, keys)), np.concatenate((self._delta.ids, ids))
            )
            self.high_water = max(self.high_water, max(i for i, _ in batch))
        if len(self._delta.keys) * 4 > max(len(self._base.keys), FOLD_MIN * 4):
            self.fold()

    def fold(self) -> None:
        """Merge the delta into the base and drop the items older than the window, in a few
        passes over the base (no sort of the whole window): each delta entry goes in after
        the base's entries of its key, if its bucket has room."""
        base, delta = self._base, self._delta
        if len(delta.keys):
            left = np.searchsorted(base.keys, delta.keys, "left")
            right = np.searchsorted(base.keys, delta.keys, "right")
            room = (right - left) + delta.ranks() < BUCKET_CAP
            keys = np.insert(base.keys, right[room], delta.keys[room])
            ids = np.insert(base.ids, right[room], delta.ids[room])
        else:
            keys, ids = base.keys, base.ids
        if self._keep_from_id:
            alive = ids >= self._keep_from_id
            keys, ids = keys[alive], ids[alive]
        self._base = _Tier(keys, ids)
        self._delta = _Tier.empty()


@dataclass(frozen=True)
class _Tier:
    keys: U32Array
    ids: I32Array

    @classmethod
    def empty(cls) -> _Tier:
        return cls(np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int32))

    @classmethod
    def build(cls, keys: U32Array, ids: I32Array) -> _Tier:
        """Sorted by key, earliest item first in a bucket, at most BUCKET_CAP a bucket."""
        order = np.lexsort((ids, keys))
        tier = cls(keys[order], ids[order])
        kept = tier.ranks() < BUCKET_CAP
        return cls(tier.keys[kept], tier.ids[kept])

    def ranks(self) -> npt.NDArray[np.int64]:
        """Each entry's place in its bucket (0 for the first)."""
        if not len(self.keys):
            return np.zeros(0, dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, self.keys[1:] != self.keys[:-1]])
        return np.arange(len(self.keys)) - np.repeat(starts, np.diff(np.r_[starts, len(self.keys)]))

    def count(self, keys: U32Array, counts: dict[int, int]) -> None:
        """Add 1 to ``counts[id]`` for each of ``keys`` an indexed item shares."""
        if not len(keys) or not len(self.keys):
            return
        left = np.searchsorted(self.keys, keys, "left").tolist()
        right = np.searchsorted(self.keys, keys, "right").tolist()
        for lo, hi in zip(left, right, strict=True):
            if lo != hi:
                for found in self.ids[lo:hi].tolist():
                    counts[found] = counts.get(found, 0) + 1


def _best(shared: Mapping[int, int]) -> list[int]:
    """The candidates worth an exact check: those sharing the most bands first, at most
    ``MAX_CANDIDATES``, of which at most ``MAX_WEAK_CANDIDATES`` share a single band."""
    ranked = sorted(shared, key=lambda i: (-shared[i], i))[:MAX_CANDIDATES]
    strong = [i for i in ranked if shared[i] > 1]
    return strong + [i for i in ranked if shared[i] == 1][:MAX_WEAK_CANDIDATES]


@dataclass(frozen=True)
class StoryLink:
    """An intent: item ``item_id`` repeats the story whose first item is ``story_id``."""

    item_id: int
    story_id: int


def link_stories(
    index: StoryIndex,
    new_items: Sequence[StoredItem],
    load: Callable[[Sequence[int]], Mapping[int, StoredItem]],
    *,
    keep_from_id: int = 0,
) -> list[StoryLink]:
    """Find the story of each new item (in order: a later item may repeat an earlier one of
    the same batch), merge the batch into the index and return the links to write.

    ``load`` reads indexed items by id (the candidates, one call); an id it does not return
    (pruned, or older than the window) is no candidate."""
    features = features_of([s.item for s in new_items])
    keys = [f.keys for f in features]
    old_candidates = [index.candidates(k) for k in keys]
    wanted = sorted({c for cands in old_candidates for c in cands})
    known = load(wanted) if wanted else {}
    buckets: dict[int, list[int]] = {}  # this batch's band keys, BUCKET_CAP earliest ids each
    story_of: dict[int, int] = {}
    feature_of: dict[int, StoryFeatures] = {}
    old_features = dict(zip(known, features_of([s.item for s in known.values()]), strict=True))
    links: list[StoryLink] = []
    for stored, feats, item_keys, olds in zip(
        new_items, features, keys, old_candidates, strict=True
    ):
        found: list[tuple[datetime, int, int]] = []  # (first seen, id, story) of each match
        for cid in olds:
            old = known.get(cid)
            if old is None or old.first_seen < stored.first_seen - STORY_WINDOW:
                continue
            if same_features(old_features[cid], feats):
                found.append((old.first_seen, old.id, old.story))
        key_list = item_keys.tolist()
        shared: dict[int, int] = {}
        for key in key_list:
            for cid in buckets.get(key, ()):
                shared[cid] = shared.get(cid, 0) + 1
        for cid in _best(shared):
            if same_features(feature_of[cid], feats):
                found.append((stored.first_seen, cid, story_of[cid]))
        story = min(found)[2] if found else stored.id
        story_of[stored.id] = story
        feature_of[stored.id] = feats
        if story != stored.id:
            links.append(StoryLink(stored.id, story))
        for key in key_list:
            members = buckets.setdefault(key, [])
            if len(members) < BUCKET_CAP:
                members.append(stored.id)
    index.merge(list(zip((s.id for s in new_items), keys, strict=True)), keep_from_id=keep_from_id)
    return links
