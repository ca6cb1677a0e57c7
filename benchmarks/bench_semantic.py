"""Semantic scoring throughput: embed + hybrid-match items on the CPU, printed as items/s.

Run: ``python benchmarks/bench_semantic.py [N] [--float]`` (default 2,000 items). Items are
built from the labeled dev sets (cycled, each given a distinct id) and matched against both
shipped rule files and both briefs' automatic rules. Three lines are printed: embedding alone,
matching alone (hybrid, on those vectors) and end to end (embed + match in batches of 256, as
a poll cycle does). The default embedder is the daemon's (int8 ONNX); ``--float`` measures
the float torch model instead. The model load is not timed (it happens once per process).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.briefs import parse_brief  # noqa: E402
from monitor.matching.engine import Matcher  # noqa: E402
from monitor.rules.files import check_rule_files, expand_rule_paths  # noqa: E402
from monitor.semantic import embedding_text, semantic_status  # noqa: E402
from monitor.semantic.minilm import load_minilm  # noqa: E402
from monitor.types import Item  # noqa: E402

CORPUS = ROOT / "corpus"


def main(count: int, use_float: bool = False) -> None:
    embedder, reason = semantic_status()
    if embedder is None:
        raise SystemExit(f"cannot benchmark: {reason}")
    if use_float:
        embedder = load_minilm(quantised=False)
        reason = f"{embedder.model_name}, CPU"
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
    matcher = Matcher(theses, embedder=embedder, mode="hybrid")
    criteria = sum(len(t.criteria) for t in theses)
    texts = [embedding_text(item) for item in items]

    started = time.perf_counter()
    vectors = embedder.embed(texts)
    report("embedding alone", count, time.perf_counter() - started)

    started = time.perf_counter()
    matched = sum(len(m) for m in matcher.match_batch(items, vectors))
    report(f"hybrid matching alone ({criteria} criteria)", count, time.perf_counter() - started)

    started = time.perf_counter()
    matched = 0
    for start in range(0, count, 256):
        batch = items[start : start + 256]
        vectors = embedder.embed([embedding_text(item) for item in batch])
        matched += sum(len(m) for m in matcher.match_batch(batch, vectors))
    report("semantic end to end (embed + hybrid match)", count, time.perf_counter() - started)
    print(f"{matched} matches; {reason}")


def report(what: str, count: int, seconds: float) -> None:
    print(f"{what}: {count} items in {seconds:.2f} s = {count / seconds:.0f} items/s")


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--float"]
    main(int(arguments[0]) if arguments else 2000, use_float="--float" in sys.argv[1:])
