"""Measured matching quality: labeled items -> precision, recall and F1 per criterion.

The labeled format is ``corpus/eval/FORMAT.md``: one JSON object a line with ``id``,
``brief`` (the brief file the labels refer to), ``title``, ``summary`` and ``labels``
(criterion ids). Decisions:

* Only confirm/kill criteria are scored; watch criteria (a brief's unknowns) and labels that
  name no confirm/kill criterion of the thesis are ignored.
* Each item is scored against the thesis whose ``source_brief`` is the item's ``brief``
  (file name only); an item whose brief has no thesis is an error, not a silent zero.
* Micro-averaged over (item, criterion) pairs, as FORMAT.md says. A metric with a zero
  denominator is 0.
* Matching is the real :class:`~monitor.matching.engine.Matcher`; items are embedded here (the
  daemon stores vectors instead), in one batch per thesis.
* Learning (:mod:`monitor.matching.learn`): ``learn_from`` labeled items train the matcher as
  if they were verdicts (every confirm/kill criterion of the item's thesis is known), and the
  given items are scored; an item that is also among ``learn_from`` (same brief and id) is
  left out of training, so no item is scored by a model that saw it. With ``folds=K`` the
  given items are split into K folds (fixed by item id), and each fold is scored by a model
  trained on the other folds (plus ``learn_from``): K-fold cross-validation.
* Re-ranking: given a ``reranker`` (:mod:`monitor.semantic.rerank`), the matcher re-ranks its
  shortlists with it (``Matcher(reranker=...)``), in one call per thesis' batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from monitor.errors import ConfigError
from monitor.matching.engine import Matcher, Mode
from monitor.matching.learn import CachedEmbedder, Label, Learning, fold_numbers, learn
from monitor.semantic.embedder import Embedder, embedding_text
from monitor.semantic.rerank import Reranker
from monitor.textfile import read_text_file
from monitor.types import Item, Thesis

SCORED_POLARITIES = ("confirm", "kill")


@dataclass(frozen=True)
class LabeledItem:
    item: Item
    brief: str
    labels: frozenset[str]


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return _ratio(2 * p * r, p + r)

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
            "f1": round(self.f1, 3),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


@dataclass(frozen=True)
class Outcome:
    """One miss or false alarm: the item and the criterion it concerns."""

    item_id: str
    title: str
    thesis_id: str
    criterion_id: str

    def as_dict(self) -> dict[str, str]:
        return {
            "id": self.item_id,
            "title": self.title,
            "thesis": self.thesis_id,
            "criterion": self.criterion_id,
        }


@dataclass
class EvalReport:
    mode: str
    items: int = 0
    micro: Counts = field(default_factory=Counts)
    criteria: dict[str, Counts] = field(default_factory=dict)
    misses: list[Outcome] = field(default_factory=list)
    false_alarms: list[Outcome] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        micro = self.micro.as_dict()
        return {
            "mode": self.mode,
            "items": self.items,
            "micro": micro,
            "criteria": {key: counts.as_dict() for key, counts in self.criteria.items()},
            "misses": [o.as_dict() for o in self.misses],
            "false_alarms": [o.as_dict() for o in self.false_alarms],
        }


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


# --------------------------------------------------------------------------------- loading


def load_labeled(path: Path) -> list[LabeledItem]:
    """Read a labeled JSONL file; raise ConfigError naming the file and line of a bad row."""
    found: list[LabeledItem] = []
    lines = read_text_file(path, "labeled items file").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            labels = row.get("labels", [])
            if not isinstance(row, dict) or not isinstance(labels, list):
                raise TypeError("expected an object with a list of labels")
            item = Item(
                source=str(row.get("source", "")),
                item_id=str(row["id"]),
                title=str(row["title"]),
                summary=str(row.get("summary") or ""),
                link=row.get("link"),
            )
            found.append(LabeledItem(item, str(row["brief"]), frozenset(map(str, labels))))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ConfigError(f"not a labeled item: {error}", str(path), number) from error
    return found


# ------------------------------------------------------------------------------- evaluating


def thesis_for_briefs(
    items: Iterable[LabeledItem], theses: Sequence[Thesis], *, single: bool = False
) -> dict[str, Thesis]:
    """The thesis of each brief named by the items. With ``single`` (one thesis imported
    from a brief on the fly) that thesis serves every brief it was built from."""
    by_brief = {(t.source_brief or t.id): t for t in theses}  # no brief: the thesis id
    result: dict[str, Thesis] = {}
    for labeled in items:
        name = PurePath(labeled.brief).name
        thesis = by_brief.get(name)
        if thesis is None and single and len(theses) == 1:
            thesis = theses[0]
        if thesis is None:
            known = ", ".join(sorted(by_brief)) or "none"
            raise ConfigError(
                f"item {labeled.item.item_id}: no rules for brief {name!r} (rules cover: {known})"
            )
        result[labeled.brief] = thesis
    return result


def predict(
    items: Sequence[LabeledItem],
    theses: Sequence[Thesis],
    *,
    mode: Mode,
    embedder: Embedder | None = None,
    single: bool = False,
    matcher_factory: Any = Matcher,
    learning: Learning | None = None,
    reranker: Reranker | None = None,
) -> list[frozenset[str]]:
    """The criterion ids each item matches, using the thesis of its brief."""
    mapping = thesis_for_briefs(items, theses, single=single)
    predictions: list[frozenset[str]] = [frozenset()] * len(items)
    groups: dict[str, list[int]] = {}
    for index, labeled in enumerate(items):
        groups.setdefault(mapping[labeled.brief].id, []).append(index)
    for indexes in groups.values():
        thesis = mapping[items[indexes[0]].brief]
        extra: dict[str, Any] = {}
        if learning is not None:
            extra["learning"] = learning
        if reranker is not None:
            extra["reranker"] = reranker
        matcher = matcher_factory([thesis], embedder=embedder, mode=mode, **extra)
        batch = [items[i].item for i in indexes]
        vectors = None
        if mode != "keyword" and embedder is not None:
            vectors = embedder.embed([embedding_text(item) for item in batch])
        for index, matches in zip(indexes, matcher.match_batch(batch, vectors), strict=True):
            predictions[index] = frozenset(m.criterion_id for m in matches)
    return predictions


def score(
    items: Sequence[LabeledItem],
    predictions: Sequence[frozenset[str]],
    theses_by_brief: dict[str, Thesis],
    mode: str,
) -> EvalReport:
    """Compare predictions with labels over the confirm/kill criteria of each item's thesis."""
    report = EvalReport(mode=mode, items=len(items))
    several = len({t.id for t in theses_by_brief.values()}) > 1
    for labeled, predicted in zip(items, predictions, strict=True):
        thesis = theses_by_brief[labeled.brief]
        for criterion in thesis.criteria:
            if criterion.polarity not in SCORED_POLARITIES:
                continue
            key = f"{thesis.id}:{criterion.id}" if several else criterion.id
            counts = report.criteria.setdefault(key, Counts())
            wanted = criterion.id in labeled.labels
            found = criterion.id in predicted
            outcome = Outcome(labeled.item.item_id, labeled.item.title, thesis.id, criterion.id)
            if wanted and found:
                counts.tp += 1
                report.micro.tp += 1
            elif found:
                counts.fp += 1
                report.micro.fp += 1
                report.false_alarms.append(outcome)
            elif wanted:
                counts.fn += 1
                report.micro.fn += 1
                report.misses.append(outcome)
    report.criteria = dict(sorted(report.criteria.items(), key=lambda kv: _criterion_order(kv[0])))
    return report


def _criterion_order(key: str) -> tuple[str, int, str]:
    head, _, tail = key.rpartition(":")
    polarity, _, number = tail.partition("-")
    order = SCORED_POLARITIES.index(polarity) if polarity in SCORED_POLARITIES else 9
    return head, order, number.zfill(4)


def evaluate(
    items: Sequence[LabeledItem],
    theses: Sequence[Thesis],
    *,
    mode: Mode,
    embedder: Embedder | None = None,
    single: bool = False,
    learn_from: Sequence[LabeledItem] = (),
    folds: int | None = None,
    reranker: Reranker | None = None,
) -> EvalReport:
    """Match the items with the real matcher and score the result; with ``learn_from`` or
    ``folds``, with a matcher that learned from labels first (see the module docstring)."""
    mapping = thesis_for_briefs([*items, *learn_from], theses, single=single)
    if not learn_from and not folds:
        plain = predict(
            items, theses, mode=mode, embedder=embedder, single=single, reranker=reranker
        )
        return score(items, plain, mapping, mode)
    if embedder is None or mode == "keyword":
        raise ConfigError("learning from labels needs semantic scoring (the semantic extra)")
    embedder = CachedEmbedder(embedder)  # every fold embeds the same texts: once each
    scored = {(PurePath(i.brief).name, i.item.item_id) for i in items}
    training = [
        lab
        for lab in learn_from
        if (PurePath(lab.brief).name, lab.item.item_id) not in scored  # never score a seen item
    ]
    if folds is not None and folds < 2:
        raise ConfigError(f"--folds needs at least 2 folds, got {folds}")
    groups = fold_numbers([i.item.item_id for i in items], folds or 1)
    predictions: list[frozenset[str]] = [frozenset()] * len(items)
    for fold in sorted(set(groups)):
        inside = [i for i, g in zip(items, groups, strict=True) if g != fold] if folds else []
        labels = labels_for([*training, *inside], mapping)
        learning = learn(theses, labels, embedder, _learning_matcher(mode))
        outside = [n for n, g in enumerate(groups) if g == fold]
        found = predict(
            [items[n] for n in outside],
            theses,
            mode=mode,
            embedder=embedder,
            single=single,
            learning=learning,
            reranker=reranker,
        )
        for n, predicted in zip(outside, found, strict=True):
            predictions[n] = predicted
    return score(items, predictions, mapping, mode)


def labels_for(items: Sequence[LabeledItem], mapping: dict[str, Thesis]) -> list[Label]:
    """Labeled items as learning labels: every confirm/kill criterion of the thesis known."""
    labels = []
    for labeled in items:
        thesis = mapping[labeled.brief]
        verdicts = {
            c.id: c.id in labeled.labels for c in thesis.criteria if c.polarity in SCORED_POLARITIES
        }
        labels.append(Label(thesis.id, labeled.item, verdicts, origin="labeled file"))
    return labels


def _learning_matcher(mode: Mode) -> Any:
    def make(theses: Sequence[Thesis], embedder: Embedder) -> Matcher:
        return Matcher(theses, embedder=embedder, mode=mode)

    return make


# ------------------------------------------------------------------------------- rendering


def format_table(report: EvalReport) -> str:
    """A plain-text report: per-criterion and micro P/R/F1, then misses and false alarms."""
    lines = [f"mode: {report.mode}   items: {report.items}", ""]
    width = max([len("criterion"), *(len(k) for k in report.criteria)])
    lines.append(f"{'criterion':<{width}}  precision  recall     f1   tp  fp  fn")
    rows = [*report.criteria.items(), ("micro", report.micro)]
    for key, c in rows:
        lines.append(
            f"{key:<{width}}  {c.precision:9.3f}  {c.recall:6.3f}  {c.f1:5.3f}  "
            f"{c.tp:3d} {c.fp:3d} {c.fn:3d}"
        )
    for name, outcomes in (("misses", report.misses), ("false alarms", report.false_alarms)):
        lines += ["", f"{name} ({len(outcomes)}):"]
        lines += [f"  {o.item_id}  {o.criterion_id:<10}  {o.title}" for o in outcomes]
    return "\n".join(lines)
