"""Learning from the analyst's verdicts: labels refine a thesis' rules, then a small model
decides (needs the semantic extra: scikit-learn, NumPy, an embedder).

A :class:`Label` says of one item, for some criteria of one thesis, whether it is evidence
(``monitor feedback`` and Slack verdicts: the judged criterion only; labeled files: every
confirm/kill criterion). What is learned, per thesis (:func:`learn`):

1. **The prior, refined.** Items judged evidence for a criterion become its ``examples``
   (the latest :data:`MAX_EXAMPLES`), and items judged *not* evidence that the rules matched
   anyway become its ``counter_examples`` (:data:`MAX_COUNTERS`). The rule file's own
   examples stay first. Hybrid scoring then reads them as it reads a rule's examples, so
   one verdict already moves the scores, and the queries still decide what they decided.
2. **A decision model**, once the thesis has :data:`MIN_LABELED` labeled items with
   :data:`MIN_POSITIVE` positive pairs: a logistic regression over the pair features of
   :mod:`monitor.matching.evidence` (evidence, semantic, lexical, direction, query hit,
   keyword score, margin over the other criteria, a per-criterion bias) plus the evidence
   and semantic score normalised per criterion (:class:`CriterionNorms`: z-scores over the
   labeled items, and the z-scored margin), pooled over the thesis' confirm/kill criteria
   so a few labels per criterion suffice. Its features for
   the labeled items are computed *out of fold*: with the prior refined by the other folds'
   labels only, so an item never meets itself as an example. Its probabilities are
   out of fold too; the decision threshold is the one with the best out-of-fold F1 on a
   fixed grid, and a criterion fires when its probability reaches it and it is the thesis'
   most probable criterion for the item (or a second one reaches :data:`SECOND`).
3. **A choice with evidence.** Three candidates decide the thesis' confirm/kill criteria:
   the rules as written, the refined rules and the model. Each is scored on the labels
   (the written rules as they are, the other two out of fold, on the same folds) and the
   one with the best F1 decides, the simpler one on a tie (verdicts can make the rules
   worse: examples from a few items pull the semantic scores towards those items). Either
   way :class:`LearnedThesis` keeps, per criterion, the
   label counts and the out-of-fold precision and recall of what decides (shown by
   ``monitor theses``). The threshold is chosen on the folds it is measured on, so these
   figures are slightly optimistic; ``monitor eval --folds K`` measures honestly.

With no labels nothing changes. Learning never changes a thesis' digest: new verdicts
change how later items are matched, not the signals already found.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from monitor.matching.evidence import Features, PairTable
from monitor.types import Criterion, Item, Thesis

if TYPE_CHECKING:
    from monitor.matching.engine import Matcher
    from monitor.semantic.embedder import Embedder, Vectors

MIN_LABELED = 10  # labeled items of a thesis before a decision model is fitted
MIN_POSITIVE = 3  # positive (item, criterion) pairs among them, at least
FOLDS = 5
MAX_EXAMPLES = 40  # verdict texts added per criterion as examples, the latest
MAX_COUNTERS = 40
MAX_LABELS = 500  # labeled items per thesis used for learning, the latest (bounds a retrain)
EXAMPLE_CHARS = 400
SECOND = 0.8
THRESHOLDS = tuple(round(0.15 + 0.05 * i, 2) for i in range(12))  # 0.15 … 0.70
REGULARISATION = 1.0  # inverse L2 strength of the logistic regression


@dataclass(frozen=True)
class Label:
    """An intent: ``item`` is (True) or is not (False) evidence for these criteria."""

    thesis_id: str
    item: Item
    verdicts: Mapping[str, bool]
    origin: str = "verdict"  # verdict | labeled file


@dataclass(frozen=True)
class CriterionStats:
    positives: int
    negatives: int
    examples: int  # the rule file's own examples and counter-examples
    precision: float | None = None  # out of fold, of what decides; None: not measured
    recall: float | None = None


@dataclass(frozen=True)
class CriterionNorms:
    """Per-criterion normalisation: each criterion's evidence and semantic score as a
    z-score against their distribution over the thesis' labeled items (every item counts,
    whatever its label). Criteria whose sentences embed close to everything then stop
    looking strong, and the z-scored margin over the other criteria lets them compete on
    one scale. Appended to the pair features as three columns."""

    mean: npt.NDArray[np.float64]  # K x 2 (evidence, semantic)
    scale: npt.NDArray[np.float64]

    @classmethod
    def of(cls, features: Sequence[Features]) -> CriterionNorms:
        stacked = np.stack([f[:, :2] for f in features])  # items x K x 2
        scale = stacked.std(axis=0)
        scale[scale == 0] = 1.0
        return cls(stacked.mean(axis=0), scale)

    def extend(self, features: Features) -> Features:
        z = (features[:, :2] - self.mean) / self.scale
        count = len(features)
        best_other = np.array(
            [np.delete(z[:, 0], k).max() if count > 1 else 0.0 for k in range(count)]
        )
        return np.hstack([features, z, (z[:, 0] - best_other)[:, None]])


@dataclass(frozen=True)
class Decider:
    """A fitted decision model: standardised features -> probability, then the rule."""

    mean: npt.NDArray[np.float64]
    scale: npt.NDArray[np.float64]
    coef: npt.NDArray[np.float64]
    intercept: float
    threshold: float
    norms: CriterionNorms | None = None

    def probabilities(self, features: Features) -> npt.NDArray[np.float64]:
        if self.norms is not None:
            features = self.norms.extend(features)
        z = ((features - self.mean) / self.scale) @ self.coef + self.intercept
        result: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-z))
        return result

    def decide(self, features: Features) -> list[tuple[int, float]]:
        """(criterion position, probability) of the criteria that fire."""
        if not len(features):
            return []
        return [
            (k, round(float(p), 3)) for k, p in _fire(self.probabilities(features), self.threshold)
        ]


@dataclass(frozen=True)
class LearnedThesis:
    thesis: Thesis  # refined: verdicts added as examples and counter-examples
    decider: Decider | None
    stats: Mapping[str, CriterionStats]
    decides: str  # "rules" (as written) | "refined rules" | "model"
    why: str  # one line for `monitor theses`
    f1: Mapping[str, float] = field(default_factory=dict)  # out of fold, of each candidate


@dataclass
class Learning:
    """What was learned, by thesis id; hand it to :class:`~monitor.matching.engine.Matcher`."""

    theses: dict[str, LearnedThesis] = field(default_factory=dict)

    def refined(self, thesis: Thesis) -> Thesis:
        learned = self.theses.get(thesis.id)
        return learned.thesis if learned is not None else thesis

    def deciders(self) -> dict[str, Decider]:
        return {
            tid: lt.decider
            for tid, lt in self.theses.items()
            if lt.decider is not None and lt.decides == "model"
        }


MatcherFactory = Callable[[Sequence[Thesis], "Embedder"], "Matcher"]


def learn(
    theses: Sequence[Thesis],
    labels: Sequence[Label],
    embedder: Embedder,
    make_matcher: MatcherFactory,
) -> Learning:
    """Learn every thesis that has labels (see the module docstring)."""
    cached = embedder if isinstance(embedder, CachedEmbedder) else CachedEmbedder(embedder)
    by_thesis: dict[str, list[Label]] = {}
    for label in labels:
        by_thesis.setdefault(label.thesis_id, []).append(label)
    learning = Learning()
    for thesis in theses:
        scored = {c.id for c in thesis.criteria if c.polarity != "watch"}
        own = [
            replace(lab, verdicts={k: v for k, v in lab.verdicts.items() if k in scored})
            for lab in by_thesis.get(thesis.id, [])
        ]
        own = [lab for lab in own if lab.verdicts][-MAX_LABELS:]
        if own:
            learning.theses[thesis.id] = learn_thesis(thesis, own, cached, make_matcher)
    return learning


def learn_thesis(
    thesis: Thesis, labels: Sequence[Label], embedder: Embedder, make_matcher: MatcherFactory
) -> LearnedThesis:
    def table(rules: Thesis, subset: Sequence[Label]) -> PairTable:
        matcher = make_matcher([rules], embedder)
        items = [lab.item for lab in subset]
        return matcher.pair_table(items, embedder.embed(_texts(items)))[thesis.id]

    prior = table(thesis, labels)
    refined = refine(thesis, labels, prior)
    counts = _counts(thesis, labels)
    positives = sum(v for lab in labels for v in lab.verdicts.values())
    if len(labels) < MIN_LABELED or positives < MIN_POSITIVE:
        why = (
            f"{len(labels)} labeled item(s), {positives} positive: verdicts refine the "
            f"examples; a model needs {MIN_LABELED} items and {MIN_POSITIVE} positives"
        )
        return LearnedThesis(refined, None, counts, "refined rules", why)
    folds = _folds(labels)
    k_ids = prior.criterion_ids
    features: list[Features] = [np.zeros(0)] * len(labels)
    rules_fire: list[list[bool]] = [[]] * len(labels)
    for fold in sorted(set(folds)):
        inside = [lab for lab, f in zip(labels, folds, strict=True) if f != fold]
        outside = [i for i, f in enumerate(folds) if f == fold]
        inner_prior = table(thesis, inside)
        out = table(refine(thesis, inside, inner_prior), [labels[i] for i in outside])
        for i, feats, chosen in zip(outside, out.features, out.prior, strict=True):
            features[i], rules_fire[i] = feats, chosen
    truth = [[lab.verdicts.get(c) for c in k_ids] for lab in labels]
    probabilities = _out_of_fold_probabilities(features, truth, folds)
    threshold = max(
        THRESHOLDS,
        key=lambda t: (_f1(_decisions(probabilities, t), truth), -abs(t - 0.5)),
    )
    model_fire = _decisions(probabilities, threshold)
    decider = _fit(features, truth, threshold)
    written_fire = prior.prior
    candidates = [  # (F1, preference on ties, name, decisions): the simplest wins a tie
        (_f1(written_fire, truth), 2, "rules", written_fire),
        (_f1(rules_fire, truth), 1, "refined rules", rules_fire),
    ]
    if decider is not None:
        candidates.append((_f1(model_fire, truth), 0, "model", model_fire))
    _, _, decides, fired = max(candidates, key=lambda c: (c[0], c[1]))
    scores = ", ".join(f"{name} {f1:.2f}" for f1, _, name, _ in candidates)
    why = f"{decides} decide (out-of-fold F1 on the labels: {scores})"
    stats = _measured(counts, k_ids, fired, truth)
    return LearnedThesis(
        thesis if decides == "rules" else refined,
        decider,
        stats,
        decides,
        why,
        {name: round(f1, 3) for f1, _, name, _ in candidates},
    )


def refine(thesis: Thesis, labels: Sequence[Label], prior: PairTable) -> Thesis:
    """The thesis with verdicts added to its criteria's examples and counter-examples."""
    position = {cid: k for k, cid in enumerate(prior.criterion_ids)}
    criteria: list[Criterion] = []
    for criterion in thesis.criteria:
        k = position.get(criterion.id)
        if k is None:
            criteria.append(criterion)
            continue
        examples, counters = [], []
        for label, fired in zip(labels, prior.prior, strict=True):
            verdict = label.verdicts.get(criterion.id)
            text = label.item.text[:EXAMPLE_CHARS]
            if verdict is True:
                examples.append(text)
            elif verdict is False and fired[k]:
                counters.append(text)
        criteria.append(
            replace(
                criterion,
                examples=_unique(criterion.examples, examples[-MAX_EXAMPLES:]),
                counter_examples=_unique(criterion.counter_examples, counters[-MAX_COUNTERS:]),
            )
        )
    return replace(thesis, criteria=tuple(criteria))


# ------------------------------------------------------------------------------- helpers


class CachedEmbedder:
    """An embedder that remembers what it embedded (folds embed the same examples again).

    A call with any new text embeds the whole call as given, as the inner embedder would:
    int8 vectors move slightly with their batch companions, so a first call returns exactly
    what the inner embedder returns for it."""

    def __init__(self, embedder: Embedder) -> None:
        self.inner = embedder
        self.model_name = embedder.model_name
        self.dim = embedder.dim
        self._cache: dict[str, Any] = {}

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if any(t not in self._cache for t in texts):
            vectors = self.inner.embed(texts)
            for text, row in zip(texts, vectors, strict=True):
                self._cache.setdefault(text, row)
            return vectors
        return np.array([self._cache[t] for t in texts], dtype=np.float32)


def _texts(items: Sequence[Item]) -> list[str]:
    from monitor.semantic.embedder import embedding_text

    return [embedding_text(item) for item in items]


def _unique(first: Sequence[str], more: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*first, *more]))


def _folds(labels: Sequence[Label]) -> list[int]:
    return fold_numbers([lab.item.item_id for lab in labels], min(FOLDS, len(labels)))


def fold_numbers(keys: Sequence[str], folds: int) -> list[int]:
    """A fold (0 … folds-1) per key, fixed by a digest of the key: the same split in every
    run and on every machine, balanced in size."""
    digests = [hashlib.sha256(key.encode()).digest() for key in keys]
    order = sorted(range(len(keys)), key=lambda i: digests[i])
    result = [0] * len(keys)
    for rank, i in enumerate(order):
        result[i] = rank % max(1, folds)
    return result


def _counts(thesis: Thesis, labels: Sequence[Label]) -> dict[str, CriterionStats]:
    return {
        c.id: CriterionStats(
            positives=sum(lab.verdicts.get(c.id) is True for lab in labels),
            negatives=sum(lab.verdicts.get(c.id) is False for lab in labels),
            examples=len(c.examples) + len(c.counter_examples),
        )
        for c in thesis.criteria
        if c.polarity != "watch"
    }


Truth = Sequence[Sequence[bool | None]]


def _pairs(features: Sequence[Features], truth: Truth, rows: Sequence[int]) -> tuple[Any, Any]:
    x = [features[i][k] for i in rows for k, t in enumerate(truth[i]) if t is not None]
    y = [bool(t) for i in rows for t in truth[i] if t is not None]
    return np.array(x), np.array(y)


def _fit(features: Sequence[Features], truth: Truth, threshold: float) -> Decider | None:
    """A logistic regression over the known pairs; None when they are all of one class."""
    from sklearn.linear_model import LogisticRegression

    norms = CriterionNorms.of(features)
    x, y = _pairs([norms.extend(f) for f in features], truth, range(len(features)))
    if len(set(y.tolist())) < 2:
        return None
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=REGULARISATION, max_iter=2000)
    model.fit((x - mean) / scale, y)
    coef = model.coef_[0].astype(np.float64)
    return Decider(mean, scale, coef, float(model.intercept_[0]), threshold, norms)


def _out_of_fold_probabilities(
    features: Sequence[Features], truth: Truth, folds: Sequence[int]
) -> list[npt.NDArray[np.float64]]:
    result: list[npt.NDArray[np.float64]] = [np.zeros(len(t)) for t in truth]
    for fold in sorted(set(folds)):
        inside = [i for i, f in enumerate(folds) if f != fold]
        decider = _fit([features[i] for i in inside], [truth[i] for i in inside], 0.5)
        for i, f in enumerate(folds):
            if f == fold and decider is not None:
                result[i] = decider.probabilities(features[i])
    return result


def _fire(probabilities: npt.NDArray[np.float64], threshold: float) -> list[tuple[int, float]]:
    """Top-1 within the thesis, unless a second criterion is clearly supported too."""
    best = int(np.argmax(probabilities))
    return [
        (k, float(p))
        for k, p in enumerate(probabilities.tolist())
        if p >= threshold and (k == best or p >= max(SECOND, threshold))
    ]


def _decisions(
    probabilities: Sequence[npt.NDArray[np.float64]], threshold: float
) -> list[list[bool]]:
    result = []
    for p in probabilities:
        fired = {k for k, _ in _fire(p, threshold)} if len(p) else set()
        result.append([k in fired for k in range(len(p))])
    return result


def _confusion(
    fired: Sequence[Sequence[bool]], truth: Truth, k: int | None = None
) -> tuple[int, int, int]:
    tp = fp = fn = 0
    for row, wanted in zip(fired, truth, strict=True):
        for j, (got, want) in enumerate(zip(row, wanted, strict=True)):
            if want is None or (k is not None and j != k):
                continue
            tp += got and want
            fp += got and not want
            fn += want and not got
    return tp, fp, fn


def _f1(fired: Sequence[Sequence[bool]], truth: Truth) -> float:
    tp, fp, fn = _confusion(fired, truth)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _measured(
    counts: Mapping[str, CriterionStats],
    ids: Sequence[str],
    fired: Sequence[Sequence[bool]],
    truth: Truth,
) -> dict[str, CriterionStats]:
    stats = dict(counts)
    for k, cid in enumerate(ids):
        tp, fp, fn = _confusion(fired, truth, k)
        stats[cid] = replace(
            counts[cid],
            precision=tp / (tp + fp) if tp + fp else None,
            recall=tp / (tp + fn) if tp + fn else None,
        )
    return stats
