"""What the sentence-transformers adapters share: offline loading, the int8 ONNX export and
the ONNX Runtime embedder (used by :mod:`monitor.semantic.minilm` and
:mod:`monitor.semantic.mpnet`).

Decisions:

* Loading never touches the network: the Hugging Face hub is switched offline through
  ``os.environ`` (only variables that are unset), just before the first import of
  sentence-transformers; the model is read from a local folder.
* The ONNX path exports the model's transformer + mean pooling with *eager* attention (a
  third fewer nodes than PyTorch's fused-attention graph, whose masking adds ``Where`` and
  ``IsNaN`` nodes; the same float vectors), then quantises the weights dynamically to int8,
  per output channel and with 7-bit range (``reduce_range``). The 7-bit range matters on
  CPUs without VNNI (this one: AVX2), whose int8 kernels add pairs of products in 16 bits,
  which full-range weights overflow: on the dev items MiniLM's cosine to float was 0.958
  per tensor, 0.08 per channel with full range and 0.992 per channel with 7 bits, at the
  same speed. Fusing the graph with ONNX Runtime's transformer optimiser (one attention
  node per layer) gained ~3% and cost 440 MiB of peak memory at load, so it is not done.
* :class:`OnnxEmbedder` tokenises a whole call at once with the fast (Rust) tokenizer,
  orders the texts by token count and runs batches of :data:`ONNX_BATCH_SIZE`, so a batch
  pads to almost nothing; rows come back L2-normalised in the caller's order. Texts of equal
  token count are ordered by text, so a text's batch companions (which move its int8 vector
  very slightly, since activations are quantised per batch) do not depend on input order.
* Sessions use one intra-op thread per core this process may run on, and their threads do
  not spin while waiting for work: on a quiet 2-core machine spinning or not were within
  noise, but with other processes wanting the CPU (load ~4) spinning threads embedded
  ~30% fewer items per second (31 vs 42 items/s), and a daemon shares the CPU with its own
  fetch threads.
* Everything heavy (torch, sentence-transformers, onnxruntime) is imported inside functions,
  so importing this module costs nothing and the daemon runs without the extra.
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

TORCH_BATCH_SIZE = 64  # float torch path
ONNX_BATCH_SIZE = 16  # int8 path: measured best of 8/16/32/64 on 2 cores
ONNX_OPSET = 17
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")  # in the graph's order
PER_CHANNEL = True  # int8 scales per output channel (with 7-bit weights, see the decisions)


class SemanticUnavailable(MonitorError):
    """The semantic extra is not installed or its model cannot be loaded (``reason`` says)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


# ------------------------------------------------------------------------------ loading


def not_installed(error: ImportError, what: str = "semantic scoring is off") -> SemanticUnavailable:
    """The error for a package of the ``semantic`` extra that does not import."""
    return SemanticUnavailable(
        f"{what}: {error.name or 'a package'} is not installed "
        "(install the extra: pip install 'signal-monitor[semantic]')"
    )


def go_offline(environ: MutableMapping[str, str] | None = None) -> None:
    """Switch the Hugging Face hub offline (variables already set are left alone)."""
    env = os.environ if environ is None else environ
    for name in OFFLINE_VARIABLES:
        env.setdefault(name, "1")


def open_sentence_transformer(path: Path, name: str) -> Any:
    """The SentenceTransformer in folder ``path`` on the CPU; SemanticUnavailable if not."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        raise not_installed(error) from error
    try:
        from transformers.utils import logging as transformers_logging

        # a daemon's stderr is a log, not a terminal: no "Loading weights" progress bar
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        model = SentenceTransformer(str(path), device="cpu")
    except Exception as error:  # the library raises many kinds; all mean "no model"
        raise SemanticUnavailable(
            f"semantic scoring is off: cannot load {name} from {path}: {error}"
        ) from error
    logger.info("loaded %s from %s", name, path)
    return model


def package_folders(name: str, search_path: Sequence[str] | None = None) -> list[Path]:
    """The folders of the installed package ``name`` without importing it (model packages
    may not be importable: hyphens in their names, or dependencies not installed); with
    ``search_path``, of the package found in those folders instead. Empty when absent."""
    from importlib.machinery import PathFinder
    from importlib.util import find_spec

    spec = find_spec(name) if search_path is None else PathFinder.find_spec(name, search_path)
    return [Path(f) for f in (spec.submodule_search_locations or [])] if spec else []


def embedder_for(
    model: Any,
    *,
    onnx_name: str,
    float_name: str,
    onnx: bool = True,
    int8: bool = True,
) -> TorchEmbedder | OnnxEmbedder:
    """``model`` through ONNX Runtime (int8 weights unless ``int8`` is False; named
    ``onnx_name``), or as float torch (``float_name``) when ``onnx`` is False, onnxruntime is
    missing or the export fails (both with a warning)."""
    if not onnx:
        return TorchEmbedder(model, float_name)
    try:
        import onnxruntime  # noqa: F401
        from onnxruntime.quantization import quantize_dynamic  # noqa: F401
    except ImportError as error:
        logger.warning(
            "onnxruntime is not installed (%s): embedding with the slower float model", error.name
        )
        return TorchEmbedder(model, float_name)
    try:
        embedder = onnx_embedder(model, onnx_name, int8=int8)
    except Exception as error:  # torch's exporter and onnxruntime raise many kinds
        logger.warning("cannot build the ONNX model (%s): using the float model", error)
        return TorchEmbedder(model, float_name)
    logger.info("built %s with ONNX Runtime", onnx_name)
    return embedder


# ---------------------------------------------------------------------------- embedders


class TorchEmbedder:
    """An :class:`~monitor.semantic.embedder.Embedder` over a loaded SentenceTransformer
    (float32 torch; the reference an int8 embedder is checked against)."""

    def __init__(self, model: Any, model_name: str) -> None:
        self._model = model
        self.model_name = model_name
        self.dim = dimension(model)

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return empty(self.dim)
        rows = self._model.encode(
            list(texts),
            batch_size=TORCH_BATCH_SIZE,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalise_rows(rows)


class OnnxEmbedder:
    """An :class:`~monitor.semantic.embedder.Embedder` over an ONNX Runtime session whose
    graph maps token ids (and attention mask, and token types when it takes them) to
    mean-pooled vectors. ``tokenizer`` is a ``tokenizers.Tokenizer`` that truncates to the
    model's limit and does not pad."""

    def __init__(
        self,
        session: Any,
        tokenizer: Any,
        *,
        model_name: str,
        dim: int,
        inputs: Sequence[str],
        pad_id: int,
        batch_size: int = ONNX_BATCH_SIZE,
    ) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self.model_name = model_name
        self.dim = dim
        self._inputs = tuple(inputs)
        self._pad_id = pad_id
        self._batch_size = batch_size

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """The word-piece ids the model reads for each text (special tokens included)."""
        return [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts))]

    def embed(self, texts: Sequence[str]) -> Vectors:
        import numpy as np

        if not texts:
            return empty(self.dim)
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: (len(encodings[i].ids), texts[i]))
        rows = np.empty((len(texts), self.dim), dtype=np.float32)
        for chosen in self._batches([len(encodings[i].ids) for i in order]):
            picked = [order[k] for k in chosen]
            rows[picked] = self._session.run(None, self._feed([encodings[i] for i in picked]))[0]
        return normalise_rows(rows)

    def _batches(self, lengths: Sequence[int]) -> Iterator[range]:
        """Consecutive runs of the sorted ``lengths``: at most ``batch_size`` texts, the
        longest at most twice the shortest (so a short text is neither padded much nor
        quantised with much longer companions)."""
        start = 0
        while start < len(lengths):
            end = start + 1
            while (
                end < len(lengths)
                and end - start < self._batch_size
                and lengths[end] <= 2 * lengths[start]
            ):
                end += 1
            yield range(start, end)
            start = end

    def _feed(self, batch: Sequence[Any]) -> dict[str, Any]:
        import numpy as np

        width = max(len(encoding.ids) for encoding in batch)
        ids = np.full((len(batch), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        types = np.zeros((len(batch), width), dtype=np.int64)
        for row, encoding in enumerate(batch):
            count = len(encoding.ids)
            ids[row, :count] = encoding.ids
            mask[row, :count] = 1
            types[row, :count] = encoding.type_ids
        arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return {name: arrays[name] for name in self._inputs}


# ------------------------------------------------------------------------ int8 export


def onnx_embedder(model: Any, model_name: str, *, int8: bool = True) -> OnnxEmbedder:
    """Export ``model``'s transformer + mean pooling to ONNX, quantise its weights to int8
    (unless ``int8`` is False) and open a session (all in a temporary folder)."""
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if not _mean_pooled(model):
        raise ValueError("only mean-pooled models are exported")
    inputs = [name for name in INPUT_NAMES if name in model.tokenizer.model_input_names]
    with tempfile.TemporaryDirectory(prefix="monitor-onnx-") as folder:
        graph = Path(folder) / "float.onnx"
        export_mean_pooled(model, graph, inputs)
        if int8:
            quantised = Path(folder) / "int8.onnx"
            with _quiet_quantiser():
                quantize_dynamic(
                    graph,
                    quantised,
                    weight_type=QuantType.QInt8,
                    per_channel=PER_CHANNEL,
                    reduce_range=True,
                )
            graph = quantised
        session = onnxruntime.InferenceSession(
            graph.read_bytes(), session_options(), providers=["CPUExecutionProvider"]
        )
    return OnnxEmbedder(
        session,
        fast_tokenizer(model.tokenizer, model.max_seq_length),
        model_name=model_name,
        dim=dimension(model),
        inputs=inputs,
        pad_id=int(model.tokenizer.pad_token_id or 0),
    )


def _mean_pooled(model: Any) -> bool:
    """Whether ``model`` is a transformer followed by mean pooling (and maybe normalisation),
    which is what :func:`export_mean_pooled` writes."""
    if len(model) < 2 or not hasattr(model[1], "get_config_dict"):
        return False
    config = model[1].get_config_dict()
    mode = config.get("pooling_mode")  # sentence-transformers 6: "mean"; before: flags
    if mode is not None:
        return mode == "mean" or list(mode) == ["mean"]
    flags = {key: value for key, value in config.items() if key.startswith("pooling_mode_")}
    return flags.pop("pooling_mode_mean_tokens", False) is True and not any(flags.values())


def session_options(threads: int | None = None) -> Any:
    """ONNX Runtime options: ``threads`` intra-op threads (default: the cores this process may
    run on), no spinning, every graph optimisation."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def fast_tokenizer(tokenizer: Any, max_tokens: int) -> Any:
    """A copy of ``tokenizer``'s Rust tokenizer that truncates to ``max_tokens`` word pieces
    (special tokens included) and does not pad; ValueError for a slow (Python) tokenizer."""
    from tokenizers import Tokenizer

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ValueError(f"{type(tokenizer).__name__} has no fast tokenizer")
    copy = Tokenizer.from_str(backend.to_str())
    copy.no_padding()
    copy.enable_truncation(max_length=max_tokens)
    return copy


def export_mean_pooled(model: Any, path: Path, inputs: Sequence[str]) -> None:
    """Write ``model``'s transformer + mean pooling (no normalisation) as an ONNX graph with
    the given ``inputs`` (a prefix-free subset of :data:`INPUT_NAMES`) and one output."""
    import torch
    from torch.jit._trace import TracerWarning

    class MeanPooled(torch.nn.Module):
        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *tensors: Any) -> Any:
            named = dict(zip(inputs, tensors, strict=True))
            hidden = self.transformer(**named).last_hidden_state
            mask = named["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    transformer = model[0].auto_model
    wrapped = MeanPooled(transformer).eval()
    # Two texts of different length, so the traced graph keeps the padding mask.
    example = model.tokenizer(
        ["a short text", "a longer text that needs more word pieces than the other"],
        padding=True,
        return_tensors="pt",
    )
    axes = {name: {0: "batch", 1: "tokens"} for name in inputs}
    with (
        warnings.catch_warnings(),
        torch.inference_mode(),
        _attention(transformer, "eager"),
    ):
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
            tuple(example[name] for name in inputs),
            str(path),
            input_names=list(inputs),
            output_names=["embedding"],
            dynamic_axes={**axes, "embedding": {0: "batch"}},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )


@contextmanager
def _attention(transformer: Any, implementation: str) -> Iterator[None]:
    """Run with ``transformer``'s attention implementation switched, then switch it back."""
    setter = getattr(transformer, "set_attn_implementation", None)
    before = getattr(transformer.config, "_attn_implementation", None)
    if setter is None or before is None:
        yield
        return
    setter(implementation)
    try:
        yield
    finally:
        setter(before)


@contextmanager
def _quiet_quantiser() -> Iterator[None]:
    """Keep the quantiser's chatter out of the log: it reports tensors at INFO through the
    *root* logger (which also installs a stderr handler when the root has none) and advises
    "pre-processing", whose shape inference fails on these graphs (the quantised model is
    checked by the tests instead). Its warnings and errors still go through."""
    import onnxruntime

    package = str(Path(onnxruntime.__file__).parent)
    root = logging.getLogger()
    added = logging.NullHandler() if not root.handlers else None

    def keep(record: logging.LogRecord) -> bool:
        if "pre-process" in record.getMessage():
            return False
        return record.levelno >= logging.WARNING or not record.pathname.startswith(package)

    if added is not None:
        root.addHandler(added)
    handlers = list(root.handlers)
    for handler in handlers:
        handler.addFilter(keep)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(keep)
        if added is not None:
            root.removeHandler(added)


def dimension(model: Any) -> int:
    dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else None
    if dim is None:
        dim = model.get_sentence_embedding_dimension()
    return int(dim)


def empty(dim: int) -> Vectors:
    import numpy as np

    return np.zeros((0, dim), dtype=np.float32)
