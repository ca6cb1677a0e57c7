"""The dashboard's test data and server: a real SQLite database seeded through the store with
signals of known weeks, and ``monitor serve``'s server on port 0 in a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.app import Monitor, open_monitor
from monitor.rules.files import check_rule_files, expand_rule_paths
from monitor.types import Item, Match
from monitor.web.server import DashboardServer, make_server
from tests.e2e import write_config

NOW = datetime(2026, 5, 14, 12, 0, tzinfo=UTC)  # a Thursday: this week began on May 11
HOSTILE_TITLE = "<script>alert(1)</script> Reactor restart <img src=x onerror=alert(2)>"

CAPEX_RULES = """\
thesis:
  id: ai-capex
  title: Hyperscaler AI capex keeps rising through 2027
  read_throughs: [NVDA, VRT, ETN]
criteria:
  - id: confirm-1
    polarity: confirm
    text: A hyperscaler raises its capital expenditure guidance.
    query: capex AND (raise* OR increase*)
  - id: kill-1
    polarity: kill
    text: A hyperscaler cuts or pauses data-center construction.
    query: (cut* OR paus*) AND "data center"
"""

# weeks back from this one -> signals: (thesis, criterion, polarity) counts per week
NUCLEAR_CONFIRM = {0: 3, 1: 1, 3: 2}
NUCLEAR_KILL = {0: 1, 2: 2, 5: 1}
CAPEX_CONFIRM = {8: 2, 6: 2, 4: 2}
CAPEX_KILL = {1: 2, 0: 3}


@dataclass
class Seeded:
    config: Path
    url: str
    env: dict[str, str]
    hostile_id: int = 0
    story_id: int = 0  # a signal whose story two sources carried
    ids: list[int] = field(default_factory=list)

    def open(self, *, read_only: bool = True) -> Monitor:
        return open_monitor(
            self.url, config=self.config, read_only=read_only, env=self.env, clock=lambda: NOW
        )


def week_time(weeks_back: int, n: int) -> datetime:
    """A moment in the week ``weeks_back`` weeks before NOW's (Tuesday 10:00 + n minutes)."""
    monday = (NOW - timedelta(days=NOW.weekday(), weeks=weeks_back)).replace(hour=10, minute=0)
    return monday + timedelta(days=1, minutes=n)


def seed(tmp_path: Path) -> Seeded:
    config = write_config(
        tmp_path, {"wire": "https://news.example.com/feed", "journal": "https://j.example.org/rss"}
    )
    (tmp_path / "rules" / "capex.yaml").write_text(CAPEX_RULES, encoding="utf-8")
    env = {"MONITOR_DATA_DIR": str(tmp_path / "data"), "MONITOR_SEMANTIC": "off"}
    seeded = Seeded(config, f"sqlite:///{tmp_path / 'dashboard.db'}", env)
    with seeded.open(read_only=False) as m:
        store = m.store
        theses, errors = check_rule_files(expand_rule_paths(list(m.config.rule_paths)))
        assert not errors, errors
        store.sync_theses(theses, NOW - timedelta(weeks=20))
        store.sync_sources(m.config.sources, NOW - timedelta(weeks=20))
        plan = [
            ("test-nuclear", "confirm-1", "confirm", NUCLEAR_CONFIRM),
            ("test-nuclear", "kill-1", "kill", NUCLEAR_KILL),
            ("ai-capex", "confirm-1", "confirm", CAPEX_CONFIRM),
            ("ai-capex", "kill-1", "kill", CAPEX_KILL),
        ]
        n = 0
        for thesis, criterion, polarity, weeks in plan:
            for back, count in weeks.items():
                for _ in range(count):
                    n += 1
                    when = week_time(back, n)
                    title = f"{thesis} {polarity} evidence number {n}"
                    seeded.ids.append(_signal(m, thesis, criterion, polarity, n, title, when))
        # the hostile title: a confirm of last week (the week counts above include it)
        n += 1
        seeded.hostile_id = _signal(
            m,
            "test-nuclear",
            "confirm-1",
            "confirm",
            n,
            HOSTILE_TITLE,
            week_time(1, n),
            link="javascript:alert(3)",
        )
        seeded.ids.append(seeded.hostile_id)
        # the same story from a second source: one signal, two sources
        story = seeded.ids[0]
        first = m.signal(story)
        assert first is not None
        again = store.add_items(
            [
                Item(
                    "journal",
                    "j-1",
                    first.item_title,
                    link="https://j.example.org/1",
                    published=first.created_at,
                )
            ],
            first.created_at + timedelta(minutes=5),
        )[0]
        store.assign_stories([(again.id, first.item_id)])
        store.add_signals(
            [(again.id, _match(first.thesis_id, first.criterion_id, "confirm"))],
            first.created_at + timedelta(minutes=5),
        )
        seeded.story_id = story
    return seeded


def _match(thesis: str, criterion: str, polarity: str) -> Match:
    return Match(
        thesis_id=thesis,
        criterion_id=criterion,
        polarity=polarity,  # type: ignore[arg-type]
        score=0.8,
        matched_terms=("restart", "reactor"),
        snippet=f"The {polarity} evidence sentence.",
    )


def _signal(
    m: Monitor,
    thesis: str,
    criterion: str,
    polarity: str,
    n: int,
    title: str,
    when: datetime,
    link: str | None = None,
) -> int:
    item = Item(
        source="wire" if n % 3 else "journal",
        item_id=f"seed-{n}",
        title=title,
        summary="Summary.",
        link=link or f"https://news.example.com/{n}",
        published=when,
    )
    (stored,) = m.store.add_items([item], when)
    (signal_id,) = m.store.add_signals([(stored.id, _match(thesis, criterion, polarity))], when)
    return signal_id


@contextmanager
def serving(
    seeded: Seeded,
    *,
    host: str = "127.0.0.1",
    token: str | None = None,
    allow_feedback: bool = False,
) -> Iterator[DashboardServer]:
    """The dashboard over ``seeded`` on a free port, served from a thread."""
    monitor = seeded.open(read_only=not allow_feedback)
    server = make_server(monitor, host, 0, token=token, allow_feedback=allow_feedback)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        monitor.close()
