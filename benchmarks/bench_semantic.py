"""Semantic scoring throughput: embed + hybrid-match items on the CPU, printed as items/s.

Run: ``python benchmarks/bench_semantic.py [N] [--model M] [--rerank] [--passes P]
[--separation]`` (default 2,000 items, model ``minilm``, 3 passes).

Items are built from the labeled dev sets (cycled, each given a distinct id) and matched
against both shipped rule files and both briefs' automatic rules. Printed, each the median of
P passes (with the fastest): embedding alone, matching alone (hybrid, on those vectors) and
end to end (embed + match in batches of 256, as a poll cycle does); then the model's load time
and the process's peak RSS. Models: ``minilm`` (the daemon's default, int8 ONNX),
``minilm-float`` (float torch; ``--float`` is the old spelling), ``mpnet`` (float ONNX,
needs the ``mpnet`` extra; extracted into ``$MONITOR_DATA_DIR/models`` on first use) and
``mpnet-torch``. Run one model per process so the RSS is that model's.

``--rerank`` matches with the ms-marco cross-encoder (the ``rerank`` extra) re-ranking each
thesis' shortlist (``Matcher(reranker=...)``, one ``score`` call per batch): the matching
alone and end-to-end lines then include re-ranking, and further lines report the
construction time (the per-criterion reference logits), the shortlisted pairs per item and
the cross-encoder's pairs/s on them.

``--separation`` prints, per dev set and for the brief's automatic criteria, how well the
model's plain cosine (item, criterion sentence) separates labeled pairs from the others:
ROC AUC over all (item, criterion) pairs and the share of labeled items whose best criterion
is one of their labels; with ``--rerank``, the same for the cross-encoder's logit. Nothing is
tuned: no threshold is involved. The model load is never timed in the throughput lines.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.briefs import parse_brief  # noqa: E402
from monitor.matching.engine import Matcher  # noqa: E402
from monitor.rules.files import check_rule_files, expand_rule_paths  # noqa: E402
from monitor.semantic import Embedder, embedding_text  # noqa: E402
from monitor.types import Item  # noqa: E402

CORPUS = ROOT / "corpus"
MODELS = ("minilm", "minilm-float", "mpnet", "mpnet-torch")


def load(model: str) -> Embedder:
    import os

    from monitor.semantic.minilm import load_minilm
    from monitor.semantic.mpnet import load_mpnet
    from monitor.settings import model_cache_dir

    if model.startswith("minilm"):
        return load_minilm(quantised=model == "minilm")
    return load_mpnet(model_cache_dir(os.environ), onnx=model == "mpnet")


def main(count: int, model: str, passes: int, rerank: bool, separation: bool) -> None:
    started = time.perf_counter()
    embedder = load(model)
    loaded = time.perf_counter() - started
    reranker = None
    if rerank:
        from monitor.semantic.rerank import load_ms_marco

        reranker = load_ms_marco()
    if separation:
        report_separation(embedder, reranker)
        return
    rows = [
        json.loads(line)
        for path in sorted((CORPUS / "eval").glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    base = [
        Item(source=r["source"], item_id=r["id"], title=r["title"], summary=r["summary"])
        for r in rows
    ]
    items = [replace(base[i % len(base)], item_id=str(i)) for i in range(count)]
    theses, _ = check_rule_files(expand_rule_paths([ROOT / "rules"]))
    for brief in sorted((CORPUS / "briefs").glob("*.txt")):
        auto = parse_brief(brief.read_text(encoding="utf-8"), str(brief))
        theses.append(replace(auto, id=auto.id + "-auto"))
    built = time.perf_counter()
    matcher = Matcher(theses, embedder=embedder, mode="hybrid", reranker=reranker)
    built = time.perf_counter() - built
    criteria = sum(len(t.criteria) for t in theses)
    vectors = embedder.embed([embedding_text(item) for item in items])

    def embed_all() -> None:
        embedder.embed([embedding_text(item) for item in items])

    def match_all() -> None:
        matcher.match_batch(items, vectors)

    def end_to_end() -> None:
        for start in range(0, count, 256):
            batch = items[start : start + 256]
            matcher.match_batch(batch, embedder.embed([embedding_text(i) for i in batch]))

    counter = _Counting(reranker)
    if reranker is not None:
        matcher.reranker = counter  # count the shortlisted pairs of one pass
    matched = sum(len(m) for m in matcher.match_batch(items, vectors))
    matcher.reranker = reranker
    others = OtherLoad()
    report("embedding alone", count, timed(embed_all, passes))
    what = f"hybrid matching alone ({criteria} criteria"
    what += ", re-ranking each thesis' shortlist)" if reranker is not None else ")"
    report(what, count, timed(match_all, passes))
    what = "semantic end to end (embed + hybrid match"
    what += " + re-ranking)" if reranker is not None else ")"
    report(what, count, timed(end_to_end, passes))
    if reranker is not None:
        print(
            f"re-ranking: matcher built in {built:.1f} s (reference logits); "
            f"{counter.pairs} shortlisted pairs = {counter.pairs / count:.2f} per item "
            f"in {counter.calls} score call(s)"
        )
        pairs = counter.last
        report("re-ranking alone (pairs)", len(pairs), timed(lambda: reranker.score(pairs), passes))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{matched} matches; {embedder.model_name}, CPU; {passes} passes")
    print(f"model load {loaded:.1f} s; peak RSS {peak:.0f} MiB; {others.line()}")


class _Counting:
    """Wraps a re-ranker to count the pairs the matcher sends it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model_name = getattr(inner, "model_name", "")
        self.calls = 0
        self.pairs = 0
        self.last: list[tuple[str, str]] = []

    def score(self, pairs: Sequence[tuple[str, str]]) -> Any:
        self.calls += 1
        self.pairs += len(pairs)
        self.last = list(pairs)
        return self.inner.score(pairs)


class OtherLoad:
    """CPU used by other processes while the benchmark ran, in cores (from /proc/stat, less
    this process's own CPU time), so a reader can tell a quiet run from a contended one."""

    def __init__(self) -> None:
        self._started = time.perf_counter()
        self._busy = _busy_seconds()
        self._own = _own_seconds()

    def line(self) -> str:
        busy = _busy_seconds()
        if busy is None or self._busy is None:
            return "other load unknown"
        wall = time.perf_counter() - self._started
        other = (busy - self._busy) - (_own_seconds() - self._own)
        return f"other processes used {max(0.0, other) / wall:.2f} cores meanwhile"


def _busy_seconds() -> float | None:
    import os

    try:
        fields = Path("/proc/stat").read_text().split("\n")[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(run: Callable[[], object], passes: int) -> list[float]:
    seconds = []
    for _ in range(passes):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return seconds


def report(what: str, count: int, seconds: Sequence[float]) -> None:
    median = statistics.median(seconds)
    print(
        f"{what}: {count} in {median:.2f} s = {count / median:.0f}/s median "
        f"({count / min(seconds):.0f}/s fastest of {len(seconds)})"
    )


def report_separation(embedder: Embedder, reranker: Any) -> None:
    import numpy as np

    for path in sorted((CORPUS / "eval").glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        brief = CORPUS / "briefs" / rows[0]["brief"]
        thesis = parse_brief(brief.read_text(encoding="utf-8"), str(brief))
        criteria = thesis.criteria
        items = [
            Item(source=r["source"], item_id=r["id"], title=r["title"], summary=r["summary"])
            for r in rows
        ]
        labels = np.array([[c.id in r["labels"] for c in criteria] for r in rows])
        item_vectors = embedder.embed([embedding_text(i) for i in items])
        criterion_vectors = embedder.embed([c.text for c in criteria])
        scores = {"cosine": item_vectors @ criterion_vectors.T}
        if reranker is not None:
            pairs = [(c.text, embedding_text(i)) for i in items for c in criteria]
            scores["cross-encoder"] = reranker.score(pairs).reshape(len(items), len(criteria))
        for name, matrix in scores.items():
            labeled = labels.any(axis=1)
            best = matrix.argmax(axis=1)
            top1 = labels[np.arange(len(items)), best][labeled].mean()
            print(
                f"{path.name} ({len(items)} items x {len(criteria)} automatic criteria), "
                f"{name} of {embedder.model_name if name == 'cosine' else reranker.model_name}: "
                f"ROC AUC {auc(matrix.ravel(), labels.ravel()):.3f}, "
                f"best criterion is a label for {top1:.2f} of {labeled.sum()} labeled items"
            )


def auc(scores: Any, positive: Any) -> float:
    """ROC AUC: the chance that a random positive outscores a random negative (ties half)."""

    pos = scores[positive]
    neg = scores[~positive]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("count", nargs="?", type=int, default=2000)
    parser.add_argument("--model", choices=MODELS, default="minilm")
    parser.add_argument("--float", action="store_true", help="the same as --model minilm-float")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--rerank", action="store_true")
    parser.add_argument("--separation", action="store_true")
    options = parser.parse_args()
    main(
        options.count,
        "minilm-float" if options.float else options.model,
        options.passes,
        rerank=options.rerank,
        separation=options.separation,
    )
