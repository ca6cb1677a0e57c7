"""Story dedupe: near-identical items from several sources are one story."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.stories import StoryIndex, same_story
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


def test_index_finds_the_earliest_item_of_the_story() -> None:
    first = StoredItem(1, item("Utility agrees to restart shuttered reactor for cloud deal"), NOW)
    repeat = StoredItem(
        2,
        item("Utility agrees to restart shuttered reactor for cloud deal (update)", source="b"),
        NOW + timedelta(hours=1),
        story_id=1,
    )
    other = StoredItem(3, item("Chip maker reports record quarter on AI demand"), NOW)
    index = StoryIndex([repeat, other, first])

    found = index.find(
        item("Utility agrees to restart shuttered reactor for cloud deal", source="c")
    )

    assert found is not None and found.id == 1 and found.story == 1
    assert index.find(item("Completely unrelated headline about shipping rates")) is None
