"""Pure rendering of several alerts in one Slack message: a burst of one thesis, or a digest.

Nothing here does I/O. Every piece of feed text goes through the helpers of
:mod:`monitor.notify.render` (escaping, look-alikes, safe links, verbatim mrkdwn, plain-text
headers, terminal-safe console text), so a group or a digest carries exactly the guarantees of a
single alert; no escaping is written twice.

Decisions:

* **A message is** :class:`SlackMessage`: the fallback ``text`` (≤ 300 characters, what push
  notifications and screen readers show) and the ``blocks``. Both renderers return a list,
  because one message may not hold everything.
* **Slack's limits are kept by construction.** A message has at most :data:`MAX_BLOCKS` (50)
  blocks, and every text object at most :data:`~monitor.notify.render.SECTION_LIMIT` (3000)
  characters. Each part is a header, a context line and at most ``MAX_BLOCKS - 2`` body
  sections. Every alert is one line of at most :data:`LINE_LIMIT` characters (fields have
  budgets after escaping; a line that would still be too long, because of a very long URL,
  drops its link), and a thesis heading at most :data:`HEADING_LIMIT`, so a heading and a line
  always fit one section. :func:`paginate` never splits a line, so every alert appears in
  exactly one part, exactly once.
* **A group** (:func:`render_group`) is a burst of one thesis: header "N signals · thesis", a
  context line with the running tally of the latest signal of each polarity, then one compact
  section per alert in time order (polarity, criterion, linked title, source, time, score,
  signal id). Alerts of several theses are refused (``ValueError``): that is a digest.
* **A digest** (:func:`render_digest`) groups alerts by thesis, theses with the highest score
  first; within a thesis kill, then confirm, then watch, each by score (highest first). A
  thesis starts with a bold heading with its counts per polarity (over the whole digest, not
  the part); its lines are packed into sections up to the text limit. When a thesis runs over
  into the next part, the heading is repeated there with "(continued)".
* **Parts:** when there is more than one message, each header ends with "(part k of n)" (the
  thesis title or digest title is cut to make room), and so does the fallback text; a single
  message has no part number. An empty digest is one message saying there was nothing.
* **Console** renderings (:func:`render_group_console`, :func:`render_digest_console`) show the
  same information, one alert per two lines, unsplit, with terminal controls stripped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from monitor.notify.render import (
    FALLBACK_LIMIT,
    HEADER_LIMIT,
    SECTION_LIMIT,
    alert_label,
    escape_within,
    format_published,
    header_block,
    mrkdwn,
    one_line,
    plain_text,
    polarity_label,
    tally_line,
    title_mrkdwn,
    verdict_text,
)
from monitor.text import truncate
from monitor.types import POLARITIES, Alert, AlertGroup

MAX_BLOCKS = 50
LINE_LIMIT = 2400
HEADING_LIMIT = 500
CONTINUED = " (continued)"
POLARITY_ORDER = ("kill", "confirm", "watch")


@dataclass(frozen=True)
class SlackMessage:
    """One message to post: fallback ``text`` and Block Kit ``blocks``."""

    text: str
    blocks: list[dict[str, Any]]


# -- packing -----------------------------------------------------------------------------------


def paginate(
    groups: Sequence[tuple[str | None, Sequence[str]]],
    *,
    body_blocks: int = MAX_BLOCKS - 2,
    text_limit: int = SECTION_LIMIT,
    pack: bool = True,
) -> list[list[str]]:
    """Lines packed into section texts, and sections into pages of ``body_blocks`` at most.

    ``groups`` are (heading, lines): the heading is the first line of the group's first section
    and is repeated with "(continued)" at the top of a later page. With ``pack=False`` every
    line is a section of its own. A line is never split or repeated; one that cannot fit a
    section together with its heading is a ``ValueError`` (the callers' budgets prevent it).
    Always at least one (possibly empty) page.
    """
    pages: list[list[str]] = [[]]
    for heading, lines in groups:
        section: list[str] | None = None
        for index, line in enumerate(lines):
            if section is not None and pack and len("\n".join([*section, line])) <= text_limit:
                section.append(line)
                continue
            if section is not None:
                pages[-1].append("\n".join(section))
            if len(pages[-1]) >= body_blocks:
                pages.append([])
            lead = heading
            if index > 0:
                lead = heading + CONTINUED if heading is not None and not pages[-1] else None
            section = [lead, line] if lead is not None else [line]
            if len("\n".join(section)) > text_limit:
                raise ValueError(f"a line of {len(line)} characters does not fit a section")
        if section is not None:
            pages[-1].append("\n".join(section))
    return pages


def _messages(
    title: str, context: str, fallback: str, pages: list[list[str]]
) -> list[SlackMessage]:
    messages = []
    for number, page in enumerate(pages, start=1):
        part = f" (part {number} of {len(pages)})" if len(pages) > 1 else ""
        header = plain_text(title, HEADER_LIMIT - len(part)) + part
        blocks: list[dict[str, Any]] = [
            header_block(header),
            {"type": "context", "elements": [mrkdwn(context)]},
            *({"type": "section", "text": mrkdwn(text)} for text in page),
        ]
        text = escape_within(fallback, FALLBACK_LIMIT - len(part)) + part
        messages.append(SlackMessage(text=text, blocks=blocks))
    return messages


# -- one alert as a line -------------------------------------------------------------------------


def alert_line(alert: Alert, *, with_link: bool = True) -> str:
    """One alert as one mrkdwn line of at most :data:`LINE_LIMIT` characters."""
    title = title_mrkdwn(alert, 200) if with_link else escape_within(alert_title(alert), 200)
    parts = [
        f"{alert_label(alert)} *{escape_within(one_line(alert.criterion_id), 60)}*"
        f" {escape_within(one_line(alert.criterion_text), 150)}",
        f"*{title}*",
        escape_within(one_line(alert.source), 80),
        format_published(alert.published),
        f"score {alert.score:.2f}",
        f"signal #{alert.signal_id}",
    ]
    if alert.mixed_with:
        others = ", ".join(f"{side[0]} {side[1]}" for side in alert.mixed_with)
        parts.append(f"also {escape_within(one_line(others), 100)}")
    if alert.verdict is not None:
        parts.append(verdict_text(alert))
    line = " · ".join(parts)
    if len(line) > LINE_LIMIT and with_link:
        return alert_line(alert, with_link=False)
    return line


def alert_title(alert: Alert) -> str:
    """The item title as one line of plain text."""
    return one_line(alert.item_title) or "(untitled)"


def _counts(alerts: Sequence[Alert]) -> str:
    """``2 🔴 KILL, 1 🟢 CONFIRM`` in :data:`POLARITY_ORDER` (plain text, no feed text)."""
    counts = {p: sum(1 for a in alerts if a.polarity == p) for p in POLARITY_ORDER}
    return ", ".join(f"{n} {polarity_label(p)}" for p, n in counts.items() if n)


def _signals(n: int) -> str:
    return f"{n} signal" if n == 1 else f"{n} signals"


def _latest_tallies(alerts: Sequence[Alert]) -> list[str]:
    """The tally line of the latest alert of each polarity that has one."""
    lines = []
    for polarity in POLARITIES:
        own = [a for a in alerts if a.polarity == polarity and a.tally > 0]
        if own:
            lines.append(tally_line(max(own, key=_time_order)))
    return lines


def _time_order(alert: Alert) -> tuple[datetime, int]:
    published = alert.published or datetime.min
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    return published, alert.signal_id


def _thesis_name(alert: Alert) -> str:
    return one_line(alert.thesis_title) or one_line(alert.thesis_id)


# -- a burst of one thesis --------------------------------------------------------------------


def _burst(alerts: Sequence[Alert]) -> list[Alert]:
    if not alerts:
        raise ValueError("a group needs at least one alert")
    if len({a.thesis_id for a in alerts}) > 1:
        raise ValueError("a group holds alerts of one thesis; use render_digest for several")
    return sorted(alerts, key=_time_order)


def render_group(alerts: Sequence[Alert]) -> list[SlackMessage]:
    """A burst of signals of one thesis as one message, or several when over Slack's limits."""
    ordered = _burst(alerts)
    first = ordered[0]
    title = f"{_signals(len(ordered))} · {_thesis_name(first)}"
    context = " · ".join(
        [
            *(f"📈 *{line}*" for line in _latest_tallies(ordered)),
            _counts(ordered),
            f"thesis {escape_within(one_line(first.thesis_id), 200)}",
        ]
    )
    fallback = f"{title}: {_counts(ordered)}"
    pages = paginate([(None, [alert_line(a) for a in ordered])], pack=False)
    return _messages(title, context, fallback, pages)


# -- a scheduled digest ---------------------------------------------------------------------------


def _by_thesis(alerts: Sequence[Alert]) -> list[list[Alert]]:
    """Alerts grouped by thesis (highest score first), each by polarity, then by score."""
    theses: dict[str, list[Alert]] = {}
    for alert in alerts:
        theses.setdefault(alert.thesis_id, []).append(alert)
    rank = {p: i for i, p in enumerate(POLARITY_ORDER)}
    groups = [
        sorted(group, key=lambda a: (rank.get(a.polarity, 9), -a.score, a.signal_id))
        for group in theses.values()
    ]
    return sorted(groups, key=lambda g: (-max(a.score for a in g), _thesis_name(g[0])))


def _thesis_heading(group: Sequence[Alert]) -> str:
    first = group[0]
    name = escape_within(_thesis_name(first), 300)
    return f"*{name}* · {_signals(len(group))}: {_counts(group)}"  # < HEADING_LIMIT


def _period(period_start: datetime, period_end: datetime) -> str:
    return f"{format_published(period_start)} to {format_published(period_end)}"


def _summary(alerts: Sequence[Alert], theses: int) -> str:
    return f"{_signals(len(alerts))} across {theses} {'thesis' if theses == 1 else 'theses'}"


def render_digest(
    alerts: Sequence[Alert], *, title: str, period_start: datetime, period_end: datetime
) -> list[SlackMessage]:
    """Many alerts across theses as digest messages, each within Slack's limits."""
    groups = _by_thesis(alerts)
    summary = _summary(alerts, len(groups))
    context = f"{_period(period_start, period_end)} · {summary}"
    if alerts:
        context += f": {_counts(alerts)}"
    pages = paginate([(_thesis_heading(g), [alert_line(a) for a in g]) for g in groups])
    if not alerts:
        pages = [["No signals in this period."]]
    return _messages(title, context, f"{one_line(title)}: {summary}", pages)


# -- console ---------------------------------------------------------------------------------------


def _console_lines(alert: Alert) -> list[str]:
    head = (
        f"  {alert_label(alert)}  {one_line(alert.criterion_id)} — "
        f"{truncate(alert_title(alert), 300)} ({truncate(one_line(alert.source), 100)}, "
        f"{format_published(alert.published)}, score {alert.score:.2f}, "
        f"signal #{alert.signal_id})"
    )
    extra = [truncate(one_line(alert.item_link or "") or "—", 2000)]
    extra += [f"also {one_line(p)} {one_line(c)}" for p, c, _ in alert.mixed_with]
    if alert.verdict is not None:
        extra.append(verdict_text(alert, escape=False))
    return [head, "      " + " · ".join(extra)]


def render_group_console(alerts: Sequence[Alert]) -> str:
    """A burst of one thesis as plain text."""
    ordered = _burst(alerts)
    first = ordered[0]
    lines = [
        f"{_signals(len(ordered))} · {_thesis_name(first)}  [{one_line(first.thesis_id)}]",
        f"  {_counts(ordered)}",
        *(f"  {line}" for line in _latest_tallies(ordered)),
    ]
    for alert in ordered:
        lines += _console_lines(alert)
    return "\n".join(lines)


def render_digest_console(
    alerts: Sequence[Alert], *, title: str, period_start: datetime, period_end: datetime
) -> str:
    """A digest as plain text, grouped and ordered as in Slack."""
    groups = _by_thesis(alerts)
    lines = [
        one_line(title),
        f"  {_period(period_start, period_end)} · {_summary(alerts, len(groups))}",
    ]
    for group in groups:
        first = group[0]
        lines.append(
            f"{_thesis_name(first)}  [{one_line(first.thesis_id)}] · "
            f"{_signals(len(group))}: {_counts(group)}"
        )
        for alert in group:
            lines += _console_lines(alert)
    if not alerts:
        lines.append("  No signals in this period.")
    return "\n".join(lines)


def group_messages(group: AlertGroup) -> list[SlackMessage]:
    """The Slack messages of an :class:`~monitor.types.AlertGroup`: a digest, or a burst
    of one thesis."""
    if group.digest is not None:
        start, end = group.period or _span(group.alerts)
        return render_digest(group.alerts, title=group.digest, period_start=start, period_end=end)
    return render_group(group.alerts)


def group_console(group: AlertGroup) -> str:
    """The console text of an :class:`~monitor.types.AlertGroup`."""
    if group.digest is not None:
        start, end = group.period or _span(group.alerts)
        return render_digest_console(
            group.alerts, title=group.digest, period_start=start, period_end=end
        )
    return render_group_console(group.alerts)


def _span(alerts: Sequence[Alert]) -> tuple[datetime, datetime]:
    times = [a.published for a in alerts if a.published is not None]
    now = datetime.now(UTC)
    return (min(times), max(times)) if times else (now, now)
