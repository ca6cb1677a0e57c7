"""The embedding port and what text of an item gets embedded (pure; no model here).

Decisions:

* An :class:`Embedder` returns float32 rows, L2-normalised, so cosine similarity is a dot
  product and stored vectors can be compared without the model.
* :func:`embedding_text` is the single definition of what is embedded for an item: its title
  and summary, cut to :data:`EMBEDDING_CHARS` characters. MiniLM reads at most 256 word pieces
  (about 1,000 characters); longer text only costs time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from monitor.types import Item

if TYPE_CHECKING:  # numpy comes with the semantic extra; importing this module needs none
    import numpy as np
    import numpy.typing as npt

    Vectors = npt.NDArray[np.float32]
else:
    Vectors = Any  # a 2-D float32 numpy array, one row per text (annotations only)

EMBEDDING_CHARS = 1000


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors.

    ``embed`` returns a ``(len(texts), dim)`` float32 array whose rows have L2 norm 1 (a row of
    zeros for an empty text). It raises nothing of its own on valid input; a broken model
    raises ``monitor.errors.MonitorError`` subclasses at load time, not here.
    """

    model_name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> Vectors: ...


def embedding_text(item: Item) -> str:
    """The text of ``item`` that is embedded and stored: title, then summary, capped."""
    return item.text[:EMBEDDING_CHARS]


def normalise_rows(matrix: Any) -> Vectors:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    import numpy as np

    array = np.asarray(matrix, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors, got shape {array.shape}")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    result: Vectors = (array / norms).astype(np.float32, copy=False)
    return result
