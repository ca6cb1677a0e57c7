"""Helpers for end-to-end tests: a small thesis, feeds built from item tuples, a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

RULE_FILE = """\
thesis:
  id: test-nuclear
  title: Existing reactors win the data-center race
  date: 2026-05-14
criteria:
  - id: confirm-1
    polarity: confirm
    text: Hyperscalers sign long-term contracts with operating reactors, including restarts.
    query: (restart* OR uprate*) AND (reactor OR nuclear)
  - id: kill-1
    polarity: kill
    text: First SMR projects hit their milestones on schedule.
    query: (SMR OR "small modular reactor") AND ("on schedule" OR "ahead of schedule")
  - id: unknown-1
    polarity: watch
    text: How fast can HALEU production scale?
    query: HALEU
"""

CONFIRM_ITEM = (
    "a-1",
    "Utility agrees to restart shuttered reactor for cloud provider",
    "The nuclear plant will return to service in 2028 under a 20-year contract.",
)
KILL_ITEM = (
    "a-2",
    "First small modular reactor passes key milestone on schedule",
    "The SMR developer said construction is on schedule and within budget.",
)
WATCH_ITEM = ("a-3", "HALEU enrichment plant doubles output", "Fuel supply grows.")
NOISE_ITEM = ("a-4", "Chip maker reports record quarter", "Revenue rose 40 percent.")
HOSTILE_ITEM = (
    "a-5",
    "<!channel> *Reactor restart* <http://evil.example|click>",
    "A nuclear plant restart, says @here the operator.",
)


def rss(items: list[tuple[str, str, str]], base: str = "https://news.example.com") -> bytes:
    entries = "".join(
        f"<item><guid>{escape(i)}</guid><title>{escape(t)}</title>"
        f"<link>{base}/{escape(i)}</link><description>{escape(d)}</description>"
        f"<pubDate>Tue, 12 May 2026 10:00:00 GMT</pubDate></item>"
        for i, t, d in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Test feed</title><link>{base}</link><description>t</description>"
        f"{entries}</channel></rss>"
    ).encode()


def write_config(tmp: Path, sources: dict[str, str], extra: str = "") -> Path:
    """A config of ``sources`` (15 minute interval) and the rules folder with RULE_FILE;
    ``extra``: more top-level config lines (limits, backfill, …)."""
    (tmp / "rules").mkdir(exist_ok=True)
    (tmp / "rules" / "nuclear.yaml").write_text(RULE_FILE, encoding="utf-8")
    lines = ["sources:"]
    for name, url in sources.items():
        lines += [f"  - name: {name}", f"    url: {url}", "    interval: 15m"]
    lines += ["rules:", "  - rules", extra, ""]
    path = tmp / "monitor.yaml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@dataclass
class Clock:
    now: datetime = datetime(2026, 5, 14, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)
