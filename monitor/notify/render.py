"""Pure rendering of an :class:`~monitor.types.Alert` for Slack (Block Kit) and the console.

Nothing here does I/O; every function maps an alert (plain data) to text or dicts.

Decisions:

* **Feed text is hostile.** Titles, snippets, source names and links come from the internet.
  :func:`escape_mrkdwn` escapes ``&``, ``<`` and ``>`` the way Slack documents
  (``&amp;``, ``&lt;``, ``&gt;``), which defuses every control sequence Slack parses
  (``<!channel>``, ``<!here>``, ``<@U…>``, ``<!subteam^…>``, ``<http://evil|click>``), because
  they all need a literal ``<``.
* **Formatting characters are replaced by look-alikes**, not by zero-width spaces: Slack's
  handling of a zero-width space next to ``*`` is undocumented and has changed, whereas a
  different code point can never start formatting: ``*`` becomes U+2217 ASTERISK OPERATOR,
  ``_`` U+02CD MODIFIER LETTER LOW MACRON, ``~`` U+223C TILDE OPERATOR and the backtick
  U+02CB MODIFIER LETTER GRAVE ACCENT. A reader sees the same text; the cost is that
  copied text differs in those characters.
* **Quotes:** ``&gt;`` at the start of a line would still render as a block quote, so a
  zero-width space (U+200B) is put in front of such a line. Plain-text ``@channel``,
  ``@here`` and ``@everyone`` get a zero-width space after the ``@``, and every mrkdwn text
  object is sent with ``verbatim: true`` so that Slack does not auto-parse mentions or URLs.
* **Links:** only ``http``/``https`` URLs with a host become the title link; ``|``, ``<``,
  ``>``, whitespace and control characters in the URL are percent-encoded and ``&`` is
  escaped. Any other link is dropped and the title shown unlinked (the console still prints it).
* **Limits:** Block Kit allows 3000 characters per section text and 150 per header. Every
  field has a budget measured *after* escaping, so a cut never splits an entity or a link;
  a cut field ends with "…" (:func:`monitor.text.truncate`: plain fields are cut anywhere).
* **Console text** has ANSI escape sequences, C0/C1 control characters and bidi overrides
  removed, so an item cannot move the cursor, recolour the terminal or reorder text.
* **The judge's reason** (optional, see ``monitor.matching.judge``) is model output that may
  echo feed text: it is sanitised there and goes through the same escaping here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from monitor.text import ELLIPSIS, truncate
from monitor.types import Alert, Polarity

ZWSP = "\u200b"
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
FALLBACK_LIMIT = 300
URL_LIMIT = 2000

POLARITY_LABELS: dict[Polarity, str] = {
    "confirm": "🟢 CONFIRM",
    "kill": "🔴 KILL",
    "watch": "🟡 WATCH",
}

_LOOKALIKES = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"})
_BROADCAST = re.compile(r"@(?=(channel|here|everyone)\b)", re.IGNORECASE)
_QUOTE_LINE = re.compile(r"^(?=[ \t]*&gt;)", re.MULTILINE)
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_WHITESPACE = re.compile(r"\s+")
_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f|<>\"]")


def escape_mrkdwn(text: str) -> str:
    """Make feed text inert in Slack mrkdwn (see the module docstring for the choices)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.translate(_LOOKALIKES)
    text = _BROADCAST.sub("@" + ZWSP, text)
    return _QUOTE_LINE.sub(ZWSP, text)


def strip_terminal_controls(text: str) -> str:
    """Remove ANSI escape sequences, control characters (except newline/tab) and bidi overrides."""
    return _CONTROL.sub("", _ANSI.sub("", text))


def one_line(text: str) -> str:
    """Control characters removed and every run of whitespace collapsed to one space."""
    return _WHITESPACE.sub(" ", strip_terminal_controls(text)).strip()


def escape_within(text: str, limit: int) -> str:
    """Escape ``text`` for mrkdwn and cut the *raw* text so the escaped result fits ``limit``.

    Cutting before escaping means an entity such as ``&amp;`` is never split.
    """
    escaped = escape_mrkdwn(text)
    if len(escaped) <= limit:
        return escaped
    keep = min(len(text), limit)
    while keep > 0:
        escaped = escape_mrkdwn(text[:keep].rstrip()) + ELLIPSIS
        if len(escaped) <= limit:
            return escaped
        keep -= max(1, (len(escaped) - limit) // 5)
    return ELLIPSIS


def safe_link(url: str | None) -> str | None:
    """The URL made safe inside ``<url|text>``, or None if it is not a usable http(s) link."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    encoded = _URL_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m[0].encode()), url)
    encoded = encoded.replace("&", "&amp;")
    return encoded if len(encoded) <= URL_LIMIT else None


def format_published(published: datetime | None) -> str:
    """``2026-03-25 17:00 UTC``, or ``date unknown``. A naive datetime is taken as UTC."""
    if published is None:
        return "date unknown"
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    return published.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _header_text(alert: Alert) -> str:
    title = one_line(alert.thesis_title) or alert.thesis_id
    return truncate(f"{POLARITY_LABELS[alert.polarity]} · {title}", HEADER_LIMIT)


def _title_mrkdwn(alert: Alert, limit: int) -> str:
    title = escape_within(one_line(alert.item_title) or "(untitled)", limit)
    link = safe_link(alert.item_link)
    return f"<{link}|{title}>" if link else title


def _terms_mrkdwn(alert: Alert, limit: int) -> str:
    terms = ", ".join(one_line(t) for t in alert.matched_terms if one_line(t))
    return escape_within(terms, limit) if terms else "—"


def render_blocks(alert: Alert) -> list[dict[str, Any]]:
    """The alert as Block Kit blocks: header, criterion, item, evidence, context."""
    criterion = (
        f"*Criterion* {escape_within(one_line(alert.criterion_id), 100)}: "
        f"{escape_within(one_line(alert.criterion_text), 2500)}"
    )
    item = (
        f"*{_title_mrkdwn(alert, 300)}*\n"
        f"*Source:* {escape_within(one_line(alert.source), 200)}"
        f" · *Published:* {format_published(alert.published)}"
    )
    evidence = f"*Evidence:*\n{escape_within(one_line(alert.snippet) or '—', 2900)}"
    context = (
        f"*Matched:* {_terms_mrkdwn(alert, 2000)} · score {alert.score:.2f}"
        f" · thesis {escape_within(one_line(alert.thesis_id), 200)}"
        f" · signal #{alert.signal_id}"
    )
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _header_text(alert), "emoji": True},
        },
        {"type": "section", "text": _mrkdwn(criterion)},
        {"type": "section", "text": _mrkdwn(item)},
        {"type": "section", "text": _mrkdwn(evidence)},
    ]
    reason = one_line(alert.judge_reason or "")
    if reason:
        judge = f"*Judge:* {escape_within(reason, 500)}"
        blocks.append({"type": "section", "text": _mrkdwn(judge)})
    blocks.append({"type": "context", "elements": [_mrkdwn(context)]})
    if alert.more:
        blocks.append({"type": "section", "text": _mrkdwn(escape_within(more_line(alert), 500))})
    return blocks


def more_line(alert: Alert) -> str:
    """The summary line of an alert that stands for capped signals (plain text)."""
    source = one_line(alert.source)
    return (
        f"…and {alert.more} more signal(s) from {source} in the same cycle, over the limit of "
        f"alerts per source: recorded, not alerted; see `monitor signals --source {source}`"
    )


def render_fallback(alert: Alert) -> str:
    """The message ``text``: what push notifications and screen readers show (≤ 300 chars)."""
    head = f"{POLARITY_LABELS[alert.polarity]} {escape_within(one_line(alert.thesis_title), 80)}"
    crit = escape_within(one_line(alert.criterion_id), 40)
    source = escape_within(one_line(alert.source), 40)
    room = FALLBACK_LIMIT - len(head) - len(crit) - len(source) - 10
    title = escape_within(one_line(alert.item_title) or "(untitled)", max(room, 20))
    return f"{head} — {crit}: {title} ({source})"


def render_console(alert: Alert) -> str:
    """A multi-line plain-text layout with the same information as the Slack message."""
    terms = ", ".join(one_line(t) for t in alert.matched_terms) or "—"
    link = one_line(alert.item_link or "") or "—"
    criterion_text = one_line(alert.criterion_text)
    lines = [
        f"{POLARITY_LABELS[alert.polarity]}  {one_line(alert.thesis_title)}"
        f"  [{one_line(alert.thesis_id)}]",
        f"  Criterion: {one_line(alert.criterion_id)} — {truncate(criterion_text, 500)}",
        f"  Item:      {truncate(one_line(alert.item_title) or '(untitled)', 300)}",
        f"  Link:      {truncate(link, URL_LIMIT)}",
        f"  Source:    {truncate(one_line(alert.source), 200)}",
        f"  Published: {format_published(alert.published)}",
        f"  Evidence:  {truncate(one_line(alert.snippet) or '—', 1000)}",
        f"  Matched:   {truncate(terms, 500)} (score {alert.score:.2f}, signal #{alert.signal_id})",
    ]
    if one_line(alert.judge_reason or ""):
        lines.append(f"  Judge:     {truncate(one_line(alert.judge_reason or ''), 500)}")
    if alert.more:
        lines.append(f"  More:      {truncate(more_line(alert), 500)}")
    return "\n".join(lines)
