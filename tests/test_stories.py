"""Story dedupe: near-identical items from several sources are one story."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.matching.stories import (
    MAX_CANDIDATES,
    TEXT_BANDS,
    StoryIndex,
    StoryLink,
    band_keys,
    link_stories,
    same_story,
)
from monitor.types import Item, StoredItem

NOW = datetime(2026, 5, 14, 12, 0, tzinfo=UTC)


def item(title: str, summary: str = "", source: str = "a") -> Item:
    return Item(source=source, item_id=title, title=title, summary=summary)


BODY = (
    "The operator said the reactor will return to service in 2028 under a twenty year contract "
    "with the cloud provider, pending approval from federal regulators."
)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (
            item("Utility agrees to restart shuttered Palisades reactor for Microsoft"),
            item("Utility agrees to restart shuttered Palisades reactor for Microsoft - Reuters"),
            True,
        ),
        (
            item("Utility to restart shuttered reactor", BODY),
            item("Shuttered reactor coming back: cloud deal signed", BODY + " Shares rose."),
            True,
        ),
        (
            item("Utility agrees to restart shuttered Palisades reactor for Microsoft"),
            item("Utility cancels plan for new SMR at Palisades site, citing costs"),
            False,
        ),
        (item("AI news"), item("AI news"), False),  # too short to call, and no text
        (
            item("Daily Energy Brief: May 12, 2026", BODY),
            item("Daily Energy Brief: May 13, 2026", BODY),
            False,
        ),
        (
            item("Google releases Gemini 3.5 Flash model"),
            item("Google releases Gemini 3.5 Pro model with larger context window"),
            False,
        ),
    ],
)
def test_same_story(a: Item, b: Item, same: bool) -> None:
    assert same_story(a, b) is same
    assert same_story(b, a) is same


def indexed(*stored: StoredItem) -> StoryIndex:
    index = StoryIndex()
    index.merge([(s.id, band_keys(s.item)) for s in stored])
    return index


def loader(*stored: StoredItem):  # type: ignore[no-untyped-def]
    by_id = {s.id: s for s in stored}
    asked: list[list[int]] = []

    def load(ids):  # type: ignore[no-untyped-def]
        asked.append(list(ids))
        return {i: by_id[i] for i in ids if i in by_id}

    return load, asked


def test_index_finds_the_earliest_item_of_the_story() -> None:
    first = StoredItem(1, item("Utility agrees to restart shuttered reactor for cloud deal"), NOW)
    repeat = StoredItem(
        2,
        item("Utility agrees to restart shuttered reactor for cloud deal (update)", source="b"),
        NOW + timedelta(hours=1),
        story_id=1,
    )
    other = StoredItem(3, item("Chip maker reports record quarter on AI demand"), NOW)
    index = indexed(repeat, other, first)
    load, _ = loader(first, repeat, other)
    later = NOW + timedelta(hours=2)
    new = StoredItem(
        10, item("Utility agrees to restart shuttered reactor for cloud deal", source="c"), later
    )
    unrelated = StoredItem(11, item("Completely unrelated headline about shipping rates"), later)

    links = link_stories(index, [new, unrelated], load)

    assert links == [StoryLink(10, 1)]


def test_a_repeat_within_one_batch_links_to_the_batch_s_first_item() -> None:
    a = StoredItem(5, item("Utility to restart shuttered reactor", BODY), NOW)
    b = StoredItem(6, item("Shuttered reactor coming back: cloud deal signed", BODY + " Up."), NOW)
    c = StoredItem(7, item("Chip maker reports record quarter on AI demand"), NOW)
    load, asked = loader()

    assert link_stories(StoryIndex(), [a, b, c], load) == [StoryLink(6, 5)]
    assert asked == []  # an empty index reads nothing back


def test_items_older_than_the_window_are_no_candidates_and_are_dropped() -> None:
    old = StoredItem(1, item("Utility agrees to restart shuttered Palisades reactor"), NOW)
    index = indexed(old)
    load, _ = loader(old)
    late = NOW + timedelta(days=4)
    new = StoredItem(2, item("Utility agrees to restart shuttered Palisades reactor"), late)

    assert link_stories(index, [new], load, keep_from_id=2) == []
    assert len(index) == 1  # only the new item is kept


def test_candidates_are_bounded_however_many_items_share_words() -> None:
    """A thousand items sharing most title words with the new one: at most MAX_CANDIDATES
    are read back and checked."""
    crowd = [
        StoredItem(i, item(f"Utility agrees to restart shuttered reactor number {i} plan"), NOW)
        for i in range(1, 1001)
    ]
    index = indexed(*crowd)
    load, asked = loader(*crowd)
    new = StoredItem(2000, item("Utility agrees to restart shuttered reactor number plan"), NOW)

    link_stories(index, [new], load)

    assert len(asked) == 1 and len(asked[0]) <= MAX_CANDIDATES


def test_lsh_finds_near_duplicates_among_many_distinct_stories() -> None:
    """Recall of the LSH candidates on repeats (same text with one word changed, half of them
    under a new title: text Jaccard about 0.65) in a window of 2,000 distinct generated
    stories: no distinct story is merged, and at least 98 % of the repeats are found (the
    chance of missing one of these is about 0.4 %, see the module docstring)."""
    import random

    rng = random.Random(7)
    vocab = [f"w{n}x" for n in range(3000)]

    def sentence(k: int) -> str:
        return " ".join(rng.choice(vocab) for _ in range(k))

    stories = [StoredItem(i, item(sentence(9), sentence(50)), NOW) for i in range(1, 2001)]
    index = indexed(*stories)
    load, _ = loader(*stories)
    repeats = []
    for n, s in enumerate(stories[:200]):
        words = s.item.summary.split()
        words[rng.randrange(len(words))] = "changed"
        title = s.item.title if n % 2 else sentence(9)  # half: new title, same text
        repeats.append(StoredItem(5000 + n, item(title, " ".join(words), source="b"), NOW))
    fresh = [StoredItem(9000 + n, item(sentence(9), sentence(50)), NOW) for n in range(200)]

    links = link_stories(index, repeats + fresh, load)

    expected = {StoryLink(5000 + n, n + 1) for n in range(200)}
    assert set(links) <= expected
    assert len(links) >= 196


def test_features_of_a_batch_are_those_of_each_item(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batched MinHash (chunked by token count) gives every item its own keys."""
    import numpy as np

    from monitor.matching import stories

    monkeypatch.setattr(stories, "BATCH_TOKENS", 40)  # many chunks, some of one item
    items = [
        item(f"Title {n} " + "word " * n + f"w{n} x{n} y{n}", BODY * (n % 3)) for n in range(30)
    ]
    items += [item("AI news today"), item("")]  # too short for title bands; no text at all

    batch = stories.features_of(items)

    for one, together in zip(items, batch, strict=True):
        alone = stories.StoryFeatures.of(one)
        assert np.array_equal(alone.keys, together.keys)
        assert alone.title == together.title and alone.shingles == together.shingles
    assert len(batch[-2].keys) == TEXT_BANDS and len(batch[-1].keys) == 0


def test_the_index_folds_its_delta_and_drops_items_older_than_the_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from monitor.matching import stories

    monkeypatch.setattr(stories, "FOLD_MIN", 10)
    index = StoryIndex()
    title = "alpha{0} beta{0} gamma{0} delta{0} epsilon{0}"  # sixty distinct stories
    story = [StoredItem(i, item(title.format(i)), NOW) for i in range(1, 61)]
    for start in range(0, 60, 20):
        batch = story[start : start + 20]
        index.merge([(s.id, band_keys(s.item)) for s in batch], keep_from_id=start - 10)

    assert len(index) == 31  # ids 30-60: the last batch keeps from id 30
    assert index.candidates(band_keys(story[5].item)) == []  # id 6: out of the window
    assert index.candidates(band_keys(story[40].item)) == [41]
    index.fold()
    assert index._base.ids.min() == 30 and len(index._delta.ids) == 0  # dropped from memory


def test_a_fold_keeps_each_bucket_to_its_earliest_members() -> None:
    import numpy as np

    from monitor.matching.stories import BUCKET_CAP

    index = StoryIndex()
    same = [
        StoredItem(i, item("Utility agrees to restart shuttered Palisades reactor"), NOW)
        for i in range(1, 21)
    ]
    index.merge([(s.id, band_keys(s.item)) for s in same[:6]])
    index.fold()
    index.merge([(s.id, band_keys(s.item)) for s in same[6:]])
    index.fold()

    _, counts = np.unique(index._base.keys, return_counts=True)
    assert counts.max() == BUCKET_CAP
    assert sorted(set(index._base.ids.tolist())) == list(range(1, BUCKET_CAP + 1))
