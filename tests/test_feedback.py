"""Analyst feedback becomes labels for `monitor eval --feedback`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.analysis.feedback import labeled_from_feedback
from monitor.store import SqlStore
from monitor.types import Criterion, Item, Match, Thesis

NOW = datetime(2026, 5, 14, tzinfo=UTC)
THESIS = Thesis(
    id="t1",
    title="T",
    source_brief="brief-1.txt",
    criteria=(
        Criterion("confirm-1", "confirm", "c", "reactor"),
        Criterion("kill-1", "kill", "k", "delay"),
    ),
)


def match(criterion: str) -> Match:
    return Match("t1", criterion, "confirm" if criterion.startswith("c") else "kill", 1, (), "")


def test_useful_verdicts_become_labels_and_noise_does_not(store: SqlStore) -> None:
    store.sync_theses([THESIS], NOW)
    a, b, c = store.add_items(
        [Item("wire", f"i{n}", f"Title {n}", link=f"https://x/{n}") for n in range(3)], NOW
    )
    sig = store.add_signals(
        [(a.id, match("confirm-1")), (a.id, match("kill-1")), (b.id, match("kill-1"))], NOW
    )
    store.add_signals([(c.id, match("confirm-1"))], NOW)  # never judged: not a labeled item
    store.add_feedback(sig[0], "useful", None, NOW)
    store.add_feedback(sig[1], "useful", None, NOW)
    store.add_feedback(sig[1], "noise", "wrong direction", NOW + timedelta(minutes=1))
    store.add_feedback(sig[2], "noise", None, NOW)

    labeled = labeled_from_feedback(store, [THESIS])

    assert [(x.item.item_id, x.brief, sorted(x.labels)) for x in labeled] == [
        ("i0", "brief-1.txt", ["confirm-1"]),
        ("i1", "brief-1.txt", []),
    ]
