"""Delivery of N alerts into a fake Slack on loopback, at the real pace (about one message
per second per channel), once with Slack healthy (the floor the pace sets) and once with
faults: a share of 5xx, a 429 every Nth post (``Retry-After: 1``) and a share of accepted
posts whose answer is dropped. Prints the time each took, the posts, and the duplicates
(there must be none).

    python benchmarks/bench_delivery.py                    # 200 alerts, each scenario
    python benchmarks/bench_delivery.py --scenario 5xx     # 20 % 5xx only
    python benchmarks/bench_delivery.py --alerts 50 --per-second 10

The alerts issue's target: 200 alerts with 20 % 5xx delivered in under 5 minutes.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.notify import SlackBotNotifier
from monitor.notify.outbox import Outbox
from monitor.store import SqlStore
from tests.fakeslack import DEFAULT_TOKEN, FakeSlack
from tests.test_store import item, match, thesis

SCENARIOS = {
    "healthy": {},  # the floor the pace sets
    "5xx": {"error_rate": 0.2},
    "mix": {"error_rate": 0.2, "rate_limit_every": 23, "drop_rate": 0.1},
}


def run(alerts: int, per_second: int, faults: dict[str, float], seed: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder, FakeSlack() as slack:
        store = SqlStore(f"sqlite:///{Path(folder) / 'bench.db'}")
        store.migrate()
        now = datetime.now(UTC)
        store.sync_theses([thesis("t1")], now)
        stored = store.add_items([item(i, link=f"https://x/{i}") for i in range(alerts)], now)
        ids = store.add_signals([(s.id, match("c1")) for s in stored], now)
        store.enqueue_deliveries(ids, "slack:#investing", now)
        if faults:
            slack.chaos(seed, retry_after=1, **faults)  # type: ignore[arg-type]
        notifier = SlackBotNotifier(DEFAULT_TOKEN, "#investing", base_url=slack.base_url)
        outbox = Outbox(
            store,
            notifier,
            owner="bench",
            lease=timedelta(minutes=10),
            clock=lambda: datetime.now(UTC),
        )
        outbox.set_pace(timedelta(seconds=1 / per_second), 4)
        started = time.monotonic()
        while store.delivery_counts()["sent"] < alerts:
            outbox.run_round(patience=60)
        took = time.monotonic() - started
        posted = Counter(
            int(n) for m in slack.messages for n in (m.metadata or {})["event_payload"]["signals"]
        )
        store.close()
        return {
            "seconds": took,
            "posts": slack.request_count,
            "distinct": len(posted),
            "duplicates": sum(n - 1 for n in posted.values()),
            "dropped": slack.dropped,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--per-second", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--scenario",
        action="append",
        choices=sorted(SCENARIOS),
        help="healthy, 5xx (20 %% 5xx) or mix (also a 429 every 23rd post and 10 %% lost "
        "answers); default: all three, in that order",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # retries are expected here: not reported
    for name in args.scenario or list(SCENARIOS):
        r = run(args.alerts, args.per_second, SCENARIOS[name], args.seed)
        print(
            f"{name:8s} {args.alerts} alerts in {r['seconds']:6.1f} s "
            f"({r['seconds'] / 60:.1f} min): {r['posts']:.0f} post requests, "
            f"{r['distinct']:.0f} delivered, {r['duplicates']:.0f} duplicates, "
            f"{r['dropped']:.0f} answers dropped",
            flush=True,
        )


if __name__ == "__main__":
    main()
