"""Semantic scoring: the embedding port, the MiniLM adapter and how to load it.

The default embedder is all-MiniLM-L6-v2 quantised to int8 and run by ONNX Runtime
(:data:`MODEL_NAME` ``all-MiniLM-L6-v2-int8``); see :mod:`monitor.semantic.minilm`.

``load_embedder()`` gives an :class:`Embedder` or None (keyword-only), and
``semantic_status()`` the same plus a sentence for ``monitor check``. The model is loaded once
per process and cached; nothing heavy is imported before the first call.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from monitor.semantic.embedder import (
    EMBEDDING_CHARS,
    Embedder,
    embedding_text,
    normalise_rows,
)
from monitor.semantic.minilm import (
    FLOAT_MODEL_NAME,
    MODEL_NAME,
    SemanticUnavailable,
    load_minilm,
)

logger = logging.getLogger(__name__)

__all__ = [
    "EMBEDDING_CHARS",
    "FLOAT_MODEL_NAME",
    "MODEL_NAME",
    "Embedder",
    "SemanticUnavailable",
    "embedding_text",
    "load_embedder",
    "normalise_rows",
    "semantic_status",
]


@lru_cache(maxsize=1)
def semantic_status() -> tuple[Embedder | None, str]:
    """``(embedder, reason)``: the loaded embedder and "semantic scoring on (model)", or None
    and why semantic scoring is off. Cached: the model loads at most once per process."""
    try:
        embedder = load_minilm()
    except SemanticUnavailable as error:
        logger.debug("%s", error.reason)  # the caller reports it (service log, check)
        return None, error.reason
    return embedder, f"semantic scoring on ({embedder.model_name}, CPU)"


def load_embedder() -> Embedder | None:
    """The embedder, or None when the semantic extra is unavailable (see semantic_status)."""
    return semantic_status()[0]
