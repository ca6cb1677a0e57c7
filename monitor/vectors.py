"""Item vectors for semantic scoring: embedded once per item, in batches, and stored.

The pipeline embeds a cycle's new items in one batch; a backtest reuses the stored vectors
and embeds only items that have none under the current model.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import numpy as np

from monitor.semantic.embedder import Embedder, Vectors, embedding_text
from monitor.types import StoredItem


class VectorStore(Protocol):
    def add_item_vectors(
        self, model: str, vectors: Sequence[tuple[int, bytes, int]], now: datetime
    ) -> None: ...
    def get_item_vectors(self, model: str, ids: Sequence[int]) -> dict[int, bytes]: ...


def item_vectors(
    store: VectorStore,
    embedder: Embedder | None,
    items: Sequence[StoredItem],
    now: datetime,
) -> Vectors | None:
    """One row per item, in order, or None when semantic scoring is off."""
    if embedder is None or not items:
        return None
    model = embedder.model_name
    cached = store.get_item_vectors(model, [s.id for s in items])
    missing = [s for s in items if s.id not in cached]
    if missing:
        fresh = embedder.embed([embedding_text(s.item) for s in missing])
        rows = [
            (s.id, row.astype(np.float32).tobytes(), embedder.dim)
            for s, row in zip(missing, fresh, strict=True)
        ]
        store.add_item_vectors(model, rows, now)
        cached.update({item_id: blob for item_id, blob, _ in rows})
    return np.stack([np.frombuffer(cached[s.id], dtype=np.float32) for s in items])
