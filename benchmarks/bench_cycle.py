"""Benchmark: whole poll cycles against a local feed farm, and alert latency of the daemon.

Run ``.venv/bin/python benchmarks/bench_cycle.py [--feeds 1000,10000] [--quick]``
(``--quick``: 1,000 feeds only; ``--feeds 100`` is a smoke run). Needs ``reader`` (PyPI)
besides the service's own dependencies; ``--skip-reader`` runs without it.

What it measures, in one run (see benchmarks/README.md for what each figure means):

1. **Cycles.** For each feed count N, a feed farm (``feedfarm.py``, its own process) serves
   N RSS feeds of 25 items. Each contestant runs in its own child process (so the farm's
   CPU and the other contestants' memory do not count) against a fresh database, after the
   farm was reset: a cold cycle (every feed new), then ``/advance?fraction=0.1`` (10 % of
   the feeds gain 5 items each), then a warm cycle (every feed polled again; 90 % answer
   304). Contestants:

   * **this service**, built the way ``monitor run --once`` builds it: a temporary config
     listing the N feeds (interval 30s) with ``rules:`` the shipped ``rules/``, a temporary
     SQLite ``DATABASE_URL``, ``MONITOR_SEMANTIC=off``, alerts to a ``ConsoleNotifier``
     over a ``StringIO``; ``Service.start()`` untimed, then ``Service.run_cycle()`` timed
     (fetch, parse, store, story dedupe, matching, alerting). The warm cycle runs with the
     Service's clock moved 10 minutes ahead, so every source is due again;
   * **reader** (PyPI): ``make_reader(tmp db)``, ``add_feed`` x N untimed, then
     ``update_feeds(workers=8, scheduled=False)`` timed, cold and warm;
   * **naive**: a loop of ``feedparser.parse(url, etag=previous_etag)`` over the N feeds.

   Figures per cycle: wall seconds, CPU seconds of the contestant's process, new items,
   microseconds per new item, the farm's count of 200 and 304 answers; the ratios
   reader/this and naive/this of the seconds per cycle; and this service's per-item cost
   at the largest N over the smallest. A cycle slower than ``--cycle-timeout`` is killed
   and reported as a timeout.

2. **Peak RSS** of this service's process over its cold and warm cycles (keyword-only),
   from ``getrusage(RUSAGE_SELF).ru_maxrss`` at the end of the child, or ``VmHWM`` from
   ``/proc`` when the child is killed at a timeout (then a lower bound). The 10,000-feed
   figure is the daemon's memory at that scale.

3. **Alert latency.** A fake Slack Web API (``slackfake.py``) on loopback, a farm of 50
   feeds and the real daemon (``monitor run --tick 1`` in a subprocess with the Slack
   settings pointing at the fake, interval 30s). After the daemon's first (cold) cycle, the
   farm publishes the 102 positive items of ``corpus/eval/dev-rosa-{81,97}.jsonl`` (each
   alerts under the shipped rules) one at a time at seeded random moments over
   ``--latency-window`` seconds, each into a random feed. The farm records when it first
   served each item; the fake Slack when the alert naming it arrived. Reported: p50/p99/max
   of (received - first served) and of (received - published), then how long the daemon
   takes to exit after SIGTERM.

Every server stops by itself (farm: end of its stdin or ``--max-seconds``; fake Slack:
a timer) and every wait has a deadline.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import math
import os
import pstats
import queue
import random
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

from feedfarm import FarmControl, FeedFarm, die_with_parent  # noqa: E402
from slackfake import CHANNEL, SlackFake  # noqa: E402

RULES = ROOT / "rules"
EVAL_FILES = (ROOT / "corpus/eval/dev-rosa-81.jsonl", ROOT / "corpus/eval/dev-rosa-97.jsonl")
EVENT_PREFIX = "BENCH "
CONTESTANTS = ("service", "reader", "naive")
LABELS = {"service": "this service", "reader": "reader", "naive": "naive feedparser"}
WARM_JUMP = timedelta(minutes=10)
PROFILE_LINES = 25
LATENCY_LINK = "https://news.example/latency/"
LATENCY_GUID = re.compile(re.escape(LATENCY_LINK) + r"(lat-\d+)")


# -- shared helpers ------------------------------------------------------------------------


def loopback_only() -> None:
    """Never send the loopback traffic through a proxy (httpx, requests and urllib all read
    these); children inherit it."""
    for name in ("NO_PROXY", "no_proxy"):
        parts = [p for p in os.environ.get(name, "").split(",") if p]
        os.environ[name] = ",".join([*parts, "127.0.0.1", "localhost"])


def write_config(path: Path, urls: Sequence[str], interval: str = "30s") -> Path:
    lines = ["sources:"]
    for i, url in enumerate(urls):
        lines += [f"  - name: farm-{i:05d}", f"    url: {url}", f"    interval: {interval}"]
    lines += ["rules:", f"  - {json.dumps(str(RULES))}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def service_environment(database: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MONITOR_"))}
    env.pop("DATABASE_URL", None)
    env.update(DATABASE_URL=f"sqlite:///{database}", MONITOR_SEMANTIC="off", **extra)
    return env


def peak_rss_kb(pid: int | None = None) -> int | None:
    """Peak resident set size in kB: this process, or a running child (Linux /proc)."""
    if pid is None:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss // 1024 if sys.platform == "darwin" else rss
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (q in [0, 100])."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


# -- workers (child processes) ---------------------------------------------------------------


def emit(event: str, **data: Any) -> None:
    print(EVENT_PREFIX + json.dumps({"event": event, **data}), flush=True)


class JumpClock:
    """The wall clock plus an offset the benchmark moves forward between cycles."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def timed_cycle(
    phase: str,
    farm: FarmControl,
    run: Callable[[], dict[str, Any]],
    items: Callable[[], int],
    profile: bool = False,
) -> None:
    """Time ``run`` (one cycle); with ``profile``, under cProfile (slower: not comparable)
    and emit the top functions by cumulative time."""
    before_items = items()
    before = farm.stats()
    profiler = cProfile.Profile() if profile else None
    cpu = time.process_time()
    start = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    detail = run()
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    after = farm.stats()
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(PROFILE_LINES)
        emit("profile", phase=phase, text=text.getvalue())
    emit(
        "cycle",
        phase=phase,
        seconds=seconds,
        cpu=cpu,
        items=items() - before_items,
        ok200=after.get("200", 0) - before.get("200", 0),
        ok304=after.get("304", 0) - before.get("304", 0),
        detail=detail,
    )


def service_worker(farm: FarmControl, n: int, tmp: Path, args: argparse.Namespace) -> None:
    from monitor.notify.console import ConsoleNotifier
    from monitor.service import Service
    from monitor.settings import Environment, load_config

    start = time.perf_counter()
    database = tmp / "monitor.db"
    config = load_config(write_config(tmp / "monitor.yaml", [farm.url(i) for i in range(n)]))
    env = Environment.from_mapping(service_environment(database))
    clock = JumpClock()
    alerts = io.StringIO()
    service = Service(config, env, clock=clock, notifier=ConsoleNotifier(alerts))
    problems = service.start()
    emit("ready", setup_s=time.perf_counter() - start, rss_kb=peak_rss_kb(), problems=len(problems))
    new_items = 0

    def cycle() -> dict[str, Any]:
        nonlocal new_items
        report = service.run_cycle()
        new_items += report.new_items
        return {
            "polled": len(report.polled),
            "failed": len(report.failed),
            "signals": len(report.new_signals),
            "alerts": report.alerts_sent,
        }

    try:
        timed_cycle("cold", farm, cycle, lambda: new_items, args.profile)
        farm.advance(args.fraction, args.new_items)
        clock.offset += WARM_JUMP
        timed_cycle("warm", farm, cycle, lambda: new_items, args.profile)
    finally:
        service.close()
    emit("done", rss_kb=peak_rss_kb(), repeats=_story_repeats(database))


def _story_repeats(database: Path) -> int | None:
    """Items the service linked to an earlier story (the farm's stories are all distinct)."""
    try:
        with contextlib.closing(sqlite3.connect(database)) as conn:
            row = conn.execute("SELECT count(*) FROM items WHERE story_id IS NOT NULL").fetchone()
            return int(row[0])
    except sqlite3.Error:
        return None


def reader_worker(farm: FarmControl, n: int, tmp: Path, args: argparse.Namespace) -> None:
    from reader import make_reader

    start = time.perf_counter()
    reader = make_reader(str(tmp / "reader.sqlite"))
    for i in range(n):
        reader.add_feed(farm.url(i))
    emit("ready", setup_s=time.perf_counter() - start, rss_kb=peak_rss_kb())

    def cycle() -> dict[str, Any]:
        reader.update_feeds(workers=8, scheduled=False)
        return {}

    def entries() -> int:
        return int(reader.get_entry_counts().total or 0)

    timed_cycle("cold", farm, cycle, entries)
    farm.advance(args.fraction, args.new_items)
    timed_cycle("warm", farm, cycle, entries)
    reader.close()
    emit("done", rss_kb=peak_rss_kb())


def naive_worker(farm: FarmControl, n: int, tmp: Path, args: argparse.Namespace) -> None:
    import feedparser

    urls = [farm.url(i) for i in range(n)]
    etags: dict[str, str | None] = {}
    seen: set[str] = set()
    emit("ready", setup_s=0.0, rss_kb=peak_rss_kb())

    def cycle() -> dict[str, Any]:
        errors = 0
        for url in urls:
            parsed = feedparser.parse(url, etag=etags.get(url))
            status = parsed.get("status")
            if status == 200:
                etags[url] = parsed.get("etag") or etags.get(url)
                for entry in parsed.entries:
                    key = entry.get("id") or entry.get("link") or entry.get("title")
                    if key:
                        seen.add(str(key))
            elif status != 304:
                errors += 1
        return {"errors": errors}

    timed_cycle("cold", farm, cycle, lambda: len(seen))
    farm.advance(args.fraction, args.new_items)
    timed_cycle("warm", farm, cycle, lambda: len(seen))
    emit("done", rss_kb=peak_rss_kb())


WORKERS = {"service": service_worker, "reader": reader_worker, "naive": naive_worker}


def worker_main(args: argparse.Namespace) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    farm = FarmControl(args.port)
    WORKERS[args.worker](farm, args.feeds_count, Path(args.tmp), args)


# -- the parent: cycles ------------------------------------------------------------------------


@dataclass
class Cycle:
    seconds: float
    cpu: float
    items: int
    ok200: int
    ok304: int
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def us_per_item(self) -> float:
        return self.seconds / self.items * 1e6 if self.items else math.nan


@dataclass
class Outcome:
    contestant: str
    feeds: int
    cycles: dict[str, Cycle] = field(default_factory=dict)
    setup_s: float | None = None
    rss_start_kb: int | None = None
    rss_kb: int | None = None
    rss_is_lower_bound: bool = False
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)


def run_contestant(
    kind: str, farm: FeedFarm, n: int, tmp: Path, args: argparse.Namespace
) -> Outcome:
    outcome = Outcome(kind, n)
    log_path = tmp / "worker.log"
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        kind,
        "--port",
        str(farm.port),
        "--feeds-count",
        str(n),
        "--tmp",
        str(tmp),
        "--fraction",
        str(args.fraction),
        "--new-items",
        str(args.new_items),
        *(["--profile"] if args.profile else []),
    ]
    events: queue.Queue[dict[str, Any] | None] = queue.Queue()
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, text=True, preexec_fn=die_with_parent
        )

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith(EVENT_PREFIX):
                    events.put(json.loads(line[len(EVENT_PREFIX) :]))
            events.put(None)

        threading.Thread(target=pump, daemon=True).start()
        waits = [
            ("setup", args.setup_timeout),
            ("cold cycle", args.cycle_timeout),
            ("warm cycle", args.cycle_timeout),
            ("finish", 120.0),
        ]
        try:
            for what, timeout in waits:
                deadline = time.monotonic() + timeout
                event: dict[str, Any] | None = {"event": "profile"}
                while event is not None and event["event"] == "profile":  # ends: deadline
                    try:
                        event = events.get(timeout=max(0.0, deadline - time.monotonic()))
                    except queue.Empty:
                        break
                    if event is not None and event["event"] == "profile":
                        outcome.profiles[event["phase"]] = event["text"]
                else:
                    if event is None:
                        proc.wait(30)
                        tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
                        outcome.error = f"worker exited ({proc.returncode}) during {what}: " + (
                            " | ".join(tail) or "no output"
                        )
                        break
                    record(outcome, event)
                    continue
                outcome.error = f"{what} took over {timeout:.0f}s: killed"
                outcome.rss_kb = peak_rss_kb(proc.pid)
                outcome.rss_is_lower_bound = True
                break
        finally:
            if proc.poll() is None:
                try:
                    proc.wait(5 if outcome.error is None else 0.1)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(30)
    return outcome


def record(outcome: Outcome, event: dict[str, Any]) -> None:
    kind = event.pop("event")
    if kind == "ready":
        outcome.setup_s = event["setup_s"]
        outcome.rss_start_kb = event.get("rss_kb")
    elif kind == "cycle":
        phase = event.pop("phase")
        outcome.cycles[phase] = Cycle(**event)
    elif kind == "done":
        outcome.rss_kb = event.get("rss_kb")
        outcome.extra = event


def run_cycles(args: argparse.Namespace, tmp_root: Path) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for n in args.feeds:
        started = time.perf_counter()
        print(f"\n== {n:,} feeds: starting the farm", flush=True)
        with FeedFarm(n, seed=args.seed, max_seconds=args.farm_max_seconds) as farm:
            print(f"   farm ready in {time.perf_counter() - started:.1f}s", flush=True)
            for kind in args.contestants:
                tmp = tmp_root / f"{kind}-{n}"
                tmp.mkdir()
                farm.reset()
                print(f"   {LABELS[kind]}: running", flush=True)
                outcome = run_contestant(kind, farm, n, tmp, args)
                outcomes.append(outcome)
                print("   " + describe(outcome), flush=True)
    return outcomes


def describe(o: Outcome) -> str:
    parts = [f"{LABELS[o.contestant]} @ {o.feeds:,}:"]
    for phase, c in o.cycles.items():
        parts.append(f"{phase} {c.seconds:.2f}s ({c.items:,} items)")
    if o.error:
        parts.append(f"[{o.error}]")
    return " ".join(parts)


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}"


def _mb(kb: int | None) -> str:
    return "—" if kb is None else f"{kb / 1024:,.0f} MB"


def print_cycle_table(outcomes: Sequence[Outcome], args: argparse.Namespace) -> None:
    for n in args.feeds:
        rows = [o for o in outcomes if o.feeds == n]
        print(
            f"\n### {n:,} feeds x 25 items; warm: {args.fraction:.0%} of the feeds gained "
            f"{args.new_items} items\n"
        )
        print("| contestant | cycle | seconds | CPU s | new items | µs/item | 200 | 304 | notes |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---|")
        for o in rows:
            for phase in ("cold", "warm"):
                c = o.cycles.get(phase)
                note = ""
                if c is None:
                    note = o.error or "not run"
                    print(f"| {LABELS[o.contestant]} | {phase} | — | — | — | — | — | — | {note} |")
                    continue
                detail = ", ".join(f"{k} {v}" for k, v in c.detail.items() if v)
                print(
                    f"| {LABELS[o.contestant]} | {phase} | {c.seconds:,.2f} | {c.cpu:,.2f} | "
                    f"{c.items:,} | {_fmt(c.us_per_item, 1)} | {c.ok200:,} | {c.ok304:,} | "
                    f"{detail} |"
                )
        this = next((o for o in rows if o.contestant == "service"), None)
        if this is not None:
            for other in rows:
                if other.contestant == "service":
                    continue
                ratios = []
                for phase in ("cold", "warm"):
                    a, b = other.cycles.get(phase), this.cycles.get(phase)
                    ratio = a.seconds / b.seconds if a and b and b.seconds else None
                    ratios.append(f"{phase} {_fmt(ratio)}")
                print(
                    f"\nratio {LABELS[other.contestant]}/this service (seconds per cycle): "
                    + ", ".join(ratios),
                    end="",
                )
            print()
            bound = "≥ " if this.rss_is_lower_bound else ""
            repeats = this.extra.get("repeats")
            print(
                f"this service: setup {_fmt(this.setup_s, 1)}s; RSS after start "
                f"{_mb(this.rss_start_kb)}, peak over cold+warm {bound}{_mb(this.rss_kb)} "
                f"(keyword-only); items linked as story repeats: "
                f"{'—' if repeats is None else repeats}"
            )
        for o in rows:
            if o.contestant != "service" and o.setup_s is not None:
                print(
                    f"{LABELS[o.contestant]}: setup {_fmt(o.setup_s, 1)}s; peak RSS "
                    f"{'≥ ' if o.rss_is_lower_bound else ''}{_mb(o.rss_kb)}"
                )
    for o in outcomes:
        for phase, text in o.profiles.items():
            print(f"\n#### cProfile: {LABELS[o.contestant]}, {o.feeds:,} feeds, {phase} cycle\n")
            print("```\n" + text.strip() + "\n```")
    services = sorted((o for o in outcomes if o.contestant == "service"), key=lambda o: o.feeds)
    if len(services) >= 2:
        small, large = services[0], services[-1]
        ratios = []
        for phase in ("cold", "warm"):
            a, b = large.cycles.get(phase), small.cycles.get(phase)
            ratio = a.us_per_item / b.us_per_item if a and b else None
            ratios.append(f"{phase} {_fmt(ratio)}")
        print(
            f"\nthis service, µs per item at {large.feeds:,} feeds / at {small.feeds:,} feeds "
            "(1.00 = linear): " + ", ".join(ratios)
        )


# -- the parent: alert latency -----------------------------------------------------------------


def positive_items() -> list[dict[str, str]]:
    items = []
    for path in EVAL_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                if record.get("labels"):
                    items.append({"title": record["title"], "summary": record["summary"]})
    return items


def monitor_command() -> list[str]:
    script = Path(sys.executable).with_name("monitor")
    return [str(script)] if script.exists() else [sys.executable, "-m", "monitor"]


def run_latency(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    rng = random.Random(f"latency:{args.seed}")
    items = positive_items()
    result: dict[str, Any] = {"published": len(items)}
    with (
        FeedFarm(args.latency_feeds, seed=args.seed + 1, max_seconds=args.farm_max_seconds) as farm,
        SlackFake(max_seconds=args.farm_max_seconds) as slack,
    ):
        config = write_config(
            tmp / "monitor.yaml", [farm.url(i) for i in range(args.latency_feeds)]
        )
        env = service_environment(
            tmp / "monitor.db",
            SLACK_BOT_TOKEN=slack.token,
            SLACK_CHANNEL=CHANNEL,
            SLACK_API_URL=slack.base_url,
        )
        command = [*monitor_command(), "run", "--tick", "1", "--config", str(config)]
        cycles: list[float] = []
        failures: list[str] = []  # "cycle failed" log lines
        cycle_done = threading.Event()
        log_path = tmp / "daemon.log"
        started = time.time()
        proc = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=die_with_parent,  # the daemon never outlives the benchmark
        )

        def pump() -> None:
            assert proc.stderr is not None
            with log_path.open("w") as log:
                for line in proc.stderr:
                    log.write(line)
                    if "cycle done" in line:
                        cycles.append(time.time())
                        cycle_done.set()
                    elif "cycle failed" in line:
                        failures.append(line.strip())

        pump_thread = threading.Thread(target=pump, daemon=True)
        pump_thread.start()
        try:
            deadline = time.time() + args.latency_warmup_timeout
            while time.time() < deadline and proc.poll() is None and len(failures) < 3:
                if cycle_done.wait(0.5):
                    break
            if not cycle_done.is_set():
                why = (
                    f"3 failed cycles, the last: {failures[-1][-300:]}"
                    if len(failures) >= 3
                    else f"exit code {proc.returncode}"
                    if proc.poll() is not None
                    else f"no cycle done within {args.latency_warmup_timeout:.0f}s"
                )
                result["error"] = f"the daemon's first cycle did not finish ({why}); log {log_path}"
                return result
            result["first_cycle_s"] = cycles[0] - started
            result["alerts_before"] = len(slack.messages())
            offsets = sorted(rng.uniform(0, args.latency_window) for _ in items)
            begin = time.time()
            guids = []
            for j, (item, offset) in enumerate(zip(items, offsets, strict=True)):
                time.sleep(max(0.0, begin + offset - time.time()))
                guid = f"lat-{j:03d}"
                guids.append(guid)
                farm.publish(
                    [
                        {
                            "feed": rng.randrange(args.latency_feeds),
                            "guid": guid,
                            "title": item["title"],
                            "summary": item["summary"],
                            "link": LATENCY_LINK + guid,
                        }
                    ]
                )
                if proc.poll() is not None:
                    break
            deadline = time.time() + args.latency_timeout
            received: dict[str, float] = {}
            while time.time() < deadline and proc.poll() is None:
                received = first_alerts(slack.messages())
                if all(g in received for g in guids):
                    break
                time.sleep(0.5)
            messages = slack.messages()
            received = first_alerts(messages)
            published, first_served = farm.served()
            result.update(
                failed_cycles=len(failures),
                alerted=sum(1 for g in guids if g in received),
                served=sum(1 for g in guids if g in first_served),
                messages=len(messages),
                other_messages=sum(1 for _, raw in messages if not LATENCY_GUID.search(raw)),
                cycles=len(cycles),
                served_to_alert=[
                    received[g] - first_served[g]
                    for g in guids
                    if g in received and g in first_served
                ],
                published_to_alert=[
                    received[g] - published[g] for g in guids if g in received and g in published
                ],
            )
        finally:
            result.update(stop_daemon(proc, args.stop_timeout))
            pump_thread.join(10)
    return result


def first_alerts(messages: Sequence[tuple[float, str]]) -> dict[str, float]:
    first: dict[str, float] = {}
    for when, raw in messages:
        for guid in set(LATENCY_GUID.findall(raw)):
            first[guid] = min(first.get(guid, when), when)
    return first


def stop_daemon(proc: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    if proc.poll() is not None:
        return {"exit_code": proc.returncode, "exit_s": None, "note": "exited before SIGTERM"}
    start = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(30)
        return {
            "exit_code": proc.returncode,
            "exit_s": None,
            "note": f"no exit {timeout:.0f}s after SIGTERM: killed",
        }
    return {"exit_code": proc.returncode, "exit_s": time.perf_counter() - start}


def print_latency(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\n### Alert latency: daemon `monitor run --tick 1`, {args.latency_feeds} feeds "
        f"(interval 30s), {result['published']} matching items published over "
        f"{args.latency_window:.0f}s\n"
    )
    if "first_cycle_s" in result:
        print(
            f"first (cold) cycle done {result['first_cycle_s']:.1f}s after the daemon started; "
            f"{result.get('alerts_before', 0)} alert(s) from the farm's own text before publishing"
        )
    if "error" in result:
        print(f"error: {result['error']}")
    if "alerted" in result:
        print(
            f"items served to the daemon: {result['served']}/{result['published']}; alerted: "
            f"{result['alerted']}/{result['published']}; Slack messages {result['messages']} "
            f"({result['other_messages']} not naming a published item); "
            f"cycles logged: {result['cycles']} done, {result['failed_cycles']} failed"
        )
        print("\n| latency (s) | p50 | p99 | max |\n|---|---:|---:|---:|")
        for key, label in (
            ("served_to_alert", "alert received - item first served"),
            ("published_to_alert", "alert received - item published"),
        ):
            values = result[key]
            print(
                f"| {label} | {_fmt(percentile(values, 50))} | {_fmt(percentile(values, 99))} | "
                f"{_fmt(max(values) if values else None)} |"
            )
    if result.get("exit_s") is not None:
        print(f"\nSIGTERM → exit: {result['exit_s']:.2f}s (exit code {result['exit_code']})")
    else:
        print(f"\nSIGTERM → exit: {result.get('note')} (exit code {result.get('exit_code')})")


# -- command line ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Poll cycles of this service vs reader vs naive feedparser; alert latency."
    )
    parser.add_argument(
        "--feeds",
        type=lambda s: [int(x) for x in s.split(",") if x.strip()],
        default=None,
        help="comma-separated feed counts (default 1000,10000; --quick: 1000)",
    )
    parser.add_argument("--quick", action="store_true", help="1,000 feeds only")
    parser.add_argument("--fraction", type=float, default=0.1, help="feeds that gain items")
    parser.add_argument("--new-items", type=int, default=5, help="items each such feed gains")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cycle-timeout", type=float, default=900.0, help="seconds per cycle")
    parser.add_argument("--setup-timeout", type=float, default=600.0)
    for kind in CONTESTANTS:
        parser.add_argument(f"--skip-{kind}", action="store_true", help=f"do not run {kind}")
    parser.add_argument("--skip-cycles", action="store_true", help="only the latency part")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--latency-feeds", type=int, default=50)
    parser.add_argument("--latency-window", type=float, default=60.0)
    parser.add_argument(
        "--latency-timeout", type=float, default=300.0, help="wait for alerts after publishing"
    )
    parser.add_argument("--latency-warmup-timeout", type=float, default=900.0)
    parser.add_argument("--stop-timeout", type=float, default=120.0)
    parser.add_argument("--farm-max-seconds", type=float, default=4 * 3600.0)
    parser.add_argument("--keep-tmp", action="store_true", help="keep databases and logs")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile this service's cycles (slower)"
    )
    # the child processes
    parser.add_argument("--worker", choices=CONTESTANTS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--feeds-count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.feeds is None:
        args.feeds = [1000] if args.quick else [1000, 10000]
    args.contestants = [k for k in CONTESTANTS if not getattr(args, f"skip_{k}")]
    return args


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    loopback_only()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup on SIGTERM
    if args.worker:
        worker_main(args)
        return
    load_start = _load()
    tmp_root = Path(tempfile.mkdtemp(prefix="bench-cycle-"))
    print(f"bench_cycle: temporary files in {tmp_root}", flush=True)
    try:
        outcomes = [] if args.skip_cycles else run_cycles(args, tmp_root)
        latency = None
        if not args.skip_latency:
            print(
                "\n== alert latency: starting the farm, the fake Slack and the daemon", flush=True
            )
            (tmp_root / "latency").mkdir()
            latency = run_latency(args, tmp_root / "latency")
        print("\n## Results")
        print(
            f"\n{os.cpu_count()} CPU(s); load average at start {load_start}, at end "
            f"{_load()} (other processes' CPU slows every contestant: compare wall with CPU s)"
        )
        if outcomes:
            print_cycle_table(outcomes, args)
        if latency is not None:
            print_latency(latency, args)
    finally:
        if args.keep_tmp:
            print(f"\nkept {tmp_root}")
        else:
            shutil.rmtree(tmp_root, ignore_errors=True)


if __name__ == "__main__":
    main()
