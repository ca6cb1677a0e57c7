"""The evidence of one item for one criterion, and the features learning reads from it (pure).

:class:`Evidence` is what hybrid scoring computes for an (item, criterion) pair (see
:mod:`monitor.matching.scoring`); :func:`pair_features` turns the evidence of one item for
the confirm/kill criteria of one thesis into one feature row per criterion, the input of the
learned model (:mod:`monitor.matching.learn`). Features, per criterion ``k`` of ``K``:

``evidence, semantic, plain cosine, lexical, direction agreement, query hit (0/1), keyword
score, evidence minus the best other criterion's, is-the-best (0/1)``, then a one-hot of
``k`` (a per-criterion bias). The competition between criteria of a thesis is thus in the
features, and the model learns how much each kind of evidence is worth for this thesis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Features = npt.NDArray[np.float64]
BASE_FEATURES = 9


@dataclass(frozen=True)
class Evidence:
    value: float  # lexical + semantic + direction, the hybrid "evidence"
    semantic: float  # centred mix of sentence, example and counter-example similarity
    raw: float  # plain cosine to the criterion sentence
    lexical: float
    agreement: float  # direction agreement, -1..1
    terms: tuple[str, ...] | None  # the query's matched terms; None: the query missed
    keyword: float  # keyword score of the query hit, 0 without one


@dataclass(frozen=True)
class PairTable:
    """One thesis, many items: its confirm/kill criterion ids, each item's feature rows
    (``K x F``) and whether the rule's prior (hybrid) chose each criterion."""

    criterion_ids: tuple[str, ...]
    features: list[Features]
    prior: list[list[bool]]


def pair_features(rows: Sequence[Evidence]) -> Features:
    """``K x (BASE_FEATURES + K)`` features of one item for ``K`` competing criteria."""
    count = len(rows)
    table = np.zeros((count, BASE_FEATURES + count), dtype=np.float64)
    if not count:
        return table
    values = np.array([r.value for r in rows])
    best = values.max()
    for k, row in enumerate(rows):
        others = np.delete(values, k)
        table[k, :BASE_FEATURES] = (
            row.value,
            row.semantic,
            row.raw,
            row.lexical,
            row.agreement,
            0.0 if row.terms is None else 1.0,
            row.keyword,
            row.value - (others.max() if len(others) else 0.0),
            1.0 if row.value >= best else 0.0,
        )
        table[k, BASE_FEATURES + k] = 1.0
    return table
