"""Rendering of the review commands (``signals``, ``theses``, ``sources``, ``backtest``,
``mutes``) as text.

Tables are drawn by `rich` (already installed with Typer) through one helper,
:func:`print_table`, so every command wraps long cells the same way instead of cutting them
at a fixed width (titles used to stop at 60 characters).

- *Feed text is never markup.* Titles, sources, snippets, errors, notes and criterion text
  come from feeds and users; each cell is cleaned of control characters (which also breaks
  ANSI escapes, see :func:`clean`) and passed as a ``rich.text.Text``, and the console is
  made with ``markup=False, emoji=False, highlight=False``, so ``[bold]``, ``[link=…]`` and
  ``:smile:`` print as they are written.
- *Widths.* On a terminal the table fits the terminal's width: columns wrap
  (``overflow="fold"``), the widest shrinking first. Elsewhere (pipes, files, tests) the
  width is ``COLUMNS`` if set, else 200, and there are no colours or styles, so the output
  is stable and greppable. Trailing spaces are trimmed.
- *Layout.* ``box.SIMPLE`` without outer edges: a header row, a rule under it, columns
  apart by three spaces, each row starting at the line's first character.

``--format json`` and ``csv`` are not tables and do not go through rich.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from monitor.backtest import BacktestReport, Fired
from monitor.redact import mask_urls_in
from monitor.types import RouteHealth, Signal, SourceHealth, ThesisSummary

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
PIPE_WIDTH = 200  # the table width when the output is not a terminal and COLUMNS is unset
Cell = str | tuple[str, ...]  # a tuple: several lines in one cell
SIGNAL_FIELDS = (
    "id",
    "created_at",
    "polarity",
    "thesis_id",
    "criterion_id",
    "score",
    "source",
    "item_title",
    "item_link",
    "published",
    "matched_terms",
    "similarity",
    "snippet",
    "backfilled",
    "muted",
    "sources",
)


def clean(text: str | None) -> str:
    return _CONTROL.sub(" ", text or "")


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def signal_record(s: Signal) -> dict[str, Any]:
    return {
        "id": s.id,
        "created_at": s.created_at.isoformat(),
        "polarity": s.polarity,
        "thesis_id": s.thesis_id,
        "criterion_id": s.criterion_id,
        "score": s.score,
        "source": s.source,
        "item_title": s.item_title,
        "item_link": s.item_link,
        "published": s.published.isoformat() if s.published else None,
        "matched_terms": list(s.matched_terms),
        "similarity": s.similarity,
        "snippet": s.snippet,
        "backfilled": s.backfilled,
        "muted": s.muted,
        "sources": [{"source": x.source, "link": x.link, "first": x.first} for x in s.sources],
    }


def _width(out: TextIO) -> int | None:
    """The table width: the terminal's (``None``: rich measures it), else a fixed one."""
    if out.isatty():
        return None
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else PIPE_WIDTH


def print_table(
    rows: Sequence[Sequence[Cell]],
    headers: Sequence[str],
    out: TextIO,
    *,
    separate_rows: bool = False,
) -> None:
    """Write ``rows`` under ``headers`` as a table; cells are text, never markup.

    ``separate_rows`` puts a blank line between rows (for rows of several lines)."""
    terminal = out.isatty()
    grid = Table(
        box=box.SIMPLE,
        show_edge=False,
        pad_edge=False,
        show_lines=separate_rows,
        header_style="bold" if terminal else "",
    )
    for header in headers:
        grid.add_column(Text(header), overflow="fold")
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"a row of {len(row)} cells under {len(headers)} headers")
        grid.add_row(*(Text("\n".join(map(clean, (c,) if isinstance(c, str) else c))) for c in row))
    console = Console(
        file=out,
        width=_width(out),
        force_terminal=terminal,
        color_system="auto" if terminal else None,
        markup=False,
        emoji=False,
        highlight=False,
    )
    with console.capture() as captured:
        console.print(grid)
    out.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def explanation(s: Signal) -> list[str]:
    """Why a signal fired, for ``monitor signals --explain`` and ``monitor backtest``."""
    lines = [f"evidence: {clean(s.snippet)}"]
    why = f"matched: {', '.join(s.matched_terms) or '-'}"
    if s.similarity is not None:
        why += f"; similarity {s.similarity:.2f}"
    lines.append(why)
    if len(s.sources) > 1:
        names = [x.source + (" (first)" if x.first else "") for x in s.sources]
        lines.append("sources: " + ", ".join(names))
    return lines


def print_signals(
    signals: Sequence[Signal], fmt: str, out: TextIO, *, explain: bool = False
) -> None:
    if fmt == "json":
        json.dump([signal_record(s) for s in signals], out, indent=2)
        out.write("\n")
        return
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=SIGNAL_FIELDS, lineterminator="\n")
        writer.writeheader()
        for s in signals:
            record = signal_record(s)
            record["matched_terms"] = "; ".join(record["matched_terms"])
            record["sources"] = "; ".join(x["source"] for x in record["sources"])
            writer.writerow(record)
        return
    if not signals:
        out.write("no signals\n")
        return
    rows = [
        (
            str(s.id),
            when(s.created_at),
            s.polarity.upper() + (" (muted)" if s.muted else ""),
            s.thesis_id,
            s.criterion_id,
            f"{s.score:.2f}",
            s.source,
            (s.item_title, *(f"  {why}" for why in explanation(s))) if explain else s.item_title,
        )
        for s in signals
    ]
    headers = ("ID", "FOUND (UTC)", "POLARITY", "THESIS", "CRITERION", "SCORE", "SOURCE", "TITLE")
    print_table(rows, headers, out, separate_rows=explain)


def print_theses(summaries: Sequence[ThesisSummary], out: TextIO) -> None:
    if not summaries:
        out.write("no theses loaded yet (run `monitor run --once` first)\n")
        return
    rows = []
    for t in summaries:
        c = t.counts
        latest = (
            f"{when(t.latest.created_at)} {t.latest.polarity} {t.latest.criterion_id}: "
            f"{t.latest.item_title}"
            if t.latest
            else "-"
        )
        rows.append(
            (
                t.thesis_id,
                f"{c.get('confirm_7d', 0)}/{c.get('confirm_30d', 0)}",
                f"{c.get('kill_7d', 0)}/{c.get('kill_30d', 0)}",
                f"{c.get('watch_7d', 0)}/{c.get('watch_30d', 0)}",
                latest,
            )
        )
    headers = ("THESIS", "CONFIRM 7d/30d", "KILL 7d/30d", "WATCH 7d/30d", "LATEST SIGNAL")
    print_table(rows, headers, out)


def print_sources(health: Sequence[SourceHealth], out: TextIO) -> None:
    rows = [
        (
            h.name,
            when(h.last_attempt),
            when(h.last_success),
            str(h.http_status or "-"),
            f"{h.consecutive_failures} parked" if h.parked_since else str(h.consecutive_failures),
            when(h.next_poll),
            mask_urls_in(h.last_error or "", [h.url]),
        )
        for h in health
    ]
    headers = ("SOURCE", "LAST ATTEMPT", "LAST SUCCESS", "HTTP", "FAILS", "NEXT POLL", "LAST ERROR")
    print_table(rows, headers, out)


def print_routes(routes: Sequence[RouteHealth], out: TextIO) -> None:
    """Each alert route the daemon has checked: OK or what is wrong, and what waits."""
    if not routes:
        return
    rows = [
        (
            r.channel,
            "ok" if r.healthy else "FAILING",
            when(r.failing_since) if not r.healthy else "-",
            when(r.checked_at),
            str(r.unsent),
            r.error or "",
        )
        for r in routes
    ]
    out.write("\nAlert routes:\n\n")
    headers = ("ROUTE", "STATE", "FAILING SINCE", "CHECKED", "UNSENT", "PROBLEM")
    print_table(rows, headers, out)


def print_feedback(verdicts: Mapping[tuple[str, str], tuple[int, int]], out: TextIO) -> None:
    """Each criterion's precision from analyst feedback (useful / (useful + noise))."""
    if not verdicts:
        out.write("\nno feedback yet (`monitor feedback SIGNAL_ID useful|noise`)\n")
        return
    rows = [
        (thesis, criterion, str(useful), str(noise), f"{useful / (useful + noise):.2f}")
        for (thesis, criterion), (useful, noise) in sorted(verdicts.items())
    ]
    out.write("\nFeedback precision per criterion:\n\n")
    print_table(rows, ("THESIS", "CRITERION", "USEFUL", "NOISE", "PRECISION"), out)


def print_learning(learned: object, out: TextIO) -> None:
    """What the matcher learned per criterion (a :class:`Learning`), or why nothing."""
    from monitor.matching.learn import Learning

    if not isinstance(learned, Learning) or not learned.theses:
        out.write(f"\nlearning: {learned}\n")
        return

    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    rows = [
        (
            thesis_id,
            criterion_id,
            f"{stats.positives}/{stats.negatives}",
            str(stats.examples),
            share(stats.precision),
            share(stats.recall),
        )
        for thesis_id, lt in sorted(learned.theses.items())
        for criterion_id, stats in lt.stats.items()
    ]
    out.write("\nLearned from verdicts (labels: evidence/not evidence; CV: out of fold):\n\n")
    headers = ("THESIS", "CRITERION", "LABELS +/-", "RULE EXAMPLES", "CV PRECISION", "CV RECALL")
    print_table(rows, headers, out)
    for thesis_id, lt in sorted(learned.theses.items()):
        out.write(f"{thesis_id}: {lt.why}\n")


def print_backtest(report: BacktestReport, fmt: str, out: TextIO) -> None:
    counts = report.counts()
    if fmt == "json":

        def fired(f: Fired) -> dict[str, Any]:
            return {
                "thesis_id": f.key[1],
                "criterion_id": f.key[2],
                "item_id": f.item.id,
                "title": f.item.item.title,
                "source": f.item.item.source,
                "score": f.match.score if f.match else None,
                "signal_id": f.signal.id if f.signal else None,
            }

        json.dump(
            {
                "items": report.items,
                "criteria": counts,
                "new": [fired(f) for f in report.new],
                "dropped": [fired(f) for f in report.dropped],
                "unchanged": len(report.unchanged),
            },
            out,
            indent=2,
        )
        out.write("\n")
        return
    out.write(
        f"replayed {report.items} item(s): "
        f"{len(report.unchanged) + len(report.new)} would fire; {len(report.new)} new, "
        f"{len(report.dropped)} dropped, {len(report.unchanged)} unchanged\n\n"
    )
    rows = [
        (key, str(c["would"]), str(c["did"]), str(c["new"]), str(c["dropped"]))
        for key, c in counts.items()
    ]
    if rows:
        print_table(rows, ("CRITERION", "WOULD", "DID", "NEW", "DROPPED"), out)
    for title, group in (
        ("Would fire now, did not", report.new),
        ("Fired, would not now", report.dropped),
    ):
        if not group:
            continue
        out.write(f"\n{title}:\n")
        for f in group:
            score = f" score {f.match.score:.2f}" if f.match else ""
            item = f.item.item
            out.write(
                f"  {f.key[1]}/{f.key[2]}{score}: {clean(item.title)} [{clean(item.source)}]\n"
            )
