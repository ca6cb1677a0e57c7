"""The vectors of one thesis' criteria, and semantic scores of item vectors against them.

Built once per rule-set version by the :class:`~monitor.matching.engine.Matcher` (which
imports this module only when semantic scoring is on, so the keyword-only daemon needs no
numpy). Decisions:

* Every criterion sentence, example and counter-example is embedded in one batch.
* The thesis' *mean* vector (over sentences and examples) is partly removed from criterion
  and item vectors before the cosine (``ScoringSettings.centring``): the shared topic of a
  thesis carries no information about which criterion an item supports.
* The reported similarity (``Match.similarity``) is the plain cosine between item and
  criterion sentence, which a reader can interpret; the centred mix only ranks.
* The three settings used here are read through :class:`VectorSettings`, a Protocol the
  matcher's ``ScoringSettings`` satisfies as it is: ``semantic`` stays below ``matching`` (it
  imports nothing from it) without a second settings class to keep in step, and the matcher
  passes its settings unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from monitor.semantic.embedder import Embedder, normalise_rows
from monitor.types import Criterion

Row = npt.NDArray[np.float64]
Vectors = npt.NDArray[np.float32]


class VectorSettings(Protocol):
    """What semantic scoring reads of the matcher's settings (see the module docstring)."""

    @property
    def centring(self) -> float: ...  # how much of the thesis mean vector is removed

    @property
    def example_similarity_weight(self) -> float: ...  # share of the best example

    @property
    def counter_weight(self) -> float: ...  # how much a counter-example subtracts


@dataclass(frozen=True, eq=False)
class ThesisVectors:
    """Centred vectors of one thesis' criteria; build with :meth:`build`."""

    settings: VectorSettings
    dim: int
    mean: npt.NDArray[np.float32]
    sentences: Vectors  # centred, one row per criterion
    raw_sentences: Vectors  # plain, one row per criterion
    examples: tuple[Vectors, ...]
    counters: tuple[Vectors, ...]

    @classmethod
    def build(
        cls, criteria: Sequence[Criterion], embedder: Embedder, settings: VectorSettings
    ) -> ThesisVectors:
        texts = [c.text for c in criteria]
        for c in criteria:
            texts.extend(c.examples)
        for c in criteria:
            texts.extend(c.counter_examples)
        vectors = embedder.embed(texts)
        count = len(criteria)
        examples_end = count + sum(len(c.examples) for c in criteria)
        mean = vectors[:examples_end].mean(axis=0).astype(np.float32)
        centred = _centre(vectors, mean, settings.centring)
        examples: list[Vectors] = []
        offset = count
        for c in criteria:
            examples.append(centred[offset : offset + len(c.examples)])
            offset += len(c.examples)
        counters: list[Vectors] = []
        for c in criteria:
            counters.append(centred[offset : offset + len(c.counter_examples)])
            offset += len(c.counter_examples)
        return cls(
            settings=settings,
            dim=embedder.dim,
            mean=mean,
            sentences=centred[:count],
            raw_sentences=vectors[:count],
            examples=tuple(examples),
            counters=tuple(counters),
        )

    def score(self, items: Vectors) -> list[tuple[Row, Row]]:
        """Per item row: (semantic score per criterion, plain cosine per criterion).

        Vectorised over items: one matrix product per kind of text and one loop over the
        criteria (a handful), never over item x criterion. Same formula as
        :func:`monitor.matching.scoring.semantic_score`; a test keeps the two equal.
        """
        centred = _centre(items, self.mean, self.settings.centring)
        sentence = (centred @ self.sentences.T).astype(np.float64)
        raw = (items @ self.raw_sentences.T).astype(np.float64)
        scores = sentence.copy()
        weight = self.settings.example_similarity_weight
        for j, best in _best_per_criterion(centred, self.examples):
            scores[:, j] = (1 - weight) * sentence[:, j] + weight * best
        for j, best in _best_per_criterion(centred, self.counters):
            scores[:, j] -= self.settings.counter_weight * np.maximum(0.0, best - scores[:, j])
        return [(scores[row], raw[row]) for row in range(items.shape[0])]


def _best_per_criterion(
    centred: Vectors, groups: Sequence[Vectors]
) -> list[tuple[int, npt.NDArray[np.float64]]]:
    """``(criterion index, best similarity of each item to one of its texts)`` for every
    criterion that has texts in ``groups``; one matrix product for all of them."""
    owners = [j for j, group in enumerate(groups) if len(group)]
    if not owners:
        return []
    stacked = np.concatenate([groups[j] for j in owners])
    similarity = (centred @ stacked.T).astype(np.float64)
    starts = np.cumsum([0] + [len(groups[j]) for j in owners[:-1]])
    best = np.maximum.reduceat(similarity, starts, axis=1)
    return [(j, best[:, k]) for k, j in enumerate(owners)]


def item_matrix(vectors: object, count: int, dim: int) -> Vectors:
    """Item vectors as unit float32 rows; ValueError when they do not fit the batch/model."""
    matrix = normalise_rows(np.asarray(vectors, dtype=np.float32))
    if matrix.shape[0] != count:
        raise ValueError(f"{matrix.shape[0]} vectors for {count} items")
    if matrix.shape[1] != dim:
        raise ValueError(f"vectors have {matrix.shape[1]} dimensions, the model makes {dim}")
    return matrix


def _centre(vectors: Vectors, mean: npt.NDArray[np.float32], amount: float) -> Vectors:
    return normalise_rows(vectors - amount * mean)
