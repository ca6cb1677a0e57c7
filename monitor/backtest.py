"""``monitor backtest``: replay stored items against the current rules, send nothing.

The comparison is pure: what the current rules would fire (per story, thesis, criterion)
against what did fire (the stored signals for the same items), split into *unchanged*,
*new* (would fire now, did not) and *dropped* (fired then, would not now). Item vectors
stored by the daemon are reused; items without one are embedded once and stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from monitor.matching.engine import Matcher
from monitor.semantic.embedder import Embedder
from monitor.types import Match, Signal, StoredItem
from monitor.vectors import VectorStore, item_vectors

BATCH = 256
Key = tuple[int, str, str]  # (story, thesis id, criterion id)


@dataclass(frozen=True)
class Fired:
    key: Key
    item: StoredItem
    match: Match | None = None  # what the current rules say (None for dropped)
    signal: Signal | None = None  # what was stored (None for new)


@dataclass
class BacktestReport:
    items: int = 0
    unchanged: list[Fired] = field(default_factory=list)
    new: list[Fired] = field(default_factory=list)
    dropped: list[Fired] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """criterion "thesis/criterion" -> {"would": n, "did": n, "new": n, "dropped": n}."""
        out: dict[str, dict[str, int]] = {}

        def bump(f: Fired, *names: str) -> None:
            row = out.setdefault(
                f"{f.key[1]}/{f.key[2]}", {"would": 0, "did": 0, "new": 0, "dropped": 0}
            )
            for name in names:
                row[name] += 1

        for f in self.unchanged:
            bump(f, "would", "did")
        for f in self.new:
            bump(f, "would", "new")
        for f in self.dropped:
            bump(f, "did", "dropped")
        return dict(sorted(out.items()))


def compare(
    items: Sequence[StoredItem],
    would: Sequence[tuple[StoredItem, Match]],
    did: Sequence[Signal],
) -> BacktestReport:
    """Pure: split would-fire matches and stored signals into unchanged / new / dropped."""
    story_of = {s.id: s.story for s in items}
    by_id = {s.id: s for s in items}
    stored: dict[Key, Signal] = {}
    for sig in did:
        story = story_of.get(sig.item_id)
        if story is not None:
            stored[(story, sig.thesis_id, sig.criterion_id)] = sig
    report = BacktestReport(items=len(items))
    seen: set[Key] = set()
    for item, m in would:
        key = (item.story, m.thesis_id, m.criterion_id)
        if key in seen:
            continue  # a story fires once
        seen.add(key)
        if key in stored:
            report.unchanged.append(Fired(key, item, m, stored[key]))
        else:
            report.new.append(Fired(key, item, m))
    for key, sig in stored.items():
        if key not in seen:
            report.dropped.append(Fired(key, by_id[sig.item_id], None, sig))
    return report


class BacktestStore(VectorStore, Protocol):
    def list_signals(
        self,
        *,
        thesis: str | None = None,
        polarity: str | None = None,
        since: datetime | None = None,
        source: str | None = None,
        limit: int | None = None,
    ) -> list[Signal]: ...


def run_backtest(
    store: BacktestStore,
    matcher: Matcher,
    embedder: Embedder | None,
    items: Sequence[StoredItem],
    *,
    now: datetime,
    thesis: str | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> BacktestReport:
    """Match the stored ``items`` (in batches) and compare with their stored signals.
    ``on_batch`` is told how many items each finished batch held (for a progress bar)."""
    batches = [items[i : i + BATCH] for i in range(0, len(items), BATCH)]
    would: list[tuple[StoredItem, Match]] = []
    for batch in batches:
        vectors = item_vectors(store, embedder, batch, now)
        for stored, matches in zip(
            batch, matcher.match_batch([s.item for s in batch], vectors), strict=True
        ):
            would.extend((stored, m) for m in matches if thesis is None or m.thesis_id == thesis)
        if on_batch is not None:
            on_batch(len(batch))
    ids = {s.id for s in items}
    did = [s for s in store.list_signals(thesis=thesis) if s.item_id in ids]
    return compare(items, would, did)
