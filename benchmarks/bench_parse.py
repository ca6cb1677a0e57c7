"""Benchmark: parse_feed on the fast path, on feedparser, and as routed (auto).

Run ``python benchmarks/bench_parse.py`` (no network, a few seconds). Options: ``--passes N``
(default 5) and ``--items N`` for the generated feed (default 25).

What it times, as CPU milliseconds per feed (the engines take turns within each pass), the
median of the passes:

* **corpus**: every file in ``corpus/feeds`` (``parse_feed`` with ``engine="auto"`` and
  ``"feedparser"``; bodies that are no feed raise ``ParseError`` and still count), and the
  XML files the fast path reads, on all three engines;
* **generated**: an ordinary RSS 2.0 feed (fixed seed) of 25 items with a title, a permalink
  guid, a link with tracking parameters, a date, an ``e-mail (Name)`` author, two categories
  and a paragraph or two of HTML description.

``parse_feed`` includes normalisation (HTML to text, link cleaning, ids), which is the same
for every engine, so the "read" rows also time the reading step alone: fastparse's
``read_fast`` against ``feedparser.parse`` plus the conversion to ``RawEntry``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.errors import ParseError
from monitor.feeds.fastparse import FastPathRefused, read_fast
from monitor.feeds.parse import Engine, _read_with_feedparser, parse_feed, parse_feed_detailed

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "feeds"
URL = "https://example.org/feed"
ENGINES: tuple[Engine, ...] = ("fast", "feedparser", "auto")
WORDS = [
    "market", "energy", "grid", "storage", "battery", "policy", "model", "release", "update",
    "price", "demand", "supply", "report", "analysis", "chip", "cloud", "inference", "latency",
    "outage", "incident", "recovery", "regulator", "vote",
]  # fmt: skip


def generated_feed(items: int, seed: int = 7) -> bytes:
    """An ordinary RSS 2.0 feed, as a CMS would publish it."""
    rng = random.Random(seed)
    entries = []
    for i in range(items):
        words = [rng.choice(WORDS) for _ in range(rng.randint(40, 90))]
        html = (
            f"<p>{' '.join(words[:30])}</p><p>{' '.join(words[30:])} <a href='/p/{i}'>more</a></p>"
        )
        entries.append(
            f"<item><title>{escape(' '.join(words[:8]).title())} &amp; more</title>"
            f"<link>https://example.org/posts/{i}?utm_source=rss&amp;utm_medium=feed</link>"
            f"<guid>https://example.org/posts/{i}</guid>"
            f"<pubDate>Mon, {i % 28 + 1:02d} Jan 2024 {i % 24:02d}:15:00 +0000</pubDate>"
            f"<author>writer{i % 5}@example.org (Writer {i % 5})</author>"
            f"<category>{rng.choice(WORDS)}</category><category>{rng.choice(WORDS)}</category>"
            f"<description>{escape(html)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Example</title>'
        "<link>https://example.org/</link><description>An example feed</description>"
        f"{''.join(entries)}</channel></rss>"
    ).encode()


def ms_per_feed(
    bodies: list[bytes], runners: dict[str, Callable[[bytes], object]], passes: int
) -> dict[str, float]:
    """Median over the passes of the mean CPU milliseconds per body, for each runner.

    The runners take turns within each pass, and CPU time is this process's own, so that
    other work on the machine disturbs the comparison as little as possible.
    """
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(passes):
        for name, run in runners.items():
            start = time.process_time()
            for body in bodies:
                with contextlib.suppress(ParseError):
                    run(body)
            times[name].append((time.process_time() - start) / len(bodies) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def engine(name: Engine) -> Callable[[bytes], object]:
    return lambda body: parse_feed(body, source="bench", url=URL, engine=name)


def read_feedparser(body: bytes) -> object:
    return [make() for make in _read_with_feedparser(body, head=body[:1024], url=URL,
                                                     content_type=None)]  # fmt: skip


def read_fastpath(body: bytes) -> object:
    return read_fast(body, url=URL, content_type=None)


def fast_readable(bodies: list[bytes]) -> list[bytes]:
    readable = []
    for body in bodies:
        try:
            if parse_feed_detailed(body, source="b", url=URL, engine="fast").engine == "fast":
                readable.append(body)
        except (FastPathRefused, ParseError):
            pass
    return readable


def row(label: str, count: int, fast: float | None, fp: float, auto: float | None) -> None:
    cells = [f"{v:8.3f}" if v is not None else "       -" for v in (fast, fp, auto)]
    best = auto if auto is not None else fast
    ratio = f"{fp / best:6.1f}x" if best else "      -"  # auto, or fast where auto is not run
    print(f"{label:<34}{count:>5}  {cells[0]}  {cells[1]}  {cells[2]}  {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--items", type=int, default=25)
    args = parser.parse_args()
    passes = args.passes
    logging.getLogger("monitor").setLevel(logging.ERROR)  # skipped entries, bozo feeds

    corpus = [p.read_bytes() for p in sorted(CORPUS.iterdir()) if p.name != "MANIFEST.tsv"]
    readable = fast_readable(corpus)
    routes: dict[str, int] = {}
    for body in corpus:
        try:
            used = parse_feed_detailed(body, source="b", url=URL).engine
        except ParseError:
            used = "ParseError"
        routes[used] = routes.get(used, 0) + 1
    generated = [generated_feed(args.items)]
    for body in corpus + generated:  # warm caches and imports once
        for name in ENGINES:
            with contextlib.suppress(FastPathRefused, ParseError):
                engine(name)(body)

    print(f"parse_feed, CPU ms per feed (median of {passes} passes); speed-up = feedparser / auto")
    print(f"corpus routing: {', '.join(f'{k} {v}' for k, v in sorted(routes.items()))}\n")
    print(f"{'':<34}{'feeds':>5}  {'fast':>8}  {'feedprsr':>8}  {'auto':>8}  speed-up")
    all_files = ms_per_feed(
        corpus, {"feedparser": engine("feedparser"), "auto": engine("auto")}, passes
    )
    row("corpus, all files", len(corpus), None, all_files["feedparser"], all_files["auto"])
    for label, bodies in (("corpus, fast-path files", readable), ("generated RSS 2.0", generated)):
        label += f" ({args.items} items)" if bodies is generated else ""
        full = ms_per_feed(bodies, {name: engine(name) for name in ENGINES}, passes)
        row(label, len(bodies), full["fast"], full["feedparser"], full["auto"])
        read = ms_per_feed(bodies, {"fast": read_fastpath, "feedparser": read_feedparser}, passes)
        row("  reading only, no normalisation", len(bodies), read["fast"], read["feedparser"], None)


if __name__ == "__main__":
    main()
