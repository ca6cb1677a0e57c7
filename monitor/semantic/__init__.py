"""Semantic scoring: the embedding port, the model adapters and how to load them.

The default embedder is all-MiniLM-L6-v2 quantised to int8 per output channel and run by
ONNX Runtime (:data:`MODEL_NAME` ``all-MiniLM-L6-v2-int8pc``; see :mod:`monitor.semantic.minilm`);
``MONITOR_MODEL=mpnet`` chooses all-mpnet-base-v2 instead (:mod:`monitor.semantic.mpnet`,
the ``mpnet`` extra). The optional cross-encoder re-ranker is :mod:`monitor.semantic.rerank`.

``load_embedder()`` gives an :class:`Embedder` or None (keyword-only), and
``semantic_status()`` the same plus a sentence for ``monitor check``. The model is loaded once
per process and cached; nothing heavy is imported before the first call.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from monitor.errors import ConfigError
from monitor.semantic.embedder import (
    EMBEDDING_CHARS,
    Embedder,
    embedding_text,
    normalise_rows,
)
from monitor.semantic.minilm import (
    FLOAT_MODEL_NAME,
    MODEL_NAME,
    load_minilm,
)
from monitor.semantic.runtime import SemanticUnavailable

logger = logging.getLogger(__name__)

__all__ = [
    "EMBEDDING_CHARS",
    "FLOAT_MODEL_NAME",
    "MODEL_NAME",
    "Embedder",
    "SemanticUnavailable",
    "embedding_text",
    "load_embedder",
    "load_model",
    "normalise_rows",
    "semantic_status",
]


def load_model(model: str, cache: Path | None = None) -> Embedder:
    """The embedder of ``model`` (``minilm`` or ``mpnet``, as ``MONITOR_MODEL`` names them;
    ``cache`` is where mpnet is extracted); SemanticUnavailable saying why not."""
    if model == "minilm":
        return load_minilm()
    if model == "mpnet":
        from monitor.semantic.mpnet import load_mpnet
        from monitor.settings import model_cache_dir

        return load_mpnet(cache or model_cache_dir(os.environ))
    raise SemanticUnavailable(f"semantic scoring is off: unknown model {model!r}")


def semantic_status(environ: Mapping[str, str] | None = None) -> tuple[Embedder | None, str]:
    """``(embedder, reason)``: the embedder ``MONITOR_MODEL`` chooses (in ``environ``, default
    ``os.environ``) and "semantic scoring on (model)", or None and why semantic scoring is off.
    Cached: each model loads at most once per process."""
    from monitor.settings import model_cache_dir, model_choice

    env = os.environ if environ is None else environ
    try:
        model = model_choice(env)
    except ConfigError as error:
        return None, f"semantic scoring is off: {error}"
    # only mpnet is unpacked into the cache folder: MiniLM loads once whatever the data dir
    return _status(model, model_cache_dir(env) if model == "mpnet" else None)


@lru_cache(maxsize=4)
def _status(model: str, cache: Path | None) -> tuple[Embedder | None, str]:
    try:
        embedder = load_model(model, cache)
    except SemanticUnavailable as error:
        logger.debug("%s", error.reason)  # the caller reports it (service log, check)
        return None, error.reason
    return embedder, f"semantic scoring on ({embedder.model_name}, CPU)"


def load_embedder(environ: Mapping[str, str] | None = None) -> Embedder | None:
    """The embedder, or None when the semantic extra is unavailable (see semantic_status)."""
    return semantic_status(environ)[0]
