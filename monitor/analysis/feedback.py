"""Analyst feedback as labels: for ``monitor eval --feedback``, and for learning
(:func:`labels_from_feedback`, :func:`learning_from_feedback`).

Every item that has a verdict on at least one of its signals becomes a labeled item of the
brief its thesis came from: its labels are the criteria whose signal was judged *useful*
(the latest verdict counts). Criteria not judged on that item count as "not evidence", so
the figures measure the current rules against what the analyst confirmed or rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from monitor.analysis.evaluation import LabeledItem
from monitor.matching.learn import Label, Learning, learn
from monitor.types import Signal, StoredItem, Thesis

if TYPE_CHECKING:
    from monitor.semantic.embedder import Embedder


class FeedbackStore(Protocol):
    def latest_feedback(self) -> dict[int, str]: ...
    def get_signals(self, ids: Sequence[int]) -> list[Signal]: ...
    def get_items(self, ids: Sequence[int]) -> list[StoredItem]: ...


def labeled_from_feedback(store: FeedbackStore, theses: Sequence[Thesis]) -> list[LabeledItem]:
    verdicts = store.latest_feedback()
    briefs = {t.id: t.source_brief or t.id for t in theses}
    labels: dict[tuple[int, str], set[str]] = {}
    for signal in store.get_signals(sorted(verdicts)):
        if signal.thesis_id not in briefs:
            continue  # a thesis no longer loaded cannot be judged
        key = (signal.item_id, briefs[signal.thesis_id])
        judged = labels.setdefault(key, set())
        if verdicts[signal.id] == "useful":
            judged.add(signal.criterion_id)
    items = {s.id: s.item for s in store.get_items(sorted({item for item, _ in labels}))}
    return [
        LabeledItem(items[item_id], brief, frozenset(found))
        for (item_id, brief), found in sorted(labels.items())
        if item_id in items
    ]


def labels_from_feedback(store: FeedbackStore, theses: Sequence[Thesis]) -> list[Label]:
    """The latest verdicts as learning labels: per (item, thesis), each judged criterion is
    evidence (*useful*) or not (*noise*); criteria not judged on the item stay unknown (a
    verdict on one criterion says nothing of the others). Oldest item first."""
    verdicts = store.latest_feedback()
    known = {t.id for t in theses}
    judged: dict[tuple[int, str], dict[str, bool]] = {}
    for signal in store.get_signals(sorted(verdicts)):
        if signal.thesis_id in known:
            key = (signal.item_id, signal.thesis_id)
            judged.setdefault(key, {})[signal.criterion_id] = verdicts[signal.id] == "useful"
    items = {s.id: s.item for s in store.get_items(sorted({item for item, _ in judged}))}
    return [
        Label(thesis_id, items[item_id], found)
        for (item_id, thesis_id), found in sorted(judged.items())
        if item_id in items
    ]


def learning_from_feedback(
    store: FeedbackStore, theses: Sequence[Thesis], embedder: Embedder
) -> Learning | None:
    """What the matcher learns from the stored verdicts (None: no verdict on these theses)."""
    from monitor.matching.engine import Matcher

    labels = labels_from_feedback(store, theses)
    if not labels:
        return None

    def make(rules: Sequence[Thesis], model: Embedder) -> Matcher:
        return Matcher(rules, embedder=model)

    return learn(theses, labels, embedder, make)
